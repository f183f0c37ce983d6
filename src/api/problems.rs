//! The error catalogue, served so that each problem's `type` URI resolves.

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorCode, Problem};

/// One entry of the error catalogue.
#[derive(Serialize, ToSchema)]
pub struct ProblemType {
    /// The stable code, the `code` of problems of this type.
    code: ErrorCode,
    /// The HTTP status problems of this type come with.
    status: u16,
    /// A short summary, the `title` of problems of this type.
    title: &'static str,
    /// What the problem means and what to do about it.
    advice: &'static str,
}

impl ProblemType {
    fn of(code: ErrorCode) -> ProblemType {
        ProblemType {
            code,
            status: code.status().as_u16(),
            title: code.title(),
            advice: code.advice(),
        }
    }
}

/// A problem type as a page for a person who follows a problem's `type`.
fn page(code: ErrorCode) -> String {
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{code}: {title}</title></head>\n\
         <body><h1>{title}</h1><p><code>{code}</code> · HTTP {status}</p><p>{advice}</p>\n\
         <p>Every error of this API is an RFC 9457 problem document with this <code>code</code>; \
         <code>errors[].pointer</code> locates the input at fault and <code>request_id</code> \
         finds the request in the logs. <a href=\"/problems\">All codes</a> · \
         <a href=\"/docs/\">API documentation</a></p></body></html>\n",
        code = code.as_str(),
        title = escape(code.title()),
        status = code.status().as_u16(),
        advice = escape(code.advice()),
    )
}

fn wants_html(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// Every error `code` the API can answer with, its HTTP status and title.
#[utoipa::path(tag = "operations", responses((status = 200, body = Vec<ProblemType>)))]
#[get("/problems")]
pub async fn list_problems() -> HttpResponse {
    HttpResponse::Ok().json(ErrorCode::ALL.map(ProblemType::of))
}

/// The description of one error code: what a problem's `type` URI points at
/// (an HTML page for a browser, `Accept: text/html`).
#[utoipa::path(tag = "operations",
    params(("code" = String, Path, description = "An error code", example = "validation_failed")),
    responses(
        (status = 200, description = "The code's entry", content(
            (ProblemType = "application/json"),
            (String = "text/html"))),
        (status = 404, description = "No such code", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/problems/{code}")]
pub async fn get_problem(
    req: HttpRequest,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let code = ErrorCode::ALL
        .into_iter()
        .find(|c| c.as_str() == code.as_str())
        .ok_or_else(|| ApiError::not_found(format!("error code `{code}`")))?;
    Ok(if wants_html(&req) {
        HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(page(code))
    } else {
        HttpResponse::Ok().json(ProblemType::of(code))
    })
}

/// The scoring method: every formula, default and parameter, with its
/// sources and a worked example (`docs/methodology.md` of this release).
#[utoipa::path(tag = "operations", responses(
    (status = 200, description = "The methodology, as Markdown", content_type = "text/markdown; charset=utf-8", body = String),
))]
#[get("/methodology")]
pub async fn methodology() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/markdown; charset=utf-8")
        .body(include_str!("../../docs/methodology.md"))
}
