//! OP_MSG (opcode 2013): flag bits, one body section, document sequences, checksum.

use bson::{Bson, Document};

use super::{frame, opcode, Reader, HEADER_LEN};
use crate::error::{Error, Result};

/// The message ends with a CRC-32C of everything before it.
pub const CHECKSUM_PRESENT: u32 = 1 << 0;
/// The sender expects no reply.
pub const MORE_TO_COME: u32 = 1 << 1;
/// The client accepts exhaust replies (ignored: this server never streams).
pub const EXHAUST_ALLOWED: u32 = 1 << 16;
/// The low 16 bits are "required": a receiver must refuse bits it does not know.
const REQUIRED_BITS: u32 = 0xFFFF;
const KNOWN_REQUIRED_BITS: u32 = CHECKSUM_PRESENT | MORE_TO_COME;

/// A decoded OP_MSG: its flags and the command with document sequences merged in.
#[derive(Debug, Clone, PartialEq)]
pub struct OpMsg {
    pub flags: u32,
    /// The kind-0 body with each kind-1 sequence added as an array under its identifier.
    pub command: Document,
    /// The identifiers of the kind-1 sequences, in the order they came.
    pub sequences: Vec<String>,
}

impl OpMsg {
    /// Whether the client asked for no reply.
    pub fn more_to_come(&self) -> bool {
        self.flags & MORE_TO_COME != 0
    }

    /// Decodes the part of `frame` after the header (`body`).
    pub(super) fn decode(frame: &[u8], body: &[u8]) -> Result<OpMsg> {
        let mut r = Reader::new(body);
        let flags = r.u32()?;
        let unknown = flags & REQUIRED_BITS & !KNOWN_REQUIRED_BITS;
        if unknown != 0 {
            return Err(Error::protocol(format!("unknown required OP_MSG flag bits {unknown:#x}")));
        }
        let sections = if flags & CHECKSUM_PRESENT != 0 {
            let covered = frame
                .len()
                .checked_sub(4)
                .filter(|&n| n >= HEADER_LEN + 4)
                .ok_or_else(|| Error::protocol("checksum flag set but no room for a checksum"))?;
            let sent = u32::from_le_bytes([frame[covered], frame[covered + 1], frame[covered + 2], frame[covered + 3]]);
            if crc32c::crc32c(&frame[..covered]) != sent {
                return Err(Error::protocol("OP_MSG checksum mismatch"));
            }
            &body[4..body.len() - 4]
        } else {
            &body[4..]
        };

        let mut r = Reader::new(sections);
        let mut command: Option<Document> = None;
        let mut sequences: Vec<(String, Vec<Bson>)> = Vec::new();
        while r.remaining() > 0 {
            match r.u8()? {
                0 => {
                    if command.is_some() {
                        return Err(Error::protocol("OP_MSG has more than one body section"));
                    }
                    command = Some(r.document()?);
                }
                1 => sequences.push(decode_sequence(&mut r)?),
                kind => return Err(Error::protocol(format!("unknown OP_MSG section kind {kind}"))),
            }
        }
        let mut command = command.ok_or_else(|| Error::protocol("OP_MSG has no body section"))?;
        let mut identifiers = Vec::with_capacity(sequences.len());
        for (identifier, documents) in sequences {
            if command.contains_key(&identifier) {
                return Err(Error::protocol(format!("OP_MSG field '{identifier}' given twice")));
            }
            command.insert(identifier.clone(), documents);
            identifiers.push(identifier);
        }
        Ok(OpMsg { flags, command, sequences: identifiers })
    }

    /// Encodes a reply: flags 0 and one body section.
    pub fn encode_reply(request_id: i32, response_to: i32, reply: &Document) -> Result<Vec<u8>> {
        let mut body = Vec::with_capacity(256);
        body.extend_from_slice(&0u32.to_le_bytes());
        body.push(0);
        reply
            .to_writer(&mut body)
            .map_err(|e| Error::command(crate::error::ErrorCode::InternalError, format!("cannot encode reply: {e}")))?;
        frame(request_id, response_to, opcode::OP_MSG, &body)
    }
}

/// A kind-1 section: `int32 size` (counting itself), identifier, then documents that
/// fill the section exactly.
fn decode_sequence(r: &mut Reader<'_>) -> Result<(String, Vec<Bson>)> {
    let size = r.i32()?;
    let size = usize::try_from(size)
        .ok()
        .and_then(|s| s.checked_sub(4))
        .ok_or_else(|| Error::protocol("document sequence size below 4"))?;
    let mut seq = Reader::new(r.take(size)?);
    let identifier = seq.cstring()?.to_owned();
    let mut parts = Vec::new();
    while seq.remaining() > 0 {
        parts.push(seq.document_bytes()?);
    }
    if size < PARALLEL_BYTES {
        return Ok((identifier, parse_all(&parts)?));
    }
    // Two halves of about as many bytes, the second parsed on a thread of its own.
    let mut bytes = 0;
    let half = parts.iter().take_while(|part| {
        bytes += part.len();
        bytes < size / 2
    });
    let (first, second) = parts.split_at(half.count());
    let documents = std::thread::scope(|scope| {
        let later = scope.spawn(|| parse_all(second));
        let mut documents = parse_all(first)?;
        let later = later.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        documents.extend(later);
        Ok::<_, Error>(documents)
    })?;
    Ok((identifier, documents))
}

/// A document sequence at least this large is parsed on two threads: its
/// documents are independent, and a 100,000-document `insert` or `bulkWrite`
/// otherwise spends a fifth of its time here, on one core.
const PARALLEL_BYTES: usize = 1 << 20;

/// Parses documents' bytes in order; the first that fails fails them all.
fn parse_all(parts: &[&[u8]]) -> Result<Vec<Bson>> {
    parts.iter().map(|part| super::parse_document(part).map(Bson::Document)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{decode, Message};
    use bson::doc;

    fn raw(d: &Document) -> Vec<u8> {
        let mut v = Vec::new();
        d.to_writer(&mut v).expect("encode");
        v
    }

    /// Builds a whole OP_MSG frame from flags and raw section bytes.
    pub(crate) fn msg_frame(flags: u32, sections: &[u8], checksum: bool) -> Vec<u8> {
        let mut body = flags.to_le_bytes().to_vec();
        body.extend_from_slice(sections);
        let len = HEADER_LEN + body.len() + if checksum { 4 } else { 0 };
        let mut f = Vec::new();
        f.extend_from_slice(&(len as i32).to_le_bytes());
        f.extend_from_slice(&7i32.to_le_bytes());
        f.extend_from_slice(&0i32.to_le_bytes());
        f.extend_from_slice(&opcode::OP_MSG.to_le_bytes());
        f.extend_from_slice(&body);
        if checksum {
            let crc = crc32c::crc32c(&f);
            f.extend_from_slice(&crc.to_le_bytes());
        }
        f
    }

    fn sequence(identifier: &str, docs: &[Document]) -> Vec<u8> {
        let mut payload = identifier.as_bytes().to_vec();
        payload.push(0);
        for d in docs {
            payload.extend_from_slice(&raw(d));
        }
        let mut s = vec![1];
        s.extend_from_slice(&((payload.len() + 4) as i32).to_le_bytes());
        s.extend_from_slice(&payload);
        s
    }

    fn body(d: &Document) -> Vec<u8> {
        let mut s = vec![0];
        s.extend_from_slice(&raw(d));
        s
    }

    fn decode_msg(frame: &[u8]) -> Result<OpMsg> {
        match decode(frame)?.1 {
            Message::Msg(m) => Ok(m),
            other => panic!("not an OP_MSG: {other:?}"),
        }
    }

    #[test]
    fn merges_sequences_in_any_order() {
        let mut sections = sequence("documents", &[doc! {"_id": 1}, doc! {"_id": 2}]);
        sections.extend(body(&doc! {"insert": "c", "$db": "test"}));
        sections.extend(sequence("other", &[]));
        let msg = decode_msg(&msg_frame(0, &sections, false)).expect("decodes");
        assert_eq!(
            msg.command,
            doc! {"insert": "c", "$db": "test", "documents": [{"_id": 1}, {"_id": 2}], "other": []}
        );
    }

    #[test]
    fn a_large_sequence_parses_on_two_threads_as_on_one() {
        let docs: Vec<Document> =
            (0..40_000).map(|i| doc! {"_id": i, "name": format!("n{i}"), "k": [i, {"x": i}]}).collect();
        let sections = [body(&doc! {"insert": "c", "$db": "t"}), sequence("documents", &docs)].concat();
        assert!(sections.len() > 2 * PARALLEL_BYTES, "large enough for two threads");
        let msg = decode_msg(&msg_frame(0, &sections, false)).expect("decodes");
        let parsed = msg.command.get_array("documents").expect("the sequence");
        assert_eq!(parsed.len(), docs.len());
        assert!(parsed.iter().zip(&docs).all(|(a, b)| a.as_document() == Some(b)), "the same documents in order");
        // A damaged document fails the message with the error of the first one,
        // wherever the others are.
        let damage = |at: &[usize]| {
            let mut sections = sequence("documents", &docs);
            for &index in at {
                let start = 5 + "documents".len() + 1 + docs[..index].iter().map(|d| raw(d).len()).sum::<usize>();
                match index % 2 {
                    // An unknown type byte for the first element.
                    0 => sections[start + 4] = 0x7f,
                    // No terminating zero.
                    _ => sections[start + raw(&docs[index]).len() - 1] = 1,
                }
            }
            decode_msg(&msg_frame(0, &[body(&doc! {"insert": "c"}), sections].concat(), false))
                .expect_err("damaged")
                .to_string()
        };
        let first_alone = damage(&[30_000]);
        assert_eq!(damage(&[30_000, 35_001]), first_alone, "the second half's first error");
        assert_ne!(damage(&[35_001]), first_alone, "the two damages read differently");
        let early = damage(&[10]);
        assert_eq!(damage(&[10, 30_001]), early, "the first half's error comes first");
    }

    #[test]
    fn verifies_and_strips_the_checksum() {
        let frame = msg_frame(CHECKSUM_PRESENT, &body(&doc! {"ping": 1, "$db": "admin"}), true);
        let msg = decode_msg(&frame).expect("valid checksum");
        assert_eq!(msg.command, doc! {"ping": 1, "$db": "admin"});
        let mut bad = frame.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(decode_msg(&bad).is_err());
    }

    #[test]
    fn more_to_come_and_exhaust_allowed() {
        let frame = msg_frame(MORE_TO_COME | EXHAUST_ALLOWED, &body(&doc! {"ping": 1}), false);
        assert!(decode_msg(&frame).expect("decodes").more_to_come());
    }

    #[test]
    fn refuses_malformed_messages() {
        let ping = body(&doc! {"ping": 1});
        // Unknown required bit.
        assert!(decode_msg(&msg_frame(1 << 5, &ping, false)).is_err());
        // No body, two bodies, unknown section kind.
        assert!(decode_msg(&msg_frame(0, &[], false)).is_err());
        assert!(decode_msg(&msg_frame(0, &[ping.clone(), ping.clone()].concat(), false)).is_err());
        assert!(decode_msg(&msg_frame(0, &[ping.clone(), vec![2, 0]].concat(), false)).is_err());
        // Kind-1 sizes: too small, past the end, not filled by whole documents.
        for size in [-1i32, 0, 3, 1000] {
            let mut s = ping.clone();
            s.push(1);
            s.extend_from_slice(&size.to_le_bytes());
            s.extend_from_slice(b"documents\0");
            assert!(decode_msg(&msg_frame(0, &s, false)).is_err(), "size {size}");
        }
        let mut s = sequence("documents", &[doc! {"a": 1}]);
        let len = s.len();
        s[1..5].copy_from_slice(&((len - 1 + 4 - 2) as i32).to_le_bytes());
        assert!(decode_msg(&msg_frame(0, &[ping.clone(), s].concat(), false)).is_err());
        // A sequence that repeats a body field.
        let dup = [body(&doc! {"insert": "c", "documents": []}), sequence("documents", &[])].concat();
        assert!(decode_msg(&msg_frame(0, &dup, false)).is_err());
    }

    #[test]
    fn never_panics_on_any_truncation_or_bit_flip() {
        let sections =
            [body(&doc! {"insert": "c", "$db": "t"}), sequence("documents", &[doc! {"x": [1, "y"]}])].concat();
        for frame in [msg_frame(0, &sections, false), msg_frame(CHECKSUM_PRESENT, &sections, true)] {
            for cut in 0..frame.len() {
                assert!(decode(&frame[..cut]).is_err());
            }
            for i in 0..frame.len() * 8 {
                let mut f = frame.clone();
                f[i / 8] ^= 1 << (i % 8);
                let _ = decode(&f);
            }
        }
    }
}
