//! Any bytes given to the message decoder produce a message or an error, never a
//! panic; a decoded message's command survives being encoded as a reply.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The frame-length check a connection applies before reading a body.
    let _ = branchdb::wire::frame_length(data);
    if let Ok((header, branchdb::wire::Message::Msg(msg))) = branchdb::wire::decode(data) {
        let _ = branchdb::wire::OpMsg::encode_reply(1, header.request_id, &msg.command);
    }
});
