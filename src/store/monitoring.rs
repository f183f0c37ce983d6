//! SQL for monitoring: watchlists, alert rules and their state, the event
//! outbox, webhook endpoints and their deliveries. Every read and change a
//! caller makes names the owner key, so one key never sees another's.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use serde::Serialize;
use time::OffsetDateTime;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;
use utoipa::ToSchema;
use uuid::Uuid;

use super::sources::corrupt;
use super::{Page, StoreError};
use crate::domain::{Buyer, Condition, EventType, ProductId};

/// The channel a committed event is announced on: feeds waiting for one
/// and every replica's deliverer wake up.
pub const EVENTS_CHANNEL: &str = "chokepoint_events";

/// Held, for its transaction, by every writer of events, so events commit
/// in `seq` order (the feed's cursor never skips one).
const EVENTS_LOCK: i64 = 0x6368_6f6b_0001;

/// One page of rows, newest first, after `after` (the last one seen):
/// `from` names the table and a `WHERE` on `$1`, which is `scope`.
async fn newest_first<T>(
    client: &impl GenericClient,
    columns: &str,
    from: &str,
    scope: &(dyn ToSql + Sync),
    after: Option<(OffsetDateTime, Uuid)>,
    limit: usize,
    read: fn(&Row) -> Result<T, StoreError>,
) -> Result<Page<T>, StoreError> {
    let (at, id) = after.unzip();
    let rows = client
        .query(
            &format!(
                "SELECT {columns} FROM {from}
                   AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
                 ORDER BY created_at DESC, id DESC LIMIT $4"
            ),
            &[scope, &at, &id, &(limit as i64 + 1)],
        )
        .await?;
    let items = rows.iter().map(read).collect::<Result<_, _>>()?;
    Ok(Page::from_rows(items, limit))
}

/// The owner's row of `table` with this id.
async fn owned<T>(
    client: &impl GenericClient,
    columns: &str,
    table: &str,
    owner: i64,
    id: Uuid,
    read: fn(&Row) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let row = client
        .query_opt(
            &format!("SELECT {columns} FROM {table} WHERE id = $1 AND owner_key = $2"),
            &[&id, &owner],
        )
        .await?;
    row.as_ref().map(read).transpose()
}

/// Deletes the owner's row of `table` with this id; whether there was one.
async fn delete_owned(
    client: &impl GenericClient,
    table: &str,
    owner: i64,
    id: Uuid,
) -> Result<bool, StoreError> {
    let deleted = client
        .execute(
            &format!("DELETE FROM {table} WHERE id = $1 AND owner_key = $2"),
            &[&id, &owner],
        )
        .await?;
    Ok(deleted == 1)
}

/// A watchlist as stored and returned.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WatchlistRecord {
    /// Its id, a UUID.
    #[schema(value_type = String, format = Uuid, example = "5d0e3c1a-8f64-4b6a-9a43-3c2f1b7f6e10")]
    pub id: Uuid,
    /// 1 to 200 characters.
    #[schema(example = "Motor programme")]
    pub name: String,
    /// Whom the products are scored for.
    pub buyer: Buyer,
    /// The products watched, 1 to 1,000.
    pub products: Vec<ProductId>,
    /// When it was created (UTC).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// When it was last changed (UTC).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

const WATCHLIST_COLUMNS: &str = "id, name, buyer, products, created_at, updated_at";

fn watchlist(row: &Row) -> Result<WatchlistRecord, StoreError> {
    let (buyer, products) = watchlist_parts(row)?;
    Ok(WatchlistRecord {
        id: row.get("id"),
        name: row.get("name"),
        buyer,
        products,
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    })
}

fn product_texts(products: &[ProductId]) -> Vec<&str> {
    products.iter().map(|p| p.as_str()).collect()
}

pub async fn insert_watchlist(
    client: &impl GenericClient,
    owner: i64,
    name: &str,
    buyer: Buyer,
    products: &[ProductId],
) -> Result<WatchlistRecord, StoreError> {
    let row = client
        .query_one(
            &format!(
                "INSERT INTO watchlists (id, owner_key, name, buyer, products)
                 VALUES ($1, $2, $3, $4, $5) RETURNING {WATCHLIST_COLUMNS}"
            ),
            &[
                &Uuid::new_v4(),
                &owner,
                &name,
                &buyer.as_str(),
                &product_texts(products),
            ],
        )
        .await?;
    watchlist(&row)
}

/// Forgets what a watchlist's rules saw of products it no longer lists,
/// so a product listed again starts with a first look.
pub async fn forget_unwatched_states(
    client: &impl GenericClient,
    watchlist_id: Uuid,
) -> Result<(), StoreError> {
    client
        .execute(
            "DELETE FROM alert_rule_state s USING alert_rules r, watchlists w
             WHERE s.rule_id = r.id AND r.watchlist_id = w.id AND w.id = $1
               AND NOT s.product = ANY (w.products)",
            &[&watchlist_id],
        )
        .await?;
    Ok(())
}

/// Replaces a watchlist's name, buyer and products; `None` if the owner
/// has no such watchlist.
pub async fn update_watchlist(
    client: &impl GenericClient,
    owner: i64,
    id: Uuid,
    name: &str,
    buyer: Buyer,
    products: &[ProductId],
) -> Result<Option<WatchlistRecord>, StoreError> {
    let row = client
        .query_opt(
            &format!(
                "UPDATE watchlists SET name = $3, buyer = $4, products = $5,
                        updated_at = clock_timestamp()
                 WHERE id = $1 AND owner_key = $2 RETURNING {WATCHLIST_COLUMNS}"
            ),
            &[
                &id,
                &owner,
                &name,
                &buyer.as_str(),
                &product_texts(products),
            ],
        )
        .await?;
    row.as_ref().map(watchlist).transpose()
}

pub async fn get_watchlist(
    client: &impl GenericClient,
    owner: i64,
    id: Uuid,
) -> Result<Option<WatchlistRecord>, StoreError> {
    owned(
        client,
        WATCHLIST_COLUMNS,
        "watchlists",
        owner,
        id,
        watchlist,
    )
    .await
}

/// The owner's watchlists, newest first; `after` is the last one seen.
pub async fn list_watchlists(
    client: &impl GenericClient,
    owner: i64,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: usize,
) -> Result<Page<WatchlistRecord>, StoreError> {
    let from = "watchlists WHERE owner_key = $1";
    newest_first(
        client,
        WATCHLIST_COLUMNS,
        from,
        &owner,
        after,
        limit,
        watchlist,
    )
    .await
}

/// Deletes a watchlist and its rules; whether the owner had it.
pub async fn delete_watchlist(
    client: &impl GenericClient,
    owner: i64,
    id: Uuid,
) -> Result<bool, StoreError> {
    delete_owned(client, "watchlists", owner, id).await
}

/// An alert rule as stored and returned.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleRecord {
    /// Its id, a UUID.
    #[schema(value_type = String, format = Uuid, example = "9c1f5a7e-2b3d-4e8f-a6b1-0d2c3e4f5a6b")]
    pub id: Uuid,
    /// The watchlist whose products it watches.
    #[schema(value_type = String, format = Uuid)]
    pub watchlist_id: Uuid,
    /// 1 to 200 characters.
    #[schema(example = "Magnet dependency above 90")]
    pub name: String,
    /// What raises an event.
    pub condition: Condition,
    /// Seconds after an event during which the rule raises nothing for
    /// the same product (0 to 30 days; 0: none).
    pub quiet_period_seconds: i32,
    /// When it was created (UTC).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

const RULE_COLUMNS: &str = "id, watchlist_id, name, condition, quiet_period_seconds, created_at";

fn rule(row: &Row) -> Result<RuleRecord, StoreError> {
    let id: Uuid = row.get("id");
    Ok(RuleRecord {
        id,
        watchlist_id: row.get("watchlist_id"),
        name: row.get("name"),
        condition: serde_json::from_value(row.get("condition"))
            .map_err(|e| corrupt(format!("condition of rule {id}: {e}")))?,
        quiet_period_seconds: row.get("quiet_period_seconds"),
        created_at: row.get("created_at"),
    })
}

/// Inserts a rule on one of the owner's watchlists; `None` if the owner
/// has no such watchlist.
pub async fn insert_rule(
    client: &impl GenericClient,
    owner: i64,
    watchlist_id: Uuid,
    name: &str,
    condition: &Condition,
    quiet_period_seconds: i32,
) -> Result<Option<RuleRecord>, StoreError> {
    let condition = serde_json::to_value(condition).map_err(|e| StoreError::Other(e.into()))?;
    let row = client
        .query_opt(
            &format!(
                "INSERT INTO alert_rules (id, owner_key, watchlist_id, name, condition, quiet_period_seconds)
                 SELECT $1, $2, id, $4, $5, $6 FROM watchlists WHERE id = $3 AND owner_key = $2
                 RETURNING {RULE_COLUMNS}"
            ),
            &[
                &Uuid::new_v4(),
                &owner,
                &watchlist_id,
                &name,
                &condition,
                &quiet_period_seconds,
            ],
        )
        .await?;
    row.as_ref().map(rule).transpose()
}

pub async fn get_rule(
    client: &impl GenericClient,
    owner: i64,
    id: Uuid,
) -> Result<Option<RuleRecord>, StoreError> {
    owned(client, RULE_COLUMNS, "alert_rules", owner, id, rule).await
}

/// A watchlist's rules, newest first; `after` is the last one seen.
/// `None` if the owner has no such watchlist.
pub async fn list_rules(
    client: &impl GenericClient,
    owner: i64,
    watchlist_id: Uuid,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: usize,
) -> Result<Option<Page<RuleRecord>>, StoreError> {
    if get_watchlist(client, owner, watchlist_id).await?.is_none() {
        return Ok(None);
    }
    let from = "alert_rules WHERE watchlist_id = $1";
    let page = newest_first(
        client,
        RULE_COLUMNS,
        from,
        &watchlist_id,
        after,
        limit,
        rule,
    )
    .await?;
    Ok(Some(page))
}

pub async fn delete_rule(
    client: &impl GenericClient,
    owner: i64,
    id: Uuid,
) -> Result<bool, StoreError> {
    delete_owned(client, "alert_rules", owner, id).await
}

/// A rule as the evaluator reads it: with its owner and watchlist.
#[derive(Debug, Clone)]
pub struct WatchedRule {
    pub rule: RuleRecord,
    pub owner: i64,
    pub buyer: Buyer,
    pub products: Vec<ProductId>,
}

/// Every rule with its watchlist's buyer and products.
pub async fn watched_rules(client: &impl GenericClient) -> Result<Vec<WatchedRule>, StoreError> {
    let rows = client
        .query(
            "SELECT r.id, r.watchlist_id, r.name, r.condition, r.quiet_period_seconds,
                    r.created_at, r.owner_key, w.buyer, w.products
             FROM alert_rules r JOIN watchlists w ON w.id = r.watchlist_id
             JOIN api_keys k ON k.id = r.owner_key AND k.revoked_at IS NULL
             ORDER BY r.id",
            &[],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let (buyer, products) = watchlist_parts(row)?;
            Ok(WatchedRule {
                rule: rule(row)?,
                owner: row.get("owner_key"),
                buyer,
                products,
            })
        })
        .collect()
}

/// A watchlist row's buyer and products.
fn watchlist_parts(row: &Row) -> Result<(Buyer, Vec<ProductId>), StoreError> {
    let buyer: String = row.get("buyer");
    let products: Vec<String> = row.get("products");
    Ok((
        Buyer::parse(&buyer).ok_or_else(|| corrupt(format!("buyer {buyer}")))?,
        products
            .iter()
            .map(|p| ProductId::parse(p).map_err(|_| corrupt(format!("product {p}"))))
            .collect::<Result<_, _>>()?,
    ))
}

/// Every rule's state per product, as stored.
pub async fn rule_states(
    client: &impl GenericClient,
) -> Result<HashMap<(Uuid, String), serde_json::Value>, StoreError> {
    let rows = client
        .query("SELECT rule_id, product, state FROM alert_rule_state", &[])
        .await?;
    Ok(rows
        .iter()
        .map(|row| ((row.get("rule_id"), row.get("product")), row.get("state")))
        .collect())
}

/// Stores rules' states per product, in one statement. A rule deleted
/// since it was read gets nothing stored.
pub async fn save_rule_states(
    client: &impl GenericClient,
    states: &[(Uuid, String, serde_json::Value)],
) -> Result<(), StoreError> {
    let rules: Vec<Uuid> = states.iter().map(|(rule, _, _)| *rule).collect();
    let products: Vec<&str> = states.iter().map(|(_, p, _)| p.as_str()).collect();
    let values: Vec<&serde_json::Value> = states.iter().map(|(_, _, v)| v).collect();
    client
        .execute(
            "INSERT INTO alert_rule_state (rule_id, product, state)
             SELECT s.rule_id, s.product, s.state
             FROM unnest($1::uuid[], $2::text[], $3::jsonb[]) AS s (rule_id, product, state)
             JOIN alert_rules r ON r.id = s.rule_id
             ON CONFLICT (rule_id, product)
             DO UPDATE SET state = EXCLUDED.state, updated_at = clock_timestamp()",
            &[&rules, &products, &values],
        )
        .await?;
    Ok(())
}

/// An event to store.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: Uuid,
    pub owner: i64,
    pub event_type: EventType,
    pub rule_id: Option<Uuid>,
    /// The event as the feed and webhooks carry it.
    pub body: serde_json::Value,
}

/// Who receives an event by webhook.
#[derive(Debug, Clone, Copy)]
pub enum Recipients {
    /// The owner's enabled endpoints that take its type and rule.
    Subscribed,
    /// This endpoint only (a ping).
    Endpoint(Uuid),
    /// No endpoint: the feed only.
    FeedOnly,
}

/// Stores an event and queues its deliveries, inside the caller's
/// transaction; returns its `seq`. Takes the events lock for the rest of
/// the transaction.
pub async fn insert_event(
    client: &impl GenericClient,
    event: &NewEvent,
    recipients: Recipients,
) -> Result<i64, StoreError> {
    client
        .execute("SELECT pg_advisory_xact_lock($1)", &[&EVENTS_LOCK])
        .await?;
    // Written once, rounded as every answer is: the feed and each
    // delivery send these bytes.
    let body = crate::numbers::to_json(&event.body)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            StoreError::Other(anyhow::anyhow!("event {} does not serialise", event.id))
        })?;
    let seq: i64 = client
        .query_one(
            "INSERT INTO events (id, owner_key, type, rule_id, body)
             VALUES ($1, $2, $3, $4, $5::text::json) RETURNING seq",
            &[
                &event.id,
                &event.owner,
                &event.event_type.as_str(),
                &event.rule_id,
                &body,
            ],
        )
        .await?
        .get(0);
    match recipients {
        Recipients::Subscribed => {
            client
                .execute(
                    "INSERT INTO deliveries (endpoint_id, event_seq)
                     SELECT id, $1 FROM webhook_endpoints
                     WHERE owner_key = $2 AND disabled_at IS NULL
                       AND EXISTS (SELECT 1 FROM api_keys WHERE id = $2 AND revoked_at IS NULL)
                       AND (cardinality(event_types) = 0 OR $3 = ANY (event_types))
                       AND (cardinality(rule_ids) = 0 OR $4 = ANY (rule_ids))
                     ORDER BY id",
                    &[
                        &seq,
                        &event.owner,
                        &event.event_type.as_str(),
                        &event.rule_id,
                    ],
                )
                .await?;
        }
        Recipients::Endpoint(endpoint) => {
            client
                .execute(
                    "INSERT INTO deliveries (endpoint_id, event_seq) VALUES ($1, $2)",
                    &[&endpoint, &seq],
                )
                .await?;
        }
        Recipients::FeedOnly => {}
    }
    client
        .execute("SELECT pg_notify($1, '')", &[&EVENTS_CHANNEL])
        .await?;
    Ok(seq)
}

/// One event of a feed.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub seq: i64,
    /// The event's JSON, as stored.
    pub body: String,
}

/// The owner's events after `after`, oldest first.
pub async fn events_after(
    client: &impl GenericClient,
    owner: i64,
    after: i64,
    limit: usize,
) -> Result<Vec<StoredEvent>, StoreError> {
    let rows = client
        .query(
            "SELECT seq, body::text AS body FROM events
             WHERE owner_key = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            &[&owner, &after, &(limit as i64)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| StoredEvent {
            seq: row.get("seq"),
            body: row.get("body"),
        })
        .collect())
}

/// The last event's `seq`, 0 before any: where a new feed starts.
pub async fn last_event_seq(client: &impl GenericClient, owner: i64) -> Result<i64, StoreError> {
    let row = client
        .query_one(
            "SELECT coalesce(max(seq), 0) FROM events WHERE owner_key = $1",
            &[&owner],
        )
        .await?;
    Ok(row.get(0))
}

/// A webhook endpoint as returned (never its secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EndpointRecord {
    /// Its id, a UUID.
    #[schema(value_type = String, format = Uuid, example = "2f6c8e1d-3a4b-4c5d-8e9f-0a1b2c3d4e5f")]
    pub id: Uuid,
    /// Where events are POSTed.
    #[schema(example = "https://procurement.example.com/hooks/chokepoint")]
    pub url: String,
    /// What it is for.
    pub description: String,
    /// The event types it receives; empty: every type.
    pub event_types: Vec<EventType>,
    /// The rules whose events it receives; empty: every rule of the key.
    #[schema(value_type = Vec<String>)]
    pub rule_ids: Vec<Uuid>,
    /// When it was created (UTC).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Since when every delivery has failed; absent while deliveries succeed.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub failing_since: Option<OffsetDateTime>,
    /// When it was disabled (it then receives nothing); absent while enabled.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub disabled_at: Option<OffsetDateTime>,
    /// Why it was disabled.
    pub disabled_reason: Option<String>,
    /// Until when the previous secret signs too, after a rotation.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub previous_secret_until: Option<OffsetDateTime>,
}

const ENDPOINT_COLUMNS: &str = "id, url, description, event_types, rule_ids, created_at, \
     failing_since, disabled_at, disabled_reason, previous_secret_until";

fn endpoint(row: &Row) -> Result<EndpointRecord, StoreError> {
    let types: Vec<String> = row.get("event_types");
    Ok(EndpointRecord {
        id: row.get("id"),
        url: row.get("url"),
        description: row.get("description"),
        event_types: types
            .iter()
            .map(|t| EventType::parse(t).ok_or_else(|| corrupt(format!("event type {t}"))))
            .collect::<Result<_, _>>()?,
        rule_ids: row.get("rule_ids"),
        created_at: row.get("created_at"),
        failing_since: row.get("failing_since"),
        disabled_at: row.get("disabled_at"),
        disabled_reason: row.get("disabled_reason"),
        previous_secret_until: row.get("previous_secret_until"),
    })
}

/// A new endpoint's settings.
pub struct NewEndpoint<'a> {
    pub url: &'a str,
    pub description: &'a str,
    pub event_types: &'a [EventType],
    pub rule_ids: &'a [Uuid],
    pub secret: &'a str,
}

/// Inserts an endpoint; `Err(missing rule)` when one of `rule_ids` is not
/// the owner's.
pub async fn insert_endpoint(
    client: &impl GenericClient,
    owner: i64,
    new: &NewEndpoint<'_>,
) -> Result<Result<EndpointRecord, Uuid>, StoreError> {
    if let Some(missing) = missing_rule(client, owner, new.rule_ids).await? {
        return Ok(Err(missing));
    }
    let types: Vec<&str> = new.event_types.iter().map(|t| t.as_str()).collect();
    let row = client
        .query_one(
            &format!(
                "INSERT INTO webhook_endpoints (id, owner_key, url, description, event_types, rule_ids, secret)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {ENDPOINT_COLUMNS}"
            ),
            &[
                &Uuid::new_v4(),
                &owner,
                &new.url,
                &new.description,
                &types,
                &new.rule_ids,
                &new.secret,
            ],
        )
        .await?;
    Ok(Ok(endpoint(&row)?))
}

async fn missing_rule(
    client: &impl GenericClient,
    owner: i64,
    rule_ids: &[Uuid],
) -> Result<Option<Uuid>, StoreError> {
    if rule_ids.is_empty() {
        return Ok(None);
    }
    let row = client
        .query_one(
            "SELECT (SELECT r FROM unnest($1::uuid[]) r
                     WHERE NOT EXISTS (SELECT 1 FROM alert_rules WHERE id = r AND owner_key = $2)
                     LIMIT 1)",
            &[&rule_ids, &owner],
        )
        .await?;
    Ok(row.get(0))
}

pub async fn get_endpoint(
    client: &impl GenericClient,
    owner: i64,
    id: Uuid,
) -> Result<Option<EndpointRecord>, StoreError> {
    owned(
        client,
        ENDPOINT_COLUMNS,
        "webhook_endpoints",
        owner,
        id,
        endpoint,
    )
    .await
}

/// The owner's endpoints, newest first; `after` is the last one seen.
pub async fn list_endpoints(
    client: &impl GenericClient,
    owner: i64,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: usize,
) -> Result<Page<EndpointRecord>, StoreError> {
    let from = "webhook_endpoints WHERE owner_key = $1";
    newest_first(
        client,
        ENDPOINT_COLUMNS,
        from,
        &owner,
        after,
        limit,
        endpoint,
    )
    .await
}

pub async fn delete_endpoint(
    client: &impl GenericClient,
    owner: i64,
    id: Uuid,
) -> Result<bool, StoreError> {
    delete_owned(client, "webhook_endpoints", owner, id).await
}

/// Replaces the signing secret; the previous one signs too until
/// `previous_until`. `None` if the owner has no such endpoint.
pub async fn rotate_secret(
    client: &impl GenericClient,
    owner: i64,
    id: Uuid,
    secret: &str,
    previous_until: OffsetDateTime,
) -> Result<Option<EndpointRecord>, StoreError> {
    let row = client
        .query_opt(
            &format!(
                "UPDATE webhook_endpoints
                 SET previous_secret = secret, secret = $3, previous_secret_until = $4
                 WHERE id = $1 AND owner_key = $2 RETURNING {ENDPOINT_COLUMNS}"
            ),
            &[&id, &owner, &secret, &previous_until],
        )
        .await?;
    row.as_ref().map(endpoint).transpose()
}

/// Enables a disabled endpoint again; its failure streak starts afresh.
pub async fn enable_endpoint(
    client: &impl GenericClient,
    owner: i64,
    id: Uuid,
) -> Result<Option<EndpointRecord>, StoreError> {
    let row = client
        .query_opt(
            &format!(
                "UPDATE webhook_endpoints
                 SET disabled_at = NULL, disabled_reason = NULL, failing_since = NULL
                 WHERE id = $1 AND owner_key = $2 RETURNING {ENDPOINT_COLUMNS}"
            ),
            &[&id, &owner],
        )
        .await?;
    row.as_ref().map(endpoint).transpose()
}

/// The state of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not delivered yet; retried until the retry window closes.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Retried for the whole window without success.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<DeliveryState> {
        [
            DeliveryState::Pending,
            DeliveryState::Delivered,
            DeliveryState::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// One event's delivery to one endpoint, as the delivery log lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryRecord {
    /// The delivery's id.
    pub id: i64,
    /// The event delivered.
    #[schema(value_type = String, format = Uuid)]
    pub event_id: Uuid,
    /// Its type.
    pub event_type: EventType,
    /// `pending` (retried until it is accepted or the retry window
    /// closes), `delivered` or `failed`.
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: i32,
    /// When it was queued (UTC).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// When the next attempt is due, while pending.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// When the endpoint accepted it.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<OffsetDateTime>,
    /// The HTTP status of the last attempt; absent when it got no answer.
    pub last_status: Option<i32>,
    /// Why the last attempt failed, when it got no answer.
    pub last_error: Option<String>,
    /// Milliseconds the last attempt took.
    pub last_latency_ms: Option<i32>,
}

fn delivery(row: &Row) -> Result<DeliveryRecord, StoreError> {
    let state: String = row.get("state");
    let event_type: String = row.get("type");
    let state = DeliveryState::parse(&state).ok_or_else(|| corrupt(format!("state {state}")))?;
    Ok(DeliveryRecord {
        id: row.get("id"),
        event_id: row.get("event_id"),
        event_type: EventType::parse(&event_type)
            .ok_or_else(|| corrupt(format!("event type {event_type}")))?,
        state,
        attempts: row.get("attempts"),
        created_at: row.get("created_at"),
        next_attempt_at: (state == DeliveryState::Pending).then(|| row.get("next_attempt_at")),
        delivered_at: row.get("delivered_at"),
        last_status: row.get("last_status"),
        last_error: row.get("last_error"),
        last_latency_ms: row.get("last_latency_ms"),
    })
}

/// An endpoint's deliveries, newest first; `before` is the last id seen.
/// `None` if the owner has no such endpoint.
pub async fn list_deliveries(
    client: &impl GenericClient,
    owner: i64,
    endpoint_id: Uuid,
    before: Option<i64>,
    limit: usize,
) -> Result<Option<Page<DeliveryRecord>>, StoreError> {
    if get_endpoint(client, owner, endpoint_id).await?.is_none() {
        return Ok(None);
    }
    let rows = client
        .query(
            "SELECT d.id, e.id AS event_id, e.type, d.state, d.attempts, d.created_at,
                    d.next_attempt_at, d.delivered_at, d.last_status, d.last_error, d.last_latency_ms
             FROM deliveries d JOIN events e ON e.seq = d.event_seq
             WHERE d.endpoint_id = $1 AND ($2::bigint IS NULL OR d.id < $2)
             ORDER BY d.id DESC LIMIT $3",
            &[&endpoint_id, &before, &(limit as i64 + 1)],
        )
        .await?;
    let items = rows.iter().map(delivery).collect::<Result<_, _>>()?;
    Ok(Some(Page::from_rows(items, limit)))
}

/// Queues a delivery's event again for its endpoint, as a new delivery
/// after every one queued; `None` if the owner has no such delivery.
pub async fn redeliver(
    client: &impl GenericClient,
    owner: i64,
    endpoint_id: Uuid,
    delivery_id: i64,
) -> Result<Option<DeliveryRecord>, StoreError> {
    let row = client
        .query_opt(
            "WITH queued AS (
                 INSERT INTO deliveries (endpoint_id, event_seq)
                 SELECT d.endpoint_id, d.event_seq FROM deliveries d
                 JOIN webhook_endpoints w ON w.id = d.endpoint_id
                 WHERE d.id = $3 AND d.endpoint_id = $2 AND w.owner_key = $1
                 RETURNING *)
             SELECT q.id, e.id AS event_id, e.type, q.state, q.attempts, q.created_at,
                    q.next_attempt_at, q.delivered_at, q.last_status, q.last_error, q.last_latency_ms
             FROM queued q JOIN events e ON e.seq = q.event_seq",
            &[&owner, &endpoint_id, &delivery_id],
        )
        .await?;
    if row.is_some() {
        client
            .execute("SELECT pg_notify($1, '')", &[&EVENTS_CHANNEL])
            .await?;
    }
    row.as_ref().map(delivery).transpose()
}

/// Takes every endpoint whose oldest pending delivery is due (only that
/// one may be attempted, so each endpoint receives its events in order)
/// and that no session holds, locking each for this session under
/// `lock_class`; `active` are the ones this session holds already. The due
/// endpoints are found first (materialised), so a lock is tried once per
/// due endpoint and never on another row.
pub async fn take_due_endpoints(
    client: &impl GenericClient,
    lock_class: i32,
    active: &[Uuid],
) -> Result<Vec<Uuid>, StoreError> {
    let rows = client
        .query(
            "WITH due AS MATERIALIZED (
                 SELECT head.endpoint_id FROM (
                     SELECT DISTINCT ON (endpoint_id) endpoint_id, next_attempt_at
                     FROM deliveries WHERE state = 'pending' ORDER BY endpoint_id, id) head
                 JOIN webhook_endpoints w ON w.id = head.endpoint_id AND w.disabled_at IS NULL
                 JOIN api_keys k ON k.id = w.owner_key AND k.revoked_at IS NULL
                 WHERE head.next_attempt_at <= clock_timestamp()
                   AND NOT head.endpoint_id = ANY ($2))
             SELECT endpoint_id FROM due
             WHERE pg_try_advisory_lock($1, hashtext(endpoint_id::text))",
            &[&lock_class, &active],
        )
        .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// Seconds until the oldest pending delivery of an enabled endpoint not in
/// `active` is due (negative when it is), if there is one.
pub async fn next_due_in(
    client: &impl GenericClient,
    active: &[Uuid],
) -> Result<Option<f64>, StoreError> {
    let row = client
        .query_one(
            "SELECT extract(epoch FROM min(head.next_attempt_at) - clock_timestamp())::float8
             FROM (SELECT DISTINCT ON (endpoint_id) endpoint_id, next_attempt_at
                   FROM deliveries WHERE state = 'pending' ORDER BY endpoint_id, id) head
             JOIN webhook_endpoints w ON w.id = head.endpoint_id AND w.disabled_at IS NULL
             WHERE NOT head.endpoint_id = ANY ($1)",
            &[&active],
        )
        .await?;
    Ok(row.get(0))
}

/// The next delivery of an endpoint, with what sending it needs.
#[derive(Debug, Clone)]
pub struct DeliveryJob {
    pub delivery_id: i64,
    pub attempts: i32,
    pub created_at: OffsetDateTime,
    pub due: bool,
    pub event_id: Uuid,
    pub event_type: String,
    pub body: String,
    pub url: String,
    pub secret: String,
    /// The previous secret while it still signs.
    pub previous_secret: Option<String>,
    pub owner: i64,
    pub failing_since: Option<OffsetDateTime>,
}

/// The oldest pending delivery of an enabled endpoint, if any.
pub async fn next_delivery(
    client: &impl GenericClient,
    endpoint_id: Uuid,
) -> Result<Option<DeliveryJob>, StoreError> {
    let row = client
        .query_opt(
            "SELECT d.id, d.attempts, d.created_at, d.next_attempt_at <= clock_timestamp() AS due,
                    e.id AS event_id, e.type, e.body::text AS body, w.url, w.secret,
                    CASE WHEN w.previous_secret_until > clock_timestamp() THEN w.previous_secret END
                        AS previous_secret,
                    w.owner_key, w.failing_since
             FROM deliveries d
             JOIN events e ON e.seq = d.event_seq
             JOIN webhook_endpoints w ON w.id = d.endpoint_id
             JOIN api_keys k ON k.id = w.owner_key AND k.revoked_at IS NULL
             WHERE d.endpoint_id = $1 AND d.state = 'pending' AND w.disabled_at IS NULL
             ORDER BY d.id LIMIT 1",
            &[&endpoint_id],
        )
        .await?;
    Ok(row.map(|row| DeliveryJob {
        delivery_id: row.get("id"),
        attempts: row.get("attempts"),
        created_at: row.get("created_at"),
        due: row.get("due"),
        event_id: row.get("event_id"),
        event_type: row.get("type"),
        body: row.get("body"),
        url: row.get("url"),
        secret: row.get("secret"),
        previous_secret: row.get("previous_secret"),
        owner: row.get("owner_key"),
        failing_since: row.get("failing_since"),
    }))
}

/// How an attempt went.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub state: DeliveryState,
    /// When to try again, while pending.
    pub next_attempt_at: OffsetDateTime,
    pub status: Option<i32>,
    pub error: Option<String>,
    pub latency_ms: i32,
}

/// Records an attempt in one statement (so one that never reaches the
/// database leaves the delivery pending, to be sent again): the delivery,
/// its log line and the endpoint's failure streak. Whether it was still
/// pending.
pub async fn record_attempt(
    client: &impl GenericClient,
    delivery_id: i64,
    outcome: &AttemptOutcome,
) -> Result<bool, StoreError> {
    let delivered = outcome.state == DeliveryState::Delivered;
    let rows = client
        .execute(
            "WITH d AS (
                 UPDATE deliveries SET attempts = attempts + 1, state = $2, next_attempt_at = $3,
                        delivered_at = CASE WHEN $4 THEN clock_timestamp() END,
                        last_status = $5, last_error = $6, last_latency_ms = $7
                 WHERE id = $1 AND state = 'pending'
                 RETURNING id, attempts, endpoint_id),
             logged AS (
                 INSERT INTO delivery_attempts (delivery_id, attempt, status, error, latency_ms)
                 SELECT id, attempts, $5, $6, $7 FROM d)
             UPDATE webhook_endpoints w
             SET failing_since = CASE WHEN $4 THEN NULL
                                      ELSE coalesce(w.failing_since, clock_timestamp()) END
             FROM d WHERE w.id = d.endpoint_id",
            &[
                &delivery_id,
                &outcome.state.as_str(),
                &outcome.next_attempt_at,
                &delivered,
                &outcome.status,
                &outcome.error,
                &outcome.latency_ms,
            ],
        )
        .await?;
    Ok(rows == 1)
}

/// Disables an endpoint that has failed since before `failing_before`;
/// its owner, if it was disabled now.
pub async fn disable_failing_endpoint(
    client: &impl GenericClient,
    endpoint_id: Uuid,
    failing_before: OffsetDateTime,
    reason: &str,
) -> Result<Option<i64>, StoreError> {
    let row = client
        .query_opt(
            "UPDATE webhook_endpoints SET disabled_at = clock_timestamp(), disabled_reason = $3
             WHERE id = $1 AND disabled_at IS NULL AND failing_since < $2
             RETURNING owner_key",
            &[&endpoint_id, &failing_before, &reason],
        )
        .await?;
    Ok(row.map(|row| row.get(0)))
}
