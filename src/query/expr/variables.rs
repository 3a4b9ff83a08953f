//! A command's variables: the `let` option of `find`, `aggregate`, `update`,
//! `delete` and `findAndModify`, and the constants `c` of a pipeline-style update
//! statement. Every expression of the command reads them as `$$name`.
//!
//! Like MongoDB's, the values are computed once, before the command looks at any
//! document: a `let` expression may use `$$NOW`, `$rand` or an earlier `let`
//! variable, but no field of a document. Being constants, they are resolved when
//! an expression is parsed (see [`Variables::get`]).

use bson::{Bson, Document};

use super::{check_variable_name, Expr, Parser};
use crate::error::{Error, ErrorCode, Result};

/// Variables with constant values; the default has none.
#[derive(Debug, Clone, Default)]
pub struct Variables {
    /// Name and value (`None` for missing, as `$$REMOVE` gives), in definition
    /// order; a later definition of a name shadows an earlier one.
    defined: Vec<(String, Option<Bson>)>,
}

/// The system variables only MongoDB's own components may set through `let`.
const INTERNAL_CONSTANTS: &[&str] = &["NOW", "CLUSTER_TIME", "JS_SCOPE", "IS_MR", "USER_ROLES"];

impl Variables {
    /// No variables: what commands without `let` and internal filters parse with.
    pub fn none() -> Variables {
        Variables::default()
    }

    /// The variables of a command's `let` document: each value is an expression
    /// evaluated once, which may read the variables defined before it but no
    /// document field.
    pub fn from_let(spec: &Document) -> Result<Variables> {
        let mut vars = Variables::none();
        for (name, value) in spec {
            check_let_name(name)?;
            let value = evaluate_constant(value, &vars)?;
            vars.defined.push((name.clone(), value));
        }
        Ok(vars)
    }

    /// These variables and the constants `c` of an update statement (values taken
    /// as they are, not as expressions), which shadow `let` variables of the same
    /// name.
    pub fn with_constants(&self, constants: &Document) -> Result<Variables> {
        let mut vars = self.clone();
        for (name, value) in constants {
            check_variable_name(name)?;
            vars.defined.push((name.clone(), Some(value.clone())));
        }
        Ok(vars)
    }

    /// These variables and `values`, already evaluated (`None` for missing), which
    /// shadow those of the same name: the `let` of `$merge`, evaluated against each
    /// result before its `whenMatched` pipeline is parsed. Names are checked by the
    /// caller.
    pub fn with_values(&self, values: Vec<(String, Option<Bson>)>) -> Variables {
        let mut vars = self.clone();
        vars.defined.extend(values);
        vars
    }

    /// The value of the variable `name`: `None` when it is not defined here,
    /// `Some(None)` when it is defined as missing.
    pub(super) fn get(&self, name: &str) -> Option<Option<&Bson>> {
        self.defined.iter().rev().find(|(defined, _)| defined == name).map(|(_, value)| value.as_ref())
    }
}

/// Refuses a `let` variable name as MongoDB does: a user variable name, or one of
/// the system constants only MongoDB's own components may set.
fn check_let_name(name: &str) -> Result<()> {
    if INTERNAL_CONSTANTS.contains(&name) {
        let message = format!("Attempt to set internal constant: {name}");
        return Err(Error::command(ErrorCode::Location4738901, message));
    }
    check_variable_name(name).map_err(|e| e.caused_by("Invalid 'let' parameter"))
}

/// The value of a `let` expression, evaluated against no document.
fn evaluate_constant(spec: &Bson, vars: &Variables) -> Result<Option<Bson>> {
    let mut parser = Parser::new(vars);
    let node = parser.operand(spec)?;
    if parser.reads_document {
        return Err(Error::command(
            ErrorCode::Location4890500,
            // MongoDB's message, with its missing space.
            "Command let Expression tried to access a field, but this is not allowed becauseCommand let Expressions \
             run before the query examines any documents.",
        ));
    }
    Expr { node, slots: parser.slots, text_score: false }.evaluate_optional(&Document::new())
}

#[cfg(test)]
mod tests {
    use bson::{bson, doc, Bson, Document};

    use super::Variables;
    use crate::error::Error;
    use crate::query::expr::Expr;
    use crate::query::pipeline::{NoCollections, Pipeline};
    use crate::query::{Filter, Update};

    /// The variables of a `let` document, which must be valid.
    fn vars(spec: Document) -> Variables {
        Variables::from_let(&spec).expect("valid let")
    }

    /// `expr` evaluated against `root` with `vars`.
    fn eval(expr: Bson, vars: &Variables, root: &Document) -> Option<Bson> {
        Expr::parse(&expr, vars).and_then(|e| e.evaluate_optional(root)).expect("evaluates")
    }

    /// The code and message of a refused `let` document.
    fn refused(spec: Document) -> (i32, String) {
        match Variables::from_let(&spec) {
            Err(Error::Command { code, message, .. }) => (code.code(), message),
            other => panic!("expected a command error, got {other:?}"),
        }
    }

    #[test]
    fn let_values_are_constants_every_expression_reads() {
        let vars = vars(doc! {"id": 1, "x": "foo", "y": {"$literal": "$bar"}, "d": {"a": {"b": 2}}});
        let root = doc! {"_id": 1, "a": 5};
        assert_eq!(eval(bson!("$$x"), &vars, &root), Some(bson!("foo")));
        assert_eq!(eval(bson!("$$y"), &vars, &root), Some(bson!("$bar")), "a $literal stays a string");
        assert_eq!(eval(bson!("$$d.a.b"), &vars, &root), Some(bson!(2)), "paths run into a variable");
        assert_eq!(eval(bson!("$$d.nope"), &vars, &root), None);
        assert_eq!(eval(bson!({"$eq": ["$_id", "$$id"]}), &vars, &root), Some(bson!(true)));
        let shadowed = bson!({"$let": {"vars": {"x": "$a"}, "in": "$$x"}});
        assert_eq!(eval(shadowed, &vars, &root), Some(bson!(5)), "a $let variable shadows the command's");
        let err = Expr::parse(&bson!("$$nope"), &vars).expect_err("undefined");
        assert_eq!(err.code().code(), 17276);
        assert!(Expr::parse(&bson!("$$x"), &Variables::none()).is_err(), "no variables without let");
    }

    #[test]
    fn let_expressions_are_evaluated_once_in_order() {
        let vars = vars(doc! {
            "a": {"$add": [1, 2]},
            "b": {"$multiply": ["$$a", 2]},
            "gone": "$$REMOVE",
            "now": "$$NOW",
            "rand": {"$rand": {}},
        });
        let root = Document::new();
        assert_eq!(eval(bson!("$$b"), &vars, &root), Some(bson!(6)), "a later variable reads an earlier one");
        assert_eq!(eval(bson!("$$gone"), &vars, &root), None);
        assert!(matches!(eval(bson!("$$now"), &vars, &root), Some(Bson::DateTime(_))));
        let first = eval(bson!("$$rand"), &vars, &root);
        assert!(matches!(first, Some(Bson::Double(r)) if (0.0..1.0).contains(&r)));
        assert_eq!(eval(bson!("$$rand"), &vars, &root), first, "drawn once, when the command starts");
        assert_eq!(refused(doc! {"b": "$$a", "a": 1}).0, 17276, "only earlier variables are defined");
    }

    #[test]
    fn let_expressions_may_not_read_documents() {
        let message = "Command let Expression tried to access a field, but this is not allowed becauseCommand let \
                       Expressions run before the query examines any documents.";
        for spec in [doc! {"x": "$a"}, doc! {"x": "$$ROOT"}, doc! {"x": {"$getField": "a"}}] {
            assert_eq!(refused(spec), (4890500, message.to_owned()));
        }
    }

    #[test]
    fn let_names_are_checked_as_mongodb_does() {
        assert_eq!(
            refused(doc! {"Id": 1}),
            (9, "Invalid 'let' parameter :: caused by :: 'Id' starts with an invalid character for a user variable name".to_owned())
        );
        assert_eq!(
            refused(doc! {"a-b": 1}),
            (
                9,
                "Invalid 'let' parameter :: caused by :: 'a-b' contains an invalid character for a variable name: '-'"
                    .to_owned()
            )
        );
        assert_eq!(refused(doc! {"NOW": 1}), (4738901, "Attempt to set internal constant: NOW".to_owned()));
        assert_eq!(refused(doc! {"ROOT": 1}).0, 9);
    }

    #[test]
    fn filters_pipelines_and_updates_read_the_variables() {
        let vars = vars(doc! {"id": 2, "x": "foo"});
        let filter = Filter::parse(&doc! {"$expr": {"$eq": ["$_id", "$$id"]}}, &vars).expect("filter");
        assert!(filter.matches(&doc! {"_id": 2}) && !filter.matches(&doc! {"_id": 1}));
        let stages =
            [bson!({"$match": {"$expr": {"$eq": ["$_id", "$$id"]}}}), bson!({"$project": {"_id": 0, "x": "$$x"}})];
        let pipeline = Pipeline::parse(&stages, &vars).expect("pipeline");
        let out = pipeline.run([doc! {"_id": 1}, doc! {"_id": 2}].into_iter().map(Ok), &NoCollections).expect("runs");
        assert_eq!(out, vec![doc! {"x": "foo"}]);
        let update = Update::parse(&bson!([{"$set": {"y": "$$x"}}]), &[], &vars).expect("update");
        let ctx = crate::query::update::Context::new(false, None);
        assert_eq!(update.apply(&doc! {"_id": 1}, &ctx).expect("applies"), doc! {"_id": 1, "y": "foo"});
    }

    #[test]
    fn update_constants_shadow_let_variables() {
        let vars = vars(doc! {"x": "let", "y": "let"}).with_constants(&doc! {"x": "c"}).expect("constants");
        let root = Document::new();
        assert_eq!(eval(bson!(["$$x", "$$y"]), &vars, &root), Some(bson!(["c", "let"])));
        let constants = Variables::none().with_constants(&doc! {"a": "$b"}).expect("constants");
        assert_eq!(eval(bson!("$$a"), &constants, &root), Some(bson!("$b")), "constants are values, not expressions");
        assert!(Variables::none().with_constants(&doc! {"A": 1}).is_err());
    }
}
