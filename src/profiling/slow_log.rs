//! The slow operation log line, in MongoDB's shape: `"msg": "Slow query"`, id
//! 51803, the namespace, the command and `durationMillis`, and the error of a failed
//! one.

use std::time::Duration;

use bson::{Bson, Document};

/// What the log says of one slow operation.
pub struct SlowOperation<'a> {
    pub connection: i64,
    pub ns: String,
    pub command: &'a Document,
    pub reply: Option<&'a Document>,
    pub took: Duration,
}

/// Logs a slow operation as MongoDB does.
pub fn log(op: &SlowOperation<'_>) {
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
