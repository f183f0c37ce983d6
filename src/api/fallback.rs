//! Answers requests no route took: 405 with `Allow` when the path exists
//! under another method, else 404. Route shapes come from the OpenAPI
//! document, the same declaration that built the routes.

use actix_web::{web, HttpRequest, HttpResponse};
use utoipa::openapi::OpenApi;

use super::error::{ApiError, ErrorCode};

#[derive(Debug, Clone)]
pub struct RouteTable {
    routes: Vec<(Vec<String>, Vec<&'static str>)>,
}

impl RouteTable {
    pub fn from_openapi(document: &OpenApi) -> RouteTable {
        let routes = document
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let segments = path
                    .trim_matches('/')
                    .split('/')
                    .map(str::to_owned)
                    .collect();
                let mut methods = Vec::new();
                for (method, present) in [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ] {
                    if present {
                        methods.push(method);
                    }
                }
                if methods.contains(&"GET") {
                    methods.push("HEAD");
                }
                (segments, methods)
            })
            .collect();
        RouteTable { routes }
    }

    /// The methods a path accepts, or `None` if no route has its shape.
    fn allowed(&self, path: &str) -> Option<Vec<&'static str>> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut allowed: Vec<&'static str> = Vec::new();
        for (pattern, methods) in &self.routes {
            let matches = pattern.len() == segments.len()
                && pattern
                    .iter()
                    .zip(&segments)
                    .all(|(p, s)| (p.starts_with('{') && !s.is_empty()) || p == s);
            if matches {
                for method in methods {
                    if !allowed.contains(method) {
                        allowed.push(method);
                    }
                }
            }
        }
        (!allowed.is_empty()).then_some(allowed)
    }
}

pub async fn not_found_or_not_allowed(
    req: HttpRequest,
    table: web::Data<RouteTable>,
) -> Result<HttpResponse, ApiError> {
    Err(match table.allowed(req.path()) {
        Some(methods) => {
            let allow = methods.join(", ");
            ApiError::new(
                ErrorCode::MethodNotAllowed,
                format!(
                    "{} does not accept {}; it accepts {allow}",
                    req.path(),
                    req.method()
                ),
            )
            .with_header(actix_web::http::header::ALLOW, allow)
        }
        None => ApiError::new(
            ErrorCode::RouteNotFound,
            format!("no route matches {}", req.path()),
        ),
    })
}
