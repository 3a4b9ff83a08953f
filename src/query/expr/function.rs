//! `$function`: a JavaScript function (`src/js`) called with evaluated arguments.
//! Its body is a constant compiled on first call, in the scope of the expression
//! (so of the command); `this` is an empty object.

use std::sync::Arc;

use bson::Bson;

use super::logic::special;
use super::{type_name, Ctx, Node, Operator, Parser, Special, Val};
use crate::error::{Error, ErrorCode, Result};
use crate::js::Scope;

pub(super) const OPERATORS: &[Operator] = &[Operator::special("$function", Function::parse)];

#[derive(Debug)]
struct Function {
    body: String,
    args: Node,
    scope: Arc<Scope>,
}

impl Function {
    /// `{$function: {body, args, lang: "js"}}`, checked in MongoDB's order; other
    /// fields are ignored, as MongoDB ignores them.
    fn parse(p: &mut Parser, spec: &Bson) -> Result<Node> {
        let Bson::Document(spec) = spec else {
            return Err(Error::command(
                ErrorCode::Location31260,
                format!("$function requires an object as an argument, found: {}", type_name(Some(spec))),
            ));
        };
        let body = spec
            .get("body")
            .ok_or_else(|| Error::command(ErrorCode::Location31261, "The body function must be specified."))?;
        let body = match p.operand(body)? {
            Node::Const(Bson::String(source) | Bson::JavaScriptCode(source)) => source,
            Node::Const(_) => {
                return Err(Error::command(
                    ErrorCode::Location31262,
                    "The body function must evaluate to type string or code",
                ))
            }
            _ => {
                return Err(Error::command(ErrorCode::Location31432, "The body function must be a constant expression"))
            }
        };
        let args = spec
            .get("args")
            .ok_or_else(|| Error::command(ErrorCode::Location31263, "The args field must be specified."))?;
        let args = p.operand(args)?;
        match spec.get("lang") {
            None => return Err(Error::command(ErrorCode::Location31418, "The lang field must be specified.")),
            Some(Bson::String(lang)) if lang == "js" => {}
            Some(_) => {
                return Err(Error::command(
                    ErrorCode::Location31419,
                    "Currently the only supported language specifier is 'js'.",
                ))
            }
        }
        Ok(special(Function { body, args, scope: Scope::new() }))
    }
}

impl Special for Function {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        let args = ctx.eval(&self.args)?;
        let Some(Bson::Array(args)) = args.as_deref() else {
            return Err(Error::command(ErrorCode::Location31266, "The args field must be of type array"));
        };
        let returned = self.scope.call(&self.body, None, args)?;
        Ok(Some(std::borrow::Cow::Owned(returned.unwrap_or(Bson::Undefined))))
    }
}
