//! `$changeStreamSplitLargeEvent`: an event too large for one BSON document is
//! returned as fragments, as MongoDB 7.0+ splits it. The event's fields (all but
//! `_id`) are taken smallest first and each fragment holds as many as fit; each
//! fragment has its own resume token (the event's, with the fragment's index) as
//! `_id`, and `splitEvent: {fragment, of}`.

use bson::{doc, Bson, Document};

use super::token::Token;
use crate::error::{Error, ErrorCode, Result};
use crate::value::size::document_size;

/// The largest event a stream returns whole, counting its `_id` twice (a reply
/// carries it again as `postBatchResumeToken`): MongoDB's largest internal
/// document less 8 KiB.
pub const MAX_EVENT: usize = 16 * 1024 * 1024 + 16 * 1024 - 8 * 1024;

/// The size an event counts for: its own, and its `_id` again.
pub fn event_size(event: &Document) -> usize {
    let id = event.get("_id").map_or(0, |id| element_size("_id", id));
    document_size(event) + id
}

/// The encoded size of the element `key: value`.
fn element_size(key: &str, value: &Bson) -> usize {
    // A document of that element alone, less the document's own 5 bytes.
    document_size(&doc! { key: value.clone() }) - 5
}

/// The fragments of `event` (whose `_id` is `token`), without the first `skip`.
pub fn split(event: Document, token: Token, skip: usize) -> Result<Vec<Document>> {
    let mut fields: Vec<(usize, String, Bson)> = event
        .into_iter()
        .filter(|(key, _)| key != "_id")
        .map(|(key, value)| (element_size(&key, &value), key, value))
        .collect();
    if fields.is_empty() {
        return Err(Error::command(
            ErrorCode::Location7182502,
            "Cannot split an empty event or an event containing solely '_id' field",
        ));
    }
    // Smallest first, by name among equals: the first fragment holds the most fields.
    fields.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let limit = MAX_EVENT - element_size("_id", &Bson::Document(token.to_document()));
    let mut fragments: Vec<Document> = Vec::new();
    let mut fields = fields.into_iter().peekable();
    while fields.peek().is_some() {
        let index = fragments.len() as u32;
        let mut fragment = doc! {
            "_id": token.of_fragment(index).to_document(),
            "splitEvent": {"fragment": index as i32 + 1, "of": 0},
        };
        let mut size = document_size(&fragment);
        // At least one field, then as many as fit.
        while let Some((field_size, key, value)) =
            fields.next_if(|(field_size, ..)| fragment.len() == 2 || size + field_size <= limit)
        {
            size += field_size;
            fragment.insert(key, value);
        }
        if size > limit {
            return Err(Error::command(
                ErrorCode::Location7182500,
                format!("Splitting change event failed: fragment size {size} is greater than maximum allowed fragment size {limit}"),
            ));
        }
        fragments.push(fragment);
    }
    let total = fragments.len() as i32;
    Ok(fragments
        .into_iter()
        .skip(skip)
        .map(|mut fragment| {
            if let Ok(split) = fragment.get_document_mut("splitEvent") {
                split.insert("of", total);
            }
            fragment
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsn::Lsn;
    use crate::stream::token::Position;

    fn big(bytes: usize) -> Bson {
        Bson::String("x".repeat(bytes))
    }

    #[test]
    fn fields_fill_fragments_smallest_first_and_each_has_its_token() {
        let token = Token::new(Position::event(Lsn(7), 0, 0), false);
        let event = doc! {
            "_id": token.to_document(),
            "operationType": "update",
            "fullDocument": big(10 << 20),
            "fullDocumentBeforeChange": big(10 << 20),
            "ns": {"db": "shop", "coll": "items"},
        };
        assert!(event_size(&event) > MAX_EVENT);
        let fragments = split(event, token, 0).expect("split");
        assert_eq!(fragments.len(), 2);
        for (i, fragment) in fragments.iter().enumerate() {
            assert!(event_size(fragment) <= MAX_EVENT);
            assert_eq!(fragment.get_document("splitEvent"), Ok(&doc! {"fragment": i as i32 + 1, "of": 2}));
            let id = Token::parse("resumeAfter", fragment.get("_id").expect("_id")).expect("a token");
            assert_eq!(id, token.of_fragment(i as u32));
        }
        // The small fields go first, with the first of the large ones.
        let keys: Vec<&str> = fragments[0].keys().map(String::as_str).collect();
        assert_eq!(keys, ["_id", "splitEvent", "operationType", "ns", "fullDocument"]);
        assert!(fragments[1].contains_key("fullDocumentBeforeChange"));
        // Resuming after the first fragment gives the second only.
        let event = doc! {"_id": token.to_document(), "a": big(10 << 20), "b": big(10 << 20)};
        let rest = split(event, token, 1).expect("split");
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].get_document("splitEvent"), Ok(&doc! {"fragment": 2, "of": 2}));
    }

    #[test]
    fn a_field_larger_than_a_fragment_cannot_be_split() {
        let token = Token::new(Position::event(Lsn(7), 0, 0), false);
        let event = doc! {"_id": token.to_document(), "fullDocument": big(17 << 20)};
        assert_eq!(split(event, token, 0).expect_err("too large").code(), ErrorCode::Location7182500);
        let only_id = doc! {"_id": token.to_document()};
        assert_eq!(split(only_id, token, 0).expect_err("nothing").code(), ErrorCode::Location7182502);
    }
}
