//! The one error type of the HTTP API, rendered as RFC 9457
//! `application/problem+json` with a stable machine-readable `code`.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// Every error the API can answer with. The snake_case name is the stable
/// `code` clients switch on; the catalogue is published at `GET /problems`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    MalformedJson,
    InvalidBody,
    InvalidParameter,
    ValidationFailed,
    NotFound,
    RouteNotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    UriTooLong,
    HeadersTooLarge,
    UnsupportedMediaType,
    Conflict,
    IdempotencyKeyReused,
    Unauthorized,
    Forbidden,
    RateLimited,
    DatabaseUnavailable,
    Internal,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 19] = [
        ErrorCode::BadRequest,
        ErrorCode::MalformedJson,
        ErrorCode::InvalidBody,
        ErrorCode::InvalidParameter,
        ErrorCode::ValidationFailed,
        ErrorCode::NotFound,
        ErrorCode::RouteNotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UriTooLong,
        ErrorCode::HeadersTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::Conflict,
        ErrorCode::IdempotencyKeyReused,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::RateLimited,
        ErrorCode::DatabaseUnavailable,
        ErrorCode::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::InvalidBody => "invalid_body",
            ErrorCode::InvalidParameter => "invalid_parameter",
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::NotFound => "not_found",
            ErrorCode::RouteNotFound => "route_not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UriTooLong => "uri_too_long",
            ErrorCode::HeadersTooLarge => "headers_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::Conflict => "conflict",
            ErrorCode::IdempotencyKeyReused => "idempotency_key_reused",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::DatabaseUnavailable => "database_unavailable",
            ErrorCode::Internal => "internal",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::BadRequest | ErrorCode::MalformedJson => StatusCode::BAD_REQUEST,
            ErrorCode::InvalidBody
            | ErrorCode::InvalidParameter
            | ErrorCode::ValidationFailed
            | ErrorCode::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::NotFound | ErrorCode::RouteNotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UriTooLong => StatusCode::URI_TOO_LONG,
            ErrorCode::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::DatabaseUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "The request is malformed",
            ErrorCode::MalformedJson => "The request body is not valid JSON",
            ErrorCode::InvalidBody => "The request body does not match the schema",
            ErrorCode::InvalidParameter => "A path or query parameter is invalid",
            ErrorCode::ValidationFailed => "The request is well-formed but breaks a rule",
            ErrorCode::NotFound => "No such resource",
            ErrorCode::RouteNotFound => "No such route",
            ErrorCode::MethodNotAllowed => "The route does not accept this method",
            ErrorCode::PayloadTooLarge => "The request body is too large",
            ErrorCode::UriTooLong => "The request URI is too long",
            ErrorCode::HeadersTooLarge => "The request headers are too many or too large",
            ErrorCode::UnsupportedMediaType => "The request body's media type is not accepted",
            ErrorCode::Conflict => "The resource already exists or changed meanwhile",
            ErrorCode::IdempotencyKeyReused => {
                "The Idempotency-Key was already used with a different request"
            }
            ErrorCode::Unauthorized => "A valid API key is required",
            ErrorCode::Forbidden => "The API key lacks the scope this route needs",
            ErrorCode::RateLimited => "Too many requests; retry after the given delay",
            ErrorCode::DatabaseUnavailable => "The database is unavailable; retry later",
            ErrorCode::Internal => "Internal server error",
        }
    }

    /// The problem `type` URI: resolvable against the service, where
    /// `GET /problems/{code}` describes the code.
    pub fn type_uri(self) -> String {
        format!("/problems/{}", self.as_str())
    }
}

/// A problem with one field of the request.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FieldError {
    /// JSON Pointer (RFC 6901) into the request body, or `/query/{name}`,
    /// `/path/{name}`, `/header/{name}` for parameters, or `/line/{n}` in streams.
    #[schema(example = "/0/value")]
    pub pointer: String,
    #[schema(example = "`market_share` must be between 0 and 1 fraction (got 1.2)")]
    pub message: String,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

/// RFC 9457 problem details, as every error response carries them.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "/problems/validation_failed",
    "title": "The request is well-formed but breaks a rule",
    "status": 422,
    "detail": "1 item of the batch is invalid; nothing was written",
    "code": "validation_failed",
    "errors": [{"pointer": "/3/unit", "message": "unit `%` does not fit `production`: use one of `t/yr`, `kt/yr`, `Mt/yr`"}],
    "request_id": "6f1c0a52-2b7e-4d0e-9a53-2f6b1c8f9e01"
}))]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    pub code: ErrorCode,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// The API error: a catalogue code, a human detail, field errors, and for
/// internal failures the cause, which is logged and never sent.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// Extra response headers (`Allow`, `Retry-After`, `WWW-Authenticate`).
    pub headers: Vec<(header::HeaderName, String)>,
    cause: Option<anyhow::Error>,
}

pub const PROBLEM_JSON: &str = "application/problem+json";

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> ApiError {
        ApiError {
            code,
            detail: detail.into(),
            errors: Vec::new(),
            headers: Vec::new(),
            cause: None,
        }
    }

    pub fn with_header(mut self, name: header::HeaderName, value: impl Into<String>) -> ApiError {
        self.headers.push((name, value.into()));
        self
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> ApiError {
        self.errors = errors;
        self
    }

    pub fn not_found(what: impl std::fmt::Display) -> ApiError {
        ApiError::new(ErrorCode::NotFound, format!("{what} does not exist"))
    }

    pub fn validation(errors: Vec<FieldError>) -> ApiError {
        let detail = match errors.as_slice() {
            [only] => format!("{}: {}", only.pointer, only.message),
            _ => format!("{} problems; nothing was written", errors.len()),
        };
        ApiError::new(ErrorCode::ValidationFailed, detail).with_errors(errors)
    }

    pub fn invalid_parameter(name: &str, location: &str, message: impl Into<String>) -> ApiError {
        let message = message.into();
        ApiError::new(ErrorCode::InvalidParameter, format!("`{name}`: {message}")).with_errors(
            vec![FieldError::new(format!("/{location}/{name}"), message)],
        )
    }

    /// A bad parameter that can only be located, not named (the raw path).
    pub fn invalid_parameter_at(pointer: &str, message: impl Into<String>) -> ApiError {
        let message = message.into();
        ApiError::new(ErrorCode::InvalidParameter, format!("{pointer}: {message}"))
            .with_errors(vec![FieldError::new(pointer, message)])
    }

    /// The problem for a bare error status some lower layer answered with.
    pub fn for_status(status: StatusCode) -> ApiError {
        let code = ErrorCode::ALL
            .into_iter()
            .find(|code| code.status() == status && *code != ErrorCode::NotFound)
            .unwrap_or(if status.is_server_error() {
                ErrorCode::Internal
            } else {
                ErrorCode::BadRequest
            });
        let detail = match code {
            ErrorCode::BadRequest => format!(
                "the request was refused ({}): check its headers and syntax",
                status.canonical_reason().unwrap_or("client error")
            ),
            other => other.title().to_owned(),
        };
        ApiError::new(code, detail)
    }

    pub fn internal(cause: impl Into<anyhow::Error>) -> ApiError {
        ApiError {
            cause: Some(cause.into()),
            ..ApiError::new(
                ErrorCode::Internal,
                "the server failed to handle the request; it has been logged",
            )
        }
    }

    pub fn database_unavailable(cause: impl Into<anyhow::Error>) -> ApiError {
        ApiError {
            cause: Some(cause.into()),
            ..ApiError::new(
                ErrorCode::DatabaseUnavailable,
                "the database cannot be reached; retry shortly",
            )
        }
    }

    pub fn problem(&self, request_id: Option<String>) -> Problem {
        Problem {
            type_uri: self.code.type_uri(),
            title: self.code.title(),
            status: self.code.status().as_u16(),
            detail: self.detail.clone(),
            code: self.code,
            errors: self.errors.clone(),
            request_id,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(cause) = &self.cause {
            // `{:#}` prints the whole cause chain on one line.
            tracing::error!(
                code = self.code.as_str(),
                cause = format!("{cause:#}"),
                "request failed"
            );
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        if self.code == ErrorCode::DatabaseUnavailable {
            response.insert_header((header::RETRY_AFTER, "5"));
        }
        for (name, value) in &self.headers {
            response.insert_header((name.clone(), value.clone()));
        }
        let request_id = super::request_id::current();
        response.body(serde_json::to_string(&self.problem(request_id)).expect("problems serialise"))
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> ApiError {
        use crate::store::StoreError;
        match error {
            StoreError::Unavailable(cause) => ApiError::database_unavailable(cause),
            StoreError::Duplicate { constraint } => ApiError::new(
                ErrorCode::Conflict,
                format!("it already exists ({constraint})"),
            ),
            StoreError::Other(cause) => ApiError::internal(cause),
        }
    }
}

impl From<crate::ingest::Rejected> for ApiError {
    fn from(error: crate::ingest::Rejected) -> ApiError {
        match error {
            crate::ingest::Rejected::Invalid(problems) => ApiError::validation(
                problems
                    .into_iter()
                    .map(|(pointer, message)| FieldError::new(pointer, message))
                    .collect(),
            ),
            crate::ingest::Rejected::Store(error) => error.into(),
        }
    }
}
