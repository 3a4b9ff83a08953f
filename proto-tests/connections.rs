//! Many connections at once, the connection limit, and graceful shutdown (on a
//! signal and by the `shutdown` command).

use bson::{doc, Document};

use crate::common::{RawClient, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_connections_ping_in_a_loop() {
    let server = TestServer::start().await;
    let clients = (0..1000).map(|_| RawClient::connect(server.addr));
    let clients = futures_util::future::join_all(clients).await;
    let tasks = clients.into_iter().map(|mut client| {
        tokio::spawn(async move {
            for _ in 0..20 {
                assert_eq!(client.ping().await.get_f64("ok"), Ok(1.0));
            }
        })
    });
    for result in futures_util::future::join_all(tasks).await {
        result.expect("client task");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_limit_refuses_the_next_one_cleanly() {
    let server = TestServer::start_with(|s| s.max_connections = 1000).await;
    let mut clients = Vec::new();
    for _ in 0..1000 {
        let mut client = RawClient::connect(server.addr).await;
        assert_eq!(client.ping().await.get_f64("ok"), Ok(1.0));
        clients.push(client);
    }
    let mut refused = RawClient::connect(server.addr).await;
    refused.expect_closed().await;
    // The admitted ones are unaffected, and a slot freed is a slot reusable.
    assert_eq!(clients[999].ping().await.get_f64("ok"), Ok(1.0));
    drop(clients.pop());
    let mut again = None;
    for _ in 0..100 {
        let mut client = RawClient::connect(server.addr).await;
        let frame = client.op_msg(0, &doc! {"ping": 1, "$db": "admin"});
        client.send(&frame).await;
        if client.read_reply().await.is_ok() {
            again = Some(client);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(again.is_some(), "a freed slot was never reused");
    server.stop().await;
}

#[tokio::test]
async fn shutdown_closes_idle_connections_and_returns() {
    let server = TestServer::start().await;
    let mut client = server.raw().await;
    assert_eq!(client.ping().await.get_f64("ok"), Ok(1.0));
    server.stop().await;
    client.expect_closed().await;
}

#[tokio::test]
async fn the_shutdown_command_stops_the_server_and_keeps_what_it_acknowledged() {
    let mut server = TestServer::start().await;
    let client = server.client().await;
    let items = client.database("shop").collection::<Document>("items");
    items.insert_many((0..100).map(|i| doc! {"_id": i})).await.expect("insert");
    assert_eq!(crate::common::error_code(&client, "shop", doc! {"shutdown": 1}).await, 13, "only on admin");
    // The reply may arrive, or the connection close first: either way the server stops.
    let _ = client.database("admin").run_command(doc! {"shutdown": 1}).await;
    server.wait_stopped(std::time::Duration::from_secs(30)).await;
    let server = server.restart().await;
    let client = server.client().await;
    assert_eq!(items_in(&client).await, 100);
}

async fn items_in(client: &mongodb::Client) -> u64 {
    client.database("shop").collection::<Document>("items").count_documents(doc! {}).await.expect("count")
}
