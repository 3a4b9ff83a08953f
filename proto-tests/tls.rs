//! TLS through the Rust driver, with a CA and certificates the test makes with
//! `openssl`: `requireTLS` closes a plain connection and serves a TLS one;
//! MONGODB-X509 logs in the user named by the client certificate's subject;
//! `allowTLS` serves both.

use std::path::Path;
use std::process::Command;

use branchdb::config::TlsMode;
use bson::doc;

use crate::common::TestServer;

/// Makes a CA, a server certificate for 127.0.0.1 and a client certificate in `dir`.
fn make_certificates(dir: &Path) {
    let run = |args: &[&str]| {
        let status = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
        assert!(status.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&status.stderr));
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=branchdb test CA",
    ]);
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").expect("ext");
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").expect("ext");
    for (name, subject) in [("server", "/CN=localhost"), ("client", "/C=US/O=shop/OU=eng/CN=client")] {
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            subject,
        ]);
        run(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
        ]);
    }
    let both =
        [std::fs::read(dir.join("client.pem")).expect("pem"), std::fs::read(dir.join("client.key")).expect("key")]
            .concat();
    std::fs::write(dir.join("client-both.pem"), both).expect("client pem");
}

#[tokio::test]
async fn tls_modes_and_x509_logins() {
    let certs = tempfile::tempdir().expect("tempdir");
    make_certificates(certs.path());
    let file = |name: &str| certs.path().join(name);
    let server = TestServer::start_with(|s| {
        s.auth = true;
        s.tls_mode = TlsMode::Require;
        s.tls_cert_file = Some(file("server.pem"));
        s.tls_key_file = Some(file("server.key"));
        s.tls_ca_file = Some(file("ca.pem"));
    })
    .await;

    // A plain client is closed before its first reply.
    let mut raw = server.raw().await;
    let frame = raw.op_msg(0, &doc! {"ping": 1, "$db": "admin"});
    raw.send(&frame).await;
    raw.expect_closed().await;

    let tls = format!(
        "tls=true&tlsCAFile={}&tlsCertificateKeyFile={}",
        file("ca.pem").display(),
        file("client-both.pem").display()
    );
    let client = |extra: &str| {
        let uri = format!("{}&{tls}{extra}", server.uri());
        async move { mongodb::Client::with_uri_str(uri).await.expect("client") }
    };
    // The localhost exception, over TLS: the certificate's user in $external.
    let anonymous = client("").await;
    let subject = "CN=client,OU=eng,O=shop,C=US";
    anonymous
        .database("$external")
        .run_command(doc! {"createUser": subject, "roles": [{"role": "readWrite", "db": "shop"}]})
        .await
        .expect("an X.509 user");

    let x509 = client("&authMechanism=MONGODB-X509").await;
    x509.database("shop").collection("items").insert_one(doc! {"_id": 1}).await.expect("the X.509 user writes");
    let status = x509.database("admin").run_command(doc! {"connectionStatus": 1}).await.expect("status");
    let users = status.get_document("authInfo").and_then(|a| a.get_array("authenticatedUsers")).expect("users");
    assert_eq!(users, &vec![bson::Bson::Document(doc! {"user": subject, "db": "$external"})]);
    let info = x509.database("$external").run_command(doc! {"usersInfo": subject, "showPrivileges": true}).await;
    let privileges = info.expect("usersInfo").get_array("users").expect("users")[0]
        .as_document()
        .and_then(|u| u.get_array("inheritedPrivileges").ok().cloned())
        .expect("privileges");
    assert!(!privileges.is_empty());
    // With a CA file, a TLS client must present a certificate.
    let uri = format!(
        "mongodb://{}/?directConnection=true&serverSelectionTimeoutMS=1000&tls=true&tlsCAFile={}",
        server.addr,
        file("ca.pem").display()
    );
    let anonymous = mongodb::Client::with_uri_str(uri).await.expect("client");
    assert!(anonymous.database("admin").run_command(doc! {"ping": 1}).await.is_err(), "no certificate, no service");
    server.stop().await;

    // allowTLS serves plain and TLS connections alike.
    let server = TestServer::start_with(|s| {
        s.tls_mode = TlsMode::Allow;
        s.tls_cert_file = Some(file("server.pem"));
        s.tls_key_file = Some(file("server.key"));
    })
    .await;
    server.client().await.database("admin").run_command(doc! {"ping": 1}).await.expect("plain");
    let uri = format!("{}&tls=true&tlsCAFile={}", server.uri(), file("ca.pem").display());
    let secure = mongodb::Client::with_uri_str(uri).await.expect("client");
    secure.database("admin").run_command(doc! {"ping": 1}).await.expect("TLS");
    server.stop().await;
}

#[tokio::test]
async fn rotate_certificates_serves_new_connections_with_the_new_files() {
    let first = tempfile::tempdir().expect("tempdir");
    make_certificates(first.path());
    let second = tempfile::tempdir().expect("tempdir");
    make_certificates(second.path());
    let live = tempfile::tempdir().expect("tempdir");
    let install = |from: &Path| {
        for name in ["server.pem", "server.key"] {
            std::fs::copy(from.join(name), live.path().join(name)).expect("copy");
        }
    };
    install(first.path());
    let server = TestServer::start_with(|s| {
        s.tls_mode = TlsMode::Require;
        s.tls_cert_file = Some(live.path().join("server.pem"));
        s.tls_key_file = Some(live.path().join("server.key"));
    })
    .await;
    let client = |ca: &Path| {
        let uri = format!(
            "mongodb://{}/?directConnection=true&serverSelectionTimeoutMS=2000&tls=true&tlsCAFile={}",
            server.addr,
            ca.join("ca.pem").display()
        );
        async move { mongodb::Client::with_uri_str(uri).await.expect("client") }
    };
    let old = client(first.path()).await;
    old.database("admin").run_command(doc! {"ping": 1}).await.expect("the first CA's certificate");

    install(second.path());
    let rotate = doc! {"rotateCertificates": 1, "message": "yearly rotation"};
    old.database("admin").run_command(rotate.clone()).await.expect("rotated");
    let new = client(second.path()).await;
    new.database("admin").run_command(doc! {"ping": 1}).await.expect("a new connection gets the new certificate");
    let stale = client(first.path()).await;
    assert!(stale.database("admin").run_command(doc! {"ping": 1}).await.is_err(), "the old CA no longer verifies");

    // A broken file leaves the certificate in use as it is.
    std::fs::write(live.path().join("server.key"), "not a key").expect("break");
    let failed = new.database("admin").run_command(rotate).await.expect_err("cannot rotate");
    assert!(matches!(*failed.kind, mongodb::error::ErrorKind::Command(ref c) if c.code == 140), "{failed}");
    let again = client(second.path()).await;
    again.database("admin").run_command(doc! {"ping": 1}).await.expect("still the second certificate");
    server.stop().await;
}
