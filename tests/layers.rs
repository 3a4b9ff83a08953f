//! The layering of `docs/ARCHITECTURE.md`, held against the source: a lower layer
//! never names a higher one, and the store is written only through the route that
//! commands share. Each rule is a list of paths a directory's code may not name;
//! comments are skipped, so prose may still mention any module.

use std::path::{Path, PathBuf};

/// `(directory, forbidden path, why)`.
const RULES: &[(&str, &str, &str)] = &[
    ("src/query", "crate::command", "query code is below commands"),
    ("src/query", "crate::server", "query code knows no server"),
    ("src/query", "crate::wire", "query code touches no protocol"),
    ("src/index", "crate::command", "indexes are below commands"),
    ("src/index", "crate::server", "indexes know no server"),
    ("src/index", "crate::wire", "indexes touch no protocol"),
    ("src/store", "crate::command", "the store is below commands"),
    ("src/store", "crate::server", "the store knows no server"),
    ("src/store", "crate::wire", "the store knows no protocol"),
    ("src/store", "crate::query", "the store takes predicates, not query types"),
    ("src/wal", "crate::command", "the log knows nothing above it"),
    ("src/wal", "crate::server", "the log knows nothing above it"),
    ("src/wal", "crate::wire", "the log knows nothing above it"),
    ("src/wal", "crate::store", "the log knows nothing above it"),
    ("src/wal", "crate::query", "the log knows nothing above it"),
    ("src/objects", "crate::wal", "object storage is below the log and the store"),
    ("src/objects", "crate::store", "object storage is below the log and the store"),
    ("src/objects", "crate::command", "object storage is below the log and the store"),
    ("src/objects", "crate::server", "object storage is below the log and the store"),
    ("src/value", "crate::command", "value rules are the ground floor"),
    ("src/value", "crate::query", "value rules are the ground floor"),
    ("src/value", "crate::store", "value rules are the ground floor"),
    ("src/value", "crate::wire", "value rules are the ground floor"),
    ("src/value", "crate::server", "value rules are the ground floor"),
    ("src/command", "crate::server", "commands depend on the context, not on the server that builds it"),
    ("src/exec", "crate::command", "plans run below commands"),
    ("src/exec", "crate::server", "plans know no server"),
    ("src/exec", "crate::wire", "plans touch no protocol"),
    ("src/stream", "crate::command", "change streams run below commands"),
    ("src/stream", "crate::server", "change streams know no server"),
    ("src/stream", "crate::wire", "change streams touch no protocol"),
    ("src/stream", "crate::query", "change streams hand events to the command's stages"),
];

/// Calls of the store's write path, which handlers reach only through the
/// invocation's route (so that a transaction can take the write instead).
const WRITE_CALLS: &[&str] = &["store.write(", "Store::write("];

/// Where the route to the store's write path lives: the one place in `src/command`
/// allowed to call it.
const WRITE_ROUTE: &str = "src/command/invocation.rs";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    if dir.extension().is_some_and(|e| e == "rs") {
        assert!(dir.is_file(), "{} named by a rule is missing", dir.display());
        out.push(dir.to_path_buf());
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Each line of code in `dir`, with its file and line number, comments left out.
fn code_lines(dir: &str) -> Vec<(String, usize, String)> {
    let mut files = Vec::new();
    rust_files(&root().join(dir), &mut files);
    files.sort();
    let mut lines = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read a source file");
        let name = file.strip_prefix(root()).expect("under the root").display().to_string();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("").to_owned();
            if !code.trim().is_empty() {
                lines.push((name.clone(), n + 1, code));
            }
        }
    }
    lines
}

#[test]
fn lower_layers_never_name_higher_ones() {
    let mut broken = Vec::new();
    for (dir, forbidden, why) in RULES {
        for (file, n, code) in code_lines(dir) {
            // `crate::` rules forbid whole modules: `crate::query` is not `crate::query_x`.
            let hits = code.match_indices(forbidden).any(|(at, _)| {
                let next = code[at + forbidden.len()..].chars().next();
                forbidden.ends_with("::") || !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
            });
            if hits {
                broken.push(format!("{file}:{n}: names {forbidden} ({why}): {}", code.trim()));
            }
        }
    }
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

#[test]
fn commands_write_only_through_the_route() {
    let mut broken = Vec::new();
    for (file, n, code) in code_lines("src/command") {
        if file == WRITE_ROUTE {
            continue;
        }
        if WRITE_CALLS.iter().any(|call| code.contains(call)) {
            broken.push(format!("{file}:{n}: {}", code.trim()));
        }
    }
    assert!(broken.is_empty(), "handlers calling the store's write path directly:\n{}", broken.join("\n"));
    let route = std::fs::read_to_string(root().join(WRITE_ROUTE)).expect("the write route exists");
    assert!(WRITE_CALLS.iter().any(|call| route.contains(call)), "{WRITE_ROUTE} holds the route");
}

/// Whether `code` names the redb crate: a path that starts with `redb::` (not our
/// own `engine::redb` module, reached as `self::redb::`).
fn names_redb(code: &str) -> bool {
    code.match_indices("redb::")
        .any(|(at, _)| !code[..at].ends_with(|c: char| c == ':' || c.is_alphanumeric() || c == '_'))
}

#[test]
fn only_the_redb_engine_names_redb() {
    let broken: Vec<String> = code_lines("src")
        .into_iter()
        .filter(|(file, _, code)| file != "src/store/engine/redb.rs" && names_redb(code))
        .map(|(file, n, code)| format!("{file}:{n}: {}", code.trim()))
        .collect();
    assert!(broken.is_empty(), "redb named outside its engine:\n{}", broken.join("\n"));
}

/// Object storage is `src/objects`' business: no other file names SlateDB.
#[test]
fn only_the_objects_module_names_slatedb() {
    let broken: Vec<String> = code_lines("src")
        .into_iter()
        .filter(|(file, _, code)| !file.starts_with("src/objects/") && code.contains("slatedb::"))
        .map(|(file, n, code)| format!("{file}:{n}: {}", code.trim()))
        .collect();
    assert!(broken.is_empty(), "SlateDB named outside src/objects:\n{}", broken.join("\n"));
}
