//! Settings: command-line flags over `EMBER_*` environment variables over `ember.toml` over
//! built-in defaults. See docs/configuration.md.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Everything `ember serve` can be told; each field is documented in docs/configuration.md.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Directory of the embedded PostgreSQL cluster (unused with `database_url`).
    pub data_dir: PathBuf,
    /// An existing PostgreSQL database; when unset, Ember runs its own embedded cluster.
    pub database_url: Option<String>,
    /// The public FHIR base URL (e.g. behind a proxy); unset: `http://{Host}/fhir`.
    pub base_url: Option<String>,
    /// Largest request body accepted; larger ones get 413.
    pub max_body_bytes: usize,
    /// Most entries a batch or transaction Bundle may hold; more get 413.
    pub max_bundle_entries: usize,
    /// Database connections in the pool; 0 sizes it automatically ([`Settings::pool_connections`]).
    pub pool_size: usize,
    /// Entries per history page when the client sends no `_count`.
    pub default_page_size: u32,
    /// Upper bound on `_count`; larger values are lowered to it.
    pub max_page_size: u32,
    /// Longest a search may run, in milliseconds; longer ones are cancelled with a 422.
    pub search_timeout_ms: u64,
    /// Threads of the async runtime; 0 means one per CPU core.
    pub worker_threads: usize,
    /// Whether a `code` under a required binding must be one of its value set's codes.
    pub check_required_codes: bool,
    /// `text` for people, `json` for log collectors.
    pub log_format: LogFormat,
    /// A tracing filter, e.g. `info` or `ember=debug,tower_http=info`.
    pub log_level: String,
}

/// Connections of an automatic pool per core Ember may use, when the embedded cluster shares
/// those cores. Searches at 16 clients on two cores had their p99 up to 1.7 times higher
/// with sixteen connections than with four, as more busy backends than cores only take
/// turns on them, and lost rate with two (docs/benchmarks.md, "Pool size").
const EMBEDDED_CONNECTIONS_PER_CORE: usize = 2;

/// Connections of an automatic pool for an external database, whose cores Ember cannot see.
const EXTERNAL_CONNECTIONS: usize = 16;

impl Settings {
    /// The connections to open: `pool_size` when set, else two per core this process may use
    /// (its cgroup quota and CPU affinity included) for the embedded cluster, else 16.
    pub fn pool_connections(&self) -> usize {
        match (self.pool_size, &self.database_url) {
            (0, None) => EMBEDDED_CONNECTIONS_PER_CORE * usable_cores(),
            (0, Some(_)) => EXTERNAL_CONNECTIONS,
            (explicit, _) => explicit,
        }
    }

    /// What ingest checks beyond the structure every body must have.
    pub fn ingest_checks(&self) -> engine::IngestChecks {
        engine::IngestChecks {
            required_codes: self.check_required_codes,
        }
    }

    /// `search_timeout_ms` as a duration.
    pub fn search_time_limit(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.search_timeout_ms)
    }
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./ember-data"),
            database_url: None,
            base_url: None,
            // Large enough for a Synthea patient Bundle (a few MB), small enough that a few
            // hundred concurrent maximal bodies fit in memory.
            max_body_bytes: 16 * 1024 * 1024,
            // A Synthea patient Bundle holds up to about 1,300 entries; a transaction's rows
            // stay locked until it commits, so an unbounded one could block others for long.
            max_bundle_entries: 10_000,
            pool_size: 0,
            default_page_size: 50,
            max_page_size: 1_000,
            // Far above any search of the benchmarks at a million resources (the slowest,
            // a two-level chain, takes about a second under load), far below a client's
            // patience.
            search_timeout_ms: 30_000,
            worker_threads: 0,
            check_required_codes: true,
            log_format: LogFormat::Text,
            log_level: "info".into(),
        }
    }
}

/// The cores this process may run on, as the runtime counts them for `worker_threads = 0`.
fn usable_cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Ember, a FHIR R4 server.
#[derive(Debug, Parser)]
#[command(name = "ember", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the FHIR server (FHIR base: http://LISTEN/fhir).
    ///
    /// Settings come from, highest precedence first: these flags, EMBER_* environment
    /// variables (e.g. EMBER_LISTEN, EMBER_DATABASE_URL), the config file, then defaults.
    Serve(ServeArgs),
}

/// Flags of `ember serve`; each overrides the same setting from the environment or file.
#[derive(Debug, Args, Serialize, Default)]
pub struct ServeArgs {
    /// Config file (TOML) [default: ./ember.toml if it exists; env: EMBER_CONFIG]
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080; env: EMBER_LISTEN]
    #[arg(long, value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// Directory of the embedded PostgreSQL cluster, created on first start
    /// [default: ./ember-data; env: EMBER_DATA_DIR]
    #[arg(long, value_name = "DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Use this PostgreSQL database instead of the embedded cluster, e.g.
    /// postgresql://user:password@host:5432/ember [env: EMBER_DATABASE_URL]
    #[arg(long, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Public FHIR base URL used in Location headers and Bundle links, when Ember runs
    /// behind a proxy [default: http://{Host header}/fhir; env: EMBER_BASE_URL]
    #[arg(long, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Largest request body in bytes; larger bodies get 413 [default: 16777216; env: EMBER_MAX_BODY_BYTES]
    #[arg(long, value_name = "BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<usize>,
    /// Most entries in a batch or transaction Bundle; more get 413 [default: 10000; env: EMBER_MAX_BUNDLE_ENTRIES]
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_bundle_entries: Option<usize>,
    /// Database connections in the pool; 0 sizes it automatically: two per CPU core with the
    /// embedded cluster, 16 with --database-url [default: 0; env: EMBER_POOL_SIZE]
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_size: Option<usize>,
    /// Entries per page when a client sends no _count [default: 50; env: EMBER_DEFAULT_PAGE_SIZE]
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_page_size: Option<u32>,
    /// Largest _count honoured [default: 1000; env: EMBER_MAX_PAGE_SIZE]
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_page_size: Option<u32>,
    /// Longest a search may run in milliseconds; longer searches are cancelled and answered
    /// 422 (too-costly) [default: 30000; env: EMBER_SEARCH_TIMEOUT_MS]
    #[arg(long, value_name = "MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_timeout_ms: Option<u64>,
    /// Threads of the async runtime; 0 means one per CPU core [default: 0; env: EMBER_WORKER_THREADS]
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_threads: Option<usize>,
    /// Refuse (400) a code outside the value set its element's binding requires, e.g. a
    /// gender of Male; false accepts such data as sent [default: true; env:
    /// EMBER_CHECK_REQUIRED_CODES]
    #[arg(long, value_name = "BOOL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_required_codes: Option<bool>,
    /// Log format [default: text; env: EMBER_LOG_FORMAT]
    #[arg(long, value_enum, value_name = "FORMAT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    /// Log filter, e.g. info, debug, or ember=debug,tower_http=warn [default: info; env: EMBER_LOG_LEVEL]
    #[arg(long, value_name = "FILTER")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
}

/// Merges defaults, the config file, the environment and the flags, in rising precedence.
///
/// # Errors
/// A message naming the setting that is malformed, or the config file that was asked for
/// explicitly and does not exist.
pub fn load(args: &ServeArgs) -> Result<Settings, String> {
    let explicit_file = args
        .config
        .clone()
        .or_else(|| std::env::var_os("EMBER_CONFIG").map(PathBuf::from));
    let file = match &explicit_file {
        Some(path) if !path.exists() => {
            return Err(format!("config file {} does not exist", path.display()))
        }
        Some(path) => path.clone(),
        None => PathBuf::from("ember.toml"),
    };
    Figment::from(Serialized::defaults(Settings::default()))
        .merge(Toml::file(&file))
        .merge(Env::prefixed("EMBER_").ignore(&["config"]))
        .merge(Serialized::defaults(args))
        .extract()
        .map_err(|error| format!("invalid configuration: {error}"))
}

#[cfg(test)]
// figment::Jail's closures must return figment's own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_environment_which_overrides_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "ember.toml",
                "listen = \"127.0.0.1:7000\"\npool_size = 3\nlog_format = \"json\"",
            )?;
            jail.set_env("EMBER_POOL_SIZE", "5");
            jail.set_env("EMBER_DATA_DIR", "/from/env");
            let args = ServeArgs {
                data_dir: Some(PathBuf::from("/from/flag")),
                ..ServeArgs::default()
            };
            let settings = load(&args).map_err(figment::Error::from)?;
            assert_eq!(settings.listen, SocketAddr::from(([127, 0, 0, 1], 7000)));
            assert_eq!(settings.pool_size, 5);
            assert_eq!(settings.data_dir, PathBuf::from("/from/flag"));
            assert_eq!(settings.log_format, LogFormat::Json);
            assert_eq!(settings.max_body_bytes, Settings::default().max_body_bytes);
            Ok(())
        });
    }

    #[test]
    fn an_automatic_pool_has_two_connections_per_core_with_the_embedded_cluster() {
        let embedded = Settings::default();
        assert_eq!(embedded.pool_size, 0, "automatic by default");
        assert_eq!(embedded.pool_connections(), 2 * usable_cores());
    }

    #[test]
    fn an_automatic_pool_has_sixteen_connections_to_an_external_database() {
        let external = Settings {
            database_url: Some("postgresql://db/ember".into()),
            ..Settings::default()
        };
        assert_eq!(external.pool_connections(), 16);
    }

    #[test]
    fn a_pool_size_that_is_set_is_used_as_it_is() {
        for database_url in [None, Some("postgresql://db/ember".to_owned())] {
            let settings = Settings {
                pool_size: 3,
                database_url,
                ..Settings::default()
            };
            assert_eq!(settings.pool_connections(), 3);
        }
    }

    #[test]
    fn malformed_setting_is_named_in_the_error() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("EMBER_LISTEN", "not-an-address");
            let error = load(&ServeArgs::default()).unwrap_err();
            // Figment names an environment key as it appears there: "LISTEN" (of EMBER_).
            assert!(error.to_ascii_lowercase().contains("listen"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn explicit_missing_config_file_is_an_error() {
        let args = ServeArgs {
            config: Some(PathBuf::from("/nonexistent/ember.toml")),
            ..ServeArgs::default()
        };
        assert!(load(&args).unwrap_err().contains("does not exist"));
    }
}
