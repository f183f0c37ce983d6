//! Abuse protection: a token bucket per API key (or per client address for
//! anonymous callers), `RateLimit-*` headers on every response and 429
//! problems with `Retry-After`; and security headers on every response.
//!
//! Buckets live in each replica's memory: with N replicas behind a load
//! balancer a client gets at most N times the configured rate.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};

use super::error::{ApiError, ErrorCode};
use crate::domain::KeySecret;

/// Buckets kept before idle (full) ones are swept.
const MAX_BUCKETS: usize = 100_000;

#[derive(Debug)]
pub struct RateLimiter {
    /// Tokens added per second.
    rate: f64,
    /// Bucket size: the largest burst.
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The outcome of taking one token.
#[derive(Debug, PartialEq)]
pub enum Decision {
    Allowed { remaining: u64, reset_secs: u64 },
    Limited { retry_after_secs: u64 },
}

impl RateLimiter {
    pub fn new(per_second: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            rate: per_second.max(1) as f64,
            burst: burst.max(1) as f64,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn limit(&self) -> u64 {
        self.burst as u64
    }

    pub fn take(&self, client: &str, now: Instant) -> Decision {
        let mut buckets = self.buckets.lock().expect("rate limiter lock");
        if buckets.len() >= MAX_BUCKETS {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() * rate < burst
            });
        }
        let bucket = buckets.entry(client.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let refilled = bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * self.rate;
        bucket.tokens = refilled.min(self.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Decision::Allowed {
                remaining: bucket.tokens.floor() as u64,
                reset_secs: ((self.burst - bucket.tokens) / self.rate).ceil() as u64,
            }
        } else {
            Decision::Limited {
                retry_after_secs: ((1.0 - bucket.tokens) / self.rate).ceil().max(1.0) as u64,
            }
        }
    }
}

/// Probes and metrics scrapes are never limited.
fn exempt(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// Whom a request is counted against: the key's public prefix, else the
/// peer address (not a forwarded header, which a client could forge).
fn client_of(req: &ServiceRequest) -> String {
    let key = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|token| KeySecret::prefix_of(token.trim()));
    match key {
        Some(prefix) => format!("key:{prefix}"),
        None => format!(
            "ip:{}",
            req.peer_addr()
                .map(|a| a.ip().to_string())
                .unwrap_or_default()
        ),
    }
}

pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let limiter = req.app_data::<web::Data<RateLimiter>>().cloned();
    let Some(limiter) = limiter.filter(|_| !exempt(req.path())) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    match limiter.take(&client_of(&req), Instant::now()) {
        Decision::Allowed {
            remaining,
            reset_secs,
        } => {
            let mut response = next.call(req).await?;
            let headers = response.headers_mut();
            for (name, value) in [
                ("ratelimit-limit", limiter.limit()),
                ("ratelimit-remaining", remaining),
                ("ratelimit-reset", reset_secs),
            ] {
                headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
            }
            Ok(response.map_into_left_body())
        }
        Decision::Limited { retry_after_secs } => {
            let error = ApiError::new(
                ErrorCode::RateLimited,
                format!(
                    "more than {} requests in a burst; retry in {retry_after_secs} s",
                    limiter.limit()
                ),
            )
            .with_header(header::RETRY_AFTER, retry_after_secs.to_string())
            .with_header(
                HeaderName::from_static("ratelimit-limit"),
                limiter.limit().to_string(),
            )
            .with_header(HeaderName::from_static("ratelimit-remaining"), "0")
            .with_header(
                HeaderName::from_static("ratelimit-reset"),
                retry_after_secs.to_string(),
            );
            let response = error.error_response();
            Ok(req.into_response(response).map_into_right_body())
        }
    }
}

/// Security headers on every response; Swagger UI's pages also get a
/// content security policy that allows only its own scripts.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let docs = req.path().starts_with("/docs");
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if docs {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                 img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
            ),
        );
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_bucket_drains_then_refills_at_the_rate() {
        let limiter = RateLimiter::new(2, 3);
        let start = Instant::now();
        for remaining in [2, 1, 0] {
            assert!(
                matches!(limiter.take("k", start), Decision::Allowed { remaining: r, .. } if r == remaining)
            );
        }
        assert_eq!(
            limiter.take("k", start),
            Decision::Limited {
                retry_after_secs: 1
            }
        );
        assert!(
            matches!(limiter.take("other", start), Decision::Allowed { .. }),
            "buckets are per client"
        );
        let later = start + Duration::from_millis(600);
        assert!(
            matches!(limiter.take("k", later), Decision::Allowed { .. }),
            "0.6 s at 2/s refills a token"
        );
    }
}
