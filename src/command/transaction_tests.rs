//! The transaction state machine against a model: random sequences of commands on
//! three sessions (transaction statements with right and wrong numbers, commits,
//! aborts, retryable writes and their retries, plain writes that race open
//! transactions, malformed session fields), each reply's outcome predicted by a model
//! of MongoDB's rules, and every read checked against the model's documents.
//!
//! `BRANCHDB_TXN_FUZZ_SECS` runs it that long (default: 3 seconds).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::{doc, spec::BinarySubtype, Binary, Bson, Document};

use crate::command::run;
use crate::context::{ConnectionInfo, Context};

/// Documents every session may update (`_id` 0..SHARED, `v` counts updates).
const SHARED: i64 = 4;

#[derive(Debug, Clone, PartialEq)]
enum State {
    None,
    Active { start: u64, view: BTreeMap<i64, i64>, written: BTreeSet<i64> },
    Committed,
    Aborted,
}

struct Session {
    lsid: Document,
    highest: Option<i64>,
    state: State,
}

/// What the server should hold, and when each shared document last changed.
struct Model {
    docs: BTreeMap<i64, i64>,
    last_write: HashMap<i64, u64>,
    commits: u64,
    sessions: Vec<Session>,
    next_id: i64,
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// The outcome a reply should have: ok, or this error code.
type Expected = Result<(), i32>;

fn code_of(reply: &Document) -> Result<(), i32> {
    match reply.get_f64("ok") {
        Ok(1.0) => match reply.get_array("writeErrors") {
            Ok(errors) => Err(errors[0].as_document().and_then(|e| e.get_i32("code").ok()).unwrap_or(-1)),
            Err(_) => Ok(()),
        },
        _ => Err(reply.get_i32("code").unwrap_or(-1)),
    }
}

impl Model {
    /// The outcome of a statement that continues `s`'s transaction number `n`
    /// (not a commit), before it runs.
    fn continuing(&self, s: usize, n: i64) -> Expected {
        let session = &self.sessions[s];
        match session.highest {
            Some(h) if n < h => Err(225),
            Some(h) if n == h => match session.state {
                State::Active { .. } => Ok(()),
                State::Committed => Err(256),
                State::None | State::Aborted => Err(251),
            },
            _ => Err(251),
        }
    }

    /// Whether another session's open transaction has written `id`.
    fn claimed_by_other(&self, s: usize, id: i64) -> bool {
        self.sessions
            .iter()
            .enumerate()
            .any(|(i, other)| i != s && matches!(&other.state, State::Active { written, .. } if written.contains(&id)))
    }

    fn plain_write(&mut self, id: i64) {
        *self.docs.get_mut(&id).expect("shared") += 1;
        self.commits += 1;
        self.last_write.insert(id, self.commits);
    }
}

fn txn_fields(body: &mut Document, session: &Session, n: i64, start: bool) {
    body.insert("lsid", session.lsid.clone());
    body.insert("txnNumber", n);
    body.insert("autocommit", false);
    if start {
        body.insert("startTransaction", true);
    }
}

fn find_all(shared: &Arc<Context>, connection: &ConnectionInfo, extra: Document) -> (Document, BTreeMap<i64, i64>) {
    let mut body = doc! {"find": "f", "batchSize": 100_000, "$db": "fz"};
    body.extend(extra);
    let reply = run(&body, connection, shared);
    let docs = reply
        .get_document("cursor")
        .and_then(|c| c.get_array("firstBatch"))
        .map(|batch| {
            batch
                .iter()
                .filter_map(Bson::as_document)
                .map(|d| (d.get_i64("_id").unwrap_or(-1), d.get_i64("v").unwrap_or(-1)))
                .collect()
        })
        .unwrap_or_default();
    (reply, docs)
}

#[test]
fn the_transaction_state_machine_follows_the_model() {
    let secs: u64 = std::env::var("BRANCHDB_TXN_FUZZ_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let shared = Context::for_tests();
    let connection = ConnectionInfo::for_tests(1);
    let shared_docs: Vec<Bson> = (0..SHARED).map(|id| Bson::Document(doc! {"_id": id, "v": 0i64})).collect();
    let reply = run(&doc! {"insert": "f", "documents": shared_docs, "$db": "fz"}, &connection, &shared);
    assert_eq!(reply.get_i32("n"), Ok(SHARED as i32), "{reply}");
    let mut model = Model {
        docs: (0..SHARED).map(|id| (id, 0)).collect(),
        last_write: HashMap::new(),
        commits: 0,
        sessions: (0..3u8)
            .map(|i| Session {
                lsid: doc! {"id": Binary { subtype: BinarySubtype::Uuid, bytes: vec![0xF0 | i; 16] }},
                highest: None,
                state: State::None,
            })
            .collect(),
        next_id: 100,
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut steps = 0u64;
    // How often each code was expected (0: success), to see what a run covered.
    let mut seen: BTreeMap<i32, u64> = BTreeMap::new();
    while Instant::now() < deadline {
        steps += 1;
        let s = rng.below(3) as usize;
        let highest = model.sessions[s].highest.unwrap_or(-1);
        // A session without an open transaction mostly starts one.
        let active = matches!(model.sessions[s].state, State::Active { .. });
        let op = if !active && rng.below(2) == 0 { 0 } else { rng.below(10) };
        // A number near the newest: mostly the newest (a new one to start), sometimes
        // older or newer.
        let n = match (rng.below(8), op) {
            (0, _) => highest - 1,
            (1, _) => highest + 2,
            (2..=4, 0) | (2..=3, 6) => highest,
            (_, 0 | 6) => highest + 1,
            _ => highest,
        }
        .max(0);
        let x = rng.below(SHARED as u64) as i64;
        let context = format!("step {steps}, session {s}, op {op}, n {n}, x {x}");
        match op {
            // A statement inserting a fresh document, starting a transaction or not.
            0 | 1 => {
                let start = op == 0;
                let id = model.next_id;
                model.next_id += 1;
                let mut body = doc! {"insert": "f", "documents": [{"_id": id, "v": 0i64}], "$db": "fz"};
                txn_fields(&mut body, &model.sessions[s], n, start);
                let expected = if start {
                    match model.sessions[s].highest {
                        Some(h) if n < h => Err(225),
                        Some(h) if n == h => Err(117),
                        _ => Ok(()),
                    }
                } else {
                    model.continuing(s, n)
                };
                let reply = run(&body, &connection, &shared);
                assert_eq!(code_of(&reply), expected, "{context}: {reply}");
                *seen.entry(expected.err().unwrap_or(0)).or_default() += 1;
                if expected.is_ok() {
                    let session = &mut model.sessions[s];
                    if start {
                        session.highest = Some(n);
                        let start = model.commits;
                        session.state = State::Active { start, view: model.docs.clone(), written: BTreeSet::new() };
                    }
                    if let State::Active { view, written, .. } = &mut model.sessions[s].state {
                        view.insert(id, 0);
                        written.insert(id);
                    }
                }
            }
            // A statement updating a shared document.
            2 => {
                let mut body =
                    doc! {"update": "f", "updates": [{"q": {"_id": x}, "u": {"$inc": {"v": 1i64}}}], "$db": "fz"};
                txn_fields(&mut body, &model.sessions[s], n, false);
                let mut expected = model.continuing(s, n);
                if expected.is_ok() {
                    let State::Active { start, .. } = &model.sessions[s].state else { unreachable!() };
                    let changed_since = model.last_write.get(&x).is_some_and(|w| w > start);
                    let already =
                        matches!(&model.sessions[s].state, State::Active { written, .. } if written.contains(&x));
                    if (!already && model.claimed_by_other(s, x)) || changed_since {
                        expected = Err(112);
                    }
                }
                let reply = run(&body, &connection, &shared);
                assert_eq!(code_of(&reply), expected, "{context}: {reply}");
                *seen.entry(expected.err().unwrap_or(0)).or_default() += 1;
                match expected {
                    Ok(()) => {
                        if let State::Active { view, written, .. } = &mut model.sessions[s].state {
                            *view.get_mut(&x).expect("shared") += 1;
                            written.insert(x);
                        }
                        assert_eq!(reply.get_i32("nModified"), Ok(1), "{context}: {reply}");
                    }
                    Err(112) => {
                        model.sessions[s].state = State::Aborted;
                        let labels = reply.get_array("errorLabels").map(|l| l.len()).unwrap_or(0);
                        assert_eq!(labels, 1, "{context}: a write conflict is transient: {reply}");
                    }
                    Err(_) => {}
                }
            }
            // Commit.
            3 | 4 => {
                let mut body = doc! {"commitTransaction": 1, "$db": "admin"};
                txn_fields(&mut body, &model.sessions[s], n, false);
                let session = &model.sessions[s];
                let expected = match session.highest {
                    Some(h) if n < h => Err(225),
                    Some(h) if n == h => match &session.state {
                        State::Committed => Ok(()),
                        State::Active { start, written, .. } => {
                            match written.iter().any(|id| model.last_write.get(id).is_some_and(|w| w > start)) {
                                true => Err(112),
                                false => Ok(()),
                            }
                        }
                        State::None | State::Aborted => Err(251),
                    },
                    _ => Err(251),
                };
                let reply = run(&body, &connection, &shared);
                assert_eq!(code_of(&reply), expected, "{context}: {reply}");
                *seen.entry(expected.err().unwrap_or(0)).or_default() += 1;
                let session = &mut model.sessions[s];
                match (expected, std::mem::replace(&mut session.state, State::None)) {
                    (Ok(()), State::Active { view, written, .. }) => {
                        session.state = State::Committed;
                        if !written.is_empty() {
                            model.commits += 1;
                            for id in written {
                                model.docs.insert(id, view[&id]);
                                model.last_write.insert(id, model.commits);
                            }
                        }
                    }
                    (Err(112), _) => session.state = State::Aborted,
                    (_, state) => session.state = state,
                }
            }
            // Abort.
            5 => {
                let mut body = doc! {"abortTransaction": 1, "$db": "admin"};
                txn_fields(&mut body, &model.sessions[s], n, false);
                // An abort follows the rules of any statement continuing the transaction.
                let expected = model.continuing(s, n);
                let reply = run(&body, &connection, &shared);
                assert_eq!(code_of(&reply), expected, "{context}: {reply}");
                *seen.entry(expected.err().unwrap_or(0)).or_default() += 1;
                if expected.is_ok() {
                    model.sessions[s].state = State::Aborted;
                }
            }
            // A retryable write (a retry when the number is the newest).
            6 => {
                let mut body =
                    doc! {"update": "f", "updates": [{"q": {"_id": x}, "u": {"$inc": {"v": 1i64}}}], "$db": "fz"};
                body.insert("lsid", model.sessions[s].lsid.clone());
                body.insert("txnNumber", n);
                let session = &model.sessions[s];
                let expected = match session.highest {
                    Some(h) if n < h => Err(225),
                    Some(h) if n == h && session.state != State::None => Err(217),
                    _ => Ok(()),
                };
                let retry = session.highest == Some(n);
                let reply = run(&body, &connection, &shared);
                assert_eq!(code_of(&reply), expected, "{context}: {reply}");
                *seen.entry(expected.err().unwrap_or(0)).or_default() += 1;
                if expected.is_ok() && !retry {
                    model.plain_write(x);
                    let session = &mut model.sessions[s];
                    session.highest = Some(n);
                    session.state = State::None;
                }
            }
            // A write outside any session, racing the open transactions.
            7 => {
                let body =
                    doc! {"update": "f", "updates": [{"q": {"_id": x}, "u": {"$inc": {"v": 1i64}}}], "$db": "fz"};
                let reply = run(&body, &connection, &shared);
                assert_eq!(code_of(&reply), Ok(()), "{context}: {reply}");
                model.plain_write(x);
            }
            // A read inside the transaction: its start plus its own writes.
            8 => {
                let mut fields = Document::new();
                txn_fields(&mut fields, &model.sessions[s], n, false);
                let expected = model.continuing(s, n);
                let (reply, docs) = find_all(&shared, &connection, fields);
                assert_eq!(code_of(&reply), expected, "{context}: {reply}");
                *seen.entry(expected.err().unwrap_or(0)).or_default() += 1;
                if let (Ok(()), State::Active { view, .. }) = (expected, &model.sessions[s].state) {
                    assert_eq!(&docs, view, "{context}: the transaction's view");
                }
            }
            // A read outside, and a malformed command that changes nothing.
            _ => {
                let (reply, docs) = find_all(&shared, &connection, Document::new());
                assert_eq!(code_of(&reply), Ok(()), "{context}: {reply}");
                assert_eq!(docs, model.docs, "{context}: the committed documents");
                let lsid = model.sessions[s].lsid.clone();
                let bad = [
                    (doc! {"txnNumber": n}, 72),
                    (doc! {"lsid": lsid.clone(), "txnNumber": n, "autocommit": true}, 72),
                    (doc! {"lsid": lsid.clone(), "txnNumber": n, "startTransaction": true}, 72),
                    (doc! {"lsid": lsid.clone(), "autocommit": false}, 72),
                    (doc! {"lsid": lsid.clone(), "txnNumber": -1i64, "autocommit": false}, 2),
                    (doc! {"lsid": lsid.clone(), "txnNumber": "1", "autocommit": false}, 14),
                    (doc! {"lsid": lsid, "txnNumber": n, "autocommit": false, "startTransaction": false}, 72),
                ];
                let (fields, code) = &bad[rng.below(bad.len() as u64) as usize];
                let mut body = doc! {"insert": "f", "documents": [{"_id": -1i64, "v": 0i64}], "$db": "fz"};
                body.extend(fields.clone());
                let reply = run(&body, &connection, &shared);
                assert_eq!(code_of(&reply), Err(*code), "{context}: {body}: {reply}");
            }
        }
    }
    let (_, docs) = find_all(&shared, &connection, Document::new());
    assert_eq!(docs, model.docs, "the committed documents at the end");
    println!("{steps} random session commands matched the model in {secs} s; outcomes by code: {seen:?}");
}

#[test]
fn a_cursor_takes_get_mores_only_from_its_session_and_transaction() {
    let shared = Context::for_tests();
    let connection = ConnectionInfo::for_tests(1);
    let docs: Vec<Bson> = (0..5).map(|id| Bson::Document(doc! {"_id": id})).collect();
    run(&doc! {"insert": "g", "documents": docs, "$db": "gm"}, &connection, &shared);
    let lsid = |b: u8| doc! {"id": Binary { subtype: BinarySubtype::Uuid, bytes: vec![b; 16] }};
    let with = |mut body: Document, extra: Document| {
        body.extend(extra);
        run(&body, &connection, &shared)
    };
    let open = |extra: Document| {
        let reply = with(doc! {"find": "g", "batchSize": 1, "$db": "gm"}, extra);
        reply.get_document("cursor").and_then(|c| c.get_i64("id")).unwrap_or_else(|_| panic!("{reply}"))
    };
    let more = |id: i64, extra: Document| {
        code_of(&with(doc! {"getMore": id, "collection": "g", "batchSize": 1, "$db": "gm"}, extra))
    };
    let in_txn = |n: i64| doc! {"lsid": lsid(1), "txnNumber": n, "autocommit": false};
    let starting = |n: i64| {
        let mut fields = in_txn(n);
        fields.insert("startTransaction", true);
        fields
    };

    let id = open(doc! {"lsid": lsid(1)});
    assert_eq!(more(id, doc! {}), Err(50737));
    assert_eq!(more(id, doc! {"lsid": lsid(2)}), Err(50738));
    assert_eq!(more(id, doc! {"lsid": lsid(1)}), Ok(()), "a refused getMore leaves the cursor open");
    with(doc! {"insert": "g", "documents": [{"_id": 10}], "$db": "gm"}, starting(1));
    assert_eq!(more(id, in_txn(1)), Err(50739));
    let in_txn_cursor = open(starting(2));
    assert_eq!(more(in_txn_cursor, doc! {"lsid": lsid(1)}), Err(50740));
    assert_eq!(more(in_txn_cursor, in_txn(2)), Ok(()));
    assert_eq!(code_of(&with(doc! {"commitTransaction": 1, "$db": "admin"}, in_txn(2))), Ok(()));
    with(doc! {"insert": "g", "documents": [{"_id": 11}], "$db": "gm"}, starting(3));
    assert_eq!(more(in_txn_cursor, in_txn(3)), Err(50741));
    // A cursor opened without a session takes getMores from anyone.
    let id = open(doc! {});
    assert_eq!(more(id, doc! {"lsid": lsid(3)}), Ok(()));
}
