//! `branchdb wal verify|dump`, and the hidden `wal stress` writer used by the
//! kill -9 test.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Subcommand;

use crate::config::Durability;
use crate::error::Result;
use crate::lsn::Lsn;
use crate::wal::fs::StdFs;
use crate::wal::recovery::{self, Mode};
use crate::wal::{BranchId, BranchOp, Entry, Manifest, Op, Options, PutKind, SegmentReader, Txn, Wal};

#[derive(Subcommand)]
pub enum WalCommand {
    /// Check every record; print the LSN range and any damage. Changes nothing.
    Verify { data_dir: PathBuf },
    /// Print records in a readable form.
    Dump {
        data_dir: PathBuf,
        /// First LSN to print.
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// How many records to print at most.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Append transactions from concurrent writers and print one `ack <lsn> <id>`
    /// line per acknowledged commit (for crash tests).
    #[command(hide = true)]
    Stress {
        data_dir: PathBuf,
        #[arg(long, default_value_t = 8)]
        writers: u64,
        /// Added to every document id, so runs can be told apart.
        #[arg(long, default_value_t = 0)]
        tag: i64,
        #[arg(long, value_enum, default_value = "strict")]
        durability: Durability,
        #[arg(long, default_value_t = crate::wal::DEFAULT_SEGMENT_SIZE)]
        segment_size: u64,
    },
}

/// Where the log lives inside a data directory.
pub fn wal_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("wal")
}

pub fn run(command: WalCommand) -> Result<ExitCode> {
    match command {
        WalCommand::Verify { data_dir } => verify(&wal_dir(&data_dir)),
        WalCommand::Dump { data_dir, from, limit } => dump(&wal_dir(&data_dir), Lsn(from), limit),
        WalCommand::Stress { data_dir, writers, tag, durability, segment_size } => {
            stress(&wal_dir(&data_dir), writers, tag, Options { durability, segment_size, ..Options::default() })
        }
    }
}

fn verify(dir: &Path) -> Result<ExitCode> {
    let manifest = Manifest::load(&StdFs, dir)?;
    let scanned = recovery::recover(&StdFs, dir, &manifest, Mode::ReadOnly, &mut |p| {
        eprintln!("  segment {}/{}: {} records, {} bytes, LSN {}", p.segment, p.segments, p.records, p.bytes, p.lsn);
    });
    match scanned {
        Ok(r) => {
            println!(
                "ok: LSN {}..={} in {} records, {} segments, {} bytes of records",
                r.first_lsn,
                r.last_lsn,
                r.records,
                r.segments.len(),
                r.bytes
            );
            if let Some(t) = r.torn {
                println!(
                    "torn tail: {} at offset {} (LSN {}): {} bytes and {} records after a hole would be cut at the next start",
                    t.file.display(),
                    t.offset,
                    t.lsn,
                    t.dropped_bytes,
                    t.dropped_records
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("damaged: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn dump(dir: &Path, from: Lsn, limit: Option<usize>) -> Result<ExitCode> {
    let reader = SegmentReader::new(Arc::new(StdFs), dir, from, None)?;
    let mut out = std::io::stdout().lock();
    for record in reader.take(limit.unwrap_or(usize::MAX)) {
        let r = record?;
        let time = r.time.try_to_rfc3339_string().unwrap_or_else(|_| r.time.to_string());
        let line = match &r.entry {
            Entry::Txn(txn) => describe_txn(txn),
            Entry::Group(parts) => {
                let mut line = format!("group parts={}", parts.len());
                for txn in parts {
                    line.push_str("\n  ");
                    line.push_str(&describe_txn(txn).replace('\n', "\n  "));
                }
                line
            }
            Entry::Branch(BranchOp::Create { id, db, name, parent, base_lsn }) => format!(
                "branch create id={} {db}@{name} parent={} base_lsn={base_lsn}",
                id.0,
                parent.map_or("none".to_owned(), |p| p.0.to_string())
            ),
            Entry::Branch(BranchOp::Drop { id }) => format!("branch drop id={}", id.0),
            Entry::Branch(BranchOp::Reset { id, new_id, parent, base_lsn }) => {
                format!("branch reset id={} new_id={} parent={} base_lsn={base_lsn}", id.0, new_id.0, parent.0)
            }
            Entry::Branch(BranchOp::Update { id, settings }) => {
                format!("branch update id={} settings={}", id.0, settings.to_document())
            }
            Entry::Checkpoint { applied } => format!("checkpoint applied={applied}"),
            Entry::Seal => "seal".to_owned(),
        };
        writeln!(out, "lsn={} time={time} {}:{} {line}", r.lsn, r.file, r.offset)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A transaction as `dump` prints it: a header line, then one line per op.
fn describe_txn(Txn { branch, ops, origin, session }: &Txn) -> String {
    let mut line = format!("txn branch={} ops={}", branch.0, ops.len());
    if let Some(origin) = origin {
        line.push_str(&format!(" origin={}@{}", origin.branch.0, origin.lsn));
    }
    if let Some(session) = session {
        let ids: Vec<i32> = session.statements.iter().map(|s| s.id).collect();
        line.push_str(&format!(" lsid={} txnNumber={} stmtIds={ids:?}", session.lsid, session.txn_number));
    }
    for op in ops {
        line.push_str(&match op {
            Op::Put { collection, kind, doc } => format!("\n    {} {collection} {doc}", kind.name()),
            Op::Delete { collection, id } => format!("\n    delete {collection} {id}"),
            Op::Ddl(ddl) => format!("\n    ddl {}", ddl.to_document()),
        });
    }
    line
}

fn stress(dir: &Path, writers: u64, tag: i64, options: Options) -> Result<ExitCode> {
    let (wal, _) = Wal::open(Arc::new(StdFs), dir, options, &mut |_| {})?;
    let wal = Arc::new(wal);
    let threads: Vec<_> = (0..writers)
        .map(|w| {
            let wal = wal.clone();
            std::thread::spawn(move || -> Result<()> {
                for n in 0i64.. {
                    let id = tag + (w as i64) * 1_000_000_000 + n;
                    let doc = bson::doc! {"_id": id, "pad": "x".repeat((n % 300) as usize)};
                    let entry = Entry::Txn(Txn::new(
                        BranchId(1),
                        vec![Op::Put { collection: "c".into(), kind: PutKind::Insert, doc }],
                    ));
                    let (lsn, _) = wal.commit(&entry, false)?;
                    // One write per line, so a kill never splits one.
                    std::io::stdout().lock().write_all(format!("ack {lsn} {id}\n").as_bytes())?;
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join().map_err(|_| crate::error::Error::Internal("a writer panicked".into()))??;
    }
    Ok(ExitCode::SUCCESS)
}
