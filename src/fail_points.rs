//! Fail points for tests, as MongoDB has them: `configureFailPoint: "failCommand"`
//! makes chosen commands fail with an error, close the connection, wait before
//! running, or report a write-concern error, a number of times or until turned
//! off. Drivers' specification tests use it to exercise retries and transactions.
//! Only a server started with test commands enabled accepts it.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use bson::{Bson, Document};

use crate::error::{Error, Result};

/// The fail points of a server: `failCommand`, and `failGetMoreAfterCursorCheckout`
/// (a `getMore` fails once it holds its cursor, which it then closes).
#[derive(Default)]
pub struct FailPoints {
    fail_command: Mutex<Option<FailCommand>>,
    after_checkout: Mutex<Option<FailCommand>>,
    /// Whether `fail_command` is set: every command asks, without the lock.
    armed: AtomicBool,
    /// How many times the current setting has fired.
    fired: AtomicI64,
}

/// When the fail point fires.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    AlwaysOn,
    /// The next this many times.
    Times(i64),
    /// Every time after skipping this many.
    Skip(i64),
}

/// An armed `failCommand`.
#[derive(Debug, Clone)]
struct FailCommand {
    mode: Mode,
    commands: Vec<String>,
    app_name: Option<String>,
    action: Action,
}

/// What the fail point does to a command it matches.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Action {
    /// Close the connection without replying.
    pub close_connection: bool,
    /// Wait this long before going on.
    pub block: Option<Duration>,
    /// Fail with this code instead of running.
    pub error_code: Option<i32>,
    /// The error's labels, instead of the server's.
    pub error_labels: Option<Vec<String>>,
    /// Run, and add this `writeConcernError` to the reply.
    pub write_concern_error: Option<Document>,
}

impl FailPoints {
    /// `configureFailPoint: "failCommand"` with its `mode` and `data`; returns how
    /// many times the previous setting fired (MongoDB's `count`). `{times: 0}` is
    /// off.
    pub fn configure(&self, mode: &Bson, data: Option<&Document>) -> Result<i64> {
        let armed = match parse_mode(mode)? {
            None => None,
            Some(mode) => Some(parse(mode, data.ok_or_else(|| Error::bad_value("failCommand needs 'data'"))?)?),
        };
        let mut point = self.lock();
        self.armed.store(armed.is_some(), Ordering::Release);
        *point = armed;
        Ok(self.fired.swap(0, Ordering::AcqRel))
    }

    /// `configureFailPoint: "failGetMoreAfterCursorCheckout"`: `data.errorCode` is the
    /// error (`ErrorCode` 1, an internal error, without it).
    pub fn configure_after_checkout(&self, mode: &Bson, data: Option<&Document>) -> Result<i64> {
        let armed = match parse_mode(mode)? {
            None => None,
            Some(mode) => {
                let mut data = data.cloned().unwrap_or_default();
                data.insert("failCommands", vec!["getMore"]);
                data.entry("errorCode".to_owned()).or_insert(Bson::Int32(1));
                Some(parse(mode, &data)?)
            }
        };
        *self.after_checkout.lock().unwrap_or_else(|p| p.into_inner()) = armed;
        Ok(0)
    }

    /// The error code `failGetMoreAfterCursorCheckout` gives the `getMore` asking, if
    /// it fires.
    pub fn fire_after_checkout(&self) -> Option<i32> {
        let mut point = self.after_checkout.lock().unwrap_or_else(|p| p.into_inner());
        fire_in(&mut point, "getMore", None).and_then(|action| action.error_code)
    }

    /// Whether a fail point is armed (commands then run off the runtime's workers,
    /// where waiting is allowed).
    pub fn armed(&self) -> bool {
        self.armed.load(Ordering::Acquire)
    }

    /// What the fail point does to `command` from a client called `app_name`, if it
    /// fires for it; firing counts down a `times` mode.
    pub fn fire(&self, command: &str, app_name: Option<&str>) -> Option<Action> {
        let mut armed = self.lock();
        let action = fire_in(&mut armed, command, app_name)?;
        self.armed.store(armed.is_some(), Ordering::Release);
        self.fired.fetch_add(1, Ordering::AcqRel);
        Some(action)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<FailCommand>> {
        self.fail_command.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Fires the fail point in `slot` for `command` if it matches; a `times` mode that
/// runs out disarms it.
fn fire_in(slot: &mut Option<FailCommand>, command: &str, app_name: Option<&str>) -> Option<Action> {
    let point = slot.as_mut()?;
    if command == "configureFailPoint" || !point.commands.iter().any(|c| c == command) {
        return None;
    }
    if point.app_name.is_some() && point.app_name.as_deref() != app_name {
        return None;
    }
    match &mut point.mode {
        Mode::AlwaysOn => {}
        Mode::Skip(n) if *n > 0 => {
            *n -= 1;
            return None;
        }
        Mode::Skip(_) => {}
        Mode::Times(n) => {
            *n -= 1;
            if *n <= 0 {
                return slot.take().map(|point| point.action);
            }
        }
    }
    Some(point.action.clone())
}

/// A fail point's `mode`; `None` turns it off.
fn parse_mode(mode: &Bson) -> Result<Option<Mode>> {
    Ok(match mode {
        Bson::String(s) if s == "off" => None,
        Bson::String(s) if s == "alwaysOn" => Some(Mode::AlwaysOn),
        Bson::Document(d) => match d.iter().next() {
            Some((key, value)) if key == "times" => Some(Mode::Times(count(value)?)).filter(|m| *m != Mode::Times(0)),
            Some((key, value)) if key == "skip" => Some(Mode::Skip(count(value)?)),
            _ => return Err(Error::bad_value(format!("unsupported fail point mode {d}"))),
        },
        other => return Err(Error::bad_value(format!("unsupported fail point mode {other}"))),
    })
}

fn count(value: &Bson) -> Result<i64> {
    match value {
        Bson::Int32(n) if *n >= 0 => Ok(i64::from(*n)),
        Bson::Int64(n) if *n >= 0 => Ok(*n),
        Bson::Double(d) if *d >= 0.0 && d.fract() == 0.0 => Ok(*d as i64),
        other => Err(Error::bad_value(format!("fail point mode count must be a non-negative number, not {other}"))),
    }
}

fn parse(mode: Mode, data: &Document) -> Result<FailCommand> {
    let commands = match data.get("failCommands") {
        Some(Bson::Array(names)) => names
            .iter()
            .map(|name| match name {
                Bson::String(name) => Ok(name.clone()),
                other => Err(Error::type_mismatch(format!("failCommands must be strings, not {other}"))),
            })
            .collect::<Result<Vec<_>>>()?,
        _ => return Err(Error::bad_value("failCommand needs 'failCommands', an array of command names")),
    };
    let flag = |name: &str| crate::value::truthy(data.get(name));
    let block = match flag("blockConnection") {
        true => Some(Duration::from_millis(
            u64::try_from(count(data.get("blockTimeMS").unwrap_or(&Bson::Null))?).unwrap_or(0),
        )),
        false => None,
    };
    let error_code = match data.get("errorCode") {
        None => None,
        Some(Bson::Int32(n)) => Some(*n),
        Some(Bson::Int64(n)) => i32::try_from(*n).ok(),
        Some(Bson::Double(d)) if d.fract() == 0.0 => Some(*d as i32),
        Some(other) => return Err(Error::type_mismatch(format!("errorCode must be a number, not {other}"))),
    };
    let error_labels = match data.get("errorLabels") {
        None => None,
        Some(Bson::Array(labels)) => {
            Some(labels.iter().filter_map(|l| l.as_str().map(str::to_owned)).collect::<Vec<String>>())
        }
        Some(other) => return Err(Error::type_mismatch(format!("errorLabels must be an array, not {other}"))),
    };
    let write_concern_error = match data.get("writeConcernError") {
        None => None,
        Some(Bson::Document(wce)) => Some(wce.clone()),
        Some(other) => return Err(Error::type_mismatch(format!("writeConcernError must be a document, not {other}"))),
    };
    let app_name = data.get_str("appName").ok().map(str::to_owned);
    Ok(FailCommand {
        mode,
        commands,
        app_name,
        action: Action {
            close_connection: flag("closeConnection"),
            block,
            error_code,
            error_labels,
            write_concern_error,
        },
    })
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;

    #[test]
    fn times_counts_down_and_names_and_apps_must_match() {
        let points = FailPoints::default();
        let data = doc! {"failCommands": ["insert"], "errorCode": 91, "appName": "a"};
        points.configure(&Bson::Document(doc! {"times": 2}), Some(&data)).expect("configured");
        assert_eq!(points.fire("find", Some("a")), None);
        assert_eq!(points.fire("insert", Some("b")), None);
        assert_eq!(points.fire("insert", Some("a")).and_then(|a| a.error_code), Some(91));
        assert!(points.fire("insert", Some("a")).is_some());
        assert_eq!(points.fire("insert", Some("a")), None);
        assert!(!points.armed());
        let off = Bson::String("off".into());
        assert_eq!(points.configure(&off, None).expect("turned off"), 2, "the previous setting fired twice");
        points.configure(&Bson::Document(doc! {"times": 0}), Some(&data)).expect("configured");
        assert!(!points.armed(), "times: 0 is off");
    }

    #[test]
    fn skip_then_always_and_off() {
        let points = FailPoints::default();
        let data = doc! {"failCommands": ["ping"], "closeConnection": true};
        points.configure(&Bson::Document(doc! {"skip": 1}), Some(&data)).expect("configured");
        assert_eq!(points.fire("ping", None), None);
        assert!(points.fire("ping", None).is_some_and(|a| a.close_connection));
        assert!(points.fire("ping", None).is_some());
        points.configure(&Bson::String("off".into()), None).expect("turned off");
        assert_eq!(points.fire("ping", None), None);
        assert!(points.configure(&Bson::String("sometimes".into()), Some(&data)).is_err());
    }
}
