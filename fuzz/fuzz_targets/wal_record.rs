//! Any bytes as a record header and payload: parsing and decoding return a value or
//! an error, never a panic.
#![no_main]

use branchdb::wal::record::{
    crc_matches, record_size, Kind, RecordHeader, OLDEST_PAYLOAD_VERSION, PAYLOAD_VERSION, RECORD_HEADER_LEN,
};
use branchdb::wal::Entry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() >= RECORD_HEADER_LEN {
        let header = RecordHeader::parse(data);
        if (header.len as usize) <= data.len() && record_size(header.len as usize) <= data.len() {
            let _ = crc_matches(data, &header);
        }
    }
    for kind in [Kind::Txn, Kind::Branch, Kind::Checkpoint, Kind::Seal, Kind::Group, Kind::Fragment] {
        for version in OLDEST_PAYLOAD_VERSION..=PAYLOAD_VERSION {
            let _ = Entry::decode(kind, version, data);
        }
    }
});
