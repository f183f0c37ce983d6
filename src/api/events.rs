//! `GET /v1/events`: the calling key's events, oldest first, from a
//! cursor on, for tools that pull; with `wait` the request is held until
//! an event arrives or the wait ends (long polling).

use std::time::Duration;

use actix_web::{get, web, HttpResponse};
use deadpool_postgres::Pool;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::auth::Subscriber;
use super::docs::{AccessErrors, QueryErrors};
use super::error::ApiError;
use super::extract::Query;
use crate::domain::{Buyer, EventType, ProductId};
use crate::monitor::EventSignal;
use crate::store::monitoring as store;
use crate::store::StoreError;

/// The longest a feed request waits for an event.
pub const MAX_WAIT_SECONDS: u64 = 60;
/// Most events per answer.
const MAX_LIMIT: usize = 1000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// The `next_cursor` of the previous answer (or any event's `cursor`):
    /// the events after it. Default: from the first event.
    #[param(pattern = "^[0-9]{1,18}$", example = "0")]
    after: Option<String>,
    /// How long to wait for an event when there is none after `after`:
    /// seconds, as `30` or `30s`, 0 to 60 (default 0: answer at once).
    #[param(pattern = "^[0-9]{1,2}s?$", example = "0")]
    wait: Option<String>,
    /// Most events to return, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

/// An event as the feed and webhooks carry it (a webhook's body is the
/// event alone).
#[derive(Debug, Serialize, ToSchema)]
pub struct Event {
    /// Stable: a redelivery carries the same id (deduplicate on it).
    #[schema(value_type = String, format = Uuid)]
    pub id: String,
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// When it was raised (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: String,
    /// The rule that raised it; absent for `ping` and `webhook.disabled`.
    pub rule: Option<EventRule>,
    /// Whom the scores are for; absent without a rule.
    pub buyer: Option<Buyer>,
    /// The watched product; absent without a rule.
    pub product: Option<ProductId>,
    /// What changed: for a score, `score`, `before`, `after` (and
    /// `threshold` and `direction`, or `points`, `since` and `change`); for
    /// a control, the control as `GET /v1/scores/{product}` lists it in
    /// `pressure`; for a conflict, the conflict as listed in `conflicts`.
    #[schema(value_type = Object)]
    pub detail: Value,
    /// The facts added or retracted since the rule's previous look that
    /// can move the product's scores (its own, its inputs' at any depth,
    /// country-level ones), at most 50; empty when not known.
    pub caused_by: Option<Causes>,
    /// The data the rule read.
    pub data_version: Option<String>,
    /// The method of the scores it read.
    pub methodology_version: Option<String>,
}

/// The rule that raised an event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventRule {
    /// The rule's id (`/v1/rules/{id}`).
    #[schema(value_type = String, format = Uuid)]
    pub id: String,
    /// Its name when it raised the event.
    pub name: String,
    /// The watchlist it watches (`/v1/watchlists/{id}`).
    #[schema(value_type = String, format = Uuid)]
    pub watchlist_id: String,
}

/// What caused an event.
#[derive(Debug, Serialize, ToSchema)]
pub struct Causes {
    /// Fact ids (`GET /v1/facts/{id}`).
    pub facts: Vec<i64>,
}

/// One event of the feed, with its position.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedItem {
    /// Pass as `after` to read on from this event.
    #[schema(example = "42")]
    pub cursor: String,
    /// The event, byte for byte as its webhooks receive it.
    #[schema(value_type = Event)]
    pub event: Box<RawValue>,
}

/// A feed answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventFeed {
    /// Oldest first.
    pub items: Vec<FeedItem>,
    /// Pass as `after` next time: the last event's cursor, or the one
    /// given when there was none.
    #[schema(example = "42")]
    pub next_cursor: String,
}

fn parse_query(query: &FeedQuery) -> Result<(i64, Duration, usize), ApiError> {
    let after = match query.after.as_deref() {
        None => 0,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| {
                ApiError::invalid_parameter("after", "query", "must be a cursor from this feed")
            })?,
    };
    let wait = match query.wait.as_deref() {
        None => 0,
        Some(text) => text
            .strip_suffix('s')
            .unwrap_or(text)
            .parse::<u64>()
            .ok()
            .filter(|n| *n <= MAX_WAIT_SECONDS)
            .ok_or_else(|| {
                ApiError::invalid_parameter(
                    "wait",
                    "query",
                    format!("must be 0 to {MAX_WAIT_SECONDS} seconds, as `30` or `30s`"),
                )
            })?,
    };
    let limit = match query.limit {
        None => 100,
        Some(limit) if (1..=MAX_LIMIT).contains(&limit) => limit,
        Some(_) => {
            return Err(ApiError::invalid_parameter(
                "limit",
                "query",
                format!("must be 1 to {MAX_LIMIT}"),
            ))
        }
    };
    Ok((after, Duration::from_secs(wait), limit))
}

/// The calling key's events after `after`, oldest first: threshold
/// crossings, score moves, export-control changes and fact conflicts its
/// rules raised, its pings and its disabled endpoints. With `wait`, an
/// answer with no event comes only when the wait is over; one that
/// arrives meanwhile is answered at once. Events are kept, so a tool that
/// was away reads on from its last cursor and misses nothing.
#[utoipa::path(tag = "monitoring", params(FeedQuery), security(("bearer" = ["read"])),
    responses((status = 200, body = EventFeed), AccessErrors, QueryErrors))]
#[get("/events")]
pub async fn list_events(
    pool: web::Data<Pool>,
    signal: web::Data<EventSignal>,
    caller: Subscriber,
    query: Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    let (after, wait, limit) = parse_query(&query.0)?;
    let owner = caller.0.key_id;
    let deadline = tokio::time::Instant::now() + wait;
    // Subscribed before the first read, so an event committed after it
    // still wakes the wait.
    let mut arrivals = signal.subscribe();
    let found = loop {
        let found = {
            let client = pool.get().await.map_err(StoreError::from)?;
            store::events_after(&client, owner, after, limit).await?
        };
        if !found.is_empty() || tokio::time::Instant::now() >= deadline {
            break found;
        }
        tokio::select! {
            changed = arrivals.changed() => {
                if changed.is_err() {
                    break found;
                }
            }
            () = tokio::time::sleep_until(deadline) => {}
        }
    };
    let next_cursor = found.last().map_or(after, |event| event.seq).to_string();
    let items = found
        .into_iter()
        .map(|event| {
            Ok(FeedItem {
                cursor: event.seq.to_string(),
                event: RawValue::from_string(event.body).map_err(ApiError::internal)?,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    super::render::json(&EventFeed { items, next_cursor })
}
