//! The update tree: the paths of all operators merged into one tree of fields, and
//! its application to a document.
//!
//! An inner node holds the fields below one path (`Fields`, the positional `$`
//! among them) or the `$[]`/`$[<id>]` components below one array (`Elements`);
//! leaves hold modifiers. A path that does not exist is created only when a leaf
//! below it creates a value. Children are applied in MongoDB's order of field names: numeric
//! names by number, others by bytes.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use bson::{Bson, Document};

use super::filters::ArrayFilters;
use super::modifier::{not_viable, Modifier, Outcome};
use super::show::{element, show};
use super::{dollar_prefixed, Context, Operators};
use crate::error::{Error, ErrorCode, Result};
use crate::value::collation::Collation;

/// The most nulls an update pads an array with to reach an index.
const MAX_PADDING: usize = 1_500_000;

/// A node of the update tree.
#[derive(Debug, Clone)]
pub enum Node {
    Leaf(Modifier),
    /// The fields below a path; the positional `$` is the child named `$`.
    Fields(Children),
    /// The `$[]` (identifier `""`) and `$[<identifier>]` components below an array path.
    Elements(Children),
}

/// The children of an inner node, by name.
#[derive(Debug, Clone, Default)]
pub struct Children(BTreeMap<FieldName, Node>);

/// The name of the positional child.
const POSITIONAL: &str = "$";

/// A field name, ordered as MongoDB applies updates: names that are numbers (no
/// leading zero) by their value, others by their bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldName(String);

impl FieldName {
    fn is_number(&self) -> bool {
        let bytes = self.0.as_bytes();
        bytes.first().is_some_and(u8::is_ascii_digit) && !(bytes[0] == b'0' && bytes.len() > 1)
    }
}

impl Ord for FieldName {
    fn cmp(&self, other: &Self) -> Ordering {
        if self.is_number() && other.is_number() {
            self.0.len().cmp(&other.0.len()).then_with(|| self.0.cmp(&other.0))
        } else {
            self.0.cmp(&other.0)
        }
    }
}

impl PartialOrd for FieldName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A component of an update path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part<'p> {
    Field(&'p str),
    /// `$`: the element the query matched.
    Positional,
    /// `$[]` (empty identifier) or `$[<identifier>]`.
    Filtered(&'p str),
}

impl<'p> Part<'p> {
    fn parse(part: &'p str) -> Part<'p> {
        if part == POSITIONAL {
            Part::Positional
        } else if let Some(identifier) = part.strip_prefix("$[").and_then(|p| p.strip_suffix(']')) {
            Part::Filtered(identifier)
        } else {
            Part::Field(part)
        }
    }

    /// The name of the child this component is in its parent.
    fn name(self) -> &'p str {
        match self {
            Part::Field(name) | Part::Filtered(name) => name,
            Part::Positional => POSITIONAL,
        }
    }
}

/// Adds the path of one operator's field to the tree (both ends for `$rename`).
pub fn add(
    root: &mut Children,
    op: &str,
    path: &str,
    argument: &Bson,
    filters: &ArrayFilters,
    renames: &mut Vec<String>,
    used: &mut BTreeSet<String>,
) -> Result<()> {
    if op == "$rename" {
        let index = renames.len();
        insert(root, path, Node::Leaf(Modifier::RenameSource(index)), filters, used)?;
        let Bson::String(to) = argument else {
            return Err(Error::bad_value(format!(
                "The 'to' field for $rename must be a string: {}",
                element(path, argument)
            )));
        };
        check_rename(path, to, argument)?;
        insert(root, to, Node::Leaf(Modifier::Rename(index)), filters, used)?;
        renames.push(path.to_owned());
        return Ok(());
    }
    let Some(modifier) = Modifier::parse(op, path, argument)? else {
        return Err(Error::command(
            ErrorCode::FailedToParse,
            format!("Unknown modifier: {op}. Expected a valid update modifier or pipeline-style update specified as an array"),
        ));
    };
    insert(root, path, Node::Leaf(modifier), filters, used)
}

/// The checks of a `$rename`'s two paths.
fn check_rename(from: &str, to: &str, argument: &Bson) -> Result<()> {
    let shown = || element(from, argument);
    if from == to {
        return Err(Error::bad_value(format!("The source and target field for $rename must differ: {}", shown())));
    }
    let prefix = |a: &str, b: &str| b.strip_prefix(a).is_some_and(|rest| rest.starts_with('.'));
    if prefix(from, to) || prefix(to, from) {
        return Err(Error::bad_value(format!(
            "The source and target field for $rename must not be on the same path: {}",
            shown()
        )));
    }
    let dynamic = |path: &str| path.split('.').any(|p| !matches!(Part::parse(p), Part::Field(_)));
    if dynamic(from) {
        return Err(Error::bad_value(format!("The source field for $rename may not be dynamic: {from}")));
    }
    if dynamic(to) {
        return Err(Error::bad_value(format!("The destination field for $rename may not be dynamic: {to}")));
    }
    Ok(())
}

/// Checks an update path and adds its leaf to the tree.
fn insert(
    root: &mut Children,
    path: &str,
    leaf: Node,
    filters: &ArrayFilters,
    used: &mut BTreeSet<String>,
) -> Result<()> {
    if path.is_empty() {
        return Err(Error::command(ErrorCode::EmptyFieldName, "An empty update path is not valid."));
    }
    if path.split('.').any(str::is_empty) {
        return Err(Error::command(
            ErrorCode::EmptyFieldName,
            format!("The update path '{path}' contains an empty field name, which is not allowed."),
        ));
    }
    let parts: Vec<Part<'_>> = path.split('.').map(Part::parse).collect();
    let positionals = parts.iter().filter(|p| **p == Part::Positional).count();
    if positionals > 1 {
        return Err(Error::bad_value(format!("Too many positional (i.e. '$') elements found in path '{path}'")));
    }
    match parts[0] {
        Part::Positional => {
            return Err(Error::bad_value(format!(
                "Cannot have positional (i.e. '$') element in the first position in path '{path}'"
            )))
        }
        Part::Filtered(_) => {
            return Err(Error::bad_value(format!(
                "Cannot have array filter identifier (i.e. '$[<id>]') element in the first position in path '{path}'"
            )))
        }
        Part::Field(_) => {}
    }
    for part in &parts {
        if let Part::Filtered(identifier) = part {
            if !identifier.is_empty() && !filters.contains(identifier) {
                return Err(Error::bad_value(format!(
                    "No array filter found for identifier '{identifier}' in path '{path}'"
                )));
            }
            used.insert((*identifier).to_owned());
        }
    }
    let conflict = |at: usize| {
        let prefix: Vec<&str> = path.split('.').take(at + 1).collect();
        Error::command(
            ErrorCode::ConflictingUpdateOperators,
            format!("Updating the path '{path}' would create a conflict at '{}'", prefix.join(".")),
        )
    };
    let mut children = root;
    for (i, part) in parts.iter().enumerate() {
        let inner = match parts.get(i + 1) {
            None => None,
            Some(Part::Filtered(_)) => Some(Node::Elements(Children::default())),
            Some(_) => Some(Node::Fields(Children::default())),
        };
        let child = match (children.0.entry(FieldName(part.name().to_owned())), inner) {
            (Entry::Vacant(slot), None) => {
                slot.insert(leaf);
                return Ok(());
            }
            (Entry::Vacant(slot), Some(inner)) => slot.insert(inner),
            (Entry::Occupied(slot), Some(inner)) if same_kind(slot.get(), &inner) => slot.into_mut(),
            (Entry::Occupied(_), _) => return Err(conflict(i)),
        };
        children = match child {
            Node::Fields(c) | Node::Elements(c) => c,
            Node::Leaf(_) => return Err(conflict(i)),
        };
    }
    Ok(())
}

/// Whether two inner nodes are of the same kind.
fn same_kind(a: &Node, b: &Node) -> bool {
    matches!((a, b), (Node::Fields(_), Node::Fields(_)) | (Node::Elements(_), Node::Elements(_)))
}

/// The state of one application of an update tree to a document.
pub struct Apply<'a> {
    pub ctx: &'a Context,
    filters: &'a ArrayFilters,
    /// The collation the operators compare strings by.
    pub collation: Option<&'a Collation>,
    /// The document's `_id`, for messages.
    id: Option<&'a Bson>,
    /// The value of each `$rename`'s source, read before the update.
    pub renamed: Vec<Option<Bson>>,
    /// The path being updated.
    pub path: Vec<String>,
    /// For each component of `path`, whether it indexes an array.
    in_array: Vec<bool>,
}

impl<'a> Apply<'a> {
    /// Applies the update tree of `operators` to a copy of `doc`.
    pub fn run(operators: &'a Operators, doc: &'a Document, ctx: &'a Context) -> Result<Document> {
        let id = doc.get("_id");
        let renamed = operators.renames.iter().map(|from| rename_source(doc, from, id)).collect::<Result<Vec<_>>>()?;
        let mut apply = Apply {
            ctx,
            filters: &operators.filters,
            collation: operators.collation.as_deref(),
            id,
            renamed,
            path: Vec::new(),
            in_array: Vec::new(),
        };
        let mut root = Bson::Document(doc.clone());
        apply.fields(&operators.root, &mut root)?;
        match root {
            Bson::Document(updated) => Ok(updated),
            _ => Err(Error::Internal("an update turned a document into another type".to_owned())),
        }
    }

    /// The `_id` of the document as messages show it (`_id: 1`).
    pub fn id_text(&self) -> String {
        self.id.map_or_else(|| "no id".to_owned(), |id| element("_id", id))
    }

    /// The name of the field being updated.
    pub fn field(&self) -> &str {
        self.path.last().map_or("", String::as_str)
    }

    /// The name of the first array the current path runs through, if any.
    pub fn array_field(&self) -> Option<&str> {
        let index = self.in_array.iter().position(|a| *a)?;
        Some(index.checked_sub(1).map_or("", |i| self.path[i].as_str()))
    }

    /// Applies the children of a `Fields` node to a document or array, the
    /// positional `$` as the child named by the matched index.
    fn fields(&mut self, fields: &Children, container: &mut Bson) -> Result<()> {
        let Some(positional) = fields.0.get(&FieldName(POSITIONAL.to_owned())) else {
            for (name, child) in &fields.0 {
                self.child(container, &name.0, child)?;
            }
            return Ok(());
        };
        let index = self
            .ctx
            .position
            .ok_or_else(|| Error::bad_value("The positional operator did not find the match needed from the query."))?;
        let index = FieldName(index.to_string());
        let mut children: Vec<(&FieldName, Cow<'_, Node>)> = Vec::with_capacity(fields.0.len());
        for (name, child) in fields.0.iter().filter(|(name, _)| name.0 != POSITIONAL) {
            if name == &index {
                let at = self.path_to(&name.0);
                children.push((name, Cow::Owned(merge(child, positional, at)?)));
            } else {
                children.push((name, Cow::Borrowed(child)));
            }
        }
        if !fields.0.contains_key(&index) {
            let at = children.partition_point(|(name, _)| **name < index);
            children.insert(at, (&index, Cow::Borrowed(positional)));
        }
        for (name, child) in children {
            self.child(container, &name.0, &child)?;
        }
        Ok(())
    }

    /// The current path with one more component, for messages.
    fn path_to(&self, field: &str) -> Vec<String> {
        let mut at = self.path.clone();
        at.push(field.to_owned());
        at
    }

    /// Applies `node` to the field `field` of a document or array.
    fn child(&mut self, container: &mut Bson, field: &str, node: &Node) -> Result<()> {
        if self.path.is_empty() && field.starts_with('$') && !self.ctx.inserting {
            return Err(dollar_prefixed(field));
        }
        self.path.push(field.to_owned());
        self.in_array.push(matches!(container, Bson::Array(_)));
        let result = self.child_in(container, field, node);
        self.path.pop();
        self.in_array.pop();
        result
    }

    fn child_in(&mut self, container: &mut Bson, field: &str, node: &Node) -> Result<()> {
        let existing = match container {
            Bson::Document(doc) => doc.get_mut(field),
            Bson::Array(items) => field.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
            _ => None,
        };
        let Some(value) = existing else {
            return match self.create(node)? {
                Some(value) => self.place(container, field, value),
                None => Ok(()),
            };
        };
        if self.existing(node, value)? == Outcome::Remove {
            match container {
                Bson::Document(doc) => {
                    doc.remove(field);
                }
                Bson::Array(items) => {
                    if let Some(item) = field.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                        *item = Bson::Null;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Applies `node` to an existing value.
    fn existing(&mut self, node: &Node, value: &mut Bson) -> Result<Outcome> {
        match node {
            Node::Leaf(modifier) => self.modify(modifier, value),
            Node::Fields(fields) => {
                if matches!(value, Bson::Document(_) | Bson::Array(_)) {
                    self.fields(fields, value)?;
                } else if let Some(Bson::Document(created)) = self.create(node)? {
                    let first = created.keys().next().map_or("", String::as_str);
                    return Err(not_viable(first, self.field(), value));
                }
                Ok(Outcome::Keep)
            }
            Node::Elements(elements) => {
                self.elements(elements, value)?;
                Ok(Outcome::Keep)
            }
        }
    }

    /// Applies the `$[]` and `$[<identifier>]` children of an `Elements` node to
    /// each element of an array they match.
    fn elements(&mut self, elements: &Children, value: &mut Bson) -> Result<()> {
        let Bson::Array(items) = &*value else {
            return Err(Error::bad_value(format!(
                "Cannot apply array updates to non-array element {}",
                element(self.field(), value)
            )));
        };
        for index in 0..items.len() {
            let matching: Vec<&Node> = match &*value {
                Bson::Array(items) => match items.get(index) {
                    Some(item) => {
                        elements.0.iter().filter(|(id, _)| self.filters.matches(&id.0, item)).map(|(_, c)| c).collect()
                    }
                    None => break,
                },
                _ => break,
            };
            let Some((first, rest)) = matching.split_first() else { continue };
            let mut merged = Cow::Borrowed(*first);
            for other in rest {
                merged = Cow::Owned(merge(&merged, other, self.path_to(&index.to_string()))?);
            }
            self.child(value, &index.to_string(), &merged)?;
        }
        Ok(())
    }

    /// The value `node` creates where nothing is, if any.
    fn create(&mut self, node: &Node) -> Result<Option<Bson>> {
        match node {
            Node::Leaf(modifier) => self.create_value(modifier),
            Node::Fields(fields) => {
                let mut created = Bson::Document(Document::new());
                self.fields(fields, &mut created)?;
                Ok(match created {
                    Bson::Document(doc) if doc.is_empty() => None,
                    other => Some(other),
                })
            }
            Node::Elements(_) => Err(Error::bad_value(format!(
                "The path '{}' must exist in the document in order to apply array updates.",
                self.path.join(".")
            ))),
        }
    }

    /// Puts a created value at `field` of a document (appended) or an array (padded
    /// with nulls up to the index).
    fn place(&self, container: &mut Bson, field: &str, value: Bson) -> Result<()> {
        match container {
            Bson::Document(doc) => {
                doc.insert(field, value);
                Ok(())
            }
            Bson::Array(items) => {
                let parent = self.path.len().checked_sub(2).map_or("", |i| self.path[i].as_str());
                let Ok(index) = field.parse::<usize>() else {
                    return Err(not_viable(field, parent, container));
                };
                if index > items.len() + MAX_PADDING {
                    return Err(Error::bad_value(format!(
                        "can't backfill array to larger than {MAX_PADDING} elements: {}",
                        show(container)
                    )));
                }
                items.resize(index, Bson::Null);
                items.push(value);
                Ok(())
            }
            other => Err(not_viable(field, self.field(), other)),
        }
    }
}

/// The value at a `$rename` source, read from the document before the update:
/// `None` when missing; a path through a non-document is `PathNotViable`, one
/// through an array element `BadValue`.
fn rename_source(doc: &Document, from: &str, id: Option<&Bson>) -> Result<Option<Bson>> {
    let mut current = doc;
    let parts: Vec<&str> = from.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let Some(value) = current.get(*part) else { return Ok(None) };
        if i + 1 == parts.len() {
            return Ok(Some(value.clone()));
        }
        match value {
            Bson::Document(inner) => current = inner,
            Bson::Array(items) if parts[i + 1].parse::<usize>().is_ok_and(|n| n < items.len()) => {
                return Err(Error::bad_value(format!(
                    "The source field cannot be an array element, '{from}' in doc with {} has an array field called '{part}'",
                    id.map_or_else(|| "no id".to_owned(), |id| element("_id", id))
                )))
            }
            other => {
                return Err(Error::command(
                    ErrorCode::PathNotViable,
                    format!(
                        "cannot use the part ({} of {from}) to traverse the element ({{{}}})",
                        parts[i + 1],
                        element(part, other)
                    ),
                ))
            }
        }
    }
    Ok(None)
}

/// Two nodes that apply to the same place (the positional `$` and the field it
/// stands for, or two array filters matching one element) merged into one; two
/// leaves, or a leaf and an inner node, are a conflict at `at`.
fn merge(a: &Node, b: &Node, at: Vec<String>) -> Result<Node> {
    let merged = |x: &Children, y: &Children| -> Result<Children> {
        let mut children = x.0.clone();
        for (name, node) in &y.0 {
            let combined = match x.0.get(name) {
                Some(existing) => {
                    let mut deeper = at.clone();
                    deeper.push(name.0.clone());
                    merge(existing, node, deeper)?
                }
                None => node.clone(),
            };
            children.insert(name.clone(), combined);
        }
        Ok(Children(children))
    };
    match (a, b) {
        (Node::Fields(x), Node::Fields(y)) => Ok(Node::Fields(merged(x, y)?)),
        (Node::Elements(x), Node::Elements(y)) => Ok(Node::Elements(merged(x, y)?)),
        _ => Err(Error::command(
            ErrorCode::ConflictingUpdateOperators,
            format!("Update created a conflict at '{}'", at.join(".")),
        )),
    }
}
