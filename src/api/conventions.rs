//! Rules every route follows, enforced once in front of all of them.

use std::panic::AssertUnwindSafe;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};
use futures_util::FutureExt;

use super::error::{ApiError, PROBLEM_JSON};
use super::RouteTable;
use crate::domain::text;

/// A panic in a handler or middleware inside this one becomes a 500
/// problem with the request id; the connection and the worker survive.
/// (The panic hook has logged the message and location by then.)
pub async fn catch_panic(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    // The request cannot be kept (routing needs it unshared) and unwinding
    // drops it: the response is attached to a stand-in with its method and
    // path, which is all the access log reads.
    let (method, uri) = (req.method().clone(), req.uri().clone());
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(response) => response.map(ServiceResponse::map_into_left_body),
        Err(_) => {
            let error = ApiError::internal(anyhow::anyhow!("a handler panicked"));
            let request = actix_web::test::TestRequest::default()
                .method(method)
                .uri(&uri.to_string())
                .to_http_request();
            Ok(ServiceResponse::new(request, error.error_response()).map_into_right_body())
        }
    }
}

/// `HEAD` is served by the `GET` route: the route sees a `GET`, and
/// actix-http, which remembers the request was a `HEAD`, sends the head of
/// the answer without its body.
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == actix_web::http::Method::HEAD {
        req.head_mut().method = actix_web::http::Method::GET;
    }
    next.call(req).await
}

/// Refuses U+0000 anywhere in the path or the query string (PostgreSQL
/// cannot store or compare it, and no identifier holds it), and query
/// parameters the operation does not declare: reads and writes alike.
pub async fn check_url(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if let Some(error) = nul_in_url(&req).or_else(|| unknown_query_parameter(&req)) {
        let response = error.error_response();
        return Ok(req.into_response(response).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// Every error the service answers is a problem document: responses that
/// layers below the routes produce themselves (CORS refusals, Swagger UI's
/// missing files) are rewritten with their status's catalogue code, keeping
/// their headers.
pub async fn problem_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let response = next.call(req).await?;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return Ok(response.map_into_left_body());
    }
    if status.is_server_error() {
        // Not an `ApiError`, so not logged yet: keep its cause for us.
        tracing::error!(
            status = status.as_u16(),
            cause = response.response().error().map(|e| e.to_string()),
            "request failed below the handlers"
        );
    }
    let error = ApiError::for_status(status);
    let (request, original) = response.into_parts();
    let mut problem = error.error_response();
    for (name, value) in original.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(ServiceResponse::new(request, problem).map_into_right_body())
}

fn unknown_query_parameter(req: &ServiceRequest) -> Option<ApiError> {
    let query = req.uri().query()?;
    let table = req.app_data::<web::Data<RouteTable>>()?;
    let declared = table.query_parameters(req.method(), req.path())?;
    let (name, _) = form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| !declared.iter().any(|d| d == name))?;
    let message = if declared.is_empty() {
        "unknown parameter: this operation takes no query parameters".to_owned()
    } else {
        format!(
            "unknown parameter: this operation takes {}",
            declared.join(", ")
        )
    };
    Some(ApiError::invalid_parameter(&name, "query", message))
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

#[cfg(test)]
mod tests {
    use actix_web::{test, web, App, HttpResponse};

    use super::catch_panic;

    #[actix_web::test]
    async fn a_panicking_handler_gets_a_500_problem_and_the_service_lives_on() {
        let app = test::init_service(
            App::new()
                .wrap(actix_web::middleware::from_fn(catch_panic))
                .route(
                    "/panic",
                    web::get().to(|| async {
                        let cells: Vec<u8> = Vec::new();
                        HttpResponse::Ok().body(vec![cells[3]])
                    }),
                )
                .route(
                    "/fine",
                    web::get().to(|| async { HttpResponse::Ok().finish() }),
                ),
        )
        .await;
        let response =
            test::call_service(&app, test::TestRequest::get().uri("/panic").to_request()).await;
        assert_eq!(response.status(), 500);
        assert_eq!(
            response.headers().get("content-type").unwrap(),
            "application/problem+json"
        );
        let body: serde_json::Value = test::read_body_json(response).await;
        assert_eq!(body["code"], "internal");
        assert!(
            !body["detail"].as_str().unwrap().contains("index"),
            "the cause is not leaked"
        );
        let response =
            test::call_service(&app, test::TestRequest::get().uri("/fine").to_request()).await;
        assert_eq!(response.status(), 200);
    }
}
