//! Webhook delivery, on every replica: each endpoint whose oldest pending
//! delivery is due is taken by one replica at a time, the holder of that
//! endpoint's session advisory lock on the replica's delivery connection,
//! and sent its deliveries in order until one fails or none is due. Each
//! endpoint has its own task, so a slow receiver delays only itself.
//!
//! Delivery is at least once: an attempt is recorded on the same
//! connection that holds the lock, in one statement, after the request.
//! If the replica dies, or the database goes away, between the request and
//! that record, the delivery is still pending and is sent again, with the
//! same event id, by whichever replica takes the endpoint next.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{signature, EventSignal};
use crate::config::WebhookSettings;
use crate::domain::{is_public, EventType, WebhookUrl};
use crate::store::monitoring::{
    self as store, AttemptOutcome, DeliveryJob, DeliveryState, NewEvent, Recipients,
};

/// The delivery connection's `application_name`.
pub const APPLICATION_NAME: &str = "chokepoint-deliverer";
/// The class (first key) of the endpoints' advisory locks.
const ENDPOINT_LOCK_CLASS: i32 = 0x6368_6f6b;
/// The longest wait between two scans for due deliveries.
const SCAN_EVERY: Duration = Duration::from_secs(1);
/// The shortest wait between two scans, unless an event arrives.
const SCAN_FLOOR: Duration = Duration::from_millis(100);
/// The most characters of a failed attempt's error kept in the log.
const MAX_ERROR_CHARS: usize = 500;

/// Runs until the process ends, reconnecting whenever the delivery
/// connection is lost.
pub async fn run(
    pool: Pool,
    database_url: String,
    settings: WebhookSettings,
    signal: Arc<EventSignal>,
) {
    let settings = Arc::new(settings);
    let http = match client(&settings) {
        Ok(http) => http,
        Err(error) => {
            tracing::error!(error = %error, "cannot build the webhook client; webhooks are not delivered");
            return;
        }
    };
    loop {
        if let Err(error) = deliver(&pool, &database_url, &settings, &http, &signal).await {
            tracing::warn!(
                error = format!("{error:#}"),
                "webhook delivery stopped; reconnecting"
            );
        }
        tokio::time::sleep(SCAN_EVERY).await;
    }
}

/// The HTTP client: no redirects (a redirect could lead anywhere), and
/// unless private targets are allowed, names resolved to public addresses
/// only.
fn client(settings: &WebhookSettings) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // A proxy would resolve the target itself, past the address check.
        .no_proxy()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("Chokepoint-Webhooks/", env!("CARGO_PKG_VERSION")));
    if !settings.allow_private_targets {
        builder = builder.dns_resolver(Arc::new(PublicAddresses));
    }
    builder.build()
}

/// Resolves a name to its public addresses only, so a name pointing into
/// a private network is refused when it is used, not just when checked.
struct PublicAddresses;

impl reqwest::dns::Resolve for PublicAddresses {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|address| is_public(address.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("`{}` has no public address", name.as_str()).into());
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Endpoints this replica is delivering to.
type Active = Arc<Mutex<HashSet<Uuid>>>;

fn held_by(active: &Active) -> Vec<Uuid> {
    active
        .lock()
        .expect("not poisoned")
        .iter()
        .copied()
        .collect()
}

async fn deliver(
    pool: &Pool,
    database_url: &str,
    settings: &Arc<WebhookSettings>,
    http: &reqwest::Client,
    signal: &EventSignal,
) -> anyhow::Result<()> {
    let client =
        Arc::new(crate::store::dedicated_connection(database_url, APPLICATION_NAME).await?);
    let active: Active = Arc::default();
    let mut events = signal.subscribe();
    // Owned here, so that when delivery stops its endpoint tasks stop too.
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        while tasks.try_join_next().is_some() {}
        let held = held_by(&active);
        for endpoint in store::take_due_endpoints(&*client, ENDPOINT_LOCK_CLASS, &held).await? {
            active.lock().expect("not poisoned").insert(endpoint);
            tasks.spawn(deliver_endpoint(
                client.clone(),
                pool.clone(),
                http.clone(),
                settings.clone(),
                endpoint,
                active.clone(),
            ));
        }
        let held = held_by(&active);
        // At least SCAN_FLOOR between scans: an endpoint another replica is
        // sending to stays due until it records the attempt.
        let wait = store::next_due_in(&*client, &held)
            .await?
            .map_or(SCAN_EVERY, |seconds| {
                Duration::from_secs_f64(seconds.clamp(0.0, SCAN_EVERY.as_secs_f64()))
            })
            .max(SCAN_FLOOR);
        tokio::select! {
            _ = events.changed() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Sends an endpoint its due deliveries, oldest first, until one fails or
/// none is due; then lets the endpoint go.
async fn deliver_endpoint(
    client: Arc<deadpool_postgres::Object>,
    pool: Pool,
    http: reqwest::Client,
    settings: Arc<WebhookSettings>,
    endpoint: Uuid,
    active: Active,
) {
    loop {
        let job = match store::next_delivery(&*client, endpoint).await {
            Ok(Some(job)) if job.due => job,
            Ok(_) => break,
            Err(error) => {
                tracing::warn!(error = %error, %endpoint, "reading the next delivery failed");
                break;
            }
        };
        let outcome = attempt(&http, &settings, &job).await;
        let delivered = outcome.state == DeliveryState::Delivered;
        match store::record_attempt(&*client, job.delivery_id, &outcome).await {
            Ok(_) => {}
            Err(error) => {
                // Left pending: it is sent again, as at-least-once allows.
                tracing::warn!(error = %error, delivery = job.delivery_id, "recording a delivery failed");
                break;
            }
        }
        if !delivered {
            tracing::info!(
                delivery = job.delivery_id, %endpoint, status = outcome.status,
                error = outcome.error.as_deref(), "webhook delivery failed; retrying later"
            );
            disable_if_failing_too_long(&pool, &settings, endpoint, &job).await;
            break;
        }
    }
    let _ = client
        .execute(
            "SELECT pg_advisory_unlock($1, hashtext($2::uuid::text))",
            &[&ENDPOINT_LOCK_CLASS, &endpoint],
        )
        .await;
    active.lock().expect("not poisoned").remove(&endpoint);
}

/// One signed request; how it went, and when to try again if it failed.
async fn attempt(
    http: &reqwest::Client,
    settings: &WebhookSettings,
    job: &DeliveryJob,
) -> AttemptOutcome {
    let started = Instant::now();
    let sent = match WebhookUrl::parse(&job.url, settings.allow_private_targets) {
        Err(refused) => Err(format!("the URL is no longer allowed: {refused}")),
        Ok(url) => {
            let timestamp = OffsetDateTime::now_utc().unix_timestamp();
            let mut secrets = vec![job.secret.as_str()];
            secrets.extend(job.previous_secret.as_deref());
            http.post(url.as_str())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(
                    signature::HEADER,
                    signature::header_value(&secrets, timestamp, job.body.as_bytes()),
                )
                .header("Chokepoint-Event-Id", job.event_id.to_string())
                .header("Chokepoint-Event-Type", &job.event_type)
                .header("Chokepoint-Delivery-Id", job.delivery_id.to_string())
                .header(
                    "Chokepoint-Delivery-Attempt",
                    (job.attempts + 1).to_string(),
                )
                .body(job.body.clone())
                .send()
                .await
                .map(|response| response.status())
                .map_err(|error| describe(&error))
        }
    };
    let latency_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    let now = OffsetDateTime::now_utc();
    let (status, error) = match sent {
        Ok(status) => (Some(i32::from(status.as_u16())), None),
        Err(error) => (None, Some(error)),
    };
    let accepted = status.is_some_and(|s| (200..300).contains(&s));
    let delay = retry_delay(settings, job.attempts);
    let gives_up = now + delay > job.created_at + settings.retry_for;
    AttemptOutcome {
        state: match (accepted, gives_up) {
            (true, _) => DeliveryState::Delivered,
            (false, true) => DeliveryState::Failed,
            (false, false) => DeliveryState::Pending,
        },
        next_attempt_at: now + delay,
        status,
        error,
        latency_ms,
    }
}

/// The wait after the attempt numbered `attempts` (0 for the first) failed:
/// the base, doubled per attempt before, at most the maximum.
pub fn retry_delay(settings: &WebhookSettings, attempts: i32) -> Duration {
    let doublings = attempts.clamp(0, 30) as u32;
    settings
        .retry_base
        .saturating_mul(1 << doublings)
        .min(settings.retry_max)
}

/// An error worth logging: its chain, without the URL (shown already).
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(MAX_ERROR_CHARS).collect()
}

/// Disables an endpoint whose deliveries have all failed for longer than
/// the setting, and tells its key's feed.
async fn disable_if_failing_too_long(
    pool: &Pool,
    settings: &WebhookSettings,
    endpoint: Uuid,
    job: &DeliveryJob,
) {
    let now = OffsetDateTime::now_utc();
    let failing_before = now - settings.disable_after;
    if job
        .failing_since
        .is_none_or(|since| since >= failing_before)
    {
        return;
    }
    let disabled = async {
        let mut client = pool.get().await?;
        let tx = client.transaction().await?;
        let reason = format!(
            "every delivery failed for more than {} hours",
            settings.disable_after.as_secs() / 3600
        );
        if let Some(owner) =
            store::disable_failing_endpoint(&tx, endpoint, failing_before, &reason).await?
        {
            let id = Uuid::new_v4();
            let body = serde_json::json!({
                "id": id,
                "type": EventType::WebhookDisabled,
                "created_at": super::rfc3339(now),
                "detail": {"endpoint_id": endpoint, "reason": reason, "url": job.url},
            });
            let event = NewEvent {
                id,
                owner,
                event_type: EventType::WebhookDisabled,
                rule_id: None,
                body,
            };
            store::insert_event(&tx, &event, Recipients::FeedOnly).await?;
            tracing::warn!(%endpoint, "webhook endpoint disabled after failing too long");
        }
        tx.commit().await?;
        Ok::<_, anyhow::Error>(())
    };
    if let Err(error) = disabled.await {
        tracing::warn!(error = format!("{error:#}"), %endpoint, "disabling a failing endpoint failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_the_maximum() {
        let settings = WebhookSettings {
            retry_base: Duration::from_secs(10),
            retry_max: Duration::from_secs(3600),
            ..WebhookSettings::default()
        };
        let delays: Vec<u64> = (0..11)
            .map(|n| retry_delay(&settings, n).as_secs())
            .collect();
        assert_eq!(
            delays,
            [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
        );
        assert_eq!(retry_delay(&settings, i32::MAX).as_secs(), 3600);
        // The default schedule keeps retrying for three days: more than 24
        // hours of attempts.
        let defaults = WebhookSettings::default();
        let mut waited = Duration::ZERO;
        let mut attempts = 0;
        while waited + retry_delay(&defaults, attempts) <= defaults.retry_for {
            waited += retry_delay(&defaults, attempts);
            attempts += 1;
        }
        assert!(waited >= Duration::from_secs(24 * 3600), "{waited:?}");
        assert!(attempts > 24, "{attempts}");
    }
}
