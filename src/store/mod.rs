//! PostgreSQL: the connection pool, migrations, the embedded default cluster
//! and, in submodules, every SQL statement the service runs.

pub mod audit;
pub mod embedded;
pub mod facts;
pub mod idempotency;
pub mod keys;
mod migrations;
pub mod products;
pub mod scenarios;
pub mod snapshot;
pub mod sources;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
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
    connect_with(database_url, max_size, None, true)
}

/// [`connect`], with a statement timeout (seconds) on every connection,
/// and whether its writes announce themselves ([`notify_changed`]).
pub fn connect_with(
    database_url: &str,
    max_size: usize,
    statement_timeout: Option<u64>,
    announce: bool,
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
    if !announce {
        let options = config.get_options().unwrap_or_default().to_owned();
        config.options(format!("{options} -c {ANNOUNCE_SETTING}=off").trim());
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

/// The channel every committed write announces itself on, with a JSON
/// payload `{"products": [ids...]}` naming the affected products, or
/// `{"all": true}` when there are too many to list (NOTIFY payloads are
/// limited to 8000 bytes).
pub const CHANGES_CHANNEL: &str = "chokepoint_changes";

/// Subscribes a dedicated connection to change notifications.
pub async fn listen_for_changes(
    client: &tokio_postgres::Client,
) -> Result<(), tokio_postgres::Error> {
    client
        .batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))
        .await
}

/// What a write changed, as the replicas' refresh needs to know it: the
/// products whose facts or definition changed, or everything (a fact
/// without a product, such as a country's governance, can move any score).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Affected {
    products: std::collections::BTreeSet<String>,
    everything: bool,
}

impl Affected {
    pub fn everything() -> Affected {
        Affected {
            products: Default::default(),
            everything: true,
        }
    }

    pub fn add_product(&mut self, product: &str) {
        if !self.everything && !self.products.contains(product) {
            self.products.insert(product.to_owned());
        }
    }

    /// A written or retracted fact: its product, or everything without one.
    pub fn add_fact(&mut self, product: Option<&str>) {
        match product {
            Some(product) => self.add_product(product),
            None => {
                self.everything = true;
                self.products.clear();
            }
        }
    }

    fn payload(&self) -> String {
        let products = serde_json::json!({ "products": self.products }).to_string();
        if self.everything || self.products.is_empty() || products.len() > 7000 {
            serde_json::json!({ "all": true }).to_string()
        } else {
            products
        }
    }
}

/// The session setting that, `off`, silences [`notify_changed`] on a
/// connection: a pool's connections carry it when its replica runs with
/// change notifications off.
const ANNOUNCE_SETTING: &str = "chokepoint.announce";

/// Queues a change notification; PostgreSQL delivers it when (and only if)
/// the transaction commits. Nothing is queued on a connection whose pool
/// announces nothing.
pub async fn notify_changed(
    tx: &deadpool_postgres::Transaction<'_>,
    affected: &Affected,
) -> Result<(), StoreError> {
    tx.execute(
        &format!(
            "SELECT pg_notify($1, $2)
             WHERE current_setting('{ANNOUNCE_SETTING}', true) IS DISTINCT FROM 'off'"
        ),
        &[&CHANGES_CHANNEL, &affected.payload()],
    )
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

#[cfg(test)]
mod tests {
    use super::Affected;

    #[test]
    fn a_fact_without_a_product_means_everything() {
        let mut affected = Affected::default();
        affected.add_fact(Some("ndpr-oxide"));
        assert_eq!(affected.payload(), r#"{"products":["ndpr-oxide"]}"#);
        affected.add_fact(None);
        affected.add_fact(Some("gallium"));
        assert_eq!(affected.payload(), r#"{"all":true}"#);
        assert_eq!(Affected::default().payload(), r#"{"all":true}"#);
    }
}
