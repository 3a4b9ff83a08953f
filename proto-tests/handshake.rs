//! The Rust driver connects and runs the handshake and admin commands.

use bson::{doc, Bson};

use crate::common::TestServer;

#[tokio::test]
async fn the_rust_driver_pings_and_reads_build_info_and_hello() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let admin = client.database("admin");

    let ping = admin.run_command(doc! {"ping": 1}).await.expect("ping");
    assert_eq!(ping.get("ok"), Some(&Bson::Double(1.0)));

    let build = admin.run_command(doc! {"buildInfo": 1}).await.expect("buildInfo");
    assert!(build.get_str("version").expect("version").starts_with("8.0."));

    let hello = client.database("test").run_command(doc! {"hello": 1}).await.expect("hello");
    assert_eq!(hello.get_bool("isWritablePrimary"), Ok(true));
    assert_eq!(hello.get_str("msg"), Ok("isdbgrid"));
    assert_eq!(hello.get_i32("maxWireVersion"), Ok(25));

    for command in ["getCmdLineOpts", "serverStatus", "hostInfo", "listCommands", "connectionStatus", "whatsmyuri"] {
        let reply = admin.run_command(doc! {command: 1}).await.unwrap_or_else(|e| panic!("{command}: {e}"));
        assert_eq!(reply.get("ok"), Some(&Bson::Double(1.0)), "{command}");
    }
    let log = admin.run_command(doc! {"getLog": "startupWarnings"}).await.expect("getLog");
    assert!(log.get_array("log").is_ok());
    server.stop().await;
}

#[tokio::test]
async fn the_driver_sees_mongodb_errors() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let err = client.database("admin").run_command(doc! {"atlasVersion": 1}).await.expect_err("unknown command");
    match *err.kind {
        mongodb::error::ErrorKind::Command(ref e) => {
            assert_eq!(e.code, 59);
            assert_eq!(e.code_name, "CommandNotFound");
        }
        ref other => panic!("unexpected error {other:?}"),
    }
    let err = client.database("shop@-bad").run_command(doc! {"ping": 1}).await.expect_err("bad branch name");
    assert!(matches!(*err.kind, mongodb::error::ErrorKind::Command(ref e) if e.code == 73), "{err}");
    server.stop().await;
}

#[tokio::test]
async fn sessions_work_through_the_driver() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let mut session = client.start_session().await.expect("session");
    client.database("admin").run_command(doc! {"ping": 1}).session(&mut session).await.expect("ping in a session");
    drop(session);
    client.shutdown().await;
    server.stop().await;
}

/// Awaitable hello, as a router serves it: a hello giving back the server's
/// topology version waits `maxAwaitTimeMS` before its reply; another process's
/// version is answered at once; the pair is checked as MongoDB checks it.
#[tokio::test]
async fn an_awaitable_hello_waits_for_its_max_await_time() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let admin = client.database("admin");
    let hello = admin.run_command(doc! {"hello": 1}).await.expect("hello");
    let version = hello.get_document("topologyVersion").expect("a topology version").clone();
    assert_eq!(version.get_i64("counter"), Ok(0));

    let started = std::time::Instant::now();
    let waited = admin
        .run_command(doc! {"hello": 1, "topologyVersion": version.clone(), "maxAwaitTimeMS": 400i64})
        .await
        .expect("awaitable hello");
    assert!(started.elapsed() >= std::time::Duration::from_millis(390), "waited {:?}", started.elapsed());
    assert_eq!(waited.get_document("topologyVersion"), Ok(&version));

    let other = doc! {"processId": bson::oid::ObjectId::new(), "counter": 0i64};
    let started = std::time::Instant::now();
    admin
        .run_command(doc! {"hello": 1, "topologyVersion": other, "maxAwaitTimeMS": 10_000i64})
        .await
        .expect("another process's version");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "answered at once");

    for (command, code) in [
        (doc! {"hello": 1, "maxAwaitTimeMS": 10i64}, 51760),
        (doc! {"hello": 1, "topologyVersion": version.clone()}, 51760),
        (doc! {"hello": 1, "topologyVersion": version.clone(), "maxAwaitTimeMS": -1i64}, 51759),
    ] {
        let error = admin.run_command(command.clone()).await.expect_err("refused");
        let mongodb::error::ErrorKind::Command(failure) = *error.kind else { panic!("{command}: {error}") };
        assert_eq!(failure.code, code, "{command}");
    }
    server.stop().await;
}
