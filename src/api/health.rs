//! Liveness, readiness and metrics.

use actix_web::{get, web, HttpResponse};
use deadpool_postgres::Pool;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, Problem};
use super::metrics::Metrics;
use crate::store;

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    status: &'static str,
}

/// Liveness: the process is up and serving HTTP. Never touches the database.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Alive", body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Readiness: the database answers. Load balancers should route only to
/// ready replicas.
#[utoipa::path(tag = "operations", responses(
    (status = 200, description = "Ready", body = Health, example = json!({"status": "ready"})),
    (status = 503, description = "The database is unreachable (code `database_unavailable`, with `Retry-After`)",
     body = Problem, content_type = "application/problem+json"),
))]
#[get("/readyz")]
pub async fn readyz(pool: web::Data<Pool>) -> Result<HttpResponse, ApiError> {
    store::ping(&pool).await?;
    Ok(HttpResponse::Ok().json(Health { status: "ready" }))
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
