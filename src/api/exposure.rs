//! `POST /v1/exposure`: a bill of materials, as JSON or CSV, scored against
//! the live snapshot: each item's dependency and difficulty with its own
//! stage supplied from its supplier's country, the weighted aggregates, and
//! the hotspots with the single change that would lower each most.

use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::auth::Reader;
use super::docs::{AccessErrors, BodyErrors};
use super::error::{ApiError, ErrorCode, FieldError};
use super::extract::{self, Query};
use crate::domain::{AsOf, Buyer, CountryCode, ProductId, Stage, View};
use crate::ingest::csv;
use crate::live::{LiveScores, State};
use crate::scoring::exposure::{self, Advice, Item, WeightBasis};
use crate::scoring::{Params, METHODOLOGY_VERSION};

/// Body limit of a bill of materials (10,000 long lines fit).
const BODY_LIMIT: usize = 32 << 20;
/// Most items one request scores.
pub const MAX_ITEMS: usize = 10_000;
/// How many hotspots a report ranks.
pub const HOTSPOTS: usize = 10;
/// The CSV columns, in any order; `ref` and `product` are required.
pub const CSV_COLUMNS: [&str; 6] = [
    "ref",
    "product",
    "annual_spend",
    "quantity",
    "supplier_country",
    "supplier",
];
const REQUIRED_CSV_COLUMNS: [&str; 2] = ["ref", "product"];
const MAX_REF_CHARS: usize = 200;
const MAX_SUPPLIER_CHARS: usize = 300;

/// A bill of materials in JSON.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExposureRequest {
    /// Whom for: an ISO 3166-1 alpha-2 country code or `EU`.
    #[schema(value_type = Buyer, example = "US")]
    buyer: String,
    /// The facts as known at this instant (RFC 3339, or a date meaning the
    /// end of that day UTC). Default: now.
    #[schema(schema_with = super::params::nullable_as_of_schema)]
    as_of: Option<String>,
    /// Which facts count as known at `as_of`: `public` (default),
    /// `recorded` or `current`, as for score reads.
    view: Option<View>,
    /// 1 to 10,000 items. An item that does not fit is reported in
    /// `rejected` with its index, and the others are scored.
    #[schema(value_type = Vec<ExposureItem>, min_items = 1, max_items = 10000)]
    items: Vec<serde_json::Value>,
}

/// One line of the bill of materials.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExposureItem {
    /// The buyer's reference for the line (a part number), 1 to 200
    /// characters; need not be unique.
    #[serde(rename = "ref")]
    #[schema(example = "MAG-0032", min_length = 1, max_length = 200)]
    reference: String,
    #[schema(
        example = "sintered-ndfeb-magnet",
        pattern = "^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$"
    )]
    product: String,
    /// What is spent on the item a year, in any one currency.
    #[schema(minimum = 0.0, example = 850000)]
    annual_spend: Option<f64>,
    /// Units a year; weighs items when not every item has a spend.
    #[schema(minimum = 0.0)]
    quantity: Option<f64>,
    /// The country the item's own stage is made in (ISO 3166-1 alpha-2).
    /// Default: the buyer's market as a whole.
    #[schema(value_type = Option<CountryCode>, example = "JP")]
    supplier_country: Option<String>,
    /// The supplier's name, echoed back; at most 300 characters.
    #[schema(max_length = 300)]
    supplier: Option<String>,
}

/// `buyer` and `as_of` of a CSV upload (a JSON body carries its own).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExposureQuery {
    /// For a CSV upload: whom for, an ISO country code or `EU` (required).
    #[param(schema_with = super::params::unprefilled_buyer_schema)]
    buyer: Option<Buyer>,
    /// For a CSV upload: the facts as known at this instant (default now).
    #[param(schema_with = super::params::as_of_schema)]
    as_of: Option<AsOf>,
    /// For a CSV upload: the view of `as_of` (default `public`).
    #[param(value_type = Option<View>)]
    view: Option<View>,
}

/// The aggregates over the items scored.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExposureSummary {
    /// Items received.
    pub received: usize,
    pub scored: usize,
    pub rejected: usize,
    pub weight_basis: WeightBasis,
    /// Of the items scored that give one.
    pub total_annual_spend: Option<f64>,
    pub total_quantity: Option<f64>,
    /// `Σ weight × dependency` over the items scored.
    #[schema(example = 84.2)]
    pub dependency: f64,
    /// `Σ weight × difficulty` over the items scored.
    #[schema(example = 69.8)]
    pub difficulty: f64,
}

/// One item scored.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemReport {
    /// The item's position in the request (0-based; for CSV, among the
    /// non-empty data rows).
    pub index: usize,
    #[serde(rename = "ref")]
    pub reference: String,
    pub product: ProductId,
    pub stage: Stage,
    pub supplier_country: Option<CountryCode>,
    pub supplier: Option<String>,
    pub annual_spend: Option<f64>,
    pub quantity: Option<f64>,
    /// Share of the total (0..1) on the `weight_basis`.
    pub weight: f64,
    /// `e` of the item's own stage (0..1): the fraction of the supplier
    /// country's output China controls (1 in China), or the market's.
    pub own_exposure: f64,
    /// 0..100.
    pub dependency: f64,
    /// 0..100.
    pub difficulty: f64,
    /// The deepest product whose own stage binds the dependency: the item's
    /// own when its supplier binds it; absent at dependency 0.
    pub chokepoint: Option<ProductId>,
    pub chokepoint_stage: Option<Stage>,
}

/// An item among those that weigh most in the aggregate dependency.
#[derive(Debug, Serialize, ToSchema)]
pub struct HotspotReport {
    /// 1 for the heaviest.
    pub rank: usize,
    pub index: usize,
    #[serde(rename = "ref")]
    pub reference: String,
    pub product: ProductId,
    pub supplier_country: Option<CountryCode>,
    pub weight: f64,
    pub dependency: f64,
    /// `weight × dependency`: the item's points in the aggregate dependency.
    pub contribution: f64,
    /// The single change that lowers the item's dependency most; absent
    /// when none does.
    pub advice: Option<Advice>,
    /// `weight × advice.points`: how far the aggregate dependency falls
    /// with the advice taken.
    pub aggregate_points: Option<f64>,
}

/// One problem with a rejected item.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemProblem {
    /// The item's field (`ref`, `product`, …), empty for the item as a whole.
    #[schema(example = "product")]
    pub field: String,
    #[schema(example = "product `unobtainium` does not exist")]
    pub message: String,
}

/// An item that could not be scored.
#[derive(Debug, Serialize, ToSchema)]
pub struct RejectedItem {
    pub index: usize,
    /// The item's `ref`, when it has one.
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    pub errors: Vec<ItemProblem>,
}

/// A bill of materials scored.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExposureReport {
    pub buyer: Buyer,
    /// Which facts count as known at `as_of`.
    pub view: View,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub as_of: OffsetDateTime,
    #[schema(example = "2026.2")]
    pub methodology_version: String,
    /// The data scored against; it changes whenever the facts do.
    pub data_version: String,
    pub summary: ExposureSummary,
    /// Largest contribution first, at most 10.
    pub hotspots: Vec<HotspotReport>,
    /// In request order.
    pub items: Vec<ItemReport>,
    /// In request order.
    pub rejected: Vec<RejectedItem>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

/// An item as received, or its problems; its `ref` either way if it has one.
struct Received {
    reference: Option<String>,
    /// For CSV, the line the row starts on (problem pointers name it).
    line: Option<u64>,
    item: Result<ExposureItem, Vec<(String, String)>>,
}

/// An item that passed every check.
struct Valid {
    index: usize,
    reference: String,
    stage: Stage,
    supplier: Option<String>,
    item: Item,
}

/// Scores a bill of materials: `application/json` (the schema below) or
/// `text/csv` (a header row naming some of `ref`, `product`,
/// `annual_spend`, `quantity`, `supplier_country`, `supplier`, in any
/// order, with `ref` and `product` required; empty cells are nulls; `buyer`
/// and `as_of` in the query string), up to 10,000 items (32 MiB). Each item
/// is scored with its own stage supplied from `supplier_country` (the
/// fraction of that country's output China controls: all of it in China)
/// while its inputs keep their chains, so a supplier outside China still
/// carries its upstream dependency; without a country, the market's scores
/// apply. Items weigh their share of the total spend (else quantity, else
/// equally). Items that do not fit, such as an unknown product, are listed
/// in `rejected` by index and the rest are scored; the request is refused
/// only when it is malformed or no item is valid.
#[utoipa::path(tag = "exposure", params(ExposureQuery),
    request_body(description = "A bill of materials: JSON, or CSV with a header row", content(
        (ExposureRequest = "application/json", example = json!({"buyer": "US", "items": [
            {"ref": "MTR-4410", "product": "ev-traction-motor", "annual_spend": 2400000, "supplier_country": "DE", "supplier": "Supplier A"},
            {"ref": "MAG-0032", "product": "sintered-ndfeb-magnet", "annual_spend": 850000, "supplier_country": "JP", "supplier": "Supplier B"},
            {"ref": "MAG-0033", "product": "sintered-ndfeb-magnet", "annual_spend": 640000, "supplier_country": "CN", "supplier": "Supplier C"},
            {"ref": "CELL-21700", "product": "li-ion-cell", "annual_spend": 3100000, "supplier_country": "KR"},
            {"ref": "GAN-150", "product": "gan-gaas-wafer", "annual_spend": 420000, "supplier_country": "JP"},
            {"ref": "OX-7", "product": "ndpr-oxide", "annual_spend": 300000},
            {"ref": "X-1", "product": "unobtainium", "annual_spend": 1000}
        ]})),
        (String = "text/csv", example = json!("ref,product,annual_spend,supplier_country,supplier\nMAG-0032,sintered-ndfeb-magnet,850000,JP,Supplier B\nMAG-0033,sintered-ndfeb-magnet,640000,CN,Supplier C\nOX-7,ndpr-oxide,300000,,\n")),
    )),
    security((), ("bearer" = ["read"])),
    responses((status = 200, body = ExposureReport), AccessErrors, BodyErrors))]
#[post("/exposure")]
pub async fn assess_exposure(
    req: HttpRequest,
    live: web::Data<LiveScores>,
    _reader: Reader,
    query: Query<ExposureQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let format = match extract::media_type(&req).as_str() {
        "text/csv" => Format::Csv,
        json if json == "application/json" || json.ends_with("+json") => Format::Json,
        other => {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                format!("expected `application/json` or `text/csv`, got `{other}`"),
            ))
        }
    };
    let query = query.0;
    if format == Format::Json {
        if let Some(name) = [
            ("buyer", query.buyer.is_some()),
            ("as_of", query.as_of.is_some()),
            ("view", query.view.is_some()),
        ]
        .iter()
        .find_map(|(name, given)| given.then_some(*name))
        {
            return Err(ApiError::invalid_parameter(
                name,
                "query",
                "only for a CSV upload: a JSON body gives it in the body",
            ));
        }
    }
    let body = extract::read_body(payload.into_inner(), BODY_LIMIT).await?;
    let state = live.state();
    // Parsing and scoring 10,000 items is CPU work: keep it off the workers.
    let report = web::block(move || -> Result<Vec<u8>, ApiError> {
        let (buyer, as_of, view, received) = match format {
            Format::Json => {
                let request: ExposureRequest = extract::parse_json(&body)?;
                let buyer = Buyer::read(&request.buyer).map_err(|message| {
                    ApiError::validation(vec![FieldError::new("/buyer", message)])
                })?;
                let as_of = match request.as_of.as_deref() {
                    Some(text) => {
                        AsOf::read(text)
                            .map_err(|message| {
                                ApiError::validation(vec![FieldError::new("/as_of", message)])
                            })?
                            .0
                    }
                    None => state.computed_at,
                };
                let view = request.view.unwrap_or_default();
                (buyer, as_of, view, json_items(request.items)?)
            }
            Format::Csv => {
                let buyer = query.buyer.ok_or_else(|| {
                    ApiError::invalid_parameter("buyer", "query", "required for a CSV upload")
                })?;
                let as_of = query.as_of.map_or(state.computed_at, |t| t.0);
                let view = query.view.unwrap_or_default();
                (buyer, as_of, view, csv_items(&body)?)
            }
        };
        let params = Params {
            view,
            ..Params::new(buyer, as_of)
        };
        let report = score(&state, params, received, format)?;
        super::render::to_vec(&report)
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(report))
}

fn check_count(count: usize) -> Result<(), ApiError> {
    if count > MAX_ITEMS {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("{count} items in one request; the maximum is {MAX_ITEMS}: split the bill of materials"),
        ));
    }
    if count == 0 {
        return Err(ApiError::validation(vec![FieldError::new(
            "/items",
            "the bill of materials has no items",
        )]));
    }
    Ok(())
}

fn json_items(values: Vec<serde_json::Value>) -> Result<Vec<Received>, ApiError> {
    check_count(values.len())?;
    Ok(values
        .into_iter()
        .map(|value| {
            let reference = value.get("ref").and_then(|r| r.as_str()).map(str::to_owned);
            let item = serde_path_to_error::deserialize(value).map_err(|error| {
                let field = error.path().to_string();
                let field = if field == "." { String::new() } else { field };
                vec![(field, error.into_inner().to_string())]
            });
            Received {
                reference,
                line: None,
                item,
            }
        })
        .collect())
}

fn malformed_csv(message: String) -> ApiError {
    ApiError::new(ErrorCode::InvalidBody, format!("CSV: {message}"))
        .with_errors(vec![FieldError::new("/line/1", message)])
}

/// The rows of a CSV bill of materials after its header.
fn csv_items(body: &[u8]) -> Result<Vec<Received>, ApiError> {
    let mut reader = csv::Reader::default();
    let framing = |error: csv::FramingError| malformed_csv(error.to_string());
    let mut records = reader.feed(body).map_err(framing)?;
    records.extend(reader.finish().map_err(framing)?);
    let mut records = records.into_iter().filter(|record| !record.is_blank());
    let header = records.next().ok_or_else(|| {
        malformed_csv(format!(
            "no header row: name the columns, among {}",
            CSV_COLUMNS.join(", ")
        ))
    })?;
    let header =
        csv::header(&header, &CSV_COLUMNS, &REQUIRED_CSV_COLUMNS).map_err(malformed_csv)?;
    let rows: Vec<Received> = records.map(|record| csv_row(&header, &record)).collect();
    check_count(rows.len())?;
    Ok(rows)
}

fn csv_row(header: &[&'static str], record: &csv::Record) -> Received {
    let mut item = ExposureItem::default();
    let mut problems = Vec::new();
    problems.extend(csv::cell_count_problem(record.len(), header.len()));
    for (column, cell) in header.iter().zip(record.cells()) {
        let text = match csv::cell_text(cell) {
            Ok(text) => text,
            Err(message) => {
                problems.push((column.to_string(), message));
                continue;
            }
        };
        let optional = || (!text.is_empty()).then(|| text.to_owned());
        let number = || -> Result<Option<f64>, (String, String)> {
            if text.is_empty() {
                return Ok(None);
            }
            text.parse::<f64>()
                .map(Some)
                .map_err(|_| (column.to_string(), format!("`{text}` is not a number")))
        };
        match *column {
            "ref" => item.reference = text.to_owned(),
            "product" => item.product = text.to_owned(),
            "annual_spend" => match number() {
                Ok(value) => item.annual_spend = value,
                Err(problem) => problems.push(problem),
            },
            "quantity" => match number() {
                Ok(value) => item.quantity = value,
                Err(problem) => problems.push(problem),
            },
            "supplier_country" => item.supplier_country = optional(),
            _ => item.supplier = optional(),
        }
    }
    Received {
        reference: (!item.reference.is_empty()).then(|| item.reference.clone()),
        line: Some(record.line),
        item: if problems.is_empty() {
            Ok(item)
        } else {
            Err(problems)
        },
    }
}

/// The item's own checks, and whether its product is in the live data.
fn validate(
    index: usize,
    item: ExposureItem,
    state: &State,
) -> Result<Valid, Vec<(String, String)>> {
    let mut problems = Vec::new();
    let mut problem = |field: &str, message: String| problems.push((field.to_owned(), message));
    let reference = item.reference.trim().to_owned();
    if !(1..=MAX_REF_CHARS).contains(&reference.chars().count()) {
        problem("ref", format!("must be 1 to {MAX_REF_CHARS} characters"));
    }
    let product = ProductId::parse(&item.product)
        .ok()
        .and_then(|id| state.snapshot.product(&id).map(|p| (id, p.stage)));
    if product.is_none() {
        problem(
            "product",
            format!("product `{}` does not exist", item.product),
        );
    }
    for (field, amount) in [
        ("annual_spend", item.annual_spend),
        ("quantity", item.quantity),
    ] {
        if amount.is_some_and(|a| !a.is_finite() || a < 0.0) {
            problem(field, "must be a number of at least 0".to_owned());
        }
    }
    let supplier_country = item.supplier_country.as_deref().and_then(|text| {
        CountryCode::read(text)
            .map_err(|message| problem("supplier_country", message))
            .ok()
    });
    if item
        .supplier
        .as_ref()
        .is_some_and(|s| s.chars().count() > MAX_SUPPLIER_CHARS)
    {
        problem(
            "supplier",
            format!("must be at most {MAX_SUPPLIER_CHARS} characters"),
        );
    }
    match product {
        Some((product, stage)) if problems.is_empty() => Ok(Valid {
            index,
            reference,
            stage,
            supplier: item.supplier,
            item: Item {
                product,
                supplier_country,
                annual_spend: item.annual_spend,
                quantity: item.quantity,
            },
        }),
        _ => Err(problems),
    }
}

/// Scores the valid items and reports every item; a 422 when none is valid.
fn score(
    state: &State,
    params: Params,
    received: Vec<Received>,
    format: Format,
) -> Result<ExposureReport, ApiError> {
    let count = received.len();
    let mut valid = Vec::with_capacity(count);
    let mut rejected = Vec::new();
    let mut pointers = Vec::new();
    for (index, entry) in received.into_iter().enumerate() {
        let checked = entry.item.and_then(|item| validate(index, item, state));
        match checked {
            Ok(item) => valid.push(item),
            Err(problems) => {
                let at = match (format, entry.line) {
                    (Format::Csv, Some(line)) => format!("/line/{line}"),
                    _ => format!("/items/{index}"),
                };
                pointers.extend(problems.iter().map(|(field, message)| {
                    let pointer = if field.is_empty() {
                        at.clone()
                    } else {
                        format!("{at}/{}", field.replace('.', "/"))
                    };
                    FieldError::new(pointer, message.clone())
                }));
                rejected.push(RejectedItem {
                    index,
                    reference: entry.reference,
                    errors: problems
                        .into_iter()
                        .map(|(field, message)| ItemProblem { field, message })
                        .collect(),
                });
            }
        }
    }
    if valid.is_empty() {
        return Err(ApiError::validation(pointers));
    }
    let items: Vec<Item> = valid.iter().map(|v| v.item.clone()).collect();
    let assessment =
        exposure::assess(&state.snapshot, &params, &items, HOTSPOTS).map_err(ApiError::internal)?;
    let hotspots = assessment
        .hotspots
        .iter()
        .enumerate()
        .map(|(rank, hotspot)| {
            let line = &valid[hotspot.item];
            let scored = &assessment.items[hotspot.item];
            HotspotReport {
                rank: rank + 1,
                index: line.index,
                reference: line.reference.clone(),
                product: line.item.product.clone(),
                supplier_country: line.item.supplier_country,
                weight: scored.weight,
                dependency: scored.dependency,
                contribution: hotspot.contribution,
                aggregate_points: hotspot.aggregate_points,
                advice: hotspot.advice.clone(),
            }
        })
        .collect();
    let summary = ExposureSummary {
        received: count,
        scored: valid.len(),
        rejected: rejected.len(),
        weight_basis: assessment.basis,
        total_annual_spend: assessment.total_annual_spend,
        total_quantity: assessment.total_quantity,
        dependency: assessment.dependency,
        difficulty: assessment.difficulty,
    };
    let items = valid
        .into_iter()
        .zip(assessment.items)
        .map(|(line, scored)| ItemReport {
            index: line.index,
            reference: line.reference,
            product: line.item.product,
            stage: line.stage,
            supplier_country: line.item.supplier_country,
            supplier: line.supplier,
            annual_spend: line.item.annual_spend,
            quantity: line.item.quantity,
            weight: scored.weight,
            own_exposure: scored.own_exposure,
            dependency: scored.dependency,
            difficulty: scored.difficulty,
            chokepoint_stage: scored.chokepoint.as_ref().map(|c| c.stage),
            chokepoint: scored.chokepoint.map(|c| c.product),
        })
        .collect();
    Ok(ExposureReport {
        buyer: params.buyer,
        view: params.view,
        as_of: params.as_of,
        methodology_version: METHODOLOGY_VERSION.to_owned(),
        data_version: state.version.clone(),
        summary,
        hotspots,
        items,
        rejected,
    })
}
