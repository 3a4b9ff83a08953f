//! The leaves of the update tree: what one operator does to the value at its path,
//! when the value exists (`update`) and when it does not (`create`).

use std::cmp::Ordering;

use bson::{Bson, Timestamp};

use super::arith::{self, BitOp, Op};
use super::array::{self, Condition, Push};
use super::show::{element, show};
use super::tree::Apply;
use crate::error::{Error, ErrorCode, Result};
use crate::value::order;
use crate::value::type_name;

/// One operator applied to one path.
#[derive(Debug, Clone)]
pub enum Modifier {
    Set(Bson),
    /// A `$set` done only when an upsert inserts.
    SetOnInsert(Bson),
    Unset,
    Arithmetic(Op, Bson),
    /// `$min` (`Ordering::Less`: the new value replaces a greater one) or `$max`.
    Compare(Ordering, Bson),
    CurrentDate {
        timestamp: bool,
    },
    /// The destination of the `$rename` with this index: it takes the source's value.
    Rename(usize),
    /// The source of the `$rename` with this index: removed when the rename happens.
    RenameSource(usize),
    Push(Push),
    AddToSet(Vec<Bson>),
    Pop {
        first: bool,
    },
    Pull(Condition),
    PullAll(Vec<Bson>),
    Bit(Vec<(BitOp, Bson)>),
}

/// What happens to an existing value after its modifier ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Keep,
    /// The field is removed (an array element becomes `null`).
    Remove,
}

impl Modifier {
    /// The modifier of operator `op` with its argument; `None` for an unknown operator.
    /// `$rename` is parsed by the tree, which places both of its ends.
    pub fn parse(op: &str, path: &str, argument: &Bson) -> Result<Option<Modifier>> {
        let modifier = match op {
            "$set" => Modifier::Set(argument.clone()),
            "$setOnInsert" => Modifier::SetOnInsert(argument.clone()),
            "$unset" => Modifier::Unset,
            "$inc" => arithmetic(Op::Add, path, argument)?,
            "$mul" => arithmetic(Op::Multiply, path, argument)?,
            "$min" => Modifier::Compare(Ordering::Less, argument.clone()),
            "$max" => Modifier::Compare(Ordering::Greater, argument.clone()),
            "$currentDate" => current_date(argument)?,
            "$push" => Modifier::Push(Push::parse(argument)?),
            "$addToSet" => Modifier::AddToSet(array::add_to_set_values(argument)?),
            "$pop" => Modifier::Pop { first: array::pop_first(argument)? },
            "$pull" => Modifier::Pull(Condition::parse(argument)?),
            "$pullAll" => match argument {
                Bson::Array(values) => Modifier::PullAll(values.clone()),
                other => {
                    return Err(Error::bad_value(format!(
                        "$pullAll requires an array argument but was given a {}",
                        type_name(Some(other))
                    )))
                }
            },
            "$bit" => bit(argument)?,
            _ => return Ok(None),
        };
        Ok(Some(modifier))
    }
}

fn arithmetic(op: Op, path: &str, argument: &Bson) -> Result<Modifier> {
    if !arith::is_number(argument) {
        return Err(Error::type_mismatch(format!(
            "Cannot {} with non-numeric argument: {{{}}}",
            op.verb(),
            element(path, argument)
        )));
    }
    Ok(Modifier::Arithmetic(op, argument.clone()))
}

fn current_date(argument: &Bson) -> Result<Modifier> {
    match argument {
        Bson::Boolean(_) => Ok(Modifier::CurrentDate { timestamp: false }),
        Bson::Document(spec) => {
            let only_type = spec.len() == 1 && spec.contains_key("$type");
            if !only_type {
                return Err(Error::bad_value(
                    "The only valid field of the option is '$type': {$currentDate: {field : {$type: 'date/timestamp'}}}",
                ));
            }
            match spec.get("$type") {
                Some(Bson::String(t)) if t == "date" => Ok(Modifier::CurrentDate { timestamp: false }),
                Some(Bson::String(t)) if t == "timestamp" => Ok(Modifier::CurrentDate { timestamp: true }),
                _ => Err(Error::bad_value(
                    "The '$type' string field is required to be 'date' or 'timestamp': {$currentDate: {field : {$type: 'date'}}}",
                )),
            }
        }
        other => Err(Error::bad_value(format!(
            "{} is not valid type for $currentDate. Please use a boolean ('true') or a $type expression ({{$type: 'timestamp/date'}}).",
            type_name(Some(other))
        ))),
    }
}

fn bit(argument: &Bson) -> Result<Modifier> {
    let Bson::Document(spec) = argument else {
        return Err(Error::bad_value(format!(
            "The $bit modifier is not compatible with a {}. You must pass in an embedded document: {{$bit: {{field: {{and/or/xor: #}}}}",
            type_name(Some(argument))
        )));
    };
    let mut ops = Vec::new();
    for (name, value) in spec {
        let op = match name.as_str() {
            "and" => BitOp::And,
            "or" => BitOp::Or,
            "xor" => BitOp::Xor,
            _ => {
                return Err(Error::bad_value(format!(
                    "The $bit modifier only supports 'and', 'or', and 'xor', not '{name}' which is an unknown operator: {{{}}}",
                    element(name, value)
                )))
            }
        };
        if !matches!(value, Bson::Int32(_) | Bson::Int64(_)) {
            return Err(Error::bad_value(format!(
                "The $bit modifier field must be an Integer(32/64 bit); a '{}' is not supported here: {{{}}}",
                type_name(Some(value)),
                element(name, value)
            )));
        }
        ops.push((op, value.clone()));
    }
    if ops.is_empty() {
        return Err(Error::bad_value(
            "You must pass in at least one bitwise operation. The format is: {$bit: {field: {and/or/xor: #}}",
        ));
    }
    Ok(Modifier::Bit(ops))
}

impl Apply<'_> {
    /// Applies a modifier to the existing value at the current path.
    pub fn modify(&self, modifier: &Modifier, value: &mut Bson) -> Result<Outcome> {
        match modifier {
            Modifier::Set(new) => *value = new.clone(),
            Modifier::SetOnInsert(new) if self.ctx.inserting => *value = new.clone(),
            Modifier::SetOnInsert(_) => {}
            Modifier::Unset => return Ok(Outcome::Remove),
            Modifier::Arithmetic(op, argument) => {
                if !arith::is_number(value) {
                    return Err(Error::type_mismatch(format!(
                        "Cannot apply {} to a value of non-numeric type. {{{}}} has the field '{}' of non-numeric type {}",
                        op.modifier(),
                        self.id_text(),
                        self.field(),
                        type_name(Some(value))
                    )));
                }
                let Some(result) = arith::combine(*op, value, argument)? else {
                    return Err(Error::bad_value(format!(
                        "Failed to apply {} operations to current value ({}) for document {{{}}}",
                        op.modifier(),
                        show(value),
                        self.id_text()
                    )));
                };
                *value = result;
            }
            Modifier::Compare(wanted, new) => {
                if order::compare_collated(new, value, self.collation) == *wanted {
                    *value = new.clone();
                }
            }
            Modifier::CurrentDate { timestamp } => *value = self.now(*timestamp),
            Modifier::Rename(index) => {
                if let Some(source) = &self.renamed[*index] {
                    self.check_rename_destination()?;
                    *value = source.clone();
                }
            }
            Modifier::RenameSource(index) => {
                if self.renamed[*index].is_some() {
                    return Ok(Outcome::Remove);
                }
            }
            Modifier::Push(push) => push.apply(
                self.collation,
                self.array(value, |value| {
                    format!(
                        "The field '{}' must be an array but is of type {} in document {{{}}}",
                        self.field(),
                        type_name(Some(value)),
                        self.id_text()
                    )
                })?,
            ),
            Modifier::AddToSet(values) => {
                let items = self.array(value, |value| {
                    format!(
                        "Cannot apply $addToSet to non-array field. Field named '{}' has non-array type {}",
                        self.field(),
                        type_name(Some(value))
                    )
                })?;
                for value in values {
                    if !array::contains(items, value, self.collation) {
                        items.push(value.clone());
                    }
                }
            }
            Modifier::Pop { first } => {
                let Bson::Array(items) = value else {
                    return Err(Error::type_mismatch(format!(
                        "Path '{}' contains an element of non-array type '{}'",
                        self.path.join("."),
                        type_name(Some(value))
                    )));
                };
                match first {
                    true if !items.is_empty() => {
                        items.remove(0);
                    }
                    _ => {
                        items.pop();
                    }
                }
            }
            Modifier::Pull(condition) => {
                self.array(value, |_| "Cannot apply $pull to a non-array value".to_owned())?
                    .retain(|item| !condition.matches(item, self.collation));
            }
            Modifier::PullAll(values) => {
                self.array(value, |_| "Cannot apply $pull to a non-array value".to_owned())?
                    .retain(|item| !array::contains(values, item, self.collation));
            }
            Modifier::Bit(ops) => {
                if !matches!(value, Bson::Int32(_) | Bson::Int64(_)) {
                    return Err(Error::bad_value(format!(
                        "Cannot apply $bit to a value of non-integral type.{{{}}} has the field {} of non-integer type {}",
                        self.id_text(),
                        self.field(),
                        type_name(Some(value))
                    )));
                }
                *value = ops.iter().fold(value.clone(), |acc, (op, operand)| arith::bitwise(*op, &acc, operand));
            }
        }
        Ok(Outcome::Keep)
    }

    /// The value a modifier creates at the current path when nothing is there, if any.
    pub fn create_value(&self, modifier: &Modifier) -> Result<Option<Bson>> {
        let created = match modifier {
            Modifier::Set(value) | Modifier::Compare(_, value) => Some(value.clone()),
            Modifier::SetOnInsert(value) => self.ctx.inserting.then(|| value.clone()),
            Modifier::Arithmetic(Op::Add, value) => Some(value.clone()),
            Modifier::Arithmetic(Op::Multiply, value) => arith::combine(Op::Multiply, value, &Bson::Int32(0))?,
            Modifier::CurrentDate { timestamp } => Some(self.now(*timestamp)),
            Modifier::Rename(index) => match &self.renamed[*index] {
                Some(value) => {
                    self.check_rename_destination()?;
                    Some(value.clone())
                }
                None => None,
            },
            Modifier::Push(push) => {
                let mut items = Vec::new();
                push.apply(self.collation, &mut items);
                Some(Bson::Array(items))
            }
            Modifier::AddToSet(values) => {
                // Values its collation finds equal are added once.
                let mut items: Vec<Bson> = Vec::with_capacity(values.len());
                for value in values {
                    if !array::contains(&items, value, self.collation) {
                        items.push(value.clone());
                    }
                }
                Some(Bson::Array(items))
            }
            Modifier::Bit(ops) => {
                Some(ops.iter().fold(Bson::Int32(0), |acc, (op, operand)| arith::bitwise(*op, &acc, operand)))
            }
            Modifier::Unset
            | Modifier::RenameSource(_)
            | Modifier::Pop { .. }
            | Modifier::Pull(_)
            | Modifier::PullAll(_) => None,
        };
        Ok(created)
    }

    /// The array `value` holds, or `BadValue` with the message `message` builds.
    fn array<'v>(&self, value: &'v mut Bson, message: impl FnOnce(&Bson) -> String) -> Result<&'v mut Vec<Bson>> {
        match value {
            Bson::Array(items) => Ok(items),
            other => Err(Error::bad_value(message(other))),
        }
    }

    /// What `$currentDate` sets.
    fn now(&self, timestamp: bool) -> Bson {
        match timestamp {
            false => Bson::DateTime(self.ctx.now),
            true => Bson::Timestamp(Timestamp {
                time: u32::try_from(self.ctx.now.timestamp_millis() / 1000).unwrap_or(0),
                increment: 1,
            }),
        }
    }

    /// A `$rename` cannot write into an array element.
    fn check_rename_destination(&self) -> Result<()> {
        match self.array_field() {
            Some(array) => Err(Error::bad_value(format!(
                "The destination field cannot be an array element, '{}' in doc with {} has an array field called '{array}'",
                self.path.join("."),
                self.id_text()
            ))),
            None => Ok(()),
        }
    }
}

/// `PathNotViable` (28): a path cannot be created under a value that is not a document.
pub fn not_viable(field: &str, parent: &str, value: &Bson) -> Error {
    Error::command(
        ErrorCode::PathNotViable,
        format!("Cannot create field '{field}' in element {{{}}}", element(parent, value)),
    )
}
