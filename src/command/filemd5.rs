//! `filemd5`: the MD5 digest of a GridFS file, read from `<root>.chunks` (`root`
//! defaults to `fs`) in the order of `n`, as MongoDB's `filemd5` computes it. The
//! partial forms (`partialOk`, `startAt`, `md5state`) that resume a digest are
//! refused by the argument table: their state is MongoDB's own MD5
//! implementation's memory.

use bson::{doc, Bson, Document};
use md5::{Digest, Md5};

use super::{aggregate, args, Invocation};
use crate::error::{Error, ErrorCode, Result};

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let id = inv.body.get("filemd5").cloned().unwrap_or(Bson::Null);
    let root = match inv.body.get("root") {
        None => "fs",
        Some(Bson::String(root)) => root.as_str(),
        Some(other) => {
            return Err(Error::type_mismatch(format!(
                "BSON field 'filemd5.root' is the wrong type '{}', expected type 'string'",
                args::type_name(Some(other))
            )))
        }
    };
    let chunks = format!("{root}.chunks");
    let (view, _) = inv.read_view_at()?;
    let collection = view.collection(&chunks)?;
    let stages = [Bson::Document(doc! {"$match": {"files_id": id}}), Bson::Document(doc! {"$sort": {"n": 1}})];
    let docs = aggregate::collection_documents(inv, &view, collection.as_ref(), &stages, None)?;
    let mut digest = Md5::new();
    for (expected, chunk) in docs.iter().enumerate() {
        let n = chunk.get("n").and_then(crate::index::whole_number);
        if n != Some(expected as i64) {
            return Err(Error::command(ErrorCode::Location10040, "chunks out of order"));
        }
        match chunk.get("data") {
            Some(Bson::Binary(data)) => digest.update(&data.bytes),
            _ => return Err(Error::bad_value(format!("chunk {expected} of the file has no binary 'data'"))),
        }
    }
    let md5: String = digest.finalize().iter().map(|byte| format!("{byte:02x}")).collect();
    Ok(doc! {"numChunks": docs.len() as i32, "md5": md5})
}
