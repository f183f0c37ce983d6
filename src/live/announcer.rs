//! Announces committed writes to every replica. A write route calls
//! [`Announcer::changed`] after its transaction commits; a burst of writes
//! becomes one notification, sent on its own connection. The notification
//! names nothing (each replica reads what was written since its last load),
//! so coalescing loses nothing. Should one be lost (the replica dies before
//! sending it), replicas still find the writes by checking every second.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::Notify;

use crate::store;

/// How long an announcement waits for more writes to join it: bounds the
/// notifications a stream of writes sends to one per `GATHER`.
const GATHER: Duration = Duration::from_millis(10);

/// The handle write routes announce through; silent when the replica runs
/// with change notifications off.
pub struct Announcer {
    pending: Option<(Arc<Notify>, tokio::task::AbortHandle)>,
}

impl Announcer {
    /// Starts announcing on connections from `pool`.
    pub fn start(pool: Pool) -> Announcer {
        let pending = Arc::new(Notify::new());
        let task = tokio::spawn(announce(pool, pending.clone()));
        Announcer {
            pending: Some((pending, task.abort_handle())),
        }
    }

    /// Announces nothing.
    pub fn silent() -> Announcer {
        Announcer { pending: None }
    }

    /// Data changed and committed: every replica should refresh. Never
    /// waits.
    pub fn changed(&self) {
        if let Some((pending, _)) = &self.pending {
            pending.notify_one();
        }
    }

    /// Stops announcing: the replica is shutting down.
    pub fn stop(&self) {
        if let Some((_, task)) = &self.pending {
            task.abort();
        }
    }
}

async fn announce(pool: Pool, pending: Arc<Notify>) {
    loop {
        pending.notified().await;
        tokio::time::sleep(GATHER).await;
        let sent = match pool.get().await {
            Ok(client) => store::announce_changes(&client).await,
            Err(error) => Err(error.into()),
        };
        if let Err(error) = sent {
            tracing::warn!(error = %error, "announcing a change failed; replicas find it within a second");
        }
    }
}
