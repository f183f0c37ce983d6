//! Error responses shared by many operations, documented once. Each lists
//! the problem `code`s a client can get, with an example of each.

use std::collections::BTreeMap;

use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::{ContentBuilder, RefOr, Response};
use utoipa::IntoResponses;

use super::error::ErrorCode;

fn problem_response(description: &str, codes: &[(ErrorCode, &str)]) -> RefOr<Response> {
    let mut content =
        ContentBuilder::new().schema(Some(utoipa::openapi::Ref::from_schema_name("Problem")));
    for (code, detail) in codes {
        let example = serde_json::json!({
            "type": code.type_uri(),
            "title": code.title(),
            "status": code.status().as_u16(),
            "detail": detail,
            "code": code.as_str(),
        });
        content = content.example(None).examples_from_iter([(
            code.as_str(),
            ExampleBuilder::new().value(Some(example)).build(),
        )]);
    }
    ResponseBuilder::new()
        .description(description)
        .content("application/problem+json", content.build())
        .build()
        .into()
}

/// Errors of a request with a JSON body.
pub struct BodyErrors;

impl IntoResponses for BodyErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        ResponsesBuilder::new()
            .response("400", problem_response("The body is not JSON", &[
                (ErrorCode::MalformedJson, "expected `,` or `}` at line 1 column 18"),
            ]))
            .response("413", problem_response("The body is larger than the route accepts", &[
                (ErrorCode::PayloadTooLarge, "the request body exceeds this route's limit of 1048576 bytes"),
            ]))
            .response("415", problem_response("The body is not `application/json`", &[
                (ErrorCode::UnsupportedMediaType, "expected `application/json`, got `text/plain`"),
            ]))
            .response("422", problem_response(
                "The body does not fit the schema (unknown field, wrong type), breaks a rule, or reuses an Idempotency-Key",
                &[
                    (ErrorCode::InvalidBody, "/sourcee: unknown field `sourcee`"),
                    (ErrorCode::ValidationFailed, "/kind: `blog` is not a source kind"),
                    (ErrorCode::IdempotencyKeyReused, "this Idempotency-Key was first used with a different request; use a new key"),
                ],
            ))
            .response("503", unavailable())
            .build()
            .into()
    }
}

/// Errors of a read with query parameters.
pub struct QueryErrors;

impl IntoResponses for QueryErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        ResponsesBuilder::new()
            .response(
                "422",
                problem_response(
                    "A query parameter is invalid (the pointer names it)",
                    &[(
                        ErrorCode::InvalidParameter,
                        "`limit`: must be between 1 and 1000",
                    )],
                ),
            )
            .response("503", unavailable())
            .build()
            .into()
    }
}

/// The resource named in the path does not exist.
pub struct NotFound;

impl IntoResponses for NotFound {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        ResponsesBuilder::new()
            .response(
                "404",
                problem_response(
                    "No such resource",
                    &[(ErrorCode::NotFound, "product `unobtainium` does not exist")],
                ),
            )
            .build()
            .into()
    }
}

/// `Accept` allows none of the operation's representations.
pub struct NotAcceptable;

impl IntoResponses for NotAcceptable {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        ResponsesBuilder::new()
            .response(
                "406",
                problem_response(
                    "`Accept` allows neither `application/json` nor `text/csv`",
                    &[(
                        ErrorCode::NotAcceptable,
                        "`Accept: application/xml` allows neither `application/json` nor `text/csv`, the representations this operation has",
                    )],
                ),
            )
            .build()
            .into()
    }
}

/// The resource exists already, or is in a state that forbids the change.
pub struct Conflict;

impl IntoResponses for Conflict {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        ResponsesBuilder::new()
            .response(
                "409",
                problem_response(
                    "Conflicts with what is stored",
                    &[(ErrorCode::Conflict, "it already exists (sources_pkey)")],
                ),
            )
            .build()
            .into()
    }
}

/// Access control: a missing or bad key, a key without the scope, or too
/// many requests.
pub struct AccessErrors;

impl IntoResponses for AccessErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        ResponsesBuilder::new()
            .response(
                "401",
                problem_response(
                    "No API key, or not a live one (`WWW-Authenticate: Bearer`)",
                    &[(
                        ErrorCode::Unauthorized,
                        "this route needs an API key with the `ingest` scope",
                    )],
                ),
            )
            .response(
                "403",
                problem_response(
                    "The key lacks the scope this route needs",
                    &[(
                        ErrorCode::Forbidden,
                        "this route needs the `admin` scope; the key has [\"ingest\"]",
                    )],
                ),
            )
            .response(
                "429",
                problem_response(
                    "Over the rate limit: retry after `Retry-After` seconds",
                    &[(
                        ErrorCode::RateLimited,
                        "more than 100 requests in a burst; retry in 1 s",
                    )],
                ),
            )
            .build()
            .into()
    }
}

fn unavailable() -> RefOr<Response> {
    problem_response(
        "The database is unreachable; retry after `Retry-After` seconds",
        &[(
            ErrorCode::DatabaseUnavailable,
            "the database cannot be reached; retry shortly",
        )],
    )
}

/// A picture's answers: the picture as SVG (the default) or PNG, each with
/// its `ETag`; 304 for a held tag; 406 when `Accept` allows neither. The
/// SVG's example is the recorded answer of the baseline
/// (`openapi/examples/`), added with the other recorded examples.
pub struct PictureResponses;

impl IntoResponses for PictureResponses {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        use utoipa::openapi::header::HeaderBuilder;
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let string = || ObjectBuilder::new().schema_type(Type::String);
        let header = |description: &str| {
            HeaderBuilder::new()
                .schema(string())
                .description(Some(description))
                .build()
        };
        let picture = ResponseBuilder::new()
            .description(
                "The picture: SVG by default (text is real text), PNG with `Accept: image/png` \
                 (rendered from the same SVG with an embedded font). Swagger UI shows PNG as an \
                 image and SVG as its source.",
            )
            .header(
                "ETag",
                header("The same for the same data, parameters and media type"),
            )
            .header(
                "Cache-Control",
                header("`max-age=86400` for a `recorded` read of the past, else revalidate"),
            )
            .header(
                "Vary",
                header("`Accept`: SVG and PNG are two representations"),
            )
            .content(
                "image/png",
                ContentBuilder::new()
                    .schema(Some(
                        string()
                            .content_media_type("image/png")
                            .description(Some("A PNG image, one pixel per SVG unit")),
                    ))
                    .build(),
            )
            .content(
                "image/svg+xml",
                ContentBuilder::new()
                    .schema(Some(
                        string()
                            .content_media_type("image/svg+xml")
                            .description(Some("An SVG 1.1 document, UTF-8")),
                    ))
                    .build(),
            )
            .build();
        ResponsesBuilder::new()
            .response("200", picture)
            .response(
                "304",
                ResponseBuilder::new()
                    .description("Not modified since the `If-None-Match` ETag")
                    .build(),
            )
            .response(
                "406",
                problem_response(
                    "`Accept` allows neither `image/svg+xml` nor `image/png`",
                    &[(
                        ErrorCode::NotAcceptable,
                        "`Accept: application/json` allows neither `image/svg+xml` nor `image/png`, the representations this operation has",
                    )],
                ),
            )
            .build()
            .into()
    }
}
