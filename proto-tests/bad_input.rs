//! Malformed frames close one connection; the server stays up and serves others.

use bson::doc;
use tokio::io::AsyncWriteExt;

use crate::common::{RawClient, TestServer};

/// Sends `bytes`, expects the connection closed, and checks another client is served.
async fn closes_and_survives(server: &TestServer, bytes: &[u8]) {
    let mut bystander = server.raw().await;
    let mut victim = server.raw().await;
    victim.send(bytes).await;
    let _ = victim.stream.shutdown().await;
    victim.expect_closed().await;
    assert_eq!(bystander.ping().await.get_f64("ok"), Ok(1.0));
}

fn header(len: i32, op_code: i32) -> Vec<u8> {
    [len.to_le_bytes(), 1i32.to_le_bytes(), 0i32.to_le_bytes(), op_code.to_le_bytes()].concat()
}

#[tokio::test]
async fn garbage_bytes() {
    let server = TestServer::start().await;
    closes_and_survives(&server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    closes_and_survives(&server, &[0xFF; 64]).await;
    closes_and_survives(&server, &header(16, 9999)).await;
    server.stop().await;
}

#[tokio::test]
async fn a_length_of_3_gb_is_refused_before_reading() {
    let server = TestServer::start().await;
    let mut frame = (3_000_000_000u32).to_le_bytes().to_vec();
    frame.extend_from_slice(&[0; 12]);
    closes_and_survives(&server, &frame).await;
    closes_and_survives(&server, &header(48_000_001, 2013)).await;
    closes_and_survives(&server, &header(15, 2013)).await;
    server.stop().await;
}

#[tokio::test]
async fn a_truncated_message() {
    let server = TestServer::start().await;
    let mut client = server.raw().await;
    let frame = client.op_msg(0, &doc! {"ping": 1, "$db": "admin"});
    closes_and_survives(&server, &frame[..frame.len() - 3]).await;
    server.stop().await;
}

#[tokio::test]
async fn a_kind_1_section_with_a_bad_size() {
    let server = TestServer::start().await;
    let mut body = Vec::new();
    doc! {"insert": "c", "$db": "test"}.to_writer(&mut body).expect("encode");
    for size in [1000i32, -5, 2] {
        let mut sections = vec![0];
        sections.extend_from_slice(&body);
        sections.push(1);
        sections.extend_from_slice(&size.to_le_bytes());
        sections.extend_from_slice(b"documents\0");
        let len = 16 + 4 + sections.len();
        let mut frame = header(len as i32, 2013);
        frame.extend_from_slice(&0u32.to_le_bytes());
        frame.extend_from_slice(&sections);
        closes_and_survives(&server, &frame).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn a_deeply_nested_document() {
    let server = TestServer::start().await;
    // {"ping": 1, "$db": "admin", "x": {"a": {"a": ... 100,000 levels}}}
    let mut nested = vec![5u8, 0, 0, 0, 0];
    for _ in 0..100_000 {
        let len = (nested.len() + 8) as i32;
        let mut outer = len.to_le_bytes().to_vec();
        outer.extend_from_slice(&[0x03, b'a', 0]);
        outer.extend_from_slice(&nested);
        outer.push(0);
        nested = outer;
    }
    let mut prefix = Vec::new();
    doc! {"ping": 1, "$db": "admin"}.to_writer(&mut prefix).expect("encode");
    prefix.truncate(prefix.len() - 1);
    prefix.extend_from_slice(&[0x03, b'x', 0]);
    prefix.extend_from_slice(&nested);
    prefix.push(0);
    let doc_len = prefix.len() as i32;
    prefix[..4].copy_from_slice(&doc_len.to_le_bytes());
    let mut frame = header((16 + 4 + 1 + prefix.len()) as i32, 2013);
    frame.extend_from_slice(&0u32.to_le_bytes());
    frame.push(0);
    frame.extend_from_slice(&prefix);
    closes_and_survives(&server, &frame).await;
    server.stop().await;
}

#[tokio::test]
async fn more_to_come_gets_no_reply_and_unknown_flags_close() {
    let server = TestServer::start().await;
    let mut client = server.raw().await;
    let quiet = client.op_msg(1 << 1, &doc! {"ping": 1, "$db": "admin"});
    client.send(&quiet).await;
    let loud = client.op_msg(0, &doc! {"ping": 1, "$db": "admin"});
    let loud_id = i32::from_le_bytes([loud[4], loud[5], loud[6], loud[7]]);
    client.send(&loud).await;
    let (response_to, reply) = client.read_reply().await.expect("reply");
    assert_eq!(response_to, loud_id, "the moreToCome request must not be answered");
    assert_eq!(reply.get_f64("ok"), Ok(1.0));

    let mut other = RawClient::connect(server.addr).await;
    let bad_flags = other.op_msg(1 << 7, &doc! {"ping": 1, "$db": "admin"});
    closes_and_survives(&server, &bad_flags).await;
    server.stop().await;
}

#[tokio::test]
async fn malformed_commands_get_error_replies_and_keep_the_connection() {
    let server = TestServer::start().await;
    let mut client = server.raw().await;
    let reply = client.command(doc! {"ping": 1}).await;
    assert_eq!(reply.get_i32("code"), Ok(40571));
    let reply = client.command(doc! {"nope": 1, "$db": "admin"}).await;
    assert_eq!(reply.get_i32("code"), Ok(59));
    let reply = client.command(doc! {"ping": 1, "$db": "admin", "maxTimeMS": -1}).await;
    assert_eq!(reply.get_i32("code"), Ok(2));
    assert_eq!(client.ping().await.get_f64("ok"), Ok(1.0));
    server.stop().await;
}
