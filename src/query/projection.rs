//! Projections: which fields of a document a query returns, with MongoDB 7.0's
//! semantics for `find` (inclusion, exclusion, dotted paths through arrays, computed
//! fields, `$slice`, `$elemMatch` and the positional `.$`) and for the aggregation
//! `$project` stage, which shares the grammar but not the find-only operators.
//!
//! A specification compiles into a tree of paths. Applying it is two passes over
//! the document: the tree (fields kept or dropped, computed fields added after the
//! kept ones, as MongoDB orders them), then the find-only `$slice` and positional
//! steps on the projected document, in the order the specification gives them.

use bson::{doc, Bson, Document};

use super::expr::{Expr, Variables};
use super::filter::Filter;
use super::path::set_path;
use super::sort::no_text_score;
use super::text::TextSearch;
use crate::error::{Error, ErrorCode, Result};
use crate::value::type_name;

/// A compiled projection.
#[derive(Debug, Clone)]
pub struct Projection {
    root: Node,
    /// Inclusion (only the named fields) or exclusion (all but the named fields).
    inclusion: bool,
    /// `$slice` and positional steps, run on the projected document.
    steps: Vec<Step>,
    /// The dotted paths that get the text score (`{$meta: "textScore"}`).
    text_score: Vec<String>,
    /// The `$text` search that gives them.
    text: Option<Box<TextSearch>>,
}

/// Where a projection is used: `find` allows `$slice`, `$elemMatch` and the
/// positional `.$`; aggregation's `$project` refuses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    Find,
    Aggregation,
}

/// One level of the path tree: the fields named at it, in the order they were first
/// named (the order computed fields are added in).
#[derive(Debug, Clone, Default)]
struct Node {
    children: Vec<(String, Entry)>,
    /// Whether a computed field lives at or below this node.
    computed: bool,
}

#[derive(Debug, Clone)]
enum Entry {
    Leaf(Leaf),
    Node(Node),
}

/// What a specification says about one path.
#[derive(Debug, Clone)]
enum Leaf {
    /// `1`/`true` (kept) or `0`/`false` (dropped).
    Keep(bool),
    /// A computed field: `"$a"`, a literal, `{$add: …}`.
    Computed(Expr),
    /// `{$elemMatch: …}` at a top-level field: the filter `{field: {$elemMatch: …}}`.
    ElemMatch(Filter),
    /// `{$slice: …}`: kept, then sliced by its [`Step`].
    Slice,
    /// `field.$`: kept, then narrowed by its [`Step`].
    Positional,
}

/// A find-only step run after the tree, on the projected document.
#[derive(Debug, Clone)]
enum Step {
    /// `$slice` of the arrays at a path: `skip` (when given as `[skip, limit]`) and
    /// `limit` (negative: the last elements).
    Slice { path: Vec<String>, skip: Option<i32>, limit: i32 },
    /// The positional `.$`: the first array on the path becomes its matched element.
    Positional { path: Vec<String> },
}

impl Projection {
    /// A `find` projection; `None` for an empty specification (every field). Its
    /// expressions may read `vars`, the command's variables.
    pub fn parse(spec: &Document, vars: &Variables) -> Result<Option<Projection>> {
        if spec.is_empty() {
            return Ok(None);
        }
        Parser::new(Policy::Find, vars).parse(spec).map(Some)
    }

    /// An aggregation `$project` specification: the same grammar without `$slice`
    /// (which is the `$slice` expression there), `$elemMatch` and positional
    /// projections. The caller adds the `Invalid $project :: caused by :: ` context.
    pub fn parse_aggregation(spec: &Document, vars: &Variables) -> Result<Projection> {
        if spec.is_empty() {
            return Err(Error::command(
                ErrorCode::Location51272,
                "projection specification must have at least one field",
            ));
        }
        Parser::new(Policy::Aggregation, vars).parse(spec)
    }

    /// Whether applying needs the position of the array element the filter matched
    /// through (a positional projection), so callers compute it only then.
    /// Whether the projection compares or computes values (computed fields,
    /// `$elemMatch`): what a collation would change.
    pub fn compares_values(&self) -> bool {
        fn any(node: &Node) -> bool {
            node.computed
                || node.children.iter().any(|(_, entry)| match entry {
                    Entry::Leaf(Leaf::ElemMatch(_) | Leaf::Computed(_)) => true,
                    Entry::Leaf(_) => false,
                    Entry::Node(child) => any(child),
                })
        }
        any(&self.root)
    }

    pub fn needs_position(&self) -> bool {
        self.steps.iter().any(|step| matches!(step, Step::Positional { .. }))
    }

    /// Projects `doc`. `position` is the index of the array element through which
    /// the query's filter matched `doc`, for a positional projection.
    pub fn apply(&self, doc: Document, position: Option<usize>) -> Result<Document> {
        let score = match self.needs_text_score() {
            true => self.text.as_ref().map(|search| search.score(&doc)),
            false => None,
        };
        if !self.text_score.is_empty() && score.is_none() {
            return Err(no_text_score());
        }
        let mut out = match self.inclusion {
            true => include_doc(&self.root, &doc, &Root { doc: &doc, score })?,
            false => self.exclude(doc)?,
        };
        for step in &self.steps {
            match step {
                Step::Slice { path, skip, limit } => slice_at(&mut out, path, *skip, *limit),
                Step::Positional { path } => narrow_to_position(&mut out, path, position)?,
            }
        }
        if let Some(score) = score {
            for path in &self.text_score {
                set_path(&mut out, path, Bson::Double(score));
            }
        }
        Ok(out)
    }

    /// Whether the projection asks for the text score.
    pub fn needs_text_score(&self) -> bool {
        fn computed(node: &Node) -> bool {
            node.children.iter().any(|(_, entry)| match entry {
                Entry::Leaf(Leaf::Computed(expr)) => expr.needs_text_score(),
                Entry::Leaf(_) => false,
                Entry::Node(child) => computed(child),
            })
        }
        !self.text_score.is_empty() || computed(&self.root)
    }

    /// This projection, taking text scores from `search`: MongoDB's error 40218
    /// when it asks for them and there is no search.
    pub fn with_text_search(mut self, search: Option<&TextSearch>) -> Result<Projection> {
        if self.needs_text_score() {
            self.text = Some(Box::new(search.cloned().ok_or_else(no_text_score)?));
        }
        Ok(self)
    }

    /// An exclusion projection of `doc`; `$elemMatch` fields (matched against the
    /// whole document first) replace the field in place, or remove it.
    fn exclude(&self, doc: Document) -> Result<Document> {
        let matched: Vec<(&str, Option<Bson>)> = self
            .root
            .children
            .iter()
            .filter_map(|(name, entry)| match entry {
                Entry::Leaf(Leaf::ElemMatch(filter)) => Some((name.as_str(), first_match(filter, name, &doc))),
                _ => None,
            })
            .collect();
        let mut out = exclude_doc(&self.root, doc);
        for (name, found) in matched {
            match found {
                Some(element) => {
                    out.insert(name, Bson::Array(vec![element]));
                }
                None => {
                    out.remove(name);
                }
            }
        }
        Ok(out)
    }
}

impl Node {
    fn get(&self, name: &str) -> Option<&Entry> {
        self.children.iter().find(|(n, _)| n == name).map(|(_, e)| e)
    }

    /// Sets `computed` on this node and every node below it; returns its own.
    fn mark_computed(&mut self) -> bool {
        let mut computed = false;
        for (_, entry) in &mut self.children {
            computed |= match entry {
                Entry::Leaf(Leaf::Computed(_) | Leaf::ElemMatch(_)) => true,
                Entry::Leaf(_) => false,
                Entry::Node(node) => node.mark_computed(),
            };
        }
        self.computed = computed;
        computed
    }
}

// ---------------------------------------------------------------------------------
// Applying
// ---------------------------------------------------------------------------------

/// The whole input document, which expressions and `$elemMatch` read, and its text
/// score.
struct Root<'a> {
    doc: &'a Document,
    score: Option<f64>,
}

/// The inclusion projection of `doc` at `node`: kept fields in the document's order,
/// then computed fields in the specification's order. `root` is the whole input
/// document, which expressions and `$elemMatch` read.
fn include_doc(node: &Node, doc: &Document, root: &Root<'_>) -> Result<Document> {
    let mut out = Document::new();
    for (name, value) in doc {
        match node.get(name) {
            Some(Entry::Leaf(Leaf::Keep(true) | Leaf::Slice | Leaf::Positional)) => {
                out.insert(name.clone(), value.clone());
            }
            Some(Entry::Node(child)) => {
                if let Some(projected) = include_value(child, value, root)? {
                    out.insert(name.clone(), projected);
                }
            }
            _ => {}
        }
    }
    add_computed(node, &mut out, root)?;
    Ok(out)
}

/// The inclusion projection of a value below a dotted path: documents are projected,
/// arrays element by element, and other values dropped (or, when the path computes
/// fields, replaced by a document of them).
fn include_value(node: &Node, value: &Bson, root: &Root<'_>) -> Result<Option<Bson>> {
    Ok(match value {
        Bson::Document(doc) => Some(Bson::Document(include_doc(node, doc, root)?)),
        Bson::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.extend(include_value(node, item, root)?);
            }
            Some(Bson::Array(out))
        }
        _ if node.computed => {
            let mut out = Document::new();
            add_computed(node, &mut out, root)?;
            Some(Bson::Document(out))
        }
        _ => None,
    })
}

/// Adds the computed fields of `node` to `out`: expressions, `$elemMatch` results,
/// and documents of computed fields for paths `out` lacks.
fn add_computed(node: &Node, out: &mut Document, root: &Root<'_>) -> Result<()> {
    if !node.computed {
        return Ok(());
    }
    for (name, entry) in &node.children {
        match entry {
            Entry::Leaf(Leaf::Computed(expr)) => {
                // A missing value (`$$REMOVE`, an absent field) leaves the field out.
                if let Some(value) = expr.evaluate_scored(root.doc, root.score)? {
                    out.insert(name.clone(), value);
                }
            }
            Entry::Leaf(Leaf::ElemMatch(filter)) => {
                if let Some(element) = first_match(filter, name, root.doc) {
                    out.insert(name.clone(), Bson::Array(vec![element]));
                }
            }
            Entry::Node(child) if child.computed && !out.contains_key(name) => {
                let mut sub = Document::new();
                add_computed(child, &mut sub, root)?;
                out.insert(name.clone(), Bson::Document(sub));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The exclusion projection of `doc` at `node`: every field but the dropped ones.
fn exclude_doc(node: &Node, doc: Document) -> Document {
    let mut out = Document::new();
    for (name, value) in doc {
        match node.get(&name) {
            Some(Entry::Leaf(Leaf::Keep(false))) => {}
            Some(Entry::Node(child)) => {
                out.insert(name, exclude_value(child, value));
            }
            _ => {
                out.insert(name, value);
            }
        }
    }
    out
}

/// The exclusion projection of a value below a dotted path: documents are projected,
/// arrays element by element, other values kept as they are.
fn exclude_value(node: &Node, value: Bson) -> Bson {
    match value {
        Bson::Document(doc) => Bson::Document(exclude_doc(node, doc)),
        Bson::Array(items) => Bson::Array(items.into_iter().map(|item| exclude_value(node, item)).collect()),
        other => other,
    }
}

/// The first element of the array at top-level `field` that `filter` (`{field:
/// {$elemMatch: …}}`) accepts; `None` when there is none or the field is no array.
fn first_match(filter: &Filter, field: &str, doc: &Document) -> Option<Bson> {
    let Some(Bson::Array(items)) = doc.get(field) else { return None };
    items.iter().find(|item| filter.matches(&doc! { field: [(*item).clone()] })).cloned()
}

/// Slices the arrays at `path` in place, through documents and arrays of documents.
fn slice_at(doc: &mut Document, path: &[String], skip: Option<i32>, limit: i32) {
    let Some((field, rest)) = path.split_first() else { return };
    match doc.get_mut(field) {
        Some(Bson::Array(items)) if rest.is_empty() => slice_array(items, skip, limit),
        Some(Bson::Array(items)) => {
            for item in items {
                if let Bson::Document(sub) = item {
                    slice_at(sub, rest, skip, limit);
                }
            }
        }
        Some(Bson::Document(sub)) => slice_at(sub, rest, skip, limit),
        _ => {}
    }
}

/// Keeps the part of `items` that `$slice` selects: the first `limit` elements (the
/// last `-limit` when negative), or `limit` elements from `skip` (counted from the
/// end when negative).
fn slice_array(items: &mut Vec<Bson>, skip: Option<i32>, limit: i32) {
    let len = items.len() as i64;
    let (limit, skip) = (i64::from(limit), skip.map(i64::from));
    let (start, count) = match skip {
        None if limit < 0 => ((len + limit).max(0), len - (len + limit).max(0)),
        None => (0, limit.min(len)),
        Some(skip) => {
            let start = if skip < 0 { (len + skip).max(0) } else { skip.min(len) };
            (start, (len - start).min(limit))
        }
    };
    let (start, count) = (start as usize, count as usize);
    items.truncate(start + count);
    items.drain(..start);
}

/// The positional `.$`: the first array on `path` in the projected document becomes
/// a one-element array of its element at `position`. Paths without an array are
/// left alone.
fn narrow_to_position(doc: &mut Document, path: &[String], position: Option<usize>) -> Result<()> {
    let mut current = doc;
    for field in path {
        match current.get_mut(field) {
            Some(Bson::Array(items)) => {
                let index = position.ok_or_else(|| {
                    Error::command(
                        ErrorCode::Location51246,
                        "positional operator '.$' couldn't find a matching element in the array",
                    )
                })?;
                let element = items.get(index).cloned().ok_or_else(|| {
                    Error::command(ErrorCode::Location51247, "positional operator '.$' element mismatch")
                })?;
                *items = vec![element];
                return Ok(());
            }
            Some(Bson::Document(sub)) => current = sub,
            _ => return Ok(()),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------

/// What parsing has learned so far about the whole specification.
struct Parser<'v> {
    policy: Policy,
    /// The command's variables, which expressions may read.
    vars: &'v Variables,
    /// Inclusion or exclusion once a field decides it.
    inclusion: Option<bool>,
    id_specified: bool,
    id_included: bool,
    id_excluded: bool,
    has_positional: bool,
    has_elem_match: bool,
    has_find_slice: bool,
    steps: Vec<Step>,
    text_score: Vec<String>,
}

impl<'v> Parser<'v> {
    fn new(policy: Policy, vars: &'v Variables) -> Parser<'v> {
        Parser {
            policy,
            vars,
            inclusion: None,
            id_specified: false,
            id_included: false,
            id_excluded: false,
            has_positional: false,
            has_elem_match: false,
            has_find_slice: false,
            steps: Vec::new(),
            text_score: Vec::new(),
        }
    }

    fn parse(mut self, spec: &Document) -> Result<Projection> {
        let mut root = Node::default();
        for (name, value) in spec {
            self.id_specified |= name == "_id" || name.starts_with("_id.");
            self.element(name, value, &[], &mut root)?;
        }
        let inclusion = self.inclusion.unwrap_or_else(|| self.default_inclusion());
        if inclusion && !self.id_specified {
            root.children.push(("_id".to_owned(), Entry::Leaf(Leaf::Keep(true))));
        }
        if !inclusion && self.id_included {
            // `{_id: 1}` in an exclusion projection is allowed and changes nothing.
            root.children.retain(|(name, _)| name != "_id");
        }
        root.mark_computed();
        Ok(Projection { root, inclusion, steps: self.steps, text_score: self.text_score, text: None })
    }

    /// Inclusion or exclusion for a specification no field decided: only `_id`,
    /// `$slice` and `$elemMatch` fields.
    fn default_inclusion(&self) -> bool {
        if self.has_find_slice {
            self.id_included
        } else if self.has_elem_match {
            true
        } else {
            self.id_included && !self.id_excluded
        }
    }

    /// One field of a specification, at `parent` (whose path from the root is
    /// `prefix`).
    fn element(&mut self, name: &str, value: &Bson, prefix: &[String], parent: &mut Node) -> Result<()> {
        let positional = name.ends_with(".$");
        if positional && self.policy == Policy::Aggregation {
            return Err(Error::command(
                ErrorCode::Location31324,
                "Cannot use positional projection in aggregation projection",
            ));
        }
        if name.contains(".$.") {
            return Err(Error::command(
                ErrorCode::Location31394,
                "As of 4.4, it's illegal to specify positional operator in the middle of a path.Positional \
                 projection may only be used at the end, for example: a.b.$. If the query previously used a form \
                 like a.b.$.d, remove the parts following the '$' and the results will be equivalent.",
            ));
        }
        match value {
            Bson::Document(sub) => {
                if positional {
                    return Err(Error::command(
                        ErrorCode::Location31271,
                        "positional projection cannot be used with an expression or sub object",
                    ));
                }
                self.sub_object(name, sub, prefix, parent)
            }
            Bson::Boolean(_) | Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => {
                if crate::value::truthy(Some(value)) {
                    self.inclusion_field(name, prefix, parent)
                } else if positional {
                    Err(Error::command(ErrorCode::Location31395, "positional projection cannot be used with exclusion"))
                } else {
                    self.exclusion_field(name, prefix, parent)
                }
            }
            _ => {
                if positional {
                    return Err(Error::command(
                        ErrorCode::Location31308,
                        "positional projection cannot be used with a literal",
                    ));
                }
                self.literal(name, value, parent)
            }
        }
    }

    /// `name: 1`, or `name.$: 1`.
    fn inclusion_field(&mut self, name: &str, prefix: &[String], parent: &mut Node) -> Result<()> {
        let top_level_id = name == "_id" && prefix.is_empty();
        if let Some(path) = name.strip_suffix(".$") {
            if self.has_positional {
                return Err(Error::command(
                    ErrorCode::Location31276,
                    "Cannot specify more than one positional projection per query.",
                ));
            }
            if self.has_elem_match {
                return Err(Error::command(
                    ErrorCode::Location31256,
                    "Cannot specify positional operator and $elemMatch.",
                ));
            }
            if path.is_empty() {
                return Err(Error::command(
                    ErrorCode::Location5392900,
                    format!("Projection on field {name} is invalid"),
                ));
            }
            let path = field_path(path)?;
            add_leaf(parent, &path, Leaf::Positional)?;
            self.steps.push(Step::Positional { path: [prefix, &path[..]].concat() });
            self.has_positional = true;
        } else {
            add_leaf(parent, &field_path(name)?, Leaf::Keep(true))?;
            self.id_included |= top_level_id;
        }
        if !top_level_id {
            if self.inclusion == Some(false) {
                return Err(Error::command(
                    ErrorCode::Location31253,
                    format!("Cannot do inclusion on field {name} in exclusion projection"),
                ));
            }
            self.inclusion = Some(true);
        }
        Ok(())
    }

    /// `name: 0`.
    fn exclusion_field(&mut self, name: &str, prefix: &[String], parent: &mut Node) -> Result<()> {
        add_leaf(parent, &field_path(name)?, Leaf::Keep(false))?;
        if name == "_id" && prefix.is_empty() {
            self.id_excluded = true;
            return Ok(());
        }
        if self.inclusion == Some(true) {
            return Err(Error::command(
                ErrorCode::Location31254,
                format!("Cannot do exclusion on field {name} in inclusion projection"),
            ));
        }
        self.inclusion = Some(false);
        Ok(())
    }

    /// `name: "$field"`, `name: "text"`, `name: [..]`: a computed field.
    fn literal(&mut self, name: &str, value: &Bson, parent: &mut Node) -> Result<()> {
        let expr = Expr::parse(value, self.vars)?;
        add_leaf(parent, &field_path(name)?, Leaf::Computed(expr))?;
        if self.inclusion == Some(false) {
            return Err(Error::command(
                ErrorCode::Location31310,
                format!("Cannot use an expression {} in an exclusion projection", shell_element(name, value)),
            ));
        }
        self.inclusion = Some(true);
        Ok(())
    }

    /// `name: {…}`: an operator or expression, or a nested specification (`{a: {b:
    /// 1}}` is `{"a.b": 1}`).
    fn sub_object(&mut self, name: &str, sub: &Document, prefix: &[String], parent: &mut Node) -> Result<()> {
        if sub.is_empty() {
            return Err(Error::command(ErrorCode::Location51270, format!("Invalid empty sub-projection: {name}")));
        }
        let path = field_path(name)?;
        let operator_form = sub.len() == 1 && sub.keys().next().is_some_and(|key| key.starts_with('$'));
        if operator_form && self.operator(&path, sub, prefix, parent)? {
            return Ok(());
        }
        let node = inner_node(parent, &path)?;
        let prefix = [prefix, &path[..]].concat();
        for (name, value) in sub {
            self.element(name, value, &prefix, node)?;
        }
        Ok(())
    }

    /// `{$slice: …}`, `{$elemMatch: …}` or an expression at `path`; `false` when the
    /// key names no operator (a `$`-prefixed field name such as DBRef's `$id`).
    fn operator(&mut self, path: &[String], sub: &Document, prefix: &[String], parent: &mut Node) -> Result<bool> {
        let Some((key, argument)) = sub.iter().next() else { return Ok(false) };
        match (key.as_str(), self.policy) {
            ("$slice", Policy::Find) => self.find_slice(path, sub, argument, prefix, parent).map(|()| true),
            ("$elemMatch", Policy::Find) => self.elem_match(path, argument, prefix, parent).map(|()| true),
            ("$elemMatch", Policy::Aggregation) => {
                Err(Error::command(ErrorCode::InvalidPipelineOperator, "Cannot use $elemMatch in this context"))
            }
            ("$id" | "$ref" | "$db", _) => Ok(false),
            ("$meta", _) if argument.as_str() == Some("textScore") => {
                let full: Vec<&str> = prefix.iter().chain(path).map(String::as_str).collect();
                self.text_score.push(full.join("."));
                Ok(true)
            }
            ("$meta", _) => Err(refuse_meta(argument)),
            _ => self.expression(path, sub, parent).map(|()| true),
        }
    }

    /// A computed field given as an expression object.
    fn expression(&mut self, path: &[String], sub: &Document, parent: &mut Node) -> Result<()> {
        if self.inclusion == Some(false) {
            return Err(Error::command(
                ErrorCode::Location31252,
                "Cannot use expression other than $meta in exclusion projection",
            ));
        }
        self.inclusion.get_or_insert(true);
        let expr = Expr::parse(&Bson::Document(sub.clone()), self.vars).map_err(|e| unknown_expression(e, sub))?;
        add_leaf(parent, path, Leaf::Computed(expr))
    }

    /// find's `{$slice: n}` or `{$slice: [skip, limit]}`; anything else is the
    /// `$slice` expression, and when that fails too, both reasons are given.
    fn find_slice(
        &mut self,
        path: &[String],
        sub: &Document,
        argument: &Bson,
        prefix: &[String],
        parent: &mut Node,
    ) -> Result<()> {
        match slice_arguments(argument) {
            Ok((skip, limit)) => {
                add_leaf(parent, path, Leaf::Slice)?;
                self.steps.push(Step::Slice { path: [prefix, path].concat(), skip, limit });
                self.has_find_slice = true;
                Ok(())
            }
            Err(find_error) => self.expression(path, sub, parent).map_err(|e| {
                let because = format!("Location{}: {}", find_error.code().code(), message(&find_error));
                Error::command(
                    e.code(),
                    format!(
                        "Invalid $slice syntax. The given syntax {} did not match the find() syntax because :: \
                         {because} :: The given syntax did not match the expression $slice syntax. :: caused by \
                         :: {}",
                        shell_document(sub),
                        message(&e)
                    ),
                )
            }),
        }
    }

    /// find's `{$elemMatch: {…}}` on a top-level field.
    fn elem_match(&mut self, path: &[String], argument: &Bson, prefix: &[String], parent: &mut Node) -> Result<()> {
        if !matches!(argument, Bson::Document(_)) {
            return Err(Error::command(
                ErrorCode::Location31274,
                format!("elemMatch: Invalid argument, object required, but got {}", type_name(Some(argument))),
            ));
        }
        if self.has_positional {
            return Err(Error::command(ErrorCode::Location31255, "Cannot specify positional operator and $elemMatch."));
        }
        let [field] = path else {
            return Err(nested_elem_match());
        };
        if !prefix.is_empty() {
            return Err(nested_elem_match());
        }
        let filter = Filter::parse(&doc! { field.as_str(): { "$elemMatch": argument.clone() } }, &Variables::none())?;
        add_leaf(parent, path, Leaf::ElemMatch(filter))?;
        self.has_elem_match = true;
        Ok(())
    }
}

/// An expression parse error, as a projection reports it: an operator the
/// expression language does not know is an unknown expression (31325) here.
fn unknown_expression(error: Error, sub: &Document) -> Error {
    let Some(key) = sub.keys().next() else { return error };
    if error.code() == ErrorCode::InvalidPipelineOperator && message(&error).contains(&format!("'{key}'")) {
        return Error::command(ErrorCode::Location31325, format!("Unknown expression {key}"));
    }
    error
}

fn nested_elem_match() -> Error {
    Error::command(ErrorCode::Location31275, "Cannot use $elemMatch projection on a nested field.")
}

/// The `(skip, limit)` of find's `$slice`: a number, or `[skip, limit]` with a
/// positive limit.
fn slice_arguments(argument: &Bson) -> Result<(Option<i32>, i32)> {
    if let Some(limit) = number_as_i32(argument) {
        return Ok((None, limit));
    }
    let Bson::Array(items) = argument else {
        return Err(Error::command(ErrorCode::Location31273, "$slice only supports numbers and [skip, limit] arrays"));
    };
    let [skip, limit] = items.as_slice() else {
        return Err(Error::command(ErrorCode::Location31272, "$slice array argument should be of form [skip, limit]"));
    };
    let skip = number_as_i32(skip).ok_or_else(|| {
        Error::command(
            ErrorCode::Location31257,
            format!("$slice expects the skip argument to be a number, got {}", type_name(Some(skip))),
        )
    })?;
    let limit = number_as_i32(limit).ok_or_else(|| {
        Error::command(
            ErrorCode::Location31258,
            format!("$slice expects the limit argument to be a number, got {}", type_name(Some(limit))),
        )
    })?;
    if limit <= 0 {
        return Err(Error::command(ErrorCode::Location31259, format!("$slice limit must be positive, got {limit}")));
    }
    Ok((Some(skip), limit))
}

/// A number as MongoDB's `safeNumberInt`: truncated, clamped to the `i32` range,
/// NaN as 0; `None` for other types.
fn number_as_i32(value: &Bson) -> Option<i32> {
    let clamp = |n: f64| if n.is_nan() { 0 } else { n.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32 };
    match value {
        Bson::Int32(n) => Some(*n),
        Bson::Int64(n) => Some((*n).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32),
        Bson::Double(n) => Some(clamp(*n)),
        Bson::Decimal128(d) => Some(clamp(d.to_string().parse().unwrap_or(f64::NAN))),
        _ => None,
    }
}

/// `{$meta: …}` other than `textScore` is refused: branchdb keeps no index keys
/// or record ids.
fn refuse_meta(argument: &Bson) -> Error {
    match argument {
        Bson::String(name) if META_NAMES.contains(&name.as_str()) => {
            Error::bad_value(format!("$meta projection of \"{name}\" is not supported"))
        }
        Bson::String(name) => {
            Error::command(ErrorCode::Location17308, format!("Unsupported argument to $meta: {name}"))
        }
        _ => Error::command(ErrorCode::Location17307, "$meta only supports string arguments"),
    }
}

/// The metadata `$meta` knows in MongoDB 7.0.
const META_NAMES: &[&str] = &[
    "textScore",
    "randVal",
    "searchScore",
    "searchHighlights",
    "geoNearDistance",
    "geoNearPoint",
    "recordId",
    "indexKey",
    "sortKey",
    "searchScoreDetails",
    "searchSequenceToken",
    "vectorSearchScore",
];

/// The components of a field path, validated as MongoDB's `FieldPath` does.
pub(super) fn field_path(path: &str) -> Result<Vec<String>> {
    if path.is_empty() {
        return Err(Error::command(ErrorCode::Location40352, "FieldPath cannot be constructed with empty string"));
    }
    if path.ends_with('.') {
        return Err(Error::command(ErrorCode::Location40353, "FieldPath must not end with a '.'."));
    }
    path.split('.')
        .map(|field| {
            if field.is_empty() {
                Err(Error::command(ErrorCode::Location15998, "FieldPath field names may not be empty strings."))
            } else if field.starts_with('$') && !matches!(field, "$id" | "$ref" | "$db") {
                Err(Error::command(
                    ErrorCode::Location16410,
                    "FieldPath field names may not start with '$'. Consider using $getField or $setField.",
                ))
            } else if field.contains('\0') {
                Err(Error::command(ErrorCode::Location16411, "FieldPath field names may not contain '\0'."))
            } else {
                Ok(field.to_owned())
            }
        })
        .collect()
}

/// Adds `leaf` at `path` below `node`; a path already named, or one running through
/// a named leaf, is a collision.
fn add_leaf(node: &mut Node, path: &[String], leaf: Leaf) -> Result<()> {
    add_entry(node, path, path, Entry::Leaf(leaf))
}

/// Adds `entry` at `rest` (the end of `path`) below `node`, creating inner nodes.
fn add_entry(node: &mut Node, path: &[String], rest: &[String], entry: Entry) -> Result<()> {
    let Some((field, below)) = rest.split_first() else { return Ok(()) };
    let existing = node.children.iter().position(|(name, _)| name == field);
    if below.is_empty() {
        if existing.is_some() {
            return Err(Error::command(ErrorCode::Location31250, format!("Path collision at {}", path.join("."))));
        }
        node.children.push((field.clone(), entry));
        return Ok(());
    }
    let index = match existing {
        Some(index) => index,
        None => {
            node.children.push((field.clone(), Entry::Node(Node::default())));
            node.children.len() - 1
        }
    };
    match &mut node.children[index].1 {
        Entry::Node(child) => add_entry(child, path, below, entry),
        Entry::Leaf(_) => Err(Error::command(
            ErrorCode::Location31249,
            format!("Path collision at {} remaining portion {}", path.join("."), path[1..].join(".")),
        )),
    }
}

/// The inner node at `path` below `node` for a nested specification: the existing
/// one, or a new one.
fn inner_node<'n>(node: &'n mut Node, path: &[String]) -> Result<&'n mut Node> {
    let exists = lookup_node(node, path).is_some();
    if !exists {
        add_entry(node, path, path, Entry::Node(Node::default()))?;
    }
    let mut current = node;
    for field in path {
        let entry = current.children.iter_mut().find(|(name, _)| name == field).map(|(_, entry)| entry);
        match entry {
            Some(Entry::Node(child)) => current = child,
            _ => return Err(Error::command(ErrorCode::Location31250, format!("Path collision at {}", path.join(".")))),
        }
    }
    Ok(current)
}

/// The inner node at `path` below `node`, if there is one.
fn lookup_node<'n>(node: &'n Node, path: &[String]) -> Option<&'n Node> {
    path.iter().try_fold(node, |current, field| match current.get(field) {
        Some(Entry::Node(child)) => Some(child),
        _ => None,
    })
}

/// An error's message alone.
fn message(error: &Error) -> String {
    match error {
        Error::Command { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// A field as MongoDB prints one in messages: `name: value`.
pub(super) fn shell_element(name: &str, value: &Bson) -> String {
    format!("{name}: {}", shell_value(value))
}

/// A document as MongoDB prints one in messages: `{ a: 1, b: "x" }`.
fn shell_document(doc: &Document) -> String {
    if doc.is_empty() {
        return "{}".to_owned();
    }
    let fields: Vec<String> = doc.iter().map(|(name, value)| shell_element(name, value)).collect();
    format!("{{ {} }}", fields.join(", "))
}

/// A value as MongoDB prints one in messages.
fn shell_value(value: &Bson) -> String {
    match value {
        Bson::String(s) => format!("{s:?}"),
        Bson::Double(n) if n.fract() == 0.0 && n.is_finite() => format!("{n:.1}"),
        Bson::Document(doc) => shell_document(doc),
        Bson::Array(items) if items.is_empty() => "[]".to_owned(),
        Bson::Array(items) => {
            let items: Vec<String> = items.iter().map(shell_value).collect();
            format!("[ {} ]", items.join(", "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use bson::{doc, Bson, Document};

    use super::*;
    use crate::query::golden;

    /// Whether the helpers a case relies on exist yet: aggregation expressions, and
    /// the filter's `$elemMatch`. Cases that need a missing one are counted and
    /// skipped until it lands; then they run like the rest.
    fn available(need: &str) -> bool {
        match need {
            "expr" => Expr::parse(&Bson::String("$a".into()), &Variables::none())
                .and_then(|e| e.evaluate(&doc! {"a": 1}))
                .is_ok_and(|v| v == Bson::Int32(1)),
            "elemMatch" => Filter::parse(&doc! {"a": {"$elemMatch": {"$gt": 1}}}, &Variables::none())
                .is_ok_and(|f| f.matches(&doc! {"a": [0, 2]}) && !f.matches(&doc! {"a": [0, 1]})),
            other => panic!("unknown need {other}"),
        }
    }

    /// Runs one case: its projection over its input(s), checking the documents (with
    /// `==`: field order and numeric types count) or the error code and message.
    fn run_case(group: &Document, case: &Document) -> std::result::Result<(), String> {
        let spec = case.get_document("projection").map_err(|e| format!("no projection: {e}"))?;
        let aggregation = group.get_bool("aggregation").unwrap_or(false);
        let (inputs, expected): (Vec<Document>, Option<Vec<Bson>>) = match case.get_document("input") {
            Ok(input) => (vec![input.clone()], case.get("expected").map(|e| vec![e.clone()])),
            Err(_) => {
                let docs = group.get_array("docs").map_err(|_| "no input and no group docs".to_owned())?;
                let docs = docs.iter().filter_map(|d| d.as_document().cloned()).collect();
                (docs, case.get_array("expected").ok().cloned())
            }
        };
        let position = |i: usize| -> Option<usize> {
            if let Ok(positions) = case.get_array("positions") {
                return positions.get(i).and_then(Bson::as_i32).map(|p| p as usize);
            }
            case.get_i32("position").ok().map(|p| p as usize)
        };
        let result: Result<Vec<Document>> = (|| {
            let none = Variables::none();
            let projection = if aggregation {
                Some(Projection::parse_aggregation(spec, &none)?)
            } else {
                Projection::parse(spec, &none)?
            };
            let mut out = Vec::new();
            for (i, input) in inputs.iter().enumerate() {
                out.push(match &projection {
                    Some(p) => p.apply(input.clone(), position(i))?,
                    None => input.clone(),
                });
            }
            Ok(out)
        })();
        match (result, case.get_i32("error")) {
            (Ok(got), Err(_)) => {
                let got: Vec<Bson> = got.into_iter().map(Bson::Document).collect();
                let expected = expected.ok_or("no expected documents")?;
                if got == expected {
                    Ok(())
                } else {
                    Err(format!("got {got:?}\n      expected {expected:?}"))
                }
            }
            (Ok(got), Ok(code)) => Err(format!("expected error {code}, got {got:?}")),
            (Err(e), Ok(code)) => {
                if e.code().code() != code {
                    return Err(format!("expected error {code}, got {e}"));
                }
                match case.get_str("message") {
                    Ok(msg) if msg != message(&e) => Err(format!("expected message {msg:?}, got {:?}", message(&e))),
                    _ => Ok(()),
                }
            }
            (Err(e), Err(_)) => Err(format!("unexpected error {e}")),
        }
    }

    #[test]
    fn golden_projections() {
        let groups = golden::load(include_str!("golden/projections.json"));
        let (mut total, mut skipped, mut failures) = (0, 0, Vec::new());
        for group in &groups {
            let cases = group.body.get_array("cases").expect("cases");
            for (index, case) in cases.iter().enumerate() {
                total += 1;
                let case = case.as_document().expect("a case is an object");
                let need = case.get_str("needs").or_else(|_| group.body.get_str("needs")).ok();
                if need.is_some_and(|n| !available(n)) {
                    skipped += 1;
                    continue;
                }
                if let Err(why) = run_case(&group.body, case) {
                    let spec = case.get_document("projection").map_or(String::new(), |p| p.to_string());
                    failures.push(format!("{} ({}) #{index} {spec}: {why}", group.name, group.doc));
                }
            }
        }
        if skipped > 0 {
            eprintln!("golden projections: {skipped} of {total} cases wait for expressions or $elemMatch");
        }
        assert!(failures.is_empty(), "{} golden projection failures:\n{}", failures.len(), failures.join("\n"));
        assert_eq!(total, 107, "the number of golden projection cases");
    }

    #[test]
    fn projections_apply_per_batch_without_reparsing() {
        let p = Projection::parse(&doc! {"a.b": 1, "_id": 0}, &Variables::none()).expect("parse").expect("some");
        assert!(!p.needs_position());
        assert_eq!(p.apply(doc! {"a": [{"b": 1, "c": 2}, 3]}, None).expect("apply"), doc! {"a": [{"b": 1}]});
        let p = Projection::parse(&doc! {"a.$": 1}, &Variables::none()).expect("parse").expect("some");
        assert!(p.needs_position());
    }
}
