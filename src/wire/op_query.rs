//! The legacy OP_QUERY (opcode 2004), kept for the first `hello` of drivers such as
//! Node's, and its answer OP_REPLY (opcode 1).

use bson::Document;

use super::{frame, opcode, Reader};
use crate::error::{Error, ErrorCode, Result};

/// A decoded OP_QUERY.
#[derive(Debug, Clone, PartialEq)]
pub struct OpQuery {
    pub flags: i32,
    /// `<db>.<collection>`; commands go to `<db>.$cmd`.
    pub full_collection_name: String,
    pub number_to_skip: i32,
    pub number_to_return: i32,
    pub query: Document,
    pub return_fields_selector: Option<Document>,
}

impl OpQuery {
    pub(super) fn decode(body: &[u8]) -> Result<OpQuery> {
        let mut r = Reader::new(body);
        let flags = r.i32()?;
        let full_collection_name = r.cstring()?.to_owned();
        let number_to_skip = r.i32()?;
        let number_to_return = r.i32()?;
        let query = r.document()?;
        let return_fields_selector = if r.remaining() > 0 { Some(r.document()?) } else { None };
        if r.remaining() > 0 {
            return Err(Error::protocol("trailing bytes after OP_QUERY"));
        }
        Ok(OpQuery { flags, full_collection_name, number_to_skip, number_to_return, query, return_fields_selector })
    }

    /// For a query on `<db>.$cmd`, the database and the command (unwrapped from
    /// `$query` when a read preference wrapped it).
    pub fn command(&self) -> Result<(&str, Document)> {
        let db = self.full_collection_name.strip_suffix(".$cmd").filter(|db| !db.is_empty()).ok_or_else(|| {
            Error::command(
                ErrorCode::UnsupportedOpQueryCommand,
                format!("OP_QUERY on {} is not supported; use OP_MSG", self.full_collection_name),
            )
        })?;
        let command = match self.query.iter().next() {
            Some((key, bson::Bson::Document(inner))) if key == "$query" || key == "query" => inner.clone(),
            _ => self.query.clone(),
        };
        Ok((db, command))
    }
}

/// An OP_REPLY carrying one document.
pub struct OpReply;

impl OpReply {
    /// Encodes `{responseFlags: 0, cursorID: 0, startingFrom: 0, numberReturned: 1, doc}`.
    pub fn encode(request_id: i32, response_to: i32, reply: &Document) -> Result<Vec<u8>> {
        let mut body = Vec::with_capacity(256);
        body.extend_from_slice(&0i32.to_le_bytes());
        body.extend_from_slice(&0i64.to_le_bytes());
        body.extend_from_slice(&0i32.to_le_bytes());
        body.extend_from_slice(&1i32.to_le_bytes());
        reply
            .to_writer(&mut body)
            .map_err(|e| Error::command(ErrorCode::InternalError, format!("cannot encode reply: {e}")))?;
        frame(request_id, response_to, opcode::OP_REPLY, &body)
    }
}
