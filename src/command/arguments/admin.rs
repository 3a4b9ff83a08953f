//! The arguments of the handshake, diagnostic, parameter and session commands
//! (against MongoDB 8.0's parsers), and of branchdb's branch commands (SPEC §3).

use super::{ignored, implemented, unsupported, Arg, Args};

/// buildInfo: https://www.mongodb.com/docs/manual/reference/command/buildInfo/
/// Handler: build_info.rs reads nothing. MongoDB: `CmdBuildInfoBase : BasicCommand`
/// (lenient). NOTE: newer servers (buildinfo_common.idl, `CmdBuildInfoCommon :
/// TypedCommand<BuildInfoCommand>`) parse it with a strict IDL; the switch may post-date
/// 8.0 and could not be pinned to a release. Clients only send `{buildInfo: 1}`.
pub static BUILD_INFO: Args = Args::lenient(&[], "MongoDB's buildInfo ignores its other fields");

/// connectionStatus: https://www.mongodb.com/docs/manual/reference/command/connectionStatus/
/// MongoDB: connection_status.idl, `ConnectionStatusCommand`, no `strict:` key, so the
/// IDL default (strict) applies.
pub static CONNECTION_STATUS: Args = Args::strict(&[
    // connection_status.rs. Gap: MongoDB types it safeBool (TypeMismatch for a string,
    // object...); branchdb takes any value through `truthy`.
    implemented("showPrivileges"),
]);

/// endSessions: https://www.mongodb.com/docs/manual/reference/command/endSessions/
/// MongoDB: sessions_commands.idl `endSessionsFromClient`, strict: true, API V1.
/// Only the command field (array of {id: UUID}), checked in sessions.rs.
pub static END_SESSIONS: Args = Args::strict(&[]);

/// currentOp: https://www.mongodb.com/docs/manual/reference/command/currentOp/
/// MongoDB: current_op_common.cpp; `$all`, `$ownOps`, `$truncateOps` are options, every
/// other non-generic field goes into a `$match` over the operations.
pub static CURRENT_OP: Args = Args::lenient(
    &[
        // current_op.rs. GAP: MongoDB turns `$all: true` into `idleConnections: true`
        // (idle client connections, idle sessions and cursors, system threads are listed
        // too); branchdb type-checks it and lists running operations only. MongoDB takes
        // any type (`trueValue()`); branchdb refuses strings/objects (TypeMismatch).
        // The handler should refuse `$all: true` until idle connections are listed.
        implemented("$all"),
        // current_op.rs. Without users every operation is the caller's own: as MongoDB
        // with access control off (isCoauthorizedWith is always true).
        implemented("$ownOps"),
        // GAP: the handler does not skip it yet; today it would land in the filter and
        // fail as an unknown top-level operator.
        ignored(
            "$truncateOps",
            "Only honoured with enableTestCommands; otherwise MongoDB always truncates and ignores it.",
        ),
    ],
    "every other field is a query the reported operations must match",
);

/// getCmdLineOpts: https://www.mongodb.com/docs/manual/reference/command/getCmdLineOpts/
/// MongoDB 8.0: generic_servers.idl `getCmdLineOpts` (default strict) run through
/// `GenericTC<GetCmdLineOptsCommand>`, so `{getCmdLineOpts: 1, x: 1}` fails with 40415.
pub static GET_CMD_LINE_OPTS: Args = Args::strict(&[]);

/// getLog: https://www.mongodb.com/docs/manual/reference/command/getLog/
/// MongoDB 8.0: `GetLogCommand::parse(IDLParserContext{"getLog"}, cmdObj)`
/// (generic_servers.idl, default strict). Only the command field ("*", "global",
/// "startupWarnings"). Gaps in get_log.rs: an unknown log is OperationFailed (96)
/// "No log named 'x'" in 8.0 (branchdb: BadValue "no RamLog named: x", the pre-5.0
/// text); a non-string is the IDL TypeMismatch
/// "BSON field 'getLog.getLog' is the wrong type 'int', expected type 'string'".
pub static GET_LOG: Args = Args::strict(&[]);

/// getParameter: https://www.mongodb.com/docs/manual/reference/command/getParameter/
/// Gap (command field, not an argument): `getParameter: {showDetails, allParameters}`
/// is not understood (only `"*"`).
pub static GET_PARAMETER: Args =
    Args::lenient(&[], "every other field names a parameter to read; MongoDB skips names it does not know");

/// setParameter: https://www.mongodb.com/docs/manual/reference/command/setParameter/
/// Every other field is a parameter name; get_parameter.rs refuses unknown ones with 72
/// and read-only ones with 20, as MongoDB does. Gap: its own generic-argument filter
/// (`is_generic_argument`) misses readConcern, writeConcern, txnNumber, autocommit and
/// startTransaction, which it then reports as unrecognized parameters.
pub static SET_PARAMETER: Args =
    Args::lenient(&[], "every other field names a parameter to set; the handler refuses unknown names as MongoDB does");

/// hello / isMaster / ismaster share one handler (hello.rs) and, in MongoDB, one parser
/// (`HelloCommand`, repl/hello.idl; CmdIsMaster subclasses CmdHello).
/// https://www.mongodb.com/docs/manual/reference/command/hello/
const HELLO_ARGS: &[Arg] = &[
    // hello.rs. Gap: MongoDB answers `helloOk: true` whenever the field is present,
    // even `helloOk: false` (it records the value on the client); branchdb only when
    // truthy. MongoDB types it safeBool.
    implemented("helloOk"),
    // hello.rs: stored once; a second one is 186 ClientMetadataCannotBeMutated as in
    // MongoDB. Gap: MongoDB validates the document (driver.name, driver.version, os.type
    // required strings; application.name <= 128 bytes; whole document <= 512 bytes).
    implemented("client"),
    // Gap: not type-checked (array<string> in MongoDB).
    ignored(
        "compression",
        "branchdb offers no compressor: as a MongoDB with networkMessageCompressors disabled, the reply names none.",
    ),
    // sasl.rs `supported_mechanisms`: the user's mechanisms, nothing for an unknown
    // user. Gap: MongoDB refuses a value that is not a "db.user" string.
    implemented("saslSupportedMechs"),
    // sasl.rs `speculative`: a saslStart whose failure is swallowed, as MongoDB's
    // ("Treat failure like we never even got a speculative start"). Gap: MongoDB
    // refuses a non-object or empty object (BadValue).
    implemented("speculativeAuthenticate"),
    // load_balancer_support_test.cpp HelloNormalClientGivesOption: no serviceId, no error.
    // Gap: the field is `stability: unstable`, so with apiStrict:true MongoDB refuses it (323).
    ignored(
        "loadBalanced",
        "Only a mongos connection on its loadBalancerPort acts on it; elsewhere MongoDB ignores it.",
    ),
    ignored("forShell", "The legacy mongo shell's flag; MongoDB's router never reads it."),
    ignored("hostInfo", "Sent by the legacy shell; MongoDB never reads it."),
    ignored("hangUpOnStepDown", "Only a replica-set member that steps down acts on it; one node never steps down."),
    // MongoDB validates its shape ({minWireVersion?, maxWireVersion}, strict).
    ignored("internalClient", "Marks connections from other cluster nodes; a single node has none."),
    // hello.rs: awaitable hello, as a router serves it.
    implemented("topologyVersion"),
    implemented("maxAwaitTimeMS"),
];

/// hello: MongoDB 8.0's HelloCommand is `strict: false` ("Most V1 commands should be
/// strict: true but hello is special to allow for unknown fields"); the 5.0-era IDL was
/// strict. Drivers rely on it: the client-backpressure spec makes every driver add
/// `backpressure: true` to the handshake whatever the server version.
pub static HELLO: Args =
    Args::lenient(HELLO_ARGS, "MongoDB's hello parser is strict: false and ignores fields it does not know");

/// isMaster (and `ismaster`): same parser and handler as hello. Not in API V1: with
/// apiStrict:true MongoDB refuses it (323), hello it accepts.
pub static IS_MASTER: Args = Args::lenient(
    HELLO_ARGS,
    "MongoDB's isMaster is hello's parser, strict: false, and ignores fields it does not know",
);

/// hostInfo: https://www.mongodb.com/docs/manual/reference/command/hostInfo/
/// MongoDB 8.0: generic_servers.idl `hostInfo` (default strict) through
/// `GenericTC<HostInfoCommand>`.
pub static HOST_INFO: Args = Args::strict(&[]);

/// killAllSessions: https://www.mongodb.com/docs/manual/reference/command/killAllSessions/
/// MongoDB: kill_sessions.idl `KillAllSessionsCmd`, strict: false. Gaps (command field):
/// each element must be a strict {user: string, db: string} in MongoDB (sessions.rs only
/// checks for documents); MongoDB kills the sessions' operations and cursors, branchdb
/// releases nothing.
pub static KILL_ALL_SESSIONS: Args =
    Args::lenient(&[], "MongoDB's killAllSessions parser is strict: false and ignores other fields");

/// killAllSessionsByPattern: https://www.mongodb.com/docs/v8.0/reference/command/killAllSessionsByPattern/
pub static KILL_ALL_SESSIONS_BY_PATTERN: Args =
    Args::lenient(&[], "MongoDB's killAllSessionsByPattern parser is strict: false and ignores other fields");

/// profile: https://www.mongodb.com/docs/manual/reference/command/profile/
pub static PROFILE: Args = Args::strict(&[implemented("slowms"), implemented("sampleRate"), implemented("filter")]);

/// killOp: https://www.mongodb.com/docs/manual/reference/command/killOp/
/// MongoDB: KillOpCmdBase (BasicCommand) reads only `op`. (A real mongos also takes
/// "shard:opid" strings; branchdb has no shards.)
pub static KILL_OP: Args = Args::lenient(
    &[
        // current_op.rs `op_id`: missing (NoSuchKey), wrong type (TypeMismatch), not an
        // exact 64-bit integer (BadValue), with MongoDB's messages.
        implemented("op"),
    ],
    "MongoDB's killOp reads only op and ignores other fields",
);

/// killSessions: https://www.mongodb.com/docs/manual/reference/command/killSessions/
/// MongoDB: kill_sessions.idl `KillSessionsCmdFromClient`, strict: false. Gap (command
/// field): MongoDB kills the sessions' operations and cursors; branchdb releases nothing.
pub static KILL_SESSIONS: Args =
    Args::lenient(&[], "MongoDB's killSessions parser is strict: false and ignores other fields");

/// listCommands: https://www.mongodb.com/docs/manual/reference/command/listCommands/
/// MongoDB: ListCommandsCmd (BasicCommand). Gap (reply): `apiVersions` is [] for every
/// command; MongoDB lists ["1"] for the API V1 commands (hello, ping, find, ...).
pub static LIST_COMMANDS: Args = Args::lenient(&[], "MongoDB's listCommands ignores its other fields");

/// ping: https://www.mongodb.com/docs/manual/reference/command/ping/
/// NOT lenient: MongoDB's ping is `PingCmdVersion1Gen` from generic.idl
/// (`ping: strict: true, api_version: 1`), so `{ping: 1, x: 1}` fails with 40415
/// "BSON field 'ping.x' is an unknown field." (generic arguments still pass).
pub static PING: Args = Args::strict(&[]);

/// refreshSessions: https://www.mongodb.com/docs/manual/reference/command/refreshSessions/
/// MongoDB: sessions_commands.idl `refreshSessionsFromClient`, strict: true, API V1.
/// Gap (command field): MongoDB extends each session's lastUse; sessions.rs only checks
/// the ids, so a refreshed but otherwise idle session still expires from
/// $listLocalSessions after 30 minutes.
pub static REFRESH_SESSIONS: Args = Args::strict(&[]);

/// serverStatus: https://www.mongodb.com/docs/manual/reference/command/serverStatus/
/// MongoDB: CmdServerStatus (BasicCommand); `{<section>: 0}` leaves a section out,
/// `{<section>: 1}` adds an opt-in one, other names are ignored. GAP: server_status.rs
/// reads none of them and always returns its fixed set (e.g. `metrics: 0` still
/// returns metrics).
pub static SERVER_STATUS: Args =
    Args::lenient(&[], "other fields name sections to include or leave out; MongoDB ignores names that are no section");

/// startSession: https://www.mongodb.com/docs/manual/reference/command/startSession/
/// MongoDB: StartSessionCommand (BasicCommand).
pub static START_SESSION: Args = Args::lenient(&[], "MongoDB's startSession ignores its other fields");

/// whatsmyuri: https://www.mongodb.com/docs/manual/reference/command/whatsmyuri/
/// MongoDB: WhatsMyUriCmd (BasicCommand).
pub static WHATSMYURI: Args = Args::lenient(&[], "MongoDB's whatsmyuri ignores its other fields");

// Branch commands: SPEC §3; branchdb's own, so strict.

/// createBranch: `{createBranch: "<name>", from: "<branch>"?, at: <point>?}`
pub static CREATE_BRANCH: Args = Args::strict(&[
    // branch.rs `create`: string or null (default "main"), else TypeMismatch.
    implemented("from"),
    // branch.rs `create` -> `resolve`: Int64/Int32 LSN >= 0, Date or Timestamp, else
    // BadValue; checked against the branch by Store::check_point.
    implemented("at"),
]);

/// branchInfo: `{branchInfo: "<name>"}`
pub static BRANCH_INFO: Args = Args::strict(&[]);

/// dropBranch: `{dropBranch: "<name>"}`
pub static DROP_BRANCH: Args = Args::strict(&[]);

/// listBranches: `{listBranches: 1}`
pub static LIST_BRANCHES: Args = Args::strict(&[]);

/// resolvePoint: `{resolvePoint: <Date or Timestamp>, branch: "<name>"?}`
pub static RESOLVE_POINT: Args = Args::strict(&[
    // branch.rs `resolve_point`: string or null, else TypeMismatch; a branch other than
    // main must exist (26). Gap: only existence is checked; the LSN returned is the
    // global one and is not checked against the branch's baseLsn.
    implemented("branch"),
]);

/// diff: `{diff: "<ref>", with: "<ref>", collection: "<c>"?, batchSize?}` (SPEC §3.1)
pub static DIFF: Args = Args::strict(&[
    // branch_diff.rs `run` -> branch::state_ref: a string, the database's branch with
    // an optional ~<point>; another database is 73.
    implemented("with"),
    // branch_diff.rs `run`: string or null, else TypeMismatch.
    implemented("collection"),
    // branch_diff.rs `run`: the first batch's size.
    implemented("batchSize"),
]);

/// mergeBranch: `{mergeBranch: "<source>", into: "<target>"?, strategy?, dryRun?}`
pub static MERGE_BRANCH: Args = Args::strict(&[
    // branch_merge.rs `run`: string or null (the source's parent).
    implemented("into"),
    // branch_merge.rs `run`: "fail" (default), "ours" or "theirs", else BadValue.
    implemented("strategy"),
    // branch_merge.rs `run`: computes everything and writes nothing.
    implemented("dryRun"),
]);

/// resetBranch: `{resetBranch: "<name>", to: "<ref>"}`
pub static RESET_BRANCH: Args = Args::strict(&[
    // branch_history.rs `reset` -> branch::state_ref.
    implemented("to"),
]);

/// updateBranch: `{updateBranch: "<name>", protected?, readOnly?, expireAt?, description?}`
pub static UPDATE_BRANCH: Args = Args::strict(&[
    // branch.rs `update`: booleans, a Date or null, a string or null.
    implemented("protected"),
    implemented("readOnly"),
    implemented("expireAt"),
    implemented("description"),
]);

/// branchLog: `{branchLog: "<name>", limit?, batchSize?}`
pub static BRANCH_LOG: Args = Args::strict(&[
    // branch_history.rs `log`: the newest `limit` records (0 or none: all retained).
    implemented("limit"),
    // branch_history.rs `log`: the first batch's size.
    implemented("batchSize"),
]);

/// configureFailPoint: the `failCommand` fail point of MongoDB's test commands.
pub static CONFIGURE_FAIL_POINT: Args = Args::strict(&[implemented("mode"), implemented("data")]);

/// commitTransaction: https://www.mongodb.com/docs/manual/reference/command/commitTransaction/
/// The session fields and `writeConcern` are generic arguments.
pub static COMMIT_TRANSACTION: Args = Args::strict(&[ignored(
    "recoveryToken",
    "routes a commit to the shards of a sharded cluster; one node has the whole transaction",
)]);

/// abortTransaction: https://www.mongodb.com/docs/manual/reference/command/abortTransaction/
pub static ABORT_TRANSACTION: Args = Args::strict(&[ignored(
    "recoveryToken",
    "routes an abort to the shards of a sharded cluster; one node has the whole transaction",
)]);

/// fsync: https://www.mongodb.com/docs/v8.0/reference/command/fsync/
/// MongoDB 8.0: fsync.idl (strict).
pub static FSYNC: Args = Args::strict(&[
    implemented("lock"),
    ignored(
        "fsyncLockAcquisitionTimeoutMillis",
        "MongoDB applies it only to the locks a router takes for a backup (forBackup); checked as an int",
    ),
    ignored("forBackup", "It only adds a check that no sharding DDL runs, and there are no shards"),
]);

/// fsyncUnlock: https://www.mongodb.com/docs/v8.0/reference/command/fsyncUnlock/
/// MongoDB 8.0: a BasicCommand, which ignores fields it does not know.
pub static FSYNC_UNLOCK: Args =
    Args::lenient(&[], "fsyncUnlock is a BasicCommand in MongoDB 8.0: it ignores fields it does not know");

/// dropConnections: https://www.mongodb.com/docs/v8.0/reference/command/dropConnections/
/// MongoDB 8.0: drop_connections.idl (strict).
pub static DROP_CONNECTIONS: Args = Args::strict(&[implemented("hostAndPort")]);

/// connPoolStats: https://www.mongodb.com/docs/v8.0/reference/command/connPoolStats/
pub static CONN_POOL_STATS: Args =
    Args::lenient(&[], "connPoolStats is a BasicCommand in MongoDB 8.0: it ignores fields it does not know");

/// logRotate: https://www.mongodb.com/docs/v8.0/reference/command/logRotate/
/// MongoDB 8.0: generic_servers.idl `logRotate` (strict); the command's value names
/// the log.
pub static LOG_ROTATE: Args = Args::strict(&[]);

/// lockInfo: https://www.mongodb.com/docs/v8.0/reference/command/lockInfo/
/// MongoDB 8.0: lock_info.idl (strict).
pub static LOCK_INFO: Args = Args::strict(&[ignored(
    "includeStorageEngineDump",
    "It writes the storage engine's lock table to MongoDB's log; branchdb's engine has none (checked as a bool)",
)]);

/// top: https://www.mongodb.com/docs/v8.0/reference/command/top/
pub static TOP: Args = Args::lenient(&[], "top is a BasicCommand in MongoDB 8.0: it ignores fields it does not know");

/// shutdown: https://www.mongodb.com/docs/v8.0/reference/command/shutdown/
pub static SHUTDOWN: Args = Args::strict(&[implemented("force"), implemented("timeoutSecs")]);

/// getDefaultRWConcern: https://www.mongodb.com/docs/v8.0/reference/command/getDefaultRWConcern/
/// MongoDB 8.0: rwc_defaults_commands.idl (strict).
pub static GET_DEFAULT_RW_CONCERN: Args = Args::strict(&[implemented("inMemory")]);

/// setDefaultRWConcern: https://www.mongodb.com/docs/v8.0/reference/command/setDefaultRWConcern/
/// MongoDB 8.0: rwc_defaults_commands.idl (strict).
pub static SET_DEFAULT_RW_CONCERN: Args =
    Args::strict(&[implemented("defaultReadConcern"), implemented("defaultWriteConcern")]);

/// setFeatureCompatibilityVersion:
/// https://www.mongodb.com/docs/v8.0/reference/command/setFeatureCompatibilityVersion/
/// MongoDB 8.0: set_feature_compatibility_version.idl (strict).
pub static SET_FEATURE_COMPATIBILITY_VERSION: Args = Args::strict(&[
    implemented("confirm"),
    // fcv.rs: accepted, and nothing is changed either way.
    implemented("dryRun"),
    unsupported("fromConfigServer", "an internal field, sent only by a sharded cluster's config server"),
]);

/// rotateCertificates: https://www.mongodb.com/docs/v8.0/reference/command/rotateCertificates/
/// MongoDB 8.0: rotate_certificates.idl (strict).
pub static ROTATE_CERTIFICATES: Args = Args::strict(&[implemented("message")]);

/// setUserWriteBlockMode: https://www.mongodb.com/docs/v8.0/reference/command/setUserWriteBlockMode/
/// MongoDB 8.0: set_user_write_block_mode.idl (strict).
pub static SET_USER_WRITE_BLOCK_MODE: Args = Args::strict(&[implemented("global"), implemented("reason")]);

/// getClusterParameter: https://www.mongodb.com/docs/v8.0/reference/command/getClusterParameter/
pub static GET_CLUSTER_PARAMETER: Args =
    Args::lenient(&[], "MongoDB 8.0's getClusterParameter ignores fields it does not know");

/// setClusterParameter: https://www.mongodb.com/docs/v8.0/reference/command/setClusterParameter/
pub static SET_CLUSTER_PARAMETER: Args =
    Args::lenient(&[], "MongoDB 8.0's setClusterParameter ignores fields it does not know");

/// compact: https://www.mongodb.com/docs/v8.0/reference/command/compact/
/// MongoDB 8.0: compact.idl (strict).
pub static COMPACT: Args = Args::strict(&[
    implemented("dryRun"),
    // compact.rs: checked; one node is never a replica set's busy primary.
    implemented("force"),
    implemented("freeSpaceTargetMB"),
]);

/// autoCompact: https://www.mongodb.com/docs/v8.0/reference/command/autoCompact/
pub static AUTO_COMPACT: Args = Args::strict(&[implemented("freeSpaceTargetMB"), implemented("runOnce")]);

/// reIndex: https://www.mongodb.com/docs/v8.0/reference/command/reIndex/
pub static RE_INDEX: Args =
    Args::lenient(&[], "reIndex is a BasicCommand in MongoDB 8.0: it ignores fields it does not know");

/// validateDBMetadata: https://www.mongodb.com/docs/v8.0/reference/command/validateDBMetadata/
pub static VALIDATE_DB_METADATA: Args =
    Args::strict(&[implemented("db"), implemented("collection"), implemented("apiParameters")]);

/// setIndexCommitQuorum: https://www.mongodb.com/docs/v8.0/reference/command/setIndexCommitQuorum/
/// MongoDB 8.0: set_index_commit_quorum.idl (strict).
pub static SET_INDEX_COMMIT_QUORUM: Args = Args::strict(&[implemented("indexNames"), implemented("commitQuorum")]);

/// getAuditConfig and setAuditConfig: MongoDB Enterprise's; branchdb answers as
/// Enterprise does without auditing, whatever the fields.
pub static AUDIT_CONFIG: Args =
    Args::lenient(&[], "auditing is not enabled: the command fails before reading any field, as in MongoDB");

/// setQuerySettings: https://www.mongodb.com/docs/v8.0/reference/command/setQuerySettings/
/// MongoDB 8.0: query_settings_cmds.idl (strict).
pub static SET_QUERY_SETTINGS: Args = Args::strict(&[implemented("settings")]);

/// removeQuerySettings: https://www.mongodb.com/docs/v8.0/reference/command/removeQuerySettings/
pub static REMOVE_QUERY_SETTINGS: Args = Args::strict(&[]);
