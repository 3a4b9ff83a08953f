//! The one error type of branchdb.
//!
//! An [`Error`] either ends a connection (a broken frame, an I/O failure) or becomes a
//! MongoDB-shaped error reply `{ok: 0, errmsg, code, codeName}`; [`Error::closes_connection`]
//! says which. Codes and names are MongoDB's (`src/mongo/base/error_codes.yml`).

use std::fmt;

use bson::{doc, Document};

use crate::lsn::Lsn;

macro_rules! error_codes {
    ($($name:ident = $code:literal),* $(,)?) => {
        /// A MongoDB error code with its canonical name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode { $($name),* }

        impl ErrorCode {
            /// The numeric code, as sent in `code`.
            pub fn code(self) -> i32 {
                match self { $(ErrorCode::$name => $code),* }
            }

            /// The name, as sent in `codeName`.
            pub fn name(self) -> &'static str {
                match self { $(ErrorCode::$name => stringify!($name)),* }
            }
        }
    };
}

error_codes! {
    InternalError = 1,
    Unauthorized = 13,
    BadValue = 2,
    NoSuchKey = 4,
    FailedToParse = 9,
    TypeMismatch = 14,
    Overflow = 15,
    IllegalOperation = 20,
    InvalidBSON = 22,
    NamespaceNotFound = 26,
    CursorNotFound = 43,
    CursorInUse = 143,
    NamespaceExists = 48,
    MaxTimeMSExpired = 50,
    CommandNotFound = 59,
    InvalidOptions = 72,
    InvalidNamespace = 73,
    ProtocolError = 17,
    ClientMetadataCannotBeMutated = 186,
    UnsupportedOpQueryCommand = 352,
    Location40571 = 40571,
    BSONObjectTooLarge = 10334,
    DuplicateKey = 11000,
    SnapshotTooOld = 239,
    ImmutableField = 66,
    ConflictingUpdateOperators = 40,
    Location31254 = 31254,
    Location40414 = 40414,
    InvalidLength = 16,
    InvalidIdField = 53,
    PathNotViable = 28,
    IndexNotFound = 27,
    NotSingleValueField = 54,
    NoQueryExecutionPlans = 291,
    Location51074 = 51074,
    Location51075 = 51075,
    Location51091 = 51091,
    Location51108 = 51108,
    DollarPrefixedFieldName = 52,
    EmptyFieldName = 56,
    InvalidPipelineOperator = 168,
    Location15974 = 15974,
    Location15975 = 15975,
    Location15998 = 15998,
    Location16410 = 16410,
    Location16411 = 16411,
    Location17307 = 17307,
    Location17308 = 17308,
    Location17312 = 17312,
    Location31138 = 31138,
    Location31249 = 31249,
    Location31250 = 31250,
    Location31252 = 31252,
    Location31253 = 31253,
    Location31255 = 31255,
    Location31256 = 31256,
    Location31257 = 31257,
    Location31258 = 31258,
    Location31259 = 31259,
    Location31271 = 31271,
    Location31272 = 31272,
    Location31273 = 31273,
    Location31274 = 31274,
    Location31275 = 31275,
    Location31276 = 31276,
    Location31308 = 31308,
    Location31310 = 31310,
    Location31324 = 31324,
    Location31325 = 31325,
    Location31394 = 31394,
    Location31395 = 31395,
    Location40218 = 40218,
    Location40352 = 40352,
    Location40353 = 40353,
    Location51246 = 51246,
    Location51247 = 51247,
    Location51270 = 51270,
    Location51272 = 51272,
    Location5392900 = 5392900,
}

/// Everything that can go wrong while serving a request or running the server.
#[derive(Debug)]
pub enum Error {
    /// A malformed frame: the peer cannot be trusted to stay in sync, so the
    /// connection is closed.
    Protocol(String),
    /// An I/O failure on a socket or a file.
    Io(std::io::Error),
    /// A command failed; the client gets `{ok: 0, code, codeName, errmsg}`.
    Command { code: ErrorCode, message: String },
    /// The configuration could not be loaded.
    Config(String),
    /// A bug or a broken invariant: a task that panicked, a value that cannot encode.
    Internal(String),
    /// The write-ahead log holds damage where acknowledged data lives; startup is
    /// refused rather than opening without it.
    Corrupt { file: String, offset: u64, lsn: Lsn, reason: String },
    /// A record with a valid checksum that this build cannot read (a newer format).
    IncompatibleVersion { file: String, offset: u64, lsn: Lsn, reason: String },
    /// A write or fsync of the log failed earlier: nothing is acknowledged until a
    /// restart has recovered the log.
    WalPoisoned(String),
    /// The materialized store failed (its engine reported an error, or an earlier
    /// failure left it behind the log): writes stop until a restart replays the log.
    Store(String),
}

/// Shorthand used everywhere in the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A command error with the given code.
    pub fn command(code: ErrorCode, message: impl Into<String>) -> Self {
        Error::Command { code, message: message.into() }
    }

    /// `BadValue` (2): an argument has the right type but a wrong value.
    pub fn bad_value(message: impl Into<String>) -> Self {
        Self::command(ErrorCode::BadValue, message)
    }

    /// `TypeMismatch` (14): an argument has the wrong BSON type.
    pub fn type_mismatch(message: impl Into<String>) -> Self {
        Self::command(ErrorCode::TypeMismatch, message)
    }

    /// A malformed frame.
    pub fn protocol(message: impl Into<String>) -> Self {
        Error::Protocol(message.into())
    }

    /// Whether this error ends the connection instead of becoming an error reply.
    pub fn closes_connection(&self) -> bool {
        matches!(self, Error::Protocol(_) | Error::Io(_))
    }

    /// The MongoDB code this error is reported with.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Command { code, .. } => *code,
            Error::Protocol(_) => ErrorCode::ProtocolError,
            Error::Io(_)
            | Error::Config(_)
            | Error::Internal(_)
            | Error::Corrupt { .. }
            | Error::IncompatibleVersion { .. }
            | Error::WalPoisoned(_)
            | Error::Store(_) => ErrorCode::InternalError,
        }
    }

    /// The reply document `{ok: 0, errmsg, code, codeName}`.
    pub fn to_reply(&self) -> Document {
        let code = self.code();
        let errmsg = match self {
            Error::Command { message, .. } => message.clone(),
            other => other.to_string(),
        };
        doc! { "ok": 0.0, "errmsg": errmsg, "code": code.code(), "codeName": code.name() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Protocol(m) => write!(f, "protocol error: {m}"),
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Command { code, message } => write!(f, "{} ({}): {message}", code.name(), code.code()),
            Error::Config(m) => write!(f, "configuration error: {m}"),
            Error::Internal(m) => write!(f, "internal error: {m}"),
            Error::Corrupt { file, offset, lsn, reason } => {
                write!(f, "WAL damaged in {file} at offset {offset} (LSN {lsn}): {reason}; refusing to start")
            }
            Error::IncompatibleVersion { file, offset, lsn, reason } => {
                write!(f, "WAL record in {file} at offset {offset} (LSN {lsn}) is incompatible: {reason}")
            }
            Error::WalPoisoned(why) => write!(f, "the write-ahead log failed earlier ({why}); restart to recover"),
            Error::Store(why) => write!(f, "store error: {why}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

/// The embedded engine's errors, each kind of them, become [`Error::Store`].
macro_rules! store_errors {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::Store(e.to_string())
            }
        }
    )*};
}
store_errors!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_errors_become_replies_and_keep_the_connection() {
        let err = Error::command(ErrorCode::CommandNotFound, "no such command: 'x'");
        assert!(!err.closes_connection());
        let reply = err.to_reply();
        assert_eq!(reply.get_f64("ok"), Ok(0.0));
        assert_eq!(reply.get_i32("code"), Ok(59));
        assert_eq!(reply.get_str("codeName"), Ok("CommandNotFound"));
        assert_eq!(reply.get_str("errmsg"), Ok("no such command: 'x'"));
    }

    #[test]
    fn protocol_errors_close_the_connection() {
        assert!(Error::protocol("bad frame").closes_connection());
    }
}
