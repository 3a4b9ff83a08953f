//! The model test of DESIGN §6: random writes on several branches, branch creation
//! and drops, point-in-time reads, history collection, restarts (clean and crashed),
//! and the branch lifecycle (merges under every strategy, dry runs, resets to any
//! state, expiry), checked against a plain in-memory model after every step.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bson::{doc, Bson, Document};

use super::tests::{db, open, scan};
use super::*;
use crate::store::engine::MemoryEngine;
use crate::wal::fs::StdFs;

#[test]
fn model_on_redb() {
    let (steps, seed) = model_settings();
    run_model(steps, seed, Backend::Redb);
}

/// The same model on the in-memory engine, whose crashes forget every commit not
/// made durable, as a disk would.
#[test]
fn model_on_the_memory_engine() {
    let (steps, seed) = model_settings();
    run_model(steps, seed, Backend::Memory(Arc::new(MemoryEngine::new())));
}

/// The same model in object storage (in memory), the log and the engine in one
/// SlateDB database; a crash drops both unclosed, and the store opens them again
/// from the objects alone.
#[cfg(feature = "slatedb")]
#[test]
fn model_on_slatedb() {
    let (steps, seed) = model_settings();
    run_model(steps, seed, Backend::Slate(Arc::new(crate::objects::InMemory::new())));
}

/// The engine a model run uses.
enum Backend {
    /// redb in the run's directory.
    Redb,
    /// One in-memory engine, kept across restarts.
    Memory(Arc<MemoryEngine>),
    /// SlateDB, log and engine, opened anew on these objects at every restart.
    #[cfg(feature = "slatedb")]
    Slate(Arc<dyn crate::objects::ObjectStore>),
}

impl Backend {
    /// Whether a crash may lose what was not made durable (redb's file keeps
    /// what a dropped process committed).
    fn crash_forgets(&self) -> bool {
        !matches!(self, Backend::Redb)
    }
}

fn model_settings() -> (usize, u64) {
    let steps: usize = std::env::var("BRANCHDB_MODEL_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let seed: u64 = std::env::var("BRANCHDB_MODEL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5EED);
    (steps, seed)
}

/// Opens the store on `backend`, with its log in `dir`.
fn open_on(dir: &Path, backend: &Backend) -> (Arc<Wal>, Arc<Store>) {
    let (wal, engine): (Wal, Arc<dyn Engine>) = match backend {
        Backend::Redb => return open(dir, Duration::ZERO),
        Backend::Memory(engine) => {
            let options = wal::Options::default();
            (Wal::open(Arc::new(StdFs), &dir.join("wal"), options, &mut |_| {}).expect("wal").0, engine.clone())
        }
        #[cfg(feature = "slatedb")]
        Backend::Slate(store) => {
            use crate::objects::{Objects, Options};
            // Every acknowledgement waits for a flush: a short interval keeps the run short.
            let options = Options { flush_interval: Duration::from_millis(1), ..Options::default() };
            let objects = Arc::new(Objects::open_in(store.clone(), "db", &options).expect("slatedb"));
            let wal = Wal::on_objects(objects.clone(), wal::Options::default()).expect("log").0;
            (wal, Arc::new(engine::SlateEngine::new(objects)))
        }
    };
    let wal = Arc::new(wal);
    let location = Location::Engine(engine);
    let store = Store::open(
        location,
        wal.clone(),
        Options { retention: Duration::ZERO, background: false, cache_bytes: DEFAULT_CACHE, follower: false },
    )
    .expect("store");
    (wal, store)
}

type State = BTreeMap<String, BTreeMap<i32, Document>>;

/// One incarnation of a branch (a reset starts a new one under the same name): its
/// parent state, its history of states (the first at its start), and the merges
/// into it.
struct Incarnation {
    parent: Option<(u64, Lsn)>,
    history: Vec<(Lsn, State)>,
    /// (source incarnation, source LSN, merge LSN).
    merges: Vec<(u64, Lsn, Lsn)>,
}

impl Incarnation {
    fn at(&self, lsn: Lsn) -> &State {
        let i = self.history.partition_point(|(l, _)| *l <= lsn);
        &self.history[i.saturating_sub(1)].1
    }
    fn latest(&self) -> &State {
        &self.history[self.history.len() - 1].1
    }
}

/// A live branch of the model: its incarnations, each with the LSN it began at.
struct ModelBranch {
    name: String,
    incarnations: Vec<(Lsn, u64)>,
    expires: bool,
}

#[derive(Default)]
struct Model {
    incarnations: HashMap<u64, Incarnation>,
    branches: Vec<ModelBranch>,
    next: u64,
}

impl Model {
    fn new_incarnation(&mut self, parent: Option<(u64, Lsn)>, start: Lsn, state: State) -> u64 {
        self.next += 1;
        let inc = Incarnation { parent, history: vec![(start, state)], merges: Vec::new() };
        self.incarnations.insert(self.next, inc);
        self.next
    }
    fn current(&self, b: usize) -> u64 {
        self.branches[b].incarnations.last().expect("an incarnation").1
    }
    /// The incarnation branch `b`'s name meant at `lsn`.
    fn at(&self, b: usize, lsn: Lsn) -> u64 {
        let all = &self.branches[b].incarnations;
        all.iter().rev().find(|(start, _)| *start <= lsn).unwrap_or(&all[0]).1
    }
    fn inc(&self, serial: u64) -> &Incarnation {
        &self.incarnations[&serial]
    }
    fn inc_mut(&mut self, serial: u64) -> &mut Incarnation {
        self.incarnations.get_mut(&serial).expect("incarnation")
    }
    fn latest(&self, b: usize) -> &State {
        self.inc(self.current(b)).latest()
    }
    fn push(&mut self, b: usize, lsn: Lsn, state: State) {
        let serial = self.current(b);
        self.inc_mut(serial).history.push((lsn, state));
    }
    /// The first LSN branch `b` can be read at.
    fn low(&self, b: usize) -> Lsn {
        self.inc(self.branches[b].incarnations[0].1).history[0].0
    }
    fn chain(&self, serial: u64, lsn: Lsn) -> Vec<(u64, Lsn)> {
        let mut chain = vec![(serial, lsn)];
        let mut at = self.inc(serial).parent;
        let mut bound = lsn;
        while let Some((parent, base)) = at {
            bound = bound.min(base);
            chain.push((parent, bound));
            at = self.inc(parent).parent;
        }
        chain
    }
    fn depth(&self, serial: u64) -> usize {
        self.chain(serial, Lsn(u64::MAX)).len() - 1
    }
    fn has_children(&self, serial: u64) -> bool {
        (0..self.branches.len()).any(|b| self.inc(self.current(b)).parent.is_some_and(|(p, _)| p == serial))
    }
    /// The merge base of SPEC §3.1, as the model sees it.
    fn merge_base(&self, source: u64, target: u64, at: Lsn) -> (u64, Lsn) {
        let (s, t) = (self.chain(source, at), self.chain(target, at));
        let holds = |chain: &[(u64, Lsn)], id: u64, lsn: Lsn| chain.iter().any(|&(c, l)| c == id && l >= lsn);
        let mut best =
            s.iter().find_map(|&(id, bound)| t.iter().find(|(x, _)| *x == id).map(|&(_, o)| (id, bound.min(o))));
        for (mine, other) in [(&t, &s), (&s, &t)] {
            for &(id, bound) in mine.iter() {
                for &(source, source_lsn, lsn) in &self.inc(id).merges {
                    if lsn <= bound && holds(other, source, source_lsn) && best.is_none_or(|(_, l)| source_lsn > l) {
                        best = Some((source, source_lsn));
                    }
                }
            }
        }
        best.expect("a common state")
    }
}

/// The three-way merge of SPEC §3.1 on model states: the result and the conflicts.
fn merge_states(base: &State, ours: &State, theirs: &State, strategy: Strategy) -> (State, usize) {
    let mut result = State::new();
    let mut conflicts = 0;
    let names: BTreeSet<&String> = base.keys().chain(ours.keys()).chain(theirs.keys()).collect();
    for name in names {
        let (b, o, t) = (base.get(name), ours.get(name), theirs.get(name));
        let empty = BTreeMap::new();
        match (b, o, t) {
            (_, None, None) | (None, Some(_), None) => {
                if let Some(o) = o {
                    result.insert(name.clone(), o.clone());
                }
            }
            (Some(b), Some(o), None) => {
                // Dropped by the source: what the target inserted or changed conflicts.
                let touched: BTreeMap<i32, Document> =
                    o.iter().filter(|(id, d)| b.get(id) != Some(d)).map(|(id, d)| (*id, d.clone())).collect();
                conflicts += touched.len();
                if !touched.is_empty() && strategy != Strategy::Theirs {
                    result.insert(name.clone(), touched);
                }
            }
            (b, None, Some(t)) => {
                let b = b.unwrap_or(&empty);
                let ids: BTreeSet<&i32> = b.keys().chain(t.keys()).collect();
                let changed: Vec<&i32> = ids.into_iter().filter(|id| b.get(id) != t.get(id)).collect();
                let created_by_source = base.get(name).is_none();
                if !created_by_source {
                    conflicts += changed.len();
                }
                if created_by_source || strategy == Strategy::Theirs {
                    let docs: BTreeMap<i32, Document> =
                        changed.iter().filter_map(|id| t.get(id).map(|d| (**id, d.clone()))).collect();
                    if created_by_source || !docs.is_empty() {
                        result.insert(name.clone(), docs);
                    }
                }
            }
            (b, Some(o), Some(t)) => {
                let b = b.unwrap_or(&empty);
                let mut docs = o.clone();
                let ids: BTreeSet<&i32> = b.keys().chain(o.keys()).chain(t.keys()).collect();
                for id in ids {
                    let (bd, od, td) = (b.get(id), o.get(id), t.get(id));
                    if td == bd || od == td {
                        continue;
                    }
                    let merged = if od == bd {
                        td.cloned()
                    } else {
                        match (od, td) {
                            (Some(od), Some(td)) => {
                                let (doc, clashes) = merge_fields(bd, od, td, strategy);
                                conflicts += usize::from(clashes);
                                Some(doc)
                            }
                            _ => {
                                conflicts += 1;
                                if strategy == Strategy::Theirs {
                                    td.cloned()
                                } else {
                                    od.cloned()
                                }
                            }
                        }
                    };
                    match merged {
                        Some(doc) => docs.insert(*id, doc),
                        None => docs.remove(id),
                    };
                }
                result.insert(name.clone(), docs);
            }
        }
    }
    (result, conflicts)
}

/// Merges one document both sides changed, field by field; whether fields clashed.
fn merge_fields(base: Option<&Document>, ours: &Document, theirs: &Document, strategy: Strategy) -> (Document, bool) {
    let empty = Document::new();
    let base = base.unwrap_or(&empty);
    let mut doc = ours.clone();
    let mut clashed = false;
    let fields: BTreeSet<&String> = base.keys().chain(ours.keys()).chain(theirs.keys()).collect();
    for field in fields {
        let (b, o, t) = (base.get(field), ours.get(field), theirs.get(field));
        if t == b || o == t {
            continue;
        }
        let take_theirs = if o == b {
            true
        } else {
            clashed = true;
            strategy == Strategy::Theirs
        };
        if take_theirs {
            match t {
                Some(t) => doc.insert(field.clone(), t.clone()),
                None => doc.remove(field),
            };
        }
    }
    (doc, clashed)
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn between(&mut self, low: Lsn, high: Lsn) -> Lsn {
        Lsn(low.0 + self.next() % (high.0 - low.0 + 1))
    }
}

fn run_model(steps: usize, seed: u64, backend: Backend) {
    const COLLS: [&str; 3] = ["a", "b", "c"];
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, mut store) = open_on(dir.path(), &backend);
    let mut rng = Rng(seed | 1);
    let mut model = Model::default();
    let main = model.new_incarnation(None, Lsn::ZERO, State::new());
    model.branches.push(ModelBranch { name: "main".into(), incarnations: vec![(Lsn::ZERO, main)], expires: false });
    // main exists from its first write: make it now, so that every later write's
    // commit is its own change.
    store.write(&db("m"), false, None, |_| Ok(())).expect("create main");
    let mut horizon = Lsn::ZERO;
    let mut counter = 0;
    let mut checks = 0u64;
    // Merges, resets, expiry passes, diffs; merges that met conflicts.
    let mut lifecycle = [0u64; 5];
    let target_of = |name: &str| if name == "main" { "m".to_owned() } else { format!("m@{name}") };
    for step in 0..steps {
        let b = rng.below(model.branches.len());
        let target = target_of(&model.branches[b].name);
        let coll = COLLS[rng.below(COLLS.len())];
        let id = rng.below(12) as i32;
        match rng.below(100) {
            // Insert, failing on a duplicate as MongoDB does.
            0..=29 => {
                counter += 1;
                let d = doc! {"_id": id, "n": counter, "step": step as i64};
                let exists = model.latest(b).get(coll).is_some_and(|c| c.contains_key(&id));
                let (inserted, commit) = store
                    .write(&db(&target), false, None, |batch| {
                        let c = batch.collection_or_create(coll)?;
                        if batch.contains(&c, &Bson::Int32(id))? {
                            return Ok(false);
                        }
                        batch.put(&c, PutKind::Insert, d.clone())?;
                        Ok(true)
                    })
                    .expect("insert");
                assert_eq!(inserted, !exists, "step {step}: insert of a duplicate");
                let mut state = model.latest(b).clone();
                state.entry(coll.to_owned()).or_default().entry(id).or_insert(d);
                if let Some(commit) = commit {
                    model.push(b, commit.lsn, state);
                }
            }
            // Update by _id (a $set of one field).
            30..=49 => {
                counter += 1;
                let (_, commit) = store
                    .write(&db(&target), false, None, |batch| {
                        let Some(c) = batch.collection(coll)? else { return Ok(()) };
                        if let Some(mut d) = batch.get(&c, &Bson::Int32(id))? {
                            d.insert("n", counter);
                            batch.put(&c, PutKind::Update, d)?;
                        }
                        Ok(())
                    })
                    .expect("update");
                let mut state = model.latest(b).clone();
                let changed = state.get_mut(coll).and_then(|c| c.get_mut(&id)).map(|d| d.insert("n", counter));
                assert_eq!(changed.is_some(), commit.is_some(), "step {step}: update found a different document");
                if let Some(commit) = commit {
                    model.push(b, commit.lsn, state);
                }
            }
            // Delete by _id.
            50..=64 => {
                let (_, commit) = store
                    .write(&db(&target), false, None, |batch| {
                        let Some(c) = batch.collection(coll)? else { return Ok(()) };
                        if batch.contains(&c, &Bson::Int32(id))? {
                            batch.delete(&c, &Bson::Int32(id))?;
                        }
                        Ok(())
                    })
                    .expect("delete");
                let mut state = model.latest(b).clone();
                let removed = state.get_mut(coll).and_then(|c| c.remove(&id));
                assert_eq!(removed.is_some(), commit.is_some(), "step {step}: delete");
                if let Some(commit) = commit {
                    model.push(b, commit.lsn, state);
                }
            }
            // Drop a collection.
            65..=67 => {
                let (dropped, commit) =
                    store.write(&db(&target), false, None, |batch| batch.drop_collection(coll)).expect("drop");
                let mut state = model.latest(b).clone();
                assert_eq!(dropped, state.remove(coll).is_some(), "step {step}: drop");
                if let Some(commit) = commit {
                    model.push(b, commit.lsn, state);
                }
            }
            // Create a branch, now or at a past point.
            68..=72 if model.branches.len() < 8 => {
                counter += 1;
                let name = format!("b{counter}");
                let low = model.low(b).max(horizon);
                let head = store.published().lsn;
                let at = match rng.below(2) {
                    0 => None,
                    _ => Some(rng.between(low, head)),
                };
                let from = model.at(b, at.unwrap_or(head));
                let parent_name = model.branches[b].name.clone();
                let result = store.create_branch("m", &name, &parent_name, at);
                if model.depth(from) + 1 >= MAX_DEPTH {
                    assert!(result.is_err(), "step {step}: {name} would nest too deep");
                    continue;
                }
                let (branch, commit) = result.expect("create branch");
                let base_state = model.inc(from).at(branch.base_lsn).clone();
                let serial = model.new_incarnation(Some((from, branch.base_lsn)), branch.base_lsn, base_state);
                let _ = commit;
                model.branches.push(ModelBranch {
                    name,
                    incarnations: vec![(branch.created_lsn, serial)],
                    expires: false,
                });
            }
            // Drop a branch without children.
            73..=75 => {
                let name = model.branches[b].name.clone();
                let has_children = model.has_children(model.current(b));
                let result = store.drop_branch("m", &name);
                if name == "main" || has_children {
                    assert!(result.is_err(), "step {step}: dropping {name} must fail");
                } else {
                    result.expect("drop branch");
                    model.branches.remove(b);
                }
            }
            // Collect history (retention zero: everything before now).
            76 => {
                let stats = store.collect_garbage(DateTime::now()).expect("gc");
                horizon = stats.horizon;
            }
            // Restart: cleanly or as after a crash.
            77 => {
                let crash = rng.below(2) == 1;
                if !crash {
                    store.close().expect("close store");
                    wal.close().expect("close wal");
                }
                drop(store);
                drop(wal);
                if let (true, Backend::Memory(engine)) = (crash, &backend) {
                    engine.crash();
                }
                (wal, store) = open_on(dir.path(), &backend);
                // A clean restart keeps the horizon. A crash may lose the collection
                // done since the last checkpoint, the horizon with the deletions: the
                // history comes back, readable again.
                match crash && backend.crash_forgets() {
                    false => assert_eq!(store.horizon(), horizon, "step {step}: the horizon survives restarts"),
                    true => assert!(store.horizon() <= horizon, "step {step}: the horizon never passes the collected"),
                }
                horizon = store.horizon();
            }
            // Merge another branch into this one, under a random strategy, maybe dry.
            78..=80 if model.branches.len() > 1 => {
                let s = (b + 1 + rng.below(model.branches.len() - 1)) % model.branches.len();
                let strategy = [Strategy::Fail, Strategy::Ours, Strategy::Theirs][rng.below(3)];
                let dry_run = rng.below(4) == 0;
                let at = store.published().lsn;
                let (source, into) = (model.current(s), model.current(b));
                let base = model.merge_base(source, into, at);
                let (result, conflicts) =
                    merge_states(model.inc(base.0).at(base.1), model.latest(b), model.latest(s), strategy);
                let source_name = model.branches[s].name.clone();
                let into_name = model.branches[b].name.clone();
                let request = MergeRequest { db: "m", source: &source_name, into: Some(&into_name), strategy, dry_run };
                let merged = store.merge(&request).expect("merge");
                assert_eq!(
                    merged.conflicts.len(),
                    conflicts,
                    "step {step}: conflicts of {source_name} into {into_name}"
                );
                let stopped = strategy == Strategy::Fail && conflicts > 0;
                let writes = !(dry_run || stopped);
                assert_eq!(merged.commit.is_some(), writes, "step {step}: whether the merge wrote");
                if let Some(commit) = merged.commit {
                    model.push(b, commit.lsn, result);
                    model.inc_mut(into).merges.retain(|m| m.0 != source);
                    model.inc_mut(into).merges.push((source, at, commit.lsn));
                }
                lifecycle[0] += 1;
                lifecycle[4] += u64::from(conflicts > 0);
            }
            // Reset this branch to another's state (or its own), at its head or a point.
            81..=82 => {
                let t = rng.below(model.branches.len());
                let head = store.published().lsn;
                let point = match rng.below(2) {
                    0 => None,
                    _ => Some(rng.between(model.low(t).max(horizon), head)),
                };
                let to = match point {
                    Some(p) => format!("m@{}~{p}", model.branches[t].name),
                    None => format!("m@{}", model.branches[t].name),
                };
                let from = model.at(t, point.unwrap_or(head));
                let name = model.branches[b].name.clone();
                let result = store.reset_branch("m", &name, &db(&to));
                if model.depth(from) + 1 >= MAX_DEPTH {
                    assert!(result.is_err(), "step {step}: a reset to {to} would nest too deep");
                    continue;
                }
                let (branch, commit) = result.expect("reset");
                let base = point.unwrap_or(head);
                assert_eq!(branch.base_lsn, base, "step {step}: reset base");
                let state = model.inc(from).at(base).clone();
                let serial = model.new_incarnation(Some((from, base)), commit.lsn, state);
                model.branches[b].incarnations.push((commit.lsn, serial));
                lifecycle[1] += 1;
            }
            // Expiry: mark this branch expired, then let the collector drop what it may.
            83 => {
                if model.branches[b].name != "main" {
                    let name = model.branches[b].name.clone();
                    let past = DateTime::from_millis(DateTime::now().timestamp_millis() - 1);
                    store
                        .update_branch("m", &name, |_, settings| {
                            settings.expire_at = Some(past);
                            Ok(())
                        })
                        .expect("expire");
                    model.branches[b].expires = true;
                }
                let mut due: Vec<usize> = (0..model.branches.len()).filter(|&i| model.branches[i].expires).collect();
                due.sort_by_key(|&i| model.branches[i].incarnations.last().expect("incarnation").0);
                // Dropped in this order, each if no live branch is based on it then.
                let (mut expected, mut gone) = (Vec::new(), Vec::new());
                for i in due {
                    let serial = model.current(i);
                    let based = (0..model.branches.len())
                        .filter(|c| !gone.contains(c))
                        .any(|c| model.inc(model.current(c)).parent.is_some_and(|(p, _)| p == serial));
                    if !based {
                        gone.push(i);
                        expected.push(format!("m@{}", model.branches[i].name));
                    }
                }
                let dropped = store.expire_branches(DateTime::now()).expect("expire branches");
                assert_eq!(dropped, expected, "step {step}: expired branches");
                model.branches.retain(|branch| !expected.contains(&format!("m@{}", branch.name)));
                lifecycle[2] += 1;
            }
            // Reads: whole collections and single documents, now or in the past.
            _ => {
                let head = store.published().lsn;
                let low = model.low(b).max(horizon);
                let (name, lsn) = match rng.below(3) {
                    0 => (target.clone(), head),
                    _ => {
                        let lsn = rng.between(low, head);
                        (format!("m@{}~{lsn}", model.branches[b].name), lsn)
                    }
                };
                let view = store.view(&db(&name), None).expect("view");
                let state = model.inc(model.at(b, lsn)).at(lsn);
                let names: Vec<String> = view.collections().expect("collections").into_iter().map(|c| c.name).collect();
                let expected: Vec<String> = state.keys().cloned().collect();
                assert_eq!(names, expected, "step {step}: collections of {name}");
                for coll in COLLS {
                    let docs = scan(&view, coll);
                    let expected: Vec<Document> =
                        state.get(coll).map(|c| c.values().cloned().collect()).unwrap_or_default();
                    assert_eq!(docs, expected, "step {step}: scan of {name}.{coll}");
                    if let Some(c) = view.collection(coll).expect("collection") {
                        let found = view.get(c.id, &Bson::Int32(id)).expect("get");
                        assert_eq!(found.as_ref(), state.get(coll).and_then(|c| c.get(&id)), "step {step}: get");
                    }
                }
                checks += 1;
                if horizon > Lsn::ZERO {
                    let below = format!("m@main~{}", horizon.0 - 1);
                    let err = store.view(&db(&below), None).expect_err("below the horizon");
                    assert_eq!(err.code(), ErrorCode::SnapshotTooOld);
                }
                // Now and then, a diff of this state against another branch's head.
                if rng.below(4) == 0 {
                    let other = rng.below(model.branches.len());
                    let other_name = target_of(&model.branches[other].name);
                    let other_state = model.latest(other);
                    let (from, to) = store.view_pair(&db(&name), &db(&other_name)).expect("views");
                    let found = diff::differences(&from, &to, None, usize::MAX).expect("diff");
                    let mut expected = 0;
                    for coll in COLLS {
                        let empty = BTreeMap::new();
                        let (a, z) = (state.get(coll).unwrap_or(&empty), other_state.get(coll).unwrap_or(&empty));
                        let ids: BTreeSet<&i32> = a.keys().chain(z.keys()).collect();
                        expected += ids.into_iter().filter(|id| a.get(id) != z.get(id)).count();
                    }
                    assert_eq!(found.len(), expected, "step {step}: diff of {name} and {other_name}");
                    lifecycle[3] += 1;
                }
            }
        }
    }
    assert!(checks > steps as u64 / 10, "the model read back often enough");
    eprintln!(
        "model: {steps} steps, {checks} reads; merges, resets, expiry passes, diffs, conflicted merges: {lifecycle:?}"
    );
    if steps >= 1000 {
        assert!(lifecycle.iter().all(|&n| n > 0), "every lifecycle operation ran: {lifecycle:?}");
    }
}
