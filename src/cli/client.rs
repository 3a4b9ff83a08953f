//! A minimal client of our own for the command line: one connection to the first
//! host of a `mongodb://` URI, logged in with SCRAM-SHA-256 when the URI carries a
//! user (`authSource`, default `admin`), commands as OP_MSG, cursors read to the end.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bson::{doc, Bson, Document};

use crate::auth::scram::{self, Mechanism};
use crate::error::{Error, Result};
use crate::wire::{self, Message, OpMsg};

/// An open connection to a server.
pub struct Connection {
    stream: TcpStream,
    next_id: i32,
}

/// What a `mongodb://` URI says: the first host, and the user if any.
#[derive(Debug, PartialEq)]
struct Uri {
    host: String,
    user: Option<(String, String)>,
    auth_source: String,
}

impl Connection {
    /// Connects to the first host of `uri` and logs in as its user, if it has one.
    pub fn open(uri: &str) -> Result<Connection> {
        let uri = parse_uri(uri)?;
        let stream =
            TcpStream::connect(&uri.host).map_err(|e| Error::Config(format!("cannot connect to {}: {e}", uri.host)))?;
        stream.set_read_timeout(Some(Duration::from_secs(300)))?;
        let mut connection = Connection { stream, next_id: 1 };
        if let Some((user, password)) = &uri.user {
            connection.login(&uri.auth_source, user, password)?;
        }
        Ok(connection)
    }

    /// Sends one command to database `db` and returns the reply, whatever its `ok`.
    pub fn command(&mut self, db: &str, mut body: Document) -> Result<Document> {
        body.insert("$db", db);
        self.next_id += 1;
        self.stream.write_all(&OpMsg::encode_reply(self.next_id, 0, &body)?)?;
        let mut header = [0u8; 4];
        self.stream.read_exact(&mut header)?;
        let len = i32::from_le_bytes(header) as usize;
        if !(16..=48_000_000).contains(&len) {
            return Err(Error::protocol(format!("reply of {len} bytes")));
        }
        let mut frame = header.to_vec();
        frame.resize(len, 0);
        self.stream.read_exact(&mut frame[4..])?;
        match wire::decode(&frame)? {
            (_, Message::Msg(msg)) => Ok(msg.command),
            _ => Err(Error::protocol("the server did not answer with OP_MSG")),
        }
    }

    /// Runs a command that answers with a cursor and reads all of it; an error
    /// reply is returned as the error document.
    pub fn cursor(&mut self, db: &str, body: Document) -> std::result::Result<Vec<Document>, Document> {
        let failed = |e: Error| doc! {"ok": 0.0, "errmsg": e.to_string()};
        let mut reply = self.command(db, body).map_err(failed)?;
        let mut found = Vec::new();
        loop {
            if reply.get_f64("ok").unwrap_or(0.0) != 1.0 {
                return Err(reply);
            }
            let cursor = reply.get_document("cursor").map_err(|_| reply.clone())?;
            let batch =
                cursor.get_array("firstBatch").or_else(|_| cursor.get_array("nextBatch")).map_err(|_| reply.clone())?;
            found.extend(batch.iter().filter_map(Bson::as_document).cloned());
            let id = cursor.get_i64("id").unwrap_or(0);
            if id == 0 {
                return Ok(found);
            }
            let ns = cursor.get_str("ns").unwrap_or_default();
            let collection = ns.split_once('.').map_or(ns, |(_, c)| c).to_owned();
            reply = self.command(db, doc! {"getMore": id, "collection": collection}).map_err(failed)?;
        }
    }

    fn login(&mut self, auth_source: &str, user: &str, password: &str) -> Result<()> {
        let failed = |why: String| Error::Config(format!("login as '{user}' failed: {why}"));
        let binary = |bytes: Vec<u8>| bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes };
        let payload = |reply: &Document| match reply.get("payload") {
            Some(Bson::Binary(b)) if reply.get_f64("ok") == Ok(1.0) => Ok(b.bytes.clone()),
            _ => Err(failed(reply.get_str("errmsg").unwrap_or("no payload").to_owned())),
        };
        let (mut client, first) = scram::Client::start(Mechanism::Sha256, user, password);
        let start = doc! {
            "saslStart": 1,
            "mechanism": "SCRAM-SHA-256",
            "payload": binary(first),
            "options": {"skipEmptyExchange": true},
        };
        let reply = self.command(auth_source, start)?;
        let id = reply.get("conversationId").cloned().unwrap_or(Bson::Int32(1));
        let last = client.finish(&payload(&reply)?).map_err(|e| failed(e.to_string()))?;
        let next = doc! {"saslContinue": 1, "conversationId": id, "payload": binary(last)};
        let reply = self.command(auth_source, next)?;
        if reply.get_bool("done") != Ok(true) || !client.verify(&payload(&reply)?) {
            return Err(failed("the server did not prove it holds the credential".into()));
        }
        Ok(())
    }
}

/// Sends one command to `uri` on a fresh connection.
pub fn send(uri: &str, db: &str, body: Document) -> Result<Document> {
    Connection::open(uri)?.command(db, body)
}

fn parse_uri(uri: &str) -> Result<Uri> {
    let bad = || Error::Config(format!("'{uri}' is not a mongodb:// URI"));
    let rest = uri.strip_prefix("mongodb://").ok_or_else(bad)?;
    let (authority, tail) = rest.split_once(['/', '?']).map_or((rest, ""), |(a, _)| (a, &rest[a.len()..]));
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => (Some(userinfo), hosts),
        None => (None, authority),
    };
    let host = hosts.split(',').next().filter(|h| !h.is_empty()).ok_or_else(bad)?;
    let host = if host.contains(':') { host.to_owned() } else { format!("{host}:27017") };
    let user = match userinfo {
        Some(info) => {
            let (user, password) = info.split_once(':').unwrap_or((info, ""));
            Some((percent_decode(user)?, percent_decode(password)?))
        }
        None => None,
    };
    let query = tail.split_once('?').map_or("", |(_, q)| q);
    let auth_source = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("authSource="))
        .map(percent_decode)
        .transpose()?
        .unwrap_or_else(|| "admin".to_owned());
    Ok(Uri { host, user, auth_source })
}

fn percent_decode(text: &str) -> Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(hex.ok_or_else(|| Error::Config(format!("bad percent-encoding in '{text}'")))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| Error::Config(format!("'{text}' is not UTF-8 once decoded")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_give_the_first_host_and_the_user() {
        let plain = parse_uri("mongodb://127.0.0.1:4000").expect("uri");
        assert_eq!(plain, Uri { host: "127.0.0.1:4000".into(), user: None, auth_source: "admin".into() });
        let full = parse_uri("mongodb://ann:p%40ss@db1,db2:5/shop?authSource=shop&tls=false").expect("uri");
        assert_eq!(full.host, "db1:27017");
        assert_eq!(full.user, Some(("ann".into(), "p@ss".into())));
        assert_eq!(full.auth_source, "shop");
        assert!(parse_uri("http://x").is_err());
    }
}
