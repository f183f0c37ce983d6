//! How the numbers of score, scenario and exposure answers are written:
//! every float, derived (scores, shares, weights, intervals) or quoted from
//! a fact in an explanation, is rounded as [`crate::numbers`] says, the
//! same in JSON and CSV; the facts themselves are served as stored by
//! `/v1/facts`.

use actix_web::HttpResponse;
use serde::Serialize;

use super::error::ApiError;
pub use crate::numbers::round;

/// `value` as JSON with its derived numbers rounded.
pub fn to_vec(value: &impl Serialize) -> Result<Vec<u8>, ApiError> {
    crate::numbers::to_json(value).map_err(ApiError::internal)
}

/// A 200 with `value` as JSON, its derived numbers rounded.
pub fn json(value: &impl Serialize) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(to_vec(value)?))
}
