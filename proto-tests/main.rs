//! Protocol tests: real clients (the `mongodb` Rust driver, and raw sockets for what
//! no driver would send) against a server started in-process on a free port.

mod common;

mod auth;
mod bad_input;
mod branches;
mod collection_types;
mod connections;
mod crud;
mod exact_bytes;
mod geo;
mod handshake;
mod indexes;
mod lifecycle;
mod memory;
mod metrics;
mod ops;
mod refusals;
mod streams;
mod text_search;
mod tls;
mod transactions;
mod ttl;
