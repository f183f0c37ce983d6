//! `POST /v1/facts/import`: bulk facts streamed as NDJSON or CSV, validated
//! row by row and written through PostgreSQL's COPY, in bounded memory.

use std::collections::HashSet;

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
use crate::domain::{Fact, NewFact};
use crate::ingest::{parse_fact, References};
use crate::store::idempotency::{self, Outcome};
use crate::store::{self, StoreError};

/// Longest accepted line (NDJSON) or record (CSV).
const MAX_LINE_BYTES: usize = 1 << 20;

/// The CSV columns, in any order; the header row must name only these, and
/// at least metric, period, status and source_id. Empty cells are nulls.
pub const CSV_COLUMNS: [&str; 16] = [
    "product",
    "country",
    "buyer",
    "facility",
    "metric",
    "value",
    "unit",
    "period",
    "status",
    "controlled_by",
    "expected_online",
    "source_id",
    "confidence",
    "quote",
    "locator",
    "note",
];
const REQUIRED_CSV_COLUMNS: [&str; 4] = ["metric", "period", "status", "source_id"];

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
    let mut rows = Rows::new(format);
    let mut summary = ImportSummary {
        rows_read: 0,
        rows_written: 0,
        rows_rejected: 0,
        rejected: Vec::new(),
        rejected_truncated: false,
    };
    let mut affected: HashSet<String> = HashSet::new();
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
        for row in parsed.map_err(|e| e.into_problem())? {
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
                        if let Some(product) = &fact.product {
                            if !affected.contains(product.as_str()) {
                                affected.insert(product.as_str().to_owned());
                            }
                        }
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
    store::notify_changed(&tx, affected.iter().map(String::as_str)).await?;
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

#[derive(Debug, Clone, Copy)]
enum Format {
    Ndjson,
    Csv,
}

/// One row read from the stream.
struct Row {
    line: u64,
    fact: Result<Fact, Vec<(String, String)>>,
}

/// A problem with the stream itself (not one row): it stops the import.
enum StreamError {
    LineTooLong(u64),
    BadHeader(String),
}

impl StreamError {
    fn into_problem(self) -> ApiError {
        match self {
            StreamError::LineTooLong(line) => ApiError::new(
                ErrorCode::ValidationFailed,
                format!("line {line} is longer than {MAX_LINE_BYTES} bytes"),
            )
            .with_errors(vec![FieldError::new(
                format!("/line/{line}"),
                "line too long",
            )]),
            StreamError::BadHeader(message) => ApiError::new(
                ErrorCode::ValidationFailed,
                format!("CSV header: {message}"),
            )
            .with_errors(vec![FieldError::new("/line/1", message)]),
        }
    }
}

/// Splits a byte stream into rows, whatever the chunk boundaries.
struct Rows {
    format: Format,
    pending: Vec<u8>,
    /// Line number of the first byte of `pending`.
    line: u64,
    csv: CsvState,
}

struct CsvState {
    reader: csv_core::Reader,
    header: Option<Vec<&'static str>>,
}

impl Rows {
    fn new(format: Format) -> Rows {
        Rows {
            format,
            pending: Vec::new(),
            line: 1,
            csv: CsvState {
                reader: csv_core::Reader::new(),
                header: None,
            },
        }
    }

    fn feed(&mut self, chunk: &[u8]) -> Result<Vec<Row>, StreamError> {
        self.pending.extend_from_slice(chunk);
        self.drain(false)
    }

    fn finish(&mut self) -> Result<Vec<Row>, StreamError> {
        self.drain(true)
    }

    fn drain(&mut self, at_end: bool) -> Result<Vec<Row>, StreamError> {
        match self.format {
            Format::Ndjson => self.drain_ndjson(at_end),
            Format::Csv => self.drain_csv(at_end),
        }
    }

    fn drain_ndjson(&mut self, at_end: bool) -> Result<Vec<Row>, StreamError> {
        let mut rows = Vec::new();
        let mut start = 0;
        while let Some(end) = self.pending[start..]
            .iter()
            .position(|b| *b == b'\n')
            .map(|i| start + i)
        {
            if let Some(row) = ndjson_row(&self.pending[start..end], self.line) {
                rows.push(row);
            }
            self.line += 1;
            start = end + 1;
        }
        self.pending.drain(..start);
        if at_end && !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            rows.extend(ndjson_row(&rest, self.line));
        } else if self.pending.len() > MAX_LINE_BYTES {
            return Err(StreamError::LineTooLong(self.line));
        }
        Ok(rows)
    }

    fn drain_csv(&mut self, at_end: bool) -> Result<Vec<Row>, StreamError> {
        let mut rows = Vec::new();
        let mut output = vec![0u8; MAX_LINE_BYTES];
        let mut ends = [0usize; CSV_COLUMNS.len() + 8];
        let mut consumed = 0;
        loop {
            let input = &self.pending[consumed..];
            if input.is_empty() && !at_end {
                break;
            }
            let (result, read, _, fields) =
                self.csv.reader.read_record(input, &mut output, &mut ends);
            let record_line = self.line;
            self.line += input[..read].iter().filter(|b| **b == b'\n').count() as u64;
            consumed += read;
            match result {
                csv_core::ReadRecordResult::InputEmpty => break,
                csv_core::ReadRecordResult::OutputFull => {
                    return Err(StreamError::LineTooLong(record_line))
                }
                csv_core::ReadRecordResult::OutputEndsFull => {
                    return Err(StreamError::BadHeader(format!(
                        "line {record_line} has more cells than there are columns"
                    )))
                }
                csv_core::ReadRecordResult::Record => {
                    let mut cells = Vec::with_capacity(fields);
                    let mut start = 0;
                    for end in &ends[..fields] {
                        cells.push(&output[start..*end]);
                        start = *end;
                    }
                    if let Some(row) = self.csv_record(&cells, record_line)? {
                        rows.push(row);
                    }
                }
                csv_core::ReadRecordResult::End => break,
            }
        }
        self.pending.drain(..consumed);
        Ok(rows)
    }

    fn csv_record(&mut self, cells: &[&[u8]], line: u64) -> Result<Option<Row>, StreamError> {
        if cells.iter().all(|c| c.is_empty()) {
            return Ok(None);
        }
        let Some(header) = &self.csv.header else {
            self.csv.header = Some(csv_header(cells)?);
            return Ok(None);
        };
        let mut fact = NewFact::default();
        let mut problems = Vec::new();
        problems.extend(super::csv::cell_count_problem(cells.len(), header.len()));
        for (column, cell) in header.iter().zip(cells) {
            match std::str::from_utf8(cell) {
                Ok(text) => {
                    if let Err(message) = set_csv_field(&mut fact, column, text) {
                        problems.push(((*column).to_owned(), message));
                    }
                }
                Err(_) => problems.push((
                    (*column).to_owned(),
                    format!("line {line} is not valid UTF-8"),
                )),
            }
        }
        if !problems.is_empty() {
            return Ok(Some(Row {
                line,
                fact: Err(problems),
            }));
        }
        let fact = fact.validate().map_err(|problems| {
            problems
                .into_iter()
                .map(|p| (p.field.to_owned(), p.message))
                .collect()
        });
        Ok(Some(Row { line, fact }))
    }
}

fn ndjson_row(bytes: &[u8], line: u64) -> Option<Row> {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let fact = match std::str::from_utf8(bytes).map(serde_json::from_str::<serde_json::Value>) {
        Err(_) => Err(vec![(
            String::new(),
            format!("line {line} is not valid UTF-8"),
        )]),
        Ok(Ok(value @ serde_json::Value::Object(_))) => {
            parse_fact(value).map_err(|e| e.into_problems())
        }
        Ok(Ok(_)) => Err(vec![(
            String::new(),
            "the line is JSON but not a fact object".to_owned(),
        )]),
        Ok(Err(e)) => Err(vec![(String::new(), format!("the line is not JSON: {e}"))]),
    };
    Some(Row { line, fact })
}

fn csv_header(cells: &[&[u8]]) -> Result<Vec<&'static str>, StreamError> {
    super::csv::header(cells, &CSV_COLUMNS, &REQUIRED_CSV_COLUMNS).map_err(StreamError::BadHeader)
}

fn set_csv_field(fact: &mut NewFact, column: &str, text: &str) -> Result<(), String> {
    let optional = || (!text.trim().is_empty()).then(|| text.to_owned());
    let number = || -> Result<Option<f64>, String> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        trimmed
            .parse::<f64>()
            .map(Some)
            .map_err(|_| format!("`{trimmed}` is not a number"))
    };
    match column {
        "product" => fact.product = optional(),
        "country" => fact.country = optional().map(|c| c.trim().to_owned()),
        "buyer" => fact.buyer = optional(),
        "facility" => fact.facility = optional(),
        "metric" => fact.metric = text.trim().to_owned(),
        "value" => fact.value = number()?,
        "unit" => fact.unit = optional(),
        "period" => fact.period = text.trim().to_owned(),
        "status" => fact.status = text.trim().to_owned(),
        "controlled_by" => fact.controlled_by = optional(),
        "expected_online" => {
            fact.expected_online = match text.trim() {
                "" => None,
                year => Some(
                    year.parse()
                        .map_err(|_| format!("`{year}` is not a year"))?,
                ),
            }
        }
        "source_id" => fact.source_id = text.trim().to_owned(),
        "confidence" => fact.confidence = number()?,
        "quote" => fact.quote = optional(),
        "locator" => fact.locator = optional(),
        "note" => fact.note = optional(),
        _ => unreachable!("the header was checked against CSV_COLUMNS"),
    }
    Ok(())
}
