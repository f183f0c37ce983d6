//! The error catalogue, served so that each problem's `type` URI resolves.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorCode, Problem};

/// One entry of the error catalogue.
#[derive(Serialize, ToSchema)]
pub struct ProblemType {
    code: ErrorCode,
    status: u16,
    title: &'static str,
}

impl ProblemType {
    fn of(code: ErrorCode) -> ProblemType {
        ProblemType {
            code,
            status: code.status().as_u16(),
            title: code.title(),
        }
    }
}

/// Every error `code` the API can answer with, its HTTP status and title.
#[utoipa::path(tag = "operations", responses((status = 200, body = Vec<ProblemType>)))]
#[get("/problems")]
pub async fn list_problems() -> HttpResponse {
    HttpResponse::Ok().json(ErrorCode::ALL.map(ProblemType::of))
}

/// The description of one error code: what a problem's `type` URI points at.
#[utoipa::path(tag = "operations",
    params(("code" = String, Path, description = "An error code", example = "validation_failed")),
    responses(
        (status = 200, body = ProblemType),
        (status = 404, description = "No such code", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/problems/{code}")]
pub async fn get_problem(code: web::Path<String>) -> Result<HttpResponse, ApiError> {
    ErrorCode::ALL
        .into_iter()
        .find(|c| c.as_str() == code.as_str())
        .map(|c| HttpResponse::Ok().json(ProblemType::of(c)))
        .ok_or_else(|| ApiError::not_found(format!("error code `{code}`")))
}
