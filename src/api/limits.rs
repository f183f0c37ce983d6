//! Abuse protection: authentication of the bearer key, then a token bucket
//! per authenticated API key (or per client address for anonymous callers),
//! `RateLimit-Policy` and `RateLimit` headers (the IETF httpapi draft) on
//! every response and 429 problems with
//! `Retry-After`; and security headers on every response.
//!
//! A request is counted against a key only once the key is authenticated,
//! so nobody can drain another client's bucket by sending its prefix.
//! Failed authentications count against the client address in a stricter
//! bucket; once that is empty, bearer requests from the address are refused
//! without a database lookup until it refills.
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
use actix_web::{web, HttpMessage, ResponseError};
use deadpool_postgres::Pool;

use super::auth;
use super::error::{ApiError, ErrorCode};

/// Buckets kept before idle (full) ones are swept.
const MAX_BUCKETS: usize = 100_000;
/// Failed authentications get this fraction of the request rate and burst.
const FAILED_AUTHENTICATION_SHARE: u32 = 10;

/// Token buckets, one per client.
#[derive(Debug)]
pub struct Buckets {
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

impl Buckets {
    pub fn new(per_second: u32, burst: u32) -> Buckets {
        Buckets {
            rate: per_second.max(1) as f64,
            burst: burst.max(1) as f64,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token from `client`'s bucket if it has one.
    pub fn take(&self, client: &str, now: Instant) -> Decision {
        self.with_bucket(client, now, |bucket, rate, burst| {
            if bucket.tokens >= 1.0 {
                bucket.tokens -= 1.0;
                Decision::Allowed {
                    remaining: bucket.tokens.floor() as u64,
                    reset_secs: ((burst - bucket.tokens) / rate).ceil() as u64,
                }
            } else {
                Decision::Limited {
                    retry_after_secs: ((1.0 - bucket.tokens) / rate).ceil().max(1.0) as u64,
                }
            }
        })
    }

    /// Whether `client` has a token left, without taking it.
    pub fn check(&self, client: &str, now: Instant) -> Decision {
        self.with_bucket(client, now, |bucket, rate, _| {
            if bucket.tokens >= 1.0 {
                Decision::Allowed {
                    remaining: bucket.tokens.floor() as u64,
                    reset_secs: 0,
                }
            } else {
                Decision::Limited {
                    retry_after_secs: ((1.0 - bucket.tokens) / rate).ceil().max(1.0) as u64,
                }
            }
        })
    }

    fn with_bucket(
        &self,
        client: &str,
        now: Instant,
        decide: impl FnOnce(&mut Bucket, f64, f64) -> Decision,
    ) -> Decision {
        let mut buckets = self.buckets.lock().expect("rate limiter lock");
        let (rate, burst) = (self.rate, self.burst);
        if buckets.len() >= MAX_BUCKETS {
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() * rate < burst
            });
        }
        let bucket = buckets.entry(client.to_owned()).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let refilled = bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * rate;
        bucket.tokens = refilled.min(burst);
        bucket.updated = now;
        decide(bucket, rate, burst)
    }
}

/// The service's limits: requests per client, and failed authentications
/// per address.
#[derive(Debug)]
pub struct RateLimiter {
    requests: Buckets,
    failed_authentications: Buckets,
    rate: u32,
    burst: u32,
}

impl RateLimiter {
    /// `RateLimit-Policy` (IETF draft-ietf-httpapi-ratelimit-headers): the
    /// bucket as a quota of `burst` requests over the seconds it takes to
    /// refill from empty.
    fn policy(&self) -> String {
        let window = (f64::from(self.burst) / f64::from(self.rate))
            .ceil()
            .max(1.0);
        format!("\"default\";q={};w={window}", self.burst)
    }

    /// `RateLimit`: what is left of the quota and when it is whole again.
    fn state(remaining: u64, reset_secs: u64) -> String {
        format!("\"default\";r={remaining};t={reset_secs}")
    }

    pub fn new(per_second: u32, burst: u32) -> RateLimiter {
        let share = |n: u32| (n / FAILED_AUTHENTICATION_SHARE).max(1);
        RateLimiter {
            requests: Buckets::new(per_second, burst),
            failed_authentications: Buckets::new(share(per_second), share(burst)),
            rate: per_second.max(1),
            burst: burst.max(1),
        }
    }
}

/// Probes and metrics scrapes are never limited.
fn exempt(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

fn limited(limiter: &RateLimiter, retry_after_secs: u64, detail: String) -> ApiError {
    ApiError::new(ErrorCode::RateLimited, detail)
        .with_header(header::RETRY_AFTER, retry_after_secs.to_string())
        .with_header(
            HeaderName::from_static("ratelimit-policy"),
            limiter.policy(),
        )
        .with_header(
            HeaderName::from_static("ratelimit"),
            RateLimiter::state(0, retry_after_secs),
        )
}

/// Authenticates the bearer key (the caller is left in the request's
/// extensions for the route's extractors), then takes a token from the
/// caller's bucket.
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
    let refuse = |req: ServiceRequest, error: ApiError| {
        let response = error.error_response();
        Ok(req.into_response(response).map_into_right_body())
    };
    // The peer address, not a forwarded header, which a client could forge.
    let address = format!(
        "ip:{}",
        req.peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default()
    );
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().unwrap_or_default().to_owned());
    let client = match authorization {
        None => address,
        Some(authorization) => {
            let now = Instant::now();
            let failures = &limiter.failed_authentications;
            if let Decision::Limited { retry_after_secs } = failures.check(&address, now) {
                let detail = format!(
                    "too many failed authentications from this address; retry in {retry_after_secs} s"
                );
                return refuse(req, limited(&limiter, retry_after_secs, detail));
            }
            let Some(pool) = req.app_data::<web::Data<Pool>>().cloned() else {
                return refuse(
                    req,
                    ApiError::internal(anyhow::anyhow!("no pool configured")),
                );
            };
            match auth::authenticate(&pool, &authorization).await {
                Ok(caller) => {
                    let client = format!("key:{}", caller.key_id);
                    req.extensions_mut().insert(caller);
                    client
                }
                Err(error) => {
                    if error.code == ErrorCode::Unauthorized {
                        failures.take(&address, now);
                    }
                    return refuse(req, error);
                }
            }
        }
    };
    match limiter.requests.take(&client, Instant::now()) {
        Decision::Allowed {
            remaining,
            reset_secs,
        } => {
            let mut response = next.call(req).await?;
            let headers = response.headers_mut();
            for (name, value) in [
                ("ratelimit-policy", limiter.policy()),
                ("ratelimit", RateLimiter::state(remaining, reset_secs)),
            ] {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.insert(HeaderName::from_static(name), value);
                }
            }
            Ok(response.map_into_left_body())
        }
        Decision::Limited { retry_after_secs } => {
            let detail = format!(
                "more than {} requests in a burst ({} a second on average); retry in {retry_after_secs} s",
                limiter.burst, limiter.rate
            );
            refuse(req, limited(&limiter, retry_after_secs, detail))
        }
    }
}

/// Security headers on every response; Swagger UI's pages also get a
/// content security policy that allows only its own scripts (and images
/// from `blob:` URLs, which is how it shows a PNG answer).
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
                 img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'",
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
        let limiter = Buckets::new(2, 3);
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
        assert!(
            matches!(limiter.check("k", start), Decision::Limited { .. }),
            "checking an empty bucket does not take a token"
        );
        let later = start + Duration::from_millis(600);
        assert!(
            matches!(limiter.take("k", later), Decision::Allowed { .. }),
            "0.6 s at 2/s refills a token"
        );
    }
}
