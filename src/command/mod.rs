//! Command dispatch: a table of command names, each with one handler, and the
//! arguments every command accepts.
//!
//! A handler gets an [`Invocation`] (the command document, the parsed `$db`, the
//! connection and the server state) and returns the reply fields; dispatch adds
//! `ok: 1.0`, or turns an error into `{ok: 0, errmsg, code, codeName}`.

mod aggregate;
mod args;
mod arguments;
mod audit_config;
mod authorize;
mod branch;
mod branch_diff;
mod branch_history;
mod branch_merge;
mod build_info;
mod bulk_write;
mod capped;
mod change_stream;
mod cluster_parameters;
mod cluster_settings;
mod clustered;
mod coll_mod;
mod coll_mod_index;
mod coll_stats;
mod collections;
mod compact;
mod connection_status;
mod count;
mod current_op;
mod db_aggregate;
mod db_hash;
mod delete;
mod distinct;
mod explain;
mod fail_point;
mod fcv;
mod filemd5;
mod find;
mod find_and_modify;
mod fsync;
mod geo_near;
mod get_cmd_line_opts;
mod get_log;
mod get_parameter;
mod hello;
mod host_admin;
mod host_info;
mod index_commit_quorum;
mod index_filters;
mod index_stats;
mod indexes;
mod insert;
mod invocation;
mod labels;
mod list_commands;
mod map_reduce;
mod output;
mod ping;
mod profile;
mod query_settings;
mod query_stats;
mod reindex;
mod roles;
mod rw_defaults;
mod sasl;
mod server_status;
mod sessions;
mod shutdown;
mod stable_api;
mod system_profile;
mod timeseries;
mod top;
mod transactions;
mod update;
mod user_store;
mod users;
mod validate;
mod validate_db_metadata;
mod validation;
mod views;
mod whatsmyuri;
mod write_block;
mod write_concern;

pub use cluster_settings::Cache as ClusterSettings;
pub use index_filters::IndexFilters;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bson::{Bson, Document};

use crate::context::{ConnectionInfo, Context};
use crate::error::{Error, ErrorCode, Result};
use crate::fail_points;
use crate::namespace::DbRef;
use crate::profiling::SlowOperation;
pub use invocation::Invocation;
pub use users::{follow_security, start_security};

use crate::auth::privileges::Action;
use authorize::Rule;

type Handler = fn(&Invocation<'_>) -> Result<Document>;

/// One entry of the command table.
pub struct Command {
    /// The canonical name, as listed by `listCommands`.
    pub name: &'static str,
    /// Other names the command answers to (lower-case spellings, legacy names).
    pub aliases: &'static [&'static str],
    pub help: &'static str,
    pub admin_only: bool,
    /// Reads or writes the store: run on the blocking pool, off the runtime's workers.
    pub store: bool,
    /// What the command does with each of its arguments.
    pub args: &'static arguments::Args,
    /// What the connection's users need to run it (`authorize.rs`).
    pub auth: Rule,
    run: Handler,
}

/// Every command this server knows.
pub static COMMANDS: &[Command] = &[
    Command {
        name: "buildInfo",
        aliases: &["buildinfo"],
        help: "version and build of the server",
        admin_only: false,
        store: false,
        args: &arguments::BUILD_INFO,
        auth: Rule::Open,
        run: build_info::run,
    },
    Command {
        name: "bulkWrite",
        aliases: &[],
        help: "inserts, updates and deletes on any namespaces",
        admin_only: true,
        store: true,
        args: &arguments::BULK_WRITE,
        auth: Rule::Custom(bulk_write::authorize),
        run: bulk_write::run,
    },
    Command {
        name: "commitTransaction",
        aliases: &[],
        help: "commit the session's transaction",
        admin_only: true,
        store: true,
        args: &arguments::COMMIT_TRANSACTION,
        auth: Rule::Authenticated,
        run: outside_transaction,
    },
    Command {
        name: "abortTransaction",
        aliases: &[],
        help: "abort the session's transaction",
        admin_only: true,
        store: true,
        args: &arguments::ABORT_TRANSACTION,
        auth: Rule::Authenticated,
        run: outside_transaction,
    },
    Command {
        name: "configureFailPoint",
        aliases: &[],
        help: "test command: make commands fail (needs --enable-test-commands)",
        admin_only: true,
        store: false,
        args: &arguments::CONFIGURE_FAIL_POINT,
        auth: Rule::Cluster(&[Action::ConfigureFailPoint]),
        run: fail_point::run,
    },
    Command {
        name: "connectionStatus",
        aliases: &[],
        help: "authentication state of this connection",
        admin_only: false,
        store: false,
        args: &arguments::CONNECTION_STATUS,
        auth: Rule::Open,
        run: connection_status::run,
    },
    Command {
        name: "endSessions",
        aliases: &[],
        help: "end logical sessions",
        admin_only: false,
        store: false,
        args: &arguments::END_SESSIONS,
        auth: Rule::Open,
        run: sessions::end,
    },
    Command {
        name: "currentOp",
        aliases: &[],
        help: "the operations in progress",
        admin_only: true,
        store: false,
        args: &arguments::CURRENT_OP,
        auth: Rule::Custom(authorize::current_op),
        run: current_op::current_op,
    },
    Command {
        name: "getCmdLineOpts",
        aliases: &[],
        help: "the command line and parsed settings",
        admin_only: true,
        store: false,
        args: &arguments::GET_CMD_LINE_OPTS,
        auth: Rule::Cluster(&[Action::GetCmdLineOpts]),
        run: get_cmd_line_opts::run,
    },
    Command {
        name: "getLog",
        aliases: &[],
        help: "recent log lines",
        admin_only: true,
        store: false,
        args: &arguments::GET_LOG,
        auth: Rule::Cluster(&[Action::GetLog]),
        run: get_log::run,
    },
    Command {
        name: "getParameter",
        aliases: &[],
        help: "server parameters",
        admin_only: true,
        store: false,
        args: &arguments::GET_PARAMETER,
        auth: Rule::Cluster(&[Action::GetParameter]),
        run: get_parameter::run,
    },
    Command {
        name: "setParameter",
        aliases: &[],
        help: "change server parameters (the TTL monitor's)",
        admin_only: true,
        store: false,
        args: &arguments::SET_PARAMETER,
        auth: Rule::Cluster(&[Action::SetParameter]),
        run: get_parameter::set,
    },
    Command {
        name: "hello",
        aliases: &[],
        help: "handshake: what this server is and its limits",
        admin_only: false,
        store: false,
        args: &arguments::HELLO,
        auth: Rule::Open,
        run: hello::run,
    },
    Command {
        name: "hostInfo",
        aliases: &[],
        help: "the machine the server runs on",
        admin_only: false,
        store: false,
        args: &arguments::HOST_INFO,
        auth: Rule::Cluster(&[Action::HostInfo]),
        run: host_info::run,
    },
    Command {
        name: "isMaster",
        aliases: &["ismaster"],
        help: "legacy handshake, as hello",
        admin_only: false,
        store: false,
        args: &arguments::IS_MASTER,
        auth: Rule::Open,
        run: hello::run,
    },
    Command {
        name: "killAllSessions",
        aliases: &[],
        help: "kill all logical sessions",
        admin_only: false,
        store: false,
        args: &arguments::KILL_ALL_SESSIONS,
        auth: Rule::Cluster(&[Action::KillAnySession]),
        run: sessions::kill_all,
    },
    Command {
        name: "killAllSessionsByPattern",
        aliases: &[],
        help: "kill the sessions the patterns name, and their transactions",
        admin_only: false,
        store: true,
        args: &arguments::KILL_ALL_SESSIONS_BY_PATTERN,
        auth: Rule::Cluster(&[Action::KillAnySession]),
        run: sessions::kill_all_by_pattern,
    },
    Command {
        name: "killOp",
        aliases: &[],
        help: "interrupt an operation in progress",
        admin_only: true,
        store: false,
        args: &arguments::KILL_OP,
        auth: Rule::Cluster(&[Action::Killop]),
        run: current_op::kill_op,
    },
    Command {
        name: "killSessions",
        aliases: &[],
        help: "kill logical sessions",
        admin_only: false,
        store: false,
        args: &arguments::KILL_SESSIONS,
        auth: Rule::Authenticated,
        run: sessions::kill,
    },
    Command {
        name: "listCommands",
        aliases: &[],
        help: "this list",
        admin_only: false,
        store: false,
        args: &arguments::LIST_COMMANDS,
        auth: Rule::Open,
        run: list_commands::run,
    },
    Command {
        name: "profile",
        aliases: &[],
        help: "reads or sets the profiling level and the slow operation threshold (slowms, sampleRate)",
        admin_only: false,
        store: false,
        args: &arguments::PROFILE,
        auth: Rule::Branch(&[Action::EnableProfiler]),
        run: profile::run,
    },
    Command {
        name: "ping",
        aliases: &[],
        help: "liveness check",
        admin_only: false,
        store: false,
        args: &arguments::PING,
        auth: Rule::Open,
        run: ping::run,
    },
    Command {
        name: "refreshSessions",
        aliases: &[],
        help: "keep logical sessions alive",
        admin_only: false,
        store: false,
        args: &arguments::REFRESH_SESSIONS,
        auth: Rule::Authenticated,
        run: sessions::refresh,
    },
    Command {
        name: "serverStatus",
        aliases: &[],
        help: "server statistics",
        admin_only: false,
        store: false,
        args: &arguments::SERVER_STATUS,
        auth: Rule::Cluster(&[Action::ServerStatus]),
        run: server_status::run,
    },
    Command {
        name: "startSession",
        aliases: &[],
        help: "start a logical session",
        admin_only: false,
        store: false,
        args: &arguments::START_SESSION,
        auth: Rule::Authenticated,
        run: sessions::start,
    },
    Command {
        name: "whatsmyuri",
        aliases: &[],
        help: "the client's address as the server sees it",
        admin_only: false,
        store: false,
        args: &arguments::WHATSMYURI,
        auth: Rule::Open,
        run: whatsmyuri::run,
    },
    Command {
        name: "create",
        aliases: &[],
        help: "create a collection",
        admin_only: false,
        store: true,
        args: &arguments::CREATE,
        auth: Rule::Branch(&[Action::CreateCollection]),
        run: collections::create,
    },
    Command {
        name: "createBranch",
        aliases: &[],
        help: "create a branch of this database",
        admin_only: false,
        store: true,
        args: &arguments::CREATE_BRANCH,
        auth: Rule::Custom(authorize::create_branch),
        run: branch::create,
    },
    Command {
        name: "branchInfo",
        aliases: &[],
        help: "one branch of this database",
        admin_only: false,
        store: true,
        args: &arguments::BRANCH_INFO,
        auth: Rule::Custom(authorize::branch_info),
        run: branch::info,
    },
    Command {
        name: "delete",
        aliases: &[],
        help: "delete documents",
        admin_only: false,
        store: true,
        args: &arguments::DELETE,
        auth: Rule::Branch(&[Action::Remove]),
        run: delete::run,
    },
    Command {
        name: "drop",
        aliases: &[],
        help: "drop a collection",
        admin_only: false,
        store: true,
        args: &arguments::DROP,
        auth: Rule::Branch(&[Action::DropCollection]),
        run: collections::drop,
    },
    Command {
        name: "dropBranch",
        aliases: &[],
        help: "drop a branch of this database",
        admin_only: false,
        store: true,
        args: &arguments::DROP_BRANCH,
        auth: Rule::Custom(authorize::drop_branch),
        run: branch::drop,
    },
    Command {
        name: "diff",
        aliases: &[],
        help: "what changes one state of this database into another, as a cursor",
        admin_only: false,
        store: true,
        args: &arguments::DIFF,
        auth: Rule::Custom(authorize::diff),
        run: branch_diff::run,
    },
    Command {
        name: "mergeBranch",
        aliases: &[],
        help: "merge a branch into another (three-way, one record)",
        admin_only: false,
        store: true,
        args: &arguments::MERGE_BRANCH,
        auth: Rule::Custom(authorize::merge_branch),
        run: branch_merge::run,
    },
    Command {
        name: "resetBranch",
        aliases: &[],
        help: "move a branch's head to another state of this database",
        admin_only: false,
        store: true,
        args: &arguments::RESET_BRANCH,
        auth: Rule::Custom(authorize::reset_branch),
        run: branch_history::reset,
    },
    Command {
        name: "updateBranch",
        aliases: &[],
        help: "protect a branch, make it read-only, set its expiry or description",
        admin_only: false,
        store: true,
        args: &arguments::UPDATE_BRANCH,
        auth: Rule::Custom(authorize::update_branch),
        run: branch::update,
    },
    Command {
        name: "branchLog",
        aliases: &[],
        help: "the records that wrote a branch, newest first, as a cursor",
        admin_only: false,
        store: true,
        args: &arguments::BRANCH_LOG,
        auth: Rule::Custom(authorize::branch_log),
        run: branch_history::log,
    },
    Command {
        name: "dropDatabase",
        aliases: &[],
        help: "drop every collection of this database branch",
        admin_only: false,
        store: true,
        args: &arguments::DROP_DATABASE,
        auth: Rule::Branch(&[Action::DropDatabase]),
        run: collections::drop_database,
    },
    Command {
        name: "find",
        aliases: &[],
        help: "query documents",
        admin_only: false,
        store: true,
        args: &arguments::FIND,
        auth: Rule::Branch(&[Action::Find]),
        run: find::find,
    },
    Command {
        name: "findAndModify",
        aliases: &["findandmodify"],
        help: "update or remove one document and return it",
        admin_only: false,
        store: true,
        args: &arguments::FIND_AND_MODIFY,
        auth: Rule::Custom(authorize::find_and_modify),
        run: find_and_modify::run,
    },
    Command {
        name: "aggregate",
        aliases: &[],
        help: "run an aggregation pipeline",
        admin_only: false,
        store: true,
        args: &arguments::AGGREGATE,
        auth: Rule::Custom(authorize::aggregate),
        run: aggregate::run,
    },
    Command {
        name: "cloneCollectionAsCapped",
        aliases: &[],
        help: "copy a collection into a new capped collection",
        admin_only: false,
        store: true,
        args: &arguments::CLONE_COLLECTION_AS_CAPPED,
        auth: Rule::Branch(&[Action::Find, Action::Insert, Action::CreateCollection]),
        run: capped::clone,
    },
    Command {
        name: "convertToCapped",
        aliases: &[],
        help: "make a collection capped",
        admin_only: false,
        store: true,
        args: &arguments::CONVERT_TO_CAPPED,
        auth: Rule::Branch(&[Action::Insert, Action::CreateCollection, Action::DropCollection]),
        run: capped::convert,
    },
    Command {
        name: "collMod",
        aliases: &[],
        help: "change a collection's options",
        admin_only: false,
        store: true,
        args: &arguments::COLL_MOD,
        auth: Rule::Branch(&[Action::CollMod]),
        run: coll_mod::run,
    },
    Command {
        name: "collStats",
        aliases: &[],
        help: "storage statistics of a collection (deprecated: use $collStats)",
        admin_only: false,
        store: true,
        args: &arguments::COLL_STATS,
        auth: Rule::Branch(&[Action::CollStats]),
        run: coll_stats::run,
    },
    Command {
        name: "count",
        aliases: &[],
        help: "count the documents matching a query",
        admin_only: false,
        store: true,
        args: &arguments::COUNT,
        auth: Rule::Branch(&[Action::Find]),
        run: count::run,
    },
    Command {
        name: "dbHash",
        aliases: &["dbhash"],
        help: "an MD5 of each collection's documents in _id order, and of them all",
        admin_only: false,
        store: true,
        args: &arguments::DB_HASH,
        auth: Rule::Branch(&[Action::DbHash]),
        run: db_hash::db_hash,
    },
    Command {
        name: "dataSize",
        aliases: &["datasize"],
        help: "the BSON bytes and count of a collection's documents, optionally in a key range",
        admin_only: false,
        store: true,
        args: &arguments::DATA_SIZE,
        auth: Rule::Branch(&[Action::Find]),
        run: db_hash::data_size,
    },
    Command {
        name: "dbStats",
        aliases: &["dbstats"],
        help: "storage statistics of this database branch",
        admin_only: false,
        store: true,
        args: &arguments::DB_STATS,
        auth: Rule::Branch(&[Action::DbStats]),
        run: coll_stats::db_stats,
    },
    Command {
        name: "filemd5",
        aliases: &[],
        help: "the MD5 digest of a GridFS file's chunks",
        admin_only: false,
        store: true,
        args: &arguments::FILEMD5,
        auth: Rule::Branch(&[Action::Find]),
        run: filemd5::run,
    },
    Command {
        name: "mapReduce",
        aliases: &[],
        help: "map, group and reduce a collection's documents with JavaScript functions",
        admin_only: false,
        store: true,
        args: &arguments::MAP_REDUCE,
        auth: Rule::Custom(map_reduce::authorize),
        run: map_reduce::run,
    },
    Command {
        name: "distinct",
        aliases: &[],
        help: "the distinct values of a field",
        admin_only: false,
        store: true,
        args: &arguments::DISTINCT,
        auth: Rule::Branch(&[Action::Find]),
        run: distinct::run,
    },
    Command {
        name: "createIndexes",
        aliases: &[],
        help: "create indexes on a collection of a branch",
        admin_only: false,
        store: true,
        args: &arguments::CREATE_INDEXES,
        auth: Rule::Branch(&[Action::CreateIndex]),
        run: indexes::create,
    },
    Command {
        name: "dropIndexes",
        aliases: &["deleteIndexes"],
        help: "drop indexes of a collection of a branch",
        admin_only: false,
        store: true,
        args: &arguments::DROP_INDEXES,
        auth: Rule::Branch(&[Action::DropIndex]),
        run: indexes::drop,
    },
    Command {
        name: "explain",
        aliases: &[],
        help: "the plan of a query, and what running it examined",
        admin_only: false,
        store: true,
        args: &arguments::EXPLAIN,
        auth: Rule::Custom(authorize::explain),
        run: explain::run,
    },
    Command {
        name: "listIndexes",
        aliases: &[],
        help: "the indexes of a collection",
        admin_only: false,
        store: true,
        args: &arguments::LIST_INDEXES,
        auth: Rule::Branch(&[Action::ListIndexes]),
        run: indexes::list,
    },
    Command {
        name: "renameCollection",
        aliases: &[],
        help: "rename a collection",
        admin_only: true,
        store: true,
        args: &arguments::RENAME_COLLECTION,
        auth: Rule::Custom(authorize::rename_collection),
        run: collections::rename,
    },
    Command {
        name: "planCacheSetFilter",
        aliases: &[],
        help: "limit the indexes the planner may use for one query shape (an index filter)",
        admin_only: false,
        store: true,
        args: &arguments::PLAN_CACHE_SET_FILTER,
        auth: Rule::Branch(&[Action::PlanCacheIndexFilter]),
        run: index_filters::set,
    },
    Command {
        name: "planCacheClearFilters",
        aliases: &[],
        help: "remove the index filter of one query shape, or every one of the collection",
        admin_only: false,
        store: true,
        args: &arguments::PLAN_CACHE_CLEAR_FILTERS,
        auth: Rule::Branch(&[Action::PlanCacheIndexFilter]),
        run: index_filters::clear,
    },
    Command {
        name: "planCacheListFilters",
        aliases: &[],
        help: "the index filters of a collection",
        admin_only: false,
        store: true,
        args: &arguments::PLAN_CACHE_LIST_FILTERS,
        auth: Rule::Branch(&[Action::PlanCacheIndexFilter]),
        run: index_filters::list,
    },
    Command {
        name: "planCacheClear",
        aliases: &[],
        help: "remove cached plans (branchdb caches none: it plans every query)",
        admin_only: false,
        store: true,
        args: &arguments::PLAN_CACHE_CLEAR,
        auth: Rule::Branch(&[Action::PlanCacheWrite]),
        run: index_filters::clear_plan_cache,
    },
    Command {
        name: "getClusterParameter",
        aliases: &[],
        help: "the cluster parameters: one, several, or every one (\"*\")",
        admin_only: true,
        store: true,
        args: &arguments::GET_CLUSTER_PARAMETER,
        auth: Rule::Cluster(&[Action::GetClusterParameter]),
        run: cluster_parameters::get,
    },
    Command {
        name: "setClusterParameter",
        aliases: &[],
        help: "set a cluster parameter",
        admin_only: true,
        store: true,
        args: &arguments::SET_CLUSTER_PARAMETER,
        auth: Rule::Cluster(&[Action::SetClusterParameter]),
        run: cluster_parameters::set,
    },
    Command {
        name: "getDefaultRWConcern",
        aliases: &[],
        help: "the cluster-wide default read and write concerns",
        admin_only: true,
        store: true,
        args: &arguments::GET_DEFAULT_RW_CONCERN,
        auth: Rule::Cluster(&[Action::GetDefaultRwConcern]),
        run: rw_defaults::get,
    },
    Command {
        name: "setDefaultRWConcern",
        aliases: &[],
        help: "set the cluster-wide default read and write concerns",
        admin_only: true,
        store: true,
        args: &arguments::SET_DEFAULT_RW_CONCERN,
        auth: Rule::Cluster(&[Action::SetDefaultRwConcern]),
        run: rw_defaults::set,
    },
    Command {
        name: "setFeatureCompatibilityVersion",
        aliases: &[],
        help: "the feature compatibility version: 8.0 only",
        admin_only: true,
        store: false,
        args: &arguments::SET_FEATURE_COMPATIBILITY_VERSION,
        auth: Rule::Cluster(&[Action::SetFeatureCompatibilityVersion]),
        run: fcv::set,
    },
    Command {
        name: "compact",
        aliases: &[],
        help: "give the store file's free space back (one file holds every collection)",
        admin_only: false,
        store: true,
        args: &arguments::COMPACT,
        auth: Rule::Branch(&[Action::Compact]),
        run: compact::compact,
    },
    Command {
        name: "autoCompact",
        aliases: &[],
        help: "compact the store file in the background when enough space is free",
        admin_only: true,
        store: false,
        args: &arguments::AUTO_COMPACT,
        auth: Rule::Cluster(&[Action::Compact]),
        run: compact::auto_compact,
    },
    Command {
        name: "reIndex",
        aliases: &[],
        help: "drop and rebuild every index of a collection",
        admin_only: false,
        store: true,
        args: &arguments::RE_INDEX,
        auth: Rule::Branch(&[Action::ReIndex]),
        run: reindex::run,
    },
    Command {
        name: "validateDBMetadata",
        aliases: &[],
        help: "the views and indexes the Stable API would refuse",
        admin_only: false,
        store: true,
        args: &arguments::VALIDATE_DB_METADATA,
        auth: Rule::Branch(&[Action::Validate]),
        run: validate_db_metadata::run,
    },
    Command {
        name: "setIndexCommitQuorum",
        aliases: &[],
        help: "the commit quorum of an index build in progress (branchdb builds indexes within createIndexes)",
        admin_only: false,
        store: true,
        args: &arguments::SET_INDEX_COMMIT_QUORUM,
        auth: Rule::Branch(&[Action::CreateIndex]),
        run: index_commit_quorum::run,
    },
    Command {
        name: "getAuditConfig",
        aliases: &[],
        help: "MongoDB Enterprise's audit configuration: auditing is not enabled",
        admin_only: true,
        store: false,
        args: &arguments::AUDIT_CONFIG,
        auth: Rule::Cluster(&[Action::AuditConfigure]),
        run: audit_config::get,
    },
    Command {
        name: "setAuditConfig",
        aliases: &[],
        help: "MongoDB Enterprise's audit configuration: auditing is not enabled",
        admin_only: true,
        store: false,
        args: &arguments::AUDIT_CONFIG,
        auth: Rule::Cluster(&[Action::AuditConfigure]),
        run: audit_config::set,
    },
    Command {
        name: "setQuerySettings",
        aliases: &[],
        help: "settings for the queries of one shape",
        admin_only: true,
        store: true,
        args: &arguments::SET_QUERY_SETTINGS,
        auth: Rule::Cluster(&[Action::QuerySettings]),
        run: query_settings::set,
    },
    Command {
        name: "removeQuerySettings",
        aliases: &[],
        help: "remove the settings of one query shape",
        admin_only: true,
        store: true,
        args: &arguments::REMOVE_QUERY_SETTINGS,
        auth: Rule::Cluster(&[Action::QuerySettings]),
        run: query_settings::remove,
    },
    Command {
        name: "fsync",
        aliases: &[],
        help: "checkpoint the store; with lock: true, hold every write until fsyncUnlock",
        admin_only: true,
        store: true,
        args: &arguments::FSYNC,
        auth: Rule::Cluster(&[Action::Fsync]),
        run: fsync::fsync,
    },
    Command {
        name: "fsyncUnlock",
        aliases: &[],
        help: "take away one fsync lock; writes resume when none is left",
        admin_only: true,
        store: false,
        args: &arguments::FSYNC_UNLOCK,
        auth: Rule::Cluster(&[Action::Unlock]),
        run: fsync::fsync_unlock,
    },
    Command {
        name: "dropConnections",
        aliases: &[],
        help: "drop outgoing pooled connections to hosts (branchdb opens none)",
        admin_only: true,
        store: false,
        args: &arguments::DROP_CONNECTIONS,
        auth: Rule::Cluster(&[Action::DropConnections]),
        run: host_admin::drop_connections,
    },
    Command {
        name: "connPoolStats",
        aliases: &[],
        help: "outgoing connection pools (branchdb has none)",
        admin_only: false,
        store: false,
        args: &arguments::CONN_POOL_STATS,
        auth: Rule::Cluster(&[Action::ConnPoolStats]),
        run: host_admin::conn_pool_stats,
    },
    Command {
        name: "setUserWriteBlockMode",
        aliases: &[],
        help: "block (global: true) or allow the writes of users without bypassWriteBlockingMode",
        admin_only: true,
        store: true,
        args: &arguments::SET_USER_WRITE_BLOCK_MODE,
        auth: Rule::Cluster(&[Action::SetUserWriteBlockMode]),
        run: write_block::set,
    },
    Command {
        name: "rotateCertificates",
        aliases: &[],
        help: "read the TLS certificate, key and CA files again for new connections",
        admin_only: true,
        store: false,
        args: &arguments::ROTATE_CERTIFICATES,
        auth: Rule::Cluster(&[Action::RotateCertificates]),
        run: host_admin::rotate_certificates,
    },
    Command {
        name: "logRotate",
        aliases: &[],
        help: "rotate the log (branchdb logs to standard error: nothing to rename)",
        admin_only: true,
        store: false,
        args: &arguments::LOG_ROTATE,
        auth: Rule::Cluster(&[Action::LogRotate]),
        run: host_admin::log_rotate,
    },
    Command {
        name: "lockInfo",
        aliases: &[],
        help: "locks held and awaited (only fsync's lock exists)",
        admin_only: true,
        store: false,
        args: &arguments::LOCK_INFO,
        auth: Rule::Cluster(&[Action::ServerStatus]),
        run: host_admin::lock_info,
    },
    Command {
        name: "top",
        aliases: &[],
        help: "each collection's operations and their time since the server started",
        admin_only: true,
        store: false,
        args: &arguments::TOP,
        auth: Rule::Cluster(&[Action::Top]),
        run: top::run,
    },
    Command {
        name: "getMore",
        aliases: &[],
        help: "the next batch of a cursor",
        admin_only: false,
        store: true,
        args: &arguments::GET_MORE,
        auth: Rule::Authenticated,
        run: find::get_more,
    },
    Command {
        name: "insert",
        aliases: &[],
        help: "insert documents",
        admin_only: false,
        store: true,
        args: &arguments::INSERT,
        auth: Rule::Branch(&[Action::Insert]),
        run: insert::run,
    },
    Command {
        name: "killCursors",
        aliases: &[],
        help: "close cursors",
        admin_only: false,
        store: false,
        args: &arguments::KILL_CURSORS,
        auth: Rule::Authenticated,
        run: find::kill_cursors,
    },
    Command {
        name: "listBranches",
        aliases: &[],
        help: "the branches of this database",
        admin_only: false,
        store: true,
        args: &arguments::LIST_BRANCHES,
        auth: Rule::Branch(&[Action::ListBranches]),
        run: branch::list,
    },
    Command {
        name: "listCollections",
        aliases: &[],
        help: "the collections of this database branch",
        admin_only: false,
        store: true,
        args: &arguments::LIST_COLLECTIONS,
        auth: Rule::Branch(&[Action::ListCollections]),
        run: collections::list_collections,
    },
    Command {
        name: "listDatabases",
        aliases: &[],
        help: "every database branch",
        admin_only: true,
        store: true,
        args: &arguments::LIST_DATABASES,
        auth: Rule::Authenticated,
        run: collections::list_databases,
    },
    Command {
        name: "resolvePoint",
        aliases: &[],
        help: "the LSN of a time",
        admin_only: false,
        store: true,
        args: &arguments::RESOLVE_POINT,
        auth: Rule::Branch(&[Action::Find]),
        run: branch::resolve_point,
    },
    Command {
        name: "validate",
        aliases: &[],
        help: "check the documents of a collection",
        admin_only: false,
        store: true,
        args: &arguments::VALIDATE,
        auth: Rule::Branch(&[Action::Validate]),
        run: validate::run,
    },
    Command {
        name: "update",
        aliases: &[],
        help: "update documents",
        admin_only: false,
        store: true,
        args: &arguments::UPDATE,
        auth: Rule::Custom(authorize::update),
        run: update::run,
    },
    Command {
        name: "saslStart",
        aliases: &[],
        help: "start a SASL authentication",
        admin_only: false,
        store: true,
        args: &arguments::SASL_START,
        auth: Rule::Open,
        run: sasl::sasl_start,
    },
    Command {
        name: "saslContinue",
        aliases: &[],
        help: "continue a SASL authentication",
        admin_only: false,
        store: true,
        args: &arguments::SASL_CONTINUE,
        auth: Rule::Open,
        run: sasl::sasl_continue,
    },
    Command {
        name: "authenticate",
        aliases: &[],
        help: "authenticate with a client certificate (MONGODB-X509)",
        admin_only: false,
        store: false,
        args: &arguments::AUTHENTICATE,
        auth: Rule::Open,
        run: sasl::authenticate,
    },
    Command {
        name: "logout",
        aliases: &[],
        help: "forget the user authenticated on this database",
        admin_only: false,
        store: false,
        args: &arguments::LOGOUT,
        auth: Rule::Open,
        run: sasl::logout,
    },
    Command {
        name: "createUser",
        aliases: &[],
        help: "create a user",
        admin_only: false,
        store: true,
        args: &arguments::CREATE_USER,
        auth: Rule::Custom(users::authorize_create),
        run: users::create_user,
    },
    Command {
        name: "updateUser",
        aliases: &[],
        help: "change a user's password, roles or custom data",
        admin_only: false,
        store: true,
        args: &arguments::UPDATE_USER,
        auth: Rule::Custom(users::authorize_update),
        run: users::update_user,
    },
    Command {
        name: "dropUser",
        aliases: &[],
        help: "drop a user",
        admin_only: false,
        store: true,
        args: &arguments::DROP_USER,
        auth: Rule::Branch(&[Action::DropUser]),
        run: users::drop_user,
    },
    Command {
        name: "dropAllUsersFromDatabase",
        aliases: &[],
        help: "drop every user of the database",
        admin_only: false,
        store: true,
        args: &arguments::DROP_USER,
        auth: Rule::Branch(&[Action::DropUser]),
        run: users::drop_all_users,
    },
    Command {
        name: "usersInfo",
        aliases: &[],
        help: "describe users",
        admin_only: false,
        store: true,
        args: &arguments::USERS_INFO,
        auth: Rule::Custom(users::authorize_info),
        run: users::users_info,
    },
    Command {
        name: "grantRolesToUser",
        aliases: &[],
        help: "grant roles to a user",
        admin_only: false,
        store: true,
        args: &arguments::USER_ROLES,
        auth: Rule::Custom(users::authorize_grant),
        run: users::grant_roles,
    },
    Command {
        name: "revokeRolesFromUser",
        aliases: &[],
        help: "revoke roles from a user",
        admin_only: false,
        store: true,
        args: &arguments::USER_ROLES,
        auth: Rule::Custom(users::authorize_revoke),
        run: users::revoke_roles,
    },
    Command {
        name: "createRole",
        aliases: &[],
        help: "create a role",
        admin_only: false,
        store: true,
        args: &arguments::CREATE_ROLE,
        auth: Rule::Custom(roles::authorize_create),
        run: roles::create_role,
    },
    Command {
        name: "updateRole",
        aliases: &[],
        help: "change a role's privileges or inherited roles",
        admin_only: false,
        store: true,
        args: &arguments::CREATE_ROLE,
        auth: Rule::Custom(roles::authorize_create),
        run: roles::update_role,
    },
    Command {
        name: "dropRole",
        aliases: &[],
        help: "drop a role",
        admin_only: false,
        store: true,
        args: &arguments::DROP_USER,
        auth: Rule::Branch(&[Action::DropRole]),
        run: roles::drop_role,
    },
    Command {
        name: "shutdown",
        aliases: &[],
        help: "stop the server as SIGTERM does",
        admin_only: true,
        store: false,
        args: &arguments::SHUTDOWN,
        auth: Rule::Cluster(&[Action::Shutdown]),
        run: shutdown::run,
    },
    Command {
        name: "dropAllRolesFromDatabase",
        aliases: &[],
        help: "drop every role of a database",
        admin_only: false,
        store: true,
        args: &arguments::DROP_USER,
        auth: Rule::Branch(&[Action::DropRole]),
        run: roles::drop_all_roles,
    },
    Command {
        name: "revokePrivilegesFromRole",
        aliases: &[],
        help: "revoke privileges from a role",
        admin_only: false,
        store: true,
        args: &arguments::REVOKE_PRIVILEGES,
        auth: Rule::Custom(roles::authorize_revoke),
        run: roles::revoke_privileges,
    },
    Command {
        name: "grantRolesToRole",
        aliases: &[],
        help: "make a role inherit roles",
        admin_only: false,
        store: true,
        args: &arguments::ROLE_ROLES,
        auth: Rule::Custom(roles::authorize_change_inherited),
        run: roles::grant_roles,
    },
    Command {
        name: "revokeRolesFromRole",
        aliases: &[],
        help: "stop a role inheriting roles",
        admin_only: false,
        store: true,
        args: &arguments::ROLE_ROLES,
        auth: Rule::Custom(roles::authorize_change_inherited),
        run: roles::revoke_roles,
    },
    Command {
        name: "invalidateUserCache",
        aliases: &[],
        help: "make every connection resolve its users' privileges again",
        admin_only: true,
        store: true,
        args: &arguments::INVALIDATE_USER_CACHE,
        auth: Rule::Cluster(&[Action::InvalidateUserCache]),
        run: roles::invalidate_user_cache,
    },
    Command {
        name: "rolesInfo",
        aliases: &[],
        help: "describe roles",
        admin_only: false,
        store: true,
        args: &arguments::ROLES_INFO,
        auth: Rule::Custom(roles::authorize_info),
        run: roles::roles_info,
    },
    Command {
        name: "grantPrivilegesToRole",
        aliases: &[],
        help: "grant privileges to a role",
        admin_only: false,
        store: true,
        args: &arguments::GRANT_PRIVILEGES,
        auth: Rule::Custom(roles::authorize_grant),
        run: roles::grant_privileges,
    },
];

/// `commitTransaction` and `abortTransaction` without the session fields of a
/// transaction (with them, `transactions` runs them).
fn outside_transaction(inv: &Invocation<'_>) -> Result<Document> {
    let name = inv.body.keys().next().map_or("", String::as_str);
    Err(Error::command(ErrorCode::CommandFailed, format!("{name} must be run within a transaction")))
}

/// Finds a command by any of its names.
pub fn lookup(name: &str) -> Option<&'static Command> {
    static BY_NAME: OnceLock<HashMap<&'static str, &'static Command>> = OnceLock::new();
    BY_NAME
        .get_or_init(|| {
            COMMANDS
                .iter()
                .flat_map(|c| std::iter::once(c.name).chain(c.aliases.iter().copied()).map(move |n| (n, c)))
                .collect()
        })
        .get(name)
        .copied()
}

/// Where a command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// On the runtime's worker thread: it takes microseconds, less than handing it
    /// to another thread costs.
    Inline,
    /// On the blocking pool: it touches the store, and may wait for an fsync or scan.
    Blocking,
    /// On the low-priority threads, from their allowance at normal priority first:
    /// a change stream's batch that keeps up (it waited for a write), or its first.
    LowPriority,
    /// On the low-priority threads with only the CPU nobody else wants: the batch of
    /// a change stream that is behind (its events were there when it asked).
    Spare,
}

/// Where the command in `body` runs. Commands that touch the store run on the
/// blocking pool, except point reads by `_id` and `getMore`s of change streams with
/// nothing to read (inline), and change streams' batches (an `aggregate` opening
/// one, a `getMore` of one with events: low priority, or spare CPU only unless the
/// stream `waited` for them). (A point read in a
/// transaction checks its session out inline too, and waits on this thread while
/// another command holds that session; run off it, such reads cost 1.5x more.)
/// While a fail point is armed nothing runs inline: it may make the command wait.
pub fn placement(body: &Document, shared: &Context, waited: bool) -> Placement {
    let armed = shared.fail_points.armed();
    let inline_unless_armed = match armed {
        true => Placement::Blocking,
        false => Placement::Inline,
    };
    match body.keys().next().and_then(|name| lookup(name)) {
        Some(command) if command.store => match command.name {
            "getMore" => change_stream::get_more_placement(body, shared, armed, waited).unwrap_or(Placement::Blocking),
            "aggregate" if body.get_array("pipeline").is_ok_and(|s| change_stream::is_change_stream(s)) => {
                Placement::LowPriority
            }
            "find" if find::is_point_read(body) => inline_unless_armed,
            _ => Placement::Blocking,
        },
        // Authenticating reads the users, and a failure waits.
        _ if body.contains_key("speculativeAuthenticate") || body.contains_key("saslSupportedMechs") => {
            Placement::Blocking
        }
        _ => inline_unless_armed,
    }
}

pub use change_stream::{wait_for as change_stream_wait, Wait as ChangeStreamWait};
pub use hello::{shutting_down as hello_shutting_down, wait_for as hello_wait};

/// Whether `name` is one of the handshake commands allowed over legacy OP_QUERY.
pub fn is_handshake(name: &str) -> bool {
    matches!(name, "hello" | "isMaster" | "ismaster")
}

/// What to do with a command's outcome.
#[derive(Debug)]
pub enum Outcome {
    Reply(Document),
    /// Close the connection without a reply (a test fail point's `closeConnection`).
    Close,
}

/// Runs one command and always returns a reply document: `ok: 1.0` with the
/// handler's fields, or MongoDB's error shape.
pub fn run(body: &Document, connection: &ConnectionInfo, shared: &Arc<Context>) -> Document {
    match execute(body, &[], connection, shared) {
        Outcome::Reply(reply) => reply,
        Outcome::Close => Error::Internal("the connection is to be closed".into()).to_reply(),
    }
}

/// Runs one command: its reply, or that the connection is to be closed. Counted in
/// the metrics by name and outcome. `sequences` names the fields of `body` that
/// came as OP_MSG document sequences: as MongoDB, the slow-query log, the profiler
/// and `currentOp` show the command without them.
pub fn execute(body: &Document, sequences: &[String], connection: &ConnectionInfo, shared: &Arc<Context>) -> Outcome {
    let started = Instant::now();
    let outcome = execute_counted(body, sequences, connection, shared);
    let took = started.elapsed();
    let command = body.keys().next().and_then(|name| lookup(name));
    let reply = match &outcome {
        Outcome::Reply(reply) => Some(reply),
        Outcome::Close => None,
    };
    let ok = reply.is_some_and(|reply| reply.get_f64("ok") == Ok(1.0));
    shared.metrics.command(command.map_or("unknown", |command| command.name), ok, took);
    if let Some(command) = command {
        top::record(shared, command, body, ok, took);
        if let (true, Some(reply)) = (ok, reply) {
            query_stats::record(shared, command.name, body, reply, took);
        }
    }
    let on_profile = body.iter().next().and_then(|(_, v)| v.as_str()) == Some(system_profile::NAME);
    if let Some(command) = command.filter(|command| !PROFILE_EXEMPT.contains(&command.name) && !on_profile) {
        let db = system_profile::database_of(body.get_str("$db").unwrap_or(""));
        // Both records are made only when the settings want them: most commands make neither.
        let shown = || without_sequences(body, sequences);
        let slow =
            || SlowOperation { connection: connection.id, ns: namespace_of(body), command: shown(), reply, took };
        let entry = || system_profile::entry(command, body, shown(), reply, connection, took);
        shared.profiling.observe(db, took, slow, entry);
    }
    outcome
}

/// The command as the log, the profiler and `currentOp` show it: without the
/// fields its document sequences gave.
fn without_sequences<'b>(body: &'b Document, sequences: &[String]) -> Cow<'b, Document> {
    match sequences.is_empty() {
        true => Cow::Borrowed(body),
        false => Cow::Owned(
            body.iter().filter(|(name, _)| !sequences.contains(name)).map(|(k, v)| (k.clone(), v.clone())).collect(),
        ),
    }
}

/// Commands that wait by design, never logged as slow nor profiled (as MongoDB
/// leaves out `hello` with `maxAwaitTimeMS`).
const PROFILE_EXEMPT: &[&str] = &["hello"];

/// `db.collection` for a command on a collection, `db.$cmd` for others.
fn namespace_of(body: &Document) -> String {
    let db = body.get_str("$db").unwrap_or("");
    match body.iter().next() {
        Some((_, Bson::String(collection))) => format!("{db}.{collection}"),
        _ => format!("{db}.$cmd"),
    }
}

/// Runs one command, as [`execute`] says.
fn execute_counted(
    body: &Document,
    sequences: &[String],
    connection: &ConnectionInfo,
    shared: &Arc<Context>,
) -> Outcome {
    // The session fields, parsed once: they decide the reply's labels, and a bad
    // one fails the command where MongoDB checks them.
    let fields = transactions::Fields::parse(body);
    let role = match &fields {
        Ok(fields) => fields.role(body.keys().next().map_or("", String::as_str)),
        Err(_) => labels::Role::Plain,
    };
    let mut write_concern_error = None;
    let outcome = match fail_point(body, connection, shared) {
        Some(action) if action.close_connection => return Outcome::Close,
        Some(action) if action.error_code.is_some() => Err(action),
        Some(action) => {
            write_concern_error = action.write_concern_error;
            Ok(run_checked(body, sequences, fields, connection, shared))
        }
        None => Ok(run_checked(body, sequences, fields, connection, shared)),
    };
    let mut reply = match outcome {
        Ok(Ok(mut reply)) => {
            if !reply.contains_key("ok") {
                reply.insert("ok", 1.0);
            }
            if let Some(wce) = write_concern_error {
                reply.insert("writeConcernError", wce);
            }
            reply
        }
        Ok(Err(err)) => {
            tracing::debug!(peer = %connection.peer, error = %err, "command failed");
            let mut reply = err.to_reply();
            // A read replica's refusal of a write carries its topology version, as
            // a secondary's does: drivers see that the error tells them nothing
            // their last hello did not, and keep the server instead of marking it
            // unknown until their next heartbeat.
            if err.code() == ErrorCode::NotWritablePrimary && shared.settings.replica_of.is_some() {
                reply.insert("topologyVersion", hello::topology_version());
            }
            reply
        }
        Err(action) => fail_point_error(&action),
    };
    labels::add_labels(role, &mut reply);
    // SPEC §4: every reply carries the cluster time of the newest write it could see
    // (writes put their own).
    if !reply.contains_key("operationTime") {
        reply.insert("operationTime", shared.store.operation_time());
    }
    Outcome::Reply(reply)
}

/// What the `failCommand` fail point does to this command, after waiting as it
/// says.
fn fail_point(body: &Document, connection: &ConnectionInfo, shared: &Context) -> Option<fail_points::Action> {
    if !shared.fail_points.armed() {
        return None;
    }
    let name = body.keys().next()?;
    let app_name = connection
        .client_metadata
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .and_then(|client| client.get_document("application").ok()?.get_str("name").ok().map(str::to_owned));
    let action = shared.fail_points.fire(name, app_name.as_deref())?;
    if let Some(block) = action.block {
        std::thread::sleep(block);
    }
    Some(action)
}

/// The error reply a fail point asks for.
fn fail_point_error(action: &fail_points::Action) -> Document {
    let code = action.error_code.unwrap_or(ErrorCode::InternalError.code());
    let mut reply = bson::doc! {
        "ok": 0.0,
        "errmsg": "Failing command via 'failCommand' failpoint",
        "code": code,
    };
    if let Some(known) = ErrorCode::from_code(code) {
        reply.insert("codeName", known.name());
    }
    if let Some(labels) = &action.error_labels {
        reply.insert("errorLabels", labels.clone());
    }
    reply
}

fn run_checked(
    body: &Document,
    sequences: &[String],
    fields: Result<transactions::Fields>,
    connection: &ConnectionInfo,
    shared: &Arc<Context>,
) -> Result<Document> {
    let name = body.keys().next().map(String::as_str).unwrap_or("");
    let command =
        lookup(name).ok_or_else(|| Error::command(ErrorCode::CommandNotFound, format!("no such command: '{name}'")))?;
    stable_api::check(command.name, body)?;
    command.args.check(command.name, body)?;
    let db = match body.get("$db") {
        Some(Bson::String(db)) => DbRef::parse(db)?,
        Some(_) => return Err(Error::type_mismatch("$db is not a string")),
        None => return Err(Error::command(ErrorCode::Location40571, "OP_MSG requests require a $db argument")),
    };
    if command.admin_only && db.db != "admin" {
        return Err(Error::command(
            ErrorCode::Unauthorized,
            format!("{} may only be run against the admin database.", command.name),
        ));
    }
    let session = fields?;
    let mut operation = current_op::describe(command, body, without_sequences(body, sequences), &db, connection);
    if shared.security.enabled {
        operation.user = connection.auth().users.first().map(ToString::to_string);
    }
    let running = shared.operations.start(operation);
    // A command that gives no `maxTimeMS` may take the cluster's default.
    let limit = match body.get("maxTimeMS") {
        None | Some(Bson::Null) => cluster_parameters::default_max_time(shared, connection, command, body)?,
        Some(_) => max_time(body)?,
    };
    let deadline = limit.map(|limit| Instant::now() + limit);
    // The commands that compare by a collation read it themselves.
    if !matches!(
        command.name,
        "find"
            | "count"
            | "distinct"
            | "findAndModify"
            | "aggregate"
            | "create"
            | "planCacheSetFilter"
            | "planCacheClearFilters"
            | "planCacheClear"
    ) {
        args::simple_collation(body)?;
    }
    let invocation = Invocation {
        body,
        db,
        connection,
        context: shared,
        deadline,
        op: Some(&running),
        session: None,
        first_statement: 0,
    };
    authorize::check(command, &invocation)?;
    query_settings::check_rejected(shared, command.name, body.get_str("$db").unwrap_or_default(), body)?;
    let given = write_concern::given(command.name, body)?;
    let waits = waits_for_write_concern(command, body, &session);
    let concern = if waits { Some(rw_defaults::effective(shared, given)?) } else { None };
    let interrupt = crate::operations::Interrupt { deadline, op: Some(&running) };
    let mut reply = transactions::run(command, invocation, &session)?;
    interrupt.check()?;
    if let Some(unsatisfied) = concern.and_then(|(concern, provenance)| concern.unsatisfied(provenance)) {
        if write_concern::reported_with(body, &reply) {
            reply.insert("writeConcernError", unsatisfied);
        }
    }
    Ok(reply)
}

/// Whether the command waits for its write concern once it ran, as MongoDB's do:
/// those that take one, except a statement of a transaction (its commit waits) and
/// an aggregation that writes nothing.
fn waits_for_write_concern(command: &Command, body: &Document, session: &transactions::Fields) -> bool {
    if !write_concern::supported_by(command.name, body) || matches!(session.role(command.name), labels::Role::Statement)
    {
        return false;
    }
    command.name != "aggregate" || aggregate::writes(body)
}

/// The largest `maxTimeMS` MongoDB accepts.
const MAX_TIME_MS: i64 = i32::MAX as i64;

/// Reads the generic `maxTimeMS` argument: a non-negative whole number of
/// milliseconds, 0 meaning no limit.
fn max_time(body: &Document) -> Result<Option<Duration>> {
    let ms = match body.get("maxTimeMS") {
        None | Some(Bson::Null) => return Ok(None),
        Some(Bson::Int32(n)) => i64::from(*n),
        Some(Bson::Int64(n)) => *n,
        Some(Bson::Double(d)) if d.fract() == 0.0 && d.abs() < 1e15 => *d as i64,
        Some(_) => return Err(Error::bad_value("maxTimeMS must be a non-negative integer")),
    };
    match ms {
        0 => Ok(None),
        1..=MAX_TIME_MS => Ok(Some(Duration::from_millis(ms as u64))),
        _ => Err(Error::bad_value(format!("{ms} value for maxTimeMS is out of range [0, 2147483647]"))),
    }
}

#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod index_tests;
#[cfg(test)]
mod ops_tests;
#[cfg(test)]
mod sort_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod transaction_tests;
#[cfg(test)]
mod validation_tests;
