//! One client connection: reads frames, hands commands to dispatch, writes replies.
//!
//! Requests on a connection are served in order. A malformed frame closes only this
//! connection; a malformed command gets an error reply. A message is counted against
//! the server's memory budget from the moment its length is known until its reply is
//! sent; one the budget cannot hold is read past without being kept, and answered
//! with `ExceededMemoryLimit` (146).

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::command::{self, Outcome};
use crate::context::{ConnectionInfo, Context};
use crate::error::{Error, ErrorCode, Result};
use crate::memory::{Budget, Reservation};
use crate::wire::{self, Message, OpMsg, OpReply};

/// What a message is counted as while it is served: its bytes, the documents
/// decoded from them, and the reply, at about four times its length.
const MESSAGE_FOOTPRINT: usize = 4;

/// Request ids of the messages this server sends.
static NEXT_REQUEST_ID: AtomicI32 = AtomicI32::new(1);

/// Serves one connection until the peer closes it, it sends a malformed frame, or
/// the server shuts down (checked between requests only).
pub async fn serve(stream: TcpStream, info: ConnectionInfo, shared: &Arc<Context>, stop: watch::Receiver<bool>) {
    let (reader, writer) = stream.into_split();
    serve_halves(reader, writer, info, shared, stop).await;
}

/// [`serve`] for a TLS connection.
pub async fn serve_tls(
    stream: tokio_rustls::server::TlsStream<TcpStream>,
    info: ConnectionInfo,
    shared: &Arc<Context>,
    stop: watch::Receiver<bool>,
) {
    let (reader, writer) = tokio::io::split(stream);
    serve_halves(reader, writer, info, shared, stop).await;
}

async fn serve_halves(
    mut reader: impl AsyncReadExt + Unpin,
    writer: impl tokio::io::AsyncWrite + Unpin,
    info: ConnectionInfo,
    shared: &Arc<Context>,
    mut stop: watch::Receiver<bool>,
) {
    let info = Arc::new(info);
    let peer = info.peer;
    let mut writer = BufWriter::new(writer);
    let mut buf = BytesMut::with_capacity(16 * 1024);
    tracing::debug!(%peer, id = info.id, "connection open");
    loop {
        let incoming = tokio::select! {
            incoming = read_frame(&mut reader, &mut buf, &shared.memory) => incoming,
            _ = stop.wait_for(|&stop| stop) => break,
        };
        let (reply, served) = match incoming {
            Ok(Some(Incoming::Frame(frame, held))) => match handle(&frame, &info, shared, &stop).await {
                Ok((reply, command)) => (reply, Some(Served { held, command, large: frame.len() > LARGE_FRAME })),
                Err(e) => {
                    closing(peer, &e);
                    break;
                }
            },
            Ok(Some(Incoming::Refused { start, error })) => match refusal(&start, error) {
                Ok(reply) => (reply, None),
                Err(e) => {
                    closing(peer, &e);
                    break;
                }
            },
            Ok(None) => break,
            Err(e) => {
                closing(peer, &e);
                break;
            }
        };
        if let Some(reply) = reply {
            let written = async {
                writer.write_all(&reply).await?;
                writer.flush().await
            };
            if let Err(e) = written.await {
                tracing::debug!(%peer, error = %e, "write failed; closing connection");
                break;
            }
        }
        if let Some(Served { held, command, large: true }) = served {
            // Freeing a large command (a hundred thousand documents) takes a while:
            // after its reply, beside the next one, with the memory counted until then.
            tokio::task::spawn_blocking(move || drop((command, held)));
        }
    }
    tracing::debug!(%peer, id = info.id, "connection closed");
}

/// Logs why a connection is being closed: at the default level when the client's
/// input is the reason (so a client left without a reply can be explained), at
/// debug level for a connection that broke.
fn closing(peer: std::net::SocketAddr, error: &Error) {
    match error {
        Error::Io(_) => tracing::debug!(%peer, error = %error, "closing connection"),
        _ => tracing::warn!(%peer, reason = %error, "closing connection because of the client's input"),
    }
}

/// A frame whose command ran: the memory it is counted in and the command, freed
/// together once its reply is sent.
struct Served {
    held: Reservation,
    command: Option<Arc<bson::Document>>,
    /// Over [`LARGE_FRAME`] bytes.
    large: bool,
}

/// A frame over this many bytes is freed on another thread after its reply.
const LARGE_FRAME: usize = 1 << 20;

/// A message read from the connection.
enum Incoming {
    /// A whole frame, and the memory it is counted in.
    Frame(BytesMut, Reservation),
    /// A frame the memory budget could not hold, read past: its first bytes (the
    /// header and an `OP_MSG`'s flags) and why it was refused.
    Refused { start: BytesMut, error: Error },
}

/// Bytes of a refused frame kept to answer it: the header and an `OP_MSG`'s flags.
const REFUSED_PREFIX: usize = wire::HEADER_LEN + 4;

/// Reads one whole frame. `Ok(None)` is a clean end of stream between frames.
async fn read_frame(
    reader: &mut (impl AsyncReadExt + Unpin),
    buf: &mut BytesMut,
    budget: &Arc<Budget>,
) -> Result<Option<Incoming>> {
    let mut held = None;
    loop {
        if let Some(len) = wire::frame_length(buf)? {
            let reservation = match held.take() {
                Some(reservation) => reservation,
                None => match budget.reserve_message(len.saturating_mul(MESSAGE_FOOTPRINT)) {
                    Ok(reservation) => reservation,
                    Err(error) => return read_past(reader, buf, len, error).await.map(Some),
                },
            };
            if buf.len() >= len {
                return Ok(Some(Incoming::Frame(buf.split_to(len), reservation)));
            }
            held = Some(reservation);
            // Grow towards the announced length only as bytes arrive.
            buf.reserve((len - buf.len()).min(1 << 20));
        }
        if reader.read_buf(buf).await? == 0 {
            return if buf.is_empty() { Ok(None) } else { Err(Error::protocol("connection closed inside a message")) };
        }
    }
}

/// Reads past a frame of `len` bytes without keeping it, but for its first bytes.
async fn read_past(
    reader: &mut (impl AsyncReadExt + Unpin),
    buf: &mut BytesMut,
    len: usize,
    error: Error,
) -> Result<Incoming> {
    let keep = REFUSED_PREFIX.min(len);
    while buf.len() < keep {
        if reader.read_buf(buf).await? == 0 {
            return Err(Error::protocol("connection closed inside a message"));
        }
    }
    let start = buf.split_to(keep);
    let mut left = len - keep;
    let mut scratch = vec![0u8; 64 * 1024];
    while left > 0 {
        if !buf.is_empty() {
            let n = left.min(buf.len());
            let _ = buf.split_to(n);
            left -= n;
            continue;
        }
        let n = reader.read(&mut scratch[..left.min(64 * 1024)]).await?;
        if n == 0 {
            return Err(Error::protocol("connection closed inside a message"));
        }
        left -= n;
    }
    Ok(Incoming::Refused { start, error })
}

/// The reply to a refused frame: its error, unless the client wants no reply.
fn refusal(start: &[u8], error: Error) -> Result<Option<Vec<u8>>> {
    let header = wire::Header::parse(start)?;
    let request_id = NEXT_REQUEST_ID.fetch_add(1, Ordering::Relaxed);
    match header.op_code {
        wire::opcode::OP_MSG => {
            let flags =
                start.get(wire::HEADER_LEN..REFUSED_PREFIX).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            if flags & wire::MORE_TO_COME != 0 {
                return Ok(None);
            }
            encode_or_error(|doc| OpMsg::encode_reply(request_id, header.request_id, doc), error.to_reply()).map(Some)
        }
        wire::opcode::OP_QUERY => {
            encode_or_error(|doc| OpReply::encode(request_id, header.request_id, doc), error.to_reply()).map(Some)
        }
        other => Err(Error::protocol(format!("unknown opcode {other}"))),
    }
}

/// Decodes a frame, runs its command and encodes the reply (`None`: no reply wanted);
/// returns the decoded command too, for the caller to free. An `Err` closes the
/// connection: an error that [`Error::closes_connection`] (a frame that does not
/// decode leaves the stream untrustworthy); any other becomes an error reply.
async fn handle(
    frame: &[u8],
    info: &Arc<ConnectionInfo>,
    shared: &Arc<Context>,
    stop: &watch::Receiver<bool>,
) -> Result<(Option<Vec<u8>>, Option<Arc<bson::Document>>)> {
    let request_id = NEXT_REQUEST_ID.fetch_add(1, Ordering::Relaxed);
    let (header, message) = match wire::decode(frame) {
        Ok(decoded) => decoded,
        Err(e) if e.closes_connection() => return Err(e),
        Err(e) => {
            let header = wire::Header::parse(frame)?;
            return encode_or_error(|doc| OpMsg::encode_reply(request_id, header.request_id, doc), e.to_reply())
                .map(|reply| (Some(reply), None));
        }
    };
    match message {
        Message::Msg(msg) => {
            let more_to_come = msg.more_to_come();
            let respond = move |reply: bson::Document| match more_to_come {
                true => Ok(None),
                false => {
                    encode_or_error(|doc| OpMsg::encode_reply(request_id, header.request_id, doc), reply).map(Some)
                }
            };
            let command = Arc::new(msg.command);
            let reply = run_command(&command, msg.sequences, info, shared, stop, respond).await?;
            Ok((reply, Some(command)))
        }
        Message::Query(query) => {
            let reply = match query.command() {
                Ok((db, mut body)) => match body.keys().next() {
                    Some(name) if command::is_handshake(name) => {
                        body.insert("$db", db);
                        command::run(&body, info, shared)
                    }
                    name => Error::command(
                        ErrorCode::UnsupportedOpQueryCommand,
                        format!(
                            "Unsupported OP_QUERY command: {}. The client driver may require an upgrade.",
                            name.map(String::as_str).unwrap_or("")
                        ),
                    )
                    .to_reply(),
                },
                Err(e) => e.to_reply(),
            };
            encode_or_error(|doc| OpReply::encode(request_id, header.request_id, doc), reply)
                .map(|reply| (Some(reply), None))
        }
    }
}

/// Runs a command and encodes its reply with `respond`. Commands that touch the
/// store (but point reads) run on the blocking pool, so that a write waiting for its
/// fsync or a long scan never holds up a runtime worker; change stream batches run
/// on the low-priority threads, their replies encoded there too (a batch of events
/// is mostly encoding), so that streams never take the CPU from writers.
async fn run_command(
    body: &Arc<bson::Document>,
    sequences: Vec<String>,
    info: &Arc<ConnectionInfo>,
    shared: &Arc<Context>,
    stop: &watch::Receiver<bool>,
    respond: impl Fn(bson::Document) -> Result<Option<Vec<u8>>> + Copy + Send + 'static,
) -> Result<Option<Vec<u8>>> {
    let finish = move |outcome: Outcome| match outcome {
        Outcome::Reply(reply) => respond(reply),
        Outcome::Close => Err(Error::protocol("closed by the failCommand fail point")),
    };
    let panicked = move |e: String| respond(Error::Internal(format!("command panicked: {e}")).to_reply());
    // A change stream's getMore waits for its events here, on no thread.
    let wait = command::change_stream_wait(body, shared);
    let waited = wait.is_some();
    if let Some(wait) = wait {
        wait.ready().await;
    }
    // An awaitable hello waits here too, unless the server stops meanwhile.
    if let Some(wait) = command::hello_wait(body) {
        let mut stop = stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|&stop| stop) => return respond(command::hello_shutting_down()),
        }
    }
    let placement = command::placement(body, shared, waited);
    let (body, info, context) = (body.clone(), info.clone(), shared.clone());
    let work = move || command::execute(&body, &sequences, &info, &context);
    let outcome = match placement {
        command::Placement::Inline => return finish(work()),
        command::Placement::LowPriority => shared.low_priority.run(move || finish(work())).await,
        command::Placement::Spare => shared.low_priority.run_spare(move || finish(work())).await,
        command::Placement::Blocking => {
            return match tokio::task::spawn_blocking(work).await {
                Ok(outcome) => finish(outcome),
                Err(e) => panicked(e.to_string()),
            }
        }
    };
    outcome.unwrap_or_else(panicked)
}

/// Encodes a reply; one too large to send becomes an error reply instead.
fn encode_or_error(encode: impl Fn(&bson::Document) -> Result<Vec<u8>>, reply: bson::Document) -> Result<Vec<u8>> {
    encode(&reply).or_else(|e| encode(&e.to_reply()))
}
