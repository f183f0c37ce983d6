//! `/v1/facts`: sourced claims, written in batches, listed as of any
//! instant, retracted but never deleted.

use actix_web::http::StatusCode;
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use deadpool_postgres::Pool;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Ingest, Reader};
use super::csv_export::{self, Representation};
use super::docs::{AccessErrors, BodyErrors, Conflict, NotAcceptable, NotFound, QueryErrors};
use super::error::{ApiError, ErrorCode, FieldError};
use super::extract::{self, Query, RequestDigest};
use super::pagination::{self, Paged};
use super::write::{self, IdempotencyKeyHeader};
use crate::domain::{
    parse_publication_date, AsOf, Buyer, CountryCode, FactRecord, FactStatus, Metric, NewFact,
    Period, ProductId, SourceId, View,
};
use crate::ingest::facts::{self as writes, write_facts, RetractionRefused};
use crate::ingest::{parse_fact, FactError};
use crate::live::Announcer;
use crate::store::{self, idempotency, StoreError};

/// Most facts one `POST /v1/facts` accepts; use the import for more.
pub const MAX_BATCH: usize = 10_000;
/// Body limit of `POST /v1/facts` (a full batch of long quotes fits).
pub const BATCH_BODY_LIMIT: usize = 32 << 20;

/// Facts written by a batch, ids in input order.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"written": 2, "ids": [101, 102]}))]
pub struct BatchWritten {
    /// How many facts were written.
    pub written: usize,
    /// Their ids, in input order.
    pub ids: Vec<i64>,
}

/// The answer of `POST /v1/facts`: the fact written for one object, the
/// ids for an array.
struct FactsWritten;

impl utoipa::PartialSchema for FactsWritten {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{OneOfBuilder, Ref};
        OneOfBuilder::new()
            .item(Ref::from_schema_name("FactRecord"))
            .item(Ref::from_schema_name("BatchWritten"))
            .into()
    }
}

impl ToSchema for FactsWritten {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        for (name, schema) in [
            (
                "FactRecord",
                <FactRecord as utoipa::PartialSchema>::schema(),
            ),
            (
                "BatchWritten",
                <BatchWritten as utoipa::PartialSchema>::schema(),
            ),
        ] {
            schemas.push((name.to_owned(), schema));
        }
        <FactRecord as ToSchema>::schemas(schemas);
    }
}

/// The body of `POST /v1/facts`: one fact, or an array of them.
struct NewFacts;

impl utoipa::PartialSchema for NewFacts {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, OneOfBuilder, Ref};
        let fact = Ref::from_schema_name("NewFact");
        OneOfBuilder::new()
            .item(fact.clone())
            // At most 10,000 items: more is a 413 (see the operation), which
            // a schema's maxItems would wrongly make a 422.
            .item(ArrayBuilder::new().items(fact).min_items(Some(1)))
            .into()
    }
}

impl ToSchema for NewFacts {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.push((
            "NewFact".to_owned(),
            <NewFact as utoipa::PartialSchema>::schema(),
        ));
        <NewFact as ToSchema>::schemas(schemas);
    }
}

/// Records one fact, or a JSON array of up to 10,000 (32 MiB). All or
/// nothing: if any item is invalid the response is a 422 whose `errors[]`
/// point at `/{index}/{field}`, and nothing is written. Values are
/// normalised to the metric's canonical unit. Committed writes are announced
/// on the `chokepoint_changes` notification channel.
#[utoipa::path(tag = "facts", params(IdempotencyKeyHeader),
    request_body(content = NewFacts, description = "One fact object, or an array of them", examples(
        ("one_fact" = (summary = "China's rare-earth mine production in 2024, from USGS",
            value = json!({"product": "rare-earth-concentrate", "country": "CN", "metric": "production",
                "value": 270000, "unit": "t/yr", "period": "2024", "status": "estimate",
                "source_id": "usgs-mcs-2025-rare-earths", "locator": "Rare Earths, World Mine Production table",
                "quote": "China 270,000"}))),
        ("batch" = (summary = "Two countries' production in one all-or-nothing batch",
            value = json!([
                {"product": "rare-earth-concentrate", "country": "CN", "metric": "production",
                 "value": 270000, "unit": "t/yr", "period": "2024", "status": "estimate",
                 "source_id": "usgs-mcs-2025-rare-earths", "locator": "Rare Earths, World Mine Production table"},
                {"product": "rare-earth-concentrate", "country": "US", "metric": "production",
                 "value": 45000, "unit": "t/yr", "period": "2024", "status": "estimate",
                 "source_id": "usgs-mcs-2025-rare-earths", "locator": "Rare Earths, World Mine Production table"}]))),
    )),
    responses(
        (status = 201, description = "Written: the fact for a single object, a summary for an array",
         body = FactsWritten, headers(("Location" = String, description = "For a single fact, the fact written, e.g. `/v1/facts/101`"))),
        AccessErrors, BodyErrors),
    security(("bearer" = ["ingest"])))]
#[post("/facts")]
pub async fn create_facts(
    req: HttpRequest,
    pool: web::Data<Pool>,
    announcer: web::Data<Announcer>,
    caller: Ingest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let actor = write::actor(&caller.0, &req);
    let mut digest = RequestDigest::start(&req);
    let body = extract::read_json_body(
        &extract::media_type(&req),
        payload.into_inner(),
        BATCH_BODY_LIMIT,
    )
    .await?;
    digest.update(&body);
    let key = write::idempotency(&req, digest)?;
    let document: serde_json::Value = extract::parse_json(&body)?;
    let (items, single): (Vec<serde_json::Value>, bool) = match document {
        serde_json::Value::Array(items) => (items, false),
        item @ serde_json::Value::Object(_) => (vec![item], true),
        _ => {
            return Err(ApiError::new(
                ErrorCode::InvalidBody,
                "expected a fact object or an array of them",
            ))
        }
    };
    if items.len() > MAX_BATCH {
        return Err(ApiError::new(ErrorCode::PayloadTooLarge, format!(
            "{} facts in one batch; the maximum is {MAX_BATCH}: split it, or stream it to POST /v1/facts/import", items.len())));
    }
    if items.is_empty() {
        return Err(ApiError::validation(vec![FieldError::new(
            "/",
            "the batch is empty",
        )]));
    }
    let pointer = move |index: usize, field: &str| match (single, field.is_empty()) {
        (true, true) => "/".to_owned(),
        (true, false) => format!("/{}", field.replace('.', "/")),
        (false, true) => format!("/{index}"),
        (false, false) => format!("/{index}/{}", field.replace('.', "/")),
    };
    let mut errors = Vec::new();
    let mut schema_errors = false;
    let mut facts = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        match parse_fact(item) {
            Ok(fact) => facts.push(fact),
            Err(error) => {
                schema_errors |= matches!(error, FactError::Schema(_));
                errors.extend(
                    error
                        .into_problems()
                        .into_iter()
                        .map(|(field, message)| FieldError::new(pointer(index, &field), message)),
                );
            }
        }
    }
    if !errors.is_empty() {
        let mut error = ApiError::validation(errors);
        if schema_errors {
            error.code = ErrorCode::InvalidBody;
        }
        return Err(error);
    }
    let outcome = idempotency::run(&pool, key.as_ref(), move |tx| {
        Box::pin(async move {
            let records = write_facts(tx, &facts, &actor, pointer).await?;
            if single {
                write::created(format!("/v1/facts/{}", records[0].id), &records[0])
            } else {
                write::reply(
                    StatusCode::CREATED,
                    &BatchWritten {
                        written: records.len(),
                        ids: records.iter().map(|r| r.id).collect(),
                    },
                )
            }
        })
    })
    .await?;
    write::announce(&announcer, &outcome);
    write::respond(outcome)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FactListQuery {
    #[param(value_type = Option<String>, example = "ndpr-oxide", pattern = "^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$")]
    product: Option<ProductId>,
    #[param(value_type = Option<CountryCode>, example = "CN")]
    country: Option<CountryCode>,
    #[param(value_type = Option<Buyer>)]
    buyer: Option<Buyer>,
    #[param(value_type = Option<Metric>)]
    metric: Option<Metric>,
    /// Source id.
    #[param(value_type = Option<String>, pattern = "^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$")]
    source: Option<SourceId>,
    #[param(value_type = Option<FactStatus>)]
    status: Option<FactStatus>,
    /// Facts whose period ends on or after this year's or date's start.
    #[param(schema_with = super::params::year_or_date_schema, example = "2023")]
    period_from: Option<String>,
    /// Facts whose period starts on or before this year's or date's end.
    #[param(schema_with = super::params::year_or_date_schema, example = "2025")]
    period_to: Option<String>,
    /// The facts known at this instant (RFC 3339, or a date meaning the end
    /// of that day UTC) in `view`.
    #[param(schema_with = super::params::as_of_schema)]
    as_of: Option<AsOf>,
    /// With `as_of`: `public` (default: published by then, retractions
    /// counting once published), `recorded` (recorded by then and not
    /// retracted then) or `current` (standing now; periods are not
    /// filtered here, use `period_to`).
    #[param(value_type = Option<View>)]
    view: Option<View>,
    /// Also list facts retracted since (default false).
    include_retracted: Option<bool>,
    /// Facts a page (default 100). With `Accept: text/csv`, leave it out
    /// for the whole listing in one streamed response.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^([0-9a-f]{2}){1,256}$")]
    cursor: Option<String>,
}

fn parse_period(name: &str, value: &str) -> Result<Period, ApiError> {
    Period::parse(value).map_err(|message| ApiError::invalid_parameter(name, "query", message))
}

/// The columns of a fact in CSV: its fields, numbers as stored.
const FACT_TABLE: csv_export::Table = csv_export::Table {
    columns: &[
        "id",
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
        "published_on",
        "quote",
        "locator",
        "note",
        "recorded_at",
        "retracted_at",
        "retraction_reason",
        "retraction_published_on",
    ],
    numbers: csv_export::Numbers::Stored,
};

/// Lists facts in a stable order (by id) with filters; with `as_of`, as the
/// service knew them then. Pages never repeat or skip a fact, even while
/// facts are being added.
///
/// With `Accept: text/csv` the facts come as CSV (RFC 4180, UTF-8, a header
/// row, CRLF record ends; one column per field of a fact, in the order of
/// the example, empty for null; numbers as stored). Without `limit`, a CSV
/// response is the whole filtered listing (after `cursor` when given),
/// streamed as it is read, whatever its size; with `limit` it is one page,
/// as in JSON, and the next page is the `Link` header's.
#[utoipa::path(tag = "facts", params(FactListQuery), security((), ("bearer" = ["read"])),
    responses(
        (status = 200, description = "One page, or with `Accept: text/csv` and no `limit` the whole listing",
         content(
            (Paged<FactRecord> = "application/json"),
            (String = "text/csv", example = json!("id,product,country,buyer,facility,metric,value,unit,period,status,controlled_by,expected_online,source_id,confidence,published_on,quote,locator,note,recorded_at,retracted_at,retraction_reason,retraction_published_on\r\n42,ndpr-oxide,CN,,,market_share,0.92,fraction,2023,estimate,,,iea-gcmo-2024,0.9,2024-05-17,\"China separates about 92% of NdPr, by IEA figures\",p. 71,,2026-11-28T09:14:03.52Z,,,\r\n")),
         ),
         headers(("Link" = String, description = "`<…&cursor=…>; rel=\"next\"` when there is a next page"), ("Vary" = String, description = "Includes `Accept`: JSON and CSV are two representations"))),
        NotAcceptable, AccessErrors, QueryErrors))]
#[get("/facts")]
pub async fn list_facts(
    req: HttpRequest,
    pool: web::Data<Pool>,
    _reader: Reader,
    query: Query<FactListQuery>,
) -> Result<HttpResponse, ApiError> {
    let representation = csv_export::negotiate(&req)?;
    let q = query.0;
    // A CSV export without `limit` is the whole listing; any other
    // request is one page.
    let limit = match (representation, q.limit) {
        (Representation::Csv, None) => None,
        (_, requested) => Some(pagination::limit(requested)?),
    };
    let listing = pagination::Listing::new("facts", &req);
    let after: Option<i64> = listing.after(q.cursor.as_deref())?;
    let filter = store::facts::FactFilter {
        product: q.product.map(|p| p.to_string()),
        country: q.country.map(|c| c.to_string()),
        buyer: q.buyer.map(|b| b.to_string()),
        metric: q.metric.map(|m| m.as_str().to_owned()),
        source: q.source.map(|s| s.to_string()),
        status: q.status.map(|s| s.as_str().to_owned()),
        period_from: q
            .period_from
            .as_deref()
            .map(|p| parse_period("period_from", p))
            .transpose()?
            .map(|p| p.start),
        period_to: q
            .period_to
            .as_deref()
            .map(|p| parse_period("period_to", p))
            .transpose()?
            .map(|p| p.end.unwrap_or(p.start)),
        as_of: q.as_of.map(|t| t.0),
        view: q.view.unwrap_or_default(),
        include_retracted: q.include_retracted.unwrap_or(false),
    };
    let client = pool.get().await.map_err(StoreError::from)?;
    let mut response = match limit {
        None => {
            let first =
                store::facts::list(&client, &filter, after, csv_export::STREAM_PAGE).await?;
            // Each page takes a connection only while it is read, so a slow
            // download holds none.
            drop(client);
            let pool = pool.into_inner();
            csv_export::streamed(
                FACT_TABLE,
                first,
                |fact: &FactRecord| fact.id,
                move |after| {
                    let (pool, filter) = (pool.clone(), filter.clone());
                    async move {
                        let client = pool.get().await.map_err(StoreError::from)?;
                        let page = store::facts::list(
                            &client,
                            &filter,
                            Some(after),
                            csv_export::STREAM_PAGE,
                        )
                        .await?;
                        Ok(page)
                    }
                },
            )?
        }
        Some(limit) => {
            let page = store::facts::list(&client, &filter, after, limit).await?;
            let page = listing.page(page, |f| f.id.to_string());
            match representation {
                Representation::Json => listing.respond(&page),
                Representation::Csv => listing.respond_csv(&page, FACT_TABLE)?,
            }
        }
    };
    csv_export::vary(&mut response);
    Ok(response)
}

/// One fact, retracted or not.
#[utoipa::path(tag = "facts", params(("id" = i64, Path, description = "Fact id", example = 1)),
    security((), ("bearer" = ["read"])),
    responses(
        (status = 200, description = "The fact", body = FactRecord, headers(("ETag" = String, description = "Changes when the fact is retracted"))),
        (status = 304, description = "Not modified since the `If-None-Match` ETag"),
        NotFound, AccessErrors))]
#[get("/facts/{id:[0-9]+}")]
pub async fn get_fact(
    req: HttpRequest,
    pool: web::Data<Pool>,
    _reader: Reader,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let client = pool.get().await.map_err(StoreError::from)?;
    let fact = store::facts::get(&client, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("fact {id}")))?;
    super::caching::tagged_json(&req, &fact)
}

fn parse_id(id: &str) -> Result<i64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::not_found(format!("fact `{id}`")))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RetractQuery {
    /// Why the fact is withdrawn: 1 to 1000 characters, not all blank.
    #[param(
        example = "superseded by the USGS 2026 revision",
        min_length = 1,
        max_length = 1000,
        pattern = r"\S"
    )]
    reason: String,
    /// When the correction became public (`YYYY-MM-DD`, from the fact's own
    /// publication to today); default today. The `public` view of earlier
    /// dates still shows the fact.
    #[param(value_type = Option<String>, format = Date, pattern = "^(19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}$")]
    published_on: Option<String>,
}

/// Retracts a fact: it stays stored with `retracted_at` and the reason, so
/// `as_of` queries before the retraction still see it. Never deletes.
#[utoipa::path(tag = "facts", params(("id" = i64, Path, description = "Fact id", example = 1), RetractQuery),
    security(("bearer" = ["ingest"])),
    responses((status = 200, description = "Retracted", body = FactRecord), NotFound, Conflict, AccessErrors, QueryErrors))]
#[delete("/facts/{id:[0-9]+}")]
pub async fn retract_fact(
    req: HttpRequest,
    pool: web::Data<Pool>,
    announcer: web::Data<Announcer>,
    caller: Ingest,
    id: web::Path<String>,
    query: Query<RetractQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let reason = Some(query.0.reason.trim().to_owned())
        .filter(|r| !r.is_empty() && query.0.reason.chars().count() <= 1000)
        .ok_or_else(|| {
            ApiError::invalid_parameter(
                "reason",
                "query",
                "a retraction needs a reason of 1 to 1000 characters",
            )
        })?;
    let published_on = query
        .0
        .published_on
        .as_deref()
        .map(parse_publication_date)
        .transpose()
        .map_err(|message| ApiError::invalid_parameter("published_on", "query", message))?;
    let actor = write::actor(&caller.0, &req);
    let mut client = pool.get().await.map_err(StoreError::from)?;
    let tx = client.transaction().await.map_err(StoreError::from)?;
    let retracted = writes::retract_fact(&tx, id, &reason, published_on, &actor)
        .await
        .map_err(|refused| match refused {
            RetractionRefused::NotFound => ApiError::not_found(format!("fact {id}")),
            RetractionRefused::AlreadyRetracted(at) => ApiError::new(
                ErrorCode::Conflict,
                format!(
                    "fact {id} was already retracted at {}",
                    at.map(|t| t.to_string()).unwrap_or_default()
                ),
            ),
            RetractionRefused::PublishedOn(message) => {
                ApiError::invalid_parameter("published_on", "query", message)
            }
            RetractionRefused::Store(error) => error.into(),
        })?;
    tx.commit().await.map_err(StoreError::from)?;
    announcer.changed();
    Ok(HttpResponse::Ok().json(retracted))
}
