//! Retryable writes over the wire: each kind of write (insert, update, delete,
//! findAndModify) is sent with a session and a transaction number, then sent again
//! with the same ones after its connection dropped, and again after the server was
//! killed with `kill -9` and restarted. It must apply once, and every retry must
//! reply as the first attempt did.

mod support;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bson::{doc, Document};
use support::{all_documents, call, command, lsid, start};

/// `body` as a retryable write of `session` number `txn_number`.
fn retryable(mut body: Document, session: &Document, txn_number: i64) -> Document {
    body.insert("lsid", session.clone());
    body.insert("txnNumber", txn_number);
    body
}

/// Sends `body` and drops the connection without reading the reply, as a client
/// whose connection breaks mid-write; waits for the server to have run it.
fn send_and_drop(addr: SocketAddr, body: &Document) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let mut payload = Vec::new();
    body.to_writer(&mut payload).expect("encode");
    let mut frame = Vec::new();
    for field in [(21 + payload.len()) as i32, 1, 0, 2013] {
        frame.extend_from_slice(&field.to_le_bytes());
    }
    frame.extend_from_slice(&[0, 0, 0, 0, 0]);
    frame.extend_from_slice(&payload);
    stream.write_all(&frame).expect("send");
    drop(stream);
    std::thread::sleep(Duration::from_millis(200));
}

/// The reply without the fields that may differ between attempts.
fn comparable(mut reply: Document) -> Document {
    reply.remove("operationTime");
    reply
}

/// The writes, each with the state it must leave (the documents of `c`, by `_id`).
fn writes() -> Vec<(Document, Vec<Document>)> {
    vec![
        (
            doc! {"insert": "c", "documents": [{"_id": 10, "k": 1}, {"_id": 11, "k": 1}], "$db": "r"},
            vec![
                doc! {"_id": 1, "k": 1, "n": 0},
                doc! {"_id": 2, "k": 1, "n": 0},
                doc! {"_id": 10, "k": 1},
                doc! {"_id": 11, "k": 1},
            ],
        ),
        (
            doc! {"update": "c", "updates": [{"q": {"_id": 1}, "u": {"$inc": {"n": 1}}}, {"q": {"_id": 99}, "u": {"$set": {"k": 5}}, "upsert": true}], "$db": "r"},
            vec![
                doc! {"_id": 1, "k": 1, "n": 1},
                doc! {"_id": 2, "k": 1, "n": 0},
                doc! {"_id": 10, "k": 1},
                doc! {"_id": 11, "k": 1},
                doc! {"_id": 99, "k": 5},
            ],
        ),
        (
            // Several match; a retry that ran again would delete another.
            doc! {"delete": "c", "deletes": [{"q": {"k": 1}, "limit": 1}], "$db": "r"},
            vec![
                doc! {"_id": 2, "k": 1, "n": 0},
                doc! {"_id": 10, "k": 1},
                doc! {"_id": 11, "k": 1},
                doc! {"_id": 99, "k": 5},
            ],
        ),
        (
            doc! {"findAndModify": "c", "query": {"_id": 2}, "update": {"$inc": {"n": 5}}, "new": true, "$db": "r"},
            vec![
                doc! {"_id": 2, "k": 1, "n": 5},
                doc! {"_id": 10, "k": 1},
                doc! {"_id": 11, "k": 1},
                doc! {"_id": 99, "k": 5},
            ],
        ),
    ]
}

#[test]
fn each_write_applies_once_after_a_dropped_connection_and_after_a_restart() {
    let data = tempfile::tempdir().expect("tempdir");
    let (mut server, mut addr) = start(data.path(), &[]);
    let reply = call(
        addr,
        doc! {"insert": "c", "documents": [{"_id": 1, "k": 1, "n": 0}, {"_id": 2, "k": 1, "n": 0}], "$db": "r"},
    );
    assert_eq!(reply.get_i32("n"), Ok(2), "{reply}");
    let session = lsid(7);
    for (n, (write, state)) in writes().into_iter().enumerate() {
        let txn_number = n as i64 + 1;
        let body = retryable(write, &session, txn_number);
        // The first attempt's reply is lost with its connection.
        send_and_drop(addr, &body);
        let first = call(addr, body.clone());
        assert_eq!(first.get_f64("ok"), Ok(1.0), "{body}: {first}");
        assert!(!first.contains_key("writeErrors"), "{body}: {first}");
        // Again on a fresh connection, then after kill -9 and a restart.
        let again = call(addr, body.clone());
        assert_eq!(comparable(again), comparable(first.clone()), "{body}: the retry replied differently");
        server.kill();
        (server, addr) = start(data.path(), &[]);
        let after_restart = call(addr, body.clone());
        assert_eq!(
            comparable(after_restart),
            comparable(first),
            "{body}: the retry after a restart replied differently"
        );
        assert_eq!(all_documents(addr, "r", "c"), state, "{body}: applied other than once");
    }
    // An older number than the session's newest is refused.
    let old = retryable(doc! {"insert": "c", "documents": [{"_id": 50}], "$db": "r"}, &session, 1);
    let reply = call(addr, old);
    assert_eq!(reply.get_i32("code"), Ok(225), "{reply}");
    assert_eq!(reply.get_str("codeName"), Ok("TransactionTooOld"));
    let mut stream = TcpStream::connect(addr).expect("connect");
    assert!(command(&mut stream, doc! {"ping": 1, "$db": "admin"}).is_ok());
}
