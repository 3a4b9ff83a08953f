//! `$group`: documents gathered by an `_id` expression, with accumulators.

use std::collections::BTreeMap;
use std::sync::Arc;

use bson::{doc, Bson, Document};

use super::accumulator::{Accumulator, State};
use super::held::Held;
use super::spill::Run;
use super::Docs;
use crate::error::{Error, ErrorCode, Result};
use crate::query::expr::{Expr, Variables};
use crate::query::text::TextSearch;
use crate::value::collation::Collation;
use crate::value::order::GroupKey as Key;
use crate::value::size::{document_size, value_footprint, MAX_DOCUMENT};

/// A compiled `$group` stage.
#[derive(Debug, Clone)]
pub(super) struct Group {
    id: Expr,
    accumulators: Accumulators,
    /// The collation group keys compare by (bytes without one).
    collation: Option<Arc<Collation>>,
    /// The `$text` search whose scores `{$meta: "textScore"}` reads.
    text: Option<Box<TextSearch>>,
}

/// The output fields of `$group`, `$bucket` and `$bucketAuto`: each a name, an
/// accumulator and the expression it takes in per document.
#[derive(Debug, Clone, Default)]
pub(super) struct Accumulators {
    fields: Vec<(String, Accumulator, Expr)>,
}

/// What the accumulators of one group have gathered so far.
#[derive(Debug)]
pub(super) struct States(Vec<State>);

/// Memory counted for a group besides its key and the values it keeps.
const GROUP_OVERHEAD: usize = 64;

impl Group {
    /// Parses `{_id: expr, field: {$accumulator: expr}, …}`.
    /// The expressions may read `vars`, the command's variables.
    pub(super) fn parse(spec: &Bson, vars: &Variables) -> Result<Group> {
        let Bson::Document(spec) = spec else {
            return Err(Error::command(ErrorCode::Location15947, "a group's fields must be specified in an object"));
        };
        let mut id = None;
        let mut accumulators = Accumulators::default();
        for (name, value) in spec {
            if name == "_id" {
                id = Some(Expr::parse(value, vars)?);
                continue;
            }
            accumulators.add_field(name, value, vars)?;
        }
        let Some(id) = id else {
            return Err(Error::command(ErrorCode::Location15955, "a group specification must include an _id"));
        };
        Ok(Group { id, accumulators, collation: None, text: None })
    }

    /// This group with its keys compared by `collation`. Its expressions must only
    /// read values, and its accumulators must not compare them (`$min`, `$max`,
    /// `$addToSet`), until expressions and accumulators take a collation too.
    pub(super) fn with_collation(mut self, collation: &Arc<Collation>) -> Result<Group> {
        let comparing = self.accumulators.fields.iter().find(|(_, op, expr)| op.compares() || !expr.is_plain());
        if let Some((name, _, _)) = comparing {
            return Err(Error::command(
                ErrorCode::NotImplemented,
                format!("a collation other than simple is not supported yet with the $group field '{name}'"),
            ));
        }
        if !self.id.is_plain() {
            return Err(Error::command(
                ErrorCode::NotImplemented,
                "a collation other than simple is not supported yet with a $group _id that computes",
            ));
        }
        self.collation = Some(collation.clone());
        Ok(self)
    }

    /// Whether its key or an accumulator reads the text score.
    pub(super) fn needs_text_score(&self) -> bool {
        self.id.needs_text_score() || self.accumulators.fields.iter().any(|(_, _, expr)| expr.needs_text_score())
    }

    /// This group, with text scores from `search`.
    pub(super) fn with_text_search(mut self, search: &TextSearch) -> Group {
        self.text = Some(Box::new(search.clone()));
        self
    }

    /// Groups the documents. Held in memory (counted in `held`), groups come out in
    /// the order their first document came; past the stage's limit with
    /// `allowDiskUse`, they are written to disk sorted by key, and come out in key
    /// order, each merged from the parts the runs hold.
    pub(super) fn run<'a>(&'a self, docs: Docs<'a>, mut held: Held) -> Result<Docs<'a>> {
        let mut index: BTreeMap<Key, usize> = BTreeMap::new();
        let mut groups: Vec<(Bson, States)> = Vec::new();
        let mut runs = Vec::new();
        for doc in docs {
            let doc = doc?;
            let score = self.text.as_ref().map(|search| search.score(&doc));
            let key = Key(self.id.evaluate_scored(&doc, score)?.unwrap_or(Bson::Null), self.collation.clone());
            let at = match index.get(&key) {
                Some(at) => *at,
                None => {
                    held.add(value_footprint(&key.0) + GROUP_OVERHEAD)?;
                    groups.push((key.0.clone(), self.accumulators.start(&key.0)?));
                    index.insert(key, groups.len() - 1);
                    groups.len() - 1
                }
            };
            let grown = self.accumulators.add_scored(&mut groups[at].1, &doc, score)?;
            held.add(grown)?;
            if held.over() {
                runs.push(self.spill(&mut index, &mut groups)?);
                held.clear();
            }
        }
        if runs.is_empty() {
            let finished = groups.into_iter().map(|(key, states)| self.finish(key, states));
            return Ok(held.keep_while(Box::new(finished)));
        }
        if !groups.is_empty() {
            runs.push(self.spill(&mut index, &mut groups)?);
        }
        held.clear();
        Ok(Box::new(MergedGroups::new(self, runs)?))
    }

    /// Writes the groups to a run sorted by key, as `{k: key, s: [partial states]}`,
    /// and forgets them.
    fn spill(&self, index: &mut BTreeMap<Key, usize>, groups: &mut Vec<(Bson, States)>) -> Result<Run> {
        let mut slots: Vec<Option<(Bson, States)>> = std::mem::take(groups).into_iter().map(Some).collect();
        let mut parts = Vec::with_capacity(slots.len());
        for (_, at) in std::mem::take(index) {
            if let Some((key, states)) = slots[at].take() {
                parts.push(doc! {"k": key, "s": self.accumulators.partials(states)});
            }
        }
        Run::write(parts.iter())
    }

    /// A group's output document: at most 16 MiB (`BSONObjectTooLarge`, 10334).
    fn finish(&self, key: Bson, states: States) -> Result<Document> {
        let mut out = Document::new();
        out.insert("_id", key);
        self.accumulators.finish(states, &mut out)?;
        let size = document_size(&out);
        if size > MAX_DOCUMENT {
            return Err(Error::command(
                ErrorCode::BSONObjectTooLarge,
                format!(
                    "BSONObj size: {size} (0x{size:X}) is invalid. Size must be between 0 and {MAX_DOCUMENT}(16MB)"
                ),
            ));
        }
        Ok(out)
    }
}

/// The groups of several spilled runs, in key order: the parts of one key, from
/// every run that holds it, merged in run order (so `$first` and `$last` keep the
/// order documents came in).
struct MergedGroups<'a> {
    group: &'a Group,
    runs: Vec<Run>,
    /// Each run's next part, decoded: its key and partial states.
    heads: Vec<Option<(Bson, Vec<Bson>)>>,
}

impl<'a> MergedGroups<'a> {
    fn new(group: &'a Group, mut runs: Vec<Run>) -> Result<MergedGroups<'a>> {
        let heads = runs.iter_mut().map(next_part).collect::<Result<Vec<_>>>()?;
        Ok(MergedGroups { group, runs, heads })
    }

    fn next_group(&mut self) -> Result<Option<Document>> {
        let collation = self.group.collation.as_deref();
        let compare = |a: &Bson, b: &Bson| crate::value::order::compare_collated(a, b, collation);
        let smallest = self.heads.iter().flatten().map(|(key, _)| key).min_by(|a, b| compare(a, b));
        let Some(key) = smallest.cloned() else { return Ok(None) };
        let mut states = self.group.accumulators.start(&key)?;
        for at in 0..self.runs.len() {
            let holds_key = matches!(&self.heads[at], Some((k, _)) if compare(k, &key).is_eq());
            if holds_key {
                let next = next_part(&mut self.runs[at])?;
                if let Some((_, partials)) = std::mem::replace(&mut self.heads[at], next) {
                    self.group.accumulators.merge(&mut states, partials)?;
                }
            }
        }
        self.group.finish(key, states).map(Some)
    }
}

/// A run's next part: its key and partial states.
fn next_part(run: &mut Run) -> Result<Option<(Bson, Vec<Bson>)>> {
    let Some(mut part) = run.next()? else { return Ok(None) };
    let key = part.remove("k").unwrap_or(Bson::Null);
    match part.remove("s") {
        Some(Bson::Array(partials)) => Ok(Some((key, partials))),
        _ => Err(Error::Internal("a spilled group lost its states".into())),
    }
}

impl Iterator for MergedGroups<'_> {
    type Item = Result<Document>;

    fn next(&mut self) -> Option<Result<Document>> {
        match self.next_group() {
            Ok(next) => next.map(Ok),
            Err(e) => {
                self.heads.clear();
                Some(Err(e))
            }
        }
    }
}

impl Accumulators {
    /// Adds the output field `name: {$accumulator: expr}`.
    pub(super) fn add_field(&mut self, name: &str, value: &Bson, vars: &Variables) -> Result<()> {
        let spec = match value {
            Bson::Document(doc) if doc.keys().next().is_some_and(|k| k.starts_with('$')) => doc,
            _ => {
                let message = format!("The field '{name}' must be an accumulator object");
                return Err(Error::command(ErrorCode::Location40234, message));
            }
        };
        if name.contains('.') {
            return Err(Error::command(
                ErrorCode::Location40235,
                format!("The field name '{name}' cannot contain '.'"),
            ));
        }
        if name.starts_with('$') {
            return Err(Error::command(
                ErrorCode::Location40236,
                format!("The field name '{name}' cannot be an operator name"),
            ));
        }
        let (op_name, argument) = match spec.iter().next() {
            Some(only) if spec.len() == 1 => only,
            _ => {
                return Err(Error::command(
                    ErrorCode::Location40238,
                    format!("The field '{name}' must specify one accumulator"),
                ))
            }
        };
        if matches!(argument, Bson::Array(_)) {
            let message = format!("The {op_name} accumulator is a unary operator");
            return Err(Error::command(ErrorCode::Location40237, message));
        }
        let Some((op, input)) = Accumulator::parse(op_name, argument, vars)? else {
            return Err(Error::command(ErrorCode::Location15952, format!("unknown group operator '{op_name}'")));
        };
        self.fields.push((name.to_owned(), op, input));
        Ok(())
    }

    /// Whether there is no output field.
    pub(super) fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The empty states of a new group whose key is `key` (which `n` of
    /// `$topN` and the like reads when it is a document).
    pub(super) fn start(&self, key: &Bson) -> Result<States> {
        let scope = match key {
            Bson::Document(doc) => doc.clone(),
            _ => Document::new(),
        };
        self.fields.iter().map(|(_, op, _)| op.start(&scope)).collect::<Result<_>>().map(States)
    }

    /// Takes one document into a group's states; returns roughly how many bytes
    /// the states grew by (the values `$push`, `$addToSet` and the like keep).
    pub(super) fn add(&self, states: &mut States, doc: &Document) -> Result<usize> {
        self.add_scored(states, doc, None)
    }

    /// As [`Accumulators::add`], for a document whose text score is `score`.
    pub(super) fn add_scored(&self, states: &mut States, doc: &Document, score: Option<f64>) -> Result<usize> {
        let mut grown = 0;
        for ((_, op, expr), state) in self.fields.iter().zip(states.0.iter_mut()) {
            grown += state.add(op, expr.evaluate_scored(doc, score)?, op.sort_key(doc)?)?;
        }
        Ok(grown)
    }

    /// The partial states of a group, for a spilled run.
    fn partials(&self, states: States) -> Vec<Bson> {
        states.0.into_iter().map(State::partial).collect()
    }

    /// Merges partial states a run held for a group into `states`.
    fn merge(&self, states: &mut States, partials: Vec<Bson>) -> Result<()> {
        if partials.len() != self.fields.len() {
            return Err(Error::Internal("a spilled group has the wrong number of states".into()));
        }
        for (((_, op, _), state), partial) in self.fields.iter().zip(states.0.iter_mut()).zip(partials) {
            state.merge(op, partial)?;
        }
        Ok(())
    }

    /// Appends each field's result for a group to `out`.
    pub(super) fn finish(&self, states: States, out: &mut Document) -> Result<()> {
        for ((name, op, _), state) in self.fields.iter().zip(states.0) {
            out.insert(name.clone(), state.finish(op)?);
        }
        Ok(())
    }
}
