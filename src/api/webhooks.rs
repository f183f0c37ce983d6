//! `/v1/webhooks`: endpoints the calling key's events are POSTed to,
//! signed (`Chokepoint-Signature`), at least once, in order per endpoint,
//! retried with exponential backoff; their delivery log, a test ping,
//! manual redelivery and secret rotation.

use actix_web::http::StatusCode;
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use deadpool_postgres::Pool;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::Subscriber;
use super::docs::{AccessErrors, BodyErrors, NotFound, QueryErrors};
use super::error::{ApiError, FieldError};
use super::extract::{self, Query};
use super::pagination::{self, Paged};
use super::watchlists::{path_id, ListQuery};
use super::write::{self, IdempotencyKeyHeader};
use crate::domain::{EventType, WebhookUrl};
use crate::monitor::subscriptions::{self, EndpointInput, WithSecret};
use crate::store::monitoring::{self as store, DeliveryRecord, EndpointRecord};
use crate::store::{idempotency, StoreError};

/// Whether endpoints may be on private networks (an operator setting).
#[derive(Debug, Clone, Copy)]
pub struct WebhookTargets {
    pub allow_private: bool,
}

const MAX_DESCRIPTION_CHARS: usize = 500;
/// Most rules one endpoint is limited to.
const MAX_RULES: usize = 1000;
/// The longest overlap of a rotation: 7 days.
const MAX_OVERLAP_SECONDS: u32 = 7 * 86_400;
const DEFAULT_OVERLAP_SECONDS: u32 = 86_400;

/// An endpoint to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "url": "https://procurement.example.com/hooks/chokepoint",
    "description": "Sourcing alerts",
    "event_types": ["score.threshold_crossed", "export_control.in_force", "ping"]
}))]
pub struct EndpointRequest {
    /// `http` or `https`, without credentials or fragment, at most 2,000
    /// characters. Loopback, private and link-local targets are refused
    /// unless the operator allows them.
    #[schema(max_length = 2000)]
    url: String,
    /// What it is for, at most 500 characters.
    #[serde(default)]
    #[schema(max_length = 500)]
    description: String,
    /// The event types it receives; empty or absent: every type.
    #[serde(default)]
    event_types: Vec<EventType>,
    /// The calling key's rules whose events it receives; empty or absent:
    /// every rule's.
    #[serde(default)]
    #[schema(value_type = Vec<String>, max_items = 1000)]
    rule_ids: Vec<String>,
}

/// An endpoint with its signing secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: EndpointRecord,
    /// The HMAC-SHA256 key of the signatures (the whole string). Shown only
    /// here: keep it. `Chokepoint-Signature: t=<unix seconds>,v1=<hex>`
    /// signs `<t>.<raw body>`; reject a `t` far from your clock.
    #[schema(example = "whsec_…")]
    pub secret: String,
}

impl From<WithSecret> for EndpointWithSecret {
    fn from(made: WithSecret) -> EndpointWithSecret {
        EndpointWithSecret {
            endpoint: made.endpoint,
            secret: made.secret,
        }
    }
}

fn check(request: EndpointRequest, targets: WebhookTargets) -> Result<EndpointInput, ApiError> {
    let mut errors = Vec::new();
    let url = WebhookUrl::parse(request.url.trim(), targets.allow_private)
        .map_err(|message| errors.push(FieldError::new("/url", message)))
        .ok();
    if request.description.chars().count() > MAX_DESCRIPTION_CHARS {
        errors.push(FieldError::new(
            "/description",
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    if request.rule_ids.len() > MAX_RULES {
        errors.push(FieldError::new(
            "/rule_ids",
            format!("at most {MAX_RULES} rules"),
        ));
    }
    let mut rule_ids = Vec::new();
    for (index, text) in request.rule_ids.iter().enumerate() {
        match Uuid::parse_str(text) {
            Ok(id) if !rule_ids.contains(&id) => rule_ids.push(id),
            Ok(_) => errors.push(FieldError::new(
                format!("/rule_ids/{index}"),
                "listed twice",
            )),
            Err(_) => errors.push(FieldError::new(
                format!("/rule_ids/{index}"),
                "must be a rule id (a UUID)",
            )),
        }
    }
    let mut event_types = request.event_types;
    event_types.sort_by_key(|t| t.as_str());
    event_types.dedup();
    match url {
        Some(url) if errors.is_empty() => Ok(EndpointInput {
            url,
            description: request.description,
            event_types,
            rule_ids,
        }),
        _ => Err(ApiError::validation(errors)),
    }
}

/// Registers an endpoint for the calling key's events. The answer carries
/// the signing secret, shown this once. Each delivery is a POST of the
/// event (the schema of the feed's `event`) with `Chokepoint-Signature`,
/// `Chokepoint-Event-Id`, `Chokepoint-Event-Type`, `Chokepoint-Delivery-Id`
/// and `Chokepoint-Delivery-Attempt`; any 2xx answer accepts it. Otherwise
/// it is retried, waiting twice as long each time, for three days (the
/// operator's settings), later events to the endpoint waiting behind it.
#[utoipa::path(tag = "monitoring", request_body = EndpointRequest, params(IdempotencyKeyHeader),
    security(("bearer" = ["read"])),
    responses((status = 201, description = "Registered", body = EndpointWithSecret, headers(("Location" = String, description = "The created resource, e.g. `/v1/webhooks/2f6c8e1d-3a4b-4c5d-8e9f-0a1b2c3d4e5f`"))), AccessErrors, BodyErrors))]
#[post("/webhooks")]
pub async fn create_webhook(
    req: HttpRequest,
    pool: web::Data<Pool>,
    targets: web::Data<WebhookTargets>,
    caller: Subscriber,
    body: extract::Json<EndpointRequest>,
) -> Result<HttpResponse, ApiError> {
    let audit = write::actor(&caller.0, &req);
    let (request, digest) = body.parse()?;
    let key = write::idempotency(&req, digest)?;
    let input = check(request, **targets)?;
    let owner = caller.0.key_id;
    let outcome = idempotency::run(&pool, key.as_ref(), move |tx| {
        Box::pin(async move {
            let made = subscriptions::create_endpoint(tx, owner, &audit, &input)
                .await?
                .map_err(|missing| {
                    ApiError::validation(vec![FieldError::new(
                        "/rule_ids",
                        format!("rule `{missing}` does not exist"),
                    )])
                })?;
            let location = format!("/v1/webhooks/{}", made.endpoint.id);
            let made = EndpointWithSecret::from(made);
            let mut reply = write::created(location, &made)?;
            // A replay must not hand the secret out again.
            reply.replay_body = Some(super::render::to_vec(&made.endpoint)?);
            Ok::<_, ApiError>(reply)
        })
    })
    .await?;
    write::respond(outcome)
}

/// The calling key's endpoints, newest first, a page at a time.
#[utoipa::path(tag = "monitoring", params(ListQuery), security(("bearer" = ["read"])),
    responses((status = 200, description = "One page", body = Paged<EndpointRecord>, headers(("Link" = String, description = "`<…&cursor=…>; rel=\"next\"` when there is a next page"))), AccessErrors, QueryErrors))]
#[get("/webhooks")]
pub async fn list_webhooks(
    req: HttpRequest,
    pool: web::Data<Pool>,
    caller: Subscriber,
    query: Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = pagination::limit(query.0.limit)?;
    let listing = pagination::Listing::new("webhooks", &req);
    let after = listing.after_created(query.0.cursor.as_deref())?;
    let client = pool.get().await.map_err(StoreError::from)?;
    let page = store::list_endpoints(&client, caller.0.key_id, after, limit).await?;
    Ok(listing.respond(&listing.page(page, |e| {
        pagination::Listing::created_key(e.created_at, e.id)
    })))
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("webhook `{id}`"))
}

/// One endpoint of the calling key (never its secret).
#[utoipa::path(tag = "monitoring",
    params(("id" = uuid::Uuid, Path, description = "Webhook id (a UUID)")),
    security(("bearer" = ["read"])),
    responses((status = 200, body = EndpointRecord), NotFound, AccessErrors))]
#[get("/webhooks/{id:[0-9a-fA-F-]+}")]
pub async fn get_webhook(
    pool: web::Data<Pool>,
    caller: Subscriber,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let uuid = path_id("webhook", &id)?;
    let client = pool.get().await.map_err(StoreError::from)?;
    let endpoint = store::get_endpoint(&client, caller.0.key_id, uuid)
        .await?
        .ok_or_else(|| not_found(&id))?;
    super::render::json(&endpoint)
}

/// Deletes an endpoint and its delivery log; nothing more is sent to it.
#[utoipa::path(tag = "monitoring",
    params(("id" = uuid::Uuid, Path, description = "Webhook id (a UUID)")),
    security(("bearer" = ["read"])),
    responses((status = 204, description = "Deleted"), NotFound, AccessErrors))]
#[delete("/webhooks/{id:[0-9a-fA-F-]+}")]
pub async fn delete_webhook(
    req: HttpRequest,
    pool: web::Data<Pool>,
    caller: Subscriber,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let uuid = path_id("webhook", &id)?;
    let (audit, owner) = (write::actor(&caller.0, &req), caller.0.key_id);
    let found = write::in_transaction(&pool, move |tx| {
        Box::pin(async move { Ok(subscriptions::delete_endpoint(tx, owner, &audit, uuid).await?) })
    })
    .await?;
    write::deleted(found, format!("webhook `{id}`"))
}

/// Sends the endpoint a `ping` event, through the same signed, logged and
/// retried path as every event; answers with its queued delivery.
#[utoipa::path(tag = "monitoring",
    params(("id" = uuid::Uuid, Path, description = "Webhook id (a UUID)")),
    security(("bearer" = ["read"])),
    responses((status = 202, description = "Queued", body = DeliveryRecord), NotFound, AccessErrors))]
#[post("/webhooks/{id:[0-9a-fA-F-]+}/ping")]
pub async fn ping_webhook(
    req: HttpRequest,
    pool: web::Data<Pool>,
    caller: Subscriber,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let uuid = path_id("webhook", &id)?;
    let (audit, owner) = (write::actor(&caller.0, &req), caller.0.key_id);
    let delivery = write::in_transaction(&pool, move |tx| {
        Box::pin(async move { Ok(subscriptions::ping(tx, owner, &audit, uuid).await?) })
    })
    .await?
    .ok_or_else(|| not_found(&id))?;
    accepted(&delivery)
}

fn accepted(delivery: &DeliveryRecord) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::build(StatusCode::ACCEPTED)
        .content_type("application/json")
        .body(super::render::to_vec(delivery)?))
}

/// A rotation's overlap.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"overlap_seconds": 3600}))]
pub struct RotationRequest {
    /// How long the previous secret keeps signing beside the new one
    /// (each delivery then carries two `v1` signatures), 0 to 604,800
    /// seconds (default 86,400: a day to deploy the new secret).
    #[serde(default, deserialize_with = "extract::whole_u32")]
    #[schema(minimum = 0, maximum = 604800)]
    overlap_seconds: Option<u32>,
}

/// Replaces the endpoint's signing secret; the answer carries the new one,
/// shown this once. Until `previous_secret_until` deliveries are signed
/// with both.
#[utoipa::path(tag = "monitoring", request_body = RotationRequest,
    params(("id" = uuid::Uuid, Path, description = "Webhook id (a UUID)")),
    security(("bearer" = ["read"])),
    responses((status = 200, body = EndpointWithSecret), NotFound, AccessErrors, BodyErrors))]
#[post("/webhooks/{id:[0-9a-fA-F-]+}/rotate-secret")]
pub async fn rotate_webhook_secret(
    req: HttpRequest,
    pool: web::Data<Pool>,
    caller: Subscriber,
    id: web::Path<String>,
    body: extract::Json<RotationRequest>,
) -> Result<HttpResponse, ApiError> {
    let uuid = path_id("webhook", &id)?;
    let (request, _) = body.parse()?;
    let overlap = request.overlap_seconds.unwrap_or(DEFAULT_OVERLAP_SECONDS);
    if overlap > MAX_OVERLAP_SECONDS {
        return Err(ApiError::validation(vec![FieldError::new(
            "/overlap_seconds",
            format!("must be 0 to {MAX_OVERLAP_SECONDS}"),
        )]));
    }
    let (audit, owner) = (write::actor(&caller.0, &req), caller.0.key_id);
    let overlap = time::Duration::seconds(overlap.into());
    let rotated = write::in_transaction(&pool, move |tx| {
        Box::pin(async move {
            Ok(subscriptions::rotate_secret(tx, owner, &audit, uuid, overlap).await?)
        })
    })
    .await?
    .ok_or_else(|| not_found(&id))?;
    super::render::json(&EndpointWithSecret::from(rotated))
}

/// Enables an endpoint that was disabled for failing too long; its queued
/// deliveries are sent again from the oldest.
#[utoipa::path(tag = "monitoring",
    params(("id" = uuid::Uuid, Path, description = "Webhook id (a UUID)")),
    security(("bearer" = ["read"])),
    responses((status = 200, body = EndpointRecord), NotFound, AccessErrors))]
#[post("/webhooks/{id:[0-9a-fA-F-]+}/enable")]
pub async fn enable_webhook(
    req: HttpRequest,
    pool: web::Data<Pool>,
    caller: Subscriber,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let uuid = path_id("webhook", &id)?;
    let (audit, owner) = (write::actor(&caller.0, &req), caller.0.key_id);
    let endpoint = write::in_transaction(&pool, move |tx| {
        Box::pin(async move { Ok(subscriptions::enable_endpoint(tx, owner, &audit, uuid).await?) })
    })
    .await?
    .ok_or_else(|| not_found(&id))?;
    super::render::json(&endpoint)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// Page size, 1..1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^([0-9a-f]{2}){1,256}$")]
    cursor: Option<String>,
}

/// The endpoint's delivery log, newest first: each delivery's state,
/// attempts, last status and latency.
#[utoipa::path(tag = "monitoring",
    params(("id" = uuid::Uuid, Path, description = "Webhook id (a UUID)"), DeliveriesQuery),
    security(("bearer" = ["read"])),
    responses((status = 200, description = "One page", body = Paged<DeliveryRecord>, headers(("Link" = String, description = "`<…&cursor=…>; rel=\"next\"` when there is a next page"))), NotFound, AccessErrors, QueryErrors))]
#[get("/webhooks/{id:[0-9a-fA-F-]+}/deliveries")]
pub async fn list_deliveries(
    req: HttpRequest,
    pool: web::Data<Pool>,
    caller: Subscriber,
    id: web::Path<String>,
    query: Query<DeliveriesQuery>,
) -> Result<HttpResponse, ApiError> {
    let uuid = path_id("webhook", &id)?;
    let limit = pagination::limit(query.0.limit)?;
    let listing = pagination::Listing::new("deliveries", &req);
    let before: Option<i64> = listing.after(query.0.cursor.as_deref())?;
    let client = pool.get().await.map_err(StoreError::from)?;
    let page = store::list_deliveries(&client, caller.0.key_id, uuid, before, limit)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(listing.respond(&listing.page(page, |d| d.id.to_string())))
}

/// Queues a delivery's event again for its endpoint, behind what is
/// queued (with the same event id, so a receiver that has it can tell).
#[utoipa::path(tag = "monitoring",
    params(("id" = uuid::Uuid, Path, description = "Webhook id (a UUID)"),
           ("delivery_id" = i64, Path, description = "Delivery id", example = 1)),
    security(("bearer" = ["read"])),
    responses((status = 202, description = "Queued", body = DeliveryRecord), NotFound, AccessErrors))]
#[post("/webhooks/{id:[0-9a-fA-F-]+}/deliveries/{delivery_id:[0-9]+}/redeliver")]
pub async fn redeliver(
    req: HttpRequest,
    pool: web::Data<Pool>,
    caller: Subscriber,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, delivery) = path.into_inner();
    let uuid = path_id("webhook", &id)?;
    let missing = || ApiError::not_found(format!("delivery `{delivery}` of webhook `{id}`"));
    let delivery_id: i64 = delivery.parse().map_err(|_| missing())?;
    let (audit, owner) = (write::actor(&caller.0, &req), caller.0.key_id);
    let queued = write::in_transaction(&pool, move |tx| {
        Box::pin(async move {
            Ok(subscriptions::redeliver(tx, owner, &audit, uuid, delivery_id).await?)
        })
    })
    .await?
    .ok_or_else(missing)?;
    accepted(&queued)
}
