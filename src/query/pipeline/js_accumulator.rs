//! `$accumulator`: a group's state kept by JavaScript functions (`src/js`). `init`
//! starts each group with `initArgs` (evaluated against the group key),
//! `accumulate` takes the state and each document's `accumulateArgs`, `merge`
//! joins two states (a spilled run's into the group's), and `finalize` (when
//! given) makes the result. The state crosses into BSON between calls, as in
//! MongoDB: prototypes are lost, numbers become doubles.

use std::sync::Arc;

use bson::{Bson, Document};

use super::accumulator::Accumulator;
use crate::error::{Error, ErrorCode, Result};
use crate::js::Scope;
use crate::query::expr::{Expr, Variables};
use crate::value::type_name;

#[derive(Debug)]
pub(crate) struct JsAccumulator {
    init: String,
    init_args: Option<Expr>,
    accumulate: String,
    merge: String,
    finalize: Option<String>,
    scope: Arc<Scope>,
}

impl JsAccumulator {
    /// `{$accumulator: {init, initArgs, accumulate, accumulateArgs, merge,
    /// finalize, lang}}`, checked in MongoDB's order: the accumulator, and its
    /// input (`accumulateArgs`).
    pub(super) fn parse(spec: &Bson, vars: &Variables) -> Result<(Accumulator, Expr)> {
        let Bson::Document(spec) = spec else {
            return Err(Error::command(
                ErrorCode::Location4544703,
                format!("$accumulator expects an object as an argument; found: {}", type_name(Some(spec))),
            ));
        };
        let (mut init, mut init_args, mut accumulate, mut accumulate_args, mut merge, mut finalize) =
            (None, None, None, None, None, None);
        for (name, value) in spec {
            match name.as_str() {
                "init" => init = Some(function(name, value, vars)?),
                "initArgs" => init_args = Some(Expr::parse(value, vars)?),
                "accumulate" => accumulate = Some(function(name, value, vars)?),
                "accumulateArgs" => accumulate_args = Some(Expr::parse(value, vars)?),
                "merge" => merge = Some(function(name, value, vars)?),
                "finalize" => finalize = Some(function(name, value, vars)?),
                "lang" => match value {
                    Bson::String(lang) if lang == "js" => {}
                    Bson::String(_) => {
                        return Err(Error::command(ErrorCode::Location4544705, "$accumulator only supports lang: 'js'"))
                    }
                    other => {
                        return Err(Error::command(
                            ErrorCode::Location4544704,
                            format!("$accumulator lang must be a string; found: {}", type_name(Some(other))),
                        ))
                    }
                },
                other => {
                    return Err(Error::command(
                        ErrorCode::Location4544706,
                        format!("$accumulator got an unexpected field: {other}"),
                    ))
                }
            }
        }
        let missing =
            |code, name: &str| Error::command(code, format!("$accumulator missing required argument '{name}'"));
        let init = init.ok_or_else(|| missing(ErrorCode::Location4544707, "init"))?;
        let accumulate = accumulate.ok_or_else(|| missing(ErrorCode::Location4544708, "accumulate"))?;
        let merge = merge.ok_or_else(|| missing(ErrorCode::Location4544709, "merge"))?;
        let accumulate_args = accumulate_args.ok_or_else(|| missing(ErrorCode::Location4544710, "accumulateArgs"))?;
        let js = JsAccumulator { init, init_args, accumulate, merge, finalize, scope: Scope::new() };
        Ok((Accumulator::Js(Arc::new(js)), accumulate_args))
    }

    /// A new group's state: `init(...initArgs)`, `initArgs` read against `key`
    /// (the group key when it is a document, else an empty document).
    pub(super) fn init(&self, key: &Document) -> Result<Bson> {
        let args = match &self.init_args {
            None => Vec::new(),
            Some(expr) => match expr.evaluate(key)? {
                Bson::Array(args) => args,
                other => {
                    return Err(Error::command(
                        ErrorCode::Location4544711,
                        format!("$accumulator initArgs must evaluate to an array: {other}"),
                    ))
                }
            },
        };
        self.call(&self.init, args)
    }

    /// The state after one document: `accumulate(state, ...accumulateArgs)`.
    pub(super) fn accumulate(&self, state: &Bson, args: Option<Bson>) -> Result<Bson> {
        let args = match args {
            Some(Bson::Array(args)) => args,
            other => {
                return Err(Error::command(
                    ErrorCode::Location4544712,
                    format!("$accumulator accumulateArgs must evaluate to an array: {}", other.unwrap_or(Bson::Null)),
                ))
            }
        };
        let mut call = Vec::with_capacity(args.len() + 1);
        call.push(state.clone());
        call.extend(args);
        self.call(&self.accumulate, call)
    }

    /// Two states joined: `merge(state, other)`.
    pub(super) fn merge(&self, state: &Bson, other: Bson) -> Result<Bson> {
        self.call(&self.merge, vec![state.clone(), other])
    }

    /// The group's result: `finalize(state)`, or the state without `finalize`.
    pub(super) fn finalize(&self, state: Bson) -> Result<Bson> {
        match &self.finalize {
            Some(finalize) => self.call(finalize, vec![state]),
            None => Ok(state),
        }
    }

    fn call(&self, source: &str, args: Vec<Bson>) -> Result<Bson> {
        Ok(self.scope.call(source, None, &args)?.unwrap_or(Bson::Undefined))
    }
}

/// A function field: a constant string or code (MongoDB's 4544701 and 4544702).
fn function(name: &str, value: &Bson, vars: &Variables) -> Result<String> {
    let expr = Expr::parse(value, vars)?;
    match expr.constant() {
        Some(Bson::String(source) | Bson::JavaScriptCode(source)) => Ok(source.clone()),
        Some(_) => {
            Err(Error::command(ErrorCode::Location4544702, format!("$accumulator '{name}' must be a String or Code")))
        }
        None => Err(Error::command(
            ErrorCode::Location4544701,
            format!("$accumulator '{name}' must be a constant expression"),
        )),
    }
}
