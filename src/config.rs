//! Settings, layered from lowest to highest: built-in defaults, the TOML file
//! (`config/branchdb.toml` when present, or `--config`), `BRANCHDB_<KEY>` environment
//! variables, then command-line flags.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};

/// The config file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_PATH: &str = "config/branchdb.toml";

/// When a write is acknowledged (SPEC §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// After its WAL record is fsynced; concurrent writers share one fsync.
    Strict,
    /// After its WAL record is written to the OS; fsync every `batch_interval_ms`.
    Batched,
    /// After it is applied in memory.
    None,
}

/// Which connections are TLS (MongoDB's `--tlsMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
pub enum TlsMode {
    /// Plain connections only.
    #[serde(rename = "disabled")]
    #[value(name = "disabled")]
    Disabled,
    /// TLS and plain connections (a single node makes no connections of its own, so
    /// `allowTLS` and `preferTLS` serve alike).
    #[serde(rename = "allowTLS")]
    #[value(name = "allowTLS")]
    Allow,
    #[serde(rename = "preferTLS")]
    #[value(name = "preferTLS")]
    Prefer,
    /// TLS connections only.
    #[serde(rename = "requireTLS")]
    #[value(name = "requireTLS")]
    Require,
}

/// How log lines are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The effective settings of a server.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub bind: String,
    pub data_dir: PathBuf,
    /// The log and the store in object storage (`s3://bucket/prefix` or
    /// `file:///path`) instead of the data directory.
    pub storage: Option<String>,
    /// Follow the writer of this object storage as a read replica.
    pub replica_of: Option<String>,
    /// The writer's address (`host:port`), which a read replica's `hello` names.
    pub primary: Option<String>,
    /// The most the cache of objects under the data directory holds, in bytes (in
    /// object storage); 0: no cache on the local disk.
    pub storage_cache_size: u64,
    pub durability: Durability,
    pub batch_interval_ms: u64,
    pub max_connections: usize,
    pub log: String,
    pub log_format: LogFormat,
    /// How long history stays readable: "7d", "12h", "30m", "90s".
    pub history_retention: String,
    /// Seconds between passes of the TTL expirer (MongoDB's `ttlMonitorSleepSecs`).
    pub ttl_monitor_sleep_secs: u64,
    /// Accept test commands (`configureFailPoint`), as MongoDB's `enableTestCommands`.
    pub enable_test_commands: bool,
    /// The memory the server may use, in bytes ([`crate::memory`]): `None`, half the
    /// machine's.
    pub max_memory: Option<usize>,
    /// Where to serve Prometheus metrics (`/metrics`); `None`: nowhere.
    pub metrics_bind: Option<String>,
    /// Access control: commands need an authenticated user (SPEC §8).
    pub auth: bool,
    /// Serve a non-loopback address with access control off.
    pub allow_unauthenticated: bool,
    pub tls_mode: TlsMode,
    /// The server's certificate chain (PEM); its key too when `tls_key_file` is unset.
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// The authorities whose client certificates are accepted (PEM).
    pub tls_ca_file: Option<PathBuf>,
    /// With a CA file, serve clients that present no certificate too.
    pub tls_allow_connections_without_certificates: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: "127.0.0.1:27017".into(),
            data_dir: PathBuf::from("branchdb-data"),
            storage: None,
            replica_of: None,
            primary: None,
            storage_cache_size: DEFAULT_STORAGE_CACHE,
            durability: Durability::Strict,
            batch_interval_ms: 100,
            max_connections: 10_000,
            log: "info".into(),
            log_format: LogFormat::Text,
            history_retention: "7d".into(),
            ttl_monitor_sleep_secs: 60,
            enable_test_commands: false,
            max_memory: None,
            metrics_bind: None,
            auth: false,
            allow_unauthenticated: false,
            tls_mode: TlsMode::Disabled,
            tls_cert_file: None,
            tls_key_file: None,
            tls_ca_file: None,
            tls_allow_connections_without_certificates: false,
        }
    }
}

/// Settings that one layer may set; unset fields fall through to the layer below.
/// The same struct is read from the TOML file and from flags (with their env vars).
#[derive(Debug, Clone, Default, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// Address to listen on [default: 127.0.0.1:27017]
    #[arg(long, env = "BRANCHDB_BIND")]
    pub bind: Option<String>,
    /// Data directory, created when missing [default: ./branchdb-data]
    #[arg(long, env = "BRANCHDB_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The log and the store in object storage: s3://bucket/prefix (endpoint,
    /// region and credentials from the AWS_* environment variables) or
    /// file:///path [default: none, the data directory holds them]
    #[arg(long, env = "BRANCHDB_STORAGE")]
    pub storage: Option<String>,
    /// Serve as a read replica of the writer on this object storage
    /// (s3://bucket/prefix or file:///path): reads on every branch and point,
    /// no writes [default: none]
    #[arg(long, env = "BRANCHDB_REPLICA_OF")]
    pub replica_of: Option<String>,
    /// The writer's address (host:port), which a read replica's `hello` gives as
    /// `primary` [default: none]
    #[arg(long, env = "BRANCHDB_PRIMARY")]
    pub primary: Option<String>,
    /// In object storage: the most the cache of objects under the data directory
    /// holds, a size like max_memory's; 0 caches nothing on the local disk [default: 16GiB]
    #[arg(long, env = "BRANCHDB_STORAGE_CACHE_SIZE")]
    pub storage_cache_size: Option<String>,
    /// When writes are acknowledged [default: strict]
    #[arg(long, env = "BRANCHDB_DURABILITY")]
    pub durability: Option<Durability>,
    /// fsync interval of `batched` durability, in milliseconds [default: 100]
    #[arg(long, env = "BRANCHDB_BATCH_INTERVAL_MS")]
    pub batch_interval_ms: Option<u64>,
    /// Connections served at once; more are refused [default: 10000]
    #[arg(long, env = "BRANCHDB_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Log filter, as RUST_LOG (`info`, `branchdb=debug`) [default: info]
    #[arg(long, env = "BRANCHDB_LOG")]
    pub log: Option<String>,
    /// Log line format [default: text]
    #[arg(long, env = "BRANCHDB_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// How long history stays readable: a number and s, m, h or d [default: 7d]
    #[arg(long, env = "BRANCHDB_HISTORY_RETENTION")]
    pub history_retention: Option<String>,
    /// Seconds between passes deleting the documents TTL indexes expire [default: 60]
    #[arg(long, env = "BRANCHDB_TTL_MONITOR_SLEEP_SECS")]
    pub ttl_monitor_sleep_secs: Option<u64>,
    /// Accept test commands (configureFailPoint), for drivers' test suites; never in production
    #[arg(long, env = "BRANCHDB_ENABLE_TEST_COMMANDS", num_args = 0..=1, default_missing_value = "true")]
    pub enable_test_commands: Option<bool>,
    /// Memory the server may use: bytes, or a number with KiB, MiB, GiB (or K, M, G);
    /// work that would go past it fails with ExceededMemoryLimit [default: half the machine's]
    #[arg(long, env = "BRANCHDB_MAX_MEMORY")]
    pub max_memory: Option<String>,
    /// Serve Prometheus metrics at http://HOST:PORT/metrics [default: not served]
    #[arg(long, env = "BRANCHDB_METRICS_BIND")]
    pub metrics_bind: Option<String>,
    /// Turn on access control: every command but the handshake needs a user [default: false]
    #[arg(long, env = "BRANCHDB_AUTH", num_args = 0..=1, default_missing_value = "true")]
    pub auth: Option<bool>,
    /// Serve an address other than loopback with access control off [default: false]
    #[arg(long, env = "BRANCHDB_ALLOW_UNAUTHENTICATED", num_args = 0..=1, default_missing_value = "true")]
    pub allow_unauthenticated: Option<bool>,
    /// Which connections are TLS: disabled, allowTLS, preferTLS, requireTLS [default: disabled]
    #[arg(long, env = "BRANCHDB_TLS_MODE")]
    pub tls_mode: Option<TlsMode>,
    /// The server's certificate chain, PEM (and its key, without --tls-key-file)
    #[arg(long, env = "BRANCHDB_TLS_CERT_FILE")]
    pub tls_cert_file: Option<PathBuf>,
    /// The server's private key, PEM
    #[arg(long, env = "BRANCHDB_TLS_KEY_FILE")]
    pub tls_key_file: Option<PathBuf>,
    /// Authorities whose client certificates are accepted, PEM (for MONGODB-X509)
    #[arg(long, env = "BRANCHDB_TLS_CA_FILE")]
    pub tls_ca_file: Option<PathBuf>,
    /// With --tls-ca-file, serve clients that present no certificate too [default: false]
    #[arg(
        long,
        env = "BRANCHDB_TLS_ALLOW_CONNECTIONS_WITHOUT_CERTIFICATES",
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub tls_allow_connections_without_certificates: Option<bool>,
}

impl Settings {
    /// Loads the settings: defaults, then the config file, then `cli` (flags, which
    /// clap has already layered over their environment variables).
    pub fn load(config_path: Option<&Path>, cli: &Overrides) -> Result<Settings> {
        let mut settings = Settings::default();
        let file = match config_path {
            Some(path) => Some(read_file(path)?),
            None if Path::new(DEFAULT_CONFIG_PATH).exists() => Some(read_file(Path::new(DEFAULT_CONFIG_PATH))?),
            None => None,
        };
        if let Some(file) = file {
            settings.apply(file)?;
        }
        settings.apply(cli.clone())?;
        if settings.max_connections == 0 {
            return Err(Error::Config("max_connections must be at least 1".into()));
        }
        if settings.ttl_monitor_sleep_secs == 0 {
            return Err(Error::Config("ttl_monitor_sleep_secs must be at least 1".into()));
        }
        settings.retention()?;
        if settings.storage.is_some() && settings.replica_of.is_some() {
            return Err(Error::Config(
                "storage and replica_of go apart: a server writes its storage or follows another's".into(),
            ));
        }
        if let Some(url) = settings.storage.as_ref().or(settings.replica_of.as_ref()) {
            #[cfg(feature = "slatedb")]
            crate::objects::Location::parse(url).map_err(|e| Error::Config(e.to_string()))?;
            #[cfg(not(feature = "slatedb"))]
            return Err(Error::Config(format!(
                "storage '{url}': this build has no object storage (the slatedb feature)"
            )));
        }
        Ok(settings)
    }

    /// The memory the server may use, in bytes.
    pub fn max_memory(&self) -> usize {
        self.max_memory.unwrap_or_else(crate::memory::default_max_memory)
    }

    /// `history_retention` as a duration.
    pub fn retention(&self) -> Result<Duration> {
        parse_duration(&self.history_retention).ok_or_else(|| {
            Error::Config(format!("history_retention '{}' is not like 7d, 12h, 30m or 90s", self.history_retention))
        })
    }

    fn apply(&mut self, o: Overrides) -> Result<()> {
        let Overrides {
            bind,
            data_dir,
            storage,
            replica_of,
            primary,
            storage_cache_size,
            durability,
            batch_interval_ms,
            max_connections,
            log,
            log_format,
            history_retention,
            ttl_monitor_sleep_secs,
            enable_test_commands,
            max_memory,
            metrics_bind,
            auth,
            allow_unauthenticated,
            tls_mode,
            tls_cert_file,
            tls_key_file,
            tls_ca_file,
            tls_allow_connections_without_certificates,
        } = o;
        if let Some(v) = bind {
            self.bind = v;
        }
        if let Some(v) = data_dir {
            self.data_dir = v;
        }
        if let Some(v) = storage {
            self.storage = Some(v);
        }
        if let Some(v) = replica_of {
            self.replica_of = Some(v);
        }
        if let Some(v) = primary {
            self.primary = Some(v);
        }
        if let Some(v) = durability {
            self.durability = v;
        }
        if let Some(v) = batch_interval_ms {
            self.batch_interval_ms = v;
        }
        if let Some(v) = max_connections {
            self.max_connections = v;
        }
        if let Some(v) = log {
            self.log = v;
        }
        if let Some(v) = log_format {
            self.log_format = v;
        }
        if let Some(v) = history_retention {
            self.history_retention = v;
        }
        if let Some(v) = ttl_monitor_sleep_secs {
            self.ttl_monitor_sleep_secs = v;
        }
        if let Some(v) = enable_test_commands {
            self.enable_test_commands = v;
        }
        if let Some(v) = metrics_bind {
            self.metrics_bind = Some(v);
        }
        if let Some(v) = auth {
            self.auth = v;
        }
        if let Some(v) = allow_unauthenticated {
            self.allow_unauthenticated = v;
        }
        if let Some(v) = tls_mode {
            self.tls_mode = v;
        }
        if let Some(v) = tls_cert_file {
            self.tls_cert_file = Some(v);
        }
        if let Some(v) = tls_key_file {
            self.tls_key_file = Some(v);
        }
        if let Some(v) = tls_ca_file {
            self.tls_ca_file = Some(v);
        }
        if let Some(v) = tls_allow_connections_without_certificates {
            self.tls_allow_connections_without_certificates = v;
        }
        if let Some(v) = storage_cache_size {
            let bytes = parse_size(&v).ok_or_else(|| {
                Error::Config(format!("storage_cache_size '{v}' is not a size, like 16GiB, 512MiB or 0"))
            })?;
            self.storage_cache_size = bytes as u64;
        }
        if let Some(v) = max_memory {
            let bytes = parse_size(&v)
                .filter(|&bytes| bytes >= MIN_MEMORY)
                .ok_or_else(|| Error::Config(format!("max_memory '{v}' is not a size of at least 64MiB, like 1GiB")))?;
            self.max_memory = Some(bytes);
        }
        Ok(())
    }
}

/// The default `storage_cache_size`: 16 GiB.
const DEFAULT_STORAGE_CACHE: u64 = 16 << 30;

/// The least `max_memory` accepted.
const MIN_MEMORY: usize = 64 << 20;

/// Parses a size: bytes, or a number with KiB, MiB, GiB, TiB (K, M, G, T, KB, MB, GB, TB:
/// the same powers of two).
fn parse_size(text: &str) -> Option<usize> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number.parse().ok()?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return None,
    };
    number.checked_mul(1usize << shift)
}

/// Parses "7d", "12h", "30m", "90s" (a whole number and a unit).
fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let count: u64 = text[..text.len() - unit.len_utf8()].trim().parse().ok()?;
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    count.checked_mul(seconds).map(Duration::from_secs)
}

fn read_file(path: &Path) -> Result<Overrides> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_powers_of_two() {
        assert_eq!(parse_size("1GiB"), Some(1 << 30));
        assert_eq!(parse_size("512 MiB"), Some(512 << 20));
        assert_eq!(parse_size("2g"), Some(2 << 30));
        assert_eq!(parse_size("1048576"), Some(1 << 20));
        assert_eq!(parse_size("1.5G"), None);
        assert_eq!(parse_size("lots"), None);
        let cli = Overrides { max_memory: Some("1MiB".into()), ..Overrides::default() };
        assert!(Settings::load(None, &cli).is_err(), "under the least accepted");
        let cli = Overrides { storage_cache_size: Some("512MiB".into()), ..Overrides::default() };
        assert_eq!(Settings::load(None, &cli).expect("load").storage_cache_size, 512 << 20);
        let cli = Overrides { storage_cache_size: Some("0".into()), ..Overrides::default() };
        assert_eq!(Settings::load(None, &cli).expect("load").storage_cache_size, 0);
        let cli = Overrides { storage_cache_size: Some("big".into()), ..Overrides::default() };
        assert!(Settings::load(None, &cli).is_err());
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("b.toml");
        std::fs::write(&path, "bind = \"0.0.0.0:1\"\ndurability = \"batched\"\nmax_connections = 5\n").expect("write");
        let cli = Overrides { max_connections: Some(7), ..Overrides::default() };
        let s = Settings::load(Some(&path), &cli).expect("load");
        assert_eq!(s.bind, "0.0.0.0:1");
        assert_eq!(s.durability, Durability::Batched);
        assert_eq!(s.max_connections, 7);
        assert_eq!(s.batch_interval_ms, 100);
    }

    #[test]
    fn retention_reads_a_number_and_a_unit() {
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
        for bad in ["", "d", "7", "7w", "-1d", "1.5h"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_ttl_monitor_runs_at_least_every_second() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("b.toml");
        std::fs::write(&path, "ttl_monitor_sleep_secs = 5\n").expect("write");
        assert_eq!(Settings::load(Some(&path), &Overrides::default()).expect("load").ttl_monitor_sleep_secs, 5);
        let cli = Overrides { ttl_monitor_sleep_secs: Some(0), ..Overrides::default() };
        assert!(Settings::load(Some(&path), &cli).is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("b.toml");
        std::fs::write(&path, "bnid = \"x\"\n").expect("write");
        assert!(Settings::load(Some(&path), &Overrides::default()).is_err());
    }

    #[test]
    fn the_shipped_config_file_parses_and_matches_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_CONFIG_PATH);
        let s = Settings::load(Some(&path), &Overrides::default()).expect("shipped config");
        assert_eq!(s, Settings::default());
    }
}
