//! The slow operation log and the profiling settings, as MongoDB has them: an
//! operation slower than `slowms` (100 ms by default) is logged as MongoDB logs it
//! (`"msg": "Slow query"`, id 51803, its namespace, command and `durationMillis`),
//! for `sampleRate` of them. The `profile` command reads and changes these; its
//! levels 1 and 2, which write `system.profile`, are not built (the command refuses
//! them).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bson::{Bson, Document};

/// MongoDB's default `slowms`.
pub const DEFAULT_SLOW_MS: u64 = 100;

/// The server's profiling settings.
#[derive(Debug)]
pub struct Profiling {
    slow_ms: AtomicU64,
    /// `sampleRate`, as the bits of an `f64` in 0..=1.
    sample_rate: AtomicU64,
    /// Slow operations seen, for sampling.
    seen: AtomicU64,
}

impl Default for Profiling {
    fn default() -> Profiling {
        Profiling {
            slow_ms: AtomicU64::new(DEFAULT_SLOW_MS),
            sample_rate: AtomicU64::new(1.0f64.to_bits()),
            seen: AtomicU64::new(0),
        }
    }
}

/// What the log says of one slow operation.
pub struct SlowOperation<'a> {
    pub connection: i64,
    pub ns: String,
    pub command: &'a Document,
    pub reply: Option<&'a Document>,
    pub took: Duration,
}

impl Profiling {
    pub fn slow_ms(&self) -> u64 {
        self.slow_ms.load(Ordering::Relaxed)
    }

    pub fn set_slow_ms(&self, ms: u64) {
        self.slow_ms.store(ms, Ordering::Relaxed);
    }

    pub fn sample_rate(&self) -> f64 {
        f64::from_bits(self.sample_rate.load(Ordering::Relaxed))
    }

    pub fn set_sample_rate(&self, rate: f64) {
        self.sample_rate.store(rate.clamp(0.0, 1.0).to_bits(), Ordering::Relaxed);
    }

    /// Whether an operation that took `took` is slow.
    pub fn is_slow(&self, took: Duration) -> bool {
        took.as_millis() >= u128::from(self.slow_ms())
    }

    /// Logs a slow operation, when the sample rate takes it: every
    /// `1 / sampleRate`-th one, so that a rate of 0.5 logs every second.
    pub fn log(&self, op: SlowOperation<'_>) {
        let rate = self.sample_rate();
        let n = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        if rate <= 0.0 || ((n as f64 * rate).floor() - ((n - 1) as f64 * rate).floor()) < 1.0 {
            return;
        }
        let command = Bson::Document(op.command.clone()).into_relaxed_extjson();
        let mut attr = serde_json::json!({
            "type": "command",
            "ns": op.ns,
            "command": command,
            "protocol": "op_msg",
            "durationMillis": op.took.as_millis() as u64,
        });
        if let Some(reply) = op.reply {
            match reply.get("ok") {
                Some(Bson::Double(ok)) if *ok == 1.0 => attr["ok"] = 1.into(),
                _ => {
                    attr["ok"] = 0.into();
                    if let Ok(code) = reply.get_i32("code") {
                        attr["errCode"] = code.into();
                    }
                    if let Ok(name) = reply.get_str("codeName") {
                        attr["errName"] = name.into();
                    }
                    if let Ok(message) = reply.get_str("errmsg") {
                        attr["errMsg"] = message.into();
                    }
                }
            }
        }
        tracing::info!(
            target: "COMMAND",
            id = 51803,
            ctx = %format!("conn{}", op.connection),
            attr_json = %attr,
            "Slow query"
        );
    }
}
