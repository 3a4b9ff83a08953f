//! `$text`: the operator's arguments, and its search string read as MongoDB reads
//! it: words, `"quoted phrases"`, and `-` before a word or a phrase (after white
//! space or at the start) to exclude it. A hyphen inside a word only separates.

use std::collections::BTreeSet;

use bson::{Bson, Document};

use super::tokens::{self, Sensitivity};
use super::Language;
use crate::error::{Error, ErrorCode, Result};

/// The arguments of a `$text` condition.
#[derive(Debug, Clone, PartialEq)]
pub struct TextQuery {
    pub search: String,
    /// `$language`: `None` for the index's default language.
    pub language: Option<Language>,
    pub sensitivity: Sensitivity,
}

impl TextQuery {
    /// Parses `{$search, $language, $caseSensitive, $diacriticSensitive}`.
    pub fn parse(value: &Bson) -> Result<TextQuery> {
        let Bson::Document(args) = value else {
            return Err(Error::bad_value("$text expects an object"));
        };
        let mut search = None;
        let mut language = None;
        let mut sensitivity = Sensitivity::NONE;
        for (name, value) in args {
            match name.as_str() {
                "$search" => match value {
                    Bson::String(text) => search = Some(text.clone()),
                    _ => return Err(Error::type_mismatch("$search requires a string value")),
                },
                "$language" => match value {
                    Bson::String(name) => {
                        language = Some(Language::parse(name).ok_or_else(|| {
                            Error::bad_value(format!("unsupported language: \"{name}\" for text index version 3"))
                        })?)
                    }
                    _ => return Err(Error::type_mismatch("$language requires a string value")),
                },
                "$caseSensitive" => sensitivity.case = flag(name, value)?,
                "$diacriticSensitive" => sensitivity.diacritics = flag(name, value)?,
                _ => return Err(Error::bad_value(format!("Unrecognized field '{name}' in $text"))),
            }
        }
        let search =
            search.ok_or_else(|| Error::command(ErrorCode::FailedToParse, "$text requires a $search field"))?;
        Ok(TextQuery { search, language, sensitivity })
    }

    /// The arguments as `$text` takes them, for `explain`.
    pub fn to_document(&self, default_language: Language) -> Document {
        bson::doc! {
            "$search": &self.search,
            "$language": self.language.unwrap_or(default_language).name(),
            "$caseSensitive": self.sensitivity.case,
            "$diacriticSensitive": self.sensitivity.diacritics,
        }
    }
}

fn flag(name: &str, value: &Bson) -> Result<bool> {
    match value {
        Bson::Boolean(b) => Ok(*b),
        _ => Err(Error::type_mismatch(format!("{name} requires a boolean value"))),
    }
}

/// What a search string asks for, in terms of one language.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Terms {
    /// Terms a match holds at least one of, folded as the search's sensitivity says.
    pub positive: BTreeSet<String>,
    /// The same terms folded as index keys are (neither case nor diacritics): what
    /// the index is read for and scores count.
    pub keys: BTreeSet<String>,
    pub negated: BTreeSet<String>,
    pub phrases: Vec<String>,
    pub negated_phrases: Vec<String>,
}

/// How one character of a search string reads.
#[derive(PartialEq)]
enum Kind {
    Space,
    Quote,
    Minus,
    Text,
}

fn kind(c: char) -> Kind {
    match c {
        ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' => Kind::Space,
        '"' => Kind::Quote,
        '-' => Kind::Minus,
        _ => Kind::Text,
    }
}

impl Terms {
    /// Reads a search string: runs of text are split into terms; a quote opens or
    /// closes a phrase (whose words are terms too, unless the phrase is negated); a
    /// minus after white space (or first) negates what follows up to the next
    /// white space; a minus elsewhere only separates.
    pub fn parse(search: &str, language: Language, sensitivity: Sensitivity) -> Terms {
        let mut terms = Terms::default();
        let (mut negated, mut in_phrase) = (false, false);
        let mut phrase_start = 0;
        let mut after_space = true;
        let mut chars = search.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match kind(c) {
                Kind::Space => {
                    // White space ends a negation, but not inside a phrase.
                    negated &= in_phrase;
                    after_space = true;
                    continue;
                }
                Kind::Minus => {
                    if !in_phrase && after_space {
                        negated = true;
                    }
                }
                Kind::Quote if in_phrase => {
                    let phrase = search[phrase_start..at].to_owned();
                    match negated {
                        true => terms.negated_phrases.push(phrase),
                        false => terms.phrases.push(phrase),
                    }
                    negated = false;
                    in_phrase = false;
                }
                Kind::Quote => {
                    in_phrase = true;
                    phrase_start = at + 1;
                }
                Kind::Text => {
                    let mut end = at + c.len_utf8();
                    while let Some(&(next, c)) = chars.peek() {
                        if kind(c) != Kind::Text {
                            break;
                        }
                        end = next + c.len_utf8();
                        chars.next();
                    }
                    if !(in_phrase && negated) {
                        terms.add(&search[at..end], language, sensitivity, negated);
                    }
                }
            }
            after_space = false;
        }
        terms
    }

    fn add(&mut self, text: &str, language: Language, sensitivity: Sensitivity, negated: bool) {
        for word in tokens::words(text, language) {
            let Some(term) = tokens::term(word, language, sensitivity) else { continue };
            if negated {
                self.negated.insert(term);
                continue;
            }
            self.positive.insert(term);
            if let Some(key) = tokens::term(word, language, Sensitivity::NONE) {
                self.keys.insert(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(search: &str) -> Terms {
        Terms::parse(search, Language::English, Sensitivity::NONE)
    }

    fn set(terms: &[&str]) -> BTreeSet<String> {
        terms.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn words_phrases_and_negations() {
        let t = parse("coffee -shop \"iced tea\" -\"hot chocolate\" pre-market");
        assert_eq!(t.positive, set(&["coffe", "ice", "tea", "pre", "market"]));
        assert_eq!(t.negated, set(&["shop"]));
        assert_eq!(t.phrases, ["iced tea"]);
        assert_eq!(t.negated_phrases, ["hot chocolate"]);
    }

    #[test]
    fn a_negation_lasts_to_the_next_space() {
        let t = parse("-coffee-cake bake");
        assert_eq!(t.negated, set(&["coffe", "cake"]));
        assert_eq!(t.positive, set(&["bake"]));
    }

    #[test]
    fn stop_words_are_no_terms_and_an_open_quote_no_phrase() {
        let t = parse("the \"a cafe");
        assert_eq!(t.positive, set(&["cafe"]));
        assert!(t.phrases.is_empty());
    }

    #[test]
    fn arguments_are_checked() {
        let code = |v: Bson| TextQuery::parse(&v).expect_err("refused").code().code();
        assert_eq!(code(Bson::Int32(1)), 2);
        assert_eq!(code(bson::bson!({"$search": 1})), 14);
        assert_eq!(code(bson::bson!({"$search": "x", "$language": "xx"})), 2);
        assert_eq!(code(bson::bson!({"$search": "x", "$caseSensitive": 1})), 14);
        assert_eq!(code(bson::bson!({"$search": "x", "$nope": 1})), 2);
        let q = TextQuery::parse(&bson::bson!({"$search": "x", "$language": "es", "$caseSensitive": true}))
            .expect("parses");
        assert_eq!(q.language, Some(Language::Spanish));
        assert!(q.sensitivity.case);
    }
}
