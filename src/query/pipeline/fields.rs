//! Field paths inside documents, as the stages that reshape documents use them:
//! `$addFields`/`$set` (computed fields, nested specifications), `$unset` and the
//! path `$unwind` works on.

use bson::{Bson, Document};

use crate::error::{Error, ErrorCode, Result};
use crate::query::expr::{Expr, Variables};
use crate::query::text::TextSearch;

/// The value at a dotted path, through sub-documents only (arrays stop it).
pub(super) fn get_path<'d>(doc: &'d Document, path: &[String]) -> Option<&'d Bson> {
    let (first, rest) = path.split_first()?;
    let value = doc.get(first)?;
    if rest.is_empty() {
        return Some(value);
    }
    match value {
        Bson::Document(inner) => get_path(inner, rest),
        _ => None,
    }
}

/// Sets the value at a dotted path, creating (or replacing non-documents with)
/// sub-documents along the way.
pub(super) fn set_path(doc: &mut Document, path: &[String], value: Bson) {
    let Some((first, rest)) = path.split_first() else { return };
    if rest.is_empty() {
        doc.insert(first.clone(), value);
        return;
    }
    if !matches!(doc.get(first), Some(Bson::Document(_))) {
        doc.insert(first.clone(), Document::new());
    }
    if let Some(Bson::Document(inner)) = doc.get_mut(first) {
        set_path(inner, rest, value);
    }
}

/// Removes the field at a dotted path, in every document of the arrays on the way.
pub(super) fn remove_path(doc: &mut Document, path: &[String]) {
    let Some((first, rest)) = path.split_first() else { return };
    if rest.is_empty() {
        doc.remove(first);
        return;
    }
    match doc.get_mut(first) {
        Some(Bson::Document(inner)) => remove_path(inner, rest),
        Some(Bson::Array(items)) => {
            for item in items {
                if let Bson::Document(inner) = item {
                    remove_path(inner, rest);
                }
            }
        }
        _ => {}
    }
}

/// Splits a dotted field path of a stage specification, refusing empty parts and
/// `$` prefixes.
pub(super) fn split_path(path: &str) -> Result<Vec<String>> {
    path.split('.')
        .map(|part| {
            if part.is_empty() {
                Err(Error::command(ErrorCode::Location15998, "FieldPath field names may not be empty strings."))
            } else if part.starts_with('$') {
                Err(Error::command(
                    ErrorCode::Location16410,
                    format!(
                        "FieldPath field names may not start with '$'. Consider using $getField or $setField. ({path})"
                    ),
                ))
            } else {
                Ok(part.to_owned())
            }
        })
        .collect()
}

/// The computed fields of `$addFields` and `$set`: each an expression, or a nested
/// specification that adds fields inside an embedded document.
#[derive(Debug, Clone, Default)]
pub(super) struct Computed {
    fields: Vec<(String, Field)>,
    /// The `$text` search whose scores `{$meta: "textScore"}` reads.
    text: Option<Box<TextSearch>>,
}

/// One computed field.
#[derive(Debug, Clone)]
enum Field {
    Value(Expr),
    Nested(Computed),
}

/// A computed field's value, evaluated: `None` removes the field.
enum Evaluated {
    Value(Option<Bson>),
    Nested(Vec<(String, Evaluated)>),
}

impl Computed {
    /// Parses a `$addFields` specification (`stage` names it in errors) whose
    /// expressions may read `vars`.
    pub(super) fn parse(spec: &Document, stage: &str, vars: &Variables) -> Result<Computed> {
        if spec.is_empty() {
            let message = format!("Invalid {stage} :: caused by :: specification must have at least one field");
            return Err(Error::command(ErrorCode::Location40177, message));
        }
        let mut computed = Computed::default();
        for (path, value) in spec {
            computed.add(&split_path(path)?, value, vars)?;
        }
        Ok(computed)
    }

    /// Adds the field at `path` (an object that is not an operator expression is a
    /// nested specification).
    fn add(&mut self, path: &[String], value: &Bson, vars: &Variables) -> Result<()> {
        let Some((first, rest)) = path.split_first() else { return Ok(()) };
        if !rest.is_empty() {
            return self.nested(first)?.add(rest, value, vars);
        }
        match value {
            Bson::Document(doc) if doc.keys().next().is_some_and(|k| !k.starts_with('$')) => {
                let nested = self.nested(first)?;
                for (name, inner) in doc {
                    nested.add(&split_path(name)?, inner, vars)?;
                }
                Ok(())
            }
            _ => {
                self.refuse_duplicate(first)?;
                self.fields.push((first.clone(), Field::Value(Expr::parse(value, vars)?)));
                Ok(())
            }
        }
    }

    /// The nested specification for `name`, created when new.
    fn nested(&mut self, name: &str) -> Result<&mut Computed> {
        let at = match self.fields.iter().position(|(n, _)| n == name) {
            Some(at) => at,
            None => {
                self.fields.push((name.to_owned(), Field::Nested(Computed::default())));
                self.fields.len() - 1
            }
        };
        match &mut self.fields[at].1 {
            Field::Nested(nested) => Ok(nested),
            Field::Value(_) => Err(path_collision(name)),
        }
    }

    /// Refuses a second specification of the same field.
    fn refuse_duplicate(&self, name: &str) -> Result<()> {
        match self.fields.iter().any(|(n, _)| n == name) {
            true => Err(path_collision(name)),
            false => Ok(()),
        }
    }

    /// Adds the fields to a document: every expression sees the document as it was
    /// before the stage.
    pub(super) fn apply(&self, mut doc: Document) -> Result<Document> {
        let score = self.text.as_ref().map(|search| search.score(&doc));
        let values = self.evaluate(&doc, score)?;
        set_all(&mut doc, &values);
        Ok(doc)
    }

    /// Evaluates every expression against `root`, whose text score is `score`.
    fn evaluate(&self, root: &Document, score: Option<f64>) -> Result<Vec<(String, Evaluated)>> {
        self.fields
            .iter()
            .map(|(name, field)| {
                let value = match field {
                    Field::Value(expr) => Evaluated::Value(expr.evaluate_scored(root, score)?),
                    Field::Nested(nested) => Evaluated::Nested(nested.evaluate(root, score)?),
                };
                Ok((name.clone(), value))
            })
            .collect()
    }

    /// Whether an expression reads the text score.
    pub(super) fn needs_text_score(&self) -> bool {
        self.fields.iter().any(|(_, field)| match field {
            Field::Value(expr) => expr.needs_text_score(),
            Field::Nested(nested) => nested.needs_text_score(),
        })
    }

    /// These fields, with text scores from `search`.
    pub(super) fn with_text_search(mut self, search: &TextSearch) -> Computed {
        self.text = Some(Box::new(search.clone()));
        self
    }
}

/// A path given twice in one specification.
fn path_collision(name: &str) -> Error {
    Error::command(
        ErrorCode::Location40176,
        format!("specification contains two conflicting paths. Cannot specify both '{name}' and a sub-path of it"),
    )
}

/// Stores evaluated fields into a document (an existing field keeps its place).
fn set_all(doc: &mut Document, values: &[(String, Evaluated)]) {
    for (name, value) in values {
        match value {
            Evaluated::Value(Some(value)) => {
                doc.insert(name.clone(), value.clone());
            }
            Evaluated::Value(None) => {
                doc.remove(name);
            }
            Evaluated::Nested(fields) => match doc.get_mut(name) {
                Some(current) => {
                    let taken = std::mem::replace(current, Bson::Null);
                    *current = set_nested(taken, fields);
                }
                None => {
                    doc.insert(name.clone(), set_nested(Bson::Null, fields));
                }
            },
        }
    }
}

/// Applies nested fields to a value: inside a document, to each element of an
/// array, or to a new document in place of anything else.
fn set_nested(value: Bson, fields: &[(String, Evaluated)]) -> Bson {
    match value {
        Bson::Document(mut inner) => {
            set_all(&mut inner, fields);
            Bson::Document(inner)
        }
        Bson::Array(items) => Bson::Array(items.into_iter().map(|item| set_nested(item, fields)).collect()),
        _ => {
            let mut inner = Document::new();
            set_all(&mut inner, fields);
            Bson::Document(inner)
        }
    }
}
