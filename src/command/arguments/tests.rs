//! The argument table against dispatch and the handlers: an argument is accepted
//! only when the table lists it, a refused one gets its error, and an implemented
//! one is read by the code.

use bson::{doc, Bson, Document};

use super::*;
use crate::command::{run, COMMANDS};
use crate::context::{ConnectionInfo, Context};

fn call(body: Document) -> Document {
    run(&body, &ConnectionInfo::for_tests(3), &Context::for_tests())
}

/// `{<command>: <value>, <field>: 1}` on a database the command may run against.
fn body_with(command: &crate::command::Command, field: &str) -> Document {
    let db = if command.admin_only { "admin" } else { "t" };
    let mut body = doc! { command.name: "c" };
    body.insert(field, 1);
    body.insert("$db", db);
    body
}

#[test]
fn a_strict_command_refuses_what_its_table_does_not_list() {
    for command in COMMANDS {
        let reply = call(body_with(command, "notAnArgumentOfAnyCommand"));
        match command.args.unlisted {
            Unlisted::Refuse => {
                assert_eq!(reply.get_i32("code"), Ok(40415), "{}: {reply}", command.name);
                assert_eq!(
                    reply.get_str("errmsg"),
                    Ok(format!("BSON field '{}.notAnArgumentOfAnyCommand' is an unknown field.", command.name)
                        .as_str())
                );
            }
            Unlisted::Ignore(why) => {
                assert!(!why.is_empty(), "{}", command.name);
                assert_ne!(reply.get_i32("code"), Ok(40415), "{}: {reply}", command.name);
            }
        }
    }
}

#[test]
fn a_refused_argument_gets_its_error_on_every_command() {
    for command in COMMANDS {
        for arg in command.args.listed.iter().chain(GENERIC) {
            if let Handling::Refused(code, _) = arg.handling {
                let reply = call(body_with(command, arg.name));
                assert_eq!(reply.get_i32("code"), Ok(code.code()), "{}.{}: {reply}", command.name, arg.name);
            }
        }
    }
}

#[test]
fn every_argument_has_a_reason_or_a_reader() {
    let sources = sources();
    for command in COMMANDS {
        for arg in command.args.listed.iter().chain(GENERIC) {
            match arg.handling {
                Handling::Implemented => assert!(
                    sources.contains(&format!("\"{}\"", arg.name)),
                    "{}.{} is listed as implemented but no code reads it",
                    command.name,
                    arg.name
                ),
                Handling::Ignored(why) | Handling::Refused(_, why) => {
                    assert!(!why.is_empty(), "{}.{}", command.name, arg.name)
                }
            }
        }
    }
}

#[test]
fn session_fields_are_checked_as_mongodb_checks_them() {
    let lsid = doc! {"id": bson::Binary { subtype: bson::spec::BinarySubtype::Uuid, bytes: vec![9; 16] }};
    let insert = |extra: Document| {
        let mut body = doc! {"insert": "c", "documents": [{"_id": 1}], "$db": "t"};
        body.extend(extra);
        call(body)
    };
    // (fields, code)
    let cases = [
        (doc! {"txnNumber": 1i64}, 72),
        (doc! {"lsid": lsid.clone(), "autocommit": false}, 72),
        (doc! {"lsid": lsid.clone(), "txnNumber": 1i64, "autocommit": true}, 72),
        (doc! {"lsid": lsid.clone(), "txnNumber": 1i64, "startTransaction": true}, 72),
        (doc! {"lsid": lsid.clone(), "txnNumber": 1i64, "autocommit": false, "startTransaction": false}, 72),
        (doc! {"lsid": lsid.clone(), "txnNumber": -1i64}, 2),
        (doc! {"lsid": lsid.clone(), "txnNumber": "1"}, 14),
        (doc! {"lsid": 1, "txnNumber": 1i64}, 14),
        (doc! {"lsid": {"id": 1}}, 14),
    ];
    for (fields, code) in cases {
        let reply = insert(fields.clone());
        assert_eq!(reply.get_i32("code"), Ok(code), "{fields}: {reply}");
    }
}

#[test]
fn the_explained_command_is_checked_too() {
    let reply = call(doc! {"explain": {"find": "c", "notAnOption": 1}, "$db": "t"});
    assert_eq!(reply.get_i32("code"), Ok(40415), "{reply}");
}

#[test]
fn id_index_is_the_default_one_or_refused() {
    let shared = Context::for_tests();
    let connection = ConnectionInfo::for_tests(1);
    let id_index = doc! {"v": 2, "key": {"_id": 1}, "name": "_id_"};
    let reply = run(&doc! {"create": "a", "idIndex": id_index, "$db": "t"}, &connection, &shared);
    assert_eq!(reply.get_f64("ok"), Ok(1.0), "{reply}");
    let reply =
        run(&doc! {"create": "b", "idIndex": {"key": {"_id": -1}, "name": "x"}, "$db": "t"}, &connection, &shared);
    assert_eq!(reply.get_i32("code"), Ok(238), "{reply}");
}

#[test]
fn the_stable_api_parameters_are_checked() {
    let code = |body: Document| call(body).get_i32("code").ok();
    assert_eq!(code(doc! {"ping": 1, "apiVersion": "1", "apiStrict": true, "$db": "admin"}), None);
    assert_eq!(code(doc! {"ping": 1, "apiVersion": "2", "$db": "admin"}), Some(322));
    assert_eq!(code(doc! {"ping": 1, "apiVersion": "3", "$db": "admin"}), Some(322));
    assert_eq!(code(doc! {"ping": 1, "apiVersion": 1, "$db": "admin"}), Some(14));
    assert_eq!(code(doc! {"ping": 1, "apiStrict": false, "$db": "admin"}), Some(4886600));
    assert_eq!(code(doc! {"ping": 1, "apiVersion": "1", "apiStrict": 1, "$db": "admin"}), Some(14));
    assert_eq!(code(doc! {"isMaster": 1, "apiVersion": "1", "apiStrict": true, "$db": "admin"}), Some(323));
    assert_eq!(code(doc! {"isMaster": 1, "apiVersion": "1", "apiStrict": false, "$db": "admin"}), None);
}

/// The text of the command and query modules, where arguments are read.
fn sources() -> String {
    fn walk(dir: &std::path::Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).expect("source directory").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("arguments/crud.rs") {
                out.push_str(&std::fs::read_to_string(&path).expect("source file"));
            }
        }
    }
    let mut out = String::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for module in ["command", "query", "sessions.rs"] {
        let path = root.join(module);
        if path.is_dir() {
            walk(&path, &mut out);
        } else {
            out.push_str(&std::fs::read_to_string(&path).expect("source file"));
        }
    }
    // The tables themselves name every argument: leave them out.
    for table in ["arguments/admin.rs", "arguments/mod.rs", "arguments/tests.rs"] {
        let text = std::fs::read_to_string(root.join("command").join(table)).expect("table");
        out = out.replace(&text, "");
    }
    out
}

#[test]
fn a_hint_naming_no_index_fails_every_command_that_takes_one() {
    let shared = Context::for_tests();
    let connection = ConnectionInfo::for_tests(1);
    let call = |body: Document| run(&body, &connection, &shared);
    assert_eq!(call(doc! {"insert": "c", "documents": [{"_id": 1, "x": 1}], "$db": "t"}).get_i32("n"), Ok(1));
    let hint = "no_such_index";
    let refused = [
        doc! {"distinct": "c", "key": "x", "hint": hint, "$db": "t"},
        doc! {"findAndModify": "c", "query": {"x": 1}, "remove": true, "hint": hint, "$db": "t"},
        doc! {"count": "c", "hint": hint, "$db": "t"},
    ];
    for body in refused {
        let reply = call(body.clone());
        assert_eq!(reply.get_f64("ok"), Ok(0.0), "{body}: {reply}");
    }
    for body in [
        doc! {"update": "c", "updates": [{"q": {"x": 1}, "u": {"$set": {"y": 1}}, "hint": hint}], "$db": "t"},
        doc! {"delete": "c", "deletes": [{"q": {"x": 1}, "limit": 1, "hint": hint}], "$db": "t"},
    ] {
        let reply = call(body.clone());
        assert!(reply.get_array("writeErrors").is_ok(), "{body}: {reply}");
    }
    // Nothing was changed by the refused statements.
    let found = call(doc! {"find": "c", "$db": "t"});
    let batch = found.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("batch");
    assert_eq!(batch, &vec![Bson::Document(doc! {"_id": 1, "x": 1})]);
}
