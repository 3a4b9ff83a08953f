//! Documents come back byte for byte: a property test over arbitrary BSON (every
//! type, `$`-prefixed and dotted names inside subdocuments, every Extended JSON
//! look-alike shape, deep nesting, large arrays), through the Rust driver with raw
//! documents so that nothing on the client side reinterprets them either.
//!
//! Each case is a batch of documents, checked through insert → find, insert →
//! `$match`, insert → update of another field → find, `getMore` batches, and a
//! restart (WAL replay and the store) → find. 20 cases of 500 documents: 10,000
//! documents in all.

use bson::{doc, Document, RawDocumentBuf};
use futures_util::TryStreamExt;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::common::TestServer;

/// A BSON value, encoded by this test's own writer so that nothing in the `bson`
/// crate decides the bytes the server receives.
#[derive(Debug, Clone)]
enum Value {
    Double(u64),
    String(String),
    Document(Vec<(String, Value)>),
    Array(Vec<Value>),
    Binary(u8, Vec<u8>),
    Undefined,
    ObjectId([u8; 12]),
    Boolean(bool),
    DateTime(i64),
    Null,
    Regex(String, String),
    DbPointer(String, [u8; 12]),
    Code(String),
    Symbol(String),
    CodeWithScope(String, Vec<(String, Value)>),
    Int32(i32),
    Timestamp(u32, u32),
    Int64(i64),
    Decimal128([u8; 16]),
    MinKey,
    MaxKey,
}

impl Value {
    fn tag(&self) -> u8 {
        match self {
            Value::Double(_) => 0x01,
            Value::String(_) => 0x02,
            Value::Document(_) => 0x03,
            Value::Array(_) => 0x04,
            Value::Binary(..) => 0x05,
            Value::Undefined => 0x06,
            Value::ObjectId(_) => 0x07,
            Value::Boolean(_) => 0x08,
            Value::DateTime(_) => 0x09,
            Value::Null => 0x0A,
            Value::Regex(..) => 0x0B,
            Value::DbPointer(..) => 0x0C,
            Value::Code(_) => 0x0D,
            Value::Symbol(_) => 0x0E,
            Value::CodeWithScope(..) => 0x0F,
            Value::Int32(_) => 0x10,
            Value::Timestamp(..) => 0x11,
            Value::Int64(_) => 0x12,
            Value::Decimal128(_) => 0x13,
            Value::MinKey => 0xFF,
            Value::MaxKey => 0x7F,
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        fn string(out: &mut Vec<u8>, s: &str) {
            out.extend_from_slice(&(s.len() as i32 + 1).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
            out.push(0);
        }
        match self {
            Value::Double(bits) => out.extend_from_slice(&bits.to_le_bytes()),
            Value::String(s) | Value::Code(s) | Value::Symbol(s) => string(out, s),
            Value::Document(fields) => write_document(out, fields),
            Value::Array(items) => {
                let fields: Vec<(String, Value)> =
                    items.iter().enumerate().map(|(i, v)| (i.to_string(), v.clone())).collect();
                write_document(out, &fields);
            }
            Value::Binary(subtype, bytes) => {
                // Subtype 2 (the old binary) holds its own length inside the bytes.
                let inner = if *subtype == 2 { 4 } else { 0 };
                out.extend_from_slice(&((bytes.len() + inner) as i32).to_le_bytes());
                out.push(*subtype);
                if *subtype == 2 {
                    out.extend_from_slice(&(bytes.len() as i32).to_le_bytes());
                }
                out.extend_from_slice(bytes);
            }
            Value::Undefined | Value::Null | Value::MinKey | Value::MaxKey => {}
            Value::ObjectId(id) => out.extend_from_slice(id),
            Value::Boolean(b) => out.push(u8::from(*b)),
            Value::DateTime(ms) | Value::Int64(ms) => out.extend_from_slice(&ms.to_le_bytes()),
            Value::Regex(pattern, options) => {
                for s in [pattern, options] {
                    out.extend_from_slice(s.as_bytes());
                    out.push(0);
                }
            }
            Value::DbPointer(ns, id) => {
                string(out, ns);
                out.extend_from_slice(id);
            }
            Value::CodeWithScope(code, scope) => {
                let start = out.len();
                out.extend_from_slice(&[0; 4]);
                string(out, code);
                write_document(out, scope);
                let len = (out.len() - start) as i32;
                out[start..start + 4].copy_from_slice(&len.to_le_bytes());
            }
            Value::Int32(n) => out.extend_from_slice(&n.to_le_bytes()),
            Value::Timestamp(t, i) => {
                out.extend_from_slice(&i.to_le_bytes());
                out.extend_from_slice(&t.to_le_bytes());
            }
            Value::Decimal128(bytes) => out.extend_from_slice(bytes),
        }
    }
}

fn write_document(out: &mut Vec<u8>, fields: &[(String, Value)]) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    for (name, value) in fields {
        out.push(value.tag());
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        value.write(out);
    }
    out.push(0);
    let len = (out.len() - start) as i32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
}

fn encode(fields: &[(String, Value)]) -> Vec<u8> {
    let mut out = Vec::new();
    write_document(&mut out, fields);
    out
}

/// Strings with any character but NUL in names, and NUL allowed inside values.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{0,12}",
        "[^\u{0}]{0,10}",
        "[a-z\u{0}]{0,6}",
        Just("$oid".to_owned()),
        Just("507f1f77bcf86cd799439011".to_owned()),
    ]
}

/// A field name inside a subdocument: plain, `$`-prefixed, dotted, or any text.
fn inner_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,8}",
        "\\$[a-zA-Z]{1,10}",
        "[a-z]{1,4}\\.[a-z$]{1,4}",
        "[^\u{0}]{1,8}",
        Just("$oid".to_owned()),
        Just("$numberLong".to_owned()),
        Just("$date".to_owned()),
        Just("$binary".to_owned()),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u64>().prop_map(Value::Double),
        prop_oneof![Just(f64::NAN), Just(-0.0), Just(f64::INFINITY), Just(f64::NEG_INFINITY), any::<f64>()]
            .prop_map(|f| Value::Double(f.to_bits())),
        text().prop_map(Value::String),
        (
            prop_oneof![Just(0u8), Just(1), Just(2), Just(3), Just(4), Just(5), Just(6), Just(7), Just(0x80)],
            prop::collection::vec(any::<u8>(), 0..40)
        )
            .prop_map(|(subtype, bytes)| {
                // UUID subtypes are 16 bytes long in MongoDB's eyes.
                let bytes =
                    if matches!(subtype, 3 | 4) { bytes.into_iter().chain([0; 16]).take(16).collect() } else { bytes };
                Value::Binary(subtype, bytes)
            }),
        Just(Value::Undefined),
        any::<[u8; 12]>().prop_map(Value::ObjectId),
        any::<bool>().prop_map(Value::Boolean),
        any::<i64>().prop_map(Value::DateTime),
        Just(Value::Null),
        ("[^\u{0}]{0,8}", prop::sample::subsequence(vec!['i', 'l', 'm', 's', 'u', 'x'], 0..=3))
            .prop_map(|(p, o)| Value::Regex(p, o.into_iter().collect())),
        ("[a-z]{1,6}\\.[a-z]{1,6}", any::<[u8; 12]>()).prop_map(|(ns, id)| Value::DbPointer(ns, id)),
        text().prop_map(Value::Code),
        text().prop_map(Value::Symbol),
        any::<i32>().prop_map(Value::Int32),
        (any::<u32>(), any::<u32>()).prop_map(|(t, i)| Value::Timestamp(t, i)),
        any::<i64>().prop_map(Value::Int64),
        any::<[u8; 16]>().prop_map(Value::Decimal128),
        Just(Value::MinKey),
        Just(Value::MaxKey),
    ]
}

/// Fields with distinct names, as BSON documents a driver sends have.
fn distinct(fields: Vec<(String, Value)>) -> Vec<(String, Value)> {
    let mut seen = std::collections::HashSet::new();
    fields.into_iter().filter(|(name, _)| seen.insert(name.clone())).collect()
}

fn fields(value: impl Strategy<Value = Value> + 'static, max: usize) -> impl Strategy<Value = Vec<(String, Value)>> {
    prop::collection::vec((inner_name(), value), 0..max).prop_map(distinct)
}

/// A subdocument shaped like Extended JSON, legacy forms included.
fn extended_json_shape(value: impl Strategy<Value = Value> + Clone + 'static) -> impl Strategy<Value = Value> {
    fn s(v: &str) -> Value {
        Value::String(v.to_owned())
    }
    fn one(name: &str, v: Value) -> Value {
        Value::Document(vec![(name.to_owned(), v)])
    }
    prop_oneof![
        Just(one("$oid", s("507f1f77bcf86cd799439011"))),
        Just(one("$numberLong", s("12"))),
        Just(one("$numberInt", s("12"))),
        Just(one("$numberDouble", s("1.5"))),
        Just(one("$numberDecimal", s("1.5"))),
        Just(one("$date", one("$numberLong", s("0")))),
        Just(one("$date", s("2020-01-01T00:00:00Z"))),
        Just(one("$symbol", s("sym"))),
        Just(one("$code", s("function() {}"))),
        Just(Value::Document(vec![("$code".into(), s("x")), ("$scope".into(), Value::Document(vec![]))])),
        Just(one("$maxKey", Value::Int32(1))),
        Just(one("$minKey", Value::Int32(1))),
        Just(one("$timestamp", Value::Document(vec![("t".into(), Value::Int32(1)), ("i".into(), Value::Int32(2))]))),
        Just(one("$regularExpression", Value::Document(vec![("pattern".into(), s("a")), ("options".into(), s("i"))]))),
        Just(one("$binary", Value::Document(vec![("base64".into(), s("AA==")), ("subType".into(), s("00"))]))),
        Just(Value::Document(vec![("$binary".into(), s("AA==")), ("$type".into(), s("00"))])),
        Just(one("$uuid", s("00000000-0000-0000-0000-000000000000"))),
        Just(one(
            "$dbPointer",
            Value::Document(vec![("$ref".into(), s("c")), ("$id".into(), one("$oid", s("507f1f77bcf86cd799439011")))])
        )),
        Just(one("$undefined", Value::Boolean(true))),
        value.clone().prop_map(|v| Value::Document(vec![("$ref".into(), s("coll")), ("$id".into(), v)])),
        value.prop_map(|v| one("$date", v)),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(6, 96, 8, |inner| {
        prop_oneof![
            fields(inner.clone(), 8).prop_map(Value::Document),
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            extended_json_shape(inner.clone()),
            ("[a-z ]{0,12}", fields(inner, 4)).prop_map(|(code, scope)| Value::CodeWithScope(code, scope)),
        ]
    })
}

/// A leaf `depth` levels down, through documents and arrays.
fn deep() -> impl Strategy<Value = Value> {
    (1usize..90, prop::collection::vec(any::<bool>(), 90), scalar()).prop_map(|(depth, kinds, leaf)| {
        kinds[..depth].iter().fold(leaf, |inside, &array| {
            if array {
                Value::Array(vec![inside])
            } else {
                Value::Document(vec![("$d".into(), inside)])
            }
        })
    })
}

/// The fields of a top-level document after `_id`: plain names (MongoDB gives
/// top-level `$` and dotted names their own rules), with rich values, now and
/// then a large array or a deep nest.
fn top_level() -> impl Strategy<Value = Vec<(String, Value)>> {
    let field = prop_oneof![
        8 => value(),
        1 => deep(),
        1 => prop::collection::vec(scalar(), 0..2000).prop_map(Value::Array),
    ];
    prop::collection::vec(("[a-z][a-z0-9_]{0,8}", field), 0..6).prop_map(distinct)
}

/// `fields` with `_id` first, encoded.
fn with_id(id: i64, fields: &[(String, Value)]) -> Vec<u8> {
    let mut all = vec![("_id".to_owned(), Value::Int64(id))];
    all.extend(fields.iter().cloned());
    encode(&all)
}

/// `original` with one more Int32 field at its end, as `$set` of a new field adds it.
fn appended(original: &[u8], name: &str, value: i32) -> Vec<u8> {
    let mut out = original[..original.len() - 1].to_vec();
    out.push(0x10);
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    out.extend_from_slice(&value.to_le_bytes());
    out.push(0);
    let len = out.len() as i32;
    out[..4].copy_from_slice(&len.to_le_bytes());
    out
}

fn raw(bytes: &[u8]) -> RawDocumentBuf {
    RawDocumentBuf::from_bytes(bytes.to_vec()).expect("the test writes valid BSON")
}

const CASES: u32 = 20;
const DOCUMENTS_PER_CASE: usize = 500;

/// Checks one case against `server`, returning it (restarted).
async fn check_case(mut server: TestServer, case: u32, docs: &[Vec<(String, Value)>]) -> TestServer {
    let db = format!("exact{case}");
    let originals: Vec<Vec<u8>> = docs.iter().enumerate().map(|(i, f)| with_id(i as i64, f)).collect();
    let updated: Vec<Vec<u8>> = originals.iter().map(|o| appended(o, "__set", 7)).collect();
    {
        let client = server.client().await;
        let plain = client.database(&db).collection::<RawDocumentBuf>("plain");
        let changed = client.database(&db).collection::<RawDocumentBuf>("changed");
        for chunk in originals.chunks(100) {
            plain.insert_many(chunk.iter().map(|b| raw(b))).await.expect("insert");
            changed.insert_many(chunk.iter().map(|b| raw(b))).await.expect("insert");
        }
        for (i, original) in originals.iter().enumerate() {
            let found = plain.find_one(doc! {"_id": i as i64}).await.expect("find").expect("found");
            assert_eq!(found.as_bytes(), original.as_slice(), "insert → find of document {i}");
            let mut matched: Vec<RawDocumentBuf> = plain
                .aggregate(vec![doc! {"$match": {"_id": i as i64}}])
                .with_type::<RawDocumentBuf>()
                .await
                .expect("aggregate")
                .try_collect()
                .await
                .expect("aggregate results");
            assert_eq!(matched.len(), 1);
            assert_eq!(matched.remove(0).as_bytes(), original.as_slice(), "insert → $match of document {i}");
        }
        let result = changed.update_many(doc! {}, doc! {"$set": {"__set": 7}}).await.expect("update");
        assert_eq!(result.modified_count, originals.len() as u64);
        check_all(&plain, &originals, "insert → getMore batches").await;
        check_all(&changed, &updated, "insert → update → find").await;
    }
    server = server.restart().await;
    let client = server.client().await;
    check_all(&client.database(&db).collection("plain"), &originals, "insert → restart → find").await;
    check_all(&client.database(&db).collection("changed"), &updated, "update → restart → find").await;
    server
}

/// Reads the whole collection in `_id` order, in small batches (so through
/// `getMore`), and compares each document's bytes.
async fn check_all(coll: &mongodb::Collection<RawDocumentBuf>, expected: &[Vec<u8>], what: &str) {
    let found: Vec<RawDocumentBuf> =
        coll.find(doc! {}).sort(doc! {"_id": 1}).batch_size(7).await.expect("find").try_collect().await.expect("all");
    assert_eq!(found.len(), expected.len(), "{what}");
    for (i, (got, want)) in found.iter().zip(expected).enumerate() {
        assert_eq!(got.as_bytes(), want.as_slice(), "{what}: document {i}");
    }
}

#[test]
fn documents_come_back_byte_for_byte() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let server = std::cell::RefCell::new(Some(runtime.block_on(TestServer::start())));
    let case = std::cell::Cell::new(0);
    let mut runner =
        TestRunner::new(Config { cases: CASES, failure_persistence: None, max_shrink_iters: 200, ..Config::default() });
    let batch = prop::collection::vec(top_level(), DOCUMENTS_PER_CASE);
    let outcome = runner.run(&batch, |docs| {
        case.set(case.get() + 1);
        // A failed case panics with the server inside it: shrinking starts another.
        let running = server.take().unwrap_or_else(|| runtime.block_on(TestServer::start()));
        server.replace(Some(runtime.block_on(check_case(running, case.get(), &docs))));
        Ok(())
    });
    if let Some(server) = server.take() {
        runtime.block_on(server.stop());
    }
    outcome.expect("every document comes back byte for byte");
}

/// The documents of the issue, one by one: each stays the subdocument it is.
#[tokio::test]
async fn extended_json_look_alikes_are_stored_as_documents() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let coll = client.database("shapes").collection::<Document>("docs");
    let shapes = vec![
        doc! {"$oid": "507f1f77bcf86cd799439011"},
        doc! {"$numberLong": "5"},
        doc! {"$binary": "AA==", "$type": "00"},
        doc! {"$date": {"$numberLong": "0"}},
    ];
    for (i, shape) in shapes.into_iter().enumerate() {
        let sent = doc! {"_id": i as i32, "a": shape.clone()};
        let bytes = bson::to_vec(&sent).expect("encode");
        let raw_coll = client.database("shapes").collection::<RawDocumentBuf>("docs");
        raw_coll.insert_one(RawDocumentBuf::from_bytes(bytes.clone()).expect("raw")).await.expect("insert");
        let back = raw_coll.find_one(doc! {"_id": i as i32}).await.expect("find").expect("found");
        assert_eq!(back.as_bytes(), bytes.as_slice(), "{sent}");
        // A `$match` on the subdocument finds it as the subdocument it is.
        let n = coll.count_documents(doc! {"a": {"$eq": shape}}).await.expect("count");
        assert_eq!(n, 1, "{sent}");
    }
    server.stop().await;
}
