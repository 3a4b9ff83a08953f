//! The database-name grammar of branchdb (SPEC §2), parsed and validated in one place.
//!
//! ```text
//! <db>                      branch "main" of <db>
//! <db>@<branch>             branch <branch> of <db>
//! <db>@<branch>~<point>     read-only view of <branch> at <point>
//!     <point> := <LSN, decimal> | <UTC time to the second: 2026-11-21T10:00:00Z>
//! ```

use std::fmt;

use crate::error::{Error, ErrorCode, Result};
use crate::lsn::Lsn;

/// The branch every database starts with.
pub const MAIN_BRANCH: &str = "main";
/// MongoDB's limit: a database name is shorter than 64 bytes.
pub const MAX_DB_NAME_LEN: usize = 63;
/// The longest branch name.
pub const MAX_BRANCH_NAME_LEN: usize = 48;
/// Characters MongoDB forbids in a database name, plus our two separators.
const FORBIDDEN_DB_CHARS: &[char] = &['/', '\\', '.', ' ', '"', '$', '*', '<', '>', ':', '|', '?', '\0', '@', '~'];

/// A moment of a branch's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// Right after the record with this LSN.
    Lsn(Lsn),
    /// The last record committed at or before this time (milliseconds since the epoch,
    /// always a whole second).
    Time(bson::DateTime),
}

/// A parsed database name: which database, which branch, and optionally which moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbRef {
    pub db: String,
    pub branch: String,
    pub point: Option<Point>,
}

impl DbRef {
    /// Parses and validates a database name as a client sends it in `$db`.
    pub fn parse(name: &str) -> Result<DbRef> {
        if name.len() > MAX_DB_NAME_LEN {
            return Err(invalid(name, "database names must be shorter than 64 bytes"));
        }
        let (db, rest) = match name.split_once('@') {
            Some((db, rest)) => (db, Some(rest)),
            None => (name, None),
        };
        validate_db_name(db).map_err(|why| invalid(name, why))?;
        let (branch, point) = match rest {
            None if name.contains('~') => {
                return Err(invalid(name, "a point (~) needs a branch: <db>@<branch>~<point>"))
            }
            None => (MAIN_BRANCH, None),
            Some(rest) => match rest.split_once('~') {
                Some((branch, point)) => (branch, Some(parse_point(point).map_err(|why| invalid(name, why))?)),
                None => (rest, None),
            },
        };
        validate_branch_name(branch).map_err(|why| invalid(name, why))?;
        Ok(DbRef { db: db.to_owned(), branch: branch.to_owned(), point })
    }

    /// Whether this names a read-only view of the past.
    pub fn is_read_only(&self) -> bool {
        self.point.is_some()
    }
}

impl fmt::Display for DbRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.db)?;
        if self.branch != MAIN_BRANCH || self.point.is_some() {
            write!(f, "@{}", self.branch)?;
        }
        match self.point {
            None => Ok(()),
            Some(Point::Lsn(lsn)) => write!(f, "~{lsn}"),
            Some(Point::Time(t)) => write!(f, "~{}", t.try_to_rfc3339_string().map_err(|_| fmt::Error)?),
        }
    }
}

/// Checks a database name without branch suffix against MongoDB's rules.
/// The database of users whose identity is outside (MONGODB-X509's certificate
/// subjects): the one name that may hold a `$`.
pub const EXTERNAL: &str = "$external";

pub fn validate_db_name(db: &str) -> std::result::Result<(), &'static str> {
    if db.is_empty() {
        return Err("the database name is empty");
    }
    if db == EXTERNAL {
        return Ok(());
    }
    if db.contains(FORBIDDEN_DB_CHARS) {
        return Err(
            "database names cannot contain / \\ . space \" $ * < > : | ? NUL, and @ ~ only as branch separators",
        );
    }
    Ok(())
}

/// Checks a branch name: `[A-Za-z0-9][A-Za-z0-9_-]{0,47}`.
pub fn validate_branch_name(branch: &str) -> std::result::Result<(), &'static str> {
    let mut chars = branch.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok
        || branch.len() > MAX_BRANCH_NAME_LEN
        || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err("branch names match [A-Za-z0-9][A-Za-z0-9_-]{0,47}");
    }
    Ok(())
}

/// Parses `<point>`: a decimal LSN or a UTC time to the second (`2026-11-21T10:00:00Z`).
pub fn parse_point(text: &str) -> std::result::Result<Point, &'static str> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map(|n| Point::Lsn(Lsn(n))).map_err(|_| "the LSN does not fit in 64 bits");
    }
    const SHAPE: &[u8; 20] = b"0000-00-00T00:00:00Z";
    let shape_ok = text.len() == SHAPE.len()
        && text.bytes().zip(SHAPE.iter()).all(|(b, &s)| if s == b'0' { b.is_ascii_digit() } else { b == s });
    if !shape_ok {
        return Err("a point is a decimal LSN or a UTC time like 2026-11-21T10:00:00Z");
    }
    bson::DateTime::parse_rfc3339_str(text).map(Point::Time).map_err(|_| "the time is not a valid date")
}

fn invalid(name: &str, why: &str) -> Error {
    Error::command(ErrorCode::InvalidNamespace, format!("Invalid database name '{name}': {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> DbRef {
        DbRef::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn plain_names_are_main() {
        assert_eq!(parse("shop"), DbRef { db: "shop".into(), branch: "main".into(), point: None });
        assert!(!parse("shop").is_read_only());
    }

    #[test]
    fn branches_and_points() {
        assert_eq!(parse("shop@feature-x").branch, "feature-x");
        let at_lsn = parse("shop@main~42");
        assert_eq!(at_lsn.point, Some(Point::Lsn(Lsn(42))));
        assert!(at_lsn.is_read_only());
        let at_time = parse("shop@main~2026-11-21T10:00:00Z");
        let expected = bson::DateTime::from_millis(1_795_255_200_000);
        assert_eq!(at_time.point, Some(Point::Time(expected)));
    }

    #[test]
    fn display_round_trips() {
        for name in ["shop", "shop@feature-x", "shop@main~42", "shop@b_1~2026-11-21T10:00:00Z"] {
            assert_eq!(parse(name).to_string(), name);
        }
        assert_eq!(parse("shop@main").to_string(), "shop");
    }

    #[test]
    fn rejects_bad_names_with_invalid_namespace() {
        let bad = [
            "",
            "@main",
            "shop@",
            "shop@-x",
            "shop@_x",
            "shop@a.b",
            "shop@a b",
            "shop~1",
            "sh.op",
            "sh$op",
            "sh op",
            "shop@main~",
            "shop@main~-1",
            "shop@main~1.5",
            "shop@main~2026-11-21",
            "shop@main~2026-11-21T10:00:00+01:00",
            "shop@main~2026-13-01T00:00:00Z",
            "shop@main~99999999999999999999",
            "shop@a@b",
            "shop@main~1~2",
        ];
        for name in bad {
            let err = DbRef::parse(name).expect_err(name);
            assert_eq!(err.code(), ErrorCode::InvalidNamespace, "{name}");
        }
    }

    #[test]
    fn length_limits() {
        let branch48 = "b".repeat(48);
        assert!(validate_branch_name(&branch48).is_ok());
        assert!(validate_branch_name(&"b".repeat(49)).is_err());
        assert!(DbRef::parse(&format!("s@{branch48}")).is_ok());
        assert!(DbRef::parse(&"d".repeat(63)).is_ok());
        assert!(DbRef::parse(&"d".repeat(64)).is_err());
        assert!(DbRef::parse(&format!("{}@{}", "d".repeat(20), "b".repeat(43))).is_err());
    }
}
