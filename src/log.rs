//! Logging: `tracing` to stderr as text or JSON, plus a ring of recent lines that
//! `getLog: "global"` returns.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::sync::{Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

/// How many recent lines `getLog` can return.
const RING_CAPACITY: usize = 1024;

fn ring() -> &'static Mutex<VecDeque<String>> {
    static RING: OnceLock<Mutex<VecDeque<String>>> = OnceLock::new();
    RING.get_or_init(|| Mutex::new(VecDeque::with_capacity(RING_CAPACITY)))
}

/// The most recent log lines, oldest first, each a JSON object as MongoDB logs them.
pub fn recent() -> Vec<String> {
    ring().lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
}

/// Installs the global subscriber. `filter` is a `RUST_LOG`-style directive; the
/// `RUST_LOG` variable wins when it is set. Calling it twice is harmless.
pub fn init(filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    let registry = tracing_subscriber::registry().with(filter).with(RingLayer);
    let installed = match format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Json => {
            registry.with(tracing_subscriber::fmt::layer().json().with_writer(std::io::stderr)).try_init()
        }
    };
    if installed.is_err() {
        tracing::debug!("a log subscriber was already installed");
    }
}

/// Keeps the last [`RING_CAPACITY`] events.
struct RingLayer;

impl<S: Subscriber> Layer<S> for RingLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = FieldsAsJson::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let severity = match *meta.level() {
            tracing::Level::ERROR => "E",
            tracing::Level::WARN => "W",
            tracing::Level::INFO => "I",
            _ => "D",
        };
        // An event that carries its attributes as one JSON object (`attr_json`, as
        // the slow operation log does) keeps their types; others are strings.
        let mut attr = fields.attr;
        let structured = attr.remove("attr_json").and_then(|json| serde_json::from_str(json.as_str()?).ok());
        let id = attr.remove("id").and_then(|id| id.as_str()?.parse::<i64>().ok());
        let ctx = attr.remove("ctx");
        let mut line = serde_json::json!({
            "t": {"$date": bson::DateTime::now().try_to_rfc3339_string().unwrap_or_default()},
            "s": severity,
            "c": meta.target(),
        });
        if let Some(id) = id {
            line["id"] = id.into();
        }
        if let Some(ctx) = ctx {
            line["ctx"] = ctx;
        }
        line["msg"] = fields.message.into();
        line["attr"] = structured.unwrap_or(serde_json::Value::Object(attr));
        let line = line.to_string();
        let mut ring = ring().lock().unwrap_or_else(|p| p.into_inner());
        if ring.len() == RING_CAPACITY {
            ring.pop_front();
        }
        ring.push_back(line);
    }
}

#[derive(Default)]
struct FieldsAsJson {
    message: String,
    attr: serde_json::Map<String, serde_json::Value>,
}

impl Visit for FieldsAsJson {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.attr.insert(field.name().to_owned(), serde_json::Value::String(text));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.attr.insert(field.name().to_owned(), serde_json::Value::String(value.to_owned()));
        }
    }
}
