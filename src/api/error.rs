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
    NotAcceptable,
    PayloadTooLarge,
    UriTooLong,
    HeadersTooLarge,
    UnsupportedMediaType,
    Conflict,
    PreconditionFailed,
    IdempotencyKeyReused,
    Unauthorized,
    Forbidden,
    RateLimited,
    DatabaseUnavailable,
    Internal,
}

/// One entry of the catalogue: everything about a code, declared once.
pub struct CodeEntry {
    pub code: ErrorCode,
    pub name: &'static str,
    pub status: StatusCode,
    pub title: &'static str,
    /// What the problem means and what to do about it.
    pub advice: &'static str,
}

const fn entry(
    code: ErrorCode,
    name: &'static str,
    status: StatusCode,
    title: &'static str,
    advice: &'static str,
) -> CodeEntry {
    CodeEntry {
        code,
        name,
        status,
        title,
        advice,
    }
}

/// The error catalogue, in the order `GET /problems` lists it.
pub const CATALOGUE: [CodeEntry; 21] = [
    entry(ErrorCode::BadRequest, "bad_request", StatusCode::BAD_REQUEST,
        "The request is malformed",
        "The HTTP request itself could not be read: a header holds a control character, the request line or Content-Length is unreadable, or Content-Length comes with chunked encoding. Fix the client's request; the connection was closed."),
    entry(ErrorCode::MalformedJson, "malformed_json", StatusCode::BAD_REQUEST,
        "The request body is not valid JSON",
        "The body could not be parsed as JSON; `detail` says where. Send well-formed JSON (UTF-8) with `Content-Type: application/json`."),
    entry(ErrorCode::InvalidBody, "invalid_body", StatusCode::UNPROCESSABLE_ENTITY,
        "The request body does not match the schema",
        "A field is unknown, missing or of the wrong type. `errors[].pointer` is a JSON Pointer to it; compare with the operation's schema in the OpenAPI document."),
    entry(ErrorCode::InvalidParameter, "invalid_parameter", StatusCode::UNPROCESSABLE_ENTITY,
        "A path or query parameter is invalid",
        "`errors[].pointer` names the parameter (`/query/{name}`, `/path`, `/header/{name}`) and the message says what it accepts. Parameters an operation does not list are refused too."),
    entry(ErrorCode::ValidationFailed, "validation_failed", StatusCode::UNPROCESSABLE_ENTITY,
        "The request is well-formed but breaks a rule",
        "Each `errors[]` entry points at a field (or `/line/{n}/{field}` in a stream) and says which rule it breaks, such as a unit that does not fit the metric or a source that does not exist. Nothing was written."),
    entry(ErrorCode::NotFound, "not_found", StatusCode::NOT_FOUND,
        "No such resource",
        "The route exists but the resource it names does not (yet). Check the id; listings show what exists."),
    entry(ErrorCode::RouteNotFound, "route_not_found", StatusCode::NOT_FOUND,
        "No such route",
        "No operation has this path. The OpenAPI document at /openapi.json lists every route."),
    entry(ErrorCode::MethodNotAllowed, "method_not_allowed", StatusCode::METHOD_NOT_ALLOWED,
        "The route does not accept this method",
        "The path exists under other methods; the `Allow` header lists them."),
    entry(ErrorCode::NotAcceptable, "not_acceptable", StatusCode::NOT_ACCEPTABLE,
        "No representation the request's Accept allows",
        "The operation answers `application/json` (the default) or, where it lists it, `text/csv`; a picture (`chain.svg`, `history.svg`, `map.svg`) answers `image/svg+xml` (the default) or `image/png`. Send an `Accept` that allows one of the operation's media types, or none at all."),
    entry(ErrorCode::PayloadTooLarge, "payload_too_large", StatusCode::PAYLOAD_TOO_LARGE,
        "The request body is too large",
        "Split the request, or stream large fact sets to POST /v1/facts/import, which takes any size."),
    entry(ErrorCode::UriTooLong, "uri_too_long", StatusCode::URI_TOO_LONG,
        "The request URI is too long",
        "URIs are limited to 65,534 bytes. Send large inputs in a request body."),
    entry(ErrorCode::HeadersTooLarge, "headers_too_large", StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "The request headers are too many or too large",
        "A request may carry at most 96 headers and a head of at most 128 KiB."),
    entry(ErrorCode::UnsupportedMediaType, "unsupported_media_type", StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "The request body's media type is not accepted",
        "Set `Content-Type` to one the operation lists (for example `application/json`, `application/x-ndjson` or `text/csv`)."),
    entry(ErrorCode::Conflict, "conflict", StatusCode::CONFLICT,
        "The resource already exists or changed meanwhile",
        "The write conflicts with what is stored, such as an id already in use or a fact already retracted. Read the resource and decide."),
    entry(ErrorCode::PreconditionFailed, "precondition_failed", StatusCode::PRECONDITION_FAILED,
        "The resource is not in the state the request expected",
        "`If-Match` named an ETag the resource no longer has (someone changed it meanwhile), or the resource does not exist. GET it again, reapply the change, and send the new ETag."),
    entry(ErrorCode::IdempotencyKeyReused, "idempotency_key_reused", StatusCode::UNPROCESSABLE_ENTITY,
        "The Idempotency-Key was already used with a different request",
        "An `Idempotency-Key` replays only the request it first came with. Use a new key for a new request."),
    entry(ErrorCode::Unauthorized, "unauthorized", StatusCode::UNAUTHORIZED,
        "A valid API key is required",
        "Send `Authorization: Bearer ck_…` with a live key. `keys create` on the command line makes the first one."),
    entry(ErrorCode::Forbidden, "forbidden", StatusCode::FORBIDDEN,
        "The API key lacks the scope this route needs",
        "Scopes nest: admin ⊃ ingest ⊃ read. Use a key with the scope `detail` names."),
    entry(ErrorCode::RateLimited, "rate_limited", StatusCode::TOO_MANY_REQUESTS,
        "Too many requests; retry after the given delay",
        "Wait `Retry-After` seconds. `RateLimit-Policy` states the quota and `RateLimit` what is left."),
    entry(ErrorCode::DatabaseUnavailable, "database_unavailable", StatusCode::SERVICE_UNAVAILABLE,
        "The database is unavailable; retry later",
        "The service cannot reach PostgreSQL for the moment. Retry after `Retry-After` seconds; writes that failed were not applied."),
    entry(ErrorCode::Internal, "internal", StatusCode::INTERNAL_SERVER_ERROR,
        "Internal server error",
        "A bug: the cause was logged with the request id. Report the `request_id`."),
];

impl ErrorCode {
    pub const ALL: [ErrorCode; CATALOGUE.len()] = {
        let mut all = [ErrorCode::Internal; CATALOGUE.len()];
        let mut i = 0;
        while i < CATALOGUE.len() {
            all[i] = CATALOGUE[i].code;
            i += 1;
        }
        all
    };

    pub fn entry(self) -> &'static CodeEntry {
        CATALOGUE
            .iter()
            .find(|entry| entry.code == self)
            .expect("every code has a catalogue entry")
    }

    pub fn as_str(self) -> &'static str {
        self.entry().name
    }

    pub fn status(self) -> StatusCode {
        self.entry().status
    }

    pub fn title(self) -> &'static str {
        self.entry().title
    }

    pub fn advice(self) -> &'static str {
        self.entry().advice
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
    /// The path of the request this problem answers (RFC 9457 `instance`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "/v1/facts")]
    pub instance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// At most this many problems are listed in one response.
pub const MAX_REPORTED_ERRORS: usize = 1000;

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

    /// A 422 listing the problems, at most [`MAX_REPORTED_ERRORS`] of them.
    pub fn validation(mut errors: Vec<FieldError>) -> ApiError {
        let detail = match errors.as_slice() {
            [only] => format!("{}: {}", only.pointer, only.message),
            _ => format!("{} problems; nothing was written", errors.len()),
        };
        errors.truncate(MAX_REPORTED_ERRORS);
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

    pub fn problem(&self, request_id: Option<String>, instance: Option<String>) -> Problem {
        Problem {
            type_uri: self.code.type_uri(),
            title: self.code.title(),
            status: self.code.status().as_u16(),
            detail: self.detail.clone(),
            code: self.code,
            errors: self.errors.clone(),
            instance,
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
        let problem = self.problem(
            super::request_id::current(),
            super::request_id::current_path(),
        );
        response.body(serde_json::to_string(&problem).expect("problems serialise"))
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

#[cfg(test)]
mod tests {
    use super::{ErrorCode, CATALOGUE};

    #[test]
    fn each_code_is_catalogued_once_under_its_serialised_name() {
        for (i, entry) in CATALOGUE.iter().enumerate() {
            assert_eq!(serde_json::to_value(entry.code).unwrap(), entry.name);
            assert!(CATALOGUE[i + 1..]
                .iter()
                .all(|other| other.code != entry.code));
            assert!(entry.status.is_client_error() || entry.status.is_server_error());
        }
        assert_eq!(ErrorCode::ALL.len(), CATALOGUE.len());
    }
}
