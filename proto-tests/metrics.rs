//! `/metrics`: scraped over HTTP after some work, parsed as Prometheus text, and
//! checked to hold what the Grafana dashboard in `docker/` draws.

use std::collections::BTreeMap;

use bson::{doc, Document};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::TestServer;

/// One GET; the status line and the body.
async fn get(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    (head.lines().next().unwrap_or_default().to_owned(), body.to_owned())
}

/// Every sample of a Prometheus text page, as `name{labels}` → value; panics on a
/// line that is neither a comment nor a sample.
fn parse(page: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    for line in page.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample: {line}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("not a number: {line}")),
        };
        let name = series.split('{').next().unwrap_or_default();
        assert!(name.starts_with("branchdb_"), "unprefixed: {line}");
        samples.insert(series.to_owned(), value);
    }
    samples
}

#[tokio::test]
async fn metrics_are_served_as_prometheus_text_and_hold_what_the_dashboard_draws() {
    let server = TestServer::start_with(|s| s.metrics_bind = Some("127.0.0.1:0".into())).await;
    let metrics = server.metrics.expect("a metrics endpoint");
    let client = server.client().await;
    let db = client.database("shop");
    db.collection::<Document>("items").insert_many((0..10).map(|i| doc! {"_id": i})).await.expect("insert");
    db.run_command(doc! {"createBranch": "feature"}).await.expect("branch");
    let _ = db.run_command(doc! {"noSuchCommand": 1}).await;

    let (status, page) = get(metrics, "/metrics").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let samples = parse(&page);
    let value = |series: &str| *samples.get(series).unwrap_or_else(|| panic!("no {series} in\n{page}"));
    assert!(value(r#"branchdb_commands_total{command="insert",outcome="ok"}"#) >= 1.0);
    assert!(value(r#"branchdb_commands_total{command="unknown",outcome="error"}"#) >= 1.0);
    assert!(value(r#"branchdb_command_duration_seconds_count{command="insert"}"#) >= 1.0);
    assert_eq!(value(r#"branchdb_branch_documents{db="shop",branch="main"}"#), 10.0);
    assert_eq!(value(r#"branchdb_branch_documents{db="shop",branch="feature"}"#), 10.0);
    assert!(value("branchdb_wal_records_total") >= 2.0);
    assert!(value("branchdb_wal_fsyncs_total") >= 1.0);
    assert!(value("branchdb_connections") >= 1.0);
    assert!(value("branchdb_memory_limit_bytes") > 0.0);

    // Every metric the dashboard names is served.
    let dashboard: serde_json::Value =
        serde_json::from_str(include_str!("../docker/grafana-dashboard.json")).expect("the dashboard is JSON");
    let names: std::collections::BTreeSet<&str> =
        samples.keys().map(|series| series.split('{').next().unwrap_or_default()).collect();
    let mut checked = 0;
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if word.starts_with("branchdb_") {
                    assert!(names.contains(word), "the dashboard draws {word}, which is not served");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 10, "the dashboard names {checked} metrics");

    let (status, _) = get(metrics, "/other").await;
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    server.stop().await;
}

/// On object storage the requests made of it are counted, so the cost of a write
/// (its PUTs) is visible.
#[tokio::test]
async fn object_storage_requests_are_counted() {
    let objects = tempfile::tempdir().expect("tempdir");
    let storage = format!("file://{}", objects.path().display());
    let server = TestServer::start_with(|s| {
        s.metrics_bind = Some("127.0.0.1:0".into());
        s.storage = Some(storage);
    })
    .await;
    let metrics = server.metrics.expect("a metrics endpoint");
    let client = server.client().await;
    let items = client.database("shop").collection::<Document>("items");
    for i in 0..5 {
        items.insert_one(doc! {"_id": i}).await.expect("insert");
    }

    let (_, page) = get(metrics, "/metrics").await;
    let samples = parse(&page);
    let value = |series: &str| *samples.get(series).unwrap_or_else(|| panic!("no {series} in\n{page}"));
    // Each acknowledged insert waited for at least one PUT of SlateDB's log.
    assert!(value(r#"branchdb_object_store_requests_total{kind="put"}"#) >= 5.0);
    assert!(value("branchdb_object_store_written_bytes_total") > 0.0);
    assert_eq!(value(r#"branchdb_object_store_request_errors_total{kind="put"}"#), 0.0);
    server.stop().await;
}
