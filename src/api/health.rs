//! Liveness, readiness and metrics.

use actix_web::{get, web, HttpResponse};
use deadpool_postgres::Pool;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, Problem};
use super::metrics::Metrics;
use crate::live::LiveScores;
use crate::store::{self, StoreError};

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`: the process answers.
    #[schema(example = "ok")]
    status: &'static str,
}

/// Liveness: the process is up and serving HTTP. Never touches the database.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Alive", body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// Always `ready` in a 200 response: the database answers.
    #[schema(example = "ready")]
    status: &'static str,
    /// The data version this replica's scores are computed from: the
    /// `data_version` of scenario and exposure responses, and part of every
    /// score's `ETag`. Empty until the first load succeeds.
    #[schema(example = "1842/3/57:12/9")]
    data_version: String,
    /// The data version the database holds now. When it differs from
    /// `data_version`, this replica has not yet picked up the latest
    /// committed change: it does within moments of a write of facts or
    /// products (a new source alone, which moves no score, with the next).
    #[schema(example = "1842/3/57:12/9")]
    committed_data_version: String,
}

/// Readiness: the database answers. Load balancers should route only to
/// ready replicas. The body tells whether this replica serves the latest
/// committed data: compare `data_version` with `committed_data_version`.
#[utoipa::path(tag = "operations", responses(
    (status = 200, description = "Ready", body = Readiness, example = json!({
        "status": "ready", "data_version": "1842/3/57:12/9", "committed_data_version": "1842/3/57:12/9"})),
    (status = 503, description = "The database is unreachable (code `database_unavailable`, with `Retry-After`)",
     body = Problem, content_type = "application/problem+json"),
))]
#[get("/readyz")]
pub async fn readyz(
    pool: web::Data<Pool>,
    live: web::Data<LiveScores>,
) -> Result<HttpResponse, ApiError> {
    // Read the served version first: a refresh landing in between can then
    // only make the replica look behind, never ahead of what it serves.
    let data_version = live.state().version.clone();
    let client = pool.get().await.map_err(StoreError::from)?;
    let committed_data_version = store::snapshot::data_version(&client).await?;
    Ok(HttpResponse::Ok().json(Readiness {
        status: "ready",
        data_version,
        committed_data_version,
    }))
}

/// Prometheus metrics: request counts and latency histograms by method,
/// route and status; connection-pool usage.
#[utoipa::path(tag = "operations", responses(
    (status = 200, description = "Prometheus text exposition format", content_type = "text/plain; version=0.0.4",
     body = String, example = "http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 3\n"),
))]
#[get("/metrics")]
pub async fn metrics(metrics: web::Data<Metrics>, pool: web::Data<Pool>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render(pool.status()))
}
