//! PostgreSQL: the connection pool, migrations, the embedded default cluster
//! and, in submodules, every SQL statement the service runs.

pub mod audit;
pub mod embedded;
pub mod facts;
pub mod idempotency;
pub mod keys;
mod migrations;
pub mod monitoring;
pub mod products;
pub mod scenarios;
pub mod snapshot;
pub mod sources;

use std::time::Duration;

use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

pub use migrations::{migrate, MIGRATIONS};

/// Why a database call failed, as far as callers need to know: the server is
/// unreachable (retry later) or something else went wrong (a bug to log).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A unique constraint refused the write: the thing already exists.
    #[error("already exists ({constraint})")]
    Duplicate { constraint: String },
    #[error(transparent)]
    Other(anyhow::Error),
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> StoreError {
        let unreachable = error.is_closed()
            || std::error::Error::source(&error).is_some_and(|s| s.is::<std::io::Error>())
            || error.code().is_some_and(|code| {
                // Class 08 (connection exception) and 57P0x (server shutting down).
                code.code().starts_with("08") || code.code().starts_with("57P0")
            });
        if let Some(db) = error.as_db_error() {
            if *db.code() == tokio_postgres::error::SqlState::UNIQUE_VIOLATION {
                return StoreError::Duplicate {
                    constraint: db.constraint().unwrap_or_default().to_owned(),
                };
            }
        }
        if unreachable {
            StoreError::Unavailable(error.into())
        } else {
            StoreError::Other(error.into())
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(error: deadpool_postgres::PoolError) -> StoreError {
        match error {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => StoreError::Unavailable(other.into()),
        }
    }
}

/// Builds the connection pool. Connections are opened lazily, so a service
/// whose database is down still starts and answers `/readyz` with 503.
pub fn connect(database_url: &str, max_size: usize) -> anyhow::Result<Pool> {
    connect_with(database_url, max_size, None)
}

/// [`connect`], with a statement timeout (seconds) on every connection.
/// A connection of its own, for a session that must not be shared (its
/// advisory locks end with it), named `application_name`.
pub async fn dedicated_connection(
    database_url: &str,
    application_name: &str,
) -> anyhow::Result<deadpool_postgres::Object> {
    let mut config: tokio_postgres::Config = database_url.parse()?;
    config.application_name(application_name);
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(1)
        .runtime(Runtime::Tokio1)
        .build()?;
    // The pool goes now: the connection lives as long as this object,
    // and closes with it.
    Ok(pool.get().await?)
}

pub fn connect_with(
    database_url: &str,
    max_size: usize,
    statement_timeout: Option<u64>,
) -> anyhow::Result<Pool> {
    let mut config: tokio_postgres::Config = database_url
        .parse()
        .map_err(|e| anyhow::anyhow!("DATABASE_URL is not a valid PostgreSQL URL: {e}"))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    if let Some(seconds) = statement_timeout {
        let options = config.get_options().unwrap_or_default().to_owned();
        config.options(format!("{options} -c statement_timeout={}", seconds * 1000).trim());
    }
    if config.get_application_name().is_none() {
        config.application_name(env!("CARGO_PKG_NAME"));
    }
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(max_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .build()
        .map_err(|e| anyhow::anyhow!("could not build the connection pool: {e}"))
}

/// The channel committed writes are announced on. A notification names
/// nothing: replicas read what was written since their last load.
pub const CHANGES_CHANNEL: &str = "chokepoint_changes";

/// Subscribes a dedicated connection to change and event notifications.
pub async fn listen_for_changes(
    client: &tokio_postgres::Client,
) -> Result<(), tokio_postgres::Error> {
    client
        .batch_execute(&format!(
            "LISTEN {CHANGES_CHANNEL}; LISTEN {}",
            monitoring::EVENTS_CHANNEL
        ))
        .await
}

/// Tells every listening replica that data changed. Sent after the writes
/// it announces have committed, outside their transactions: a notification
/// queued inside a write would take PostgreSQL's notification lock at every
/// commit, serialising them.
pub async fn announce_changes(client: &impl GenericClient) -> Result<(), StoreError> {
    client
        .execute("SELECT pg_notify($1, '')", &[&CHANGES_CHANNEL])
        .await?;
    Ok(())
}

/// One page of a keyset-paginated listing.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_more: bool,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only
    /// tells that there is more.
    pub fn from_rows(mut items: Vec<T>, limit: usize) -> Page<T> {
        let has_more = items.len() > limit;
        items.truncate(limit);
        Page { items, has_more }
    }
}
