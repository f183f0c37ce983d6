//! The middleware every request passes through: request id, tracing span,
//! access log line and metrics.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use tracing::Instrument;

use super::metrics::Metrics;
use super::request_id;
use super::RouteTable;

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let supplied = req
        .headers()
        .get(request_id::HEADER)
        .and_then(|v| v.to_str().ok());
    let id = request_id::accept_or_generate(supplied);
    let method = req.method().to_string();
    let span =
        tracing::info_span!("request", request_id = %id, method = %method, path = %req.path());
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();

    let routes = req.app_data::<web::Data<RouteTable>>().cloned();
    let path = req.path().to_owned();
    let outcome = request_id::scope(
        id.clone(),
        path.clone(),
        next.call(req).instrument(span.clone()),
    )
    .await;
    let mut response = outcome?;
    let status = response.status().as_u16();
    // The documented table, not actix's `match_pattern`, which matches the
    // path against every route's regex again.
    let route = routes
        .as_ref()
        .and_then(|table| table.pattern(&path))
        .unwrap_or("unmatched");
    let seconds = started.elapsed().as_secs_f64();
    if let Some(metrics) = metrics {
        metrics.observe(&method, route, status, seconds);
    }
    span.in_scope(|| {
        tracing::info!(status, route = %route, latency_ms = seconds * 1000.0, "request finished")
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(request_id::HEADER), value);
    }
    Ok(response)
}
