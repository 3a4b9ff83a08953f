//! Access control through the Rust driver: the localhost exception, SCRAM-SHA-256
//! and SCRAM-SHA-1 logins (the driver starts them speculatively in `hello`), a
//! wrong password, unauthenticated commands, and a user whose roles are scoped to
//! branches.

use bson::{doc, Document};
use mongodb::options::{AuthMechanism, ClientOptions, Credential};

use crate::common::TestServer;

async fn login(
    server: &TestServer,
    user: &str,
    password: &str,
    source: &str,
    mechanism: AuthMechanism,
) -> mongodb::Client {
    let mut options = ClientOptions::parse(server.uri()).await.expect("options");
    options.credential = Some(
        Credential::builder()
            .username(user.to_owned())
            .password(password.to_owned())
            .source(source.to_owned())
            .mechanism(mechanism)
            .build(),
    );
    mongodb::Client::with_options(options).expect("client")
}

fn code(result: Result<impl std::fmt::Debug, mongodb::error::Error>) -> Option<i32> {
    match result {
        Ok(_) => None,
        Err(e) => match *e.kind {
            mongodb::error::ErrorKind::Command(ref c) => Some(c.code),
            mongodb::error::ErrorKind::Write(mongodb::error::WriteFailure::WriteError(ref w)) => Some(w.code),
            mongodb::error::ErrorKind::Authentication { .. } => Some(18),
            _ => panic!("unexpected error {e}"),
        },
    }
}

#[tokio::test]
async fn scram_logins_and_roles_scoped_to_branches() {
    let server = TestServer::start_with(|s| s.auth = true).await;
    let anonymous = server.client().await;
    let items = |client: &mongodb::Client, db: &str| client.database(db).collection::<Document>("items");
    assert_eq!(code(items(&anonymous, "shop").find_one(doc! {}).await), Some(13), "unauthenticated find");

    // The localhost exception lets the first user be created, then closes.
    let admin = anonymous.database("admin");
    admin.run_command(doc! {"createUser": "root", "pwd": "s3cret", "roles": ["root"]}).await.expect("first user");
    assert_eq!(code(admin.run_command(doc! {"createUser": "x", "pwd": "p", "roles": []}).await), Some(13));

    for mechanism in [AuthMechanism::ScramSha256, AuthMechanism::ScramSha1] {
        let root = login(&server, "root", "s3cret", "admin", mechanism.clone()).await;
        let status = root.database("admin").run_command(doc! {"connectionStatus": 1}).await.expect("status");
        let users = status.get_document("authInfo").and_then(|a| a.get_array("authenticatedUsers")).expect("users");
        assert_eq!(users, &vec![bson::Bson::Document(doc! {"user": "root", "db": "admin"})], "{mechanism:?}");
        let wrong = login(&server, "root", "wrong", "admin", mechanism.clone()).await;
        assert_eq!(code(wrong.database("admin").run_command(doc! {"ping": 1}).await), Some(18), "{mechanism:?}");
    }

    let root = login(&server, "root", "s3cret", "admin", AuthMechanism::ScramSha256).await;
    items(&root, "shop").insert_one(doc! {"_id": 1}).await.expect("root writes");
    let shop = root.database("shop");
    for branch in ["feature-1", "other"] {
        shop.run_command(doc! {"createBranch": branch}).await.expect("branch");
    }
    shop.run_command(doc! {
        "createUser": "dev",
        "pwd": "devpw",
        "roles": [{"role": "read", "db": "shop"}, {"role": "readWrite", "db": "shop@feature-*"}],
    })
    .await
    .expect("dev");

    let dev = login(&server, "dev", "devpw", "shop", AuthMechanism::ScramSha256).await;
    assert!(items(&dev, "shop").find_one(doc! {}).await.expect("dev reads main").is_some());
    assert_eq!(code(items(&dev, "shop").insert_one(doc! {"_id": 2}).await), Some(13), "main is read-only");
    items(&dev, "shop@feature-1").insert_one(doc! {"_id": 2}).await.expect("dev writes a feature branch");
    assert_eq!(code(items(&dev, "shop@other").insert_one(doc! {"_id": 2}).await), Some(13), "another branch");
    assert_eq!(code(items(&dev, "shop@other").find_one(doc! {}).await), Some(13), "not even read");
    let dev_shop = dev.database("shop");
    dev_shop.run_command(doc! {"createBranch": "feature-2"}).await.expect("a feature branch of its own");
    assert_eq!(code(dev_shop.run_command(doc! {"createBranch": "hotfix"}).await), Some(13));
    assert_eq!(code(dev_shop.run_command(doc! {"createUser": "eve", "pwd": "p", "roles": []}).await), Some(13));
    // A cursor answers only the user who opened it.
    let mut session = root.start_session().await.expect("session");
    let find = doc! {"find": "items", "batchSize": 0};
    let opened = root.database("shop").run_command(find).session(&mut session).await.expect("find");
    let id = opened.get_document("cursor").and_then(|c| c.get_i64("id")).expect("cursor id");
    let more = doc! {"getMore": id, "collection": "items"};
    assert_eq!(code(dev_shop.run_command(more.clone()).await), Some(13), "another user's cursor");
    let kill = doc! {"killCursors": "items", "cursors": [id]};
    assert_eq!(code(dev_shop.run_command(kill).await), Some(13), "nor kill it");
    root.database("shop").run_command(more).session(&mut session).await.expect("the owner's getMore");
    // Change streams: find and changeStream where they read.
    let watch = |collection: bson::Bson, spec: Document| {
        doc! {"aggregate": collection, "pipeline": [{"$changeStream": spec}], "cursor": {}}
    };
    dev_shop.run_command(watch("items".into(), doc! {})).await.expect("dev watches main's items");
    dev_shop.run_command(watch(1.into(), doc! {})).await.expect("and the database branch");
    let other = dev.database("shop@other").run_command(watch("items".into(), doc! {})).await;
    assert_eq!(code(other), Some(13), "not another branch");
    let cluster = dev.database("admin").run_command(watch(1.into(), doc! {"allChangesForCluster": true})).await;
    assert_eq!(code(cluster), Some(13), "nor the whole server");
    root.database("admin").run_command(watch(1.into(), doc! {"allChangesForCluster": true})).await.expect("root");
    let names = dev.list_database_names().await.expect("list");
    assert!(names.contains(&"shop@feature-1".to_owned()) && !names.contains(&"shop@other".to_owned()), "{names:?}");

    // Changing one's own password needs changeOwnPassword, which no built-in role has.
    let own = doc! {"updateUser": "dev", "pwd": "new-password"};
    assert_eq!(code(dev_shop.run_command(own).await), Some(13));

    // Dropping the user ends what it may do at its next command.
    shop.run_command(doc! {"dropUser": "dev"}).await.expect("drop");
    assert_eq!(code(items(&dev, "shop").find_one(doc! {}).await), Some(13));
    server.stop().await;
}

/// A server with access control, logged in as `root` (the first user) and as
/// `app`, a user with `readWrite` on `shop`.
async fn root_and_app() -> (TestServer, mongodb::Client, mongodb::Client) {
    let server = TestServer::start_with(|s| s.auth = true).await;
    let admin = server.client().await.database("admin");
    admin.run_command(doc! {"createUser": "root", "pwd": "s3cret", "roles": ["root"]}).await.expect("first user");
    let root = login(&server, "root", "s3cret", "admin", AuthMechanism::ScramSha256).await;
    root.database("shop")
        .run_command(doc! {"createUser": "app", "pwd": "apppw", "roles": [{"role": "readWrite", "db": "shop"}]})
        .await
        .expect("app user");
    let app = login(&server, "app", "apppw", "shop", AuthMechanism::ScramSha256).await;
    (server, root, app)
}

#[tokio::test]
async fn user_write_block_mode_stops_users_without_bypass() {
    let (server, root, app) = root_and_app().await;
    let items = |client: &mongodb::Client| client.database("shop").collection::<Document>("items");
    items(&app).insert_one(doc! {"_id": 1}).await.expect("writes before the block");

    let block = |global: bool| doc! {"setUserWriteBlockMode": 1, "global": global};
    root.database("admin").run_command(block(true)).await.expect("block");
    assert_eq!(code(items(&app).insert_one(doc! {"_id": 2}).await), Some(371), "blocked");
    assert_eq!(code(app.database("shop").run_command(doc! {"create": "other"}).await), Some(371), "DDL too");
    assert!(items(&app).find_one(doc! {"_id": 1}).await.expect("reads go on").is_some());
    // root holds bypassWriteBlockingMode.
    items(&root).insert_one(doc! {"_id": 3}).await.expect("root writes on");
    assert_eq!(code(app.database("admin").run_command(block(false)).await), Some(13), "only with the privilege");

    root.database("admin").run_command(block(false)).await.expect("unblock");
    items(&app).insert_one(doc! {"_id": 2}).await.expect("writes again");
    let missing = root.database("admin").run_command(doc! {"setUserWriteBlockMode": 1}).await;
    assert_eq!(code(missing), Some(40414));
    server.stop().await;
}

#[tokio::test]
async fn default_max_time_ms_limits_reads_of_users_without_bypass() {
    let (server, root, app) = root_and_app().await;
    root.database("shop").collection::<Document>("items").insert_one(doc! {"_id": 1}).await.expect("insert");
    // A read that takes a while: a loop in JavaScript for each document.
    let slow = |max_time_ms: Option<i64>| {
        let mut find = doc! {"find": "items", "filter": {"$where": "var x = 0; for (var i = 0; i < 3000000; i++) { x += i; } return true;"}};
        if let Some(ms) = max_time_ms {
            find.insert("maxTimeMS", ms);
        }
        find
    };
    let set = doc! {"setClusterParameter": {"defaultMaxTimeMS": {"readOperations": 5i64}}};
    root.database("admin").run_command(set).await.expect("set the default");
    assert_eq!(code(app.database("shop").run_command(slow(None)).await), Some(50), "the default limits the app");
    app.database("shop").run_command(slow(Some(0))).await.expect("its own maxTimeMS wins, 0 none");
    root.database("shop").run_command(slow(None)).await.expect("root may bypass the default");
    let writes = doc! {"insert": "items", "documents": [{"_id": 2}]};
    app.database("shop").run_command(writes).await.expect("writes are not limited");
    server.stop().await;
}

/// A read replica's users and roles are its writer's: a user made on the writer
/// logs in on the replica, the localhost exception closes there too, and a role
/// the writer revokes is gone from the replica's logged-in connections.
#[tokio::test]
async fn a_read_replica_follows_its_writers_users_and_roles() {
    let objects = tempfile::tempdir().expect("tempdir");
    let url = format!("file://{}", objects.path().display());
    let writer = TestServer::start_with(|s| {
        s.auth = true;
        s.storage = Some(url.clone());
    })
    .await;
    // Started before any user exists: the localhost exception is open on both.
    let replica = TestServer::start_with(|s| {
        s.auth = true;
        s.storage = None;
        s.replica_of = Some(url.clone());
    })
    .await;
    let create_root = doc! {"createUser": "root", "pwd": "s3cret", "roles": ["root"]};
    writer.client().await.database("admin").run_command(create_root).await.expect("first user");
    let root = login(&writer, "root", "s3cret", "admin", AuthMechanism::ScramSha256).await;
    let dev = doc! {"createUser": "dev", "pwd": "devpw", "roles": [{"role": "read", "db": "shop"}]};
    root.database("shop").run_command(dev).await.expect("dev");

    let within = |what: &'static str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        move || assert!(std::time::Instant::now() < deadline, "not within 5 s on the replica: {what}")
    };
    let dev = login(&replica, "dev", "devpw", "shop", AuthMechanism::ScramSha256).await;
    let items = dev.database("shop").collection::<Document>("items");
    let check = within("dev logs in and reads");
    while code(items.find_one(doc! {}).await).is_some() {
        check();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The exception is closed: an anonymous createUser is unauthorized, not sent
    // on to be refused as a write.
    let anonymous = replica.client().await.database("admin");
    let check = within("the localhost exception closes");
    loop {
        let refused = code(anonymous.run_command(doc! {"createUser": "x", "pwd": "p", "roles": []}).await);
        if refused == Some(13) {
            break;
        }
        assert_eq!(refused, Some(10107), "a replica takes no writes");
        check();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let revoke = doc! {"revokeRolesFromUser": "dev", "roles": [{"role": "read", "db": "shop"}]};
    root.database("shop").run_command(revoke).await.expect("revoke");
    let check = within("the revoked role is gone");
    while code(items.find_one(doc! {}).await) != Some(13) {
        check();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    replica.stop().await;
    writer.stop().await;
}
