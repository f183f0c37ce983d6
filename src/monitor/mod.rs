//! Monitoring: alert rules evaluated against the live scores whenever they
//! change, events written to an outbox in the same transaction as the rule
//! state that raised them, and their signed delivery to webhooks.
//!
//! Every replica runs both loops. One replica at a time evaluates (the one
//! holding [`evaluator`]'s advisory lock; another takes over when it dies);
//! every replica delivers, each endpoint by one replica at a time
//! ([`delivery`]'s per-endpoint advisory locks), oldest delivery first.

pub mod delivery;
pub mod evaluator;
pub mod rules;
pub mod signature;
pub mod subscriptions;

use time::OffsetDateTime;
use tokio::sync::watch;

/// An event's `created_at`: RFC 3339, as every instant the API writes.
fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .expect("an instant of this era formats as RFC 3339")
}

/// Wakes what waits for new events: long-polling feeds and the deliverer.
/// Bumped by the change listener on each event notification, by anyone on
/// this replica.
#[derive(Debug)]
pub struct EventSignal(watch::Sender<u64>);

impl Default for EventSignal {
    fn default() -> EventSignal {
        EventSignal(watch::Sender::new(0))
    }
}

impl EventSignal {
    /// New events may have committed.
    pub fn bump(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}
