//! Operators on a value's BSON form: `$binarySize`, `$bsonSize`, the parts of a
//! timestamp (`$tsSecond`, `$tsIncrement`) and `$toHashedIndexKey`.

use std::borrow::Cow;

use bson::Bson;

use super::logic::special;
use super::{fail, int, nullish, type_name, Arity, Ctx, Node, Operator, Parser, Special, Val};
use crate::error::{ErrorCode, Result};
use crate::value::size::document_size;

pub(super) const OPERATORS: &[Operator] = &[
    Operator::eager("$binarySize", Arity::Exactly(1), binary_size),
    Operator::eager("$bsonSize", Arity::Exactly(1), bson_size),
    Operator::eager("$tsSecond", Arity::Exactly(1), |a| timestamp_part("$tsSecond", a[0], ErrorCode::Location5687301)),
    Operator::eager("$tsIncrement", Arity::Exactly(1), |a| {
        timestamp_part("$tsIncrement", a[0], ErrorCode::Location5687302)
    }),
    Operator::special("$toHashedIndexKey", HashedKey::parse),
];

/// `$binarySize`: a string's UTF-8 bytes or a binary's length.
fn binary_size(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    match args[0] {
        Some(Bson::String(s)) => Ok(Some(int(s.len()))),
        Some(Bson::Binary(binary)) => Ok(Some(int(binary.bytes.len()))),
        other if nullish(other) => Ok(Some(Bson::Null)),
        other => fail(
            ErrorCode::Location51276,
            format!("$binarySize requires a string or BinData argument, found: {}", type_name(other)),
        ),
    }
}

/// `$bsonSize`: the size of a document as BSON.
fn bson_size(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    match args[0] {
        Some(Bson::Document(doc)) => Ok(Some(int(document_size(doc)))),
        other if nullish(other) => Ok(Some(Bson::Null)),
        other => {
            fail(ErrorCode::Location31393, format!("$bsonSize requires a document input, found: {}", type_name(other)))
        }
    }
}

/// `$tsSecond` and `$tsIncrement`, as longs. MongoDB's message opens with a space.
fn timestamp_part(name: &str, arg: Option<&Bson>, code: ErrorCode) -> Result<Option<Bson>> {
    match arg {
        Some(Bson::Timestamp(ts)) => {
            let part = if name == "$tsSecond" { ts.time } else { ts.increment };
            Ok(Some(Bson::Int64(i64::from(part))))
        }
        other if nullish(other) => Ok(Some(Bson::Null)),
        other => fail(code, format!(" Argument to {name} must be a timestamp, but is {}", type_name(other))),
    }
}

/// `$toHashedIndexKey: <expression>`: the hashed index key of a value. Its
/// argument is one expression, an array literal included.
#[derive(Debug)]
struct HashedKey(Node);

impl HashedKey {
    fn parse(p: &mut Parser, spec: &Bson) -> Result<Node> {
        Ok(special(HashedKey(p.operand(spec)?)))
    }
}

impl Special for HashedKey {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        let value = ctx.eval(&self.0)?;
        Ok(Some(Cow::Owned(Bson::Int64(crate::index::hash(value.as_deref().unwrap_or(&Bson::Null))))))
    }
}
