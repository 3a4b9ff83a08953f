//! Resume tokens: where an event is in the log. A position is the record's LSN, the
//! operation's index inside the record, and the event's index among those the
//! operation gives (an `invalidate` after a `drop`, the changes of a reset). It is
//! the same for every stream, whatever it watches, so a token from one stream
//! resumes another. On the wire a token is `{_data: <hex>}`, big-endian, so tokens
//! compare as strings in the order of their events, as MongoDB's do. A fragment of
//! an event split by `$changeStreamSplitLargeEvent` has the event's token followed
//! by the fragment's index, so it sorts after the event's earlier fragments and
//! before the next event.

use bson::{doc, Bson, Document};

use crate::error::{Error, ErrorCode, Result};
use crate::lsn::Lsn;

/// A place in the log between two events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub lsn: Lsn,
    pub op: u32,
    pub sub: u32,
}

impl Position {
    /// The event `sub` of operation `op` of record `lsn`.
    pub fn event(lsn: Lsn, op: u32, sub: u32) -> Position {
        Position { lsn, op, sub }
    }

    /// After every event of record `lsn` (a high-water mark).
    pub fn after(lsn: Lsn) -> Position {
        Position { lsn, op: u32::MAX, sub: u32::MAX }
    }

    /// Just before this event: a stream starting here reads it again.
    pub fn before(self) -> Position {
        match (self.op, self.sub) {
            (_, sub) if sub > 0 => Position { sub: sub - 1, ..self },
            (op, _) if op > 0 => Position { op: op - 1, sub: u32::MAX, ..self },
            _ => Position::after(self.lsn.prev()),
        }
    }

    /// Whether every event of record `lsn` lies at or before this position.
    pub fn covers(&self, lsn: Lsn) -> bool {
        self.lsn > lsn || (self.lsn == lsn && self.op == u32::MAX)
    }
}

/// A resume token: an event's position, whether the event invalidated its stream
/// (`resumeAfter` refuses such a token; `startAfter` starts a new stream after it),
/// and for a fragment of a split event, its index (from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub position: Position,
    pub invalidate: bool,
    pub fragment: Option<u32>,
}

/// The first byte of every token this build writes.
const VERSION: u8 = 0x82;
const LEN: usize = 1 + 8 + 4 + 4 + 1;
/// A fragment's token: the event's, and the fragment's index.
const FRAGMENT_LEN: usize = LEN + 4;

impl Token {
    pub fn new(position: Position, invalidate: bool) -> Token {
        Token { position, invalidate, fragment: None }
    }

    /// The token of fragment `index` of this token's event.
    pub fn of_fragment(self, index: u32) -> Token {
        Token { fragment: Some(index), ..self }
    }

    /// The token as events and replies carry it: `{_data: "<hex>"}`.
    pub fn to_document(self) -> Document {
        let mut bytes = Vec::with_capacity(FRAGMENT_LEN);
        bytes.push(VERSION);
        bytes.extend_from_slice(&self.position.lsn.0.to_be_bytes());
        bytes.extend_from_slice(&self.position.op.to_be_bytes());
        bytes.extend_from_slice(&self.position.sub.to_be_bytes());
        bytes.push(u8::from(self.invalidate));
        if let Some(fragment) = self.fragment {
            bytes.extend_from_slice(&fragment.to_be_bytes());
        }
        const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
        let mut hex = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            hex.push(DIGITS[usize::from(b >> 4)] as char);
            hex.push(DIGITS[usize::from(b & 15)] as char);
        }
        doc! { "_data": hex }
    }

    /// Reads a token a client sent (`resumeAfter`, `startAfter`): code 260
    /// `InvalidResumeToken` when it is not one of ours.
    pub fn parse(option: &str, value: &Bson) -> Result<Token> {
        let invalid = |why: &str| {
            Error::command(ErrorCode::InvalidResumeToken, format!("invalid resume token in '{option}': {why}"))
        };
        let Bson::Document(token) = value else {
            return Err(Error::type_mismatch(format!(
                "BSON field '$changeStream.{option}' is the wrong type '{}', expected type 'object'",
                crate::value::type_name(Some(value))
            )));
        };
        let Some(Bson::String(hex)) = token.get("_data") else {
            return Err(invalid("it has no string '_data'"));
        };
        if !matches!(hex.len() / 2, LEN | FRAGMENT_LEN) || hex.len() % 2 != 0 || !hex.is_ascii() {
            return Err(invalid("it was not made by this server"));
        }
        let bytes = (0..hex.len() / 2)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
            .collect::<std::result::Result<Vec<u8>, _>>()
            .map_err(|_| invalid("'_data' is not hexadecimal"))?;
        if bytes[0] != VERSION || bytes[LEN - 1] > 1 {
            return Err(invalid("it was not made by this server"));
        }
        let u32_at = |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        let mut lsn = [0u8; 8];
        lsn.copy_from_slice(&bytes[1..9]);
        Ok(Token {
            position: Position { lsn: Lsn(u64::from_be_bytes(lsn)), op: u32_at(9), sub: u32_at(13) },
            invalidate: bytes[LEN - 1] == 1,
            fragment: (bytes.len() == FRAGMENT_LEN).then(|| u32_at(LEN)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_sort_as_their_events() {
        let positions = [
            Position::event(Lsn(9), 0, 0),
            Position::event(Lsn(9), 0, 1),
            Position::event(Lsn(9), 2, 0),
            Position::after(Lsn(9)),
            Position::event(Lsn(300), 0, 0),
        ];
        let mut previous = String::new();
        for (i, position) in positions.into_iter().enumerate() {
            let token = Token::new(position, i == 1);
            // An event's fragments sort after it and before the next event.
            for token in [token, token.of_fragment(0), token.of_fragment(1)] {
                let doc = token.to_document();
                assert_eq!(Token::parse("resumeAfter", &Bson::Document(doc.clone())).expect("parses"), token);
                let hex = doc.get_str("_data").expect("hex").to_owned();
                assert!(hex > previous, "{hex} sorts after {previous}");
                previous = hex;
            }
        }
        assert!(Position::after(Lsn(9)).covers(Lsn(9)));
        assert!(!Position::event(Lsn(9), 3, 0).covers(Lsn(9)));
    }

    #[test]
    fn foreign_tokens_are_refused_with_260() {
        for bad in [doc! {}, doc! {"_data": "zz"}, doc! {"_data": "8263ABCDEF"}, doc! {"_data": 1}] {
            let err = Token::parse("resumeAfter", &Bson::Document(bad)).expect_err("refused");
            assert_eq!(err.code(), ErrorCode::InvalidResumeToken);
        }
    }
}
