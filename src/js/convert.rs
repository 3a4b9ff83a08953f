//! Values between BSON and JavaScript, as MongoDB's interpreter converts them.
//!
//! Into JavaScript: doubles and 32-bit integers are numbers, strings strings,
//! documents objects, arrays arrays, dates `Date`s, regular expressions `RegExp`s
//! (keeping their options), and the rest the shell's objects from `prelude.js`
//! (`NumberLong`, `NumberDecimal`, `ObjectId`, `Timestamp`, `BinData`, `MinKey`,
//! `MaxKey`, `Code`). Back into BSON: every number is a double, a `NumberInt` an
//! Int32, a `NumberLong` (or a BigInt) an Int64, a function its source as Code, a
//! nested `undefined` the BSON undefined; the shell's objects their BSON types.

use base64::Engine as _;
use bson::spec::BinarySubtype;
use bson::{Binary, Bson, Document, JavaScriptCodeWithScope, Regex, Timestamp};
use rquickjs::function::IntoArgs;
use rquickjs::object::Filter;
use rquickjs::{Array, Ctx, Function, Object, Value};

use crate::error::{Error, ErrorCode};
use crate::value::check::MAX_NESTING_DEPTH;

/// The conversion helpers `prelude.js` returns, fetched from the scope's globals.
pub(super) struct Helpers<'js> {
    object: Object<'js>,
}

impl<'js> Helpers<'js> {
    pub(super) fn of(ctx: &Ctx<'js>) -> rquickjs::Result<Helpers<'js>> {
        Ok(Helpers { object: ctx.globals().get(super::HELPERS)? })
    }

    fn call<A: IntoArgs<'js>>(&self, name: &str, args: A) -> rquickjs::Result<Value<'js>> {
        let function: Function = self.object.get(name)?;
        function.call(args)
    }
}

/// A BSON document as a JavaScript object.
pub(super) fn document_to_js<'js>(
    ctx: &Ctx<'js>,
    helpers: &Helpers<'js>,
    doc: &Document,
) -> rquickjs::Result<Value<'js>> {
    let object = Object::new(ctx.clone())?;
    for (key, value) in doc {
        object.set(key.as_str(), to_js(ctx, helpers, value)?)?;
    }
    Ok(object.into_value())
}

/// A BSON value as JavaScript.
pub(super) fn to_js<'js>(ctx: &Ctx<'js>, helpers: &Helpers<'js>, value: &Bson) -> rquickjs::Result<Value<'js>> {
    let ctx_ = ctx.clone();
    Ok(match value {
        Bson::Double(d) => Value::new_float(ctx_, *d),
        Bson::Int32(n) => Value::new_int(ctx_, *n),
        Bson::Int64(n) => helpers.call("long", (n.to_string(),))?,
        Bson::String(s) | Bson::Symbol(s) => rquickjs::String::from_str(ctx_, s)?.into_value(),
        Bson::Boolean(b) => Value::new_bool(ctx_, *b),
        Bson::Null => Value::new_null(ctx_),
        Bson::Undefined => Value::new_undefined(ctx_),
        Bson::Document(doc) => document_to_js(ctx, helpers, doc)?,
        Bson::Array(items) => {
            let array = Array::new(ctx_)?;
            for (at, item) in items.iter().enumerate() {
                array.set(at, to_js(ctx, helpers, item)?)?;
            }
            array.into_value()
        }
        Bson::DateTime(date) => helpers.call("date", (date.timestamp_millis() as f64,))?,
        Bson::ObjectId(id) => helpers.call("oid", (id.to_hex(),))?,
        Bson::Timestamp(ts) => helpers.call("timestamp", (ts.time, ts.increment))?,
        Bson::Binary(binary) => helpers.call(
            "binary",
            (u8::from(binary.subtype), base64::engine::general_purpose::STANDARD.encode(&binary.bytes)),
        )?,
        Bson::RegularExpression(regex) => helpers.call("regex", (regex.pattern.clone(), regex.options.clone()))?,
        Bson::Decimal128(d) => helpers.call("decimal", (d.to_string(),))?,
        Bson::MinKey => helpers.call("minKey", ())?,
        Bson::MaxKey => helpers.call("maxKey", ())?,
        Bson::JavaScriptCode(code) => helpers.call("code", (code.clone(),))?,
        Bson::JavaScriptCodeWithScope(code) => {
            let scope = document_to_js(ctx, helpers, &code.scope)?;
            helpers.call("codeWithScope", (code.code.clone(), scope))?
        }
        Bson::DbPointer(_) => {
            // The shell's DBPointer has no use in a function: an object stands in.
            Object::new(ctx_)?.into_value()
        }
    })
}

/// A JavaScript value as BSON; `None` for `undefined`.
pub(super) fn from_js<'js>(helpers: &Helpers<'js>, value: Value<'js>) -> rquickjs::Result<Option<Bson>> {
    if value.is_undefined() {
        return Ok(None);
    }
    to_bson(helpers, value, 0).map(Some)
}

fn to_bson<'js>(helpers: &Helpers<'js>, value: Value<'js>, depth: usize) -> rquickjs::Result<Bson> {
    if depth > MAX_NESTING_DEPTH {
        return Err(conversion_failure(
            ErrorCode::Location17279,
            format!(
                "Exceeded depth limit of {MAX_NESTING_DEPTH} when converting js object to BSON. Do you have a cycle?"
            ),
        ));
    }
    if value.is_undefined() {
        return Ok(Bson::Undefined);
    }
    if value.is_null() {
        return Ok(Bson::Null);
    }
    if let Some(b) = value.as_bool() {
        return Ok(Bson::Boolean(b));
    }
    if let Some(n) = value.as_number() {
        return Ok(Bson::Double(n));
    }
    if let Some(s) = value.as_string() {
        return Ok(Bson::String(s.to_string()?));
    }
    let Some(object) = value.as_object().cloned().filter(|_| !value.is_big_int() && !value.is_symbol()) else {
        return Err(unconvertible(value.type_name()));
    };
    let kind: Array = helpers.call("kind", (value.clone(),))?.get()?;
    let tag: String = kind.get(0)?;
    let text = |at: usize| -> rquickjs::Result<String> { kind.get(at) };
    Ok(match tag.as_str() {
        "long" => Bson::Int64(text(1)?.parse().map_err(|_| unconvertible("NumberLong"))?),
        "int" => Bson::Int32(kind.get(1)?),
        "decimal" => Bson::Decimal128(text(1)?.parse().map_err(|_| unconvertible("NumberDecimal"))?),
        "oid" => Bson::ObjectId(bson::oid::ObjectId::parse_str(text(1)?).map_err(|_| unconvertible("ObjectId"))?),
        "timestamp" => Bson::Timestamp(Timestamp { time: kind.get(1)?, increment: kind.get(2)? }),
        "binary" => {
            let subtype: u8 = kind.get(1)?;
            let bytes =
                base64::engine::general_purpose::STANDARD.decode(text(2)?).map_err(|_| unconvertible("BinData"))?;
            Bson::Binary(Binary { subtype: BinarySubtype::from(subtype), bytes })
        }
        "minKey" => Bson::MinKey,
        "maxKey" => Bson::MaxKey,
        "date" => {
            let ms: f64 = kind.get(1)?;
            if !ms.is_finite() {
                return Err(unconvertible("Invalid Date"));
            }
            Bson::DateTime(bson::DateTime::from_millis(ms as i64))
        }
        "regex" => {
            let mut options: Vec<char> = text(2)?.chars().collect();
            options.sort_unstable();
            Bson::RegularExpression(Regex { pattern: text(1)?, options: options.into_iter().collect() })
        }
        "code" | "function" => Bson::JavaScriptCode(text(1)?),
        "codeWithScope" => {
            let scope = match to_bson(helpers, kind.get(2)?, depth + 1)? {
                Bson::Document(scope) => scope,
                _ => Document::new(),
            };
            Bson::JavaScriptCodeWithScope(JavaScriptCodeWithScope { code: text(1)?, scope })
        }
        "array" => {
            let array = object.into_array().ok_or_else(|| unconvertible("array"))?;
            let mut items = Vec::with_capacity(array.len());
            for item in array.iter::<Value>() {
                items.push(to_bson(helpers, item?, depth + 1)?);
            }
            Bson::Array(items)
        }
        _ => {
            let mut doc = Document::new();
            for prop in object.own_props::<String, Value>(Filter::new().string().enum_only()) {
                let (key, value) = prop?;
                doc.insert(key, to_bson(helpers, value, depth + 1)?);
            }
            Bson::Document(doc)
        }
    })
}

/// MongoDB's 16662 for a value with no BSON form (a Symbol, a BigInt…).
fn unconvertible(what: &str) -> rquickjs::Error {
    conversion_failure(
        ErrorCode::Location16662,
        format!("unable to convert JavaScript property to mongo element {what}"),
    )
}

/// A conversion error, carried through rquickjs's error as its message: the code,
/// then the text.
fn conversion_failure(code: ErrorCode, message: String) -> rquickjs::Error {
    rquickjs::Error::new_from_js_message("value", "BSON", format!("{CONVERSION_MARK}{}:{message}", code.code()))
}

const CONVERSION_MARK: &str = "branchdb conversion error ";

/// The MongoDB error a conversion failure stands for, or `None` for other errors.
pub(super) fn conversion_error(error: &rquickjs::Error) -> Option<Error> {
    let text = error.to_string();
    let rest = &text[text.find(CONVERSION_MARK)? + CONVERSION_MARK.len()..];
    let (code, message) = rest.split_once(':')?;
    let code = ErrorCode::from_code(code.parse().ok()?)?;
    Some(Error::command(code, message))
}
