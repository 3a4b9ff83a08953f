//! SCRAM (RFC 5802, and RFC 7677 for SHA-256) as MongoDB speaks it: the server's
//! side of a conversation, and the credentials it stores for a password.
//!
//! The client sends `n,,n=<user>,r=<client nonce>`; the server answers
//! `r=<client nonce><server nonce>,s=<salt>,i=<iterations>`; the client proves it
//! knows the password with `c=biws,r=<nonce>,p=<proof>`, and the server proves it
//! holds the credential with `v=<signature>`. MongoDB hashes SCRAM-SHA-1 passwords
//! first (the hex MD5 of `user:mongo:password`) and SASLprep's SCRAM-SHA-256 ones.
//!
//! The primitives come from maintained crates (`sha1`, `sha2`, `hmac`, `pbkdf2`,
//! `md-5`, `stringprep`, `subtle` for the constant-time comparison); this module
//! only puts them together and parses the messages. Nothing here logs: the caller
//! logs who failed, never what was sent.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bson::{doc, Document};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Sha1,
    Sha256,
}

impl Mechanism {
    pub const ALL: [Mechanism; 2] = [Mechanism::Sha1, Mechanism::Sha256];

    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Sha1 => "SCRAM-SHA-1",
            Mechanism::Sha256 => "SCRAM-SHA-256",
        }
    }

    pub fn parse(name: &str) -> Option<Mechanism> {
        Mechanism::ALL.into_iter().find(|m| m.name() == name)
    }

    /// MongoDB's iteration counts: 10,000 for SHA-1, 15,000 for SHA-256.
    fn iterations(self) -> u32 {
        match self {
            Mechanism::Sha1 => 10_000,
            Mechanism::Sha256 => 15_000,
        }
    }

    /// MongoDB's salt lengths: the hash's length less 4 bytes.
    fn salt_len(self) -> usize {
        match self {
            Mechanism::Sha1 => 16,
            Mechanism::Sha256 => 28,
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Mechanism::Sha1 => Sha1::digest(data).to_vec(),
            Mechanism::Sha256 => Sha256::digest(data).to_vec(),
        }
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            Mechanism::Sha1 => {
                let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            Mechanism::Sha256 => {
                let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
        }
    }

    /// `Hi()`: PBKDF2 with this mechanism's HMAC.
    fn salted_password(self, password: &str, salt: &[u8], iterations: u32) -> Vec<u8> {
        let mut out = vec![0u8; self.hash(b"").len()];
        let derived = match self {
            Mechanism::Sha1 => pbkdf2::pbkdf2::<Hmac<Sha1>>(password.as_bytes(), salt, iterations, &mut out),
            Mechanism::Sha256 => pbkdf2::pbkdf2::<Hmac<Sha256>>(password.as_bytes(), salt, iterations, &mut out),
        };
        derived.expect("the output is the hash's length");
        out
    }

    /// The password as this mechanism hashes it.
    fn prepare(self, user: &str, password: &str) -> Result<String, Failure> {
        match self {
            Mechanism::Sha1 => {
                let digest = md5::Md5::digest(format!("{user}:mongo:{password}").as_bytes());
                Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
            }
            Mechanism::Sha256 => stringprep::saslprep(password)
                .map(|p| p.into_owned())
                .map_err(|_| Failure::Malformed("the password is not valid under SASLprep")),
        }
    }
}

/// Why a conversation failed. Only the kind is reported, never the messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A message is not what SCRAM says it must be.
    Malformed(&'static str),
    /// The proof does not match the stored credential (a wrong password).
    Proof,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Malformed(why) => write!(f, "malformed SCRAM message: {why}"),
            Failure::Proof => write!(f, "the proof does not match the stored credential"),
        }
    }
}

/// What the server stores of a password for one mechanism, in MongoDB's shape
/// (`credentials["SCRAM-SHA-256"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub iteration_count: u32,
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

impl Credential {
    /// A new credential for `user`'s `password`, with a random salt.
    pub fn new(mechanism: Mechanism, user: &str, password: &str) -> Result<Credential, Failure> {
        let salt: Vec<u8> = (0..mechanism.salt_len()).map(|_| rand::random::<u8>()).collect();
        Credential::derive(mechanism, user, password, salt, mechanism.iterations())
    }

    fn derive(
        mechanism: Mechanism,
        user: &str,
        password: &str,
        salt: Vec<u8>,
        iteration_count: u32,
    ) -> Result<Credential, Failure> {
        let salted = mechanism.salted_password(&mechanism.prepare(user, password)?, &salt, iteration_count);
        let client_key = mechanism.hmac(&salted, b"Client Key");
        Ok(Credential {
            iteration_count,
            salt,
            stored_key: mechanism.hash(&client_key),
            server_key: mechanism.hmac(&salted, b"Server Key"),
        })
    }

    pub fn to_document(&self) -> Document {
        doc! {
            "iterationCount": i32::try_from(self.iteration_count).unwrap_or(i32::MAX),
            "salt": BASE64.encode(&self.salt),
            "storedKey": BASE64.encode(&self.stored_key),
            "serverKey": BASE64.encode(&self.server_key),
        }
    }

    pub fn from_document(doc: &Document) -> Option<Credential> {
        let bytes = |field: &str| doc.get_str(field).ok().and_then(|s| BASE64.decode(s).ok());
        Some(Credential {
            iteration_count: u32::try_from(doc.get_i32("iterationCount").ok()?).ok()?,
            salt: bytes("salt")?,
            stored_key: bytes("storedKey")?,
            server_key: bytes("serverKey")?,
        })
    }
}

/// The client's first message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFirst {
    /// The user name, unescaped.
    pub user: String,
    pub nonce: String,
    /// The GS2 header (`n,,`), which the final message repeats in `c=`.
    gs2_header: String,
    /// The message without the header, which the proof signs.
    bare: String,
}

/// Parses `n,,n=<user>,r=<nonce>` (or `y,,`: the client could bind the channel
/// but thinks the server cannot).
pub fn parse_client_first(payload: &[u8]) -> Result<ClientFirst, Failure> {
    let text = std::str::from_utf8(payload).map_err(|_| Failure::Malformed("the message is not UTF-8"))?;
    let mut parts = text.splitn(3, ',');
    let flag = parts.next().unwrap_or_default();
    let authzid = parts.next().ok_or(Failure::Malformed("no GS2 header"))?;
    let bare = parts.next().ok_or(Failure::Malformed("no GS2 header"))?;
    match flag {
        "n" | "y" => {}
        _ if flag.starts_with("p=") => return Err(Failure::Malformed("channel binding is not supported")),
        _ => return Err(Failure::Malformed("the GS2 header's first field is not n, y or p=")),
    }
    if !authzid.is_empty() {
        return Err(Failure::Malformed("an authorization identity is not supported"));
    }
    let mut attributes = bare.split(',');
    let user = attributes
        .next()
        .and_then(|a| a.strip_prefix("n="))
        .ok_or(Failure::Malformed("the first attribute is not n="))?;
    let nonce = attributes
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .ok_or(Failure::Malformed("the second attribute is not r="))?;
    if nonce.is_empty() || !nonce.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',') {
        return Err(Failure::Malformed("the nonce is not printable"));
    }
    if attributes.any(|a| a.starts_with("m=")) {
        return Err(Failure::Malformed("mandatory extensions are not supported"));
    }
    Ok(ClientFirst {
        user: unescape(user)?,
        nonce: nonce.to_owned(),
        gs2_header: format!("{flag},{authzid},"),
        bare: bare.to_owned(),
    })
}

/// A user name as SCRAM escapes it: `=2C` for `,` and `=3D` for `=`.
fn unescape(name: &str) -> Result<String, Failure> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find('=') {
        out.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 3).ok_or(Failure::Malformed("a user name escape is cut short"))?;
        out.push(match code {
            "2C" => ',',
            "3D" => '=',
            _ => return Err(Failure::Malformed("a user name has an unknown escape")),
        });
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    if out.is_empty() {
        return Err(Failure::Malformed("the user name is empty"));
    }
    Ok(out)
}

/// The client's final message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFinal {
    /// `c=`: the base64 of the GS2 header.
    pub channel_binding: String,
    pub nonce: String,
    pub proof: Vec<u8>,
    /// The message up to the proof, which the proof signs.
    without_proof: String,
}

/// Parses `c=<binding>,r=<nonce>[,<extensions>],p=<proof>`.
pub fn parse_client_final(payload: &[u8]) -> Result<ClientFinal, Failure> {
    let text = std::str::from_utf8(payload).map_err(|_| Failure::Malformed("the message is not UTF-8"))?;
    let (without_proof, proof) = text.rsplit_once(",p=").ok_or(Failure::Malformed("no proof"))?;
    let mut attributes = without_proof.split(',');
    let channel_binding = attributes
        .next()
        .and_then(|a| a.strip_prefix("c="))
        .ok_or(Failure::Malformed("the first attribute is not c="))?;
    let nonce = attributes
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .ok_or(Failure::Malformed("the second attribute is not r="))?;
    let proof = BASE64.decode(proof).map_err(|_| Failure::Malformed("the proof is not base64"))?;
    Ok(ClientFinal {
        channel_binding: channel_binding.to_owned(),
        nonce: nonce.to_owned(),
        proof,
        without_proof: without_proof.to_owned(),
    })
}

/// A conversation the server has answered once, waiting for the client's proof.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub mechanism: Mechanism,
    pub user: String,
    first: ClientFirst,
    server_first: String,
    credential: Credential,
}

impl Conversation {
    /// Answers the client's first message for a user who has `credential`: the
    /// server's first message, and the conversation to finish.
    pub fn start(mechanism: Mechanism, first: ClientFirst, credential: Credential) -> (Conversation, Vec<u8>) {
        let server_nonce: [u8; 24] = rand::random();
        let nonce = format!("{}{}", first.nonce, BASE64.encode(server_nonce));
        let server_first = format!("r={nonce},s={},i={}", BASE64.encode(&credential.salt), credential.iteration_count);
        let reply = server_first.clone().into_bytes();
        (Conversation { mechanism, user: first.user.clone(), first, server_first, credential }, reply)
    }

    /// Checks the client's proof: the server's final message (`v=<signature>`)
    /// when it holds.
    pub fn finish(&self, payload: &[u8]) -> Result<Vec<u8>, Failure> {
        let last = parse_client_final(payload)?;
        if last.channel_binding != BASE64.encode(&self.first.gs2_header) {
            return Err(Failure::Malformed("the channel binding is not the first message's GS2 header"));
        }
        let expected_nonce = self.server_first.strip_prefix("r=").and_then(|s| s.split(',').next());
        if Some(last.nonce.as_str()) != expected_nonce {
            return Err(Failure::Malformed("the nonce is not the one the server sent"));
        }
        let auth_message = format!("{},{},{}", self.first.bare, self.server_first, last.without_proof);
        let m = self.mechanism;
        let signature = m.hmac(&self.credential.stored_key, auth_message.as_bytes());
        if last.proof.len() != signature.len() {
            return Err(Failure::Proof);
        }
        let client_key: Vec<u8> = last.proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
        if !bool::from(m.hash(&client_key).ct_eq(&self.credential.stored_key)) {
            return Err(Failure::Proof);
        }
        let server_signature = m.hmac(&self.credential.server_key, auth_message.as_bytes());
        Ok(format!("v={}", BASE64.encode(server_signature)).into_bytes())
    }
}

/// The client's side of a conversation, for branchdb's own tools (the load tool's
/// logins) and tests.
pub struct Client {
    mechanism: Mechanism,
    user: String,
    password: String,
    first_bare: String,
    /// The server's signature the client expects, once it has sent its proof.
    expected: Option<Vec<u8>>,
    /// The salted password of the last salt and iteration count, which clients may
    /// keep (as drivers do) so that a new login skips the key derivation.
    salted: Option<(Vec<u8>, u32, Vec<u8>)>,
}

impl Client {
    /// The client's first message, and the conversation.
    pub fn start(mechanism: Mechanism, user: &str, password: &str) -> (Client, Vec<u8>) {
        let mut client = Client {
            mechanism,
            user: user.to_owned(),
            password: password.to_owned(),
            first_bare: String::new(),
            expected: None,
            salted: None,
        };
        let first = client.again();
        (client, first)
    }

    /// Starts a new conversation (a new nonce), keeping the salted password.
    pub fn again(&mut self) -> Vec<u8> {
        let nonce = BASE64.encode(rand::random::<[u8; 24]>());
        let escaped = self.user.replace('=', "=3D").replace(',', "=2C");
        self.first_bare = format!("n={escaped},r={nonce}");
        self.expected = None;
        format!("n,,{}", self.first_bare).into_bytes()
    }

    /// The final message answering the server's first.
    pub fn finish(&mut self, server_first: &[u8]) -> Result<Vec<u8>, Failure> {
        let server_first = std::str::from_utf8(server_first).map_err(|_| Failure::Malformed("not UTF-8"))?;
        let mut fields = server_first.split(',');
        let mut field = |name: &str| fields.next().and_then(|f| f.strip_prefix(name)).map(str::to_owned);
        let malformed = Failure::Malformed("the server's first message is not r=,s=,i=");
        let nonce = field("r=").ok_or(malformed.clone())?;
        let salt = field("s=").and_then(|s| BASE64.decode(s).ok()).ok_or(malformed.clone())?;
        let iterations: u32 = field("i=").and_then(|i| i.parse().ok()).filter(|&i| i > 0).ok_or(malformed)?;
        let m = self.mechanism;
        let salted = match &self.salted {
            Some((s, i, salted)) if *s == salt && *i == iterations => salted.clone(),
            _ => m.salted_password(&m.prepare(&self.user, &self.password)?, &salt, iterations),
        };
        self.salted = Some((salt, iterations, salted.clone()));
        let client_key = m.hmac(&salted, b"Client Key");
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.first_bare);
        let signature = m.hmac(&m.hash(&client_key), auth_message.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(&signature).map(|(k, s)| k ^ s).collect();
        self.expected = Some(m.hmac(&m.hmac(&salted, b"Server Key"), auth_message.as_bytes()));
        Ok(format!("{without_proof},p={}", BASE64.encode(proof)).into_bytes())
    }

    /// Whether the server's final message proves it holds the credential.
    pub fn verify(&self, server_final: &[u8]) -> bool {
        let signature = server_final.strip_prefix(b"v=").and_then(|v| BASE64.decode(v).ok());
        signature.is_some() && signature == self.expected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The client's final message, through [`Client`].
    fn client_final(m: Mechanism, user: &str, password: &str, first_bare: &str, server_first: &str) -> String {
        let mut client = Client {
            mechanism: m,
            user: user.into(),
            password: password.into(),
            first_bare: first_bare.into(),
            expected: None,
            salted: None,
        };
        String::from_utf8(client.finish(server_first.as_bytes()).expect("final")).expect("utf-8")
    }

    #[test]
    fn a_right_password_is_accepted_and_a_wrong_one_refused_for_both_mechanisms() {
        for m in Mechanism::ALL {
            let credential = Credential::new(m, "alice", "secret").expect("credential");
            assert_eq!(credential.iteration_count, m.iterations());
            assert_eq!(Credential::from_document(&credential.to_document()), Some(credential.clone()));
            for (password, ok) in [("secret", true), ("wrong", false)] {
                let first = parse_client_first(b"n,,n=alice,r=fyko+d2lbbFgONRv9qkxdawL").expect("first");
                let (conversation, server_first) = Conversation::start(m, first, credential.clone());
                let server_first = String::from_utf8(server_first).expect("utf-8");
                let last = client_final(m, "alice", password, "n=alice,r=fyko+d2lbbFgONRv9qkxdawL", &server_first);
                match conversation.finish(last.as_bytes()) {
                    Ok(v) => assert!(ok && v.starts_with(b"v="), "{}", m.name()),
                    Err(e) => assert!(!ok && e == Failure::Proof, "{}: {e}", m.name()),
                }
            }
        }
    }

    #[test]
    fn the_client_and_the_server_prove_themselves_to_each_other() {
        let credential = Credential::new(Mechanism::Sha256, "a,b=c", "pässword").expect("credential");
        let (mut client, first) = Client::start(Mechanism::Sha256, "a,b=c", "pässword");
        let first = parse_client_first(&first).expect("first");
        assert_eq!(first.user, "a,b=c");
        let (conversation, server_first) = Conversation::start(Mechanism::Sha256, first, credential);
        let last = client.finish(&server_first).expect("final");
        let server_final = conversation.finish(&last).expect("proof");
        assert!(client.verify(&server_final));
        assert!(!client.verify(b"v=AAAA"));
    }

    #[test]
    fn rfc_7677s_example_derives_its_keys() {
        // RFC 7677 §3: user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations.
        let salt = BASE64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").expect("salt");
        let credential = Credential::derive(Mechanism::Sha256, "user", "pencil", salt, 4096).expect("derive");
        let first = parse_client_first(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO").expect("first");
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let conversation = Conversation {
            mechanism: Mechanism::Sha256,
            user: "user".into(),
            first,
            server_first: server_first.into(),
            credential,
        };
        let last = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        assert_eq!(
            conversation.finish(last).expect("proof"),
            b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".to_vec()
        );
    }

    #[test]
    fn malformed_messages_are_refused() {
        for bad in [
            &b""[..],
            b"n,,",
            b"x,,n=a,r=b",
            b"p=tls-unique,,n=a,r=b",
            b"n,a=admin,n=a,r=b",
            b"n,,r=b,n=a",
            b"n,,n=a",
            b"n,,n=a=,r=b",
            b"n,,n=a=41,r=b",
            b"n,,n=,r=b",
            b"n,,n=a,r=b c",
            b"n,,n=a,r=b,m=ext",
            b"\xff,,n=a,r=b",
        ] {
            assert!(parse_client_first(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse_client_first(b"n,,n=a=2Cb=3Dc,r=xyz").map(|f| f.user), Ok("a,b=c".into()));
        for bad in [&b""[..], b"c=biws,r=x", b"r=x,c=biws,p=AAAA", b"c=biws,r=x,p=!!!"] {
            assert!(parse_client_final(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
