//! `POST /v1/exposure`: a bill of materials, as JSON or CSV, scored against
//! the live snapshot: each item's dependency and difficulty with its own
//! stage supplied from its supplier's country, the weighted aggregates, and
//! the hotspots with the single change that would lower each most.

use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::auth::Reader;
use super::csv_export::{self, Representation};
use super::docs::{AccessErrors, BodyErrors, NotAcceptable};
use super::error::{ApiError, ErrorCode, FieldError};
use super::extract::{self, Query};
use crate::domain::{AsOf, Buyer, CountryCode, Currency, ProductId, Stage, View};
use crate::ingest::csv;
use crate::live::{LiveScores, State};
use crate::scoring::exposure::{self, Advice, Item, WeightBasis};
use crate::scoring::{Params, Snapshot, METHODOLOGY_VERSION};

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
    /// The currency of every `annual_spend`: an ISO 4217 code in upper case
    /// (default `USD`). It labels the amounts and is echoed in
    /// `summary.currency`; nothing is converted, and since weights are
    /// shares of the total spend it changes no score.
    #[schema(value_type = Option<Currency>)]
    currency: Option<String>,
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
    /// The product bought.
    #[schema(
        example = "sintered-ndfeb-magnet",
        pattern = "^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$"
    )]
    product: String,
    /// What is spent on the item a year, in the request's `currency`
    /// (default USD), the same for every item. Weights are shares of the
    /// total spend, so the currency does not change any score.
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

/// `buyer`, `as_of` and `currency` of a CSV upload (a JSON body carries
/// its own).
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
    // Described by its schema: a `schema_with` parameter loses its doc comment.
    #[param(schema_with = unprefilled_currency_schema)]
    currency: Option<Currency>,
    /// For a CSV upload: the view of `as_of` (default `public`).
    #[param(value_type = Option<View>)]
    view: Option<View>,
    /// For a CSV answer (`Accept: text/csv`): which table of the report.
    #[param(value_type = Option<ExposurePart>, inline)]
    part: Option<ExposurePart>,
}

/// The currency of a CSV upload.
fn unprefilled_currency_schema() -> utoipa::openapi::schema::Schema {
    super::params::unprefilled::<Currency>(
        "For a CSV upload: the currency of the `annual_spend` column, an ISO 4217 \
         code in three upper-case letters (default `USD`); it changes no score",
    )
}

/// The tables a report has as CSV.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExposurePart {
    /// One row per item scored (the default).
    #[default]
    Items,
    /// One row per hotspot, heaviest first.
    Hotspots,
    /// One row per problem of an item that was not scored.
    Rejected,
    /// One row: the buyer, instant, versions and aggregates.
    Summary,
}

/// The CSV tables of a report; every number is rounded, as in its JSON.
const ITEM_TABLE: csv_export::Table = csv_export::Table {
    columns: &[
        "index",
        "ref",
        "product",
        "stage",
        "supplier_country",
        "supplier",
        "annual_spend",
        "quantity",
        "weight",
        "own_exposure",
        "dependency",
        "difficulty",
        "chokepoint",
        "chokepoint_stage",
    ],
    numbers: csv_export::Numbers::Derived,
};
const HOTSPOT_TABLE: csv_export::Table = csv_export::Table {
    columns: &[
        "rank",
        "index",
        "ref",
        "product",
        "supplier_country",
        "weight",
        "dependency",
        "contribution",
        "advice.action",
        "advice.country",
        "advice.product",
        "advice.stage",
        "advice.dependency",
        "advice.points",
        "aggregate_points",
    ],
    numbers: csv_export::Numbers::Derived,
};
const REJECTED_TABLE: csv_export::Table = csv_export::Table {
    columns: &["index", "ref", "field", "message"],
    numbers: csv_export::Numbers::Derived,
};
const SUMMARY_TABLE: csv_export::Table = csv_export::Table {
    columns: &[
        "buyer",
        "as_of",
        "methodology_version",
        "data_version",
        "received",
        "scored",
        "rejected",
        "weight_basis",
        "currency",
        "total_annual_spend",
        "total_quantity",
        "dependency",
        "difficulty",
    ],
    numbers: csv_export::Numbers::Derived,
};

/// One table of a report as CSV.
fn csv_report(report: &ExposureReport, part: ExposurePart) -> Result<Vec<u8>, ApiError> {
    match part {
        ExposurePart::Items => ITEM_TABLE.rows(&report.items, true),
        ExposurePart::Hotspots => HOTSPOT_TABLE.rows(&report.hotspots, true),
        ExposurePart::Rejected => {
            // A row per problem keeps the table flat: an item with two
            // problems has two rows with the same index.
            let rows: Vec<serde_json::Value> = report
                .rejected
                .iter()
                .flat_map(|item| {
                    item.errors.iter().map(move |problem| {
                        serde_json::json!({
                            "index": item.index,
                            "ref": item.reference,
                            "field": problem.field,
                            "message": problem.message,
                        })
                    })
                })
                .collect();
            REJECTED_TABLE.rows(&rows, true)
        }
        ExposurePart::Summary => {
            let mut full = serde_json::to_value(report).map_err(ApiError::internal)?;
            let mut row = full["summary"].take();
            for name in ["buyer", "as_of", "methodology_version", "data_version"] {
                row[name] = full[name].take();
            }
            SUMMARY_TABLE.rows(&[row], true)
        }
    }
}

/// The aggregates over the items scored.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExposureSummary {
    /// Items received.
    pub received: usize,
    /// Items scored.
    pub scored: usize,
    /// Items rejected (listed in `rejected`).
    pub rejected: usize,
    /// What the items' weights are shares of.
    pub weight_basis: WeightBasis,
    /// The currency of `total_annual_spend` and of every item's
    /// `annual_spend`, as the request gave it (default `USD`).
    pub currency: Currency,
    /// In `currency`: the sum over the items scored that give a spend;
    /// absent when none does.
    pub total_annual_spend: Option<f64>,
    /// Units a year: the sum over the items scored that give a quantity;
    /// absent when none does.
    pub total_quantity: Option<f64>,
    /// Points 0–100: `Σ weight × dependency` over the items scored, the
    /// weighted mean of the items' dependencies. The method defines no low
    /// or high bands.
    #[schema(example = 84.2)]
    pub dependency: f64,
    /// Points 0–100: `Σ weight × difficulty` over the items scored. The
    /// method defines no low or high bands.
    #[schema(example = 69.8)]
    pub difficulty: f64,
}

/// One item scored.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemReport {
    /// The item's position in the request (0-based; for CSV, among the
    /// non-empty data rows).
    pub index: usize,
    /// The buyer's reference for the line, as given (trimmed).
    #[serde(rename = "ref")]
    pub reference: String,
    /// The product bought.
    pub product: ProductId,
    /// Its stage.
    pub stage: Stage,
    /// The country the item's own stage is supplied from; absent: the
    /// buyer's market as a whole.
    pub supplier_country: Option<CountryCode>,
    /// The supplier's name, as given.
    pub supplier: Option<String>,
    /// In `summary.currency`, a year, as given.
    pub annual_spend: Option<f64>,
    /// Units a year, as given.
    pub quantity: Option<f64>,
    /// Fraction 0–1 (the items' weights sum to 1): the item's share of the
    /// total on the `weight_basis`.
    pub weight: f64,
    /// Fraction 0–1 (not points): `e` of the item's own stage, the fraction
    /// of the supplier country's output China controls (1 in China), or
    /// the market's exposure without a supplier country.
    pub own_exposure: f64,
    /// Points 0–100: the item's dependency, its own stage supplied from
    /// `supplier_country` and its inputs as the data has them.
    pub dependency: f64,
    /// Points 0–100: the item's displacement difficulty.
    pub difficulty: f64,
    /// The deepest product whose own stage binds the dependency: the item's
    /// own when its supplier binds it; absent at dependency 0.
    pub chokepoint: Option<ProductId>,
    /// The chokepoint's stage; absent with it.
    pub chokepoint_stage: Option<Stage>,
}

/// An item among those that weigh most in the aggregate dependency.
#[derive(Debug, Serialize, ToSchema)]
pub struct HotspotReport {
    /// 1 for the heaviest.
    pub rank: usize,
    /// The item's position in the request, as in `items`.
    pub index: usize,
    /// The item's `ref`.
    #[serde(rename = "ref")]
    pub reference: String,
    /// The product bought.
    pub product: ProductId,
    /// The item's supplier country; absent: the market.
    pub supplier_country: Option<CountryCode>,
    /// Fraction 0–1: the item's weight.
    pub weight: f64,
    /// Points 0–100: the item's dependency.
    pub dependency: f64,
    /// Points of the aggregate dependency, `weight × dependency`: what the
    /// item adds to `summary.dependency`.
    pub contribution: f64,
    /// The single change that lowers the item's dependency most; absent
    /// when none does.
    pub advice: Option<Advice>,
    /// Points of the aggregate dependency, `weight × advice.points`: how
    /// far `summary.dependency` falls with the advice taken.
    pub aggregate_points: Option<f64>,
}

/// One problem with a rejected item.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemProblem {
    /// The item's field (`ref`, `product`, …), empty for the item as a whole.
    #[schema(example = "product")]
    pub field: String,
    /// What is wrong and what is accepted.
    #[schema(example = "product `unobtainium` does not exist")]
    pub message: String,
}

/// An item that could not be scored.
#[derive(Debug, Serialize, ToSchema)]
pub struct RejectedItem {
    /// The item's position in the request (0-based; for CSV, among the
    /// non-empty data rows).
    pub index: usize,
    /// The item's `ref`, when it has one.
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// Everything wrong with the item.
    pub errors: Vec<ItemProblem>,
}

/// A bill of materials scored.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExposureReport {
    /// Whom for.
    pub buyer: Buyer,
    /// Which facts count as known at `as_of`.
    pub view: View,
    /// The instant the facts were read as of.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub as_of: OffsetDateTime,
    /// The method the items were scored with.
    #[schema(example = "2026.6")]
    pub methodology_version: String,
    /// The data scored against; it changes whenever the facts do.
    pub data_version: String,
    /// The aggregates over the items scored.
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
///
/// With `Accept: text/csv` the answer is one table of the report as CSV
/// (RFC 4180, UTF-8, a header row, CRLF record ends, empty cells for null,
/// numbers rounded as in JSON), chosen by `part`: `items` (the default: one
/// row per item scored, in request order, `index` being its position in the
/// bill of materials), `hotspots` (one row per hotspot, its advice as the
/// `advice_*` columns), `rejected` (one row per problem of an item not
/// scored: `index`, `ref`, `field`, `message`; only the header row when
/// every item was scored) or `summary` (one row: buyer, `as_of`, the
/// methodology and data versions and the aggregates). Post the same bill of
/// materials once per table wanted; answers with the same `data_version`
/// agree. `part` is refused for a JSON answer, which holds every table.
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
    responses(
        (status = 200, description = "The report; with `Accept: text/csv`, its `part` table",
         content(
            (ExposureReport = "application/json"),
            (String = "text/csv", examples(
                ("items" = (summary = "part=items (the default)", value = json!("index,ref,product,stage,supplier_country,supplier,annual_spend,quantity,weight,own_exposure,dependency,difficulty,chokepoint,chokepoint_stage\r\n0,MAG-0032,sintered-ndfeb-magnet,materials,JP,Supplier B,850000.0,,0.4474,0.0,88.4,71.5,ndpr-oxide,smelting\r\n1,MAG-0033,sintered-ndfeb-magnet,materials,CN,Supplier C,640000.0,,0.3368,1.0,100.0,71.5,sintered-ndfeb-magnet,materials\r\n"))),
                ("hotspots" = (summary = "part=hotspots", value = json!("rank,index,ref,product,supplier_country,weight,dependency,contribution,advice_action,advice_country,advice_product,advice_stage,advice_dependency,advice_points,aggregate_points\r\n1,1,MAG-0033,sintered-ndfeb-magnet,CN,0.3368,100.0,33.6842,move_supplier,JP,,,88.4,11.6,3.9074\r\n"))),
                ("rejected" = (summary = "part=rejected", value = json!("index,ref,field,message\r\n6,X-1,product,product `unobtainium` does not exist\r\n"))),
                ("summary" = (summary = "part=summary", value = json!("buyer,as_of,methodology_version,data_version,received,scored,rejected,weight_basis,currency,total_annual_spend,total_quantity,dependency,difficulty\r\nUS,2026-11-28T09:14:03.52Z,2026.6,v1-4f2a,3,3,0,annual_spend,USD,1900000.0,,84.2,69.8\r\n"))),
            )),
         ),
         headers(("Vary" = String, description = "Includes `Accept`: JSON and CSV are two representations"))),
        NotAcceptable, AccessErrors, BodyErrors))]
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
    let representation = csv_export::negotiate(&req)?;
    let query = query.0;
    let part = match (representation, query.part) {
        (Representation::Json, Some(_)) => {
            return Err(ApiError::invalid_parameter(
                "part",
                "query",
                "only for a CSV answer (`Accept: text/csv`): the JSON report holds every part",
            ))
        }
        (_, part) => part.unwrap_or_default(),
    };
    if format == Format::Json {
        if let Some(name) = [
            ("buyer", query.buyer.is_some()),
            ("as_of", query.as_of.is_some()),
            ("view", query.view.is_some()),
            ("currency", query.currency.is_some()),
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
    let live = live.into_inner();
    // Parsing and scoring 10,000 items is CPU work: keep it off the workers.
    let report = web::block(move || -> Result<Vec<u8>, ApiError> {
        let (buyer, as_of, currency, view, received) = match format {
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
                let currency = match request.currency.as_deref() {
                    Some(text) => Currency::read(text).map_err(|message| {
                        ApiError::validation(vec![FieldError::new("/currency", message)])
                    })?,
                    None => Currency::default(),
                };
                let view = request.view.unwrap_or_default();
                (buyer, as_of, currency, view, json_items(request.items)?)
            }
            Format::Csv => {
                let buyer = query.buyer.ok_or_else(|| {
                    ApiError::invalid_parameter("buyer", "query", "required for a CSV upload")
                })?;
                let as_of = query.as_of.map_or(state.computed_at, |t| t.0);
                let currency = query.currency.unwrap_or_default();
                let view = query.view.unwrap_or_default();
                (buyer, as_of, currency, view, csv_items(&body)?)
            }
        };
        let params = Params {
            view,
            ..Params::new(buyer, as_of)
        };
        let snapshot = live.snapshot_for(&state, &params)?;
        let report = score(&state, &snapshot, params, currency, received, format)?;
        match representation {
            Representation::Json => super::render::to_vec(&report),
            Representation::Csv => csv_report(&report, part),
        }
    })
    .await
    .map_err(ApiError::internal)??;
    let mut response = match representation {
        Representation::Json => HttpResponse::Ok()
            .content_type("application/json")
            .body(report),
        Representation::Csv => csv_export::ok().body(report),
    };
    csv_export::vary(&mut response);
    Ok(response)
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
    snapshot: &Snapshot,
) -> Result<Valid, Vec<(String, String)>> {
    let mut problems = Vec::new();
    let mut problem = |field: &str, message: String| problems.push((field.to_owned(), message));
    let reference = item.reference.trim().to_owned();
    if !(1..=MAX_REF_CHARS).contains(&reference.chars().count()) {
        problem("ref", format!("must be 1 to {MAX_REF_CHARS} characters"));
    }
    let product = ProductId::parse(&item.product)
        .ok()
        .and_then(|id| snapshot.product(&id).map(|p| (id, p.stage)));
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
    snapshot: &Snapshot,
    params: Params,
    currency: Currency,
    received: Vec<Received>,
    format: Format,
) -> Result<ExposureReport, ApiError> {
    let count = received.len();
    let mut valid = Vec::with_capacity(count);
    let mut rejected = Vec::new();
    let mut pointers = Vec::new();
    for (index, entry) in received.into_iter().enumerate() {
        let checked = entry.item.and_then(|item| validate(index, item, snapshot));
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
        exposure::assess(snapshot, &params, &items, HOTSPOTS).map_err(ApiError::internal)?;
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
        currency,
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
