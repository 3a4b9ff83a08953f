//! BSON value rules every layer shares, below all of them: nothing here knows about
//! commands, the store or the wire.
//!
//! [`decode`] is the one way bytes become a [`bson::Document`] anywhere in the
//! server: element by element, exactly as encoded. The `bson` crate's serde path
//! (`Document::from_reader`, `bson::from_slice`) reads subdocuments shaped like
//! Extended JSON (`{$oid: …}`, `{$numberLong: …}`, `{$binary: …, $type: …}`) as
//! the values they describe, which would change what a client stored; clippy's
//! `disallowed-methods` (see `clippy.toml`) keeps it out.

pub mod check;
pub mod collation;
pub mod decimal;
mod decode;
mod encode;
mod identical;
pub mod number;
pub mod order;
pub mod regex;
pub mod show;
pub mod size;
mod truth;
mod types;

pub use decode::{decode, decode_next, DecodeError};
pub use encode::encode;
pub use identical::{identical, identical_documents};
pub use truth::truthy;
pub use types::{alias, type_by_alias, type_by_code, type_name};
