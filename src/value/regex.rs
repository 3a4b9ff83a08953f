//! Regular expressions as MongoDB runs them: PCRE2, in UTF mode, with MongoDB's
//! option letters. Filters (`$regex`, `$in`), `$jsonSchema`'s `pattern` and the
//! `$regexFind` family all compile here, so a pattern means the same everywhere,
//! lookaround and backreferences included.
//!
//! A match runs under PCRE2's match, depth and heap limits (its defaults, as
//! MongoDB keeps them): a pattern that backtracks without end fails instead of
//! holding a thread.

use std::fmt;
use std::sync::Arc;

use pcre2::bytes::{Regex as Compiled, RegexBuilder};

/// A compiled pattern and the source it came from.
#[derive(Clone)]
pub struct Regex {
    compiled: Arc<Compiled>,
    pattern: String,
    options: String,
}

/// Why a pattern does not compile.
#[derive(Debug, Clone, PartialEq)]
pub enum Invalid {
    /// An option letter other than `i`, `m`, `s`, `x` and `u`.
    Flag(char),
    /// A NUL byte in the pattern.
    NullByte,
    /// PCRE2's complaint about the pattern.
    Syntax(String),
}

/// A match: where it and each capture group are, as byte ranges of the subject
/// (`None` for a group that took no part).
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub start: usize,
    pub end: usize,
    pub groups: Vec<Option<(usize, usize)>>,
}

/// A match that failed to finish, such as one past PCRE2's match limit; the text
/// names PCRE2's error.
#[derive(Debug, Clone, PartialEq)]
pub struct Failed(pub String);

impl Regex {
    /// Compiles `pattern` with MongoDB's options: `i` (caseless), `m` (multi-line),
    /// `s` (dot matches newlines), `x` (extended) and `u` (UTF, always on).
    pub fn new(pattern: &str, options: &str) -> Result<Regex, Invalid> {
        if let Some(flag) = options.chars().find(|c| !"imsxu".contains(*c)) {
            return Err(Invalid::Flag(flag));
        }
        if pattern.contains('\0') {
            return Err(Invalid::NullByte);
        }
        let compiled = RegexBuilder::new()
            .utf(true)
            .caseless(options.contains('i'))
            .multi_line(options.contains('m'))
            .dotall(options.contains('s'))
            .extended(options.contains('x'))
            .jit_if_available(true)
            .build(pattern)
            .map_err(|e| Invalid::Syntax(e.to_string()))?;
        Ok(Regex { compiled: Arc::new(compiled), pattern: pattern.to_owned(), options: options.to_owned() })
    }

    /// The pattern's source.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The options it was compiled with.
    pub fn options(&self) -> &str {
        &self.options
    }

    /// How many capture groups the pattern has.
    pub fn groups(&self) -> usize {
        self.compiled.captures_len().saturating_sub(1)
    }

    /// Whether the pattern matches somewhere in `subject`.
    pub fn is_match(&self, subject: &str) -> Result<bool, Failed> {
        self.compiled.is_match(subject.as_bytes()).map_err(|e| Failed(e.to_string()))
    }

    /// The first match starting at byte `start` or later (a character boundary).
    pub fn find_at(&self, subject: &str, start: usize) -> Result<Option<Found>, Failed> {
        let mut locations = self.compiled.capture_locations();
        let found = self
            .compiled
            .captures_read_at(&mut locations, subject.as_bytes(), start)
            .map_err(|e| Failed(e.to_string()))?;
        Ok(found.map(|whole| Found {
            start: whole.start(),
            end: whole.end(),
            groups: (1..locations.len()).map(|group| locations.get(group)).collect(),
        }))
    }
}

impl fmt::Debug for Regex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}/{}", self.pattern, self.options)
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalid::Flag(flag) => write!(f, "invalid flag in regex options: {flag}"),
            Invalid::NullByte => write!(f, "Regular expression cannot contain an embedded null byte"),
            Invalid::Syntax(message) => write!(f, "{message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookaround_and_backreferences_work() {
        let lookahead = Regex::new(r"foo(?=bar)", "").expect("compiles");
        assert_eq!(lookahead.is_match("foobar"), Ok(true));
        assert_eq!(lookahead.is_match("foobaz"), Ok(false));
        let repeated = Regex::new(r"(\w)\1", "").expect("compiles");
        assert_eq!(repeated.is_match("abba"), Ok(true));
        assert_eq!(repeated.is_match("abab"), Ok(false));
    }

    #[test]
    fn options_are_mongodbs_letters() {
        assert!(Regex::new("^A", "i").expect("compiles").is_match("abc").expect("runs"));
        assert!(Regex::new("^b", "m").expect("compiles").is_match("a\nb").expect("runs"));
        assert!(Regex::new("a.b", "s").expect("compiles").is_match("a\nb").expect("runs"));
        assert!(Regex::new("a b # comment", "x").expect("compiles").is_match("ab").expect("runs"));
        assert_eq!(Regex::new("a", "g").err(), Some(Invalid::Flag('g')));
        assert_eq!(Regex::new("a\0", "").err(), Some(Invalid::NullByte));
        assert!(matches!(Regex::new("(", "").err(), Some(Invalid::Syntax(_))));
    }

    #[test]
    fn matches_report_groups_as_byte_ranges() {
        let regex = Regex::new("(é)(x)?", "").expect("compiles");
        let found = regex.find_at("aéb", 0).expect("runs").expect("a match");
        assert_eq!((found.start, found.end), (1, 3));
        assert_eq!(found.groups, vec![Some((1, 3)), None]);
        assert_eq!(regex.find_at("aéb", 3).expect("runs"), None);
    }

    #[test]
    fn runaway_backtracking_stops_at_the_match_limit() {
        let regex = Regex::new("(a+)+$", "").expect("compiles");
        let subject = format!("{}b", "a".repeat(40));
        assert!(regex.is_match(&subject).is_err());
    }
}
