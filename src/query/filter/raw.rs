//! Rejecting stored documents from their raw bytes, before they are decoded.

use bson::{Bson, RawBsonRef, RawDocument};

use super::eval::Node;

impl Node {
    /// See [`Filter::rejects_raw`].
    pub(super) fn rejects_raw(&self, doc: &RawDocument) -> bool {
        match self {
            Node::Path { path, test } if !path.as_str().contains('.') => match doc.get(path.as_str()) {
                Ok(None) => !test.matches(None, &mut None),
                Ok(Some(RawBsonRef::Array(_) | RawBsonRef::Document(_))) | Err(_) => false,
                Ok(Some(raw)) => Bson::try_from(raw).is_ok_and(|value| !test.matches(Some(&value), &mut None)),
            },
            Node::And(children) => children.iter().any(|child| child.rejects_raw(doc)),
            _ => false,
        }
    }
}
