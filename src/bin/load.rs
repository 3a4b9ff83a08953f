//! The load tool: drives a running server over the wire with many connections and
//! reports throughput and latency.
//!
//! ```text
//! cargo run --release --bin load -- --addr 127.0.0.1:27017 --connections 1000 --seconds 10 ping
//! cargo run --release --bin load -- --connections 16 --total 1000000 --batch 1000 insert
//! cargo run --release --bin load -- --connections 16 --keys 1000000 find-id
//! ```

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bson::{doc, Bson, Document};
use clap::{Parser, ValueEnum};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Parser)]
#[command(about = "Drive a branchdb server over the wire and report throughput and latency")]
struct Args {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:27017")]
    addr: SocketAddr,
    /// Concurrent connections, each with one request in flight.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// How long to run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The database (and branch: `shop@feature-x`) the data workloads use.
    #[arg(long, default_value = "load")]
    db: String,
    /// `insert`: documents per insert command.
    #[arg(long, default_value_t = 1000)]
    batch: u64,
    /// `insert`: stop after this many documents (all connections together); the
    /// `_id`s are 0..total.
    #[arg(long)]
    total: Option<u64>,
    /// `find-id`: look up `_id`s drawn from 0..keys.
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// What each connection sends.
    workload: Workload,
}

#[derive(Clone, Copy, ValueEnum)]
enum Workload {
    /// `{ping: 1}` in a loop.
    Ping,
    /// `insert` of `--batch` small documents into `<db>.items`.
    Insert,
    /// `find` by a random `_id` in `<db>.items`, one document per reply.
    FindId,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut tasks = Vec::with_capacity(args.connections);
    let args = std::sync::Arc::new(args);
    for connection in 0..args.connections {
        let stream = TcpStream::connect(args.addr).await?;
        stream.set_nodelay(true)?;
        tasks.push(tokio::spawn(drive(stream, args.clone(), connection as u64, deadline)));
    }
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut failures = 0u64;
    let mut docs = 0u64;
    for task in tasks {
        match task.await {
            Ok(Ok((mut l, d))) => {
                latencies.append(&mut l);
                docs += d;
            }
            Ok(Err(e)) => {
                failures += 1;
                eprintln!("connection failed: {e}");
            }
            Err(e) => return Err(std::io::Error::other(e)),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| latencies.get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)));
    let us = |d: Option<&Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1e6);
    println!(
        "connections={} ops={} docs={docs} failed_connections={} ops_per_sec={:.0} docs_per_sec={:.0} p50_us={:.0} p99_us={:.0} max_us={:.0}",
        args.connections,
        latencies.len(),
        failures,
        latencies.len() as f64 / elapsed,
        docs as f64 / elapsed,
        us(pct(0.50)),
        us(pct(0.99)),
        us(latencies.last()),
    );
    if failures > 0 {
        std::process::exit(1);
    }
    Ok(())
}

/// Sends requests until the deadline (or, for `insert`, the total); returns each
/// request's latency and the documents it wrote or read.
async fn drive(
    mut stream: TcpStream,
    args: std::sync::Arc<Args>,
    connection: u64,
    deadline: Instant,
) -> std::io::Result<(Vec<Duration>, u64)> {
    let mut latencies = Vec::new();
    let mut buf = Vec::new();
    let mut docs = 0u64;
    let mut next_id = connection;
    let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ (connection + 1).wrapping_mul(0x2545_F491_4F6C_DD1D);
    let ping = op_msg(&doc! {"ping": 1, "$db": "admin"})?;
    while Instant::now() < deadline {
        let frame = match args.workload {
            Workload::Ping => ping.clone(),
            Workload::Insert => {
                let mut batch = Vec::new();
                while batch.len() < args.batch as usize && args.total.is_none_or(|t| next_id < t) {
                    batch.push(bson::Bson::Document(doc! {"_id": next_id as i64, "n": next_id as i64, "name": "load"}));
                    next_id += args.connections as u64;
                }
                if batch.is_empty() {
                    break;
                }
                op_msg(&doc! {"insert": "items", "documents": batch, "$db": &args.db})?
            }
            Workload::FindId => {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let id = (rng % args.keys.max(1)) as i64;
                op_msg(&doc! {"find": "items", "filter": {"_id": id}, "singleBatch": true, "$db": &args.db})?
            }
        };
        let sent = Instant::now();
        stream.write_all(&frame).await?;
        let reply = read_reply(&mut stream, &mut buf).await?;
        // Drivers accept `ok` as any number equal to 1; so does this tool.
        let ok = matches!(reply.get("ok"), Some(Bson::Double(v)) if *v == 1.0)
            || matches!(reply.get("ok"), Some(Bson::Int32(1) | Bson::Int64(1)));
        if !ok || reply.contains_key("writeErrors") {
            return Err(std::io::Error::other(format!("command failed: {reply}")));
        }
        latencies.push(sent.elapsed());
        docs += match args.workload {
            Workload::Ping => 0,
            Workload::Insert => reply.get_i32("n").unwrap_or(0) as u64,
            Workload::FindId => {
                reply.get_document("cursor").and_then(|c| c.get_array("firstBatch")).map_or(0, |b| b.len() as u64)
            }
        };
    }
    Ok((latencies, docs))
}

fn op_msg(command: &Document) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    command.to_writer(&mut body).map_err(std::io::Error::other)?;
    let len = (16 + 4 + 1 + body.len()) as i32;
    let mut frame = Vec::new();
    for field in [len, 1, 0, 2013] {
        frame.extend_from_slice(&field.to_le_bytes());
    }
    frame.extend_from_slice(&0u32.to_le_bytes());
    frame.push(0);
    frame.extend_from_slice(&body);
    Ok(frame)
}

async fn read_reply(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Document> {
    let mut header = [0u8; 16];
    stream.read_exact(&mut header).await?;
    let len = i32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let body_len = usize::try_from(len).ok().and_then(|l| l.checked_sub(16)).filter(|&l| l > 5);
    let body_len = body_len.ok_or_else(|| std::io::Error::other(format!("bad reply length {len}")))?;
    buf.resize(body_len, 0);
    stream.read_exact(buf).await?;
    Document::from_reader(&buf[5..]).map_err(std::io::Error::other)
}
