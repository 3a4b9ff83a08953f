//! The slow operation log line, in MongoDB's shape: `"msg": "Slow query"`, id
//! 51803, the namespace, the command and `durationMillis`, and the error of a failed
//! one. As MongoDB's log (`maxLogSizeKB`), a command over 10 KiB is cut there, and
//! `truncated` says where and `size` how large it was.

use std::borrow::Cow;
use std::time::Duration;

use bson::{doc, Bson, Document};

use crate::value::size::{document_size, document_size_within, value_size, value_size_within};

/// The largest attribute a log line holds whole (MongoDB's `maxLogSizeKB`, 10).
const MAX_ATTRIBUTE_BYTES: usize = 10 * 1024;

/// What the log says of one slow operation.
pub struct SlowOperation<'a> {
    pub connection: i64,
    pub ns: String,
    /// The command as the log shows it (without its document sequences).
    pub command: Cow<'a, Document>,
    pub reply: Option<&'a Document>,
    pub took: Duration,
}

/// Logs a slow operation as MongoDB does.
pub fn log(op: SlowOperation<'_>) {
    let (command, truncated) = match document_size_within(&op.command, MAX_ATTRIBUTE_BYTES) {
        Some(_) => (op.command.into_owned(), None),
        None => {
            let mut budget = MAX_ATTRIBUTE_BYTES;
            let (kept, cut_at) = cut(&mut op.command.iter().map(|(k, v)| (k.clone(), v)), &mut budget);
            (kept.into_iter().collect(), Some((cut_at, document_size(&op.command))))
        }
    };
    let mut attr = serde_json::json!({
        "type": "command",
        "ns": op.ns,
        "command": Bson::Document(command).into_relaxed_extjson(),
        "protocol": "op_msg",
        "durationMillis": op.took.as_millis() as u64,
    });
    if let Some((cut_at, size)) = truncated {
        attr["truncated"] = serde_json::json!({"command": Bson::Document(cut_at).into_relaxed_extjson()});
        attr["size"] = serde_json::json!({"command": size});
    }
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

/// The leading fields (or array elements, named by their index) that fit in
/// `budget` bytes, descending into the document or array that does not fit, and
/// where they were cut: the path to the first value left out, with that value's
/// type and size.
fn cut(fields: &mut dyn Iterator<Item = (String, &Bson)>, budget: &mut usize) -> (Vec<(String, Bson)>, Document) {
    let mut kept = Vec::new();
    for (name, value) in fields {
        let element = name.len() + 2;
        if let Some(size) = budget.checked_sub(element).and_then(|room| value_size_within(value, room)) {
            *budget -= element + size;
            kept.push((name, value.clone()));
            continue;
        }

        if matches!(value, Bson::Document(_) | Bson::Array(_)) {
            // The part kept takes its name, type byte, length and end too.
            *budget = budget.saturating_sub(name.len() + 2 + 5);
        }
        let (part, at) = match value {
            Bson::Document(inner) => {
                let (part, at) = cut(&mut inner.iter().map(|(k, v)| (k.clone(), v)), budget);
                (Some(Bson::Document(part.into_iter().collect())), at)
            }
            Bson::Array(items) => {
                let (part, at) = cut(&mut items.iter().enumerate().map(|(i, v)| (i.to_string(), v)), budget);
                (Some(Bson::Array(part.into_iter().map(|(_, v)| v).collect())), at)
            }
            _ => {
                let size = element + value_size(value);
                (None, doc! {"type": crate::value::type_name(Some(value)), "size": size as i64})
            }
        };
        if let Some(part) = part {
            kept.push((name.clone(), part));
        }
        return (kept, doc! {name: at});
    }
    (kept, Document::new())
}

#[cfg(test)]
mod tests {
    use bson::{doc, Bson};

    #[test]
    fn a_large_command_is_cut_at_10_kib_and_says_where() {
        let docs: Vec<Bson> = (0..1000).map(|i| Bson::Document(doc! {"_id": i, "pad": "x".repeat(20)})).collect();
        let command = doc! {"insert": "c", "documents": docs, "$db": "t"};
        let mut budget = super::MAX_ATTRIBUTE_BYTES;
        let (kept, at) = super::cut(&mut command.iter().map(|(k, v)| (k.clone(), v)), &mut budget);
        let kept: bson::Document = kept.into_iter().collect();
        assert!(crate::value::size::document_size(&kept) <= super::MAX_ATTRIBUTE_BYTES + 16);
        let documents = kept.get_array("documents").expect("documents");
        // The last document kept is the one cut: its `pad` did not fit.
        let cut_at = (documents.len() - 1).to_string();
        let inner = at.get_document("documents").and_then(|d| d.get_document(&cut_at)).expect("where");
        assert_eq!(inner.get_document("pad").and_then(|pad| pad.get_str("type")), Ok("string"), "{at}");
        assert!(!kept.contains_key("$db"));
    }
}
