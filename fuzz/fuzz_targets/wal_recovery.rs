//! Recovery over arbitrary segment bytes: the input is cut into records that are
//! framed with valid checksums (so the fuzzer gets past them), with arbitrary kinds,
//! LSN steps, durable marks and payloads, followed by raw garbage. Opening the log and
//! reading it back must succeed or fail cleanly, never panic, and a log that opens
//! must accept an append.
#![no_main]

use std::path::Path;
use std::sync::Arc;

use branchdb::lsn::Lsn;
use branchdb::wal::faulty::FaultyFs;
use branchdb::wal::record::{self, Kind, SegmentHeader};
use branchdb::wal::{Entry, Options, SegmentReader, Wal};
use libfuzzer_sys::fuzz_target;

const SALT: u32 = 0x5A17;

fuzz_target!(|data: &[u8]| {
    let mut segment = SegmentHeader { first_lsn: Lsn(1), salt: SALT }.encode().to_vec();
    let mut rest = data;
    let mut lsn = 1u64;
    while rest.len() >= 4 && rest[0] != 0xFF {
        let kinds = [Kind::Txn, Kind::Branch, Kind::Checkpoint, Kind::Seal, Kind::Group, Kind::Fragment];
        let kind = kinds[usize::from(rest[0] % 6)];
        // Frame flags now and then, also where they do not belong.
        let flags = [0, 0, 0, record::FRAME_START, record::FRAME_END][usize::from(rest[0] / 6 % 5)];
        lsn += u64::from(rest[1] % 8 == 0);
        let durable = Lsn(u64::from(rest[2] % 4));
        let len = usize::from(rest[3]).min(rest.len() - 4);
        let stamp = record::Stamp { lsn: Lsn(lsn), salt: SALT, kind, flags, durable };
        record::encode(&mut segment, stamp, &rest[4..4 + len]);
        lsn += 1;
        rest = &rest[4 + len..];
    }
    segment.extend_from_slice(rest);
    segment.resize(segment.len().max(8192), 0);
    let fs = FaultyFs::new();
    let dir = Path::new("/wal");
    fs.set_file(&dir.join("00000000000000000001.wal"), segment.clone());
    let options = Options { segment_size: segment.len() as u64, ..Options::default() };
    if let Ok((wal, _)) = Wal::open(Arc::new(fs.clone()), dir, options, &mut |_| {}) {
        for record in SegmentReader::new(Arc::new(fs.clone()), dir, Lsn(1), None).expect("reader") {
            if record.is_err() {
                break;
            }
        }
        let _ = wal.commit(&Entry::Checkpoint { applied: Lsn(1) }, false);
    }
});
