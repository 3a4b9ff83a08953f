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
    Expr { node, slots: parser.slots }.evaluate_optional(&Document::new())
}
