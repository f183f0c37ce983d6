//! `/v1/watchlists`: saved sets of products for a buyer, each read with
//! its products' current scores. A watchlist belongs to the key that made
//! it: another key finds nothing there (404).

use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};
use deadpool_postgres::Pool;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::Subscriber;
use super::docs::{AccessErrors, BodyErrors, NotFound, QueryErrors};
use super::error::{ApiError, FieldError};
use super::extract::{self, Query};
use super::pagination::{self, Paged};
use super::write::{self, IdempotencyKeyHeader};
use crate::domain::{Buyer, ProductId};
use crate::live::{LiveScores, State};
use crate::monitor::subscriptions::{self, WatchlistInput};
use crate::scoring::{self, Params, ScoreSummary};
use crate::store::monitoring::{self as store, WatchlistRecord};
use crate::store::{idempotency, StoreError};

/// Most products on one watchlist.
pub const MAX_PRODUCTS: usize = 1000;
const MAX_NAME_CHARS: usize = 200;

/// A watchlist to save (or to replace one with).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Motor programme",
    "buyer": "US",
    "products": ["sintered-ndfeb-magnet", "ndpr-oxide", "ev-traction-motor"]
}))]
pub struct WatchlistRequest {
    /// 1 to 200 characters, not all blank.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    name: String,
    /// Whom the products are scored for: an ISO 3166-1 alpha-2 code or `EU`.
    #[schema(value_type = Buyer, example = "US")]
    buyer: String,
    /// 1 to 1,000 catalogued products, each once.
    #[schema(value_type = Vec<String>, min_items = 1, max_items = 1000)]
    products: Vec<String>,
}

/// Checks a request against the stored catalogue (not the replica's
/// snapshot, which may not have a product just written); every problem is
/// reported.
async fn check(request: WatchlistRequest, pool: &Pool) -> Result<WatchlistInput, ApiError> {
    let named: Vec<&str> = request.products.iter().map(String::as_str).collect();
    let stored = {
        let client = pool.get().await.map_err(StoreError::from)?;
        crate::store::products::existing(&client, &named).await?
    };
    let mut errors = Vec::new();
    let name = request.name.trim().to_owned();
    if !(1..=MAX_NAME_CHARS).contains(&name.chars().count()) {
        errors.push(FieldError::new(
            "/name",
            format!("must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    let buyer = Buyer::read(&request.buyer)
        .map_err(|message| errors.push(FieldError::new("/buyer", message)))
        .ok();
    if !(1..=MAX_PRODUCTS).contains(&request.products.len()) {
        errors.push(FieldError::new(
            "/products",
            format!(
                "{} products; give 1 to {MAX_PRODUCTS}",
                request.products.len()
            ),
        ));
    }
    let mut products: Vec<ProductId> = Vec::with_capacity(request.products.len());
    for (index, text) in request.products.iter().enumerate() {
        let pointer = format!("/products/{index}");
        match ProductId::parse(text) {
            Err(message) => errors.push(FieldError::new(pointer, message)),
            Ok(id) if !stored.contains(id.as_str()) => {
                errors.push(FieldError::new(
                    pointer,
                    format!("product `{text}` does not exist"),
                ));
            }
            Ok(id) if products.contains(&id) => {
                errors.push(FieldError::new(
                    pointer,
                    format!("`{text}` is listed twice"),
                ));
            }
            Ok(id) => products.push(id),
        }
    }
    match buyer {
        Some(buyer) if errors.is_empty() => Ok(WatchlistInput {
            name,
            buyer,
            products,
        }),
        _ => Err(ApiError::validation(errors)),
    }
}

/// The id in a path: a UUID, or the resource does not exist.
pub(super) fn path_id(what: &str, id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::not_found(format!("{what} `{id}`")))
}

/// Saves a watchlist for the calling key. Rules
/// (`POST /v1/watchlists/{id}/rules`) raise events about its products.
#[utoipa::path(tag = "monitoring", request_body = WatchlistRequest, params(IdempotencyKeyHeader),
    security(("bearer" = ["read"])),
    responses((status = 201, description = "Saved", body = WatchlistRecord, headers(("Location" = String, description = "The created resource, e.g. `/v1/watchlists/5d0e3c1a-8f64-4b6a-9a43-3c2f1b7f6e10`"))), AccessErrors, BodyErrors))]
#[post("/watchlists")]
pub async fn create_watchlist(
    req: HttpRequest,
    pool: web::Data<Pool>,
    caller: Subscriber,
    body: extract::Json<WatchlistRequest>,
) -> Result<HttpResponse, ApiError> {
    let audit = write::actor(&caller.0, &req);
    let (request, digest) = body.parse()?;
    let key = write::idempotency(&req, digest)?;
    let input = check(request, &pool).await?;
    let owner = caller.0.key_id;
    let outcome = idempotency::run(&pool, key.as_ref(), move |tx| {
        Box::pin(async move {
            let saved = subscriptions::create_watchlist(tx, owner, &audit, &input).await?;
            write::created(format!("/v1/watchlists/{}", saved.id), &saved)
        })
    })
    .await?;
    write::respond(outcome)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Page size, 1..1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub(super) limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^([0-9a-f]{2}){1,256}$")]
    pub(super) cursor: Option<String>,
}

/// The calling key's watchlists, newest first, a page at a time.
#[utoipa::path(tag = "monitoring", params(ListQuery), security(("bearer" = ["read"])),
    responses((status = 200, description = "One page", body = Paged<WatchlistRecord>, headers(("Link" = String, description = "`<…&cursor=…>; rel=\"next\"` when there is a next page"))), AccessErrors, QueryErrors))]
#[get("/watchlists")]
pub async fn list_watchlists(
    req: HttpRequest,
    pool: web::Data<Pool>,
    caller: Subscriber,
    query: Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = pagination::limit(query.0.limit)?;
    let listing = pagination::Listing::new("watchlists", &req);
    let after = listing.after_created(query.0.cursor.as_deref())?;
    let client = pool.get().await.map_err(StoreError::from)?;
    let page = store::list_watchlists(&client, caller.0.key_id, after, limit).await?;
    Ok(listing.respond(&listing.page(page, |w| {
        pagination::Listing::created_key(w.created_at, w.id)
    })))
}

/// A watchlist with its products' current scores.
#[derive(Debug, Serialize, ToSchema)]
pub struct WatchlistScores {
    #[serde(flatten)]
    pub watchlist: WatchlistRecord,
    /// Each product's current headline scores for the buyer, in the
    /// watchlist's order.
    pub scores: Vec<ScoreSummary>,
    /// The data scored; it changes whenever the facts do.
    pub data_version: String,
}

/// One watchlist of the calling key, with its products' current scores.
#[utoipa::path(tag = "monitoring",
    params(("id" = uuid::Uuid, Path, description = "Watchlist id (a UUID)")),
    security(("bearer" = ["read"])),
    responses((status = 200, body = WatchlistScores), NotFound, AccessErrors))]
#[get("/watchlists/{id:[0-9a-fA-F-]+}")]
pub async fn get_watchlist(
    pool: web::Data<Pool>,
    live: web::Data<LiveScores>,
    caller: Subscriber,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let uuid = path_id("watchlist", &id)?;
    let client = pool.get().await.map_err(StoreError::from)?;
    let watchlist = store::get_watchlist(&client, caller.0.key_id, uuid)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("watchlist `{id}`")))?;
    drop(client);
    let state = live.state();
    let (products, buyer) = (watchlist.products.clone(), watchlist.buyer);
    let scores = web::block(move || current_scores(&state, buyer, &products))
        .await
        .map_err(ApiError::internal)?;
    super::render::json(&WatchlistScores {
        watchlist,
        scores,
        data_version: live.state().version.clone(),
    })
}

/// The products' current scores for `buyer`: precomputed when the buyer's
/// are, else computed at the state's instant.
fn current_scores(state: &State, buyer: Buyer, products: &[ProductId]) -> Vec<ScoreSummary> {
    let params = Params::new(buyer, state.computed_at);
    products
        .iter()
        .filter_map(
            |product| match state.current(buyer).and_then(|scores| scores.get(product)) {
                Some(current) => Some(current.summary.clone()),
                None => scoring::score_product(&state.snapshot, product, &params)
                    .as_ref()
                    .map(ScoreSummary::from),
            },
        )
        .collect()
}

/// Replaces a watchlist's name, buyer and products. Its rules stay and
/// start watching the new products (each new product's first look only
/// records it).
#[utoipa::path(tag = "monitoring", request_body = WatchlistRequest,
    params(("id" = uuid::Uuid, Path, description = "Watchlist id (a UUID)")),
    security(("bearer" = ["read"])),
    responses((status = 200, body = WatchlistRecord), NotFound, AccessErrors, BodyErrors))]
#[put("/watchlists/{id:[0-9a-fA-F-]+}")]
pub async fn put_watchlist(
    req: HttpRequest,
    pool: web::Data<Pool>,
    caller: Subscriber,
    id: web::Path<String>,
    body: extract::Json<WatchlistRequest>,
) -> Result<HttpResponse, ApiError> {
    let uuid = path_id("watchlist", &id)?;
    let (request, _) = body.parse()?;
    let input = check(request, &pool).await?;
    let (audit, owner) = (write::actor(&caller.0, &req), caller.0.key_id);
    let saved = write::in_transaction(&pool, move |tx| {
        Box::pin(async move {
            Ok(subscriptions::replace_watchlist(tx, owner, &audit, uuid, &input).await?)
        })
    })
    .await?
    .ok_or_else(|| ApiError::not_found(format!("watchlist `{id}`")))?;
    super::render::json(&saved)
}

/// Deletes a watchlist and its rules (their events stay in the feed).
#[utoipa::path(tag = "monitoring",
    params(("id" = uuid::Uuid, Path, description = "Watchlist id (a UUID)")),
    security(("bearer" = ["read"])),
    responses((status = 204, description = "Deleted"), NotFound, AccessErrors))]
#[delete("/watchlists/{id:[0-9a-fA-F-]+}")]
pub async fn delete_watchlist(
    req: HttpRequest,
    pool: web::Data<Pool>,
    caller: Subscriber,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let uuid = path_id("watchlist", &id)?;
    let (audit, owner) = (write::actor(&caller.0, &req), caller.0.key_id);
    let found = write::in_transaction(&pool, move |tx| {
        Box::pin(async move { Ok(subscriptions::delete_watchlist(tx, owner, &audit, uuid).await?) })
    })
    .await?;
    write::deleted(found, format!("watchlist `{id}`"))
}
