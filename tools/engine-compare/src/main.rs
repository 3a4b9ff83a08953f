//! redb vs fjall on the versioned store's key pattern: 1,000,000 keys of 40 bytes
//! (collection, hashed `_id`, branch, inverted LSN) with 100-byte values, loaded in
//! commits of 1,000; 20,000 single-key commits; 100,000 point seeks (a range from a
//! key, as a versioned read does); a full scan; reopening after a clean close and
//! after an exit without one.
//!
//! `cargo run --release -- <redb|fjall> <load|read|crash> <dir>`. A scratch
//! measurement: it unwraps freely.

use redb::ReadableDatabase;
use redb::ReadableTable;
use std::time::Instant;
const N: u64 = 1_000_000;
fn key(id: u64, lsn: u64) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[0..8].copy_from_slice(&7u64.to_be_bytes());
    k[8..16].copy_from_slice(&0x0700_0000_0000_0000u64.to_be_bytes());
    k[16..24].copy_from_slice(&id.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
    k[24..32].copy_from_slice(&1u64.to_be_bytes());
    k[32..40].copy_from_slice(&(u64::MAX - lsn).to_be_bytes());
    k
}
fn rnd(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}
const T: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("v");
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let engine = args[1].as_str();
    let phase = args[2].as_str();
    let dir = std::path::PathBuf::from(&args[3]);
    let val = vec![0x55u8; 100];
    let t = Instant::now();
    match engine {
        "redb" => {
            let path = dir.join("db.redb");
            let db = redb::Database::create(&path).unwrap();
            println!("open {:?}", t.elapsed());
            if phase == "load" || phase == "crash" {
                let t = Instant::now();
                for b in 0..N / 1000 {
                    let mut tx = db.begin_write().unwrap();
                    tx.set_durability(redb::Durability::None).unwrap();
                    {
                        let mut tb = tx.open_table(T).unwrap();
                        for i in b * 1000..(b + 1) * 1000 {
                            tb.insert(&key(i, i + 1)[..], &val[..]).unwrap();
                        }
                    }
                    tx.commit().unwrap();
                }
                println!("bulk 1M in 1000-batches {:?}", t.elapsed());
                let t = Instant::now();
                for i in 0..20_000u64 {
                    let mut tx = db.begin_write().unwrap();
                    tx.set_durability(redb::Durability::None).unwrap();
                    {
                        let mut tb = tx.open_table(T).unwrap();
                        tb.insert(&key(i * 37 % N, N + i + 1)[..], &val[..]).unwrap();
                    }
                    tx.commit().unwrap();
                }
                println!("20k single commits {:?}", t.elapsed());
                let t = Instant::now();
                let mut tx = db.begin_write().unwrap();
                tx.set_durability(redb::Durability::Immediate).unwrap();
                tx.set_quick_repair(true);
                tx.commit().unwrap();
                println!("durable commit {:?}", t.elapsed());
                if phase == "crash" {
                    std::process::exit(0);
                }
            }
            let t = Instant::now();
            let rt = db.begin_read().unwrap();
            let tb = rt.open_table(T).unwrap();
            let mut s = 1u64;
            let mut found = 0;
            for _ in 0..100_000 {
                let i = rnd(&mut s) % N;
                let k = key(i, u64::MAX - 1);
                let mut it = tb.range(&k[..]..).unwrap();
                if let Some(e) = it.next() {
                    let e = e.unwrap();
                    if e.0.value()[..32] == k[..32] {
                        found += 1;
                    }
                }
            }
            println!("100k point seeks {:?} found {found}", t.elapsed());
            let t = Instant::now();
            let mut n = 0;
            let mut bytes = 0;
            for e in tb.iter().unwrap() {
                let e = e.unwrap();
                n += 1;
                bytes += e.1.value().len();
            }
            println!("scan {n} ({bytes}) {:?}", t.elapsed());
            println!("size {}", std::fs::metadata(&path).unwrap().len());
        }
        _ => {
            let db = fjall::Database::builder(&dir).manual_journal_persist(true).open().unwrap();
            let ks = db.keyspace("v", fjall::KeyspaceCreateOptions::default).unwrap();
            println!("open {:?}", t.elapsed());
            if phase == "load" || phase == "crash" {
                let t = Instant::now();
                for b in 0..N / 1000 {
                    let mut batch = db.batch();
                    for i in b * 1000..(b + 1) * 1000 {
                        batch.insert(&ks, key(i, i + 1).to_vec(), val.clone());
                    }
                    batch.commit().unwrap();
                }
                println!("bulk 1M in 1000-batches {:?}", t.elapsed());
                let t = Instant::now();
                for i in 0..20_000u64 {
                    ks.insert(key(i * 37 % N, N + i + 1).to_vec(), val.clone()).unwrap();
                }
                println!("20k single commits {:?}", t.elapsed());
                let t = Instant::now();
                db.persist(fjall::PersistMode::SyncAll).unwrap();
                println!("durable commit {:?}", t.elapsed());
                if phase == "crash" {
                    std::process::exit(0);
                }
            }
            let t = Instant::now();
            let mut s = 1u64;
            let mut found = 0;
            for _ in 0..100_000 {
                let i = rnd(&mut s) % N;
                let k = key(i, u64::MAX - 1);
                if let Some(e) = ks.range(k.to_vec()..).next() {
                    let kk = e.key().unwrap();
                    if kk[..32] == k[..32] {
                        found += 1;
                    }
                }
            }
            println!("100k point seeks {:?} found {found}", t.elapsed());
            let t = Instant::now();
            let mut n = 0;
            let mut bytes = 0;
            for e in ks.iter() {
                let (_k, v) = e.into_inner().unwrap();
                n += 1;
                bytes += v.len();
            }
            println!("scan {n} ({bytes}) {:?}", t.elapsed());
            println!("size {}", db.disk_space().unwrap());
        }
    }
}
