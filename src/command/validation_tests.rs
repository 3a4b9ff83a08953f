//! Document validation through the commands: validators on `create` and
//! `collMod`, the levels and actions, bypassing, and MongoDB's error 121.

use std::sync::Arc;

use bson::{doc, Bson, Document};

use crate::command::run;
use crate::context::{ConnectionInfo, Context};

fn call(shared: &Arc<Context>, body: Document) -> Document {
    run(&body, &ConnectionInfo::for_tests(1), shared)
}

fn with_validator(options: Document) -> Arc<Context> {
    let shared = Context::for_tests();
    let mut create = doc! {"create": "c"};
    create.extend(options);
    create.insert("$db", "v");
    let reply = call(&shared, create);
    assert_eq!(reply.get_f64("ok"), Ok(1.0), "{reply}");
    shared
}

fn insert(shared: &Arc<Context>, docs: Vec<Document>, extra: Document) -> Document {
    let mut body = doc! {"insert": "c", "documents": docs};
    body.extend(extra);
    body.insert("$db", "v");
    call(shared, body)
}

fn options(shared: &Arc<Context>) -> Document {
    let listed = call(shared, doc! {"listCollections": 1, "filter": {"name": "c"}, "$db": "v"});
    let batch = listed.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("batch");
    batch[0].as_document().and_then(|c| c.get_document("options").ok()).cloned().expect("options")
}

#[test]
fn a_failing_insert_gets_error_121_with_its_explanation() {
    let shared = with_validator(doc! {"validator": {"a": 1}});
    let reply = insert(&shared, vec![doc! {"_id": 1, "a": 2}, doc! {"_id": 2, "a": 1}], doc! {});
    assert_eq!(reply.get_i32("n"), Ok(0), "ordered: stops at the first failure: {reply}");
    let error = reply.get_array("writeErrors").expect("errors")[0].as_document().expect("error").clone();
    let expected = doc! {
        "index": 0,
        "code": 121,
        "errmsg": "Document failed validation",
        "errInfo": {
            "failingDocumentId": 1,
            "details": {"operatorName": "$eq", "specifiedAs": {"a": 1}, "reason": "comparison failed", "consideredValue": 2},
        },
    };
    assert_eq!(error, expected);
    let reply = insert(&shared, vec![doc! {"_id": 3, "a": 2}, doc! {"_id": 4, "a": 1}], doc! {"ordered": false});
    assert_eq!(reply.get_i32("n"), Ok(1), "{reply}");
    // Listed as given: no level or action.
    assert_eq!(options(&shared), doc! {"validator": {"a": 1}});
}

#[test]
fn bypassing_and_warning_let_the_write_through() {
    let shared = with_validator(doc! {"validator": {"a": 1}});
    let reply = insert(&shared, vec![doc! {"_id": 1, "a": 2}], doc! {"bypassDocumentValidation": true});
    assert_eq!(reply.get_i32("n"), Ok(1), "{reply}");
    let reply = insert(&shared, vec![doc! {"_id": 2, "a": 2}], doc! {"bypassDocumentValidation": false});
    assert!(reply.contains_key("writeErrors"), "{reply}");
    let warned = with_validator(doc! {"validator": {"a": 1}, "validationAction": "warn"});
    let reply = insert(&warned, vec![doc! {"_id": 1, "a": 2}], doc! {});
    assert_eq!(reply.get_i32("n"), Ok(1), "{reply}");
    let off = with_validator(doc! {"validator": {"a": 1}, "validationLevel": "off"});
    assert_eq!(insert(&off, vec![doc! {"_id": 1, "a": 2}], doc! {}).get_i32("n"), Ok(1));
}

#[test]
fn levels_decide_which_updates_are_checked() {
    let shared = with_validator(doc! {"validator": {"a": 1}});
    insert(&shared, vec![doc! {"_id": 1, "a": 1}, doc! {"_id": 2, "a": 2}], doc! {"bypassDocumentValidation": true});
    let update = |shared: &Arc<Context>, id: i32, set: Document| {
        call(shared, doc! {"update": "c", "updates": [{"q": {"_id": id}, "u": {"$set": set}}], "$db": "v"})
    };
    // Strict: an invalid document cannot be updated unless it becomes valid...
    let reply = update(&shared, 2, doc! {"z": 1});
    assert_eq!(reply.get_array("writeErrors").map(|e| e.len()), Ok(1), "{reply}");
    assert_eq!(update(&shared, 2, doc! {"a": 1}).get_i32("nModified"), Ok(1));
    // ... and a no-op update is not checked.
    insert(&shared, vec![doc! {"_id": 3, "a": 3}], doc! {"bypassDocumentValidation": true});
    let reply = update(&shared, 3, doc! {"a": 3});
    assert!(!reply.contains_key("writeErrors"), "{reply}");
    // Moderate: documents already invalid may change freely, valid ones may not break.
    let reply = call(&shared, doc! {"collMod": "c", "validationLevel": "moderate", "$db": "v"});
    assert_eq!(reply.get_f64("ok"), Ok(1.0), "{reply}");
    assert_eq!(
        options(&shared),
        doc! {"validator": {"a": 1}, "validationLevel": "moderate", "validationAction": "error"}
    );
    assert_eq!(update(&shared, 3, doc! {"z": 1}).get_i32("nModified"), Ok(1));
    let reply = update(&shared, 1, doc! {"a": 5});
    assert_eq!(reply.get_array("writeErrors").map(|e| e.len()), Ok(1), "{reply}");
    // An upsert inserts, and is checked as an insert.
    let reply = call(
        &shared,
        doc! {"update": "c", "updates": [{"q": {"_id": 9}, "u": {"$set": {"a": 2}}, "upsert": true}], "$db": "v"},
    );
    assert_eq!(reply.get_array("writeErrors").map(|e| e.len()), Ok(1), "{reply}");
}

#[test]
fn find_and_modify_fails_as_a_command_with_err_info() {
    let shared = with_validator(doc! {"validator": {"$jsonSchema": {"required": ["a"]}}});
    insert(&shared, vec![doc! {"_id": 1, "a": 1}], doc! {});
    let reply =
        call(&shared, doc! {"findAndModify": "c", "query": {"_id": 1}, "update": {"$unset": {"a": ""}}, "$db": "v"});
    assert_eq!(reply.get_i32("code"), Ok(121), "{reply}");
    assert_eq!(reply.get_str("codeName"), Ok("DocumentValidationFailure"));
    let details = reply.get_document("errInfo").and_then(|i| i.get_document("details")).expect("details");
    let expected = doc! {
        "operatorName": "$jsonSchema",
        "schemaRulesNotSatisfied": [{"operatorName": "required", "specifiedAs": {"required": ["a"]}, "missingProperties": ["a"]}],
    };
    assert_eq!(details, &expected);
}

#[test]
fn coll_mod_replaces_and_removes_the_validator() {
    let shared = with_validator(doc! {"validator": {"a": 1}});
    let reply = call(&shared, doc! {"collMod": "c", "validator": {"a": 2}, "$db": "v"});
    assert_eq!(reply.get_f64("ok"), Ok(1.0), "{reply}");
    assert_eq!(
        options(&shared),
        doc! {"validator": {"a": 2}, "validationLevel": "strict", "validationAction": "error"}
    );
    assert!(insert(&shared, vec![doc! {"_id": 1, "a": 1}], doc! {}).contains_key("writeErrors"));
    call(&shared, doc! {"collMod": "c", "validator": {}, "$db": "v"});
    assert_eq!(insert(&shared, vec![doc! {"_id": 1, "a": 1}], doc! {}).get_i32("n"), Ok(1));
    assert_eq!(options(&shared), doc! {"validationLevel": "strict", "validationAction": "error"});
}

#[test]
fn bad_validation_options_are_refused_as_mongodb_refuses_them() {
    let shared = Context::for_tests();
    let cases: Vec<(Document, i32, &str)> = vec![
        (
            doc! {"create": "c", "validationLevel": "sometimes"},
            2,
            "Enumeration value 'sometimes' for field 'create.validationLevel' is not a valid value.",
        ),
        (
            doc! {"create": "c", "validationAction": "errorAndLog"},
            2,
            "Enumeration value 'errorAndLog' for field 'create.validationAction' is not a valid value.",
        ),
        (
            doc! {"create": "c", "validationLevel": 1},
            14,
            "BSON field 'create.validationLevel' is the wrong type 'int', expected type 'string'",
        ),
        (
            doc! {"create": "c", "validator": 7},
            14,
            "BSON field 'create.validator' is the wrong type 'int', expected type 'object'",
        ),
        (doc! {"create": "c", "validator": {"$where": "true"}}, 2, "$where is not allowed in this context"),
        (doc! {"create": "c", "validator": {"$text": {"$search": "x"}}}, 2, "$text is not allowed in this context"),
        (doc! {"create": "c", "validator": {"a": {"$near": [0, 0]}}}, 5626500, ""),
        (doc! {"create": "c", "validator": {"$jsonSchema": {"invalid": 1}}}, 9, "Unknown $jsonSchema keyword: invalid"),
    ];
    for (mut body, code, message) in cases {
        body.insert("$db", "v");
        let reply = call(&shared, body.clone());
        assert_eq!(reply.get_i32("code"), Ok(code), "{body}: {reply}");
        if !message.is_empty() {
            assert_eq!(reply.get_str("errmsg"), Ok(message), "{body}");
        }
    }
    let reply = call(&shared, doc! {"create": "c", "validator": {"a": 1}, "$db": "admin"});
    assert_eq!(reply.get_i32("code"), Ok(72), "{reply}");
    call(&shared, doc! {"create": "c", "$db": "v"});
    let reply = call(&shared, doc! {"collMod": "c", "validator": {"$jsonSchema": {"invalid": 1}}, "$db": "v"});
    assert_eq!(
        reply.get_str("errmsg"),
        Ok("Parsing of collection validator failed :: caused by :: Unknown $jsonSchema keyword: invalid"),
        "{reply}"
    );
    let reply = call(&shared, doc! {"collMod": "c", "validator": {"a": 1}, "validationLevel": "never", "$db": "v"});
    assert_eq!(
        reply.get_str("errmsg"),
        Ok("Enumeration value 'never' for field 'collMod.validationLevel' is not a valid value."),
        "a bad level is the command's error, not the validator's: {reply}"
    );
    let listed = call(&shared, doc! {"listCollections": 1, "$db": "v"});
    let batch = listed.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("batch");
    assert_eq!(batch.len(), 1, "only the plain collection: {listed}");
    assert_eq!(batch[0].as_document().and_then(|c| c.get("options")), Some(&Bson::Document(doc! {})));
}

#[test]
fn out_and_merge_are_checked_against_the_target() {
    let shared = with_validator(doc! {"validator": {"a": 1}});
    call(&shared, doc! {"insert": "src", "documents": [{"_id": 1, "a": 2}], "$db": "v"});
    let reply =
        call(&shared, doc! {"aggregate": "src", "pipeline": [{"$merge": {"into": "c"}}], "cursor": {}, "$db": "v"});
    assert_eq!(reply.get_i32("code"), Ok(121), "{reply}");
    let reply = call(&shared, doc! {"aggregate": "src", "pipeline": [{"$out": "c"}], "cursor": {}, "$db": "v"});
    assert_eq!(reply.get_i32("code"), Ok(121), "{reply}");
    let reply = call(
        &shared,
        doc! {"aggregate": "src", "pipeline": [{"$out": "c"}], "cursor": {}, "bypassDocumentValidation": true, "$db": "v"},
    );
    assert_eq!(reply.get_f64("ok"), Ok(1.0), "{reply}");
}
