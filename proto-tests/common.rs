//! Starting a server for a test, and a raw-socket client.

use std::net::SocketAddr;
use std::time::Duration;

use branchdb::config::Settings;
use branchdb::server::Server;
use bson::{doc, Document};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server running on a free port; stopped when dropped or by [`TestServer::stop`].
pub struct TestServer {
    pub addr: SocketAddr,
    /// The metrics endpoint, when the settings ask for one.
    pub metrics: Option<SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<branchdb::error::Result<()>>>,
    _data: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(configure: impl FnOnce(&mut Settings)) -> TestServer {
        Self::start_in(tempfile::tempdir().expect("tempdir"), configure).await
    }

    /// Stops the server and starts a new one on the same data directory (default
    /// settings), which recovers what the first one acknowledged.
    pub async fn restart(mut self) -> TestServer {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server run");
        }
        let data = tempfile::tempdir().expect("tempdir");
        let data = std::mem::replace(&mut self._data, data);
        Self::start_in(data, |_| {}).await
    }

    async fn start_in(data: tempfile::TempDir, configure: impl FnOnce(&mut Settings)) -> TestServer {
        let mut settings =
            Settings { bind: "127.0.0.1:0".into(), data_dir: data.path().to_path_buf(), ..Settings::default() };
        settings.storage = test_storage(data.path());
        configure(&mut settings);
        let server = Server::bind(settings, vec!["branchdb".into(), "serve".into()]).await.expect("bind");
        let addr = server.local_addr().expect("addr");
        let metrics = server.metrics_addr().expect("metrics addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        TestServer { addr, metrics, stop: Some(stop), task: Some(task), _data: data }
    }

    pub fn uri(&self) -> String {
        format!("mongodb://{}/?directConnection=true&serverSelectionTimeoutMS=5000", self.addr)
    }

    pub async fn client(&self) -> mongodb::Client {
        mongodb::Client::with_uri_str(self.uri()).await.expect("client")
    }

    pub async fn raw(&self) -> RawClient {
        RawClient::connect(self.addr).await
    }

    /// Waits (at most `within`) for the server to stop by itself, as a `shutdown`
    /// command makes it.
    pub async fn wait_stopped(&mut self, within: Duration) {
        let task = self.task.take().expect("a running server");
        tokio::time::timeout(within, task).await.expect("stopped in time").expect("server task").expect("server run");
    }

    /// Asks the server to shut down and waits until it has.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server run");
        }
    }
}

/// Where a server keeps its log and store: its data directory (the embedded
/// default), or, as CI runs some suites again, object storage named by
/// `BRANCHDB_TEST_STORAGE`: `objects` for SlateDB in the data directory, or an
/// `s3://bucket/prefix` (`scripts/objects-s3.sh`) under which each server takes a
/// prefix named after its data directory, so that a restart finds its objects again.
fn test_storage(data: &std::path::Path) -> Option<String> {
    let storage = std::env::var("BRANCHDB_TEST_STORAGE").ok()?;
    if storage == "objects" {
        return Some(format!("file://{}", data.join("objects").display()));
    }
    let unique = data.file_name().and_then(|name| name.to_str()).expect("a temporary directory's name");
    Some(format!("{}/{unique}", storage.trim_end_matches('/')))
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A client speaking raw OP_MSG.
pub struct RawClient {
    pub stream: TcpStream,
    next_id: i32,
}

impl RawClient {
    pub async fn connect(addr: SocketAddr) -> RawClient {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        RawClient { stream, next_id: 1 }
    }

    /// An OP_MSG frame with one body section.
    pub fn op_msg(&mut self, flags: u32, command: &Document) -> Vec<u8> {
        let mut body = Vec::new();
        command.to_writer(&mut body).expect("encode");
        let len = 16 + 4 + 1 + body.len();
        self.next_id += 1;
        let mut frame = Vec::with_capacity(len);
        frame.extend_from_slice(&(len as i32).to_le_bytes());
        frame.extend_from_slice(&self.next_id.to_le_bytes());
        frame.extend_from_slice(&0i32.to_le_bytes());
        frame.extend_from_slice(&2013i32.to_le_bytes());
        frame.extend_from_slice(&flags.to_le_bytes());
        frame.push(0);
        frame.extend_from_slice(&body);
        frame
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("send");
    }

    /// Reads one OP_MSG reply and returns `(responseTo, document)`.
    pub async fn read_reply(&mut self) -> std::io::Result<(i32, Document)> {
        let mut header = [0u8; 16];
        self.stream.read_exact(&mut header).await?;
        let len = i32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let response_to = i32::from_le_bytes([header[8], header[9], header[10], header[11]]);
        let mut body = vec![0u8; len - 16];
        self.stream.read_exact(&mut body).await?;
        let doc = branchdb::value::decode(&body[5..]).map_err(std::io::Error::other)?;
        Ok((response_to, doc))
    }

    pub async fn command(&mut self, command: Document) -> Document {
        let frame = self.op_msg(0, &command);
        self.send(&frame).await;
        self.read_reply().await.expect("reply").1
    }

    pub async fn ping(&mut self) -> Document {
        self.command(doc! {"ping": 1, "$db": "admin"}).await
    }

    /// Waits until the server closes the connection (EOF or reset), failing after 5 s.
    pub async fn expect_closed(&mut self) {
        let mut buf = [0u8; 1024];
        let closed = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match self.stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "the server did not close the connection");
    }
}

/// Runs a command on `db`, panicking on an error.
pub async fn run(client: &mongodb::Client, db: &str, command: Document) -> Document {
    client.database(db).run_command(command).await.unwrap_or_else(|e| panic!("{db}: {e}"))
}

/// The code of the error a command gets, panicking when it succeeds.
pub async fn error_code(client: &mongodb::Client, db: &str, command: Document) -> i32 {
    match client.database(db).run_command(command).await {
        Ok(reply) => panic!("{db}: expected an error, got {reply}"),
        Err(e) => match *e.kind {
            mongodb::error::ErrorKind::Command(ref c) => c.code,
            ref other => panic!("{db}: not a command error: {other:?}"),
        },
    }
}

/// The documents of `db.items`, by `_id`.
pub async fn items(client: &mongodb::Client, db: &str) -> Vec<Document> {
    use futures_util::TryStreamExt;
    let coll = client.database(db).collection::<Document>("items");
    coll.find(doc! {}).sort(doc! {"_id": 1}).await.expect("find").try_collect().await.expect("cursor")
}
