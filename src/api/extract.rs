//! Extractors that turn request bodies and query strings into typed values,
//! answering bad input with problems that point at the offending field.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use super::error::{ApiError, ErrorCode, FieldError};
use crate::domain::text;

/// The largest request body the service accepts, in bytes (configurable).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// A JSON request body, with the digest of the request for idempotency.
/// Rejects other media types (415), bodies over the limit (413), syntax
/// errors (400) and schema mismatches such as unknown fields (422, with a
/// JSON Pointer to the field).
#[derive(Debug)]
///
/// Extraction itself never fails: the outcome is kept until the handler
/// asks for it with [`Json::parse`], so that the handler's other extractors
/// (the API key above all) answer first: a caller without a key learns
/// nothing about what its body would have done.
pub struct Json<T>(Result<(T, RequestDigest), ApiError>);

impl<T> Json<T> {
    /// The body and the request's digest, or the problem with the body.
    pub fn parse(self) -> Result<(T, RequestDigest), ApiError> {
        self.0
    }
}

/// SHA-256 over what makes two requests "the same" for an idempotency key:
/// method, path and query, media type and body.
#[derive(Debug, Clone)]
pub struct RequestDigest(sha2::Sha256);

impl RequestDigest {
    pub fn start(req: &HttpRequest) -> RequestDigest {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        hasher.update(req.method().as_str());
        hasher.update(b"\n");
        hasher.update(req.uri().to_string());
        hasher.update(b"\n");
        hasher.update(media_type(req));
        hasher.update(b"\n");
        RequestDigest(hasher)
    }

    pub fn update(&mut self, chunk: &[u8]) {
        sha2::Digest::update(&mut self.0, chunk);
    }

    pub fn finish(self) -> [u8; 32] {
        sha2::Digest::finalize(self.0).into()
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type = media_type(req);
        let limit = body_limit(req);
        let mut digest = RequestDigest::start(req);
        let payload = payload.take();
        Box::pin(async move {
            let parsed = async {
                let body = read_json_body(&content_type, payload, limit).await?;
                digest.update(&body);
                parse_json(&body).map(|value| (value, digest))
            };
            Ok(Json(parsed.await))
        })
    }
}

/// Reads a body that must be JSON, up to `limit` bytes.
pub async fn read_json_body(
    content_type: &str,
    payload: Payload,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    if !is_json(content_type) {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("expected `application/json`, got `{content_type}`"),
        ));
    }
    read_body(payload, limit).await
}

/// Parses a JSON document, mapping failures to problems. U+0000 in any
/// string is refused with a pointer to it (PostgreSQL cannot store it).
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // In JSON a NUL can only be written as this escape: a cheap test first.
    if body.windows(6).any(|w| w == br"\u0000") {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
            if let Some(pointer) = text::nul_pointer(&value) {
                return Err(ApiError::validation(vec![FieldError::new(
                    pointer,
                    text::NUL_MESSAGE,
                )]));
            }
        }
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let pointer = json_pointer(error.path());
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                ApiError::new(ErrorCode::InvalidBody, format!("{pointer}: {inner}"))
                    .with_errors(vec![FieldError::new(pointer, strip_position(&inner))])
            }
            _ => ApiError::new(ErrorCode::MalformedJson, inner.to_string()),
        }
    })?;
    deserializer
        .end()
        .map_err(|e| ApiError::new(ErrorCode::MalformedJson, e.to_string()))?;
    Ok(value)
}

/// A query string parsed into `T`; a bad value is a 422 naming the parameter.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let pairs = form_urlencoded::parse(req.query_string().as_bytes());
        let deserializer = serde_urlencoded::Deserializer::new(pairs);
        let result = serde_path_to_error::deserialize(deserializer)
            .map(Query)
            .map_err(|error| {
                let name = error.path().to_string();
                let message = error.into_inner().to_string();
                let missing = message
                    .strip_prefix("missing field `")
                    .and_then(|rest| rest.strip_suffix('`'));
                if let Some(missing) = missing {
                    ApiError::invalid_parameter(missing, "query", "is required")
                } else if name == "." {
                    ApiError::new(ErrorCode::InvalidParameter, message.clone())
                        .with_errors(vec![FieldError::new("/query", message)])
                } else {
                    ApiError::invalid_parameter(&name, "query", message)
                }
            });
        std::future::ready(result)
    }
}

pub fn media_type(req: &HttpRequest) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

fn is_json(media_type: &str) -> bool {
    media_type == "application/json" || media_type.ends_with("+json")
}

fn body_limit(req: &HttpRequest) -> usize {
    req.app_data::<BodyLimit>().map_or(1 << 20, |limit| limit.0)
}

/// Reads a whole body, refusing to buffer more than `limit` bytes.
pub async fn read_body(mut payload: Payload, limit: usize) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the request body exceeds this route's limit of {limit} bytes"),
        )
    };
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Overflow => too_large(),
            other => ApiError::new(
                ErrorCode::MalformedJson,
                format!("could not read the body: {other}"),
            ),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn json_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path.iter() {
        pointer.push('/');
        match segment {
            Segment::Seq { index } => pointer.push_str(&index.to_string()),
            Segment::Map { key } => pointer.push_str(&key.replace('~', "~0").replace('/', "~1")),
            Segment::Enum { variant } => pointer.push_str(variant),
            Segment::Unknown => pointer.push('?'),
        }
    }
    if pointer.is_empty() {
        pointer.push('/');
    }
    pointer
}

/// serde_json appends " at line L column C", which is noise next to a pointer.
fn strip_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// JSON Schema counts `5.0` as an integer: a field declared as one takes
/// any number without a fractional part.
pub fn whole_u32<'de, D>(deserializer: D) -> Result<Option<u32>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::Error;
    use serde::Deserialize;
    Option::<f64>::deserialize(deserializer)?
        .map(|value| {
            if value.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&value) {
                Ok(value as u32)
            } else {
                Err(D::Error::custom(format!(
                    "expected a whole number from 0 to {}, got {value}",
                    u32::MAX
                )))
            }
        })
        .transpose()
}
