//! Conditional requests: ETags and the `If-None-Match` / `If-Match`
//! comparisons every route shares (RFC 9110).

use actix_web::http::header::{self, ETAG};
use actix_web::{HttpRequest, HttpResponse};

use super::error::ApiError;
use crate::live::State;

/// An ETag for a representation, from its bytes: it changes exactly when
/// they do, and is the same on every replica.
pub fn content_etag(body: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(body);
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// A single resource as JSON with its content ETag, or 304 when the
/// client holds that tag.
pub fn tagged_json(
    req: &HttpRequest,
    resource: &impl serde::Serialize,
) -> Result<HttpResponse, ApiError> {
    let body = serde_json::to_vec(resource).map_err(ApiError::internal)?;
    let tag = content_etag(&body);
    if not_modified(req, &tag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((ETAG, tag))
            .finish());
    }
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((ETAG, tag))
        .body(body))
}

/// `ETag` over the data version, the current scores' instant and the
/// request, so it changes exactly when the answer can.
pub fn etag(state: &State, kind: &str, product: &str, canonical: &str, extra: &str) -> String {
    use std::hash::{Hash, Hasher};
    // Fixed keys: the same tag on every replica running the same build, and
    // cheap on the hottest path; an ETag needs no cryptographic strength.
    let mut hasher = std::hash::DefaultHasher::new();
    (
        &state.version,
        state.computed_at.unix_timestamp_nanos(),
        kind,
        product,
        canonical,
        extra,
    )
        .hash(&mut hasher);
    format!("\"{:016x}\"", hasher.finish())
}

/// A cacheable response: 304 when the client holds this `ETag`. An
/// immutable answer (the `recorded` view of a past instant: facts record
/// when they were learned) may be cached for a day; any other must be
/// revalidated, since facts about the past keep being recorded.
pub fn cached(
    req: &HttpRequest,
    tag: String,
    immutable: bool,
    body: impl FnOnce() -> Result<HttpResponse, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let cache_control = if immutable {
        "public, max-age=86400"
    } else {
        "public, max-age=0, must-revalidate"
    };
    if not_modified(req, &tag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, tag))
            .insert_header((header::CACHE_CONTROL, cache_control))
            .finish());
    }
    let mut response = body()?;
    response
        .headers_mut()
        .insert(header::ETAG, tag.parse().expect("hex etag"));
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static(cache_control),
    );
    Ok(response)
}

/// Whether a list of entity tags holds `tag` (or `*`); weakly compared
/// when `weak`.
fn listed(value: &str, tag: &str, weak: bool) -> bool {
    let opaque = |t: &str| {
        let t = t.trim();
        if weak {
            t.trim_start_matches("W/").to_owned()
        } else {
            t.to_owned()
        }
    };
    value
        .split(',')
        .any(|t| t.trim() == "*" || opaque(t) == opaque(tag))
}

/// `If-None-Match` holds `tag`, compared weakly as RFC 9110 says for this
/// header: `W/"x"` matches `"x"`.
pub fn not_modified(req: &HttpRequest, tag: &str) -> bool {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|value| listed(value, tag, true))
}

/// The request's `If-Match`, if it sent one.
pub fn if_match(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::IF_MATCH)
        .map(|v| v.to_str().unwrap_or_default().to_owned())
}

/// Whether an `If-Match` precondition fails for a resource whose current
/// tag is `current` (`None`: it does not exist). Strong comparison; no
/// header means no precondition.
pub fn if_match_fails(if_match: Option<&str>, current: Option<&str>) -> bool {
    match (if_match, current) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(value), Some(tag)) => !listed(value, tag, false),
    }
}

#[cfg(test)]
mod tests {
    use super::if_match_fails;

    #[test]
    fn if_match_compares_strongly_and_needs_the_resource() {
        assert!(!if_match_fails(None, None));
        assert!(!if_match_fails(Some("\"a\", \"b\""), Some("\"b\"")));
        assert!(!if_match_fails(Some("*"), Some("\"b\"")));
        assert!(
            if_match_fails(Some("W/\"b\""), Some("\"b\"")),
            "weak tags never match If-Match"
        );
        assert!(if_match_fails(Some("\"a\""), Some("\"b\"")));
        assert!(if_match_fails(Some("*"), None));
    }
}
