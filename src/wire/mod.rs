//! The MongoDB wire protocol: bytes in, messages out, and back.
//!
//! This layer knows frames, opcodes and sections, never command names. Decoding never
//! panics: every length is checked against what is left before it is used, and all
//! arithmetic on lengths is checked.

mod op_msg;
mod op_query;

pub use crate::value::check::{check_document, MAX_NESTING_DEPTH};
pub use op_msg::{OpMsg, CHECKSUM_PRESENT, EXHAUST_ALLOWED, MORE_TO_COME};
pub use op_query::{OpQuery, OpReply};

use crate::error::{Error, Result};

/// Length of the standard message header.
pub const HEADER_LEN: usize = 16;
/// The largest message accepted or sent, as MongoDB's `maxMessageSizeBytes`.
pub const MAX_MESSAGE_SIZE: usize = 48_000_000;
/// The largest BSON document a client may store, as MongoDB's `maxBsonObjectSize`.
pub const MAX_BSON_OBJECT_SIZE: usize = 16 * 1024 * 1024;

/// Opcodes this server understands.
pub mod opcode {
    pub const OP_REPLY: i32 = 1;
    pub const OP_QUERY: i32 = 2004;
    pub const OP_MSG: i32 = 2013;
}

/// The 16-byte header that starts every message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub message_length: i32,
    pub request_id: i32,
    pub response_to: i32,
    pub op_code: i32,
}

impl Header {
    /// Reads a header from the first 16 bytes of `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Header> {
        let mut r = Reader::new(bytes);
        Ok(Header { message_length: r.i32()?, request_id: r.i32()?, response_to: r.i32()?, op_code: r.i32()? })
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.message_length.to_le_bytes());
        out.extend_from_slice(&self.request_id.to_le_bytes());
        out.extend_from_slice(&self.response_to.to_le_bytes());
        out.extend_from_slice(&self.op_code.to_le_bytes());
    }
}

/// Returns the total length of the frame starting at `buf` once its header has
/// arrived, refusing impossible lengths before any body is read.
pub fn frame_length(buf: &[u8]) -> Result<Option<usize>> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = i32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
    match usize::try_from(len) {
        Ok(len) if (HEADER_LEN..=MAX_MESSAGE_SIZE).contains(&len) => Ok(Some(len)),
        _ => Err(Error::protocol(format!("message length {len} is outside [{HEADER_LEN}, {MAX_MESSAGE_SIZE}]"))),
    }
}

/// A decoded request.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Msg(OpMsg),
    Query(OpQuery),
}

/// Decodes one whole frame (header included).
pub fn decode(frame: &[u8]) -> Result<(Header, Message)> {
    let header = Header::parse(frame)?;
    if usize::try_from(header.message_length).ok() != Some(frame.len()) {
        return Err(Error::protocol("message length does not match the frame"));
    }
    let body = &frame[HEADER_LEN..];
    let message = match header.op_code {
        opcode::OP_MSG => Message::Msg(OpMsg::decode(frame, body)?),
        opcode::OP_QUERY => Message::Query(OpQuery::decode(body)?),
        other => return Err(Error::protocol(format!("unsupported opcode {other}"))),
    };
    Ok((header, message))
}

/// Prepends a header to an encoded body.
fn frame(request_id: i32, response_to: i32, op_code: i32, body: &[u8]) -> Result<Vec<u8>> {
    let total = HEADER_LEN + body.len();
    if total > MAX_MESSAGE_SIZE {
        return Err(Error::command(
            crate::error::ErrorCode::BSONObjectTooLarge,
            format!("reply of {total} bytes exceeds the maximum message size"),
        ));
    }
    let header = Header { message_length: total as i32, request_id, response_to, op_code };
    let mut out = Vec::with_capacity(total);
    header.write(&mut out);
    out.extend_from_slice(body);
    Ok(out)
}

/// A bounds-checked little-endian cursor over a byte slice.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| Error::protocol("message truncated"))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn i32(&mut self) -> Result<i32> {
        let b = self.take(4)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A NUL-terminated UTF-8 string, without its terminator.
    pub(crate) fn cstring(&mut self) -> Result<&'a str> {
        let rest = &self.bytes[self.pos..];
        let nul = rest.iter().position(|&b| b == 0).ok_or_else(|| Error::protocol("unterminated string"))?;
        let s = std::str::from_utf8(&rest[..nul]).map_err(|_| Error::protocol("string is not UTF-8"))?;
        self.pos += nul + 1;
        Ok(s)
    }

    /// One BSON document: its length prefix is checked against what is left, its
    /// structure and nesting depth are checked, then it is parsed.
    pub(crate) fn document(&mut self) -> Result<bson::Document> {
        parse_document(self.document_bytes()?)
    }

    /// The bytes of the next BSON document, as its length prefix gives them
    /// (checked against what is left, not yet parsed).
    pub(crate) fn document_bytes(&mut self) -> Result<&'a [u8]> {
        let rest = &self.bytes[self.pos..];
        if rest.len() < 4 {
            return Err(Error::protocol("message truncated inside a document"));
        }
        let len = i32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let len = usize::try_from(len).map_err(|_| Error::protocol("negative document length"))?;
        self.take(len)
    }
}

/// A document's bytes, their structure and nesting depth checked, parsed.
pub(crate) fn parse_document(bytes: &[u8]) -> Result<bson::Document> {
    check_document(bytes)?;
    crate::value::decode(bytes).map_err(|e| Error::protocol(format!("invalid BSON: {e}")))
}

#[cfg(test)]
mod fixtures;
