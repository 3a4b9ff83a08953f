//! What the tests that run the real server share: starting it on a free port,
//! killing it, and speaking OP_MSG to it without a driver (so a test controls every
//! field, `lsid` and `txnNumber` included).

#![allow(dead_code)] // each test uses its own part

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bson::{doc, Document};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// A server process, killed (SIGKILL) and reaped when dropped, so that a failing
/// test leaves none behind.
pub struct Server(Child);

impl Server {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Whether the process has ended by itself.
    pub fn exited(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(Some(_)))
    }

    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts the server on `data` with `extra` flags (logging warnings only, unless they
/// say `--log`); returns once it answers a ping. Its log goes to `server.log` in
/// `data`, which a failure to start shows.
pub fn start(data: &Path, extra: &[&str]) -> (Server, SocketAddr) {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let log_path = data.join("server.log");
    let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).expect("the server's log file");
    let mut server = Server(
        Command::new(env!("CARGO_BIN_EXE_branchdb"))
            .args(["serve", "--bind", &addr.to_string()])
            .args(if extra.contains(&"--log") { &[][..] } else { &["--log", "warn"][..] })
            .args(extra)
            .arg("--data-dir")
            .arg(data)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the server"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(mut stream) = TcpStream::connect(addr) {
            if command(&mut stream, doc! {"ping": 1, "$db": "admin"}).is_ok() {
                return (server, addr);
            }
        }
        if let Ok(Some(status)) = server.0.try_wait() {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            panic!("the server exited ({status}) on {addr}:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    panic!("the server did not answer on {addr} within 30 s:\n{log}");
}

/// Sends one OP_MSG command and reads its reply.
pub fn command(stream: &mut TcpStream, body: Document) -> std::io::Result<Document> {
    command_with(stream, body, &[])
}

/// Sends one OP_MSG command, with document sequences (kind-1 sections) as
/// drivers send an `insert`'s documents, and reads its reply.
pub fn command_with(
    stream: &mut TcpStream,
    body: Document,
    sequences: &[(&str, &[Document])],
) -> std::io::Result<Document> {
    let mut payload = vec![0];
    body.to_writer(&mut payload).map_err(std::io::Error::other)?;
    for (identifier, documents) in sequences {
        let mut section = Vec::new();
        section.extend_from_slice(identifier.as_bytes());
        section.push(0);
        for document in *documents {
            document.to_writer(&mut section).map_err(std::io::Error::other)?;
        }
        payload.push(1);
        payload.extend_from_slice(&(section.len() as i32 + 4).to_le_bytes());
        payload.extend_from_slice(&section);
    }
    let mut frame = Vec::new();
    for field in [(20 + payload.len()) as i32, 1, 0, 2013] {
        frame.extend_from_slice(&field.to_le_bytes());
    }
    frame.extend_from_slice(&[0, 0, 0, 0]);
    frame.extend_from_slice(&payload);
    stream.write_all(&frame)?;
    let mut header = [0u8; 16];
    stream.read_exact(&mut header)?;
    let len = i32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let mut rest = vec![0u8; len.saturating_sub(16)];
    stream.read_exact(&mut rest)?;
    branchdb::value::decode(&rest[5..]).map_err(std::io::Error::other)
}

/// As [`command`], on a fresh connection, failing the test on an I/O error.
pub fn call(addr: SocketAddr, body: Document) -> Document {
    let mut stream = TcpStream::connect(addr).expect("connect");
    command(&mut stream, body).expect("reply")
}

/// Every document of `target.collection`, through find and getMore.
pub fn all_documents(addr: SocketAddr, target: &str, collection: &str) -> Vec<Document> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let mut docs = Vec::new();
    let mut reply = command(&mut stream, doc! {"find": collection, "batchSize": 10_000, "$db": target}).expect("find");
    loop {
        assert_eq!(reply.get_f64("ok"), Ok(1.0), "{reply}");
        let cursor = reply.get_document("cursor").expect("cursor");
        let batch = cursor.get_array("firstBatch").or_else(|_| cursor.get_array("nextBatch")).expect("batch");
        docs.extend(batch.iter().filter_map(|d| d.as_document().cloned()));
        let id = cursor.get_i64("id").expect("cursor id");
        if id == 0 {
            return docs;
        }
        reply = command(&mut stream, doc! {"getMore": id, "collection": collection, "$db": target}).expect("getMore");
    }
}

/// A session id: `{id: UUID}` made of `seed`.
pub fn lsid(seed: u64) -> Document {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..].copy_from_slice(&(!seed).to_le_bytes());
    doc! {"id": bson::Binary { subtype: bson::spec::BinarySubtype::Uuid, bytes: bytes.to_vec() }}
}
