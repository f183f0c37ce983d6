//! `/v1/keys` and `/v1/audit`: key management and the audit trail (admin).

use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use deadpool_postgres::Pool;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Admin;
use super::csv_export::{self, Representation};
use super::docs::{AccessErrors, BodyErrors, NotAcceptable, NotFound, QueryErrors};
use super::error::{ApiError, FieldError};
use super::extract::{Json, Query};
use super::pagination::{self, Paged};
use super::params::instant;
use super::write::{self, IdempotencyKeyHeader};
use crate::domain::{KeySecret, Scope};
use crate::store::audit::{AuditFilter, AuditRecord};
use crate::store::keys::KeyRecord;
use crate::store::{self, idempotency, StoreError};

/// A key to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "nightly USGS import", "scopes": ["ingest"]}))]
pub struct NewKey {
    /// What the key is for: 1 to 200 characters, not all blank.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    /// One to three of `read`, `ingest`, `admin` (each includes the ones
    /// before it); a scope named twice counts once.
    #[schema(min_items = 1, max_items = 3)]
    pub scopes: Vec<Scope>,
}

/// A created key. `key`, the secret, is in this one response only: the
/// service keeps its SHA-256, and a replay of the request (the same
/// `Idempotency-Key`) answers the key's record without it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    /// The secret to send as `Authorization: Bearer <key>`; absent on a
    /// replay.
    #[schema(example = "ck_3fa85f64_9c1e…")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(flatten)]
    pub record: KeyRecord,
}

/// Creates a key; the response holds its secret, which cannot be shown again.
#[utoipa::path(tag = "access", request_body = NewKey, params(IdempotencyKeyHeader),
    security(("bearer" = ["admin"])),
    responses((status = 201, description = "Created", body = CreatedKey, headers(("Location" = String, description = "The created resource, e.g. `/v1/keys/7`"))), AccessErrors, BodyErrors))]
#[post("/keys")]
pub async fn create_key(
    req: HttpRequest,
    pool: web::Data<Pool>,
    admin: Admin,
    body: Json<NewKey>,
) -> Result<HttpResponse, ApiError> {
    let (new, digest) = body.parse()?;
    let key = write::idempotency(&req, digest)?;
    let mut errors = Vec::new();
    if new.name.trim().is_empty() || new.name.chars().count() > 200 {
        errors.push(FieldError::new("/name", "must be 1 to 200 characters"));
    }
    let named = new.scopes.len();
    let mut scopes = new.scopes;
    scopes.sort_unstable();
    scopes.dedup();
    if !(1..=Scope::ALL.len()).contains(&named) {
        errors.push(FieldError::new(
            "/scopes",
            "name one to three scopes of read, ingest, admin",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let audit = write::actor(&admin.0, &req);
    let creator = admin.0.key_id;
    let outcome = idempotency::run(&pool, key.as_ref(), move |tx| {
        Box::pin(async move {
            let secret = KeySecret::generate()
                .map_err(|e| ApiError::internal(anyhow::anyhow!("no randomness: {e}")))?;
            let record = store::keys::insert(
                tx,
                new.name.trim(),
                &scopes,
                &secret.prefix,
                &KeySecret::hash(&secret.full),
                Some(creator),
            )
            .await?;
            audit
                .record(tx, serde_json::json!({ "keys": [record.id] }))
                .await?;
            let mut reply = write::created(
                format!("/v1/keys/{}", record.id),
                &CreatedKey {
                    key: Some(secret.full),
                    record: record.clone(),
                },
            )?;
            let without_secret = CreatedKey { key: None, record };
            reply.replay_body =
                Some(serde_json::to_vec(&without_secret).map_err(ApiError::internal)?);
            Ok::<_, ApiError>(reply)
        })
    })
    .await?;
    write::respond(outcome)
}

/// Every key, live and revoked, without secrets.
#[utoipa::path(tag = "access", security(("bearer" = ["admin"])),
    responses((status = 200, body = Vec<KeyRecord>), AccessErrors))]
#[get("/keys")]
pub async fn list_keys(pool: web::Data<Pool>, _admin: Admin) -> Result<HttpResponse, ApiError> {
    let client = pool.get().await.map_err(StoreError::from)?;
    Ok(HttpResponse::Ok().json(store::keys::list(&client).await?))
}

/// Revokes a key, at once on every replica (keys are checked against the
/// database on each request).
#[utoipa::path(tag = "access", security(("bearer" = ["admin"])),
    params(("id" = i64, Path, description = "Key id", example = 2)),
    responses((status = 200, description = "Revoked", body = KeyRecord), NotFound, AccessErrors))]
#[delete("/keys/{id:[0-9]+}")]
pub async fn revoke_key(
    req: HttpRequest,
    pool: web::Data<Pool>,
    admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::not_found(format!("key `{id}`")))?;
    let audit = write::actor(&admin.0, &req);
    let mut client = pool.get().await.map_err(StoreError::from)?;
    let tx = client.transaction().await.map_err(StoreError::from)?;
    let revoked = store::keys::revoke(&tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("live key {id}")))?;
    audit
        .record(&tx, serde_json::json!({ "keys": [id] }))
        .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(HttpResponse::Ok().json(revoked))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only writes by this key.
    key_id: Option<i64>,
    /// Only writes through this route pattern, e.g. `/v1/facts`.
    #[param(pattern = "^[^\\x00]*$")]
    route: Option<String>,
    /// From this instant (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<String>,
    /// Up to this instant (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<String>,
    /// Entries a page (default 100). With `Accept: text/csv`, leave it out
    /// for the whole trail in one streamed response.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^([0-9a-f]{2}){1,256}$")]
    cursor: Option<String>,
}

/// The columns of an audit entry in CSV; `object_ids` stays one cell of
/// compact JSON, as its shape depends on what was written.
const AUDIT_TABLE: csv_export::Table = csv_export::Table {
    columns: &[
        "id",
        "at",
        "key_id",
        "method",
        "route",
        "object_ids",
        "request_id",
    ],
    numbers: csv_export::Numbers::Stored,
};

/// The audit trail, newest first: who (key), what (route, object ids),
/// when, and the request id of every committed write.
///
/// With `Accept: text/csv` the entries come as CSV (RFC 4180, UTF-8, a
/// header row, CRLF record ends, empty cells for null, `object_ids` as
/// compact JSON in one cell). Without `limit`, a CSV response is the whole
/// filtered trail (after `cursor` when given), streamed as it is read; with
/// `limit` it is one page, as in JSON, and the next page is the `Link`
/// header's.
#[utoipa::path(tag = "access", params(AuditQuery), security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "One page, or with `Accept: text/csv` and no `limit` the whole trail",
         content(
            (Paged<AuditRecord> = "application/json"),
            (String = "text/csv", example = json!("id,at,key_id,method,route,object_ids,request_id\r\n17,2026-11-28T09:14:03.52Z,3,POST,/v1/facts,\"{\"\"facts\"\":[101,102]}\",6f1c0a52-2b7e-4d0e-9a53-2f6b1c8f9e01\r\n")),
         ),
         headers(("Link" = String, description = "`<…&cursor=…>; rel=\"next\"` when there is a next page"), ("Vary" = String, description = "Includes `Accept`: JSON and CSV are two representations"))),
        NotAcceptable, AccessErrors, QueryErrors))]
#[get("/audit")]
pub async fn list_audit(
    req: HttpRequest,
    pool: web::Data<Pool>,
    _admin: Admin,
    query: Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let representation = csv_export::negotiate(&req)?;
    let q = query.0;
    // A CSV export without `limit` is the whole trail; any other request
    // is one page.
    let limit = match (representation, q.limit) {
        (Representation::Csv, None) => None,
        (_, requested) => Some(pagination::limit(requested)?),
    };
    let listing = pagination::Listing::new("audit", &req);
    let before: Option<i64> = listing.after(q.cursor.as_deref())?;
    let filter = AuditFilter {
        key_id: q.key_id,
        route: q.route,
        from: q.from.as_deref().map(|t| instant("from", t)).transpose()?,
        to: q.to.as_deref().map(|t| instant("to", t)).transpose()?,
    };
    let client = pool.get().await.map_err(StoreError::from)?;
    let mut response = match limit {
        None => {
            let first =
                store::audit::list(&client, &filter, before, csv_export::STREAM_PAGE).await?;
            // Each page takes a connection only while it is read.
            drop(client);
            let pool = pool.into_inner();
            csv_export::streamed(
                AUDIT_TABLE,
                first,
                |entry: &AuditRecord| entry.id,
                move |before| {
                    let (pool, filter) = (pool.clone(), filter.clone());
                    async move {
                        let client = pool.get().await.map_err(StoreError::from)?;
                        let page = store::audit::list(
                            &client,
                            &filter,
                            Some(before),
                            csv_export::STREAM_PAGE,
                        )
                        .await?;
                        Ok(page)
                    }
                },
            )?
        }
        Some(limit) => {
            let page = store::audit::list(&client, &filter, before, limit).await?;
            let page = listing.page(page, |entry| entry.id.to_string());
            match representation {
                Representation::Json => listing.respond(&page),
                Representation::Csv => listing.respond_csv(&page, AUDIT_TABLE)?,
            }
        }
    };
    csv_export::vary(&mut response);
    Ok(response)
}
