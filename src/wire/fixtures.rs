//! Handshakes captured from real drivers (the Node driver through mongosh, which
//! opens with OP_QUERY; the Rust driver, which opens with OP_MSG) decode, and the
//! server's replies to them encode byte for byte as captured.

use bson::{Bson, Document};

use super::{decode, opcode, Header, Message, OpMsg, OpReply, HEADER_LEN};
use crate::command;
use crate::context::{ConnectionInfo, Context};

fn hex(text: &str) -> Vec<u8> {
    let text = text.trim();
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex fixture")).collect()
}

/// The document of a captured reply (OP_REPLY has 20 bytes before it, OP_MSG 5).
fn reply_document(frame: &[u8]) -> Document {
    let header = Header::parse(frame).expect("header");
    let skip = if header.op_code == opcode::OP_REPLY { 20 } else { 5 };
    crate::value::decode(&frame[HEADER_LEN + skip..]).expect("reply document")
}

/// Runs the captured request through dispatch on a connection with the captured
/// id, pins `localTime` to the captured value, and encodes the reply with the
/// captured request ids.
fn replay(request: &Document, captured_reply: &Document) -> Document {
    let id = captured_reply.get_i64("connectionId").expect("connectionId");
    let mut reply =
        without_operation_time(command::run(request, &ConnectionInfo::for_tests(id), &Context::for_tests()));
    // The captures predate the topology version (this process's id: a new one each run).
    let version = reply.remove("topologyVersion").and_then(|v| v.as_document().cloned()).expect("topologyVersion");
    assert!(version.get_object_id("processId").is_ok() && version.get_i64("counter") == Ok(0), "{version}");
    reply.insert("localTime", captured_reply.get("localTime").expect("localTime").clone());
    reply
}

/// The captures predate `operationTime`, which dispatch appends last to every reply
/// (its value is the store's, tested with the store).
fn without_operation_time(mut reply: Document) -> Document {
    assert!(matches!(reply.remove("operationTime"), Some(Bson::Timestamp(_))), "{reply}");
    reply
}

#[test]
fn node_op_query_hello_and_op_reply() {
    let request = hex(include_str!("fixtures/node_hello_op_query.hex"));
    let (header, message) = decode(&request).expect("decodes");
    assert_eq!(header.op_code, opcode::OP_QUERY);
    let Message::Query(query) = message else { panic!("not OP_QUERY") };
    assert_eq!(query.full_collection_name, "admin.$cmd");
    let (db, mut body) = query.command().expect("a command");
    assert_eq!(db, "admin");
    assert_eq!(body.keys().next().map(String::as_str), Some("ismaster"));
    assert_eq!(body.get("helloOk"), Some(&Bson::Boolean(true)));

    let captured = hex(include_str!("fixtures/node_hello_op_reply.hex"));
    let captured_header = Header::parse(&captured).expect("header");
    assert_eq!(captured_header.response_to, header.request_id);
    body.insert("$db", db);
    let reply = replay(&body, &reply_document(&captured));
    let encoded = OpReply::encode(captured_header.request_id, header.request_id, &reply).expect("encodes");
    assert_eq!(encoded, captured);
}

#[test]
fn rust_op_msg_hello_and_reply() {
    let request = hex(include_str!("fixtures/rust_hello_op_msg.hex"));
    let (header, message) = decode(&request).expect("decodes");
    let Message::Msg(msg) = message else { panic!("not OP_MSG") };
    assert_eq!(msg.flags, 0);
    assert_eq!(msg.command.keys().next().map(String::as_str), Some("isMaster"));
    assert_eq!(msg.command.get_str("$db"), Ok("admin"));
    assert!(msg.command.get_document("client").is_ok());

    let captured = hex(include_str!("fixtures/rust_hello_reply_op_msg.hex"));
    let captured_header = Header::parse(&captured).expect("header");
    let reply = replay(&msg.command, &reply_document(&captured));
    let encoded = OpMsg::encode_reply(captured_header.request_id, header.request_id, &reply).expect("encodes");
    assert_eq!(encoded, captured);
}

#[test]
fn rust_op_msg_ping_and_reply() {
    let request = hex(include_str!("fixtures/rust_ping_op_msg.hex"));
    let (header, message) = decode(&request).expect("decodes");
    let Message::Msg(msg) = message else { panic!("not OP_MSG") };
    assert_eq!(msg.command.keys().next().map(String::as_str), Some("ping"));
    assert!(msg.command.get_document("lsid").is_ok());

    let captured = hex(include_str!("fixtures/rust_ping_reply_op_msg.hex"));
    let captured_header = Header::parse(&captured).expect("header");
    let reply =
        without_operation_time(command::run(&msg.command, &ConnectionInfo::for_tests(1), &Context::for_tests()));
    let encoded = OpMsg::encode_reply(captured_header.request_id, header.request_id, &reply).expect("encodes");
    assert_eq!(encoded, captured);
}
