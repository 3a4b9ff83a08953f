//! Restart and disk-use figures of the branches issue, printed as a table:
//!
//! - `restart`: a database of 1,000,000 documents is loaded by a child process
//!   (checkpointing in the background as the server does), which then either
//!   closes cleanly or kills itself with SIGKILL; the time to open the log and the
//!   store again is measured, and the time of a full replay (the store deleted, the
//!   whole log applied again).
//! - `disk`: a database of about 1 GB (1,000,000 documents of 1 KB), then 10
//!   branches each rewriting a different 1% of the documents: the data directory's
//!   size before and after.
//!
//! `cargo bench --bench storage -- restart|disk [documents]`.

mod common;

use std::time::{Duration, Instant};

use branchdb::config::Durability;

use common::{disk_usage, load, open, scratch, touch};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    if args.first().map(String::as_str) == Some("child-load") {
        return child_load(&args[1], &args[2], docs_from(&args[3]));
    }
    let docs: i64 = args.get(1).map_or(1_000_000, |n| docs_from(n));
    match args.first().map(String::as_str) {
        Some("restart") => restart(docs),
        Some("disk") => disk(docs),
        _ => {
            restart(docs);
            disk(docs);
        }
    }
}

fn docs_from(text: &str) -> i64 {
    text.parse().expect("document count")
}

/// In a child: loads `docs` documents into `dir`, then exits as `how` says.
fn child_load(dir: &str, how: &str, docs: i64) {
    let (wal, store) = open(std::path::Path::new(dir), Durability::Strict, true);
    load(&store, "shop", "items", 0..docs, 200);
    match how {
        "clean" => {
            store.close().expect("close");
            wal.close().expect("close");
        }
        _ => {
            // As `kill -9`: no close, no final checkpoint.
            // SAFETY: kill and getpid have no memory-safety preconditions.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    }
}

fn restart(docs: i64) {
    println!("restart of a {docs}-document database (200-byte documents)");
    for how in ["clean", "kill-9"] {
        let dir = scratch();
        let started = Instant::now();
        let status = std::process::Command::new(std::env::current_exe().expect("exe"))
            .args(["child-load", &dir.path().display().to_string(), how, &docs.to_string()])
            .status()
            .expect("child");
        let load_time = started.elapsed();
        assert!(how != "clean" || status.success(), "the loading child failed");
        let started = Instant::now();
        let (wal, store) = open(dir.path(), Durability::Strict, false);
        let reopen = started.elapsed();
        let lsn = store.published().lsn;
        store.close().expect("close");
        wal.close().expect("close");
        drop((wal, store));
        std::fs::remove_dir_all(dir.path().join("store")).expect("remove the store");
        let started = Instant::now();
        let (wal, store) = open(dir.path(), Durability::Strict, false);
        let replay = started.elapsed();
        assert_eq!(store.published().lsn, lsn, "a full replay reaches the same LSN");
        drop((wal, store));
        println!(
            "  {how:<7} load {:>7.2} s   restart {:>7.3} s   full replay of LSN 1..={lsn} {:>7.2} s",
            secs(load_time),
            secs(reopen),
            secs(replay)
        );
    }
}

fn disk(docs: i64) {
    const SIZE: usize = 1000;
    let dir = scratch();
    let (wal, store) = open(dir.path(), Durability::Batched, true);
    load(&store, "shop", "items", 0..docs, SIZE);
    store.checkpoint().expect("checkpoint");
    let single = disk_usage(dir.path());
    for b in 0..10 {
        let name = format!("b{b}");
        store.create_branch("shop", &name, "main", None).expect("branch");
        touch(&store, &format!("shop@{name}"), "items", 0..docs, 100, b, SIZE);
    }
    store.checkpoint().expect("checkpoint");
    let branched = disk_usage(dir.path());
    println!(
        "disk: {docs} documents of {SIZE} B: single database {:.1} MiB; with 10 branches each rewriting 1%: {:.1} MiB; ratio {:.3}",
        single as f64 / 1048576.0,
        branched as f64 / 1048576.0,
        branched as f64 / single as f64
    );
    println!(
        "  of which the store: {:.1} MiB, the WAL: {:.1} MiB",
        disk_usage(&dir.path().join("store")) as f64 / 1048576.0,
        disk_usage(&dir.path().join("wal")) as f64 / 1048576.0
    );
    store.close().expect("close");
    wal.close().expect("close");
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}
