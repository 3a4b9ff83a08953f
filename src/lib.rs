//! branchdb: a document database that speaks the MongoDB wire protocol and gives
//! every database git-like branches and time travel.
//!
//! The modules follow the path of a request: [`server`] accepts, [`connection`]
//! frames bytes with [`wire`], [`command`] dispatches by name, and [`namespace`]
//! says which database, branch and moment a request addresses.

pub mod auth;
pub mod cli;
pub mod command;
#[cfg(test)]
mod compat;
pub mod config;
pub mod connection;
pub mod context;
pub mod cursor;
pub mod error;
pub mod exec;
pub mod fail_points;
pub mod index;
pub mod js;
pub mod log;
pub mod low_priority;
pub mod lsn;
pub mod memory;
pub mod metrics;
pub mod namespace;
#[cfg(feature = "slatedb")]
pub mod objects;
pub mod operations;
pub mod profiling;
pub mod query;
pub mod server;
pub mod sessions;
pub mod store;
pub mod stream;
pub mod timings;
pub mod tls;
pub mod ttl;
pub mod value;
pub mod wal;
pub mod wire;
