//! TLS, with rustls (its `ring` provider, as the MongoDB driver uses): the server's
//! certificate and key, optional client certificates checked against a CA file
//! (their subject is what MONGODB-X509 authenticates), and the mode of SPEC §8:
//! `disabled`, `allowTLS` and `preferTLS` (TLS or plain, told apart by the first
//! byte: a TLS handshake record starts with 22, a MongoDB message cannot in
//! practice, as its length would be over 369 MB), `requireTLS` (a plain connection
//! is closed).

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::config::{Settings, TlsMode};
use crate::error::{Error, Result};

/// The first byte of a TLS handshake record.
const HANDSHAKE: u8 = 22;

/// How long a client has to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's TLS: its mode and, unless disabled, its acceptor, which
/// `rotateCertificates` replaces for the connections that follow.
#[derive(Clone)]
pub struct Tls {
    mode: TlsMode,
    acceptor: Arc<RwLock<Option<TlsAcceptor>>>,
}

/// A connection as accepted.
pub enum Accepted {
    Plain(TcpStream),
    /// A TLS connection, with the subject of the client's certificate if it sent one.
    Tls(Box<TlsStream<TcpStream>>, Option<String>),
}

impl Tls {
    /// Reads the certificate, key and CA files the settings name.
    pub fn load(settings: &Settings) -> Result<Tls> {
        let acceptor = match settings.tls_mode {
            TlsMode::Disabled => None,
            _ => Some(acceptor(settings)?),
        };
        Ok(Tls { mode: settings.tls_mode, acceptor: Arc::new(RwLock::new(acceptor)) })
    }

    /// No TLS.
    pub fn disabled() -> Tls {
        Tls { mode: TlsMode::Disabled, acceptor: Arc::default() }
    }

    /// Reads the certificate, key and CA files again: connections accepted from
    /// now on use them, open ones keep theirs. On an error nothing changes. Without
    /// TLS there is nothing to read.
    pub fn rotate(&self, settings: &Settings) -> Result<()> {
        if self.mode == TlsMode::Disabled {
            return Ok(());
        }
        let fresh = acceptor(settings)?;
        *self.acceptor.write().unwrap_or_else(|p| p.into_inner()) = Some(fresh);
        Ok(())
    }

    /// Accepts `stream` as the mode says: a TLS handshake, or a plain connection.
    pub async fn accept(&self, stream: TcpStream) -> std::io::Result<Accepted> {
        let acceptor = self.acceptor.read().unwrap_or_else(|p| p.into_inner()).clone();
        let Some(acceptor) = acceptor else { return Ok(Accepted::Plain(stream)) };
        let mut first = [0u8; 1];
        let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await {
            Ok(Ok(0)) | Err(_) => return Err(std::io::Error::other("the client sent nothing")),
            Ok(Ok(_)) => first[0] == HANDSHAKE,
            Ok(Err(e)) => return Err(e),
        };
        match (tls, self.mode) {
            (false, TlsMode::Require) => {
                Err(std::io::Error::other("a plain connection, and TLS is required (--tls-mode requireTLS)"))
            }
            (false, _) => Ok(Accepted::Plain(stream)),
            (true, _) => {
                let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                    .await
                    .map_err(|_| std::io::Error::other("the TLS handshake took too long"))??;
                let subject = stream.get_ref().1.peer_certificates().and_then(|c| c.first()).and_then(subject);
                Ok(Accepted::Tls(Box::new(stream), subject))
            }
        }
    }
}

/// The acceptor of the certificate, key and CA files the settings name.
fn acceptor(settings: &Settings) -> Result<TlsAcceptor> {
    let config = |what: String| Error::Config(what);
    let cert_file = settings
        .tls_cert_file
        .as_deref()
        .ok_or_else(|| config("a TLS mode other than disabled needs --tls-cert-file".into()))?;
    let certs = CertificateDer::pem_file_iter(cert_file)
        .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| config(format!("cannot read certificates from {}: {e}", cert_file.display())))?;
    if certs.is_empty() {
        return Err(config(format!("{} holds no certificate", cert_file.display())));
    }
    let key_file = settings.tls_key_file.as_deref().unwrap_or(cert_file);
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| config(format!("cannot read a private key from {}: {e}", key_file.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| config(format!("TLS: {e}")))?;
    let builder = match &settings.tls_ca_file {
        None => builder.with_no_client_auth(),
        Some(ca_file) => {
            let roots = Arc::new(roots(ca_file)?);
            // As MongoDB: a client must present a certificate the CA signed, unless
            // told that clients without one may log in another way.
            let mut verifier = WebPkiClientVerifier::builder_with_provider(roots, provider);
            if settings.tls_allow_connections_without_certificates {
                verifier = verifier.allow_unauthenticated();
            }
            let verifier =
                verifier.build().map_err(|e| config(format!("TLS: the CA file {}: {e}", ca_file.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let server = builder
        .with_single_cert(certs, key)
        .map_err(|e| config(format!("TLS: the certificate and key do not go together: {e}")))?;
    Ok(TlsAcceptor::from(Arc::new(server)))
}

fn roots(ca_file: &Path) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca_file)
        .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| Error::Config(format!("cannot read the CA file {}: {e}", ca_file.display())))?;
    for cert in certs {
        roots.add(cert).map_err(|e| Error::Config(format!("the CA file {}: {e}", ca_file.display())))?;
    }
    Ok(roots)
}

/// A certificate's subject as MongoDB names an X.509 user: RFC 2253, most
/// specific first (`CN=client,OU=eng,O=shop,C=US`).
fn subject(cert: &CertificateDer<'_>) -> Option<String> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, parsed) = X509Certificate::from_der(cert.as_ref()).ok()?;
    let registry = x509_parser::objects::oid_registry();
    let rdns: Option<Vec<String>> = parsed
        .subject()
        .iter_rdn()
        .map(|rdn| {
            let parts: Option<Vec<String>> = rdn
                .iter()
                .map(|atv| {
                    let name = x509_parser::objects::oid2abbrev(atv.attr_type(), registry)
                        .map(str::to_owned)
                        .unwrap_or_else(|_| atv.attr_type().to_id_string());
                    Some(format!("{name}={}", escape(atv.as_str().ok()?)))
                })
                .collect();
            parts.map(|p| p.join("+"))
        })
        .collect();
    let mut rdns = rdns?;
    rdns.reverse();
    Some(rdns.join(","))
}

/// An attribute value escaped as RFC 2253 says.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        let edge = (i == 0 && (c == ' ' || c == '#')) || (i + 1 == value.chars().count() && c == ' ');
        if edge || matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
