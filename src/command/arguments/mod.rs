//! The arguments each command accepts, and what branchdb does with each one.
//!
//! Every argument a command takes is listed here: implemented (the handler reads
//! it and does what MongoDB does), refused with an error (MongoDB would act on it
//! and branchdb cannot yet, so accepting it would be silently wrong), or ignored
//! because MongoDB ignores it too (with the reason). Dispatch checks a command's
//! fields against its list before the handler runs: a field the list does not name
//! is refused as MongoDB's command parser refuses it (40415), and a refused one
//! gets its error. An argument can only be accepted by being written down here.

mod admin;
mod crud;
mod security;

pub use admin::*;
pub use crud::*;
pub use security::*;

use bson::Document;

use crate::error::{Error, ErrorCode, Result};

/// What branchdb does with one argument.
#[derive(Debug, Clone, Copy)]
pub enum Handling {
    /// The handler reads it and acts on it as MongoDB does.
    Implemented,
    /// Accepted and not acted on, because MongoDB does not act on it either (for a
    /// single node, or since some version): the reason.
    Ignored(&'static str),
    /// Refused with this code and reason whenever present: MongoDB would act on it
    /// and branchdb does not yet.
    Refused(ErrorCode, &'static str),
}

/// One argument of a command.
#[derive(Debug, Clone, Copy)]
pub struct Arg {
    pub name: &'static str,
    pub handling: Handling,
}

/// An argument the handler reads.
pub const fn implemented(name: &'static str) -> Arg {
    Arg { name, handling: Handling::Implemented }
}

/// An argument MongoDB ignores too, with the reason.
pub const fn ignored(name: &'static str, why: &'static str) -> Arg {
    Arg { name, handling: Handling::Ignored(why) }
}

/// An argument refused whenever present, with MongoDB's "not implemented" code.
pub const fn unsupported(name: &'static str, why: &'static str) -> Arg {
    Arg { name, handling: Handling::Refused(ErrorCode::NotImplemented, why) }
}

/// What a command does with fields its list does not name.
#[derive(Debug, Clone, Copy)]
pub enum Unlisted {
    /// Refused with 40415, as MongoDB's strict command parsers do.
    Refuse,
    /// Ignored, because MongoDB ignores them for this command too: the reason.
    Ignore(&'static str),
}

/// The arguments of one command (besides its own first field and the generic ones).
#[derive(Debug, Clone, Copy)]
pub struct Args {
    pub listed: &'static [Arg],
    pub unlisted: Unlisted,
}

impl Args {
    /// A command whose parser refuses unknown fields.
    pub const fn strict(listed: &'static [Arg]) -> Args {
        Args { listed, unlisted: Unlisted::Refuse }
    }

    /// A command that ignores fields it does not know, as MongoDB's does.
    pub const fn lenient(listed: &'static [Arg], why: &'static str) -> Args {
        Args { listed, unlisted: Unlisted::Ignore(why) }
    }

    /// The argument called `name`, among the command's own and the generic ones.
    pub fn find(&self, name: &str) -> Option<&'static Arg> {
        self.listed.iter().chain(GENERIC).find(|arg| arg.name == name)
    }

    /// Checks the fields of `body` after the first (the command's name): each is
    /// listed and not refused, or unlisted for a lenient command. `command` names the
    /// command in MongoDB's messages.
    pub fn check(&self, command: &str, body: &Document) -> Result<()> {
        for (field, _) in body.iter().skip(1) {
            match self.find(field) {
                Some(Arg { handling: Handling::Refused(code, why), .. }) => {
                    return Err(Error::command(*code, format!("BSON field '{command}.{field}': {why}")))
                }
                Some(_) => {}
                None => match self.unlisted {
                    Unlisted::Ignore(_) => {}
                    Unlisted::Refuse => {
                        return Err(Error::command(
                            ErrorCode::Location40415,
                            format!("BSON field '{command}.{field}' is an unknown field."),
                        ))
                    }
                },
            }
        }
        Ok(())
    }
}

/// Whether `name` is one of the generic arguments every command accepts.
pub fn is_generic(name: &str) -> bool {
    GENERIC.iter().any(|arg| arg.name == name)
}

/// The arguments every command accepts (MongoDB's generic arguments, those a
/// client or driver sends).
pub static GENERIC: &[Arg] = &[
    implemented("$db"),
    implemented("lsid"),
    implemented("maxTimeMS"),
    implemented("comment"),
    implemented("readConcern"),
    implemented("writeConcern"),
    implemented("apiVersion"),
    implemented("apiStrict"),
    implemented("apiDeprecationErrors"),
    implemented("txnNumber"),
    implemented("autocommit"),
    implemented("startTransaction"),
    ignored(
        "$clusterTime",
        "gossiped cluster time: a single node's own time is always the newest, as a standalone mongod ignores it",
    ),
    ignored("$readPreference", "one node serves every read preference, as a standalone mongod does"),
];

#[cfg(test)]
mod tests;
