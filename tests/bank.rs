//! The bank: 16 clients move money between 100 accounts in multi-document
//! transactions, on `main` and on a branch, while the server is killed with
//! `kill -9` every few hundred milliseconds. After each restart, on each branch:
//! the total is unchanged, every balance is what the transfers found there make
//! it (all of a transfer or none), every acknowledged commit is there, no aborted
//! transaction is, and reads at past LSNs see the same total. The oracle (what
//! the clients were told) lives in the test, outside the data directory.
//!
//! `BRANCHDB_BANK_CYCLES` sets the number of kill cycles (default 50; the soak
//! runs 1,000).

mod support;

use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bson::{doc, Bson, Document};
use support::{all_documents, call, command, lsid, start};

const CLIENTS: u64 = 16;
const ACCOUNTS: i64 = 100;
const BALANCE: i64 = 1_000;
const TARGETS: [&str; 2] = ["bank", "bank@side"];

/// What the clients were told, per branch.
#[derive(Default)]
struct Oracle {
    committed: HashSet<i64>,
    aborted: HashSet<i64>,
}

/// A small deterministic generator (no dependency for a test).
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

/// One client: its session and the next transaction number, kept across restarts.
struct Client {
    lsid: Document,
    txn_number: i64,
    next_transfer: i64,
    rng: Rng,
}

enum Ending {
    Committed,
    Aborted,
    /// The connection broke before the commit was sent: it did not happen.
    Broken,
    /// The connection broke after: the commit may or may not have happened.
    InDoubt,
}

impl Client {
    /// One statement of the open transaction; `Err` when the connection broke.
    fn statement(&self, stream: &mut TcpStream, mut body: Document, first: bool) -> std::io::Result<Document> {
        body.insert("lsid", self.lsid.clone());
        body.insert("txnNumber", self.txn_number);
        body.insert("autocommit", false);
        if first {
            body.insert("startTransaction", true);
        }
        command(stream, body)
    }

    /// Moves money between two accounts of `target` in one transaction, records
    /// the transfer, and commits it (or, one time in eight, aborts it).
    fn transfer(&mut self, stream: &mut TcpStream, target: &str) -> (i64, Ending) {
        self.txn_number += 1;
        self.next_transfer += 1;
        let id = self.next_transfer;
        let from = self.rng.next(ACCOUNTS as u64) as i64;
        let to = (from + 1 + self.rng.next(ACCOUNTS as u64 - 1) as i64) % ACCOUNTS;
        let amount = 1 + self.rng.next(50) as i64;
        let statements = [
            doc! {"insert": "transfers", "documents": [{"_id": id, "from": from, "to": to, "amount": amount}], "$db": target},
            doc! {"update": "accounts", "updates": [{"q": {"_id": from}, "u": {"$inc": {"balance": -amount}}}], "$db": target},
            doc! {"update": "accounts", "updates": [{"q": {"_id": to}, "u": {"$inc": {"balance": amount}}}], "$db": target},
        ];
        for (i, body) in statements.into_iter().enumerate() {
            match self.statement(stream, body, i == 0) {
                Ok(reply) if reply.get_f64("ok") == Ok(1.0) && !reply.contains_key("writeErrors") => {}
                Ok(_) => return (id, self.end(stream, "abortTransaction")),
                Err(_) => return (id, Ending::Broken),
            }
        }
        match self.rng.next(8) {
            0 => (id, self.end(stream, "abortTransaction")),
            _ => (id, self.end(stream, "commitTransaction")),
        }
    }

    fn end(&self, stream: &mut TcpStream, how: &str) -> Ending {
        let reply = self.statement(stream, doc! {how: 1, "$db": "admin"}, false);
        match (how, reply) {
            ("commitTransaction", Ok(reply)) if reply.get_f64("ok") == Ok(1.0) => Ending::Committed,
            ("commitTransaction", Err(_)) => Ending::InDoubt,
            (_, Err(_)) => Ending::Broken,
            _ => Ending::Aborted,
        }
    }
}

/// Checks one branch against the oracle; returns how many transfers it holds.
fn check(addr: SocketAddr, target: &str, oracle: &Oracle, since: i64, cycle: u64) -> usize {
    let accounts = all_documents(addr, target, "accounts");
    let transfers = all_documents(addr, target, "transfers");
    let balance: HashMap<i64, i64> =
        accounts.iter().map(|a| (a.get_i64("_id").expect("_id"), a.get_i64("balance").expect("balance"))).collect();
    assert_eq!(balance.len() as i64, ACCOUNTS, "cycle {cycle}: {target} accounts");
    let total: i64 = balance.values().sum();
    assert_eq!(total, ACCOUNTS * BALANCE, "cycle {cycle}: {target} total");
    let mut expected: HashMap<i64, i64> = (0..ACCOUNTS).map(|a| (a, BALANCE)).collect();
    let mut found = HashSet::new();
    for t in &transfers {
        let id = t.get_i64("_id").expect("transfer id");
        assert!(!oracle.aborted.contains(&id), "cycle {cycle}: {target} holds aborted transfer {id}");
        found.insert(id);
        let amount = t.get_i64("amount").expect("amount");
        *expected.get_mut(&t.get_i64("from").expect("from")).expect("account") -= amount;
        *expected.get_mut(&t.get_i64("to").expect("to")).expect("account") += amount;
    }
    assert_eq!(balance, expected, "cycle {cycle}: {target} balances disagree with its transfers");
    let lost: Vec<&i64> = oracle.committed.iter().filter(|id| !found.contains(id)).take(5).collect();
    assert!(lost.is_empty(), "cycle {cycle}: {target} lost committed transfers {lost:?}");
    // Reads at past LSNs of the branch see the same total.
    let branch = target.split_once('@').map_or("main", |(_, b)| b);
    let info = call(addr, doc! {"branchInfo": branch, "$db": "bank"});
    let head = info.get_i64("headLsn").expect("headLsn");
    for k in 0..3 {
        let lsn = since + (head - since) * k / 2;
        let past = format!("{}~{lsn}", if target.contains('@') { target.to_owned() } else { format!("{target}@main") });
        let total: i64 = all_documents(addr, &past, "accounts").iter().map(|a| a.get_i64("balance").expect("b")).sum();
        assert_eq!(total, ACCOUNTS * BALANCE, "cycle {cycle}: {past} total");
    }
    found.len()
}

#[test]
fn transfers_survive_kill_9_whole_or_not_at_all() {
    let cycles: u64 = std::env::var("BRANCHDB_BANK_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let data = tempfile::tempdir().expect("tempdir");
    let oracles: [Arc<Mutex<Oracle>>; 2] = Default::default();
    let clients: Vec<Arc<Mutex<Client>>> = (0..CLIENTS)
        .map(|c| {
            Arc::new(Mutex::new(Client {
                lsid: lsid(0xBA4C_0000 + c),
                txn_number: 0,
                next_transfer: c as i64 * 1_000_000_000,
                rng: Rng(c + 1),
            }))
        })
        .collect();
    // The first LSN each branch's total holds from.
    let mut since = [0i64; 2];
    let mut rng = Rng(0x5eed);
    let started = Instant::now();
    let mut transfers = 0;
    for cycle in 0..cycles {
        let (mut server, addr) = start(data.path(), &[]);
        if cycle == 0 {
            let accounts: Vec<Bson> =
                (0..ACCOUNTS).map(|a| Bson::Document(doc! {"_id": a, "balance": BALANCE})).collect();
            let reply = call(addr, doc! {"insert": "accounts", "documents": accounts, "$db": TARGETS[0]});
            assert_eq!(reply.get_i32("n"), Ok(ACCOUNTS as i32), "{reply}");
            let reply = call(addr, doc! {"createBranch": "side", "$db": TARGETS[0]});
            assert_eq!(reply.get_f64("ok"), Ok(1.0), "{reply}");
            let base = reply.get_i64("baseLsn").expect("baseLsn");
            since = [base, base];
        } else {
            transfers = 0;
            for (i, target) in TARGETS.iter().enumerate() {
                transfers += check(addr, target, &oracles[i].lock().expect("oracle"), since[i], cycle);
            }
        }
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = clients
            .iter()
            .enumerate()
            .map(|(c, client)| {
                let (stop, client, oracles) = (stop.clone(), client.clone(), oracles.clone());
                std::thread::spawn(move || {
                    let Ok(mut stream) = TcpStream::connect(addr) else { return };
                    let mut client = client.lock().expect("client");
                    for n in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        let t = (n + c) % 2;
                        let (id, ending) = client.transfer(&mut stream, TARGETS[t]);
                        let mut oracle = oracles[t].lock().expect("oracle");
                        match ending {
                            Ending::Committed => oracle.committed.insert(id),
                            Ending::Aborted => oracle.aborted.insert(id),
                            Ending::Broken => {
                                oracle.aborted.insert(id);
                                return;
                            }
                            Ending::InDoubt => return,
                        };
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50 + rng.next(300)));
        server.kill();
        stop.store(true, Ordering::Relaxed);
        for worker in workers {
            worker.join().expect("client");
        }
    }
    let (_server, addr) = start(data.path(), &[]);
    for (i, target) in TARGETS.iter().enumerate() {
        check(addr, target, &oracles[i].lock().expect("oracle"), since[i], cycles);
    }
    let committed: usize = oracles.iter().map(|o| o.lock().expect("oracle").committed.len()).sum();
    let aborted: usize = oracles.iter().map(|o| o.lock().expect("oracle").aborted.len()).sum();
    println!(
        "{cycles} kill -9 cycles: {committed} acknowledged commits, {aborted} aborted, {transfers} transfers found \
         before the last cycle, none lost or half-applied, {:?}",
        started.elapsed()
    );
    assert!(committed as u64 > cycles, "the clients committed transfers");
}
