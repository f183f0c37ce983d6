//! Keeps the live scores fresh: LISTENs on the change channel on its own
//! connection, refreshes incrementally as soon as one arrives (gathering
//! whatever arrives meanwhile into the next refresh, which waits so that
//! applying changes takes at most a tenth of the replica's time), and on
//! any connection loss reconnects and reloads everything, so no change is
//! ever missed. Each second without a notification it checks for writes
//! nobody announced (a replica with change notifications off, or one that
//! died before announcing). A periodic full refresh moves the current
//! scores' instant forward (controls and pipelines depend on the date).

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};

use super::LiveScores;
use crate::monitor::EventSignal;
use crate::store;

/// The listening connection's `application_name`, to find it in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "chokepoint-listener";
/// The least time from one refresh's start to the next: with
/// [`REFRESH_SHARE`], bounds the work a sustained stream of writes costs each
/// replica, and so the wait a write can see under load (the interval, plus
/// two refreshes at most).
const MIN_INTERVAL: Duration = Duration::from_millis(150);
/// An incremental refresh that took `t` is followed by at least
/// `REFRESH_SHARE * t` (up to `MAX_INTERVAL`) before the next starts:
/// applying changes takes at most a tenth of the time, however costly they
/// are to apply.
const REFRESH_SHARE: u32 = 10;
const MAX_INTERVAL: Duration = Duration::from_secs(1);
const FULL_REFRESH_EVERY: Duration = Duration::from_secs(600);
const UNANNOUNCED_CHECK_EVERY: Duration = Duration::from_secs(1);

/// What the refresher is asked for.
enum Change {
    /// Something was written: read what, since the last load.
    Written,
    /// Reload everything (changes may have gone unannounced).
    Everything,
}

/// Runs until the process ends. `reload_first` asks for a full load as soon
/// as the first connection succeeds (the initial load failed).
/// Event notifications bump `events`.
pub async fn run(
    live: Arc<LiveScores>,
    pool: Pool,
    database_url: String,
    reload_first: bool,
    events: Arc<EventSignal>,
) {
    let (sender, receiver) = mpsc::unbounded_channel();
    // Both in this one task, so that aborting it stops both.
    tokio::join!(
        refresher(live, pool, receiver),
        listen_forever(&database_url, &sender, reload_first, &events)
    );
}

/// Listens, reconnecting with backoff whenever the connection ends.
async fn listen_forever(
    database_url: &str,
    sender: &mpsc::UnboundedSender<Change>,
    reload_first: bool,
    events: &EventSignal,
) {
    let mut backoff = Duration::from_millis(100);
    let mut reconnecting = reload_first;
    loop {
        match listen(database_url, sender, reconnecting, events).await {
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
    events: &EventSignal,
) -> Result<(), tokio_postgres::Error> {
    let mut config: tokio_postgres::Config = database_url.parse()?;
    config.application_name(APPLICATION_NAME);
    let (client, mut connection) = config.connect(NoTls).await?;
    let (messages_tx, mut messages) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut stream = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = stream.next().await {
            match message {
                Ok(AsyncMessage::Notification(notification)) => {
                    let is_event = notification.channel() == store::monitoring::EVENTS_CHANNEL;
                    let _ = messages_tx.send(Ok(is_event));
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
        events.bump();
    }
    tracing::info!("listening for changes");
    while let Some(message) = messages.recv().await {
        match message {
            Ok(true) => events.bump(),
            Ok(false) => {
                let _ = sender.send(Change::Written);
            }
            Err(error) => {
                driver.abort();
                return Err(error);
            }
        }
    }
    Ok(())
}

/// Turns change requests into refreshes: refreshes at once for the first
/// and every request already waiting, then waits out the interval, so a
/// burst is gathered into the next. With no request for a second, it checks
/// whether anything was written unannounced (change notifications off, or
/// one lost), and every `FULL_REFRESH_EVERY` it reloads everything.
async fn refresher(
    live: Arc<LiveScores>,
    pool: Pool,
    mut changes: mpsc::UnboundedReceiver<Change>,
) {
    let mut last_full = tokio::time::Instant::now();
    loop {
        let first = match tokio::time::timeout(UNANNOUNCED_CHECK_EVERY, changes.recv()).await {
            Ok(Some(change)) => change,
            Ok(None) => return,
            Err(_) if last_full.elapsed() >= FULL_REFRESH_EVERY => Change::Everything,
            Err(_) if behind(&live, &pool).await => Change::Written,
            Err(_) => continue,
        };
        let mut full = matches!(first, Change::Everything);
        let started = tokio::time::Instant::now();
        while let Ok(change) = changes.try_recv() {
            full |= matches!(change, Change::Everything);
        }
        if full {
            last_full = started;
        }
        match live.refresh(&pool, full).await {
            Ok(()) => tracing::debug!(full, "scores refreshed"),
            Err(error) => {
                tracing::error!(error = %error, "refreshing scores failed; retrying with a full reload");
                tokio::time::sleep(Duration::from_secs(1)).await;
                let _ = live.refresh(&pool, true).await;
            }
        }
        let interval = if full {
            MIN_INTERVAL
        } else {
            (started.elapsed() * REFRESH_SHARE).clamp(MIN_INTERVAL, MAX_INTERVAL)
        };
        tokio::time::sleep_until(started + interval).await;
    }
}

/// Whether the database holds writes the served state lacks; an
/// unreachable database counts as none (the listener reloads on
/// reconnecting).
async fn behind(live: &LiveScores, pool: &Pool) -> bool {
    let Ok(client) = pool.get().await else {
        return false;
    };
    let state = live.state();
    if state.visible_writes.is_empty() {
        return true;
    }
    let checked = async {
        Ok::<_, store::StoreError>(
            store::snapshot::facts_written_since(&client, &state.visible_writes).await?
                || store::snapshot::data_version(&client).await? != state.version,
        )
    };
    match checked.await {
        Ok(behind) => behind,
        Err(error) => {
            tracing::debug!(error = %error, "checking for unannounced writes failed");
            false
        }
    }
}
