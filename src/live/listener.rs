//! Keeps the live scores fresh: LISTENs on the change channel on its own
//! connection, debounces bursts of notifications into one incremental
//! refresh, and on any connection loss reconnects and reloads everything,
//! so no change is ever missed. A periodic full refresh moves the current
//! scores' instant forward (controls and pipelines depend on the date).
//! With change notifications off, it compares the data version each second
//! instead and reloads everything when it moved.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};

use super::LiveScores;
use crate::store;

/// The listening connection's `application_name`, to find it in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "chokepoint-listener";
const DEBOUNCE: Duration = Duration::from_millis(150);
const FULL_REFRESH_EVERY: Duration = Duration::from_secs(600);
const VERSION_CHECK_EVERY: Duration = Duration::from_secs(1);

/// What a notification asks for.
enum Change {
    Products(BTreeSet<String>),
    Everything,
}

fn parse(payload: &str) -> Change {
    let value: serde_json::Value = serde_json::from_str(payload).unwrap_or_default();
    match value["products"].as_array() {
        // No product named: a country-level fact, which can move any score.
        Some(products) if !products.is_empty() => Change::Products(
            products
                .iter()
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => Change::Everything,
    }
}

/// Runs until the process ends. `reload_first` asks for a full load as soon
/// as the first connection succeeds (the initial load failed); without
/// `notifications` the data version is checked every second.
pub async fn run(
    live: Arc<LiveScores>,
    pool: Pool,
    database_url: String,
    reload_first: bool,
    notifications: bool,
) {
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(refresher(live, pool, receiver, !notifications));
    let mut backoff = Duration::from_millis(100);
    let mut reconnecting = reload_first;
    loop {
        match listen(&database_url, &sender, reconnecting).await {
            Ok(()) => tracing::warn!("change listener connection closed; reconnecting"),
            Err(error) => tracing::warn!(error = %error, "change listener failed; reconnecting"),
        }
        reconnecting = true;
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// One listening session: returns when its connection ends.
async fn listen(
    database_url: &str,
    sender: &mpsc::UnboundedSender<Change>,
    reconnecting: bool,
) -> Result<(), tokio_postgres::Error> {
    let mut config: tokio_postgres::Config = database_url.parse()?;
    config.application_name(APPLICATION_NAME);
    let (client, mut connection) = config.connect(NoTls).await?;
    let (messages_tx, mut messages) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut stream = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = stream.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    let _ = messages_tx.send(Ok(n.payload().to_owned()));
                }
                Ok(_) => {}
                Err(error) => {
                    let _ = messages_tx.send(Err(error));
                    return;
                }
            }
        }
    });
    store::listen_for_changes(&client).await?;
    if reconnecting {
        // Anything written while we were not listening is picked up here.
        let _ = sender.send(Change::Everything);
    }
    tracing::info!("listening for changes");
    while let Some(message) = messages.recv().await {
        match message {
            Ok(payload) => {
                let _ = sender.send(parse(&payload));
            }
            Err(error) => {
                driver.abort();
                return Err(error);
            }
        }
    }
    Ok(())
}

/// Turns change requests into refreshes: waits `DEBOUNCE` after the first
/// to gather a burst, then refreshes once for all of them. `polling`, it
/// also reloads everything when the data version moved.
async fn refresher(
    live: Arc<LiveScores>,
    pool: Pool,
    mut changes: mpsc::UnboundedReceiver<Change>,
    polling: bool,
) {
    let wait = if polling {
        VERSION_CHECK_EVERY
    } else {
        FULL_REFRESH_EVERY
    };
    let mut last_full = tokio::time::Instant::now();
    loop {
        let first = match tokio::time::timeout(wait, changes.recv()).await {
            Ok(Some(change)) => change,
            Ok(None) => return,
            Err(_) if polling && last_full.elapsed() < FULL_REFRESH_EVERY => {
                if !version_moved(&live, &pool).await {
                    continue;
                }
                Change::Everything
            }
            Err(_) => Change::Everything,
        };
        let mut everything = matches!(first, Change::Everything);
        let mut products = match first {
            Change::Products(p) => p,
            Change::Everything => BTreeSet::new(),
        };
        tokio::time::sleep(DEBOUNCE).await;
        while let Ok(change) = changes.try_recv() {
            match change {
                Change::Products(p) => products.extend(p),
                Change::Everything => everything = true,
            }
        }
        let scope = if everything { None } else { Some(products) };
        let full = scope.is_none();
        if full {
            last_full = tokio::time::Instant::now();
        }
        match live.refresh(&pool, scope).await {
            Ok(()) => tracing::debug!(full, "scores refreshed"),
            Err(error) => {
                tracing::error!(error = %error, "refreshing scores failed; retrying with a full reload");
                tokio::time::sleep(Duration::from_secs(1)).await;
                let _ = live.refresh(&pool, None).await;
            }
        }
    }
}

/// Whether the committed data version differs from the one served; an
/// unreachable database counts as no change (the listener reloads on
/// reconnecting).
async fn version_moved(live: &LiveScores, pool: &Pool) -> bool {
    let Ok(client) = pool.get().await else {
        return false;
    };
    match store::snapshot::data_version(&client).await {
        Ok(committed) => committed != live.state().version,
        Err(error) => {
            tracing::debug!(error = %error, "checking the data version failed");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_or_unreadable_payload_means_everything() {
        assert!(matches!(parse(r#"{"products": []}"#), Change::Everything));
        assert!(matches!(parse(r#"{"all": true}"#), Change::Everything));
        assert!(matches!(parse("garbage"), Change::Everything));
        match parse(r#"{"products": ["ndpr-oxide"]}"#) {
            Change::Products(p) => assert!(p.contains("ndpr-oxide")),
            Change::Everything => panic!("a named product is an incremental change"),
        }
    }
}
