//! The stages that write a pipeline's results to a collection instead of returning
//! them: `$out` replaces the target collection with the results, `$merge` folds them
//! into it one document at a time. Either must be the last stage. This module parses
//! them and decides, for `$merge`, what each result does to the target; the
//! `aggregate` command does the writing.

use bson::{doc, Bson, Document};

use crate::error::{Error, ErrorCode, Result};
use crate::query::expr::{type_name, Expr, Variables};
use crate::query::update::Context;
use crate::query::Update;

/// A pipeline's final writing stage.
#[derive(Debug, Clone)]
pub enum Output {
    Out(Target),
    Merge(Merge),
}

/// The collection a writing stage names, with its database when the stage names one.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub db: Option<String>,
    pub coll: String,
}

/// A parsed `$merge`: where to write and what to do with each result.
#[derive(Debug, Clone)]
pub struct Merge {
    pub into: Target,
    when_matched: WhenMatched,
    when_not_matched: WhenNotMatched,
}

/// What `$merge` does when a result has the `_id` of a target document.
#[derive(Debug, Clone)]
enum WhenMatched {
    Replace,
    KeepExisting,
    Merge,
    Fail,
    /// An update pipeline run on the target document, with the `let` variables
    /// (`new` is the result by default), evaluated against the result.
    Pipeline {
        stages: Vec<Bson>,
        vars: Vec<(String, Expr)>,
    },
}

/// What `$merge` does when no target document has the result's `_id`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum WhenNotMatched {
    Insert,
    Discard,
    Fail,
}

impl Output {
    /// Parses stage `name` when it is `$out` or `$merge`; `None` for any other stage.
    pub fn parse(name: &str, argument: &Bson) -> Result<Option<Output>> {
        match name {
            "$out" => Ok(Some(Output::Out(parse_out(argument)?))),
            "$merge" => Ok(Some(Output::Merge(Merge::parse(argument)?))),
            _ => Ok(None),
        }
    }

    /// The stage's name, as errors quote it.
    pub fn stage_name(&self) -> &'static str {
        match self {
            Output::Out(_) => "$out",
            Output::Merge(_) => "$merge",
        }
    }

    /// The collection the stage writes to.
    pub fn target(&self) -> &Target {
        match self {
            Output::Out(target) => target,
            Output::Merge(merge) => &merge.into,
        }
    }
}

/// `$out: "coll"` or `$out: {db, coll}`.
fn parse_out(argument: &Bson) -> Result<Target> {
    let spec = match argument {
        Bson::String(coll) => return Ok(Target { db: None, coll: coll.clone() }),
        Bson::Document(spec) => spec,
        other => {
            let message =
                format!("$out only supports a string or object argument, but found {}", type_name(Some(other)));
            return Err(Error::command(ErrorCode::Location16990, message));
        }
    };
    let (mut db, mut coll) = (None, None);
    for (name, value) in spec {
        match name.as_str() {
            "db" => db = Some(string_field("$out.db", value)?),
            "coll" => coll = Some(string_field("$out.coll", value)?),
            "timeseries" => {
                return Err(Error::command(
                    ErrorCode::InvalidOptions,
                    "$out to a time-series collection is not supported",
                ))
            }
            _ => return Err(unknown_field(&format!("$out.{name}"))),
        }
    }
    let db = db.ok_or_else(|| missing_field("$out.db"))?;
    let coll = coll.ok_or_else(|| missing_field("$out.coll"))?;
    Ok(Target { db: Some(db), coll })
}

impl Merge {
    /// Parses `$merge: "coll"` or `$merge: {into, on, let, whenMatched, whenNotMatched}`.
    pub fn parse(argument: &Bson) -> Result<Merge> {
        let spec = match argument {
            Bson::String(coll) => return Merge::from_parts(Target { db: None, coll: coll.clone() }, None, None, None),
            Bson::Document(spec) => spec,
            other => {
                let message =
                    format!("$merge requires a string or object argument, but found {}", type_name(Some(other)));
                return Err(Error::type_mismatch(message));
            }
        };
        let (mut into, mut on, mut vars, mut when_matched, mut when_not_matched) = (None, None, None, None, None);
        for (name, value) in spec {
            match name.as_str() {
                "into" => into = Some(parse_into(value)?),
                "on" => on = Some(parse_on(value)?),
                "let" => match value {
                    Bson::Document(vars_spec) => vars = Some(vars_spec),
                    other => return Err(wrong_type("$merge.let", other, "object")),
                },
                "whenMatched" => when_matched = Some(value),
                "whenNotMatched" => when_not_matched = Some(parse_when_not_matched(value)?),
                _ => return Err(unknown_field(&format!("$merge.{name}"))),
            }
        }
        let into = into.ok_or_else(|| missing_field("$merge.into"))?;
        if let Some(fields) = on {
            check_on(&fields)?;
        }
        Merge::from_parts(into, when_matched, when_not_matched, vars)
    }

    /// Builds a `$merge` from its parsed target and raw modes, checking that the modes
    /// go together and that `let` comes only with a pipeline.
    fn from_parts(
        into: Target,
        when_matched: Option<&Bson>,
        when_not_matched: Option<WhenNotMatched>,
        vars: Option<&Document>,
    ) -> Result<Merge> {
        let when_not_matched = when_not_matched.unwrap_or(WhenNotMatched::Insert);
        let when_matched = match when_matched {
            None => WhenMatched::Merge,
            Some(Bson::Array(stages)) => parse_pipeline(stages, vars, when_not_matched)?,
            Some(Bson::String(mode)) => match mode.as_str() {
                "replace" => WhenMatched::Replace,
                "keepExisting" => WhenMatched::KeepExisting,
                "merge" => WhenMatched::Merge,
                "fail" => WhenMatched::Fail,
                _ => {
                    let message = format!("Enumeration value '{mode}' for field 'whenMatched' is not a valid value.");
                    return Err(Error::bad_value(message));
                }
            },
            Some(other) => {
                let message = format!(
                    "$merge 'whenMatched' field  must be either a string or an array, but found {}",
                    type_name(Some(other))
                );
                return Err(Error::command(ErrorCode::Location51191, message));
            }
        };
        let supported = !matches!(
            (&when_matched, when_not_matched),
            (WhenMatched::KeepExisting | WhenMatched::Fail, WhenNotMatched::Discard | WhenNotMatched::Fail)
        );
        if !supported {
            let message = format!(
                "Combination of $merge modes 'whenMatched: {}' and 'whenNotMatched: {}' is not supported",
                when_matched.name(),
                when_not_matched.name()
            );
            return Err(Error::command(ErrorCode::Location51181, message));
        }
        if vars.is_some() && !matches!(when_matched, WhenMatched::Pipeline { .. }) {
            let message = format!("Cannot use 'let' variables with 'whenMatched: {}' mode", when_matched.name());
            return Err(Error::command(ErrorCode::Location51199, message));
        }
        Ok(Merge { into, when_matched, when_not_matched })
    }

    /// Refuses a result whose `_id` cannot identify a target document: `null`,
    /// `undefined` or an array. (A missing `_id` is generated, as for an insert.)
    pub fn check_id(&self, result: &Document) -> Result<()> {
        match result.get("_id") {
            Some(Bson::Null | Bson::Undefined) => Err(Error::command(
                ErrorCode::Location51132,
                "$merge write error: 'on' field cannot be missing, null, undefined or an array",
            )),
            Some(Bson::Array(_)) => Err(Error::command(
                ErrorCode::Location51185,
                "$merge write error: 'on' field cannot be missing, null, undefined or an array",
            )),
            _ => Ok(()),
        }
    }

    /// What to write for `result` (which has its `_id`), given the target document
    /// with that `_id`, if any: the new version of the target document, or `None`
    /// to leave the target as it is. `ns` names the target in errors.
    ///
    /// Like MongoDB's, the modes are updates by `_id`: `replace` is a replacement,
    /// `merge` a `$set` of the result's fields, `keepExisting` a `$setOnInsert`, and
    /// with `whenNotMatched: "insert"` they upsert (so `merge` and `keepExisting`
    /// insert the `_id` then the other fields as `$set` adds them); `fail` is an
    /// insert, which fails on a duplicate `_id`; a pipeline inserts the result as is.
    pub fn resolve(&self, ns: &str, result: Document, existing: Option<&Document>) -> Result<Option<Document>> {
        let Some(existing) = existing else {
            return match self.when_not_matched {
                WhenNotMatched::Discard => Ok(None),
                WhenNotMatched::Fail => Err(Error::command(
                    ErrorCode::MergeStageNoMatchingDocument,
                    "$merge could not find a matching document in the target collection for at least one document in the source collection",
                )),
                WhenNotMatched::Insert => match &self.when_matched {
                    WhenMatched::Merge => upsert(&result, "$set").map(Some),
                    WhenMatched::KeepExisting => upsert(&result, "$setOnInsert").map(Some),
                    WhenMatched::Replace | WhenMatched::Fail | WhenMatched::Pipeline { .. } => Ok(Some(result)),
                },
            };
        };
        let update = match &self.when_matched {
            WhenMatched::KeepExisting => return Ok(None),
            WhenMatched::Fail => {
                let id = result.get("_id").cloned().unwrap_or(Bson::Null);
                return Err(Error::duplicate_id(ns, &id));
            }
            WhenMatched::Replace => Update::parse(&Bson::Document(result), &[], &Variables::none())?,
            WhenMatched::Merge => Update::parse(&Bson::Document(doc! {"$set": result}), &[], &Variables::none())?,
            WhenMatched::Pipeline { stages, vars } => {
                let values = vars
                    .iter()
                    .map(|(name, expr)| Ok((name.clone(), expr.evaluate_optional(&result)?)))
                    .collect::<Result<Vec<_>>>()?;
                Update::parse(&Bson::Array(stages.clone()), &[], &Variables::none().with_values(values))?
            }
        };
        let updated = update.apply(existing, &Context::new(false, None))?;
        Ok((updated != *existing).then_some(updated))
    }
}

impl WhenMatched {
    /// The mode's name, as errors quote it.
    fn name(&self) -> &'static str {
        match self {
            WhenMatched::Replace => "replace",
            WhenMatched::KeepExisting => "keepExisting",
            WhenMatched::Merge => "merge",
            WhenMatched::Fail => "fail",
            WhenMatched::Pipeline { .. } => "pipeline",
        }
    }
}

impl WhenNotMatched {
    /// The mode's name, as errors quote it.
    fn name(self) -> &'static str {
        match self {
            WhenNotMatched::Insert => "insert",
            WhenNotMatched::Discard => "discard",
            WhenNotMatched::Fail => "fail",
        }
    }
}

/// The document an upsert by `_id` inserts when its update is `{<operator>: result}`.
fn upsert(result: &Document, operator: &str) -> Result<Document> {
    let seed = doc! {"_id": result.get("_id").cloned().unwrap_or(Bson::Null)};
    let update = Update::parse(&Bson::Document(doc! {operator: result.clone()}), &[], &Variables::none())?;
    update.apply(&seed, &Context::new(true, None))
}

/// `whenMatched: [stages]`: an update pipeline, checked now with its variables bound
/// to `null`. `let` defaults to `{new: "$$ROOT"}`; with `whenNotMatched: "insert"`,
/// `new` is always defined, as MongoDB adds it.
fn parse_pipeline(stages: &[Bson], vars: Option<&Document>, when_not_matched: WhenNotMatched) -> Result<WhenMatched> {
    let mut spec = vars.cloned().unwrap_or_else(|| doc! {"new": "$$ROOT"});
    match spec.get("new") {
        Some(Bson::String(root)) if root == "$$ROOT" => {}
        Some(_) => {
            return Err(Error::command(
                ErrorCode::Location51273,
                "'let' may not define a value for the reserved 'new' variable other than '$$ROOT'",
            ))
        }
        None if when_not_matched == WhenNotMatched::Insert => {
            spec.insert("new", "$$ROOT");
        }
        None => {}
    }
    // The names are checked as `$let` checks its variables' names.
    let names: Document = spec.keys().map(|name| (name.clone(), Bson::Null)).collect();
    Expr::parse(&Bson::Document(doc! {"$let": {"vars": names, "in": null}}), &Variables::none())?;
    let vars = spec
        .iter()
        .map(|(name, value)| Ok((name.clone(), Expr::parse(value, &Variables::none())?)))
        .collect::<Result<Vec<_>>>()?;
    let unbound: Vec<(String, Option<Bson>)> = vars.iter().map(|(name, _)| (name.clone(), Some(Bson::Null))).collect();
    Update::parse(&Bson::Array(stages.to_vec()), &[], &Variables::none().with_values(unbound))?;
    Ok(WhenMatched::Pipeline { stages: stages.to_vec(), vars })
}

/// `into: "coll"` or `into: {db, coll}`.
fn parse_into(value: &Bson) -> Result<Target> {
    let spec = match value {
        Bson::String(coll) if coll.is_empty() => {
            return Err(Error::command(ErrorCode::Location5786800, "$merge 'into' field cannot be an empty string"))
        }
        Bson::String(coll) => return Ok(Target { db: None, coll: coll.clone() }),
        Bson::Document(spec) => spec,
        other => {
            let message = format!(
                "$merge 'into' field  must be either a string or an object, but found {}",
                type_name(Some(other))
            );
            return Err(Error::command(ErrorCode::Location51178, message));
        }
    };
    let (mut db, mut coll) = (None, None);
    for (name, value) in spec {
        match name.as_str() {
            "db" => db = Some(string_field("into.db", value)?),
            "coll" => coll = Some(string_field("into.coll", value)?),
            _ => return Err(unknown_field(&format!("into.{name}"))),
        }
    }
    match coll {
        Some(coll) if !coll.is_empty() => Ok(Target { db, coll }),
        _ => Err(Error::command(
            ErrorCode::Location5786801,
            "$merge 'into' field must specify a 'coll' that is not empty, null or undefined",
        )),
    }
}

/// `whenNotMatched: "insert" | "discard" | "fail"`.
fn parse_when_not_matched(value: &Bson) -> Result<WhenNotMatched> {
    match value {
        Bson::String(mode) => match mode.as_str() {
            "insert" => Ok(WhenNotMatched::Insert),
            "discard" => Ok(WhenNotMatched::Discard),
            "fail" => Ok(WhenNotMatched::Fail),
            _ => Err(Error::bad_value(format!(
                "Enumeration value '{mode}' for field '$merge.whenNotMatched' is not a valid value."
            ))),
        },
        other => Err(wrong_type("$merge.whenNotMatched", other, "string")),
    }
}

/// `on: "field"` or `on: ["field", …]`: the field names.
fn parse_on(value: &Bson) -> Result<Vec<String>> {
    let fields = match value {
        Bson::String(field) => vec![field.clone()],
        Bson::Array(items) => items
            .iter()
            .map(|item| match item {
                Bson::String(field) => Ok(field.clone()),
                other => Err(Error::command(
                    ErrorCode::Location51134,
                    format!("$merge 'on' array elements must be strings, but found {}", type_name(Some(other))),
                )),
            })
            .collect::<Result<_>>()?,
        other => {
            let message = format!(
                "$merge 'on' field  must be either a string or an array of strings, but found {}",
                type_name(Some(other))
            );
            return Err(Error::command(ErrorCode::Location51186, message));
        }
    };
    if fields.is_empty() {
        return Err(Error::command(
            ErrorCode::Location51187,
            "If explicitly specifying $merge 'on', must include at least one field",
        ));
    }
    Ok(fields)
}

/// Only `_id` can be the `on` field: other fields need a unique index, which this
/// server does not have.
fn check_on(fields: &[String]) -> Result<()> {
    for (i, field) in fields.iter().enumerate() {
        if fields[..i].contains(field) {
            return Err(Error::command(ErrorCode::Location31465, format!("Found a duplicate field '{field}'")));
        }
    }
    if fields != ["_id"] {
        return Err(Error::command(
            ErrorCode::Location51183,
            "Cannot find index to verify that join fields will be unique",
        ));
    }
    Ok(())
}

/// A string field of a stage's specification.
fn string_field(field: &str, value: &Bson) -> Result<String> {
    match value {
        Bson::String(s) => Ok(s.clone()),
        other => Err(wrong_type(field, other, "string")),
    }
}

fn wrong_type(field: &str, value: &Bson, expected: &str) -> Error {
    Error::type_mismatch(format!(
        "BSON field '{field}' is the wrong type '{}', expected type '{expected}'",
        type_name(Some(value))
    ))
}

fn unknown_field(field: &str) -> Error {
    Error::command(ErrorCode::Location40415, format!("BSON field '{field}' is an unknown field."))
}

fn missing_field(field: &str) -> Error {
    Error::command(ErrorCode::Location40414, format!("BSON field '{field}' is missing but a required field"))
}

#[cfg(test)]
mod tests {
    //! The golden cases of `src/query/golden/merge.json`. A case holds a `merge`
    //! specification, a `result` and the `existing` target document (absent when none
    //! matches), and `expect`s the document written (`null`: nothing is written) or an
    //! `error` code, which may come from parsing the specification alone; or a whole
    //! `pipeline` that parses into `stages` stages and an output, or fails with `error`.

    use bson::{doc, Bson, Document};

    use super::Merge;
    use crate::error::Result;
    use crate::query::golden;
    use crate::query::pipeline::Pipeline;

    /// How many cases the golden file holds; update it when adding cases.
    const CASES: usize = 63;

    /// What a `$merge` case yields: the document to write, if any.
    fn run_merge(case: &Document) -> Result<Option<Document>> {
        let merge = Merge::parse(case.get("merge").expect("a case has a merge"))?;
        let result = case.get_document("result").expect("a case that parses has a result").clone();
        merge.check_id(&result)?;
        merge.resolve("db.t", result, case.get_document("existing").ok())
    }

    /// What a pipeline case yields: its number of stages when it parses with an output.
    fn run_pipeline(stages: &[Bson]) -> Result<Option<Document>> {
        let pipeline = Pipeline::parse(stages, &super::Variables::none())?;
        Ok(pipeline.output().map(|_| doc! {"stages": pipeline.stages.len() as i32}))
    }

    #[test]
    fn golden_merge() {
        let mut failures = Vec::new();
        let mut count = 0;
        for group in golden::load(include_str!("../golden/merge.json")) {
            let cases = group.body.get_array("cases").expect("a group has cases");
            for (index, case) in cases.iter().enumerate() {
                count += 1;
                let Bson::Document(case) = case else { panic!("{}: case {index} is not an object", group.name) };
                let got = match case.get_array("pipeline") {
                    Ok(stages) => run_pipeline(stages),
                    Err(_) => run_merge(case),
                };
                let expected = match case.get_i32("stages") {
                    Ok(stages) => Some(Bson::Document(doc! {"stages": stages})),
                    Err(_) => case.get("expect").cloned(),
                };
                let ok = match (&got, &expected, case.get("error")) {
                    (Ok(None), Some(Bson::Null), None) => true,
                    (Ok(Some(doc)), Some(Bson::Document(want)), None) => doc == want,
                    (Err(e), None, Some(code)) => Bson::Int32(e.code().code()) == *code,
                    _ => false,
                };
                if !ok {
                    let wanted = expected.as_ref().or(case.get("error"));
                    failures.push(format!(
                        "{} ({}) case {index}: {case}\n  got {got:?}\n  expected {wanted:?}",
                        group.name, group.doc
                    ));
                }
            }
        }
        assert!(failures.is_empty(), "{} of {count} cases failed:\n{}", failures.len(), failures.join("\n"));
        assert_eq!(count, CASES, "the number of golden cases changed");
    }
}
