//! The load tool: drives a running server over the wire with many connections and
//! reports throughput and latency.
//!
//! ```text
//! cargo run --release --bin load -- --addr 127.0.0.1:27017 --connections 1000 --seconds 10 ping
//! cargo run --release --bin load -- --connections 16 --total 1000000 --batch 1000 insert
//! cargo run --release --bin load -- --connections 16 --keys 1000000 find-id
//! cargo run --release --bin load -- --connections 1 --field u create-index
//! cargo run --release --bin load -- --connections 16 --keys 1000000 find-eq
//! cargo run --release --bin load -- --connections 1 --keys 1000000 scan
//! cargo run --release --bin load -- --connections 1 --keys 1000000 group
//! cargo run --release --bin load -- --connections 1 --keys 1000000 window
//! cargo run --release --bin load -- --connections 64 txn
//! cargo run --release --bin load -- --connections 1 --keys 1000000 find-id-txn
//! cargo run --release --bin load -- --user root --password pw --connections 16 scram
//! cargo run --release --bin load -- --connections 2 watch
//! cargo run --release --bin load -- --connections 16 --total 1000000 --words 6 insert
//! cargo run --release --bin load -- --connections 1 create-text-index
//! cargo run --release --bin load -- --connections 1 text
//! cargo run --release --bin load -- --connections 1 --field text --collation en create-index
//! cargo run --release --bin load -- --connections 1 --words 6 --collation en find-text
//! cargo run --release --bin load -- --connections 16 --batch 1 --streams 1000 insert
//! cargo run --release --bin load -- --connections 16 --total 1000000 --points insert
//! cargo run --release --bin load -- --connections 1 create-geo-index
//! cargo run --release --bin load -- --connections 1 --limit 10 near
//! cargo run --release --bin load -- --connections 1 --total 1000000 --batch 100000 bulk-write
//! ```
//!
//! With `--user` and `--password`, each connection logs in first (SCRAM-SHA-256 on
//! `--auth-db`); `scram` logs in again and again, one whole conversation per op.
//!
//! `insert` writes documents `{_id, n, name, k, u}` (see [`item_fields`]): `k` takes
//! [`GROUPS`] values and `u` is unique, so that `find-eq` (equality on `u`, after
//! `create-index` on it), `scan` (an unindexed `count` matching `k: 0`, 1% of the
//! documents), `group` (`$group` by `k`) and `window` (a `$setWindowFields` sum
//! over a sliding window of [`WINDOW`] documents, partitioned by `k` and sorted by
//! `u`, counted by a `$group`) have something to work on. `--keys`
//! tells those workloads how many documents the collection holds.
//!
//! `txn` commits small transactions: each op inserts two documents in a transaction
//! (`startTransaction`, a second insert, `commitTransaction`: three round trips).
//! `find-id-txn` is `find-id` inside read-only snapshot transactions of
//! [`TXN_FINDS`] finds each, committed after the last (with it in the op's time).
//! Each connection has its own session.
//!
//! `watch` measures change streams' commit-to-event latency: connection 0 follows
//! `<db>.watched` with a change stream (a `getMore` always waiting), the others
//! insert into it one document at a time; each op is the time from an insert's
//! acknowledgement reaching its writer to its event reaching the follower.
//! `--streams N` keeps N change streams open on `<db>.<stream-collection>` during
//! any workload, each on its own connection and always waiting in a `getMore`, and
//! adds the events they received (`stream_events`). The streams are opened before
//! the workload starts; their clients run on a thread of their own at the lowest CPU
//! priority and only count the events of each batch, so that on one machine they
//! stand for consumers on others and what the figure shows is the server's cost.
//!
//! `insert` and `bulk-write` send their documents and operations as OP_MSG document
//! sequences, as drivers do, and build each command on a thread of their own while
//! the one before it is in flight, so that what the figure shows is the server's
//! time, not this tool's.
//!
//! Every workload prints one line of `name=value` fields: the ops done (`ops`: a
//! request, or for `txn` a whole transaction), the documents written, read or (for
//! `scan` and `group`) gone through, per second too, and the ops' latencies
//! (`min_us`, `mean_us`, `p50_us`, `p99_us`, `p999_us`, `max_us`); `txn` adds its
//! `commitTransaction` requests' (`commit_p50_us`, `commit_p99_us`).

mod raw;

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
    /// The documents `insert` wrote (its `--total`): `find-id` and `find-eq` look up
    /// values drawn from 0..keys; `scan` and `group` go through this many documents.
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// `create-index`: the field to index, ascending.
    #[arg(long, default_value = "u")]
    field: String,
    /// `create-index` and `find-text`: compare strings by this locale's collation
    /// at strength 2 (case-insensitive) instead of by their bytes.
    #[arg(long)]
    collation: Option<String>,
    /// `insert`: give each document a `text` field of this many words, drawn from
    /// a vocabulary of [`VOCABULARY`] made-up words (none when 0).
    #[arg(long, default_value_t = 0)]
    words: usize,
    /// `insert`: give each document a GeoJSON point `loc`, spread evenly over a
    /// square degree (about 111 by 84 km) around [`POINTS_ORIGIN`].
    #[arg(long)]
    points: bool,
    /// `text` and `near`: the most documents a query returns.
    #[arg(long, default_value_t = 10)]
    limit: i64,
    /// Log in as this user (SCRAM-SHA-256) before the workload.
    #[arg(long)]
    user: Option<String>,
    /// The user's password.
    #[arg(long, env = "BRANCHDB_LOAD_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// The database that holds the user.
    #[arg(long, default_value = "admin")]
    auth_db: String,
    /// Change streams to keep open during the workload (each on its own connection).
    #[arg(long, default_value_t = 0)]
    streams: usize,
    /// The collection of `--db` the `--streams` watch.
    #[arg(long, default_value = "items")]
    stream_collection: String,
    /// What each connection sends.
    workload: Workload,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Workload {
    /// `{ping: 1}` in a loop.
    Ping,
    /// `insert` of `--batch` small documents into `<db>.items`.
    Insert,
    /// `find` by a random `_id` in `<db>.items`, one document per reply.
    FindId,
    /// `createIndexes` of `{<field>: 1}` on `<db>.items`, sent once per connection
    /// whatever `--seconds` says.
    CreateIndex,
    /// `find` by equality on a random `u` in `<db>.items`, one document per reply
    /// (indexed after `create-index --field u`).
    FindEq,
    /// `count` of the documents of `<db>.items` with `k: 0` (1% of them), which
    /// goes through every document when `k` has no index.
    Scan,
    /// `aggregate` of `<db>.items` grouped by `k`, counting each group.
    Group,
    /// `aggregate` of `<db>.items` summing `n` over a sliding window of
    /// [`WINDOW`] documents in each partition by `k`, sorted by `u`.
    Window,
    /// A transaction inserting two documents into `<db>.txn_items`, committed (the
    /// collection is best created first: concurrent first transactions conflict on
    /// creating it).
    Txn,
    /// `find-id` in read-only snapshot transactions of [`TXN_FINDS`] finds.
    FindIdTxn,
    /// A whole SCRAM-SHA-256 login (`saslStart`, `saslContinue`) as `--user`.
    Scram,
    /// Commit-to-event latency of a change stream on `<db>.watched` (connection 0
    /// follows it, the others insert).
    Watch,
    /// `createIndexes` of a text index on `text` in `<db>.items`.
    CreateTextIndex,
    /// `find` with `$text` of two random words of the vocabulary in `<db>.items`
    /// (inserted with `--words`, indexed after `create-text-index`), the `--limit`
    /// best by text score.
    Text,
    /// `find` by equality on the `text` of a random document in `<db>.items`
    /// (inserted with `--words`, indexed after `create-index --field text`), with
    /// `--collation` when given.
    FindText,
    /// `createIndexes` of a 2dsphere index on `loc` in `<db>.items`.
    CreateGeoIndex,
    /// `find` with `$near` a random point of the square `--points` fills, the
    /// `--limit` nearest documents.
    Near,
    /// `bulkWrite` of `--batch` mixed operations on `<db>.bulk_items`: of each four,
    /// two insert new documents (as `insert` writes them), one updates the first of
    /// them and one deletes the second (half inserts, a quarter updates, a quarter deletes); `--total` counts
    /// operations. Each operation counts as a document written.
    BulkWrite,
}

/// When each `watch` insert was acknowledged, by `_id`.
static ACKED: std::sync::Mutex<Vec<Option<Instant>>> = std::sync::Mutex::new(Vec::new());

/// The finds of one `find-id-txn` transaction.
const TXN_FINDS: u64 = 1000;

/// The values `k` takes in the documents `insert` writes: `_id % GROUPS`.
const GROUPS: u64 = 100;

/// The documents in each sliding window of the `window` workload.
const WINDOW: u64 = 100;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut tasks = Vec::with_capacity(args.connections);
    let args = std::sync::Arc::new(args);
    let followers = match args.streams {
        0 => None,
        _ => Some(followers(args.clone(), deadline).await?),
    };
    for connection in 0..args.connections {
        let stream = TcpStream::connect(args.addr).await?;
        stream.set_nodelay(true)?;
        tasks.push(tokio::spawn(drive(stream, args.clone(), connection as u64, deadline)));
    }
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut commits = Vec::new();
    let mut failures = 0u64;
    let mut docs = 0u64;
    for task in tasks {
        match task.await {
            Ok(Ok(Driven { latencies: mut l, commits: mut c, docs: d })) => {
                latencies.append(&mut l);
                commits.append(&mut c);
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
    let mut stream_events = 0u64;
    if let Some(followers) = followers {
        let (events, failed) = followers.join().map_err(|_| std::io::Error::other("the followers panicked"))?;
        stream_events = events;
        failures += failed;
    }
    latencies.sort_unstable();
    commits.sort_unstable();
    let pct = |l: &[Duration], p: f64| l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1))).copied();
    let us = |d: Option<Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1e6);
    let mean = latencies.iter().sum::<Duration>().checked_div(latencies.len() as u32);
    let mut commit_fields = match commits.is_empty() {
        true => String::new(),
        false => format!(" commit_p50_us={:.0} commit_p99_us={:.0}", us(pct(&commits, 0.5)), us(pct(&commits, 0.99))),
    };
    if args.streams > 0 {
        commit_fields.push_str(&format!(" streams={} stream_events={stream_events}", args.streams));
    }
    println!(
        "connections={} ops={} docs={docs} failed_connections={} ops_per_sec={:.0} docs_per_sec={:.0} min_us={:.0} mean_us={:.0} p50_us={:.0} p99_us={:.0} p999_us={:.0} max_us={:.0}{commit_fields}",
        args.connections,
        latencies.len(),
        failures,
        latencies.len() as f64 / elapsed,
        docs as f64 / elapsed,
        us(latencies.first().copied()),
        us(mean),
        us(pct(&latencies, 0.50)),
        us(pct(&latencies, 0.99)),
        us(pct(&latencies, 0.999)),
        us(latencies.last().copied()),
    );
    if failures > 0 {
        std::process::exit(1);
    }
    Ok(())
}

/// What one connection did: each op's latency, each `commitTransaction`'s, and the
/// documents written, read or gone through.
struct Driven {
    latencies: Vec<Duration>,
    commits: Vec<Duration>,
    docs: u64,
}

/// A connection's session, for the transaction workloads.
struct Session {
    lsid: Document,
    txn_number: i64,
    /// Finds in the open `find-id-txn` transaction.
    finds: u64,
}

impl Session {
    /// A session with a fresh id (the server keeps what sessions did across runs).
    fn new(connection: u64) -> Session {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&(nanos as u64).to_le_bytes());
        bytes[8..].copy_from_slice(&connection.to_le_bytes());
        let id = bson::Binary { subtype: bson::spec::BinarySubtype::Uuid, bytes: bytes.to_vec() };
        Session { lsid: doc! {"id": id}, txn_number: 0, finds: 0 }
    }

    /// `command` as a statement of the open transaction (the first starts it).
    fn statement(&self, mut command: Document, first: bool) -> Document {
        command.insert("lsid", self.lsid.clone());
        command.insert("txnNumber", self.txn_number);
        command.insert("autocommit", false);
        if first {
            command.insert("startTransaction", true);
        }
        command
    }

    fn commit(&self) -> Document {
        self.statement(doc! {"commitTransaction": 1, "$db": "admin"}, false)
    }
}

/// Sends ops until the deadline (or, for `insert`, the total; for
/// `create-index`, once).
async fn drive(
    mut stream: TcpStream,
    args: std::sync::Arc<Args>,
    connection: u64,
    deadline: Instant,
) -> std::io::Result<Driven> {
    let mut driven = Driven { latencies: Vec::new(), commits: Vec::new(), docs: 0 };
    let mut buf = Vec::new();
    let mut next_id = match args.workload {
        // Connection 0 follows; the writers' `_id`s are 0, 1, 2, ... among them.
        Workload::Watch => connection.saturating_sub(1),
        _ => connection,
    };
    let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ (connection + 1).wrapping_mul(0x2545_F491_4F6C_DD1D);
    let mut session = Session::new(connection);
    let db = args.db.as_str();
    let mut scram = None;
    if args.user.is_some() && args.workload != Workload::Scram {
        login(&mut stream, &mut buf, &args, &mut scram).await?;
    }
    if args.workload == Workload::Watch && connection == 0 {
        return watch(stream, &args, deadline).await;
    }
    if matches!(args.workload, Workload::Insert | Workload::BulkWrite) {
        return write_batches(stream, args, next_id, deadline).await;
    }
    while match args.workload {
        Workload::CreateIndex | Workload::CreateTextIndex | Workload::CreateGeoIndex => driven.latencies.is_empty(),
        _ => Instant::now() < deadline,
    } {
        let commands = match args.workload {
            Workload::Scram => {
                let sent = Instant::now();
                login(&mut stream, &mut buf, &args, &mut scram).await?;
                driven.latencies.push(sent.elapsed());
                continue;
            }
            Workload::Ping => vec![doc! {"ping": 1, "$db": "admin"}],
            Workload::Watch => {
                // One document at a time, its acknowledgement noted for the follower.
                let insert = doc! {"insert": "watched", "documents": [{"_id": next_id as i64}], "$db": db};
                stream.write_all(&op_msg(&insert)?).await?;
                let reply = read_reply(&mut stream, &mut buf).await?;
                let acked = Instant::now();
                driven.docs += tally(&args, &reply).map_err(|e| std::io::Error::other(format!("{e}: {reply}")))?;
                let mut times = ACKED.lock().unwrap_or_else(|p| p.into_inner());
                if times.len() <= next_id as usize {
                    times.resize(next_id as usize + 1, None);
                }
                times[next_id as usize] = Some(acked);
                drop(times);
                next_id += args.connections as u64 - 1;
                continue;
            }
            Workload::Insert | Workload::BulkWrite => unreachable!("sent by write_batches"),
            Workload::FindId => {
                let id = random(&mut rng, args.keys) as i64;
                vec![doc! {"find": "items", "filter": {"_id": id}, "singleBatch": true, "$db": db}]
            }
            Workload::CreateIndex => {
                let field = args.field.as_str();
                let mut index = doc! {"key": {field: 1}, "name": format!("{field}_1")};
                if let Some(collation) = collation(&args) {
                    index.insert("collation", collation);
                }
                vec![doc! {"createIndexes": "items", "indexes": [index], "$db": db}]
            }
            Workload::FindEq => {
                let u = random(&mut rng, args.keys) as i64;
                vec![doc! {"find": "items", "filter": {"u": u}, "singleBatch": true, "$db": db}]
            }
            Workload::Scan => vec![doc! {"count": "items", "query": {"k": 0}, "$db": db}],
            Workload::CreateTextIndex => {
                let index = doc! {"key": {"text": "text"}, "name": "text_text"};
                vec![doc! {"createIndexes": "items", "indexes": [index], "$db": db}]
            }
            Workload::CreateGeoIndex => {
                let index = doc! {"key": {"loc": "2dsphere"}, "name": "loc_2dsphere"};
                vec![doc! {"createIndexes": "items", "indexes": [index], "$db": db}]
            }
            Workload::Near => {
                let point = point(random(&mut rng, u64::MAX));
                vec![doc! {
                    "find": "items",
                    "filter": {"loc": {"$near": {"$geometry": point}}},
                    "limit": args.limit,
                    "singleBatch": true,
                    "$db": db,
                }]
            }
            Workload::FindText => {
                let id = random(&mut rng, args.keys);
                let mut find =
                    doc! {"find": "items", "filter": {"text": text(id, args.words)}, "singleBatch": true, "$db": db};
                if let Some(collation) = collation(&args) {
                    find.insert("collation", collation);
                }
                vec![find]
            }
            Workload::Text => {
                let search = format!("{} {}", word(random(&mut rng, VOCABULARY)), word(random(&mut rng, VOCABULARY)));
                vec![doc! {
                    "find": "items",
                    "filter": {"$text": {"$search": search}},
                    "projection": {"score": {"$meta": "textScore"}},
                    "sort": {"score": {"$meta": "textScore"}},
                    "limit": args.limit,
                    "singleBatch": true,
                    "$db": db,
                }]
            }
            Workload::Group => vec![doc! {
                "aggregate": "items",
                "pipeline": [{"$group": {"_id": "$k", "n": {"$sum": 1}}}],
                "cursor": {},
                "$db": db,
            }],
            Workload::Window => vec![doc! {
                "aggregate": "items",
                "pipeline": [
                    {"$setWindowFields": {
                        "partitionBy": "$k",
                        "sortBy": {"u": 1},
                        "output": {"s": {"$sum": "$n", "window": {"documents": [1 - WINDOW as i64, 0]}}},
                    }},
                    {"$group": {"_id": null, "n": {"$sum": 1}, "s": {"$max": "$s"}}},
                ],
                "cursor": {},
                "$db": db,
            }],
            Workload::Txn => {
                session.txn_number += 1;
                // The server gives the `_id`s: runs against the same data never collide.
                let insert =
                    |n: u64| doc! {"insert": "txn_items", "documents": [{"n": n as i64, "name": "load"}], "$db": db};
                let (first, second) = (insert(next_id), insert(next_id + 1));
                next_id += 2;
                vec![session.statement(first, true), session.statement(second, false), session.commit()]
            }
            Workload::FindIdTxn => {
                if session.finds == 0 {
                    session.txn_number += 1;
                }
                let id = random(&mut rng, args.keys) as i64;
                let find = doc! {"find": "items", "filter": {"_id": id}, "singleBatch": true, "$db": db};
                let mut commands = vec![session.statement(find, session.finds == 0)];
                session.finds += 1;
                if session.finds == TXN_FINDS {
                    commands.push(session.commit());
                    session.finds = 0;
                }
                commands
            }
        };
        let sent = Instant::now();
        for command in &commands {
            let frame = op_msg(command)?;
            let command_sent = Instant::now();
            stream.write_all(&frame).await?;
            let reply = read_reply(&mut stream, &mut buf).await?;
            if command.contains_key("commitTransaction") {
                driven.commits.push(command_sent.elapsed());
            }
            driven.docs += tally(&args, &reply).map_err(|e| std::io::Error::other(format!("{e}: {reply}")))?;
        }
        driven.latencies.push(sent.elapsed());
    }
    Ok(driven)
}

/// `watch`'s follower: a change stream on `<db>.watched`, each event's latency
/// measured from its insert's acknowledgement (events whose acknowledgement the
/// writer has not noted yet count as zero).
async fn watch(mut stream: TcpStream, args: &Args, deadline: Instant) -> std::io::Result<Driven> {
    let mut driven = Driven { latencies: Vec::new(), commits: Vec::new(), docs: 0 };
    let mut buf = Vec::new();
    let mut cursor = open_stream(&mut stream, &mut buf, &args.db, "watched").await?;
    while Instant::now() < deadline {
        let (events, next) = next_events(&mut stream, &mut buf, &args.db, "watched", cursor).await?;
        cursor = next;
        let arrived = Instant::now();
        let times = ACKED.lock().unwrap_or_else(|p| p.into_inner());
        for event in events {
            let id = event.get_document("documentKey").ok().and_then(|k| number(k.get("_id"))).unwrap_or(-1);
            let acked = times.get(id as usize).copied().flatten().unwrap_or(arrived);
            driven.latencies.push(arrived.saturating_duration_since(acked));
        }
    }
    Ok(driven)
}

/// The `--streams` followers: a thread at the lowest priority that opens the
/// streams, returns once they are open, and follows them until the deadline; it
/// ends with the events received and the streams that failed.
async fn followers(
    args: std::sync::Arc<Args>,
    deadline: Instant,
) -> std::io::Result<std::thread::JoinHandle<(u64, u64)>> {
    let (opened, open) = tokio::sync::oneshot::channel();
    let thread = std::thread::Builder::new().name("followers".into()).spawn(move || {
        branchdb::low_priority::lower_this_thread();
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(e) => {
                let _ = opened.send(Err(e));
                return (0, 0);
            }
        };
        runtime.block_on(async move {
            let mut streams = Vec::with_capacity(args.streams);
            for _ in 0..args.streams {
                match open_follower(&args).await {
                    Ok(stream) => streams.push(stream),
                    Err(e) => {
                        let _ = opened.send(Err(e));
                        return (0, 0);
                    }
                }
            }
            let _ = opened.send(Ok(()));
            let tasks: Vec<_> = streams
                .into_iter()
                .map(|(s, cursor)| tokio::spawn(follow(s, args.clone(), cursor, deadline)))
                .collect();
            let (mut events, mut failed) = (0, 0);
            for task in tasks {
                match task.await {
                    Ok(Ok(n)) => events += n,
                    Ok(Err(e)) => {
                        failed += 1;
                        eprintln!("stream failed: {e}");
                    }
                    Err(e) => {
                        failed += 1;
                        eprintln!("stream panicked: {e}");
                    }
                }
            }
            (events, failed)
        })
    })?;
    open.await.map_err(|_| std::io::Error::other("the followers ended"))??;
    Ok(thread)
}

/// A follower's connection with its change stream open: the cursor id.
async fn open_follower(args: &Args) -> std::io::Result<(TcpStream, i64)> {
    let mut stream = TcpStream::connect(args.addr).await?;
    stream.set_nodelay(true)?;
    let cursor = open_stream(&mut stream, &mut Vec::new(), &args.db, &args.stream_collection).await?;
    Ok((stream, cursor))
}

/// A `--streams` follower: counts the events of each batch (without decoding them)
/// until the deadline; returns how many.
async fn follow(
    mut stream: TcpStream,
    args: std::sync::Arc<Args>,
    mut cursor: i64,
    deadline: Instant,
) -> std::io::Result<u64> {
    let mut buf = Vec::new();
    let mut events = 0;
    while Instant::now() < deadline {
        let more =
            doc! {"getMore": cursor, "collection": &args.stream_collection, "maxTimeMS": 1000i64, "$db": &args.db};
        stream.write_all(&op_msg(&more)?).await?;
        read_frame(&mut stream, &mut buf).await?;
        let failed = || std::io::Error::other("getMore of a stream failed");
        let reply = bson::RawDocument::from_bytes(&buf[5..]).map_err(|_| failed())?;
        let batch = reply.get_document("cursor").map_err(|_| failed())?;
        events += batch.get_array("nextBatch").map_err(|_| failed())?.into_iter().count() as u64;
        cursor = batch.get_i64("id").map_err(|_| failed())?;
    }
    Ok(events)
}

/// Opens a change stream on `db.collection`: its cursor id.
async fn open_stream(stream: &mut TcpStream, buf: &mut Vec<u8>, db: &str, collection: &str) -> std::io::Result<i64> {
    let open = doc! {"aggregate": collection, "pipeline": [{"$changeStream": {}}], "cursor": {}, "$db": db};
    let reply = request(stream, buf, &open).await?;
    reply
        .get_document("cursor")
        .and_then(|c| c.get_i64("id"))
        .map_err(|_| std::io::Error::other(format!("opening a change stream failed: {reply}")))
}

/// One waiting `getMore` of a change stream: its events and the cursor id.
async fn next_events(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    db: &str,
    collection: &str,
    cursor: i64,
) -> std::io::Result<(Vec<Document>, i64)> {
    let more = doc! {"getMore": cursor, "collection": collection, "maxTimeMS": 1000i64, "$db": db};
    let reply = request(stream, buf, &more).await?;
    let cursor = reply.get_document("cursor").map_err(|_| std::io::Error::other(format!("getMore failed: {reply}")))?;
    let events = cursor.get_array("nextBatch").map_err(|_| std::io::Error::other("no nextBatch"))?;
    let events = events.iter().filter_map(|e| e.as_document().cloned()).collect();
    Ok((events, cursor.get_i64("id").unwrap_or(0)))
}

/// Logs in as `--user` with SCRAM-SHA-256, checking the server's proof too. The
/// connection's `client` keeps the salted password between logins, as drivers
/// cache it, so that `scram` measures the server's work more than the client's.
async fn login(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    args: &Args,
    client: &mut Option<branchdb::auth::scram::Client>,
) -> std::io::Result<()> {
    use branchdb::auth::scram::{Client, Mechanism};
    let failed = |what: &str| std::io::Error::other(format!("login failed: {what}"));
    let (Some(user), Some(password)) = (&args.user, &args.password) else {
        return Err(failed("--user and --password are needed"));
    };
    let binary = |bytes: Vec<u8>| bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes };
    let first = match client {
        Some(client) => client.again(),
        None => {
            let (started, first) = Client::start(Mechanism::Sha256, user, password);
            *client = Some(started);
            first
        }
    };
    let client = client.as_mut().ok_or_else(|| failed("no client"))?;
    let start = doc! {
        "saslStart": 1,
        "mechanism": "SCRAM-SHA-256",
        "payload": binary(first),
        "options": {"skipEmptyExchange": true},
        "$db": &args.auth_db,
    };
    let reply = request(stream, buf, &start).await?;
    let payload = |reply: &Document| match reply.get("payload") {
        Some(Bson::Binary(b)) if number(reply.get("ok")) == Some(1) => Ok(b.bytes.clone()),
        _ => Err(failed(&reply.to_string())),
    };
    let id = reply.get("conversationId").cloned().unwrap_or(Bson::Int32(1));
    let last = client.finish(&payload(&reply)?).map_err(|e| failed(&e.to_string()))?;
    let next = doc! {"saslContinue": 1, "conversationId": id, "payload": binary(last), "$db": &args.auth_db};
    let reply = request(stream, buf, &next).await?;
    if reply.get_bool("done") != Ok(true) || !client.verify(&payload(&reply)?) {
        return Err(failed("the server did not prove it holds the credential"));
    }
    Ok(())
}

async fn request(stream: &mut TcpStream, buf: &mut Vec<u8>, command: &Document) -> std::io::Result<Document> {
    stream.write_all(&op_msg(command)?).await?;
    read_reply(stream, buf).await
}

/// A write command as drivers send it: its body, and each array of documents as
/// an OP_MSG document sequence under its field's name (the documents' bytes, one
/// after another).
struct Write {
    body: Document,
    sequences: Vec<(&'static str, Vec<u8>)>,
}

/// Sends `insert` or `bulk-write` commands until the deadline or `--total`, each
/// built and encoded on a thread of its own while the one before it is in flight.
async fn write_batches(
    mut stream: TcpStream,
    args: std::sync::Arc<Args>,
    mut next_id: u64,
    deadline: Instant,
) -> std::io::Result<Driven> {
    let (frames, mut ready) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(1);
    let builder = args.clone();
    std::thread::spawn(move || {
        let next = |next_id: &mut u64| match builder.workload {
            Workload::BulkWrite => bulk_write_command(&builder, next_id),
            _ => insert_command(&builder, next_id),
        };
        while let Some(write) = next(&mut next_id) {
            // The receiver is gone once the deadline passed.
            if frames.blocking_send(op_msg_with(&write.body, &write.sequences)).is_err() {
                break;
            }
        }
    });
    let mut driven = Driven { latencies: Vec::new(), commits: Vec::new(), docs: 0 };
    let mut buf = Vec::new();
    while Instant::now() < deadline {
        let Some(frame) = ready.recv().await else { break };
        let sent = Instant::now();
        stream.write_all(&frame?).await?;
        let reply = read_reply(&mut stream, &mut buf).await?;
        driven.docs += tally(&args, &reply).map_err(|e| std::io::Error::other(format!("{e}: {reply}")))?;
        driven.latencies.push(sent.elapsed());
    }
    Ok(driven)
}

/// The next `insert` command of a connection, whose `_id`s start at `next_id` and
/// step by the number of connections; `None` once `--total` documents are out.
fn insert_command(args: &Args, next_id: &mut u64) -> Option<Write> {
    let (mut documents, mut count) = (Vec::new(), 0);
    while count < args.batch as usize && args.total.is_none_or(|t| *next_id < t) {
        let item = raw::begin(&mut documents);
        item_fields(&mut documents, *next_id, args.total);
        if args.words > 0 {
            raw::string(&mut documents, "text", &text(*next_id, args.words));
        }
        if args.points {
            let (lng, lat) = coordinates(next_id.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let loc = raw::document(&mut documents, "loc");
            raw::string(&mut documents, "type", "Point");
            let pair = raw::array(&mut documents, "coordinates");
            raw::double(&mut documents, "0", lng);
            raw::double(&mut documents, "1", lat);
            raw::end(&mut documents, pair);
            raw::end(&mut documents, loc);
        }
        raw::end(&mut documents, item);
        count += 1;
        *next_id += args.connections as u64;
    }
    (count > 0)
        .then(|| Write { body: doc! {"insert": "items", "$db": &args.db}, sequences: vec![("documents", documents)] })
}

/// The next `bulk-write` command: `--batch` operations (a multiple of four), in
/// fours from this connection's next id, up to `--total` operations in all: two
/// inserts, an update of the first (`$inc` of `n`) and a delete of the second.
fn bulk_write_command(args: &Args, next_id: &mut u64) -> Option<Write> {
    let (mut ops, mut count) = (Vec::new(), 0);
    while count + 4 <= args.batch.max(4) as usize && args.total.is_none_or(|t| *next_id * 4 < t) {
        let (kept, deleted) = (*next_id as i64 * 2, *next_id as i64 * 2 + 1);
        for id in [kept, deleted] {
            let op = raw::begin(&mut ops);
            raw::int32(&mut ops, "insert", 0);
            let document = raw::document(&mut ops, "document");
            item_fields(&mut ops, id as u64, None);
            raw::end(&mut ops, document);
            raw::end(&mut ops, op);
        }
        let op = by_id(&mut ops, "update", kept);
        let mods = raw::document(&mut ops, "updateMods");
        let inc = raw::document(&mut ops, "$inc");
        raw::int32(&mut ops, "n", 1);
        raw::end(&mut ops, inc);
        raw::end(&mut ops, mods);
        raw::boolean(&mut ops, "multi", false);
        raw::end(&mut ops, op);
        let op = by_id(&mut ops, "delete", deleted);
        raw::boolean(&mut ops, "multi", false);
        raw::end(&mut ops, op);
        count += 4;
        *next_id += args.connections as u64;
    }
    let mut ns_info = Vec::new();
    let entry = raw::begin(&mut ns_info);
    raw::string(&mut ns_info, "ns", &format!("{}.bulk_items", args.db));
    raw::end(&mut ns_info, entry);
    (count > 0).then(|| Write {
        body: doc! {"bulkWrite": 1, "ordered": true, "errorsOnly": true, "$db": "admin"},
        sequences: vec![("ops", ops), ("nsInfo", ns_info)],
    })
}

/// Starts an update or delete operation (`kind`) on namespace 0 whose filter is
/// `{_id: id}`; the caller writes the rest and ends it.
fn by_id(ops: &mut Vec<u8>, kind: &str, id: i64) -> raw::Open {
    let op = raw::begin(ops);
    raw::int32(ops, kind, 0);
    let filter = raw::document(ops, "filter");
    raw::int64(ops, "_id", id);
    raw::end(ops, filter);
    op
}

/// The fields of the document `insert` writes with `_id` `id`: `n` is the `_id`
/// again, `k` one of [`GROUPS`] values, and `u` a unique value in 0..total that
/// does not follow `_id` order (`id * 7919 % total`, a permutation since 7919 is
/// prime, unless `total` is a multiple of it), or the `_id` when there is no total.
fn item_fields(buf: &mut Vec<u8>, id: u64, total: Option<u64>) {
    let u = total.map_or(id, |t| id * 7919 % t);
    raw::int64(buf, "_id", id as i64);
    raw::int64(buf, "n", id as i64);
    raw::string(buf, "name", "load");
    raw::int64(buf, "k", (id % GROUPS) as i64);
    raw::int64(buf, "u", u as i64);
}

/// The collation `--collation` names: its locale at strength 2.
fn collation(args: &Args) -> Option<Document> {
    args.collation.as_ref().map(|locale| doc! {"locale": locale, "strength": 2})
}

/// The south-west corner of the square degree `--points` fills.
const POINTS_ORIGIN: (f64, f64) = (-74.5, 40.2);

/// A GeoJSON point of the square degree, placed by the bits of `seed`.
fn point(seed: u64) -> Document {
    let (lng, lat) = coordinates(seed);
    doc! {"type": "Point", "coordinates": [lng, lat]}
}

/// The longitude and latitude of a point of the square degree, placed by the bits
/// of `seed`.
fn coordinates(seed: u64) -> (f64, f64) {
    let fraction = |bits: u64| (bits & 0xffff_ffff) as f64 / f64::from(u32::MAX);
    (POINTS_ORIGIN.0 + fraction(seed), POINTS_ORIGIN.1 + fraction(seed >> 32))
}

/// The made-up words `--words` draws from.
const VOCABULARY: u64 = 8000;

/// Word `n` of the vocabulary: three syllables of twenty, none a stop word.
fn word(n: u64) -> String {
    const SYLLABLES: [&str; 20] = [
        "ka", "lo", "mi", "ru", "te", "sa", "no", "vi", "pe", "zu", "da", "fo", "gi", "hu", "be", "xo", "ly", "ce",
        "wa", "jo",
    ];
    (0..3).map(|i| SYLLABLES[(n / 20u64.pow(i) % 20) as usize]).collect()
}

/// The `text` of document `id`: `words` words of the vocabulary, spread evenly.
fn text(id: u64, words: usize) -> String {
    let mut rng = id.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..words).map(|_| word(random(&mut rng, VOCABULARY))).collect::<Vec<_>>().join(" ")
}

/// The next value of a connection's xorshift generator, reduced to 0..keys.
fn random(rng: &mut u64, keys: u64) -> u64 {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    *rng % keys.max(1)
}

/// Checks a reply and returns the documents the request wrote, read or (for `scan`
/// and `group`, which check that their result covers `--keys` documents) went
/// through.
fn tally(args: &Args, reply: &Document) -> Result<u64, String> {
    // Drivers accept `ok` as any number equal to 1; so does this tool.
    if number(reply.get("ok")) != Some(1) || reply.contains_key("writeErrors") || number(reply.get("nErrors")) > Some(0)
    {
        return Err("command failed".into());
    }
    let first_batch =
        || reply.get_document("cursor").and_then(|c| c.get_array("firstBatch")).map_err(|e| e.to_string());
    Ok(match args.workload {
        Workload::Ping
        | Workload::CreateIndex
        | Workload::CreateTextIndex
        | Workload::CreateGeoIndex
        | Workload::Scram => 0,
        Workload::Insert | Workload::Txn | Workload::Watch => reply.get_i32("n").unwrap_or(0) as u64,
        Workload::BulkWrite => ["nInserted", "nMatched", "nDeleted"]
            .iter()
            .map(|field| number(reply.get(*field)).unwrap_or(0) as u64)
            .sum(),
        Workload::FindId | Workload::FindEq | Workload::Text | Workload::FindText | Workload::Near => {
            first_batch()?.len() as u64
        }
        // The commit replies without a cursor.
        Workload::FindIdTxn => first_batch().map_or(0, |batch| batch.len() as u64),
        Workload::Scan => {
            let expected = args.keys.div_ceil(GROUPS) as i64;
            if number(reply.get("n")) != Some(expected) {
                return Err(format!("expected n: {expected} of a collection of {} documents", args.keys));
            }
            args.keys
        }
        Workload::Window => {
            let totals = first_batch()?;
            let counted = totals.first().and_then(|t| number(t.as_document()?.get("n")));
            if counted != Some(args.keys as i64) {
                return Err(format!("expected a window over each of {} documents", args.keys));
            }
            args.keys
        }
        Workload::Group => {
            let groups = first_batch()?;
            let counted: i64 = groups.iter().filter_map(|g| number(g.as_document()?.get("n"))).sum();
            if groups.len() as u64 != GROUPS.min(args.keys) || counted != args.keys as i64 {
                return Err(format!("expected {GROUPS} groups counting {} documents", args.keys));
            }
            args.keys
        }
    })
}

/// A whole number of any BSON numeric type, as an `i64`.
fn number(value: Option<&Bson>) -> Option<i64> {
    match value? {
        Bson::Int32(v) => Some(i64::from(*v)),
        Bson::Int64(v) => Some(*v),
        Bson::Double(v) if v.fract() == 0.0 => Some(*v as i64),
        _ => None,
    }
}

fn op_msg(command: &Document) -> std::io::Result<Vec<u8>> {
    op_msg_with(command, &[])
}

/// An OP_MSG of `body` (section kind 0) and a document sequence (kind 1) for each
/// of `sequences`.
fn op_msg_with(body: &Document, sequences: &[(&str, Vec<u8>)]) -> std::io::Result<Vec<u8>> {
    let mut frame = vec![0u8; 16];
    frame.extend_from_slice(&0u32.to_le_bytes());
    frame.push(0);
    body.to_writer(&mut frame).map_err(std::io::Error::other)?;
    for (identifier, documents) in sequences {
        frame.push(1);
        let size_at = frame.len();
        frame.extend_from_slice(&[0; 4]);
        frame.extend_from_slice(identifier.as_bytes());
        frame.push(0);
        frame.extend_from_slice(documents);
        let size = (frame.len() - size_at) as i32;
        frame[size_at..size_at + 4].copy_from_slice(&size.to_le_bytes());
    }
    let len = frame.len() as i32;
    for (at, field) in [len, 1, 0, 2013].into_iter().enumerate() {
        frame[at * 4..at * 4 + 4].copy_from_slice(&field.to_le_bytes());
    }
    Ok(frame)
}

async fn read_reply(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Document> {
    read_frame(stream, buf).await?;
    branchdb::value::decode(&buf[5..]).map_err(std::io::Error::other)
}

/// Reads one reply's frame into `buf`, after its header.
async fn read_frame(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let mut header = [0u8; 16];
    stream.read_exact(&mut header).await?;
    let len = i32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let body_len = usize::try_from(len).ok().and_then(|l| l.checked_sub(16)).filter(|&l| l > 5);
    let body_len = body_len.ok_or_else(|| std::io::Error::other(format!("bad reply length {len}")))?;
    buf.resize(body_len, 0);
    stream.read_exact(buf).await?;
    Ok(())
}
