//! Alert rules: `/v1/watchlists/{id}/rules` to make and list a
//! watchlist's rules, `/v1/rules/{id}` to read or delete one. A rule
//! watches every product of its watchlist for the watchlist's buyer.

use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use deadpool_postgres::Pool;
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::Subscriber;
use super::docs::{AccessErrors, BodyErrors, NotFound, QueryErrors};
use super::error::{ApiError, FieldError};
use super::extract::{self, Query};
use super::pagination::{self, Paged};
use super::watchlists::{path_id, ListQuery};
use super::write::{self, IdempotencyKeyHeader};
use crate::domain::Condition;
use crate::monitor::subscriptions::{self, RuleInput};
use crate::store::monitoring::{self as store, RuleRecord};
use crate::store::{idempotency, StoreError};

const MAX_NAME_CHARS: usize = 200;
/// The longest quiet period: 30 days.
const MAX_QUIET_SECONDS: u32 = 30 * 86_400;

/// A rule to add to a watchlist.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Magnet dependency above 90",
    "condition": {"kind": "threshold", "score": "dependency", "threshold": 90, "direction": "up", "hysteresis": 2},
    "quiet_period_seconds": 3600
}))]
pub struct RuleRequest {
    /// 1 to 200 characters, not all blank.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    name: String,
    condition: Condition,
    /// Seconds after an event during which the rule raises nothing more
    /// for the same product, 0 (the default) to 2,592,000 (30 days). A
    /// change that lasts past the period is raised then; one that reverts
    /// within it is not.
    #[serde(default, deserialize_with = "extract::whole_u32")]
    #[schema(minimum = 0, maximum = 2592000)]
    quiet_period_seconds: Option<u32>,
}

fn check(request: RuleRequest, watchlist_id: uuid::Uuid) -> Result<RuleInput, ApiError> {
    let mut errors = Vec::new();
    let name = request.name.trim().to_owned();
    if !(1..=MAX_NAME_CHARS).contains(&name.chars().count()) {
        errors.push(FieldError::new(
            "/name",
            format!("must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    for (field, message) in request.condition.problems() {
        errors.push(FieldError::new(format!("/condition/{field}"), message));
    }
    let quiet = request.quiet_period_seconds.unwrap_or(0);
    if quiet > MAX_QUIET_SECONDS {
        errors.push(FieldError::new(
            "/quiet_period_seconds",
            format!("must be 0 to {MAX_QUIET_SECONDS}"),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    Ok(RuleInput {
        watchlist_id,
        name,
        condition: request.condition,
        quiet_period_seconds: quiet as i32,
    })
}

/// Adds a rule to one of the calling key's watchlists. Its first look at
/// each product only records what it sees; from then on every change it
/// watches for raises an event in `GET /v1/events` and to the key's
/// webhooks.
#[utoipa::path(tag = "monitoring", request_body = RuleRequest,
    params(("id" = uuid::Uuid, Path, description = "Watchlist id (a UUID)"), IdempotencyKeyHeader),
    security(("bearer" = ["read"])),
    responses((status = 201, description = "Saved", body = RuleRecord, headers(("Location" = String, description = "The created resource, e.g. `/v1/rules/9c1f5a7e-2b3d-4e8f-a6b1-0d2c3e4f5a6b`"))), NotFound, AccessErrors, BodyErrors))]
#[post("/watchlists/{id:[0-9a-fA-F-]+}/rules")]
pub async fn create_rule(
    req: HttpRequest,
    pool: web::Data<Pool>,
    caller: Subscriber,
    id: web::Path<String>,
    body: extract::Json<RuleRequest>,
) -> Result<HttpResponse, ApiError> {
    let watchlist = path_id("watchlist", &id)?;
    let audit = write::actor(&caller.0, &req);
    let (request, digest) = body.parse()?;
    let key = write::idempotency(&req, digest)?;
    let input = check(request, watchlist)?;
    let owner = caller.0.key_id;
    let missing = format!("watchlist `{id}`");
    let outcome = idempotency::run(&pool, key.as_ref(), move |tx| {
        Box::pin(async move {
            let saved = subscriptions::create_rule(tx, owner, &audit, &input)
                .await?
                .ok_or_else(|| ApiError::not_found(missing))?;
            write::created(format!("/v1/rules/{}", saved.id), &saved)
        })
    })
    .await?;
    write::respond(outcome)
}

/// A watchlist's rules, newest first, a page at a time.
#[utoipa::path(tag = "monitoring",
    params(("id" = uuid::Uuid, Path, description = "Watchlist id (a UUID)"), ListQuery),
    security(("bearer" = ["read"])),
    responses((status = 200, description = "One page", body = Paged<RuleRecord>, headers(("Link" = String, description = "`<…&cursor=…>; rel=\"next\"` when there is a next page"))), NotFound, AccessErrors, QueryErrors))]
#[get("/watchlists/{id:[0-9a-fA-F-]+}/rules")]
pub async fn list_rules(
    req: HttpRequest,
    pool: web::Data<Pool>,
    caller: Subscriber,
    id: web::Path<String>,
    query: Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let watchlist = path_id("watchlist", &id)?;
    let limit = pagination::limit(query.0.limit)?;
    let listing = pagination::Listing::new("rules", &req);
    let after = listing.after_created(query.0.cursor.as_deref())?;
    let client = pool.get().await.map_err(StoreError::from)?;
    let page = store::list_rules(&client, caller.0.key_id, watchlist, after, limit)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("watchlist `{id}`")))?;
    Ok(listing.respond(&listing.page(page, |r| {
        pagination::Listing::created_key(r.created_at, r.id)
    })))
}

/// One rule of the calling key.
#[utoipa::path(tag = "monitoring",
    params(("id" = uuid::Uuid, Path, description = "Rule id (a UUID)")),
    security(("bearer" = ["read"])),
    responses((status = 200, body = RuleRecord), NotFound, AccessErrors))]
#[get("/rules/{id:[0-9a-fA-F-]+}")]
pub async fn get_rule(
    pool: web::Data<Pool>,
    caller: Subscriber,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let uuid = path_id("rule", &id)?;
    let client = pool.get().await.map_err(StoreError::from)?;
    let rule = store::get_rule(&client, caller.0.key_id, uuid)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("rule `{id}`")))?;
    super::render::json(&rule)
}

/// Deletes a rule (its events stay in the feed).
#[utoipa::path(tag = "monitoring",
    params(("id" = uuid::Uuid, Path, description = "Rule id (a UUID)")),
    security(("bearer" = ["read"])),
    responses((status = 204, description = "Deleted"), NotFound, AccessErrors))]
#[delete("/rules/{id:[0-9a-fA-F-]+}")]
pub async fn delete_rule(
    req: HttpRequest,
    pool: web::Data<Pool>,
    caller: Subscriber,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let uuid = path_id("rule", &id)?;
    let (audit, owner) = (write::actor(&caller.0, &req), caller.0.key_id);
    let found = write::in_transaction(&pool, move |tx| {
        Box::pin(async move { Ok(subscriptions::delete_rule(tx, owner, &audit, uuid).await?) })
    })
    .await?;
    write::deleted(found, format!("rule `{id}`"))
}
