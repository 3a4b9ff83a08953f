//! WAL tests: round trips, rotation, every bit flip and every cut of a 1,000-record
//! log, failed writes and fsyncs, torn writes, and group commit.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bson::doc;

use super::faulty::{self, Crash, FaultyFs};
use super::recovery::{recover, Mode};
use super::*;
use crate::error::Error;

fn dir() -> PathBuf {
    PathBuf::from("/wal")
}

fn options(durability: Durability, segment_size: u64) -> Options {
    Options { durability, batch_interval: Duration::from_millis(5), segment_size, record_limit: MAX_PAYLOAD }
}

/// Strict, with records of at most 700 bytes: larger transactions are framed.
fn framing(segment_size: u64) -> Options {
    Options { record_limit: 700, ..options(Durability::Strict, segment_size) }
}

fn open(fs: &FaultyFs, opts: Options) -> Result<(Wal, Recovered)> {
    Wal::open(Arc::new(fs.clone()), &dir(), opts, &mut |_| {})
}

fn txn(n: i64) -> Entry {
    Entry::Txn(Txn::new(
        BranchId(1),
        vec![Op::Put { collection: "c".into(), kind: PutKind::Insert, doc: doc! {"_id": n} }],
    ))
}

/// A transaction whose document is padded to about `bytes`.
fn big_txn(n: i64, bytes: usize) -> Entry {
    let doc = doc! {"_id": n, "pad": "x".repeat(bytes)};
    Entry::Txn(Txn::new(BranchId(1), vec![Op::Put { collection: "c".into(), kind: PutKind::Insert, doc }]))
}

fn read_all(fs: &FaultyFs) -> Vec<Record> {
    SegmentReader::new(Arc::new(fs.clone()), &dir(), Lsn(1), None)
        .expect("reader")
        .collect::<Result<_>>()
        .expect("records")
}

/// Txn ids in the log, in order.
fn txn_ids(records: &[Record]) -> Vec<i64> {
    records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Txn(t) => match &t.ops[0] {
                Op::Put { doc, .. } => doc.get_i64("_id").ok(),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn assert_contiguous(records: &[Record]) {
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.lsn, Lsn(i as u64 + 1), "LSNs must be contiguous from 1");
    }
}

/// Writes `n` transactions in strict mode to segments of `segment_size` bytes.
fn write_log(fs: &FaultyFs, n: i64, segment_size: u64, clean: bool) -> Wal {
    let (wal, _) = open(fs, options(Durability::Strict, segment_size)).expect("open");
    for i in 0..n {
        wal.commit(&txn(i), false).expect("commit");
    }
    if clean {
        wal.close().expect("close");
    }
    wal
}

#[test]
fn commits_read_back_in_order_and_reopen_continues() {
    let fs = FaultyFs::new();
    let wal = write_log(&fs, 10, DEFAULT_SEGMENT_SIZE, true);
    assert_eq!(wal.durable_lsn(), Lsn(10));
    drop(wal);
    let (wal, recovered) = open(&fs, Options::default()).expect("reopen");
    assert_eq!(recovered.last_lsn, Lsn(10));
    let (lsn, _) = wal.commit(&txn(10), false).expect("commit");
    assert_eq!(lsn, Lsn(11));
    let records = read_all(&fs);
    assert_contiguous(&records);
    assert_eq!(txn_ids(&records), (0..11).collect::<Vec<_>>());
    assert!(records.windows(2).all(|w| w[0].time <= w[1].time), "commit times never go back");
    let times: Vec<_> = records.iter().map(|r| cluster_time(r.lsn, r.time)).collect();
    assert!(times.windows(2).all(|w| (w[0].time, w[0].increment) < (w[1].time, w[1].increment)));
    let from_5: Vec<_> = wal.read(Lsn(5), Some(Lsn(7))).expect("read").map(|r| r.expect("record").lsn).collect();
    assert_eq!(from_5, vec![Lsn(5), Lsn(6), Lsn(7)]);
}

#[test]
fn segments_rotate_with_a_seal_and_read_across() {
    let fs = FaultyFs::new();
    drop(write_log(&fs, 300, 4096, false));
    let segments = fs.paths().into_iter().filter(|p| p.extension().is_some_and(|e| e == "wal")).count();
    assert!(segments > 5, "expected several segments, got {segments}");
    let records = read_all(&fs);
    assert_contiguous(&records);
    assert_eq!(txn_ids(&records), (0..300).collect::<Vec<_>>());
    assert_eq!(records.iter().filter(|r| r.entry == Entry::Seal).count(), segments - 1);
    // Recovery agrees, and a reader from the middle starts in the right segment.
    let (wal, recovered) = open(&fs, options(Durability::Strict, 4096)).expect("reopen");
    assert_eq!(recovered.last_lsn, records.last().expect("records").lsn);
    assert_eq!(wal.read(Lsn(200), Some(Lsn(200))).expect("read").count(), 1);
}

#[test]
fn concurrent_writers_of_mixed_sizes_across_rotations_lose_nothing() {
    let fs = FaultyFs::new();
    fs.set_latency(Duration::from_micros(200));
    let (wal, _) = open(&fs, options(Durability::Strict, 4096)).expect("open");
    let wal = Arc::new(wal);
    let threads: Vec<_> = (0..8i64)
        .map(|t| {
            let wal = wal.clone();
            std::thread::spawn(move || {
                for i in 0..60 {
                    // Sizes from tiny to a third of a segment, so a small record could
                    // fit behind a seal that a large one triggered.
                    let pad = "x".repeat(((t * 7 + i * 13) % 9) as usize * 150);
                    let doc = doc! {"_id": t * 1000 + i, "pad": pad};
                    let entry = Entry::Txn(Txn::new(
                        BranchId(1),
                        vec![Op::Put { collection: "c".into(), kind: PutKind::Insert, doc }],
                    ));
                    wal.commit(&entry, false).expect("commit");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer");
    }
    drop(wal);
    let crashed = fs.crash(Crash::DropUnsynced);
    let (_, recovered) = open(&crashed, options(Durability::Strict, 4096)).expect("recovers");
    assert!(recovered.torn.is_none());
    let records = read_all(&crashed);
    assert_contiguous(&records);
    let mut ids = txn_ids(&records);
    ids.sort_unstable();
    let expected: Vec<i64> = (0..8).flat_map(|t| (0..60).map(move |i| t * 1000 + i)).collect();
    assert_eq!(ids, expected);
}

#[test]
fn records_over_the_limit_are_refused() {
    let fs = FaultyFs::new();
    let (wal, _) = open(&fs, options(Durability::Strict, 4096)).expect("open");
    let big = Entry::Txn(Txn::new(
        BranchId(1),
        vec![Op::Put { collection: "c".into(), kind: PutKind::Insert, doc: doc! {"x": "y".repeat(5000)} }],
    ));
    assert!(wal.commit(&big, false).is_err());
    assert_eq!(wal.commit(&txn(1), false).expect("still usable").0, Lsn(1));
}

#[test]
fn a_transaction_larger_than_a_record_is_framed_and_reads_back_whole() {
    let fs = FaultyFs::new();
    // Segments of 4 KiB hold five pieces: frames cross rotations.
    let (wal, _) = open(&fs, framing(4096)).expect("open");
    let entries: Vec<Entry> = (0..12).map(|i| if i % 3 == 1 { big_txn(i, 5000) } else { txn(i) }).collect();
    let commits: Vec<Lsn> = entries.iter().map(|e| wal.commit(e, false).expect("commit").0).collect();
    assert!(commits[1].0 - commits[0].0 > 8, "a big transaction takes a record per 700 bytes");
    drop(wal);
    let records: Vec<Record> = read_all(&fs).into_iter().filter(|r| r.entry != Entry::Seal).collect();
    assert_eq!(records.iter().map(|r| r.lsn).collect::<Vec<_>>(), commits, "one record per commit, at its LSN");
    assert_eq!(records.iter().map(|r| r.entry.clone()).collect::<Vec<_>>(), entries);
    assert!(records.windows(2).all(|w| w[0].time <= w[1].time), "commit times never go back");
    let (wal, recovered) = open(&fs, framing(4096)).expect("reopen");
    assert_eq!(recovered.last_lsn, commits[11]);
    assert_eq!(recovered.last_time_ms, records[11].time.timestamp_millis());
    // Reading from a frame's start yields it, and says where the frame began.
    let mut reader = wal.read(commits[0].next(), None).expect("read");
    let first = reader.find(|r| !matches!(r, Ok(r) if r.entry == Entry::Seal)).expect("a record");
    assert_eq!(first.expect("valid").lsn, commits[1]);
    assert_eq!(reader.first_seen(), Some(commits[0].next()));
    // Reading from a frame's end, its start in an earlier segment, is refused rather
    // than a silent half.
    let inside = wal.read(commits[1], None).expect("read").find(|r| r.is_err());
    assert!(matches!(inside, Some(Err(Error::Corrupt { .. }))));
}

#[test]
fn a_frame_cut_short_by_a_crash_is_dropped_whole_at_every_cut() {
    let fs = FaultyFs::new();
    let (wal, _) = open(&fs, framing(4096)).expect("open");
    for i in 0..4 {
        let entry = if i % 2 == 1 { big_txn(i, 3000) } else { txn(i) };
        wal.commit(&entry, false).expect("commit");
    }
    drop(wal);
    let full = read_all(&fs);
    let regions = record_regions(&fs);
    for (seg, (path, len)) in regions.iter().enumerate() {
        let data = fs.file(path).expect("segment");
        for cut in (0..=*len).step_by(8) {
            let crashed = fs.crash(Crash::KeepUnsynced);
            for (later, _) in &regions[seg + 1..] {
                crashed.remove(later).expect("remove");
            }
            crashed.set_file(path, data[..cut].to_vec());
            let (wal, recovered) =
                open(&crashed, framing(4096)).unwrap_or_else(|e| panic!("cut at {cut} of segment {seg}: {e}"));
            let mut kept = txn_ids(&full.iter().filter(|r| r.lsn <= recovered.last_lsn).cloned().collect::<Vec<_>>());
            assert_eq!(txn_ids(&read_all(&crashed)), kept, "cut at {cut} of segment {seg}");
            // An append after fragments that no end followed leaves them behind.
            wal.commit(&txn(99), false).expect("append after recovery");
            drop(wal);
            kept.push(99);
            assert_eq!(txn_ids(&read_all(&crashed)), kept, "cut at {cut} of segment {seg}, then an append");
        }
    }
}

/// The bytes of every segment that hold records, as (path, length) pairs.
fn record_regions(fs: &FaultyFs) -> Vec<(PathBuf, usize)> {
    let recovered = recover(&fs.clone(), &dir(), &Manifest::default(), Mode::ReadOnly, &mut |_| {}).expect("scan");
    recovered.segments.iter().map(|s| (s.path.clone(), s.end_offset as usize)).collect()
}

#[test]
fn every_bit_flip_in_a_cleanly_closed_log_refuses_startup() {
    let fs = FaultyFs::new();
    drop(write_log(&fs, 1000, 16 * 1024, true));
    let manifest = Manifest::load(&fs, &dir()).expect("manifest");
    assert_eq!(manifest.clean(), Lsn(1000 + (record_regions(&fs).len() as u64 - 1)));
    let mut flips = 0;
    for (path, len) in record_regions(&fs) {
        let original = fs.file(&path).expect("segment");
        let mut data = original.clone();
        for bit in 0..len * 8 {
            data[bit / 8] ^= 1 << (bit % 8);
            fs.set_file(&path, data.clone());
            match recover(&fs, &dir(), &manifest, Mode::ReadOnly, &mut |_| {}) {
                Err(Error::Corrupt { .. }) => {}
                other => panic!("flip of bit {bit} in {}: {other:?}", path.display()),
            }
            data[bit / 8] ^= 1 << (bit % 8);
            flips += 1;
        }
        fs.set_file(&path, original);
    }
    assert!(flips > 1000 * 64 * 8, "{flips} flips");
    // Untouched, it opens.
    assert!(recover(&fs, &dir(), &manifest, Mode::ReadOnly, &mut |_| {}).is_ok());
}

#[test]
fn every_cut_recovers_the_longest_complete_prefix_and_appends_survive() {
    let fs = FaultyFs::new();
    drop(write_log(&fs, 1000, 16 * 1024, false));
    let regions = record_regions(&fs);
    let records = read_all(&fs);
    assert!(records.len() >= 1000);
    let segment_size = 16 * 1024;
    // Where each record ends, as (segment index, end offset).
    let mut ends: Vec<(usize, usize)> = Vec::new();
    for r in &records {
        let seg = regions.iter().position(|(p, _)| p.display().to_string() == r.file).expect("segment");
        let size = fs.file(&regions[seg].0).map(|d| {
            let h = record::RecordHeader::parse(&d[r.offset as usize..]);
            record::record_size(h.len as usize)
        });
        ends.push((seg, r.offset as usize + size.expect("file")));
    }
    for (seg, (path, len)) in regions.iter().enumerate() {
        let full = fs.file(path).expect("segment");
        for cut in 0..=*len {
            for truncate in [false, true] {
                let crashed = fs.crash(Crash::KeepUnsynced);
                for (later, _) in &regions[seg + 1..] {
                    crashed.remove(later).expect("remove");
                }
                let mut data = full.clone();
                if truncate {
                    data.truncate(cut);
                } else {
                    data[cut..].fill(0);
                }
                crashed.set_file(path, data);
                // A record survives when no byte of it changed: zeroing its zero
                // padding leaves it whole, truncating into the padding does not.
                let intact = |&&(s, end): &&(usize, usize)| {
                    s < seg || (s == seg && (end <= cut || (!truncate && full[cut..end].iter().all(|&b| b == 0))))
                };
                let complete = ends.iter().filter(intact).count() as u64;
                let (wal, recovered) = open(&crashed, options(Durability::Strict, segment_size))
                    .unwrap_or_else(|e| panic!("cut at {cut} of segment {seg} (truncate {truncate}): {e}"));
                assert_eq!(recovered.last_lsn, Lsn(complete), "cut at {cut} of segment {seg}");
                let (lsn, _) = wal.commit(&txn(-1), false).expect("append after recovery");
                // Next LSN, or the one after if the append first sealed a full segment.
                assert!(lsn == Lsn(complete + 1) || lsn == Lsn(complete + 2), "appended at {lsn}");
                drop(wal);
                let (_, again) = open(&crashed, options(Durability::Strict, segment_size)).expect("second recovery");
                assert_eq!(again.last_lsn, lsn);
                assert!(again.torn.is_none());
            }
        }
    }
}

#[test]
fn a_failed_fsync_stops_all_acknowledgements_and_keeps_earlier_ones() {
    for fail_at in [1u64, 2, 5, 17] {
        let fs = FaultyFs::new();
        let (wal, _) = open(&fs, options(Durability::Strict, 8192)).expect("open");
        let wal = Arc::new(wal);
        fs.fail_sync_after(fail_at);
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let wal = wal.clone();
                std::thread::spawn(move || {
                    let mut acked = Vec::new();
                    let mut failed = false;
                    for i in 0..50 {
                        match wal.commit(&txn(t * 1000 + i), false) {
                            Ok(_) => {
                                assert!(!failed, "acknowledged after a failure");
                                acked.push(t * 1000 + i);
                            }
                            Err(Error::WalPoisoned(_)) => failed = true,
                            Err(e) => panic!("unexpected error {e}"),
                        }
                    }
                    acked
                })
            })
            .collect();
        let acked: Vec<i64> = threads.into_iter().flat_map(|t| t.join().expect("writer")).collect();
        assert!(wal.commit(&txn(-1), true).is_err(), "poisoned for good");
        let crashed = fs.crash(Crash::DropUnsynced);
        drop(wal);
        let (_, recovered) = open(&crashed, options(Durability::Strict, 8192)).expect("recover");
        let present = txn_ids(&read_all(&crashed));
        for id in &acked {
            assert!(present.contains(id), "acknowledged {id} lost (fsync {fail_at} failed)");
        }
        assert_contiguous(&read_all(&crashed));
        assert!(recovered.last_lsn.0 as usize >= acked.len());
    }
}

#[test]
fn a_failed_write_poisons_the_log() {
    let fs = FaultyFs::new();
    let (wal, _) = open(&fs, options(Durability::Batched, 8192)).expect("open");
    wal.commit(&txn(0), false).expect("first");
    fs.fail_write_after(1);
    assert!(matches!(wal.commit(&txn(1), false), Err(Error::WalPoisoned(_))));
    assert!(matches!(wal.commit(&txn(2), true), Err(Error::WalPoisoned(_))));
}

/// 20 synced commits, then one write of 40 more records that is never synced, and a
/// crash of the given kind.
fn crash_during_a_write(crash: Crash) -> FaultyFs {
    let fs = FaultyFs::new();
    let (wal, _) = open(&fs, options(Durability::Strict, 64 * 1024)).expect("open");
    for i in 0..20 {
        wal.commit(&txn(i), false).expect("commit");
    }
    let mut last = Lsn::ZERO;
    for i in 20..60 {
        last = wal.append(&txn(i)).expect("append").0;
    }
    wal.wait(last, false).expect("written, not synced");
    fs.crash(crash)
}

#[test]
fn a_torn_last_write_is_cut_at_any_sector() {
    for sectors in 0..8 {
        let crashed = crash_during_a_write(Crash::TearLastWrite { sectors });
        let (wal, recovered) = open(&crashed, options(Durability::Strict, 64 * 1024)).expect("recovers");
        assert!(recovered.last_lsn >= Lsn(20), "the synced prefix survives");
        let ids = txn_ids(&read_all(&crashed));
        assert_eq!(ids, (0..ids.len() as i64).collect::<Vec<_>>());
        wal.commit(&txn(100), false).expect("appends resume");
    }
}

#[test]
fn a_write_whose_first_sector_did_not_land_is_a_torn_tail() {
    let crashed = crash_during_a_write(Crash::KeepUnsynced);
    // The unsynced write began mid-sector; its first sector never reached the disk, so
    // from where the write began to that sector's end the file is still zero, while
    // its later sectors landed.
    let records = read_all(&crashed);
    let first_unsynced = records.iter().find(|r| r.lsn == Lsn(21)).expect("record 21");
    let path = PathBuf::from(&first_unsynced.file);
    let start = first_unsynced.offset as usize;
    let sector_end = (start / faulty::SECTOR + 1) * faulty::SECTOR;
    let mut data = crashed.file(&path).expect("segment");
    data[start..sector_end].fill(0);
    crashed.set_file(&path, data);
    let (wal, recovered) = open(&crashed, options(Durability::Strict, 64 * 1024)).expect("a torn tail, not damage");
    assert_eq!(recovered.last_lsn, Lsn(20));
    assert!(recovered.torn.as_ref().is_some_and(|t| t.dropped_records > 0));
    assert_eq!(wal.commit(&txn(100), false).expect("appends resume").0, Lsn(21));
}

#[test]
fn close_while_commits_are_in_flight_returns() {
    let fs = FaultyFs::new();
    fs.set_latency(Duration::from_millis(1));
    let (wal, _) = open(&fs, options(Durability::Strict, 64 * 1024)).expect("open");
    let wal = Arc::new(wal);
    let writers: Vec<_> = (0..8)
        .map(|t| {
            let wal = wal.clone();
            std::thread::spawn(move || {
                for i in 0..30 {
                    wal.commit(&txn(t * 1000 + i), false).expect("commit");
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(5));
    let (done, closed) = std::sync::mpsc::channel();
    let closer = wal.clone();
    std::thread::spawn(move || {
        let _ = done.send(closer.close());
    });
    closed.recv_timeout(Duration::from_secs(20)).expect("close hung").expect("close");
    for w in writers {
        w.join().expect("writer");
    }
}

#[test]
fn unknown_versions_are_incompatible_not_corrupt() {
    let fs = FaultyFs::new();
    drop(write_log(&fs, 3, 8192, false));
    let (path, _) = record_regions(&fs)[0].clone();
    let mut data = fs.file(&path).expect("segment");
    // Rewrite the second record with payload version 9 and a valid CRC.
    let second = record::SEGMENT_HEADER_LEN + {
        let h = record::RecordHeader::parse(&data[record::SEGMENT_HEADER_LEN..]);
        record::record_size(h.len as usize)
    };
    data[second + 21] = 9;
    let h = record::RecordHeader::parse(&data[second..]);
    let end = second + record::record_size(h.len as usize);
    let crc = crc32fast::hash(&data[second + 4..end]);
    data[second..second + 4].copy_from_slice(&crc.to_le_bytes());
    fs.set_file(&path, data);
    assert!(matches!(open(&fs, Options::default()), Err(Error::IncompatibleVersion { .. })));
}

#[test]
fn damage_in_a_sealed_segment_refuses_startup_after_a_crash() {
    let fs = FaultyFs::new();
    drop(write_log(&fs, 200, 4096, false));
    let (path, len) = record_regions(&fs)[0].clone();
    let mut data = fs.file(&path).expect("segment");
    data[len - 10] ^= 0x40;
    fs.set_file(&path, data);
    match open(&fs, options(Durability::Strict, 4096)) {
        Err(Error::Corrupt { file, .. }) => assert_eq!(Path::new(&file), path),
        other => panic!("expected corruption, got {:?}", other.map(|(_, r)| r.last_lsn)),
    }
}

#[test]
fn damage_below_a_later_durable_mark_refuses_startup_after_a_crash() {
    let fs = FaultyFs::new();
    drop(write_log(&fs, 50, 64 * 1024, false));
    let regions = record_regions(&fs);
    let (path, _) = regions.last().expect("segment").clone();
    let mut data = fs.file(&path).expect("segment");
    // Flip a byte in the 10th record's payload; later records' durable marks cover it.
    let mut pos = record::SEGMENT_HEADER_LEN;
    for _ in 0..9 {
        pos += record::record_size(record::RecordHeader::parse(&data[pos..]).len as usize);
    }
    data[pos + 40] ^= 1;
    fs.set_file(&path, data);
    assert!(matches!(open(&fs, options(Durability::Strict, 64 * 1024)), Err(Error::Corrupt { .. })));
}

#[test]
fn strict_mode_shares_fsyncs_between_concurrent_writers() {
    let fs = FaultyFs::new();
    let (wal, _) = open(&fs, options(Durability::Strict, DEFAULT_SEGMENT_SIZE)).expect("open");
    let wal = Arc::new(wal);
    let before = fs.syncs();
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let wal = wal.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    wal.commit(&txn(t * 1000 + i), false).expect("commit");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer");
    }
    assert_eq!(wal.durable_lsn(), Lsn(3200));
    let syncs = fs.syncs() - before;
    assert!(syncs <= 3200, "{syncs} fsyncs for 3,200 commits");
}

#[test]
fn batched_mode_syncs_on_its_interval_and_j_waits() {
    let fs = FaultyFs::new();
    let (wal, _) = open(&fs, options(Durability::Batched, DEFAULT_SEGMENT_SIZE)).expect("open");
    let (lsn, _) = wal.commit(&txn(1), false).expect("commit");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while wal.durable_lsn() < lsn {
        assert!(std::time::Instant::now() < deadline, "the interval fsync never came");
        std::thread::sleep(Duration::from_millis(1));
    }
    let (lsn, _) = wal.commit(&txn(2), true).expect("commit j");
    assert!(wal.durable_lsn() >= lsn);
    let (none, _) = open(&FaultyFs::new(), options(Durability::None, DEFAULT_SEGMENT_SIZE)).expect("open none");
    let (lsn, _) = none.commit(&txn(3), false).expect("commit");
    none.close().expect("close flushes");
    assert_eq!(none.durable_lsn(), lsn);
}
