//! The on-disk layout of segments and records (DESIGN §2), little-endian throughout.
//!
//! ```text
//! segment header (32 bytes, at offset 0)
//! 0  [u8; 8] magic "BDBWAL01"
//! 8  u64     first LSN of the segment (also its file name)
//! 16 u32     salt: random per segment; records carry it, so stale bytes never validate
//! 20 u32     format version
//! 24 u32     reserved, zero
//! 28 u32     CRC-32 of bytes 0..28
//!
//! record (8-byte aligned, never spans segments)
//! 0  u32 crc      CRC-32 over bytes 4 .. 32 + padded payload (padding included, so no
//!                 byte of a record escapes the checksum)
//! 4  u32 len      payload length before padding; capped, checked before allocating
//! 8  u64 lsn      previous + 1
//! 16 u32 salt     the segment's salt
//! 20 u8  kind     1 txn, 2 branch op, 3 checkpoint mark, 4 segment seal,
//!                 5 group (one transaction's parts on several branches),
//!                 6 fragment (a leading piece of a framed record); 0 never written
//! 21 u8  version  payload format version
//! 22 u16 flags    zero, but on the pieces of a framed record: 1 (frame start) on its
//!                 first fragment, 2 (frame end) on the txn or group record that ends it
//! 24 u64 durable  highest LSN known fsynced when this record was encoded
//! 32 ..  payload, then zero padding to a multiple of 8
//! ```

use crate::lsn::Lsn;

// A framed record: a transaction whose payload is larger than one record holds is
// written as fragments, each carrying the next slice of the payload, then a txn or
// group record carrying the last slice. Its fragments come straight before it (the log
// appends them together), seals of full segments aside. Only that last record makes
// the frame a transaction: readers put the slices together when it is there, and drop
// fragments that no end follows (a crash cut the commit off).

pub const SEGMENT_HEADER_LEN: usize = 32;
pub const RECORD_HEADER_LEN: usize = 32;
pub const SEGMENT_MAGIC: &[u8; 8] = b"BDBWAL01";
pub const SEGMENT_FORMAT_VERSION: u32 = 1;
/// The payload format version this build writes: 4, with the DDL operations that
/// change streams report (a collection's options modified, a database dropped).
/// Version 3 brought the branch lifecycle's records (a reset, a branch's settings),
/// version 2 typed puts (insert, update or replace) and room for a merge origin and
/// a session.
pub const PAYLOAD_VERSION: u8 = 5;
/// The oldest payload format version this build still reads: 1, whose puts do not
/// say what wrote them.
pub const OLDEST_PAYLOAD_VERSION: u8 = 1;

/// Whether this build reads payloads of format `version`.
pub fn reads_payload_version(version: u8) -> bool {
    (OLDEST_PAYLOAD_VERSION..=PAYLOAD_VERSION).contains(&version)
}

/// What a record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Txn = 1,
    Branch = 2,
    Checkpoint = 3,
    Seal = 4,
    Group = 5,
    Fragment = 6,
}

impl Kind {
    pub fn from_u8(b: u8) -> Option<Kind> {
        match b {
            1 => Some(Kind::Txn),
            2 => Some(Kind::Branch),
            3 => Some(Kind::Checkpoint),
            4 => Some(Kind::Seal),
            5 => Some(Kind::Group),
            6 => Some(Kind::Fragment),
            _ => None,
        }
    }

    /// Whether a record of this kind may carry `flags`.
    pub fn allows(self, flags: u16) -> bool {
        match self {
            Kind::Fragment => flags == 0 || flags == FRAME_START,
            Kind::Txn | Kind::Group => flags == 0 || flags == FRAME_END,
            Kind::Branch | Kind::Checkpoint | Kind::Seal => flags == 0,
        }
    }
}

/// Flag of the first fragment of a framed record.
pub const FRAME_START: u16 = 1;
/// Flag of the txn or group record that ends a framed record.
pub const FRAME_END: u16 = 2;

/// Rounds up to the 8-byte record alignment.
pub fn padded(len: usize) -> usize {
    (len + 7) & !7
}

/// Bytes a record with a payload of `len` takes on disk.
pub fn record_size(len: usize) -> usize {
    RECORD_HEADER_LEN + padded(len)
}

/// The fixed fields of a record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    pub crc: u32,
    pub len: u32,
    pub lsn: Lsn,
    pub salt: u32,
    pub kind: u8,
    pub version: u8,
    pub flags: u16,
    pub durable: Lsn,
}

impl RecordHeader {
    /// Reads a header from the first 32 bytes of `b` (which must hold them).
    pub fn parse(b: &[u8]) -> RecordHeader {
        RecordHeader {
            crc: u32_at(b, 0),
            len: u32_at(b, 4),
            lsn: Lsn(u64_at(b, 8)),
            salt: u32_at(b, 16),
            kind: b[20],
            version: b[21],
            flags: u16::from_le_bytes([b[22], b[23]]),
            durable: Lsn(u64_at(b, 24)),
        }
    }
}

/// What goes in a record's header besides its length and CRC.
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    pub lsn: Lsn,
    pub salt: u32,
    pub kind: Kind,
    pub flags: u16,
    pub durable: Lsn,
}

/// Appends one record to `out`: header, payload, zero padding, CRC filled in last.
pub fn encode(out: &mut Vec<u8>, stamp: Stamp, payload: &[u8]) {
    let Stamp { lsn, salt, kind, flags, durable } = stamp;
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&lsn.0.to_le_bytes());
    out.extend_from_slice(&salt.to_le_bytes());
    out.push(kind as u8);
    out.push(PAYLOAD_VERSION);
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&durable.0.to_le_bytes());
    out.extend_from_slice(payload);
    out.resize(start + record_size(payload.len()), 0);
    let crc = crc32fast::hash(&out[start + 4..]);
    out[start..start + 4].copy_from_slice(&crc.to_le_bytes());
}

/// Checks the CRC of the record at the start of `b`, whose header says its payload is
/// `len` bytes; `b` must hold the whole padded record.
pub fn crc_matches(b: &[u8], header: &RecordHeader) -> bool {
    let end = record_size(header.len as usize);
    crc32fast::hash(&b[4..end]) == header.crc
}

/// Whether the record whose header is `header`, at `pos` in `segment`, is whole and
/// ours: its length under the cap and inside the buffer, the segment's salt, and a
/// matching CRC. Recovery and the reader judge records by this one rule.
pub fn is_valid(segment: &[u8], pos: usize, header: &RecordHeader, salt: u32) -> bool {
    let fits = pos
        .checked_add(record_size(header.len as usize))
        .is_some_and(|end| end <= segment.len() && header.len as usize <= super::MAX_PAYLOAD);
    fits && header.salt == salt && crc_matches(&segment[pos..], header)
}

/// A segment's header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    pub first_lsn: Lsn,
    pub salt: u32,
}

impl SegmentHeader {
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_LEN] {
        let mut b = [0u8; SEGMENT_HEADER_LEN];
        b[..8].copy_from_slice(SEGMENT_MAGIC);
        b[8..16].copy_from_slice(&self.first_lsn.0.to_le_bytes());
        b[16..20].copy_from_slice(&self.salt.to_le_bytes());
        b[20..24].copy_from_slice(&SEGMENT_FORMAT_VERSION.to_le_bytes());
        let crc = crc32fast::hash(&b[..28]);
        b[28..32].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Parses and checks a segment header; `Err` says what is wrong with it.
    pub fn parse(b: &[u8]) -> Result<SegmentHeader, &'static str> {
        if b.len() < SEGMENT_HEADER_LEN {
            return Err("shorter than a segment header");
        }
        if crc32fast::hash(&b[..28]) != u32_at(b, 28) {
            return Err("segment header checksum mismatch");
        }
        if &b[..8] != SEGMENT_MAGIC {
            return Err("not a branchdb WAL segment");
        }
        if u32_at(b, 20) != SEGMENT_FORMAT_VERSION {
            return Err("unknown segment format version");
        }
        Ok(SegmentHeader { first_lsn: Lsn(u64_at(b, 8)), salt: u32_at(b, 16) })
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_aligned_and_checksummed_with_their_padding() {
        let mut out = Vec::new();
        let stamp = Stamp { lsn: Lsn(7), salt: 0xABCD, kind: Kind::Txn, flags: FRAME_END, durable: Lsn(5) };
        encode(&mut out, stamp, b"hello");
        assert_eq!(out.len(), 40);
        let h = RecordHeader::parse(&out);
        assert_eq!(
            (h.len, h.lsn, h.salt, h.kind, h.version, h.flags, h.durable),
            (5, Lsn(7), 0xABCD, 1, PAYLOAD_VERSION, FRAME_END, Lsn(5))
        );
        assert!(crc_matches(&out, &h));
        for i in 4..out.len() {
            let mut bad = out.clone();
            bad[i] ^= 0x10;
            assert!(!crc_matches(&bad, &RecordHeader { len: 5, ..h }), "byte {i}");
        }
    }

    #[test]
    fn segment_headers_round_trip_and_refuse_damage() {
        let h = SegmentHeader { first_lsn: Lsn(1001), salt: 42 };
        let b = h.encode();
        assert_eq!(SegmentHeader::parse(&b), Ok(h));
        for i in 0..b.len() * 8 {
            let mut bad = b;
            bad[i / 8] ^= 1 << (i % 8);
            assert!(SegmentHeader::parse(&bad).is_err());
        }
    }
}
