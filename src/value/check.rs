//! Structural validation of raw BSON before it is parsed.
//!
//! The `bson` crate parses recursively, so a hostile document nested a million levels
//! deep would overflow the stack. [`check_document`] walks the bytes with an explicit
//! stack instead: it checks every length, terminator and element type, and refuses
//! nesting deeper than [`MAX_NESTING_DEPTH`], so what reaches the parser is known good.

use crate::error::{Error, Result};

/// Deepest nesting of documents and arrays accepted in a message (MongoDB stores
/// documents up to depth 100 and accepts commands a little deeper).
pub const MAX_NESTING_DEPTH: usize = 150;

fn invalid(what: &str) -> Error {
    Error::protocol(format!("invalid BSON: {what}"))
}

/// Checks that `bytes` is exactly one well-formed BSON document.
pub fn check_document(bytes: &[u8]) -> Result<()> {
    let end = doc_end(bytes, 0)?;
    if end != bytes.len() {
        return Err(invalid("document length does not match its bytes"));
    }
    // Each entry is the end offset of an open document; `pos` walks its elements.
    let mut open: Vec<usize> = vec![end];
    let mut pos = 4;
    while let Some(&doc_end_at) = open.last() {
        let tag = byte_at(bytes, pos)?;
        if tag == 0 {
            if pos + 1 != doc_end_at {
                return Err(invalid("document terminator before its end"));
            }
            open.pop();
            pos += 1;
            continue;
        }
        pos = cstring_end(bytes, pos + 1, doc_end_at)?;
        match tag {
            // Documents, arrays and the scope of code-with-scope open a nested level.
            0x03 | 0x04 | 0x0F => {
                let child_start = if tag == 0x0F { code_with_scope_scope(bytes, pos, doc_end_at)? } else { pos };
                let child_end = doc_end(bytes, child_start)?;
                if child_end > doc_end_at {
                    return Err(invalid("embedded document overruns its parent"));
                }
                if open.len() >= MAX_NESTING_DEPTH {
                    return Err(invalid("nesting deeper than the limit"));
                }
                open.push(child_end);
                pos = child_start + 4;
            }
            _ => pos = scalar_end(bytes, tag, pos, doc_end_at)?,
        }
    }
    Ok(())
}

/// Where a document starting at `at` ends, from its length prefix.
fn doc_end(bytes: &[u8], at: usize) -> Result<usize> {
    let len = i32_at(bytes, at)?;
    let len = usize::try_from(len).map_err(|_| invalid("negative document length"))?;
    if len < 5 {
        return Err(invalid("document shorter than 5 bytes"));
    }
    let end = at.checked_add(len).ok_or_else(|| invalid("length overflow"))?;
    if end > bytes.len() || bytes[end - 1] != 0 {
        return Err(invalid("document overruns its buffer or lacks a terminator"));
    }
    Ok(end)
}

/// The end of the scalar element of type `tag` whose value starts at `at`.
fn scalar_end(bytes: &[u8], tag: u8, at: usize, limit: usize) -> Result<usize> {
    let fixed =
        |n: usize| at.checked_add(n).filter(|&e| e <= limit).ok_or_else(|| invalid("value overruns its document"));
    match tag {
        0x01 | 0x09 | 0x11 | 0x12 => fixed(8),
        0x10 => fixed(4),
        0x13 => fixed(16),
        0x07 => fixed(12),
        0x06 | 0x0A | 0x7F | 0xFF => Ok(at),
        0x08 => {
            let end = fixed(1)?;
            match bytes[at] {
                0 | 1 => Ok(end),
                _ => Err(invalid("boolean is neither 0 nor 1")),
            }
        }
        0x02 | 0x0D | 0x0E => string_end(bytes, at, limit),
        0x05 => {
            let len = usize::try_from(i32_at(bytes, at)?).map_err(|_| invalid("negative binary length"))?;
            fixed(len.checked_add(5).ok_or_else(|| invalid("binary length overflow"))?)
        }
        0x0B => {
            let end = cstring_end(bytes, at, limit)?;
            cstring_end(bytes, end, limit)
        }
        0x0C => {
            let end = string_end(bytes, at, limit)?;
            fixed(end - at + 12)
        }
        _ => Err(invalid("unknown element type")),
    }
}

/// Checks the frame of a code-with-scope value at `at` and returns where its scope
/// document starts; the scope must end exactly where the value does.
fn code_with_scope_scope(bytes: &[u8], at: usize, limit: usize) -> Result<usize> {
    let total = usize::try_from(i32_at(bytes, at)?).map_err(|_| invalid("negative code length"))?;
    let end = at.checked_add(total).filter(|&e| e <= limit).ok_or_else(|| invalid("code overruns its document"))?;
    let scope_start = string_end(bytes, at + 4, end)?;
    if doc_end(bytes, scope_start)? != end {
        return Err(invalid("code with scope length mismatch"));
    }
    Ok(scope_start)
}

/// The end of a length-prefixed, NUL-terminated UTF-8 string starting at `at`.
fn string_end(bytes: &[u8], at: usize, limit: usize) -> Result<usize> {
    let len = usize::try_from(i32_at(bytes, at)?).map_err(|_| invalid("negative string length"))?;
    if len < 1 {
        return Err(invalid("string length below 1"));
    }
    let start = at + 4;
    let end = start.checked_add(len).filter(|&e| e <= limit).ok_or_else(|| invalid("string overruns its document"))?;
    if bytes[end - 1] != 0 {
        return Err(invalid("string lacks its terminator"));
    }
    std::str::from_utf8(&bytes[start..end - 1]).map_err(|_| invalid("string is not UTF-8"))?;
    Ok(end)
}

/// The position after the NUL ending the key or C string that starts at `at`.
fn cstring_end(bytes: &[u8], at: usize, limit: usize) -> Result<usize> {
    let region = bytes.get(at..limit).ok_or_else(|| invalid("name overruns its document"))?;
    let nul = region.iter().position(|&b| b == 0).ok_or_else(|| invalid("unterminated name"))?;
    std::str::from_utf8(&region[..nul]).map_err(|_| invalid("name is not UTF-8"))?;
    Ok(at + nul + 1)
}

fn byte_at(bytes: &[u8], at: usize) -> Result<u8> {
    bytes.get(at).copied().ok_or_else(|| invalid("truncated"))
}

fn i32_at(bytes: &[u8], at: usize) -> Result<i32> {
    let b = at.checked_add(4).and_then(|end| bytes.get(at..end)).ok_or_else(|| invalid("truncated length"))?;
    Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, oid::ObjectId, Binary, DateTime, Decimal128, Regex, Timestamp};

    fn bytes_of(d: &bson::Document) -> Vec<u8> {
        let mut v = Vec::new();
        d.to_writer(&mut v).expect("encode");
        v
    }

    #[test]
    fn accepts_every_element_type() {
        let d = doc! {
            "f": 1.5, "s": "x", "d": {"a": [1, 2, {"b": null}]}, "bin": Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![1, 2, 3] },
            "oid": ObjectId::new(), "t": true, "date": DateTime::now(), "n": null,
            "re": Regex { pattern: "a.*".into(), options: "i".into() }, "js": bson::Bson::JavaScriptCode("1".into()),
            "i": 1i32, "ts": Timestamp { time: 1, increment: 2 }, "l": 2i64, "dec": Decimal128::from_bytes([0; 16]),
            "min": bson::Bson::MinKey, "max": bson::Bson::MaxKey, "u": bson::Bson::Undefined,
            "scope": bson::Bson::JavaScriptCodeWithScope(bson::JavaScriptCodeWithScope { code: "x".into(), scope: doc! {"a": 1} }),
        };
        check_document(&bytes_of(&d)).expect("valid");
    }

    #[test]
    fn refuses_every_truncation_and_never_panics_on_bit_flips() {
        let d = doc! { "a": "hello", "b": {"c": [1i64, 2.5, "x"]}, "e": true };
        let bytes = bytes_of(&d);
        for cut in 0..bytes.len() {
            assert!(check_document(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for i in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[i / 8] ^= 1 << (i % 8);
            if check_document(&b).is_ok() {
                // What passes the check must parse.
                crate::value::decode(&b[..]).expect("checked bytes parse");
            }
        }
    }

    #[test]
    fn refuses_deep_nesting_without_recursion() {
        // 100,000 levels of {"a": {...}} built from the inside out.
        let mut bytes = vec![5, 0, 0, 0, 0];
        for _ in 0..100_000 {
            let len = (bytes.len() + 4 + 3 + 1) as i32;
            let mut outer = len.to_le_bytes().to_vec();
            outer.extend_from_slice(&[0x03, b'a', 0]);
            outer.extend_from_slice(&bytes);
            outer.push(0);
            bytes = outer;
        }
        assert!(check_document(&bytes).is_err());
    }

    #[test]
    fn accepts_nesting_up_to_the_limit() {
        let mut d = doc! {};
        for _ in 1..MAX_NESTING_DEPTH {
            d = doc! { "a": d };
        }
        check_document(&bytes_of(&d)).expect("at the limit");
        let d = doc! { "a": d };
        assert!(check_document(&bytes_of(&d)).is_err());
    }
}
