//! The write use cases of monitoring: what a key saves for itself
//! (watchlists, rules, webhook endpoints) and asks of its endpoints (a
//! ping, a redelivery, a new secret). Each writes its change and its audit
//! row in the caller's transaction; the caller commits.

use deadpool_postgres::GenericClient;
use serde_json::json;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::signature;
use crate::domain::{Buyer, Condition, EventType, ProductId, WebhookUrl};
use crate::store::audit::Actor;
use crate::store::monitoring::{
    self as store, DeliveryRecord, EndpointRecord, NewEndpoint, NewEvent, Recipients, RuleRecord,
    WatchlistRecord,
};
use crate::store::StoreError;

/// A watchlist as asked for, already checked.
pub struct WatchlistInput {
    pub name: String,
    pub buyer: Buyer,
    pub products: Vec<ProductId>,
}

pub async fn create_watchlist(
    tx: &impl GenericClient,
    owner: i64,
    actor: &Actor,
    input: &WatchlistInput,
) -> Result<WatchlistRecord, StoreError> {
    let saved =
        store::insert_watchlist(tx, owner, &input.name, input.buyer, &input.products).await?;
    actor
        .record(tx, json!({ "watchlists": [saved.id] }))
        .await?;
    Ok(saved)
}

/// `None` if the owner has no such watchlist.
pub async fn replace_watchlist(
    tx: &impl GenericClient,
    owner: i64,
    actor: &Actor,
    id: Uuid,
    input: &WatchlistInput,
) -> Result<Option<WatchlistRecord>, StoreError> {
    let saved =
        store::update_watchlist(tx, owner, id, &input.name, input.buyer, &input.products).await?;
    if saved.is_some() {
        store::forget_unwatched_states(tx, id).await?;
        actor.record(tx, json!({ "watchlists": [id] })).await?;
    }
    Ok(saved)
}

/// Deletes a watchlist and its rules; whether the owner had it.
pub async fn delete_watchlist(
    tx: &impl GenericClient,
    owner: i64,
    actor: &Actor,
    id: Uuid,
) -> Result<bool, StoreError> {
    let deleted = store::delete_watchlist(tx, owner, id).await?;
    if deleted {
        actor.record(tx, json!({ "watchlists": [id] })).await?;
    }
    Ok(deleted)
}

/// A rule as asked for, already checked.
pub struct RuleInput {
    pub watchlist_id: Uuid,
    pub name: String,
    pub condition: Condition,
    pub quiet_period_seconds: i32,
}

/// `None` if the owner has no such watchlist.
pub async fn create_rule(
    tx: &impl GenericClient,
    owner: i64,
    actor: &Actor,
    input: &RuleInput,
) -> Result<Option<RuleRecord>, StoreError> {
    let saved = store::insert_rule(
        tx,
        owner,
        input.watchlist_id,
        &input.name,
        &input.condition,
        input.quiet_period_seconds,
    )
    .await?;
    if let Some(rule) = &saved {
        actor.record(tx, json!({ "rules": [rule.id] })).await?;
    }
    Ok(saved)
}

pub async fn delete_rule(
    tx: &impl GenericClient,
    owner: i64,
    actor: &Actor,
    id: Uuid,
) -> Result<bool, StoreError> {
    let deleted = store::delete_rule(tx, owner, id).await?;
    if deleted {
        actor.record(tx, json!({ "rules": [id] })).await?;
    }
    Ok(deleted)
}

/// An endpoint as asked for, already checked.
pub struct EndpointInput {
    pub url: WebhookUrl,
    pub description: String,
    pub event_types: Vec<EventType>,
    pub rule_ids: Vec<Uuid>,
}

/// An endpoint with its signing secret: shown when made or rotated, never
/// again.
pub struct WithSecret {
    pub endpoint: EndpointRecord,
    pub secret: String,
}

/// `Err(rule)` when a rule it names is not the owner's.
pub async fn create_endpoint(
    tx: &impl GenericClient,
    owner: i64,
    actor: &Actor,
    input: &EndpointInput,
) -> Result<Result<WithSecret, Uuid>, StoreError> {
    let secret = signature::new_secret().map_err(|e| StoreError::Other(e.into()))?;
    let new = NewEndpoint {
        url: input.url.as_str(),
        description: &input.description,
        event_types: &input.event_types,
        rule_ids: &input.rule_ids,
        secret: &secret,
    };
    let endpoint = match store::insert_endpoint(tx, owner, &new).await? {
        Ok(endpoint) => endpoint,
        Err(missing) => return Ok(Err(missing)),
    };
    actor
        .record(tx, json!({ "webhooks": [endpoint.id] }))
        .await?;
    Ok(Ok(WithSecret { endpoint, secret }))
}

pub async fn delete_endpoint(
    tx: &impl GenericClient,
    owner: i64,
    actor: &Actor,
    id: Uuid,
) -> Result<bool, StoreError> {
    let deleted = store::delete_endpoint(tx, owner, id).await?;
    if deleted {
        actor.record(tx, json!({ "webhooks": [id] })).await?;
    }
    Ok(deleted)
}

/// A new secret; the previous one keeps signing for `overlap`.
pub async fn rotate_secret(
    tx: &impl GenericClient,
    owner: i64,
    actor: &Actor,
    id: Uuid,
    overlap: Duration,
) -> Result<Option<WithSecret>, StoreError> {
    let secret = signature::new_secret().map_err(|e| StoreError::Other(e.into()))?;
    let until = OffsetDateTime::now_utc() + overlap;
    let Some(endpoint) = store::rotate_secret(tx, owner, id, &secret, until).await? else {
        return Ok(None);
    };
    actor.record(tx, json!({ "webhooks": [id] })).await?;
    Ok(Some(WithSecret { endpoint, secret }))
}

pub async fn enable_endpoint(
    tx: &impl GenericClient,
    owner: i64,
    actor: &Actor,
    id: Uuid,
) -> Result<Option<EndpointRecord>, StoreError> {
    let endpoint = store::enable_endpoint(tx, owner, id).await?;
    if endpoint.is_some() {
        actor.record(tx, json!({ "webhooks": [id] })).await?;
    }
    Ok(endpoint)
}

/// Queues a `ping` event for the endpoint alone; its delivery, or `None`
/// if the owner has no such endpoint.
pub async fn ping(
    tx: &impl GenericClient,
    owner: i64,
    actor: &Actor,
    id: Uuid,
) -> Result<Option<DeliveryRecord>, StoreError> {
    if store::get_endpoint(tx, owner, id).await?.is_none() {
        return Ok(None);
    }
    let event_id = Uuid::new_v4();
    let now = OffsetDateTime::now_utc();
    let event = NewEvent {
        id: event_id,
        owner,
        event_type: EventType::Ping,
        rule_id: None,
        body: json!({
            "id": event_id,
            "type": EventType::Ping,
            "created_at": super::rfc3339(now),
            "detail": {"endpoint_id": id},
        }),
    };
    store::insert_event(tx, &event, Recipients::Endpoint(id)).await?;
    actor
        .record(tx, json!({ "webhooks": [id], "events": [event_id] }))
        .await?;
    let deliveries = store::list_deliveries(tx, owner, id, None, 1).await?;
    Ok(deliveries.and_then(|page| page.items.into_iter().next()))
}

pub async fn redeliver(
    tx: &impl GenericClient,
    owner: i64,
    actor: &Actor,
    endpoint: Uuid,
    delivery: i64,
) -> Result<Option<DeliveryRecord>, StoreError> {
    let queued = store::redeliver(tx, owner, endpoint, delivery).await?;
    if let Some(queued) = &queued {
        actor
            .record(
                tx,
                json!({ "webhooks": [endpoint], "deliveries": [queued.id] }),
            )
            .await?;
    }
    Ok(queued)
}
