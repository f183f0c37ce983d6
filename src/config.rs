//! Configuration: command-line flags, each also settable from the
//! environment, validated by the parser so a bad setting is named at start.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "chokepoint",
    version,
    about = "Explainable supply-chain risk scores for critical minerals"
)]
pub struct Cli {
    #[command(flatten)]
    pub log: LogSettings,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API (on an embedded PostgreSQL when DATABASE_URL is unset).
    Serve(ServeSettings),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseSettings),
    /// Load the baseline dataset (idempotent: a second run changes nothing).
    Seed(DatabaseSettings),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Load a public dataset release through the import path (loading one
    /// again adds nothing; a newer release revises what changed).
    #[command(subcommand)]
    Import(ImportCommand),
    /// Score every catalogued product before each export-control event and
    /// print how the products it hit ranked (docs/validation.md).
    Backtest(BacktestSettings),
    /// Print the OpenAPI document to stdout.
    Openapi,
}

#[derive(Debug, Args)]
pub struct BacktestSettings {
    /// Events in the shipped format, one JSON object a line (default: the
    /// shipped `data/events/events.ndjson`, built into the binary).
    #[arg(long)]
    pub events: Option<PathBuf>,
    /// Days before each announcement the scores are read (1 to 3650).
    #[arg(long, default_value_t = 30)]
    pub lead_days: u32,
    /// The buyers scored, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "US,EU,JP")]
    pub buyers: Vec<String>,
    /// Print the whole report as JSON instead of the tables.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub database: DatabaseSettings,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it (shown this once; only its hash is kept).
    Create {
        /// What the key is for.
        #[arg(long)]
        name: String,
        /// Its scopes: read, ingest, admin (repeatable; each includes the ones before it).
        #[arg(long = "scope", required = true, value_parser = parse_scope)]
        scopes: Vec<crate::domain::Scope>,
        #[command(flatten)]
        database: DatabaseSettings,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// CEPII BACI trade flows (`t,i,j,k,v,q`, plain or .gz) and its country code file.
    Baci {
        /// The trade file.
        #[arg(long)]
        trade: PathBuf,
        /// CEPII's country code file of the release (default: the shipped one).
        #[arg(long)]
        countries: Option<PathBuf>,
        /// CEPII's release name, such as `V202401b`.
        #[arg(long, default_value = crate::public_data::BACI_RELEASE)]
        release: String,
        #[command(flatten)]
        options: ImportOptions,
    },
    /// World Mining Data production tables, stacked with a `commodity` column.
    Wmd {
        /// The production file.
        #[arg(long)]
        file: PathBuf,
        /// The commodity-to-product mapping (`commodity,product,factor,note`).
        #[arg(long, default_value = "data/public/wmd_products.csv")]
        map: PathBuf,
        /// The edition's year.
        #[arg(long, default_value_t = crate::public_data::WMD_EDITION)]
        edition: i32,
        #[command(flatten)]
        options: ImportOptions,
    },
    /// World Bank WGI estimates (`Country/Territory,Code,<years>…`).
    Wgi {
        /// The estimates file.
        #[arg(long)]
        file: PathBuf,
        /// The update's year.
        #[arg(long, default_value_t = crate::public_data::WGI_UPDATE)]
        update: i32,
        #[command(flatten)]
        options: ImportOptions,
    },
    /// Products of a catalogue file (NDJSON, one product a line) that are
    /// not stored yet: the products the datasets' rows map to.
    Catalogue {
        /// The catalogue.
        #[arg(long, default_value = "data/public/products.ndjson")]
        file: PathBuf,
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// The shipped extract on top of the baseline: the public catalogue and
    /// every dataset in it.
    Public {
        /// The extract's directory.
        #[arg(long, default_value = "data/public")]
        dir: PathBuf,
        #[command(flatten)]
        database: DatabaseSettings,
    },
}

#[derive(Debug, Args)]
pub struct ImportOptions {
    /// `abort`: any invalid row stops the import and nothing is written;
    /// `skip`: invalid rows are reported and left out.
    #[arg(long, value_enum, default_value = "abort")]
    pub on_invalid: crate::connectors::OnInvalid,
    #[command(flatten)]
    pub database: DatabaseSettings,
}

fn parse_scope(value: &str) -> Result<crate::domain::Scope, String> {
    crate::domain::Scope::parse(value)
        .ok_or_else(|| format!("`{value}` is not a scope: use read, ingest or admin"))
}

/// Whether reads need an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Reads {
    /// Anyone may read (the default, for a local run).
    Open,
    /// Reads need a key with the `read` scope (for a production deployment).
    Key,
}

/// How the replicas learn of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChangeNotifications {
    /// Each committed write is announced on a PostgreSQL channel that every
    /// replica listens on (the default).
    On,
    /// Writes announce nothing; every replica, this one included, compares
    /// the data version each second and reloads when it moved.
    Off,
}

#[derive(Debug, Clone, Args)]
pub struct LogSettings {
    /// Log filter, e.g. `info` or `chokepoint=debug,actix_web=info`.
    #[arg(long = "log-level", env = "CHOKEPOINT_LOG", default_value = "info", global = true,
          value_parser = parse_log_filter)]
    pub level: String,
    /// Log format: `auto` is pretty on a terminal and JSON otherwise.
    #[arg(
        long = "log-format",
        env = "CHOKEPOINT_LOG_FORMAT",
        default_value = "auto",
        global = true
    )]
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Auto,
    Json,
    Pretty,
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseSettings {
    /// PostgreSQL URL. Unset: an embedded cluster under the data directory.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Where the embedded cluster keeps its data (`<data-dir>/postgres`).
    #[arg(long, env = "CHOKEPOINT_DATA_DIR", default_value = "./.data")]
    pub data_dir: PathBuf,
    /// Directory of the PostgreSQL server binaries (initdb, pg_ctl, postgres).
    #[arg(long, env = "CHOKEPOINT_PG_BINDIR")]
    pub pg_bindir: Option<PathBuf>,
    /// Longest a database statement may run, in seconds (imports are exempt).
    #[arg(long, env = "CHOKEPOINT_STATEMENT_TIMEOUT", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub statement_timeout: u64,
    /// Maximum database connections per replica.
    #[arg(long, env = "CHOKEPOINT_POOL_SIZE", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub pool_size: u16,
}

#[derive(Debug, Clone, Args)]
pub struct ServeSettings {
    #[command(flatten)]
    pub database: DatabaseSettings,
    /// Address to listen on.
    #[arg(long, env = "CHOKEPOINT_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "CHOKEPOINT_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Largest accepted JSON request body, e.g. `1MiB`, `512KiB` or bytes.
    #[arg(long, env = "CHOKEPOINT_BODY_LIMIT", default_value = "1MiB", value_parser = parse_byte_size)]
    pub body_limit: usize,
    /// Whether reads need an API key: `open` or `key`.
    #[arg(long, env = "CHOKEPOINT_READS", default_value = "open")]
    pub reads: Reads,
    /// Requests per second each API key (or anonymous client address) may
    /// make on average.
    #[arg(long, env = "CHOKEPOINT_RATE_LIMIT", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate_limit: u32,
    /// The largest burst of requests above that rate.
    #[arg(long, env = "CHOKEPOINT_RATE_BURST", default_value_t = 200,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate_burst: u32,
    /// Origins allowed to call the API from a browser (CORS); none by default.
    #[arg(
        long = "cors-origin",
        env = "CHOKEPOINT_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// Do not load the baseline dataset on the first start of an empty
    /// embedded database.
    #[arg(long, env = "CHOKEPOINT_NO_SEED", conflicts_with = "seed")]
    pub no_seed: bool,
    /// Load the baseline dataset on the first start of an empty database
    /// given by `DATABASE_URL` too (the embedded one is seeded by default),
    /// as docker-compose does.
    #[arg(long, env = "CHOKEPOINT_SEED")]
    pub seed: bool,
    /// The public-data extract loaded, on top of the baseline, on a first
    /// start that loads the baseline (a directory laid out as
    /// `data/public/`).
    #[arg(long, env = "CHOKEPOINT_PUBLIC_DATA", default_value = "data/public")]
    pub public_data: PathBuf,
    /// Load the baseline only on a first start, not the public datasets.
    #[arg(long, env = "CHOKEPOINT_NO_PUBLIC_DATA")]
    pub no_public_data: bool,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "CHOKEPOINT_WORKERS", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: Option<u16>,
    /// How replicas learn of writes: `on` (notifications) or `off` (each
    /// replica checks the data version every second).
    #[arg(long, env = "CHOKEPOINT_CHANGE_NOTIFICATIONS", default_value = "on")]
    pub change_notifications: ChangeNotifications,
    #[command(flatten)]
    pub webhooks: WebhookSettings,
}

/// How webhooks are delivered.
#[derive(Debug, Clone, Args)]
pub struct WebhookSettings {
    /// Allow webhook endpoints on loopback, private and link-local
    /// addresses and `localhost` (refused by default: a key holder could
    /// otherwise make the service call into its own network).
    #[arg(
        long = "webhook-private-targets",
        env = "CHOKEPOINT_WEBHOOK_PRIVATE_TARGETS"
    )]
    pub allow_private_targets: bool,
    /// Longest one webhook request may take, e.g. `60s`.
    #[arg(long = "webhook-timeout", env = "CHOKEPOINT_WEBHOOK_TIMEOUT", default_value = "60s",
          value_parser = parse_duration)]
    pub timeout: Duration,
    /// The wait before a failed delivery's first retry; each later retry
    /// waits twice as long as the one before, up to `--webhook-retry-max`.
    #[arg(long = "webhook-retry-base", env = "CHOKEPOINT_WEBHOOK_RETRY_BASE", default_value = "10s",
          value_parser = parse_duration)]
    pub retry_base: Duration,
    /// The longest wait between two attempts of a delivery.
    #[arg(long = "webhook-retry-max", env = "CHOKEPOINT_WEBHOOK_RETRY_MAX", default_value = "1h",
          value_parser = parse_duration)]
    pub retry_max: Duration,
    /// How long a delivery is retried before it is marked failed.
    #[arg(long = "webhook-retry-for", env = "CHOKEPOINT_WEBHOOK_RETRY_FOR", default_value = "72h",
          value_parser = parse_duration)]
    pub retry_for: Duration,
    /// An endpoint every delivery to which has failed for this long is
    /// disabled, with a `webhook.disabled` event in its key's feed.
    #[arg(long = "webhook-disable-after", env = "CHOKEPOINT_WEBHOOK_DISABLE_AFTER",
          default_value = "120h", value_parser = parse_duration)]
    pub disable_after: Duration,
}

impl Default for WebhookSettings {
    fn default() -> WebhookSettings {
        WebhookSettings {
            allow_private_targets: false,
            timeout: Duration::from_secs(60),
            retry_base: Duration::from_secs(10),
            retry_max: Duration::from_secs(3600),
            retry_for: Duration::from_secs(72 * 3600),
            disable_after: Duration::from_secs(120 * 3600),
        }
    }
}

/// Parses `250ms`, `10s`, `5m`, `1h` or `3d`.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{value}` is not a duration such as 10s"))?;
    let millis = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        other => {
            return Err(format!(
                "unknown duration unit `{other}`: use ms, s, m, h or d"
            ))
        }
    };
    match number.checked_mul(millis) {
        Some(0) => Err("the duration must be positive".into()),
        Some(millis) => Ok(Duration::from_millis(millis)),
        None => Err(format!("`{value}` is too long")),
    }
}

impl ServeSettings {
    /// Settings for a server on `database_url`, as tests and tools build them.
    pub fn for_database(database_url: String) -> ServeSettings {
        ServeSettings {
            database: DatabaseSettings {
                database_url: Some(database_url),
                data_dir: PathBuf::from("./.data"),
                pg_bindir: None,
                statement_timeout: 30,
                pool_size: 8,
            },
            host: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            body_limit: 1 << 20,
            reads: Reads::Open,
            rate_limit: 1000,
            rate_burst: 1000,
            cors_origins: Vec::new(),
            no_seed: true,
            seed: false,
            public_data: PathBuf::from("data/public"),
            no_public_data: true,
            workers: Some(2),
            change_notifications: ChangeNotifications::On,
            webhooks: WebhookSettings::default(),
        }
    }
}

fn parse_log_filter(value: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(value)
        .map(|_| value.to_owned())
        .map_err(|e| format!("not a valid log filter: {e}"))
}

/// Parses `1048576`, `512KiB`, `1MiB`, `10MB`.
pub fn parse_byte_size(value: &str) -> Result<usize, String> {
    let value = value.trim();
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: usize = number
        .parse()
        .map_err(|_| format!("`{value}` is not a size such as 1MiB"))?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" => 1 << 10,
        "mb" => 1_000_000,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit `{other}`: use B, KiB, MiB or GiB"
            ))
        }
    };
    match number.checked_mul(factor) {
        Some(0) => Err("the size must be positive".into()),
        Some(bytes) => Ok(bytes),
        None => Err(format!("`{value}` is too large")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_parse_with_units() {
        assert_eq!(parse_byte_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_byte_size("512KiB"), Ok(512 << 10));
        assert_eq!(parse_byte_size("1000"), Ok(1000));
        assert!(parse_byte_size("0").is_err());
        assert!(parse_byte_size("ten").is_err());
        assert!(parse_byte_size("1PB").is_err());
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("72h"), Ok(Duration::from_secs(72 * 3600)));
        assert_eq!(parse_duration("3d"), Ok(Duration::from_secs(3 * 86400)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn a_bad_setting_is_named() {
        let error = Cli::try_parse_from(["chokepoint", "serve", "--pool-size", "0"]).unwrap_err();
        assert!(error.to_string().contains("--pool-size"), "{error}");
        let error = Cli::try_parse_from(["chokepoint", "serve", "--host", "nowhere"]).unwrap_err();
        assert!(error.to_string().contains("--host"), "{error}");
    }
}
