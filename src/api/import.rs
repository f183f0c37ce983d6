//! `POST /v1/facts/import`: bulk facts streamed as NDJSON or CSV, validated
//! row by row and written through PostgreSQL's COPY, in bounded memory.

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse};
use deadpool_postgres::Pool;
use futures_util::StreamExt;
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::Ingest;
use super::docs::{AccessErrors, BodyErrors};
use super::error::{ApiError, ErrorCode, FieldError};
use super::extract::{media_type, Query, RequestDigest};
use super::write::{self, IdempotencyKeyHeader};
use crate::ingest::csv::FramingError;
use crate::ingest::import::{Import, ImportFailed, ImportSummary, OnError};
use crate::ingest::rows::{Format, StreamError, MAX_LINE_BYTES};
use crate::live::Announcer;
use crate::store::idempotency::{self, Outcome};
use crate::store::StoreError;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// `abort` (default): all or nothing. `skip`: write the valid rows.
    #[param(value_type = Option<OnError>)]
    on_error: Option<OnError>,
}

/// Imports facts from a stream: `application/x-ndjson` (one fact object a
/// line, same fields as `POST /v1/facts`) or `text/csv` (a header row naming
/// the columns product, country, buyer, facility, metric, value, unit,
/// period, status, controlled_by, expected_online, source_id, confidence,
/// published_on, quote, locator, note; empty cells are nulls). Millions of rows are read
/// as a stream in bounded memory and written with COPY, in one transaction.
/// With `on_error=abort` (default) any invalid row makes it a 422 listing
/// the bad lines (`/line/{n}/{field}`) and nothing is written; with
/// `on_error=skip` the valid rows are written and the rest reported.
#[utoipa::path(tag = "facts", params(ImportQuery, IdempotencyKeyHeader),
    request_body(description = "One fact a line (NDJSON), or CSV with a header row", content(
        (String = "application/x-ndjson", example = json!("{\"product\":\"ndpr-oxide\",\"country\":\"CN\",\"metric\":\"market_share\",\"value\":92,\"unit\":\"%\",\"period\":\"2023\",\"status\":\"estimate\",\"source_id\":\"iea-gcmo-2024\"}\n")),
        (String = "text/csv", example = json!("product,country,metric,value,unit,period,status,source_id\nndpr-oxide,CN,market_share,92,%,2023,estimate,iea-gcmo-2024\n")),
    )),
    security(("bearer" = ["ingest"])),
    responses((status = 201, description = "Imported", body = ImportSummary), AccessErrors, BodyErrors))]
#[post("/facts/import")]
pub async fn import_facts(
    req: HttpRequest,
    pool: web::Data<Pool>,
    announcer: web::Data<Announcer>,
    caller: Ingest,
    query: Query<ImportQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let on_error = query.0.on_error.unwrap_or_default();
    let format = match media_type(&req).as_str() {
        "application/x-ndjson" | "application/ndjson" | "application/jsonl" => Format::Ndjson,
        "text/csv" => Format::Csv,
        other => {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                format!("expected `application/x-ndjson` or `text/csv`, got `{other}`"),
            ))
        }
    };
    let digest = RequestDigest::start(&req);
    let key_header = write::idempotency(&req, digest.clone())?.map(|k| k.key);
    let mut stream = payload.into_inner();

    let mut client = pool.get().await.map_err(StoreError::from)?;
    if let Some(key) = &key_header {
        if idempotency::has_key(&client, key).await? {
            // Seen before: the body only needs hashing to replay or refuse.
            let mut digest = digest;
            while let Some(chunk) = stream.next().await {
                digest.update(&chunk.map_err(read_error)?);
            }
            let key = idempotency::Idempotency {
                key: key.clone(),
                digest: digest.finish(),
            };
            return write::respond(idempotency::replay(&client, &key).await?);
        }
    }

    let tx = client.transaction().await.map_err(StoreError::from)?;
    let mut import = Import::start(&tx, format, on_error).await?;
    let mut digest = digest;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(read_error)?;
        digest.update(&chunk);
        if !import.feed(&chunk).await.map_err(import_failed)? {
            break;
        }
    }
    let summary = import
        .finish(&tx, &write::actor(&caller.0, &req))
        .await
        .map_err(import_failed)?;
    let reply = write::reply(StatusCode::CREATED, &summary)?;
    let outcome = match key_header {
        None => {
            tx.commit().await.map_err(StoreError::from)?;
            Outcome::Done(reply)
        }
        Some(key) => {
            let key = idempotency::Idempotency {
                key,
                digest: digest.finish(),
            };
            match idempotency::commit(tx, &key, reply).await? {
                Some(outcome) => outcome,
                None => idempotency::replay(&client, &key).await?,
            }
        }
    };
    write::announce(&announcer, &outcome);
    write::respond(outcome)
}

fn read_error(error: actix_web::error::PayloadError) -> ApiError {
    ApiError::new(
        ErrorCode::MalformedJson,
        format!("could not read the body: {error}"),
    )
}

/// Why nothing was written, as a problem: rows by `/line/{n}/{field}`.
fn import_failed(failed: ImportFailed) -> ApiError {
    match failed {
        ImportFailed::Stream(error) => stream_problem(error),
        ImportFailed::Empty => {
            ApiError::validation(vec![FieldError::new("/", "the stream holds no rows")])
        }
        ImportFailed::Invalid(summary) => {
            let errors = summary
                .rejected
                .iter()
                .flat_map(|row| {
                    row.errors.iter().map(|e| {
                        let field = if e.field.is_empty() {
                            String::new()
                        } else {
                            format!("/{}", e.field)
                        };
                        FieldError::new(format!("/line/{}{field}", row.line), e.message.clone())
                    })
                })
                .collect();
            let mut error = ApiError::validation(errors);
            error.detail = format!(
                "{} of {} rows are invalid; nothing was written",
                summary.rows_rejected, summary.rows_read
            );
            error
        }
        ImportFailed::Store(error) => error.into(),
    }
}

/// A problem with the stream itself (not one row): it stops the import.
fn stream_problem(error: StreamError) -> ApiError {
    let (line, message) = match error {
        StreamError::LineTooLong(line) => (
            line,
            format!("line {line} is longer than {MAX_LINE_BYTES} bytes"),
        ),
        StreamError::Framing(error) => match error {
            FramingError::RecordTooLong { line } | FramingError::TooManyCells { line } => {
                (line, error.to_string())
            }
        },
        StreamError::BadHeader { line, message } => (line, format!("CSV header: {message}")),
    };
    ApiError::new(ErrorCode::ValidationFailed, message.clone())
        .with_errors(vec![FieldError::new(format!("/line/{line}"), message)])
}
