//! `POST /v1/facts/import`: bulk facts streamed as NDJSON or CSV, validated
//! row by row and written through PostgreSQL's COPY, in bounded memory.

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse};
use deadpool_postgres::Pool;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Ingest;
use super::docs::{AccessErrors, BodyErrors};
use super::error::{ApiError, ErrorCode, FieldError};
use super::extract::{media_type, Query, RequestDigest};
use super::facts::MAX_REPORTED_ERRORS;
use super::write::{self, AuditContext, IdempotencyKeyHeader};
use crate::ingest::csv::FramingError;
use crate::ingest::rows::{FactRows, Format, StreamError, MAX_LINE_BYTES};
use crate::ingest::References;
use crate::store::idempotency::{self, Outcome};
use crate::store::{self, StoreError};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Any invalid row rejects the whole stream; nothing is written.
    #[default]
    Abort,
    /// Valid rows are written; invalid ones are reported with their line.
    Skip,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// `abort` (default): all or nothing. `skip`: write the valid rows.
    #[param(value_type = Option<OnError>)]
    on_error: Option<OnError>,
}

/// A rejected row: its line number and what is wrong with it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RejectedRow {
    /// 1-based line of the stream (for CSV the header is line 1).
    pub line: u64,
    pub errors: Vec<RowError>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RowError {
    pub field: String,
    pub message: String,
}

/// What an import did.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "rows_read": 3, "rows_written": 2, "rows_rejected": 1,
    "rejected": [{"line": 2, "errors": [{"field": "unit", "message": "unit `%` does not fit `production`: use one of `t/yr`, `t`, `kt/yr`, `kt`, `Mt/yr`, `Mt`"}]}],
    "rejected_truncated": false
}))]
pub struct ImportSummary {
    pub rows_read: u64,
    pub rows_written: u64,
    pub rows_rejected: u64,
    /// The first 1000 rejected rows.
    pub rejected: Vec<RejectedRow>,
    /// More rows were rejected than are listed.
    pub rejected_truncated: bool,
}

/// Imports facts from a stream: `application/x-ndjson` (one fact object a
/// line, same fields as `POST /v1/facts`) or `text/csv` (a header row naming
/// the columns product, country, buyer, facility, metric, value, unit,
/// period, status, controlled_by, expected_online, source_id, confidence,
/// quote, locator, note; empty cells are nulls). Millions of rows are read
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
    let references = References::load(&tx).await?;
    let mut copy = Some(store::facts::FactCopy::start(&tx).await?);
    let mut rows = FactRows::new(format);
    let mut summary = ImportSummary {
        rows_read: 0,
        rows_written: 0,
        rows_rejected: 0,
        rejected: Vec::new(),
        rejected_truncated: false,
    };
    let mut affected = store::Affected::default();
    let mut digest = digest;
    let mut finished = false;
    while !finished {
        let chunk = match stream.next().await {
            Some(chunk) => {
                let chunk = chunk.map_err(read_error)?;
                digest.update(&chunk);
                Some(chunk)
            }
            None => {
                finished = true;
                None
            }
        };
        let parsed = match chunk {
            Some(chunk) => rows.feed(&chunk),
            None => rows.finish(),
        };
        for row in parsed.map_err(stream_problem)? {
            summary.rows_read += 1;
            let checked = row.fact.and_then(|fact| match references.check(&fact) {
                Ok(confidence) => Ok((fact, confidence)),
                Err(problems) => Err(problems
                    .into_iter()
                    .map(|(f, m)| (f.to_owned(), m))
                    .collect()),
            });
            match checked {
                Ok((fact, confidence)) => {
                    if let Some(copy) = copy.as_mut() {
                        copy.push(&fact, confidence).await?;
                        affected.add_fact(fact.product.as_ref().map(|p| p.as_str()));
                    }
                }
                Err(problems) => {
                    summary.rows_rejected += 1;
                    if on_error == OnError::Abort {
                        // Nothing will be written: stop copying, keep reporting.
                        copy = None;
                    }
                    if summary.rejected.len() < MAX_REPORTED_ERRORS {
                        summary.rejected.push(RejectedRow {
                            line: row.line,
                            errors: problems
                                .into_iter()
                                .map(|(field, message)| RowError { field, message })
                                .collect(),
                        });
                    } else {
                        summary.rejected_truncated = true;
                        if on_error == OnError::Abort {
                            finished = true;
                            break;
                        }
                    }
                }
            }
        }
    }
    if summary.rows_read == 0 {
        return Err(ApiError::validation(vec![FieldError::new(
            "/",
            "the stream holds no rows",
        )]));
    }
    let Some(copy) = copy else {
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
        return Err(error);
    };
    summary.rows_written = copy.finish().await?;
    AuditContext::new(&caller.0, &req)
        .record(
            &tx,
            serde_json::json!({ "facts_imported": summary.rows_written }),
        )
        .await?;
    store::notify_changed(&tx, &affected).await?;
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
    write::respond(outcome)
}

fn read_error(error: actix_web::error::PayloadError) -> ApiError {
    ApiError::new(
        ErrorCode::MalformedJson,
        format!("could not read the body: {error}"),
    )
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
