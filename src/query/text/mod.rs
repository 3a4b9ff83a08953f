//! Text search: what a `text` index holds for a document and what a `$text` query
//! matches and scores, as MongoDB's text indexes of version 3 do.
//!
//! A text index names the fields whose strings it indexes (or `$**`, every string),
//! each with a weight; a document's language is the index's default unless the
//! document (or an embedded document, for the fields inside it) names another in
//! its language field. Each string's terms (`tokens.rs`) score by how often they
//! occur in it and how long it is, times the field's weight; a document holds one
//! index key per term. A `$text` search (`search.rs`) matches documents holding
//! any of its terms, every one of its phrases, and none of its negated terms and
//! phrases; its score is the sum of the document's scores for the search's terms.
//! Matching and scoring read the document itself, so they need the index only to
//! find the candidates quickly.

mod language;
mod search;
mod spec;
mod tokens;

use std::collections::HashMap;
use std::sync::Arc;

use bson::{Bson, Document};

pub use language::Language;
use search::Terms;
pub use search::TextQuery;
pub use spec::{is_text_pattern, normalize};
use tokens::Sensitivity;

use crate::error::{Error, ErrorCode, Result};

/// A text index's definition, as its stored spec gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct TextSpec {
    /// The weight of each indexed path.
    weights: Vec<(String, f64)>,
    /// `$**`: every string is indexed (weight 1 unless its path has one).
    wildcard: bool,
    default_language: Language,
    language_override: String,
    /// The key pattern's fields before the text part (a `$text` query gives each
    /// an equality) and after it.
    pub prefix: Vec<String>,
    pub suffix: Vec<String>,
}

impl TextSpec {
    /// The definition in a stored spec (see [`normalize`]); `None` for an index
    /// that is not a text index.
    pub fn from_spec(spec: &Document) -> Result<Option<TextSpec>> {
        let Ok(pattern) = spec.get_document("key") else { return Ok(None) };
        if !is_text_pattern(pattern) {
            return Ok(None);
        }
        let corrupt = || Error::Store(format!("bad text index definition {spec}"));
        let weights = spec
            .get_document("weights")
            .map_err(|_| corrupt())?
            .iter()
            .map(|(path, weight)| Ok((path.clone(), crate::value::number::as_f64(weight).ok_or_else(corrupt)?)))
            .collect::<Result<Vec<_>>>()?;
        let wildcard = weights.iter().any(|(path, _)| path == "$**");
        let default_language =
            spec.get_str("default_language").ok().and_then(Language::parse).unwrap_or(Language::English);
        let language_override = spec.get_str("language_override").unwrap_or("language").to_owned();
        let fields: Vec<&String> = pattern.keys().collect();
        let fts = fields.iter().position(|f| *f == "_fts").ok_or_else(corrupt)?;
        let prefix = fields[..fts].iter().map(|f| f.to_string()).collect();
        let suffix = fields[fts + 1..].iter().filter(|f| **f != "_ftsx").map(|f| f.to_string()).collect();
        Ok(Some(TextSpec { weights, wildcard, default_language, language_override, prefix, suffix }))
    }

    pub fn default_language(&self) -> Language {
        self.default_language
    }

    /// The weight of the field at `path`, if the index holds its strings: the
    /// weight given for exactly that path, else 1 under `$**`.
    fn weight(&self, path: &str) -> Option<f64> {
        let exact = self.weights.iter().find(|(field, _)| field == path).map(|(_, weight)| *weight);
        exact.or(self.wildcard.then_some(1.0))
    }

    /// Whether the index holds strings below `path`.
    fn reaches_into(&self, path: &str) -> bool {
        self.wildcard
            || self.weights.iter().any(|(field, _)| field.strip_prefix(path).is_some_and(|rest| rest.starts_with('.')))
    }

    /// Calls `visit` with every string the index holds of `doc`, its language and
    /// its field's weight. A language field naming no language is MongoDB's error
    /// 17262.
    fn each_string(&self, doc: &Document, visit: &mut dyn FnMut(&str, Language, f64)) -> Result<()> {
        self.walk(doc, "", self.default_language, visit)
    }

    fn walk(
        &self,
        doc: &Document,
        path: &str,
        inherited: Language,
        visit: &mut dyn FnMut(&str, Language, f64),
    ) -> Result<()> {
        let language = match doc.get(&self.language_override) {
            Some(Bson::String(name)) => Language::parse(name).ok_or_else(|| {
                Error::command(ErrorCode::Location17262, format!("language override unsupported: {name}"))
            })?,
            Some(_) => {
                return Err(Error::command(
                    ErrorCode::Location17261,
                    "found language override field in document with non-string type",
                ))
            }
            None => inherited,
        };
        for (name, value) in doc {
            if self.wildcard && *name == self.language_override {
                continue;
            }
            let field = match path.is_empty() {
                true => name.clone(),
                false => format!("{path}.{name}"),
            };
            self.visit_value(value, &field, language, visit)?;
        }
        Ok(())
    }

    fn visit_value(
        &self,
        value: &Bson,
        field: &str,
        language: Language,
        visit: &mut dyn FnMut(&str, Language, f64),
    ) -> Result<()> {
        match value {
            Bson::String(text) => {
                if let Some(weight) = self.weight(field) {
                    visit(text, language, weight);
                }
            }
            Bson::Document(inner) if self.reaches_into(field) => self.walk(inner, field, language, visit)?,
            Bson::Array(items) => {
                // Arrays in arrays only under `$**`.
                for item in items {
                    if self.wildcard || !matches!(item, Bson::Array(_)) {
                        self.visit_value(item, field, language, visit)?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The terms of `doc` with their scores: what its index keys hold.
    pub fn term_scores(&self, doc: &Document) -> Result<HashMap<String, f64>> {
        let mut scores = HashMap::new();
        self.each_string(doc, &mut |text, language, weight| score_string(text, language, weight, &mut scores))?;
        Ok(scores)
    }
}

/// Adds the scores of one string's terms: each term counts 1 for its first
/// occurrence, half for its second, a quarter for its third and so on, times a
/// coefficient from 0.5 (a rare term in a long string) to 1 (the whole string),
/// times the field's weight, and 10% more when the term is the whole string.
fn score_string(text: &str, language: Language, weight: f64, scores: &mut HashMap<String, f64>) {
    struct Counts {
        count: u32,
        frequency: f64,
        step: f64,
    }
    let mut counts: HashMap<String, Counts> = HashMap::new();
    let mut tokens = 0u32;
    for term in tokens::terms(text, language, Sensitivity::NONE) {
        let counts = counts.entry(term).or_insert(Counts { count: 0, frequency: 0.0, step: 0.0 });
        counts.step = if counts.step == 0.0 { 1.0 } else { counts.step * 2.0 };
        counts.count += 1;
        counts.frequency += 1.0 / counts.step;
        tokens += 1;
    }
    for (term, counts) in counts {
        let coefficient = 0.5 * f64::from(counts.count) / f64::from(tokens) + 0.5;
        let whole = text.len() == term.len() && text.eq_ignore_ascii_case(&term);
        let adjustment = if whole { 1.1 } else { 1.0 };
        *scores.entry(term).or_insert(0.0) += weight * counts.frequency * coefficient * adjustment;
    }
}

/// A `$text` query bound to the collection's text index.
#[derive(Debug, Clone)]
pub struct TextSearch {
    pub query: TextQuery,
    pub spec: Arc<TextSpec>,
    pub terms: Terms,
}

impl TextSearch {
    /// The search `query` on the index `spec`; MongoDB's error 2 when it names a
    /// language it does not know.
    pub fn new(query: TextQuery, spec: Arc<TextSpec>) -> Result<TextSearch> {
        let language = query.language(spec.default_language)?;
        let terms = Terms::parse(&query.search, language, query.sensitivity);
        Ok(TextSearch { query, spec, terms })
    }

    /// The terms the index is read for (folded as its keys are).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.terms.keys.iter().map(String::as_str)
    }

    /// Whether `doc` matches: it holds one of the terms, every phrase, and none of
    /// the negated terms and phrases. A search with no terms matches nothing.
    pub fn matches(&self, doc: &Document) -> bool {
        if self.terms.keys.is_empty() {
            return false;
        }
        let sensitivity = self.query.sensitivity;
        let mut positive = false;
        let mut negative = false;
        let mut phrases = vec![false; self.terms.phrases.len()];
        let mut negative_phrase = false;
        let walked = self.spec.each_string(doc, &mut |text, language, _| {
            if negative || negative_phrase {
                return;
            }
            for term in tokens::terms(text, language, sensitivity) {
                positive |= self.terms.positive.contains(&term);
                negative |= self.terms.negated.contains(&term);
            }
            if self.terms.phrases.is_empty() && self.terms.negated_phrases.is_empty() {
                return;
            }
            let haystack = tokens::fold(text, language, sensitivity);
            for (found, phrase) in phrases.iter_mut().zip(&self.terms.phrases) {
                *found = *found || haystack.contains(&tokens::fold(phrase, language, sensitivity));
            }
            negative_phrase |=
                self.terms.negated_phrases.iter().any(|p| haystack.contains(&tokens::fold(p, language, sensitivity)));
        });
        walked.is_ok() && positive && !negative && !negative_phrase && phrases.iter().all(|f| *f)
    }

    /// The score of a matching document: the sum of its scores for the terms.
    pub fn score(&self, doc: &Document) -> f64 {
        let Ok(scores) = self.spec.term_scores(doc) else { return 0.0 };
        self.terms.keys.iter().filter_map(|term| scores.get(term)).sum()
    }
}
