//! The load tool: drives a running server over the wire with many connections and
//! reports throughput and latency.
//!
//! ```text
//! cargo run --release --bin load -- --uri 127.0.0.1:27017 --connections 1000 --seconds 10 ping
//! ```

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bson::{doc, Document};
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
    /// What each connection sends.
    workload: Workload,
}

#[derive(Clone, Copy, ValueEnum)]
enum Workload {
    /// `{ping: 1}` in a loop.
    Ping,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut tasks = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        let stream = TcpStream::connect(args.addr).await?;
        stream.set_nodelay(true)?;
        tasks.push(tokio::spawn(drive(stream, args.workload, deadline)));
    }
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut failures = 0u64;
    for task in tasks {
        match task.await {
            Ok(Ok(mut l)) => latencies.append(&mut l),
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
        "connections={} ops={} failed_connections={} ops_per_sec={:.0} p50_us={:.0} p99_us={:.0} max_us={:.0}",
        args.connections,
        latencies.len(),
        failures,
        latencies.len() as f64 / elapsed,
        us(pct(0.50)),
        us(pct(0.99)),
        us(latencies.last()),
    );
    if failures > 0 {
        std::process::exit(1);
    }
    Ok(())
}

/// Sends requests until the deadline; returns each request's latency.
async fn drive(mut stream: TcpStream, workload: Workload, deadline: Instant) -> std::io::Result<Vec<Duration>> {
    let command = match workload {
        Workload::Ping => doc! {"ping": 1, "$db": "admin"},
    };
    let frame = op_msg(&command)?;
    let mut latencies = Vec::new();
    let mut buf = Vec::new();
    while Instant::now() < deadline {
        let sent = Instant::now();
        stream.write_all(&frame).await?;
        let reply = read_reply(&mut stream, &mut buf).await?;
        if reply.get_f64("ok") != Ok(1.0) {
            return Err(std::io::Error::other(format!("command failed: {reply}")));
        }
        latencies.push(sent.elapsed());
    }
    Ok(latencies)
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
