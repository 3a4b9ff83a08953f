//! `$convert` between strings and binary data (MongoDB 8.0): the `format`
//! argument (`auto`, `base64`, `base64url`, `hex`, `utf8`, `uuid`) and the
//! binary subtype of a `to: {type: "binData", subtype}` target.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use bson::spec::BinarySubtype;
use bson::{Binary, Bson};

use super::{fail, integral, is_number, nullish, show, type_name};
use crate::error::{Error, ErrorCode, Result};

/// How binary data is written as a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    /// A UUID's text for a 16-byte UUID, else base64 (`$toString`'s).
    Auto,
    Base64,
    Base64Url,
    /// Upper-case hexadecimal digits.
    Hex,
    Utf8,
    Uuid,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Base64 => "base64",
            Format::Base64Url => "base64url",
            Format::Hex => "hex",
            Format::Utf8 => "utf8",
            Format::Uuid => "uuid",
        }
    }
}

/// A `format` argument: `None` when absent, null or missing.
pub(super) fn format_of(value: Option<&Bson>) -> Result<Option<Format>> {
    let text = match value {
        value if nullish(value) => return Ok(None),
        Some(Bson::String(text)) => text,
        other => {
            let message = format!(
                "$convert requires that 'format' be a string, found: {} with value {}",
                type_name(other),
                show(other)
            );
            return fail(ErrorCode::Location4341114, message);
        }
    };
    [Format::Auto, Format::Base64, Format::Base64Url, Format::Hex, Format::Utf8, Format::Uuid]
        .into_iter()
        .find(|format| format.name() == text)
        .map(Some)
        .ok_or_else(|| {
            Error::command(ErrorCode::Location4341125, format!("Invalid 'format' argument for $convert: {text}"))
        })
}

/// The subtype a target asks for: 0 to 8 or 128 to 255.
fn subtype_code(subtype: &Bson) -> Result<BinarySubtype> {
    if !is_number(Some(subtype)) {
        let message =
            format!("For BinData, $convert's 'subtype' argument must be a number, but is {}", type_name(Some(subtype)));
        return fail(ErrorCode::Location4341108, message);
    }
    let Some(code) = integral(Some(subtype)) else {
        return fail(ErrorCode::Location4341106, "In $convert, numeric 'subtype' argument is not an integer");
    };
    match u8::try_from(code) {
        Ok(code) if code <= 8 || code >= 128 => Ok(BinarySubtype::from(code)),
        _ => fail(
            ErrorCode::Location4341107,
            format!("In $convert, numeric value for 'subtype' does not correspond to a BinData type: {code}"),
        ),
    }
}

fn needs_format(from: &str, to: &str) -> Error {
    // MongoDB's message, spelling included.
    Error::command(
        ErrorCode::Location4341115,
        format!("Format must be speficied when converting from '{from}' to '{to}'"),
    )
}

fn conversion_failure(message: String) -> Error {
    Error::command(ErrorCode::ConversionFailure, message)
}

/// A string read as binary data of `subtype` in `format`.
pub(super) fn from_string(text: &str, format: Option<Format>, subtype: &Bson) -> Result<Bson> {
    let Some(format) = format else { return Err(needs_format("string", "binData")) };
    let subtype = subtype_code(subtype)?;
    let parsed = (|| -> std::result::Result<Vec<u8>, String> {
        if (format == Format::Uuid) != (subtype == BinarySubtype::Uuid) {
            return Err("Only the 'uuid' format is allowed with the UUID subtype".into());
        }
        match format {
            Format::Base64 => STANDARD.decode(text).map_err(|e| format!("Invalid base64 string: {e}")),
            Format::Base64Url => {
                URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).map_err(|e| format!("Invalid base64url string: {e}"))
            }
            Format::Hex => hex_bytes(text),
            Format::Utf8 => Ok(text.as_bytes().to_vec()),
            Format::Uuid => uuid_bytes(text).ok_or_else(|| format!("Invalid UUID string: {text}")),
            Format::Auto => Err("Invalid format 'auto'".into()),
        }
    })();
    match parsed {
        Ok(bytes) => Ok(Bson::Binary(Binary { subtype, bytes })),
        Err(reason) => Err(conversion_failure(format!(
            "Failed to parse BinData '{text}' in $convert with no onError value: {reason}"
        ))),
    }
}

/// Binary data written as a string in `format`.
pub(super) fn to_string(binary: &Binary, format: Option<Format>) -> Result<Bson> {
    let Some(format) = format else { return Err(needs_format("binData", "string")) };
    let uuid = || (binary.subtype == BinarySubtype::Uuid && binary.bytes.len() == 16).then(|| uuid_text(&binary.bytes));
    let text = match format {
        Format::Auto => uuid().unwrap_or_else(|| STANDARD.encode(&binary.bytes)),
        Format::Base64 => STANDARD.encode(&binary.bytes),
        Format::Base64Url => URL_SAFE_NO_PAD.encode(&binary.bytes),
        Format::Hex => binary.bytes.iter().map(|b| format!("{b:02X}")).collect(),
        Format::Utf8 => match String::from_utf8(binary.bytes.clone()) {
            Ok(text) => text,
            Err(_) => return Err(to_string_failure(binary, "BinData does not represent a valid UTF-8 string")),
        },
        Format::Uuid => match uuid() {
            Some(text) => text,
            None => return Err(to_string_failure(binary, "BinData does not represent a valid UUID")),
        },
    };
    Ok(Bson::String(text))
}

fn to_string_failure(binary: &Binary, reason: &str) -> Error {
    let shown = Bson::Binary(binary.clone());
    conversion_failure(format!("Failed to convert '{shown}' to string in $convert with no onError value: {reason}"))
}

/// Binary data to binary data: only to its own subtype.
pub(super) fn to_binary(binary: &Binary, subtype: &Bson) -> Result<Bson> {
    if subtype_code(subtype)? == binary.subtype {
        return Ok(Bson::Binary(binary.clone()));
    }
    Err(conversion_failure("Conversions between different BinData subtypes are not supported".into()))
}

/// Hexadecimal digits (either case, an even count) as bytes.
fn hex_bytes(text: &str) -> std::result::Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err("Hex blob with odd digit count".into());
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let digits = std::str::from_utf8(pair).map_err(|_| "invalid hex digit".to_owned())?;
            u8::from_str_radix(digits, 16).map_err(|_| format!("The character {digits} failed to parse from hex."))
        })
        .collect()
}

/// A UUID's canonical text, `8-4-4-4-12` hexadecimal digits of either case.
fn uuid_bytes(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if bytes.len() != 36 || [8, 13, 18, 23].iter().any(|&at| bytes[at] != b'-') {
        return None;
    }
    let digits: String = text.chars().filter(|c| *c != '-').collect();
    if digits.len() != 32 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    hex_bytes(&digits).ok()
}

/// 16 bytes as a UUID's lower-case text.
fn uuid_text(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}
