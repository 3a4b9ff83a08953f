//! The arguments of the commands that read and write documents, collections,
//! indexes and statistics, against MongoDB 8.0: the fields of each command's manual
//! page, and strictness as MongoDB's parser for the command has it.

use super::{ignored, implemented, unsupported, Args};

/// find: https://www.mongodb.com/docs/v8.0/reference/command/find/
pub static FIND: Args = Args::strict(&[
    implemented("filter"),
    implemented("sort"),
    implemented("projection"),
    implemented("hint"),
    implemented("skip"),
    implemented("limit"),
    implemented("batchSize"),
    implemented("singleBatch"),
    implemented("collation"), // filter and sort; computed/$elemMatch projections refuse a non-simple one (238)
    implemented("let"),
    unsupported("max", "index bounds (min/max) are not supported yet"),
    unsupported("min", "index bounds (min/max) are not supported yet"),
    unsupported("returnKey", "returnKey is not supported yet"),
    unsupported("showRecordId", "record ids are not exposed by branchdb"),
    implemented("tailable"), // capped collections only
    implemented("awaitData"),
    ignored(
        "noCursorTimeout",
        "MongoDB ignores it for cursors opened in a session, and drivers open every cursor in one",
    ),
    // Default: allowDiskUseByDefault (true, as MongoDB 8.0). Gap: true keeps the sort in
    // memory within --max-memory rather than spilling it.
    implemented("allowDiskUse"),
    ignored("oplogReplay", "A no-op since MongoDB 4.4, accepted for backwards compatibility."),
    ignored("allowPartialResults", "Only matters when a shard is unavailable; branchdb's single node always answers."),
]);

/// getMore: https://www.mongodb.com/docs/v8.0/reference/command/getMore/
pub static GET_MORE: Args = Args::strict(&[
    implemented("collection"),
    // Gap: batchSize: 0 is taken as "no limit"; MongoDB refuses a non-positive getMore batchSize.
    implemented("batchSize"),
    // Not listed (generic): maxTimeMS. MongoDB only allows it on getMore of a tailable awaitData
    // cursor (BadValue otherwise); branchdb treats it as a deadline for this batch.
    // Not listed (internal, replication only): term, lastKnownCommittedOpTime.
]);

/// killCursors: https://www.mongodb.com/docs/v8.0/reference/command/killCursors/
pub static KILL_CURSORS: Args = Args::strict(&[implemented("cursors")]);

/// insert: https://www.mongodb.com/docs/v8.0/reference/command/insert/
pub static INSERT: Args =
    Args::strict(&[implemented("documents"), implemented("ordered"), implemented("bypassDocumentValidation")]);

/// bulkWrite: https://www.mongodb.com/docs/v8.0/reference/command/bulkWrite/
pub static BULK_WRITE: Args = Args::strict(&[
    implemented("ops"),
    implemented("nsInfo"),
    implemented("cursor"),
    implemented("ordered"),
    implemented("errorsOnly"),
    implemented("let"),
    implemented("bypassDocumentValidation"),
    // Internal (a router numbers a shard's statements); read as the first id.
    implemented("stmtId"),
    implemented("stmtIds"),
]);

/// filemd5: https://www.mongodb.com/docs/v8.0/reference/command/filemd5/
pub static FILEMD5: Args = Args::strict(&[
    implemented("root"),
    unsupported("partialOk", "a resumable digest's state is MongoDB's own MD5 implementation's"),
    unsupported("startAt", "a resumable digest's state is MongoDB's own MD5 implementation's"),
    unsupported("md5state", "a resumable digest's state is MongoDB's own MD5 implementation's"),
]);

/// mapReduce: https://www.mongodb.com/docs/v8.0/reference/command/mapReduce/
pub static MAP_REDUCE: Args = Args::strict(&[
    implemented("map"),
    implemented("reduce"),
    implemented("out"),
    implemented("query"),
    implemented("sort"),
    implemented("limit"),
    implemented("finalize"),
    implemented("scope"),
    implemented("collation"),
    implemented("bypassDocumentValidation"),
    ignored("jsMode", "MongoDB ignores it too: every function runs in JavaScript"),
    ignored("verbose", "MongoDB 8.0 adds nothing to the reply for it"),
]);

/// update: https://www.mongodb.com/docs/v8.0/reference/command/update/
pub static UPDATE: Args = Args::strict(&[
    implemented("updates"),
    implemented("ordered"),
    implemented("let"),
    implemented("bypassDocumentValidation"),
    // The 8.0 page also lists `sort` in its command-field table, but it is a field of each
    // update statement (UpdateOpEntry, new in 8.0), not of the command: see the findings.
]);

/// delete: https://www.mongodb.com/docs/v8.0/reference/command/delete/
pub static DELETE: Args = Args::strict(&[
    implemented("deletes"),
    implemented("ordered"),
    implemented("let"),
    ignored("bypassDocumentValidation", "Deletes store no document: there is nothing to check, as in MongoDB."),
]);

/// findAndModify: https://www.mongodb.com/docs/v8.0/reference/command/findAndModify/
pub static FIND_AND_MODIFY: Args = Args::strict(&[
    implemented("query"),
    implemented("sort"),
    implemented("remove"),
    implemented("update"),
    implemented("new"),
    implemented("fields"),
    implemented("upsert"),
    implemented("collation"), // query and sort; comparing update operators refuse a non-simple one (238)
    implemented("arrayFilters"), // read by update::array_filters
    implemented("let"),
    implemented("hint"),
    implemented("bypassDocumentValidation"),
]);

/// aggregate: https://www.mongodb.com/docs/v8.0/reference/command/aggregate/
pub static AGGREGATE: Args = Args::strict(&[
    implemented("pipeline"),
    implemented("explain"),
    // Default: allowDiskUseByDefault (true, as MongoDB 8.0). $sort and $group spill with it;
    // the other blocking stages stay in memory within --max-memory.
    implemented("allowDiskUse"),
    implemented("cursor"),
    implemented("collation"), // $match, $sort, $group keys; other comparing stages refuse a non-simple one (238)
    // Gap: only read when the pipeline starts with $match (plan::choose); otherwise neither
    // applied nor checked (MongoDB errors for a hint naming no index).
    implemented("hint"),
    implemented("let"),
    implemented("bypassDocumentValidation"), // for the writes of $out and $merge
]);

/// count: https://www.mongodb.com/docs/v8.0/reference/command/count/
pub static COUNT: Args = Args::strict(&[
    implemented("query"),
    implemented("limit"),
    implemented("skip"),
    implemented("hint"),
    implemented("collation"),
    ignored("fields", "Sent by old shells; MongoDB's count parser ignores it (ignore: true in its IDL)."),
]);

/// distinct: https://www.mongodb.com/docs/v8.0/reference/command/distinct/
pub static DISTINCT: Args =
    Args::strict(&[implemented("key"), implemented("query"), implemented("collation"), implemented("hint")]);

/// explain: https://www.mongodb.com/docs/v8.0/reference/command/explain/
pub static EXPLAIN: Args = Args::strict(&[implemented("verbosity")]);

/// create: https://www.mongodb.com/docs/v8.0/reference/command/create/
///
/// The handler stores every non-generic field verbatim as a collection option (shown by
/// listCollections), so an `ignored` option below is still echoed in `options`, where MongoDB
/// would normalise it away.
pub static CREATE: Args = Args::strict(&[
    implemented("capped"),
    implemented("timeseries"),
    implemented("expireAfterSeconds"), // clustered and time series collections
    implemented("clusteredIndex"),
    // Stored with the collection; pre- and post-images are on unless it says {enabled: false}.
    implemented("changeStreamPreAndPostImages"),
    // MongoDB: true is a deprecated no-op, false creates a collection without an _id index.
    unsupported("autoIndexId", "collections always have an _id index"),
    // Not in the 8.0 manual, but sent by mongorestore: the default `_id` index is
    // accepted, any other is refused by the handler.
    implemented("idIndex"),
    // Without capped: true, refused as MongoDB 8.0 refuses them (InvalidOptions).
    implemented("size"),
    implemented("max"),
    unsupported("storageEngine", "storage engine options are not supported"),
    implemented("validator"),
    implemented("validationLevel"),
    implemented("validationAction"),
    unsupported("indexOptionDefaults", "storage engine options are not supported"),
    implemented("viewOn"),
    implemented("pipeline"),
    implemented("collation"), // only {locale: "simple"} (collection defaults refused at dispatch), which is not kept
    unsupported("encryptedFields", "Queryable Encryption is not supported"),
]);

/// collMod: https://www.mongodb.com/docs/v8.0/reference/command/collMod/
pub static COLL_MOD: Args = Args::strict(&[
    implemented("changeStreamPreAndPostImages"),
    implemented("validator"),
    implemented("validationLevel"),
    implemented("validationAction"),
    implemented("index"), // hidden, expireAfterSeconds, prepareUnique, unique (forceNonUnique refused)
    implemented("viewOn"),
    implemented("pipeline"),
    implemented("expireAfterSeconds"), // clustered and time series collections
    implemented("timeseries"),         // granularity, bucketMaxSpanSeconds with bucketRoundingSeconds
    unsupported(
        "timeseriesBucketsMayHaveMixedSchemaData",
        "branchdb keeps measurements as documents, not buckets: there is no bucket schema to flag",
    ),
    implemented("cappedSize"),
    implemented("cappedMax"),
    implemented("dryRun"), // with index.unique: checks for duplicates, changes nothing
]);

/// convertToCapped: https://www.mongodb.com/docs/v8.0/reference/command/convertToCapped/
pub static CONVERT_TO_CAPPED: Args = Args::strict(&[implemented("size")]);

/// cloneCollectionAsCapped: https://www.mongodb.com/docs/v8.0/reference/command/cloneCollectionAsCapped/
pub static CLONE_COLLECTION_AS_CAPPED: Args = Args::strict(&[implemented("toCollection"), implemented("size")]);

/// drop: https://www.mongodb.com/docs/v8.0/reference/command/drop/
pub static DROP: Args = Args::strict(&[]);

/// dropDatabase: https://www.mongodb.com/docs/v8.0/reference/command/dropDatabase/
pub static DROP_DATABASE: Args = Args::strict(&[]);

/// renameCollection: https://www.mongodb.com/docs/v8.0/reference/command/renameCollection/
pub static RENAME_COLLECTION: Args = Args::strict(&[implemented("to"), implemented("dropTarget")]);

/// listCollections: https://www.mongodb.com/docs/v8.0/reference/command/listCollections/
pub static LIST_COLLECTIONS: Args = Args::strict(&[
    implemented("filter"),
    implemented("nameOnly"),
    ignored(
        "authorizedCollections",
        "Without access control every collection is listed, as a mongod without auth does.",
    ),
    implemented("cursor"),
]);

/// listDatabases: https://www.mongodb.com/docs/v8.0/reference/command/listDatabases/
pub static LIST_DATABASES: Args = Args::strict(&[
    implemented("filter"),
    implemented("nameOnly"),
    ignored("authorizedDatabases", "Without access control every database is listed, as a mongod without auth does."),
]);

/// createIndexes: https://www.mongodb.com/docs/v8.0/reference/command/createIndexes/
pub static CREATE_INDEXES: Args = Args::strict(&[
    implemented("indexes"),
    // MongoDB refuses it on a standalone and checks it against the replica set's members.
    unsupported("commitQuorum", "index build commit quorums need a replica set"),
]);

/// dropIndexes: https://www.mongodb.com/docs/v8.0/reference/command/dropIndexes/
pub static DROP_INDEXES: Args = Args::strict(&[implemented("index")]);

/// listIndexes: https://www.mongodb.com/docs/v8.0/reference/command/listIndexes/
pub static LIST_INDEXES: Args = Args::strict(&[implemented("cursor")]);

/// validate: https://www.mongodb.com/docs/v8.0/reference/command/validate/
pub static VALIDATE: Args = Args::lenient(
    &[
        // Every check is always made. Gap: MongoDB takes any type (trueValue) and refuses
        // full with background; args::boolean refuses non-boolean, non-number values.
        implemented("full"),
        // repair: true is refused by the handler itself (InvalidOptions); false is the default.
        implemented("repair"),
        unsupported("metadata", "metadata-only validation is not supported yet"),
        // The handler decodes every document anyway, but does not run MongoDB's extra checks.
        unsupported("checkBSONConformance", "checkBSONConformance is not supported yet"),
        unsupported("background", "background validation is not supported yet"),
    ],
    "MongoDB's validate reads the options it knows from the command object and ignores any other field.",
);

/// collStats: https://www.mongodb.com/docs/v8.0/reference/command/collStats/
/// (strictness: 8.0 parses it with an IDL command, CollStatsCommand, assumed strict as IDL commands are by default)
pub static COLL_STATS: Args = Args::strict(&[
    implemented("scale"),
    // Not on the 8.0 page, but part of the command's StorageStatsSpec and accepted (ignored) by
    // branchdb's $collStats storageStats. Judgment call: MongoDB acts on them, but only on the
    // wiredTiger section and lock waits, neither of which branchdb has.
    ignored("verbose", "Only adds wiredTiger details, a section branchdb does not report."),
    ignored("waitForLock", "branchdb reads a snapshot and never waits for a lock."),
    ignored("numericOnly", "Only trims the wiredTiger section, which branchdb does not report."),
]);

/// dbHash: https://www.mongodb.com/docs/v8.0/reference/command/dbHash/
pub static DB_HASH: Args = Args::strict(&[implemented("collections")]);

/// dataSize: https://www.mongodb.com/docs/v8.0/reference/command/dataSize/
pub static DATA_SIZE: Args = Args::strict(&[
    implemented("keyPattern"),
    implemented("min"),
    implemented("max"),
    ignored("estimate", "The size is always counted exactly."),
]);

/// dbStats: https://www.mongodb.com/docs/v8.0/reference/command/dbStats/
/// (strictness: 8.0 parses it with an IDL command, DBStatsCommand, assumed strict)
pub static DB_STATS: Args = Args::strict(&[
    implemented("scale"),
    implemented("freeStorage"), // the free-space figures are reported, as 0
]);

/// planCacheSetFilter: https://www.mongodb.com/docs/v8.0/reference/command/planCacheSetFilter/
/// MongoDB 8.0: a BasicCommand, which ignores fields it does not know.
pub static PLAN_CACHE_SET_FILTER: Args = Args::lenient(
    &[
        implemented("query"),
        implemented("sort"),
        implemented("projection"),
        implemented("collation"),
        implemented("indexes"),
    ],
    "planCacheSetFilter is a BasicCommand in MongoDB 8.0: it ignores fields it does not know",
);

/// planCacheClearFilters: https://www.mongodb.com/docs/v8.0/reference/command/planCacheClearFilters/
pub static PLAN_CACHE_CLEAR_FILTERS: Args = Args::lenient(
    &[implemented("query"), implemented("sort"), implemented("projection"), implemented("collation")],
    "planCacheClearFilters is a BasicCommand in MongoDB 8.0: it ignores fields it does not know",
);

/// planCacheListFilters: https://www.mongodb.com/docs/v8.0/reference/command/planCacheListFilters/
pub static PLAN_CACHE_LIST_FILTERS: Args =
    Args::lenient(&[], "planCacheListFilters is a BasicCommand in MongoDB 8.0: it ignores fields it does not know");

/// planCacheClear: https://www.mongodb.com/docs/v8.0/reference/command/planCacheClear/
pub static PLAN_CACHE_CLEAR: Args = Args::lenient(
    &[implemented("query"), implemented("sort"), implemented("projection"), implemented("collation")],
    "planCacheClear is a BasicCommand in MongoDB 8.0: it ignores fields it does not know",
);
