//! API keys on requests: `Authorization: Bearer <key>`, checked against the
//! store on every request (so a revocation holds at once on every replica),
//! compared in constant time, never logged. A header that names no live key
//! is a 401 whatever the route.
//!
//! Handlers declare what they need by their arguments: [`Ingest`] or
//! [`Admin`] for writes and key management, [`Reader`] for reads (which
//! need a key only when the service is configured so).

use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::http::header;
use std::future::{ready, Ready};

use actix_web::{FromRequest, HttpMessage, HttpRequest};
use deadpool_postgres::Pool;

use super::error::{ApiError, ErrorCode};
use crate::domain::{constant_time_eq, KeySecret, Scope};
use crate::store::{self, StoreError};

/// Whether reads need a key (`read` scope) or are open to anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadAccess {
    pub needs_key: bool,
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: i64,
    pub scopes: Vec<Scope>,
}

impl Caller {
    fn grants(&self, needed: Scope) -> bool {
        self.scopes.iter().any(|scope| scope.grants(needed))
    }
}

fn unauthorized(detail: &str) -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, detail).with_header(header::WWW_AUTHENTICATE, "Bearer")
}

/// The caller an `Authorization` header names: a live key, or a 401.
/// Run once per request, by the middleware that also counts the request
/// against the key (`limits`); routes read the caller from the request.
pub async fn authenticate(pool: &Pool, authorization: &str) -> Result<Caller, ApiError> {
    let token = authorization
        .strip_prefix("Bearer ")
        .map(str::trim)
        .ok_or_else(|| unauthorized("use `Authorization: Bearer <key>`"))?;
    let prefix = KeySecret::prefix_of(token)
        .ok_or_else(|| unauthorized("the bearer token is not an API key of this service"))?;
    let client = pool.get().await.map_err(StoreError::from)?;
    let (record, stored_hash) = store::keys::live_by_prefix(&client, prefix)
        .await?
        .ok_or_else(|| unauthorized("unknown or revoked API key"))?;
    if !constant_time_eq(&stored_hash, &KeySecret::hash(token)) {
        return Err(unauthorized("unknown or revoked API key"));
    }
    Ok(Caller {
        key_id: record.id,
        scopes: record.scopes,
    })
}

/// The authenticated caller of this request, if it sent a key.
fn caller_of(req: &HttpRequest) -> Option<Caller> {
    req.extensions().get::<Caller>().cloned()
}

fn require(caller: Option<Caller>, needed: Scope) -> Result<Caller, ApiError> {
    let caller = caller.ok_or_else(|| {
        unauthorized(&format!(
            "this route needs an API key with the `{}` scope",
            needed.as_str()
        ))
    })?;
    if caller.grants(needed) {
        Ok(caller)
    } else {
        Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "this route needs the `{}` scope; the key has {:?}",
                needed.as_str(),
                caller.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>()
            ),
        ))
    }
}

/// A scope a route needs.
pub trait Needs {
    const SCOPE: Scope;
}

pub struct ReadScope;
impl Needs for ReadScope {
    const SCOPE: Scope = Scope::Read;
}

pub struct IngestScope;
impl Needs for IngestScope {
    const SCOPE: Scope = Scope::Ingest;
}

pub struct AdminScope;
impl Needs for AdminScope {
    const SCOPE: Scope = Scope::Admin;
}

/// A caller whose key grants `S`.
pub struct Authorized<S: Needs>(pub Caller, PhantomData<S>);

/// Monitoring: what a key saves for itself (watchlists, rules, webhooks)
/// and its event feed; any live key.
pub type Subscriber = Authorized<ReadScope>;
/// Writes: facts, sources, products, saved scenarios.
pub type Ingest = Authorized<IngestScope>;
/// Key management and the audit trail.
pub type Admin = Authorized<AdminScope>;

impl<S: Needs + 'static> FromRequest for Authorized<S> {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(require(caller_of(req), S::SCOPE).map(|caller| Authorized(caller, PhantomData)))
    }
}

/// A reader: anyone when reads are open, else a key with `read`.
pub struct Reader;

impl FromRequest for Reader {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let needs_key = req
            .app_data::<ReadAccess>()
            .is_some_and(|access| access.needs_key);
        if needs_key {
            return ready(require(caller_of(req), Scope::Read).map(|_| Reader));
        }
        ready(Ok(Reader))
    }
}
