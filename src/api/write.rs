//! What every write route shares: the `Idempotency-Key` header, turning a
//! store outcome into a response, and documenting both.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::IntoParams;

use super::auth::Caller;
use super::error::{ApiError, ErrorCode};
use super::extract::RequestDigest;
use crate::live::Announcer;
use crate::store::audit::Actor;
use crate::store::idempotency::{Idempotency, Outcome, Reply};
use crate::store::StoreError;

pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";

/// Headers accepted by every POST.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // documents the header; read by `idempotency`
pub struct IdempotencyKeyHeader {
    /// Makes a POST safe to retry: the same key and body replay the first
    /// response (with `Idempotent-Replayed: true`); the same key with another
    /// body is a 422 `idempotency_key_reused`. Keys are kept for 48 hours.
    #[param(
        rename = "Idempotency-Key",
        min_length = 1,
        max_length = 255,
        pattern = "^[!-~]{1,255}$"
    )]
    idempotency_key: Option<String>,
}

/// The request's idempotency key, if it sent one.
pub fn idempotency(
    req: &HttpRequest,
    digest: RequestDigest,
) -> Result<Option<Idempotency>, ApiError> {
    let Some(value) = req.headers().get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::invalid_parameter(
                IDEMPOTENCY_HEADER,
                "header",
                "must be 1 to 255 visible ASCII characters",
            )
        })?;
    Ok(Some(Idempotency {
        key: key.to_owned(),
        digest: digest.finish(),
    }))
}

pub fn reply(status: StatusCode, body: &impl Serialize) -> Result<Reply, ApiError> {
    Ok(Reply {
        status: status.as_u16(),
        body: serde_json::to_vec(body).map_err(ApiError::internal)?,
        replay_body: None,
        location: None,
    })
}

/// A 201 for a resource created at `location` (a path under the API).
pub fn created(location: String, body: &impl Serialize) -> Result<Reply, ApiError> {
    Ok(Reply {
        location: Some(location),
        ..reply(StatusCode::CREATED, body)?
    })
}

/// Tells every replica about a write that took place (not a replay), now
/// that it has committed.
pub fn announce(announcer: &Announcer, outcome: &Outcome) {
    if let Outcome::Done(_) = outcome {
        announcer.changed();
    }
}

/// The HTTP response for a write's outcome.
pub fn respond(outcome: Outcome) -> Result<HttpResponse, ApiError> {
    let (reply, replayed) = match outcome {
        Outcome::Done(reply) => (reply, false),
        Outcome::Replayed(reply) => (reply, true),
        Outcome::KeyReused => {
            return Err(ApiError::new(
                ErrorCode::IdempotencyKeyReused,
                "this Idempotency-Key was first used with a different request; use a new key",
            ))
        }
    };
    let status = StatusCode::from_u16(reply.status).map_err(ApiError::internal)?;
    let mut response = HttpResponse::build(status);
    response.content_type("application/json");
    if replayed {
        response.insert_header((REPLAYED_HEADER, "true"));
    }
    if let Some(location) = &reply.location {
        response.insert_header((actix_web::http::header::LOCATION, location.as_str()));
    }
    Ok(response.body(reply.body))
}

/// The audit actor of a request: its key and documented route.
pub fn actor(caller: &Caller, req: &HttpRequest) -> Actor {
    Actor {
        key_id: Some(caller.key_id),
        method: req.method().to_string(),
        route: req
            .match_pattern()
            .map(|pattern| super::fallback::documented_pattern(&pattern))
            .unwrap_or_else(|| req.path().to_owned()),
        request_id: super::request_id::current(),
    }
}

/// Runs a write without an idempotency key in one transaction, committed
/// when `work` succeeds.
pub async fn in_transaction<T>(
    pool: &deadpool_postgres::Pool,
    work: impl for<'t> FnOnce(
        &'t deadpool_postgres::Transaction<'t>,
    ) -> futures_util::future::BoxFuture<'t, Result<T, ApiError>>,
) -> Result<T, ApiError> {
    let mut client = pool.get().await.map_err(StoreError::from)?;
    let tx = client.transaction().await.map_err(StoreError::from)?;
    let value = work(&tx).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(value)
}

/// A 204 when something was deleted, else a 404 naming `what`.
pub fn deleted(found: bool, what: impl std::fmt::Display) -> Result<HttpResponse, ApiError> {
    if found {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found(what))
    }
}
