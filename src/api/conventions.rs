//! Rules every route follows, enforced once in front of all of them.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::ResponseError;

use super::error::ApiError;
use crate::domain::text;

/// Refuses U+0000 anywhere in the path or the query string: PostgreSQL
/// cannot store or compare it, and no identifier holds it.
pub async fn reject_nul(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if let Some(error) = nul_in_url(&req) {
        let response = error.error_response();
        return Ok(req.into_response(response).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

fn nul_in_url(req: &ServiceRequest) -> Option<ApiError> {
    let uri = req.uri();
    if uri.path().contains("%00") {
        return Some(ApiError::invalid_parameter_at("/path", text::NUL_MESSAGE));
    }
    let query = uri.query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, value)| name.contains('\0') || value.contains('\0'))
        .map(|(name, _)| {
            ApiError::invalid_parameter(&name.replace('\0', ""), "query", text::NUL_MESSAGE)
        })
}
