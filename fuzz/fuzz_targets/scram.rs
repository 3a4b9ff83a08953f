//! Any bytes as a SCRAM client message: the first and final message parsers, and a
//! conversation's check of a final message, return a value or an error, never a
//! panic; and no input but the right proof is accepted.
#![no_main]

use std::sync::OnceLock;

use branchdb::auth::scram::{parse_client_final, parse_client_first, Conversation, Credential, Mechanism};
use libfuzzer_sys::fuzz_target;

fn credentials() -> &'static [(Mechanism, Credential)] {
    static CREDENTIALS: OnceLock<Vec<(Mechanism, Credential)>> = OnceLock::new();
    CREDENTIALS.get_or_init(|| {
        Mechanism::ALL.iter().map(|&m| (m, Credential::new(m, "user", "pencil").expect("credential"))).collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = parse_client_first(data);
    let _ = parse_client_final(data);
    for (mechanism, credential) in credentials() {
        let first = parse_client_first(b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL").expect("a valid first message");
        let (conversation, _) = Conversation::start(*mechanism, first, credential.clone());
        // The server's nonce is random: no fuzzed input can carry it.
        assert!(conversation.finish(data).is_err());
    }
});
