//! A message larger than the server's memory budget can hold is read past and
//! answered with `ExceededMemoryLimit` (146); the connection goes on, and one that
//! asked for no reply gets none.

use bson::{doc, Document};

use crate::common::TestServer;

#[tokio::test]
async fn a_message_the_budget_cannot_hold_is_refused_and_the_connection_goes_on() {
    // 64 MiB of memory: operations may hold 32 MiB, a message is counted four times.
    let server = TestServer::start_with(|s| s.max_memory = Some(64 << 20)).await;
    let mut raw = server.raw().await;
    let pad = "p".repeat(1 << 20);
    let docs: Vec<Document> = (0..10).map(|i| doc! {"_id": i, "pad": &pad}).collect();
    let insert = doc! {"insert": "c", "documents": docs, "$db": "mem"};
    let frame = raw.op_msg(0, &insert);
    let sent_id = i32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
    raw.send(&frame).await;
    let (response_to, reply) = raw.read_reply().await.expect("a reply");
    assert_eq!(response_to, sent_id);
    assert_eq!(reply.get_i32("code"), Ok(146), "{reply}");
    // Asked for no reply (moreToCome), it gets none: the next reply is the ping's.
    let unacknowledged = raw.op_msg(1 << 1, &insert);
    raw.send(&unacknowledged).await;
    let ping = raw.command(doc! {"ping": 1, "$db": "admin"}).await;
    assert_eq!(ping.get_f64("ok"), Ok(1.0), "{ping}");
    let count = raw.command(doc! {"count": "c", "$db": "mem"}).await;
    assert_eq!(count.get_i32("n"), Ok(0), "nothing refused was written: {count}");
    // A smaller one fits.
    let small = raw.command(doc! {"insert": "c", "documents": [{"_id": 1, "pad": &pad}], "$db": "mem"}).await;
    assert_eq!(small.get_i32("n"), Ok(1), "{small}");
    server.stop().await;
}
