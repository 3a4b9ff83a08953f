use bson::{doc, Bson};

use super::*;

fn call(source: &str, args: &[Bson]) -> Result<Option<Bson>> {
    Scope::new().call(source, None, args)
}

#[test]
fn numbers_come_back_as_doubles_and_longs_as_longs() {
    assert_eq!(
        call("function (a, b) { return a + b; }", &[Bson::Int32(1), Bson::Int32(2)]).expect("succeeds"),
        Some(Bson::Double(3.0))
    );
    assert_eq!(
        call("function (a) { return a; }", &[Bson::Int64(1 << 40)]).expect("succeeds"),
        Some(Bson::Int64(1 << 40))
    );
    assert_eq!(call("function () { return NumberInt(7); }", &[]).expect("succeeds"), Some(Bson::Int32(7)));
    assert_eq!(call("function () {}", &[]).expect("succeeds"), None);
}

#[test]
fn documents_arrays_and_shell_types_round_trip() {
    let value = doc! {
        "s": "é", "n": Bson::Null, "a": [1, {"b": true}], "d": bson::DateTime::from_millis(86_400_000),
        "o": bson::oid::ObjectId::parse_str("64b7f8a2c3d4e5f601234567").expect("succeeds"),
        "t": Bson::Timestamp(bson::Timestamp { time: 5, increment: 6 }),
        "bin": Bson::Binary(bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![1, 2, 3] }),
        "r": Bson::RegularExpression(bson::Regex { pattern: "^a".into(), options: "ix".into() }),
        "dec": Bson::Decimal128("1.50".parse().expect("succeeds")),
        "min": Bson::MinKey, "max": Bson::MaxKey,
    };
    let back =
        call("function (v) { return v; }", &[Bson::Document(value.clone())]).expect("succeeds").expect("succeeds");
    let mut expected = value;
    expected.insert("a", Bson::Array(vec![Bson::Double(1.0), Bson::Document(doc! {"b": true})]));
    assert_eq!(back, Bson::Document(expected));
}

#[test]
fn shell_helpers_are_there() {
    let got = call(
        "function (o) { return [o.str, o.getTimestamp().getTime(), tojson([1, 'x']), Array.sum([1, 2, 3]), hex_md5('Anya')]; }",
        &[Bson::ObjectId(bson::oid::ObjectId::parse_str("000000010000000000000000").expect("succeeds"))],
    )
    .expect("succeeds");
    assert_eq!(
        got,
        Some(Bson::Array(vec![
            "000000010000000000000000".into(),
            Bson::Double(1000.0),
            "[ 1, \"x\" ]".into(),
            Bson::Double(6.0),
            "9b53e667f30cd329dca1ec9e6a83e994".into()
        ]))
    );
}

#[test]
fn predicates_read_this_and_obj_and_take_expressions() {
    let scope = Scope::new();
    let doc = doc! {"a": 2, "b": "x"};
    assert!(scope.test("this.a > 1", &doc).expect("succeeds"));
    assert!(!scope.test("obj.a > 5", &doc).expect("succeeds"));
    assert!(scope.test("function () { return this.b == 'x'; }", &doc).expect("succeeds"));
    assert!(scope.test("var n = this.a * 2; n == 4", &doc).expect("succeeds"));
    assert!(scope.test("return this.a == 2;", &doc).expect("succeeds"));
    assert!(scope.test("(d) => obj.b == 'x'", &doc).expect("succeeds"));
    assert!(!scope.test("''", &doc).expect("succeeds"));
}

#[test]
fn exceptions_and_syntax_errors_are_interpreter_failures() {
    let code = |source: &str| call(source, &[]).expect_err("fails").code();
    assert_eq!(code("function () { throw new Error('boom'); }"), ErrorCode::JSInterpreterFailure);
    assert!(call("function () { throw new Error('boom'); }", &[])
        .expect_err("fails")
        .message()
        .contains("Error: boom"));
    assert_eq!(code("function ( {"), ErrorCode::JSInterpreterFailure);
    assert_eq!(code("function () { throw 'plain'; }"), ErrorCode::UnknownError);
    assert_eq!(call("function () { throw 'plain'; }", &[]).expect_err("fails").message(), "uncaught exception: plain");
    assert_eq!(code("function () { return Symbol(); }"), ErrorCode::Location16662);
    assert_eq!(code("function () { var a = {}; a.a = a; return a; }"), ErrorCode::Location17279);
    assert_eq!(code("this.a +"), ErrorCode::JSInterpreterFailure);
    assert_eq!(
        call("function () { return typeof this + Object.keys(this).length; }", &[]).expect("succeeds"),
        Some("object0".into())
    );
    assert_eq!(code("function f() { return f(); }"), ErrorCode::JSInterpreterFailure);
}

#[test]
fn a_function_may_not_take_more_than_the_heap_limit() {
    let error =
        call("function () { var a = []; while (true) a.push('x'.repeat(1000) + a.length); }", &[]).expect_err("fails");
    assert_eq!(error.code(), ErrorCode::JSInterpreterFailure);
    assert_eq!(error.message(), "Out of memory");
}

#[test]
fn scopes_do_not_share_globals() {
    let first = Scope::new();
    first.call("function () { globalThis.leak = 1; }", None, &[]).expect("succeeds");
    assert_eq!(first.call("function () { return typeof leak; }", None, &[]).expect("succeeds"), Some("number".into()));
    assert_eq!(call("function () { return typeof leak; }", &[]).expect("succeeds"), Some("undefined".into()));
    assert_eq!(
        call("function () { return typeof require + typeof process + typeof db; }", &[]).expect("succeeds"),
        Some("undefinedundefinedundefined".into())
    );
}

#[test]
fn a_call_past_its_time_limit_is_interrupted() {
    let scope = Scope::with_time_limit(Duration::from_millis(50));
    let error = scope.call("function () { while (true) {} }", None, &[]).expect_err("fails");
    assert_eq!((error.code(), error.message().as_str()), (ErrorCode::Interrupted, "JavaScript execution interrupted"));
    let error =
        scope.call("function () { try { while (true) {} } catch (e) { return 1; } }", None, &[]).expect_err("fails");
    assert_eq!(error.code(), ErrorCode::Interrupted);
    assert_eq!(scope.call("function () { return 2; }", None, &[]).expect("succeeds"), Some(Bson::Double(2.0)));
}
