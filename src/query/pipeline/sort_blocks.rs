//! What a `$sort` holds in memory: each document as one entry, its encoded key and
//! its BSON, written one after another into blocks of up to a mebibyte. A million
//! documents take about a hundred allocations instead of two million, an entry takes
//! its own bytes and an eight-byte slot, sorting moves slots, and a run is written
//! by copying entries.
//!
//! An entry is a header (LEB128 of the key's length shifted left once, its low bit
//! saying whether the key is blurred: one byte for a key under 64 bytes), the key's
//! bytes, then the document's BSON, whose first four bytes give its length.

use std::cmp::Ordering;

use bson::Document;

use crate::query::sort::EncodedKey;
use crate::query::Sort;

/// The largest block; an entry bigger than it gets a block of its own.
const BLOCK: usize = 1 << 20;
/// The first block. Each new block is as big as all before it (up to [`BLOCK`]),
/// so a small sort holds little.
const FIRST_BLOCK: usize = 4 << 10;

/// The entries of documents being sorted: in the order they came, or once
/// [`Blocks::sort`]ed, in sort order.
#[derive(Default)]
pub(super) struct Blocks {
    blocks: Vec<Vec<u8>>,
    /// Where each entry starts.
    slots: Vec<Slot>,
    /// The bytes the blocks and slots take.
    footprint: usize,
}

/// Where an entry starts: its block, and its offset in it (a block past 4 GiB
/// holds one entry, at 0).
#[derive(Clone, Copy)]
struct Slot {
    block: u32,
    start: u32,
}

impl Blocks {
    /// How many entries there are.
    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Appends a document, given as BSON, with its key. Returns how many bytes
    /// more the blocks take: a new block's room, and the slots' when they grow.
    pub(super) fn push(&mut self, key: &EncodedKey, bson: &[u8]) -> usize {
        let (key, blurred) = key.parts();
        let mut header = [0u8; 10];
        let header_len = leb128(((key.len() as u64) << 1) | u64::from(blurred), &mut header);
        let len = header_len + key.len() + bson.len();
        let before = self.footprint;
        let block = self.block_with_room(len);
        let start = self.blocks[block].len();
        let bytes = &mut self.blocks[block];
        bytes.extend_from_slice(&header[..header_len]);
        bytes.extend_from_slice(key);
        bytes.extend_from_slice(bson);
        let slots_room = self.slots.capacity();
        // A sort holds at most its limit, far below 2^32 blocks, and an entry
        // starting past 4 GiB would be alone in its block, at 0.
        self.slots.push(Slot { block: block as u32, start: start as u32 });
        self.footprint += (self.slots.capacity() - slots_room) * std::mem::size_of::<Slot>();
        self.footprint - before
    }

    /// Appends a decoded document, encoded, with its key (see [`Blocks::push`]).
    pub(super) fn push_document(&mut self, key: &EncodedKey, doc: &Document, scratch: &mut Vec<u8>) -> usize {
        scratch.clear();
        crate::value::encode(doc, scratch);
        self.push(key, scratch)
    }

    /// The block the next entry of `len` bytes goes into, a new one when the last
    /// has no room for it.
    fn block_with_room(&mut self, len: usize) -> usize {
        if let Some(last) = self.blocks.last() {
            if last.capacity() - last.len() >= len {
                return self.blocks.len() - 1;
            }
        }
        let room = self.footprint.clamp(FIRST_BLOCK, BLOCK).max(len);
        self.blocks.push(Vec::with_capacity(room));
        self.footprint += room;
        self.blocks.len() - 1
    }

    /// Puts the entries in `sort`'s order (stably: equal keys keep theirs).
    ///
    /// A sort reaches each key many times, and entries lie far apart: each slot is
    /// sorted beside a copy of its key's first 16 bytes, which settle most
    /// comparisons without reaching the entry (the copies, 24 bytes an entry, live
    /// only while sorting).
    pub(super) fn sort(&mut self, sort: &Sort) {
        let blocks = &self.blocks;
        let mut prefixed: Vec<(Prefix, Slot)> =
            self.slots.iter().map(|&slot| (Prefix::of(entry_at(blocks, slot).key), slot)).collect();
        prefixed.sort_by(|(a_prefix, a), (b_prefix, b)| {
            a_prefix.cmp(b_prefix).then_with(|| compare(sort, entry_at(blocks, *a), entry_at(blocks, *b)))
        });
        self.slots = prefixed.into_iter().map(|(_, slot)| slot).collect();
    }

    /// The entries, in order.
    pub(super) fn entries(&self) -> impl ExactSizeIterator<Item = Entry<'_>> {
        self.slots.iter().map(|&slot| entry_at(&self.blocks, slot))
    }

    /// The entries, in order, taken one at a time.
    pub(super) fn into_entries(self) -> Entries {
        Entries { blocks: self, next: 0 }
    }
}

/// A key's first 16 bytes, zeros past its end: two keys whose prefixes differ
/// are in the prefixes' order (a key ending where another goes on with a byte
/// above zero is before it, as it is by bytes); equal prefixes say nothing.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Prefix(u64, u64);

impl Prefix {
    fn of(key: &[u8]) -> Prefix {
        let mut bytes = [0u8; 16];
        let len = key.len().min(16);
        bytes[..len].copy_from_slice(&key[..len]);
        let value = u128::from_be_bytes(bytes);
        Prefix((value >> 64) as u64, value as u64)
    }
}

fn entry_at(blocks: &[Vec<u8>], slot: Slot) -> Entry<'_> {
    Entry::of(&blocks[slot.block as usize][slot.start as usize..])
}

/// The entries of sorted [`Blocks`], in order, as entry bytes (for a merge) or
/// as documents.
pub(super) struct Entries {
    blocks: Blocks,
    next: usize,
}

impl Entries {
    /// The next entry.
    pub(super) fn next_entry(&mut self) -> Option<Entry<'_>> {
        let slot = *self.blocks.slots.get(self.next)?;
        self.next += 1;
        Some(entry_at(&self.blocks.blocks, slot))
    }
}

impl Iterator for Entries {
    type Item = crate::error::Result<Document>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().map(|entry| entry.document())
    }
}

/// One entry: a document's key and its BSON.
#[derive(Clone, Copy)]
pub(super) struct Entry<'a> {
    /// The whole entry.
    bytes: &'a [u8],
    key: &'a [u8],
    blurred: bool,
    bson: &'a [u8],
}

impl<'a> Entry<'a> {
    /// The entry `bytes` start with, `None` when they do not hold one.
    pub(super) fn read(bytes: &'a [u8]) -> Option<Entry<'a>> {
        let (header, header_len) = read_leb128(bytes)?;
        let key_len = usize::try_from(header >> 1).ok()?;
        let key_end = header_len.checked_add(key_len)?;
        let key = bytes.get(header_len..key_end)?;
        let bson_len = bytes.get(key_end..key_end.checked_add(4)?)?;
        let bson_len = usize::try_from(i32::from_le_bytes(bson_len.try_into().ok()?)).ok()?;
        let end = key_end.checked_add(bson_len)?;
        let bson = bytes.get(key_end..end)?;
        Some(Entry { bytes: &bytes[..end], key, blurred: header & 1 == 1, bson })
    }

    /// The entry `bytes` start with, which [`Entry::read`] has read or
    /// [`Blocks::push`] has written (an empty one otherwise, whose document does
    /// not decode).
    pub(super) fn of(bytes: &'a [u8]) -> Entry<'a> {
        Entry::read(bytes).unwrap_or(Entry { bytes: &[], key: &[], blurred: false, bson: &[] })
    }

    /// The whole entry's bytes.
    pub(super) fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The decoded document.
    pub(super) fn document(&self) -> crate::error::Result<Document> {
        crate::value::decode(self.bson).map_err(super::spill::unreadable)
    }
}

/// The order of two entries by their keys, and on a tie the encoding may hide a
/// difference in, by their documents' keys (decoding them for it).
pub(super) fn compare(sort: &Sort, a: Entry<'_>, b: Entry<'_>) -> Ordering {
    sort.compare_encoded_with((a.key, a.blurred), (b.key, b.blurred), || match (a.document(), b.document()) {
        (Ok(x), Ok(y)) => sort.compare_documents(&x, &y),
        _ => Ordering::Equal,
    })
}

/// Writes `value` as LEB128 into `out`, returning how many bytes it took.
fn leb128(mut value: u64, out: &mut [u8; 10]) -> usize {
    let mut len = 0;
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out[len] = byte;
            return len + 1;
        }
        out[len] = byte | 0x80;
        len += 1;
    }
}

/// The LEB128 value `bytes` start with, and how many bytes it took.
fn read_leb128(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (at, &byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * at);
        if byte & 0x80 == 0 {
            return Some((value, at + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use bson::{doc, Bson};

    use super::*;

    #[test]
    fn entries_read_back_as_they_were_pushed_and_sort_stably() {
        let sort = Sort::parse(&doc! {"k": -1}).expect("sort");
        let mut blocks = Blocks::default();
        let mut scratch = Vec::new();
        let mut held = 0;
        // Past the first block, and a document bigger than a block.
        let big = "x".repeat(BLOCK + 10);
        let docs: Vec<Document> = (0..2000)
            .map(|n| doc! {"k": n % 7, "n": n, "s": if n == 1000 { big.as_str() } else { "" }})
            .chain([doc! {"n": 2000, "k": Bson::Decimal128("1.0000000000000000000000000000001".parse().expect("d"))}])
            .collect();
        for doc in &docs {
            held += blocks.push_document(&sort.encoded_key(doc).expect("key"), doc, &mut scratch);
        }
        assert_eq!(blocks.len(), docs.len());
        assert!(held > BLOCK + 2000 * 20 && held < 3 * BLOCK, "{held}");
        let in_order: Vec<Document> = blocks.entries().map(|e| e.document().expect("decodes")).collect();
        assert_eq!(in_order, docs);

        blocks.sort(&sort);
        let sorted: Vec<Document> = blocks.into_entries().map(|d| d.expect("decodes")).collect();
        let mut expected = docs.clone();
        expected.sort_by(|a, b| sort.compare_documents(a, b));
        assert_eq!(sorted, expected);
        // The decimal just above 1 sorts before the ones (descending), though its
        // key blurs it with them.
        let first_one = sorted.iter().position(|d| d.get("k") == Some(&Bson::Int32(1))).expect("a one");
        assert_eq!(sorted[first_one - 1].get("n"), Some(&Bson::Int32(2000)));
    }

    #[test]
    fn what_is_not_an_entry_does_not_read() {
        assert!(Entry::read(&[]).is_none());
        assert!(Entry::read(&[0x80]).is_none());
        assert!(Entry::read(&[4, 1, 2]).is_none());
        assert!(Entry::read(&[0, 5, 0, 0, 0]).is_none());
        let entry = Entry::read(&[2, 9, 5, 0, 0, 0, 0, 7]).expect("an entry");
        assert_eq!((entry.key, entry.blurred, entry.bson.len(), entry.bytes.len()), (&[9u8][..], false, 5, 7));
        let mut header = [0u8; 10];
        for value in [0, 1, 127, 128, 300, u64::MAX] {
            let len = leb128(value, &mut header);
            assert_eq!(read_leb128(&header[..len]), Some((value, len)));
        }
    }
}
