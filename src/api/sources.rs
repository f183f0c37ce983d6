//! `/v1/sources`: the publications facts cite.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use deadpool_postgres::Pool;
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::{Ingest, Reader};
use super::docs::{AccessErrors, BodyErrors, Conflict, NotFound, QueryErrors};
use super::error::{ApiError, FieldError};
use super::extract::{Json, Query};
use super::pagination::{self, Paged};
use super::write::{self, IdempotencyKeyHeader};
use crate::domain::{NewSource, SourceKind, SourceRecord};
use crate::live::Announcer;
use crate::store::{self, idempotency};

/// Records a source. Its `reliability` defaults from its `kind` (see the
/// methodology: statistical agencies 0.9 … state-affiliated media 0.3) and
/// becomes the default confidence of the facts that cite it.
#[utoipa::path(tag = "sources", request_body = NewSource, params(IdempotencyKeyHeader),
    security(("bearer" = ["ingest"])),
    responses((status = 201, description = "Recorded", body = SourceRecord, headers(("Location" = String, description = "The created resource, e.g. `/v1/sources/usgs-mcs-2025`"))), Conflict, AccessErrors, BodyErrors))]
#[post("/sources")]
pub async fn create_source(
    req: HttpRequest,
    pool: web::Data<Pool>,
    announcer: web::Data<Announcer>,
    caller: Ingest,
    body: Json<NewSource>,
) -> Result<HttpResponse, ApiError> {
    let audit = write::actor(&caller.0, &req);
    let (new, digest) = body.parse()?;
    let key = write::idempotency(&req, digest)?;
    let source = new
        .validate(time::OffsetDateTime::now_utc().date())
        .map_err(|errors| {
            ApiError::validation(
                errors
                    .into_iter()
                    .map(|(field, message)| FieldError::new(format!("/{field}"), message))
                    .collect(),
            )
        })?;
    let outcome = idempotency::run(&pool, key.as_ref(), move |tx| {
        Box::pin(async move {
            let record = store::sources::insert(tx, &source).await?;
            audit
                .record(tx, serde_json::json!({ "sources": [record.id] }))
                .await?;
            write::created(format!("/v1/sources/{}", record.id), &record)
        })
    })
    .await?;
    write::announce(&announcer, &outcome);
    write::respond(outcome)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SourceListQuery {
    /// Only sources of this kind.
    #[param(value_type = Option<SourceKind>)]
    kind: Option<SourceKind>,
    /// Page size, 1..1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^([0-9a-f]{2}){1,256}$")]
    cursor: Option<String>,
}

/// Lists sources by id, a page at a time.
#[utoipa::path(tag = "sources", params(SourceListQuery), security((), ("bearer" = ["read"])),
    responses((status = 200, description = "One page", body = Paged<SourceRecord>, headers(("Link" = String, description = "`<…&cursor=…>; rel=\"next\"` when there is a next page"))), AccessErrors, QueryErrors))]
#[get("/sources")]
pub async fn list_sources(
    req: HttpRequest,
    pool: web::Data<Pool>,
    _reader: Reader,
    query: Query<SourceListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.0;
    let limit = pagination::limit(query.limit)?;
    let listing = pagination::Listing::new("sources", &req);
    let after: Option<String> = listing.after(query.cursor.as_deref())?;
    let client = pool.get().await.map_err(store::StoreError::from)?;
    let page = store::sources::list(&client, query.kind, after.as_deref(), limit).await?;
    Ok(listing.respond(&listing.page(page, |s| s.id.as_str().to_owned())))
}

/// One source.
#[utoipa::path(tag = "sources",
    params(("id" = String, Path, description = "Source id", example = "usgs-mcs-2025-rare-earths")),
    security((), ("bearer" = ["read"])),
    responses((status = 200, body = SourceRecord), NotFound, AccessErrors))]
#[get("/sources/{id}")]
pub async fn get_source(
    pool: web::Data<Pool>,
    _reader: Reader,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let client = pool.get().await.map_err(store::StoreError::from)?;
    let source = store::sources::get(&client, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("source `{id}`")))?;
    Ok(HttpResponse::Ok().json(source))
}
