//! The one error type of branchdb.
//!
//! An [`Error`] either ends a connection (a broken frame, an I/O failure) or becomes a
//! MongoDB-shaped error reply `{ok: 0, errmsg, code, codeName}`; [`Error::closes_connection`]
//! says which. Codes and names are MongoDB's (`src/mongo/base/error_codes.yml`).

use std::fmt;

use bson::{doc, Document};

use crate::lsn::Lsn;

macro_rules! error_codes {
    ($($name:ident = $code:literal),* $(,)?) => {
        /// A MongoDB error code with its canonical name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode { $($name),* }

        impl ErrorCode {
            /// The numeric code, as sent in `code`.
            pub fn code(self) -> i32 {
                match self { $(ErrorCode::$name => $code),* }
            }

            /// The name, as sent in `codeName`.
            pub fn name(self) -> &'static str {
                match self { $(ErrorCode::$name => stringify!($name)),* }
            }

            /// The code numbered `code`, if branchdb knows it.
            pub fn from_code(code: i32) -> Option<ErrorCode> {
                match code { $($code => Some(ErrorCode::$name),)* _ => None }
            }
        }
    };
}

error_codes! {
    InternalError = 1,
    AuditingNotEnabled = 344,
    Location51758 = 51758,
    Location51759 = 51759,
    Location51760 = 51760,
    Location51761 = 51761,
    Location11785400 = 11785400,
    Location40262 = 40262,
    Location40263 = 40263,
    Location40268 = 40268,
    Location28539 = 28539,
    Location13280 = 13280,
    AlreadyInitialized = 23,
    ObjectIsBusy = 314,
    CommandNotSupported = 115,
    QueryRejectedBySettings = 411,
    Location7746402 = 7746402,
    Location7746604 = 7746604,
    Location7746606 = 7746606,
    Location7746800 = 7746800,
    Location8727500 = 8727500,
    Location8727501 = 8727501,
    Location8727502 = 8727502,
    Location8584900 = 8584900,
    Location7182500 = 7182500,
    Location7182502 = 7182502,
    Location7182800 = 7182800,
    Location7182802 = 7182802,
    UserWritesBlocked = 371,
    InvalidSSLConfiguration = 140,
    Location28803 = 28803,
    Location4926900 = 4926900,
    Location7369100 = 7369100,
    UnknownReplWriteConcern = 79,
    UnsatisfiableWriteConcern = 100,
    Location10040 = 10040,
    InvalidRoleModification = 49,
    Location4544712 = 4544712,
    Location4544711 = 4544711,
    Location4544710 = 4544710,
    Location4544709 = 4544709,
    Location4544708 = 4544708,
    Location4544707 = 4544707,
    Location4544706 = 4544706,
    Location4544705 = 4544705,
    Location4544704 = 4544704,
    Location4544703 = 4544703,
    Location4544702 = 4544702,
    Location4544701 = 4544701,
    Location31264 = 31264,
    Location4649200 = 4649200,
    Location4649201 = 4649201,
    Location16662 = 16662,
    Location17279 = 17279,
    UnknownError = 8,
    Location31432 = 31432,
    Location31419 = 31419,
    Location31418 = 31418,
    Location31266 = 31266,
    Location31265 = 31265,
    Location31263 = 31263,
    Location31262 = 31262,
    Location31261 = 31261,
    Location31260 = 31260,
    Location4660800 = 4660800,
    JSInterpreterFailure = 139,
    Unauthorized = 13,
    UserNotFound = 11,
    AuthenticationFailed = 18,
    RoleNotFound = 31,
    MechanismUnavailable = 334,
    Location51002 = 51002,
    Location51003 = 51003,
    BadValue = 2,
    NoSuchKey = 4,
    FailedToParse = 9,
    DocumentValidationFailure = 121,
    QueryFeatureNotAllowed = 224,
    Location51088 = 51088,
    TypeMismatch = 14,
    Overflow = 15,
    IllegalOperation = 20,
    InvalidBSON = 22,
    NamespaceNotFound = 26,
    CursorNotFound = 43,
    CursorInUse = 143,
    CappedPositionLost = 136,
    QueryPlanKilled = 175,
    NamespaceExists = 48,
    MaxTimeMSExpired = 50,
    CommandNotFound = 59,
    InvalidOptions = 72,
    InvalidNamespace = 73,
    ProtocolError = 17,
    ClientMetadataCannotBeMutated = 186,
    UnsupportedOpQueryCommand = 352,
    Location40571 = 40571,
    BSONObjectTooLarge = 10334,
    DuplicateKey = 11000,
    SnapshotTooOld = 239,
    SnapshotUnavailable = 246,
    WriteConflict = 112,
    ConflictingOperationInProgress = 117,
    NoSuchTransaction = 251,
    TransactionCommitted = 256,
    TransactionTooLarge = 257,
    OperationNotSupportedInTransaction = 263,
    InvalidResumeToken = 260,
    ChangeStreamFatalError = 280,
    ChangeStreamHistoryLost = 286,
    NoMatchingDocument = 47,
    Location40674 = 40674,
    FailedToSatisfyReadPreference = 133,
    StaleEpoch = 150,
    RetryChangeStream = 234,
    StaleConfig = 13388,
    StaleShardVersion = 63,
    TransactionTooOld = 225,
    CommandFailed = 125,
    Location50768 = 50768,
    Location50737 = 50737,
    Location50738 = 50738,
    Location50739 = 50739,
    Location50740 = 50740,
    Location50741 = 50741,
    HostUnreachable = 6,
    HostNotFound = 7,
    NetworkTimeout = 89,
    ShutdownInProgress = 91,
    PrimarySteppedDown = 189,
    ExceededTimeLimit = 262,
    SocketException = 9001,
    NotWritablePrimary = 10107,
    InterruptedAtShutdown = 11600,
    InterruptedDueToReplStateChange = 11602,
    NotPrimaryNoSecondaryOk = 13435,
    NotPrimaryOrSecondary = 13436,
    LockTimeout = 24,
    IncompleteTransactionHistory = 217,
    FailPointEnabled = 3008,
    ImmutableField = 66,
    ConflictingUpdateOperators = 40,
    Location31254 = 31254,
    Location40414 = 40414,
    InvalidLength = 16,
    InvalidIdField = 53,
    PathNotViable = 28,
    IndexNotFound = 27,
    AmbiguousIndexKeyPattern = 181,
    CannotConvertIndexToUnique = 359,
    Location5858203 = 5858203,
    CannotCreateIndex = 67,
    IndexOptionsConflict = 85,
    IndexKeySpecsConflict = 86,
    CannotIndexParallelArrays = 171,
    CannotBuildIndexKeys = 201,
    InvalidIndexSpecificationOption = 197,
    NotSingleValueField = 54,
    NoQueryExecutionPlans = 291,
    Location51074 = 51074,
    Location51075 = 51075,
    Location51091 = 51091,
    Location51108 = 51108,
    DollarPrefixedFieldName = 52,
    EmptyFieldName = 56,
    InvalidPipelineOperator = 168,
    CommandNotSupportedOnView = 166,
    GraphContainsCycle = 93,
    ViewDepthLimitExceeded = 165,
    OptionNotSupportedOnView = 167,
    IncompatibleCollationVersion = 161,
    OperationFailed = 96,
    Location5979700 = 5979700,
    Location5979703 = 5979703,
    Location5979704 = 5979704,
    Location6049200 = 6049200,
    Location6049204 = 6049204,
    Location6127800 = 6127800,
    Location15974 = 15974,
    Location15975 = 15975,
    Location15998 = 15998,
    Location16410 = 16410,
    Location16411 = 16411,
    Location16730 = 16730,
    Location16764 = 16764,
    Location16766 = 16766,
    Location16755 = 16755,
    Location40603 = 40603,
    Location5860400 = 5860400,
    Location5860401 = 5860401,
    Location16607 = 16607,
    Location50856 = 50856,
    Location50857 = 50857,
    Location50858 = 50858,
    Location16800 = 16800,
    Location16801 = 16801,
    Location13026 = 13026,
    Location13068 = 13068,
    Location16893 = 16893,
    Location16894 = 16894,
    Location16895 = 16895,
    Location16896 = 16896,
    Location18522 = 18522,
    Location34413 = 34413,
    Location16605 = 16605,
    Location16606 = 16606,
    Location16804 = 16804,
    Location13027 = 13027,
    Location17261 = 17261,
    Location17262 = 17262,
    Location17364 = 17364,
    Location17307 = 17307,
    Location17313 = 17313,
    Location17308 = 17308,
    Location17312 = 17312,
    Location31138 = 31138,
    Location31303 = 31303,
    Location31249 = 31249,
    Location31250 = 31250,
    Location31252 = 31252,
    Location31253 = 31253,
    Location31255 = 31255,
    Location31256 = 31256,
    Location31257 = 31257,
    Location31258 = 31258,
    Location31259 = 31259,
    Location31271 = 31271,
    Location31272 = 31272,
    Location31273 = 31273,
    Location31274 = 31274,
    Location31275 = 31275,
    Location31276 = 31276,
    Location31308 = 31308,
    Location31310 = 31310,
    Location31324 = 31324,
    Location31325 = 31325,
    Location31394 = 31394,
    Location31395 = 31395,
    Location40218 = 40218,
    Location40352 = 40352,
    Location40353 = 40353,
    Location51246 = 51246,
    Location51247 = 51247,
    Location51270 = 51270,
    Location51272 = 51272,
    Location5392900 = 5392900,
    ConversionFailure = 241,
    Location10065 = 10065,
    Location15983 = 15983,
    Location16006 = 16006,
    Location16007 = 16007,
    Location16020 = 16020,
    Location16034 = 16034,
    Location16035 = 16035,
    Location16406 = 16406,
    Location16412 = 16412,
    Location16554 = 16554,
    Location16555 = 16555,
    Location16556 = 16556,
    Location16608 = 16608,
    Location16609 = 16609,
    Location16610 = 16610,
    Location16611 = 16611,
    Location16612 = 16612,
    Location16613 = 16613,
    Location16702 = 16702,
    Location16872 = 16872,
    Location16874 = 16874,
    Location16875 = 16875,
    Location16876 = 16876,
    Location16877 = 16877,
    Location16878 = 16878,
    Location16879 = 16879,
    Location16880 = 16880,
    Location16882 = 16882,
    Location16883 = 16883,
    Location17040 = 17040,
    Location17041 = 17041,
    Location17080 = 17080,
    Location17081 = 17081,
    Location17082 = 17082,
    Location17083 = 17083,
    Location17124 = 17124,
    Location17276 = 17276,
    Location18533 = 18533,
    Location18534 = 18534,
    Location18535 = 18535,
    Location18536 = 18536,
    Location18537 = 18537,
    Location18628 = 18628,
    Location18629 = 18629,
    Location28646 = 28646,
    Location28647 = 28647,
    Location28648 = 28648,
    Location28650 = 28650,
    Location28651 = 28651,
    Location28656 = 28656,
    Location28657 = 28657,
    Location28664 = 28664,
    Location28667 = 28667,
    Location28680 = 28680,
    Location28689 = 28689,
    Location28690 = 28690,
    Location28691 = 28691,
    Location28714 = 28714,
    Location28724 = 28724,
    Location28725 = 28725,
    Location28726 = 28726,
    Location28727 = 28727,
    Location28728 = 28728,
    Location28729 = 28729,
    Location28756 = 28756,
    Location28757 = 28757,
    Location28758 = 28758,
    Location28759 = 28759,
    Location28761 = 28761,
    Location28762 = 28762,
    Location28763 = 28763,
    Location28764 = 28764,
    Location28765 = 28765,
    Location28766 = 28766,
    Location34435 = 34435,
    Location34443 = 34443,
    Location34444 = 34444,
    Location34445 = 34445,
    Location34446 = 34446,
    Location34447 = 34447,
    Location34448 = 34448,
    Location34449 = 34449,
    Location34450 = 34450,
    Location34451 = 34451,
    Location34452 = 34452,
    Location34453 = 34453,
    Location34454 = 34454,
    Location34455 = 34455,
    Location34471 = 34471,
    Location34473 = 34473,
    Location40060 = 40060,
    Location40061 = 40061,
    Location40062 = 40062,
    Location40063 = 40063,
    Location40064 = 40064,
    Location40065 = 40065,
    Location40066 = 40066,
    Location40067 = 40067,
    Location40068 = 40068,
    Location40075 = 40075,
    Location40076 = 40076,
    Location40077 = 40077,
    Location40078 = 40078,
    Location40079 = 40079,
    Location40080 = 40080,
    Location40081 = 40081,
    Location40085 = 40085,
    Location40086 = 40086,
    Location40087 = 40087,
    Location40090 = 40090,
    Location40091 = 40091,
    Location40092 = 40092,
    Location40093 = 40093,
    Location40094 = 40094,
    Location40096 = 40096,
    Location40097 = 40097,
    Location40386 = 40386,
    Location40390 = 40390,
    Location40391 = 40391,
    Location40392 = 40392,
    Location40393 = 40393,
    Location40394 = 40394,
    Location40395 = 40395,
    Location40396 = 40396,
    Location40397 = 40397,
    Location40398 = 40398,
    Location40400 = 40400,
    Location40485 = 40485,
    Location40517 = 40517,
    Location40535 = 40535,
    Location40536 = 40536,
    Location40539 = 40539,
    Location40540 = 40540,
    Location40541 = 40541,
    Location40542 = 40542,
    Location40684 = 40684,
    Location50694 = 50694,
    Location50695 = 50695,
    Location50696 = 50696,
    Location50699 = 50699,
    Location50700 = 50700,
    Location50723 = 50723,
    Location50752 = 50752,
    Location51081 = 51081,
    Location51082 = 51082,
    Location51083 = 51083,
    Location327391 = 327391,
    Location327392 = 327392,
    Location1257300 = 1257300,
    Location3041701 = 3041701,
    Location3041702 = 3041702,
    Location3041705 = 3041705,
    Location4940400 = 4940400,
    Location5654601 = 5654601,
    Location15947 = 15947,
    Location15952 = 15952,
    Location15955 = 15955,
    Location15958 = 15958,
    Location15959 = 15959,
    Location15969 = 15969,
    Location15973 = 15973,
    Location15976 = 15976,
    Location15981 = 15981,
    Location28745 = 28745,
    Location28746 = 28746,
    Location28747 = 28747,
    Location28748 = 28748,
    Location28749 = 28749,
    Location28808 = 28808,
    Location28809 = 28809,
    Location28810 = 28810,
    Location28811 = 28811,
    Location28812 = 28812,
    Location28818 = 28818,
    Location28822 = 28822,
    Location31002 = 31002,
    Location31119 = 31119,
    Location31120 = 31120,
    Location40147 = 40147,
    Location40156 = 40156,
    Location40158 = 40158,
    Location40160 = 40160,
    Location40176 = 40176,
    Location40177 = 40177,
    Location40228 = 40228,
    Location40234 = 40234,
    Location40235 = 40235,
    Location40236 = 40236,
    Location40237 = 40237,
    Location40238 = 40238,
    Location40272 = 40272,
    Location40323 = 40323,
    Location40324 = 40324,
    Location40415 = 40415,
    Location5626500 = 5626500,
    Location5107200 = 5107200,
    Location5107201 = 5107201,
    MergeStageNoMatchingDocument = 13113,
    Location16990 = 16990,
    Location31465 = 31465,
    Location40601 = 40601,
    Location51132 = 51132,
    Location51134 = 51134,
    Location51178 = 51178,
    Location51181 = 51181,
    Location51183 = 51183,
    Location51185 = 51185,
    Location51186 = 51186,
    Location51187 = 51187,
    Location51191 = 51191,
    Location51199 = 51199,
    Location51273 = 51273,
    Location5786800 = 5786800,
    Location5786801 = 5786801,
    Location4738901 = 4738901,
    Location4890500 = 4890500,
    Location51198 = 51198,
    Location4161100 = 4161100,
    Location4161101 = 4161101,
    Location4161102 = 4161102,
    Location4161103 = 4161103,
    Location4161105 = 4161105,
    Location4161106 = 4161106,
    Location4161107 = 4161107,
    Location4161108 = 4161108,
    Location4161109 = 4161109,
    Location3041703 = 3041703,
    Location5654600 = 5654600,
    Location5654602 = 5654602,
    Location3040501 = 3040501,
    Interrupted = 11601,
    Location40602 = 40602,
    Location40166 = 40166,
    Location51024 = 51024,
    QueryExceededMemoryLimitNoDiskUseAllowed = 292,
    ExceededMemoryLimit = 146,
    TooManyLogicalSessions = 261,
    Location4568 = 4568,
    Location4031 = 4031,
    Location40600 = 40600,
    Location51047 = 51047,
    Location40169 = 40169,
    Location40170 = 40170,
    Location40171 = 40171,
    Location40191 = 40191,
    Location40192 = 40192,
    Location40193 = 40193,
    Location40194 = 40194,
    Location40195 = 40195,
    Location40196 = 40196,
    Location40197 = 40197,
    Location40198 = 40198,
    Location40199 = 40199,
    Location40200 = 40200,
    Location40201 = 40201,
    Location40202 = 40202,
    Location40239 = 40239,
    Location40240 = 40240,
    Location40241 = 40241,
    Location40242 = 40242,
    Location40243 = 40243,
    Location40244 = 40244,
    Location40245 = 40245,
    Location40246 = 40246,
    Location40257 = 40257,
    Location40258 = 40258,
    Location40259 = 40259,
    Location40260 = 40260,
    Location40261 = 40261,
    NotImplemented = 238,
    APIVersionError = 322,
    APIStrictError = 323,
    Location4886600 = 4886600,
    Location17042 = 17042,
    Location17043 = 17043,
    Location17044 = 17044,
    Location17045 = 17045,
    Location17046 = 17046,
    Location17047 = 17047,
    Location17048 = 17048,
    Location17049 = 17049,
    Location17310 = 17310,
    Location17311 = 17311,
    Location51744 = 51744,
    Location51745 = 51745,
    Location51746 = 51746,
    Location51747 = 51747,
    Location51748 = 51748,
    Location51749 = 51749,
    Location51750 = 51750,
    Location51751 = 51751,
    Location31022 = 31022,
    Location31023 = 31023,
    Location31024 = 31024,
    Location51104 = 51104,
    Location51105 = 51105,
    Location51106 = 51106,
    Location51107 = 51107,
    Location51109 = 51109,
    Location51110 = 51110,
    Location51111 = 51111,
    Location51151 = 51151,
    Location51156 = 51156,
    Location34460 = 34460,
    Location34461 = 34461,
    Location34462 = 34462,
    Location34463 = 34463,
    Location34464 = 34464,
    Location34465 = 34465,
    Location34466 = 34466,
    Location34467 = 34467,
    Location34468 = 34468,
    Location31393 = 31393,
    Location51276 = 51276,
    Location51103 = 51103,
    Location50989 = 50989,
    Location51044 = 51044,
    Location51045 = 51045,
    Location5687301 = 5687301,
    Location5687302 = 5687302,
    Location13548 = 13548,
    Location5439013 = 5439013,
    Location5439015 = 5439015,
    Location5439016 = 5439016,
    Location5166406 = 5166406,
    Location5976500 = 5976500,
    Location5166400 = 5166400,
    Location5166401 = 5166401,
    Location5166402 = 5166402,
    Location5166403 = 5166403,
    Location5166405 = 5166405,
    Location6045000 = 6045000,
    Location5166301 = 5166301,
    Location5166302 = 5166302,
    Location5166303 = 5166303,
    Location5166304 = 5166304,
    Location5166305 = 5166305,
    Location5166307 = 5166307,
    Location5166308 = 5166308,
    Location5439007 = 5439007,
    Location5439008 = 5439008,
    Location5439009 = 5439009,
    Location5439010 = 5439010,
    Location5439000 = 5439000,
    Location5439001 = 5439001,
    Location5439002 = 5439002,
    Location5439004 = 5439004,
    Location5439006 = 5439006,
    Location5439017 = 5439017,
    Location5439018 = 5439018,
    Location40519 = 40519,
    Location40518 = 40518,
    Location40516 = 40516,
    Location40489 = 40489,
    Location40525 = 40525,
    Location40515 = 40515,
    Location31034 = 31034,
    Location40523 = 40523,
    Location31095 = 31095,
    Location40524 = 40524,
    Location40520 = 40520,
    Location40522 = 40522,
    Location40521 = 40521,
    Location2942500 = 2942500,
    Location2942501 = 2942501,
    Location2942502 = 2942502,
    Location2942503 = 2942503,
    Location2942504 = 2942504,
    Location2942505 = 2942505,
    Location2942506 = 2942506,
    Location2942507 = 2942507,
    Location5787801 = 5787801,
    Location5787900 = 5787900,
    Location5787901 = 5787901,
    Location5787902 = 5787902,
    Location5787903 = 5787903,
    Location5787906 = 5787906,
    Location5787907 = 5787907,
    Location5787908 = 5787908,
    Location5788200 = 5788200,
    Location7436200 = 7436200,
    Location7436201 = 7436201,
    Location7750300 = 7750300,
    Location7750301 = 7750301,
    Location7750302 = 7750302,
    Location7750303 = 7750303,
    Location5887502 = 5887502,
    Location5788001 = 5788001,
    Location5788002 = 5788002,
    Location5788003 = 5788003,
    Location5788004 = 5788004,
    Location5788005 = 5788005,
    Location7429703 = 7429703,
    Location7436100 = 7436100,
    Location5339900 = 5339900,
    Location5339901 = 5339901,
    Location5339902 = 5339902,
    Location8947400 = 8947400,
    Location8947401 = 8947401,
    Location5429413 = 5429413,
    Location5429414 = 5429414,
    Location5429513 = 5429513,
    Location5371601 = 5371601,
    Location5371602 = 5371602,
    Location5371603 = 5371603,
    Location605001 = 605001,
    Location6050106 = 6050106,
    Location5490710 = 5490710,
    Location5624900 = 5624900,
    Location5624901 = 5624901,
    Location5624902 = 5624902,
    Location5624903 = 5624903,
    Location5423900 = 5423900,
    Location5423901 = 5423901,
    Location5423902 = 5423902,
    Location6307900 = 6307900,
    Location5414201 = 5414201,
    Location5733401 = 5733401,
    Location6586400 = 6586400,
    Location5733403 = 5733403,
    Location5733402 = 5733402,
    Location5733409 = 5733409,
    Location5733406 = 5733406,
    Location5876900 = 5876900,
    Location5733405 = 5733405,
    Location5733410 = 5733410,
    Location5946800 = 5946800,
    Location5946802 = 5946802,
    Location5733404 = 5733404,
    Location5733408 = 5733408,
    Location5733201 = 5733201,
    Location6053600 = 6053600,
    Location5897900 = 5897900,
    Location6050203 = 6050203,
    Location6050200 = 6050200,
    Location6050201 = 6050201,
    Location6050202 = 6050202,
    Location6050204 = 6050204,
    Location31441 = 31441,
    Location17053 = 17053,
    Location40099 = 40099,
    Location40100 = 40100,
    Location40101 = 40101,
    Location40102 = 40102,
    Location40103 = 40103,
    Location40104 = 40104,
    Location40105 = 40105,
    Location40185 = 40185,
    Location4341106 = 4341106,
    Location4341107 = 4341107,
    Location4341108 = 4341108,
    Location4341114 = 4341114,
    Location4341115 = 4341115,
    Location4341125 = 4341125,
}

/// Everything that can go wrong while serving a request or running the server.
#[derive(Debug)]
pub enum Error {
    /// A malformed frame: the peer cannot be trusted to stay in sync, so the
    /// connection is closed.
    Protocol(String),
    /// An I/O failure on a socket or a file.
    Io(std::io::Error),
    /// A command failed; the client gets `{ok: 0, code, codeName, errmsg}`, the
    /// fields of `info` when there are some (a duplicate key's `keyPattern` and
    /// `keyValue`), and `errorLabels` when it has labels (what a driver may do
    /// about it: `TransientTransactionError`, `RetryableWriteError`, ...).
    Command { code: ErrorCode, message: String, info: Option<Box<Document>>, labels: Vec<&'static str> },
    /// The configuration could not be loaded.
    Config(String),
    /// A bug or a broken invariant: a task that panicked, a value that cannot encode.
    Internal(String),
    /// The write-ahead log holds damage where acknowledged data lives; startup is
    /// refused rather than opening without it.
    Corrupt { file: String, offset: u64, lsn: Lsn, reason: String },
    /// A record with a valid checksum that this build cannot read (a newer format).
    IncompatibleVersion { file: String, offset: u64, lsn: Lsn, reason: String },
    /// A write or fsync of the log failed earlier: nothing is acknowledged until a
    /// restart has recovered the log.
    WalPoisoned(String),
    /// The materialized store failed (its engine reported an error, or an earlier
    /// failure left it behind the log): writes stop until a restart replays the log.
    Store(String),
    /// A write applied but not made durable in time (its storage unreachable): it
    /// is not acknowledged, and it still becomes durable if the storage comes back.
    /// `lsn` is its record and `time` that record's time, once known; a retry of
    /// the write or of the commit waits for it. Reported as `HostUnreachable` (6),
    /// which drivers retry.
    NotDurable { lsn: Lsn, time: Option<bson::DateTime>, message: String },
}

/// Shorthand used everywhere in the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A command error with the given code.
    pub fn command(code: ErrorCode, message: impl Into<String>) -> Self {
        Error::Command { code, message: message.into(), info: None, labels: Vec::new() }
    }

    /// The same error with an error label added (command errors only; a label is
    /// added once).
    pub fn with_label(mut self, label: &'static str) -> Self {
        if let Error::Command { labels, .. } = &mut self {
            if !labels.contains(&label) {
                labels.push(label);
            }
        }
        self
    }

    /// The message of a command error (its text for any other).
    pub fn message(&self) -> String {
        match self {
            Error::Command { message, .. } | Error::NotDurable { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }

    /// The error labels of a command error.
    pub fn labels(&self) -> &[&'static str] {
        match self {
            Error::Command { labels, .. } => labels,
            _ => &[],
        }
    }

    /// MongoDB's duplicate key error (11000) for index `index` of `ns`, whose key
    /// pattern `pattern` has the value `value` in two documents.
    pub fn duplicate_key(ns: &str, index: &str, pattern: &Document, value: &Document) -> Self {
        let shown: Vec<String> = value.iter().map(|(field, v)| format!("{field}: {v}")).collect();
        Error::Command {
            code: ErrorCode::DuplicateKey,
            message: format!(
                "E11000 duplicate key error collection: {ns} index: {index} dup key: {{ {} }}",
                shown.join(", ")
            ),
            info: Some(Box::new(doc! { "keyPattern": pattern.clone(), "keyValue": value.clone() })),
            labels: Vec::new(),
        }
    }

    /// The duplicate key error of the `_id` index: a document with `id` exists.
    pub fn duplicate_id(ns: &str, id: &bson::Bson) -> Self {
        Error::duplicate_key(ns, "_id_", &bson::doc! { "_id": 1 }, &bson::doc! { "_id": id.clone() })
    }

    /// The duplicate key error of a clustered collection, whose cluster key is no
    /// index: a document with `id` exists.
    pub fn duplicate_cluster_key(ns: &str, id: &bson::Bson) -> Self {
        let error = Error::duplicate_id(ns, id);
        match error {
            Error::Command { code, message, info, labels } => {
                Error::Command { code, message: message.replacen(" index: _id_", "", 1), info, labels }
            }
            other => other,
        }
    }

    /// The extra reply fields of a command error (see [`Error::Command`]).
    pub fn info(&self) -> Option<&Document> {
        match self {
            Error::Command { info, .. } => info.as_deref(),
            _ => None,
        }
    }

    /// What a read replica answers a write: it is no primary (10107, which drivers
    /// take as a reason to look for the primary).
    pub fn replica_write() -> Self {
        Self::command(ErrorCode::NotWritablePrimary, "not primary: this server is a read replica and takes no writes")
    }

    /// `BadValue` (2): an argument has the right type but a wrong value.
    pub fn bad_value(message: impl Into<String>) -> Self {
        Self::command(ErrorCode::BadValue, message)
    }

    /// `TypeMismatch` (14): an argument has the wrong BSON type.
    pub fn type_mismatch(message: impl Into<String>) -> Self {
        Self::command(ErrorCode::TypeMismatch, message)
    }

    /// The same error with MongoDB's context prefix: `<context> :: caused by :: <message>`.
    /// Errors that are not command errors pass through unchanged.
    pub fn caused_by(self, context: &str) -> Self {
        match self {
            Error::Command { code, message, info, labels } => {
                Error::Command { code, message: format!("{context} :: caused by :: {message}"), info, labels }
            }
            other => other,
        }
    }

    /// A malformed frame.
    pub fn protocol(message: impl Into<String>) -> Self {
        Error::Protocol(message.into())
    }

    /// Whether this error ends the connection instead of becoming an error reply.
    pub fn closes_connection(&self) -> bool {
        matches!(self, Error::Protocol(_) | Error::Io(_))
    }

    /// The MongoDB code this error is reported with.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Command { code, .. } => *code,
            Error::Protocol(_) => ErrorCode::ProtocolError,
            Error::Io(_)
            | Error::Config(_)
            | Error::Internal(_)
            | Error::Corrupt { .. }
            | Error::IncompatibleVersion { .. }
            | Error::WalPoisoned(_)
            | Error::Store(_) => ErrorCode::InternalError,
            Error::NotDurable { .. } => ErrorCode::HostUnreachable,
        }
    }

    /// The reply document `{ok: 0, errmsg, code, codeName}`.
    pub fn to_reply(&self) -> Document {
        let code = self.code();
        let errmsg = self.message();
        let mut reply = doc! { "ok": 0.0, "errmsg": errmsg, "code": code.code(), "codeName": code.name() };
        reply.extend(self.info().cloned().unwrap_or_default());
        if !self.labels().is_empty() {
            reply.insert("errorLabels", self.labels().to_vec());
        }
        reply
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Protocol(m) => write!(f, "protocol error: {m}"),
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Command { code, message, .. } => write!(f, "{} ({}): {message}", code.name(), code.code()),
            Error::Config(m) => write!(f, "configuration error: {m}"),
            Error::Internal(m) => write!(f, "internal error: {m}"),
            Error::Corrupt { file, offset, lsn, reason } => {
                write!(f, "WAL damaged in {file} at offset {offset} (LSN {lsn}): {reason}; refusing to start")
            }
            Error::IncompatibleVersion { file, offset, lsn, reason } => {
                write!(f, "WAL record in {file} at offset {offset} (LSN {lsn}) is incompatible: {reason}")
            }
            Error::WalPoisoned(why) => write!(f, "the write-ahead log failed earlier ({why}); restart to recover"),
            Error::Store(why) => write!(f, "store error: {why}"),
            Error::NotDurable { message, .. } => write!(f, "{message}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_errors_become_replies_and_keep_the_connection() {
        let err = Error::command(ErrorCode::CommandNotFound, "no such command: 'x'");
        assert!(!err.closes_connection());
        let reply = err.to_reply();
        assert_eq!(reply.get_f64("ok"), Ok(0.0));
        assert_eq!(reply.get_i32("code"), Ok(59));
        assert_eq!(reply.get_str("codeName"), Ok("CommandNotFound"));
        assert_eq!(reply.get_str("errmsg"), Ok("no such command: 'x'"));
    }

    #[test]
    fn protocol_errors_close_the_connection() {
        assert!(Error::protocol("bad frame").closes_connection());
    }

    #[test]
    fn labels_reach_the_reply_once_each_and_only_when_present() {
        let plain = Error::command(ErrorCode::BadValue, "x").to_reply();
        assert!(plain.get("errorLabels").is_none(), "{plain}");
        let err = Error::command(ErrorCode::BadValue, "x")
            .with_label("TransientTransactionError")
            .with_label("TransientTransactionError")
            .caused_by("context");
        assert_eq!(err.labels(), ["TransientTransactionError"]);
        let reply = err.to_reply();
        assert_eq!(reply.get_array("errorLabels").ok(), Some(&vec![bson::Bson::from("TransientTransactionError")]));
        assert!(Error::protocol("x").with_label("RetryableWriteError").labels().is_empty());
    }
}
