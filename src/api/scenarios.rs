//! `/v1/scenarios`: what-if evaluation of hypothetical changes to the facts
//! (facts added, facts left out, export controls switched), scored next to
//! the unchanged data from the live snapshot, off the async workers, and
//! never stored; and saved scenarios, named change sets re-evaluated on
//! demand against the facts of the day.

use std::sync::Arc;

use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use deadpool_postgres::Pool;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::auth::{Ingest, Reader};
use super::docs::{AccessErrors, BodyErrors, NotFound, QueryErrors};
use super::error::{ApiError, FieldError};
use super::extract::{self, BodyLimit, Query, RequestDigest};
use super::pagination::{self, Paged};
use super::render;
use super::write::{self, IdempotencyKeyHeader};
use crate::domain::{
    AsOf, Buyer, CountryCode, FactStatus, HypotheticalFact, Metric, NewFact, Period, ProductId,
    Stage, View,
};
use crate::live::{LiveScores, State};
use crate::scoring::scenario::{
    self, Change, ChangeError, ControlSwitch, ExplanationChange, SCENARIO_SOURCE,
};
use crate::scoring::{
    Chain, Params, ScoreDelta, ScoreSummary, WeightOverrides, METHODOLOGY_VERSION,
};
use crate::store::{self, idempotency, StoreError};

/// Most changes one scenario makes.
pub const MAX_CHANGES: usize = 1000;
/// Most products one evaluation reports.
pub const MAX_PRODUCTS: usize = 1000;

/// A what-if: changes to the facts, and what to score them for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "buyer": "US",
    "changes": [{"add_fact": {
        "product": "ndpr-oxide", "country": "US", "facility": "hypothetical 10,000 t/yr NdPr separation plant",
        "metric": "capacity", "value": 10000, "unit": "t/yr", "period": "2026",
        "status": "under_construction", "expected_online": 2027
    }}]
}))]
pub struct ScenarioRequest {
    /// Whom for: an ISO 3166-1 alpha-2 country code or `EU`.
    #[schema(value_type = Buyer, example = "US")]
    pub buyer: String,
    /// The facts as known at this instant (RFC 3339, or a date meaning the
    /// end of that day UTC); hypothetical facts are taken as known then.
    /// Default: now.
    #[schema(schema_with = super::params::nullable_as_of_schema)]
    pub as_of: Option<String>,
    /// `bottleneck` (default) or `independent`.
    pub chain: Option<Chain>,
    /// Which facts count as known at `as_of`: `public` (default),
    /// `recorded` or `current`, as for score reads.
    pub view: Option<View>,
    /// Years ahead within which pipeline capacity counts (1..30, default 5).
    #[schema(minimum = 1, maximum = 30, example = 5)]
    pub horizon: Option<u32>,
    /// Difficulty weights to override; the others keep their defaults and
    /// all are renormalised to sum to 1.
    pub weights: Option<WeightOverrides>,
    /// 1 to 1,000 changes, applied together.
    #[schema(min_items = 1, max_items = 1000)]
    pub changes: Vec<ChangeInput>,
    /// Products to report (at most 1,000). Default: every product whose own
    /// facts change, and every product made from them.
    #[schema(value_type = Option<Vec<String>>, max_items = 1000, example = json!(["sintered-ndfeb-magnet", "ev-traction-motor"]))]
    pub products: Option<Vec<String>>,
}

/// One change, given as an object with exactly one of these keys.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeInput {
    /// A hypothetical fact, in the schema of `POST /v1/facts` without
    /// `source_id`, `quote` and `locator`: it cites the source `scenario`
    /// and, unless it states a confidence, is taken as certain (1). It is
    /// resolved like any fact: to replace a value, give a later period or
    /// drop the fact that holds it.
    AddFact(HypotheticalFact),
    /// Ids of stored facts to leave out.
    DropFacts(Vec<i64>),
    /// An export control switched on (`in_force`) or off (`suspended`) from
    /// `as_of`'s day on: a hypothetical `export_control` fact keyed like the
    /// control it overrides, whose period starts that day so that it wins.
    ExportControl(ControlSwitchInput),
}

impl ChangeInput {
    fn key(&self) -> &'static str {
        match self {
            ChangeInput::AddFact(_) => "add_fact",
            ChangeInput::DropFacts(_) => "drop_facts",
            ChangeInput::ExportControl(_) => "export_control",
        }
    }
}

/// How strict an export control is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ControlLevel {
    /// Level 1: exports need a licence.
    Licensing,
    /// Level 2: exports are banned.
    Ban,
}

/// Whether the switched control applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ControlState {
    InForce,
    Suspended,
}

/// An export control switched on or off.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"product": "sintered-ndfeb-magnet", "level": "ban", "status": "in_force"}))]
pub struct ControlSwitchInput {
    /// The product the control applies to.
    #[schema(example = "sintered-ndfeb-magnet")]
    product: String,
    /// The controlling country (default `CN`).
    #[schema(example = "CN")]
    country: Option<String>,
    /// `licensing` (level 1) or `ban` (level 2).
    level: ControlLevel,
    /// `in_force` switches the control on, `suspended` off.
    status: ControlState,
    /// Only for this buyer; default every buyer.
    buyer: Option<String>,
    /// The label of the control when a product carries several of the same
    /// level (the `facility` of its facts); default none.
    facility: Option<String>,
}

/// A request checked against the live data, ready to evaluate.
struct Prepared {
    params: Params,
    changes: Vec<Change>,
    /// The key of each change (`add_fact`, …), for pointers.
    keys: Vec<&'static str>,
    products: Option<Vec<ProductId>>,
}

/// What a saved scenario's evaluation may override.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EvaluateQuery {
    /// Another buyer than the one saved.
    #[param(value_type = Option<Buyer>, example = "EU")]
    buyer: Option<Buyer>,
    /// Another instant than the one saved (default: the saved one, else now).
    #[param(schema_with = super::params::as_of_schema)]
    as_of: Option<AsOf>,
    /// Another view than the one saved (default: the saved one, else `public`).
    #[param(value_type = Option<View>)]
    view: Option<View>,
}

/// Checks `request` against the live data; every problem is reported, its
/// pointer under `prefix`.
fn prepare(
    request: &ScenarioRequest,
    state: &State,
    prefix: &str,
    overrides: &EvaluateQuery,
) -> Result<Prepared, ApiError> {
    let mut errors = Vec::new();
    let mut problem =
        |pointer: String, message: String| errors.push(FieldError::new(pointer, message));
    let buyer = match overrides.buyer {
        Some(buyer) => Some(buyer),
        None => Buyer::read(&request.buyer)
            .map_err(|message| problem(format!("{prefix}/buyer"), message))
            .ok(),
    };
    let as_of = match overrides.as_of {
        Some(as_of) => Some(as_of),
        None => request.as_of.as_deref().and_then(|text| {
            AsOf::read(text)
                .map_err(|message| problem(format!("{prefix}/as_of"), message))
                .ok()
        }),
    };
    let mut params = Params::new(
        buyer.unwrap_or(Buyer::Eu),
        as_of.map_or(state.computed_at, |t| t.0),
    );
    if let Some(chain) = request.chain {
        params.chain = chain;
    }
    if let Some(view) = overrides.view.or(request.view) {
        params.view = view;
    }
    if let Some(overrides) = &request.weights {
        match overrides.apply(&params.weights) {
            Ok(weights) => params.weights = weights,
            Err(error) => problem(format!("{prefix}/weights"), error.to_string()),
        }
    }
    if let Some(years) = request.horizon {
        if let Err(error) = params.set_horizon(years) {
            problem(format!("{prefix}/horizon"), error.to_string());
        }
    }
    if !(1..=MAX_CHANGES).contains(&request.changes.len()) {
        problem(
            format!("{prefix}/changes"),
            format!("{} changes; give 1 to {MAX_CHANGES}", request.changes.len()),
        );
    }
    let mut changes = Vec::with_capacity(request.changes.len());
    for (index, change) in request.changes.iter().enumerate() {
        let at = format!("{prefix}/changes/{index}/{}", change.key());
        match parse_change(change) {
            Ok(change) => changes.push(change),
            Err(problems) => {
                for (field, message) in problems {
                    problem(pointer(&at, &field), message);
                }
            }
        }
    }
    let products = request.products.as_ref().map(|ids| {
        if ids.len() > MAX_PRODUCTS {
            problem(
                format!("{prefix}/products"),
                format!("{} products; at most {MAX_PRODUCTS}", ids.len()),
            );
        }
        ids.iter()
            .enumerate()
            .filter_map(|(index, text)| {
                let known = ProductId::parse(text)
                    .ok()
                    .filter(|id| state.snapshot.product(id).is_some());
                if known.is_none() {
                    problem(
                        format!("{prefix}/products/{index}"),
                        format!("product `{text}` does not exist"),
                    );
                }
                known
            })
            .collect()
    });
    let keys = request.changes.iter().map(ChangeInput::key).collect();
    match buyer {
        Some(buyer) if errors.is_empty() => Ok(Prepared {
            params: Params { buyer, ..params },
            changes,
            keys,
            products,
        }),
        _ => Err(ApiError::validation(errors)),
    }
}

/// `at` followed by a field path such as `inputs.0.product` or nothing.
fn pointer(at: &str, field: &str) -> String {
    if field.is_empty() {
        at.to_owned()
    } else {
        format!("{at}/{}", field.replace('.', "/"))
    }
}

/// The change as the engine takes it, or its problems as (field, message).
fn parse_change(change: &ChangeInput) -> Result<Change, Vec<(String, String)>> {
    match change {
        ChangeInput::AddFact(fact) => NewFact::hypothetical(fact.clone(), SCENARIO_SOURCE)
            .validate()
            .map(Change::AddFact)
            .map_err(|problems| {
                problems
                    .into_iter()
                    .map(|p| (p.field.to_owned(), p.message))
                    .collect()
            }),
        ChangeInput::DropFacts(ids) => Ok(Change::DropFacts(ids.clone())),
        ChangeInput::ExportControl(switch) => {
            let mut problems = Vec::new();
            let product = ProductId::parse(&switch.product)
                .map_err(|e| problems.push(("product".to_owned(), e)))
                .ok();
            let country = match &switch.country {
                None => Some(CountryCode::CN),
                Some(text) => CountryCode::read(text)
                    .map_err(|message| problems.push(("country".to_owned(), message)))
                    .ok(),
            };
            let buyer = switch
                .buyer
                .as_deref()
                .map(|text| Buyer::read(text).map_err(|message| ("buyer".to_owned(), message)));
            let buyer = match buyer.transpose() {
                Ok(buyer) => buyer,
                Err(problem) => {
                    problems.push(problem);
                    None
                }
            };
            match (product, country) {
                (Some(product), Some(country)) if problems.is_empty() => {
                    Ok(Change::ExportControl(ControlSwitch {
                        product,
                        country,
                        buyer,
                        facility: switch.facility.clone(),
                        level: match switch.level {
                            ControlLevel::Licensing => 1,
                            ControlLevel::Ban => 2,
                        },
                        in_force: switch.status == ControlState::InForce,
                    }))
                }
                _ => Err(problems),
            }
        }
    }
}

/// A saved scenario named in an evaluation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScenarioRef {
    /// The saved scenario's id.
    #[schema(example = "0b6f3c1e-58a4-4a8e-9d0c-3f1f0e6d2a71")]
    pub id: String,
    /// Its name.
    pub name: String,
}

/// A hypothetical fact as the engine read it.
#[derive(Debug, Serialize, ToSchema)]
pub struct HypotheticalFactRef {
    /// The 0-based position in `changes` of the change that made it.
    pub change: usize,
    /// Negative: hypothetical facts are told apart from stored ones.
    #[schema(example = -1)]
    pub id: i64,
    /// The product it is about; absent for a country-level metric.
    pub product: Option<ProductId>,
    /// The country it is about; absent for a product-wide metric.
    pub country: Option<CountryCode>,
    /// What it records.
    pub metric: Metric,
    /// In the metric's canonical unit.
    pub value: Option<f64>,
    /// The time it describes.
    pub period: Period,
    /// Its status (`actual`, `under_construction`, `in_force`, …).
    pub status: FactStatus,
}

/// One product without and with the scenario.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductComparison {
    /// The product reported.
    pub product: ProductId,
    /// Its stage.
    pub stage: Stage,
    /// Its headline scores without the changes.
    pub baseline: ScoreSummary,
    /// Its headline scores with the changes.
    pub scenario: ScoreSummary,
    /// `scenario` minus `baseline`, in the units of the scores.
    pub delta: ScoreDelta,
    /// What moved in the explanation (the full explanations are
    /// `GET /v1/scores/{product}` for the baseline).
    pub changes: Vec<ExplanationChange>,
}

/// A scenario's effect. Nothing was stored and the live scores are as they
/// were.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScenarioEvaluation {
    /// The saved scenario evaluated; absent for an unsaved one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenario: Option<ScenarioRef>,
    /// What both sides were scored with.
    pub params: Params,
    /// The method both sides were scored with.
    #[schema(example = "2026.6")]
    pub methodology_version: String,
    /// The data evaluated against; it changes whenever the facts do.
    pub data_version: String,
    /// The facts the changes added, with the ids they got.
    pub hypothetical_facts: Vec<HypotheticalFactRef>,
    /// Stored facts left out.
    pub dropped_facts: Vec<i64>,
    /// Products whose own facts change, and every product made from them.
    pub affected: Vec<ProductId>,
    /// The products reported, inputs before the products made from them
    /// (or in the order asked for).
    pub results: Vec<ProductComparison>,
}

/// Evaluates on a blocking thread: the snapshot is shared, never modified.
async fn evaluate(
    live: &web::Data<LiveScores>,
    state: &Arc<State>,
    prepared: Prepared,
    prefix: &str,
    scenario: Option<ScenarioRef>,
) -> Result<ScenarioEvaluation, ApiError> {
    let (handle, at) = (live.clone().into_inner(), state.clone());
    let Prepared {
        params,
        changes,
        keys,
        products,
    } = prepared;
    let (evaluation, unrecorded) = web::block(move || {
        let snapshot = handle.snapshot_for(&at, &params)?;
        // A recorded read's graph may lack products today's graph has.
        let unrecorded: Vec<(usize, ProductId)> = products
            .iter()
            .flatten()
            .enumerate()
            .filter(|(_, id)| snapshot.product(id).is_none())
            .map(|(i, id)| (i, id.clone()))
            .collect();
        let evaluation = scenario::evaluate(&snapshot, &changes, products.as_deref(), &params);
        Ok::<_, crate::store::StoreError>((evaluation, unrecorded))
    })
    .await
    .map_err(ApiError::internal)??;
    if !unrecorded.is_empty() {
        return Err(ApiError::validation(
            unrecorded
                .into_iter()
                .map(|(i, id)| {
                    FieldError::new(
                        format!("{prefix}/products/{i}"),
                        format!(
                            "product `{id}` had not been recorded by `as_of` (view `recorded`)"
                        ),
                    )
                })
                .collect(),
        ));
    }
    let evaluation = evaluation.map_err(|errors| change_errors(errors, &keys, prefix))?;
    let results = evaluation
        .comparisons
        .iter()
        .map(|comparison| {
            let baseline = ScoreSummary::from(&comparison.baseline);
            let changed = ScoreSummary::from(&comparison.scenario);
            ProductComparison {
                product: comparison.baseline.product.clone(),
                stage: comparison.baseline.stage,
                delta: ScoreDelta::between(&baseline, &changed),
                changes: scenario::explanation_changes(&comparison.baseline, &comparison.scenario),
                baseline,
                scenario: changed,
            }
        })
        .collect();
    Ok(ScenarioEvaluation {
        scenario,
        params,
        methodology_version: METHODOLOGY_VERSION.to_owned(),
        data_version: state.version.clone(),
        hypothetical_facts: evaluation
            .hypothetical
            .iter()
            .map(|(change, fact)| HypotheticalFactRef {
                change: *change,
                id: fact.id,
                product: fact.product.clone(),
                country: fact.country,
                metric: fact.metric,
                value: fact.value,
                period: fact.period,
                status: fact.status,
            })
            .collect(),
        dropped_facts: evaluation.dropped,
        affected: evaluation.affected.into_iter().collect(),
        results,
    })
}

fn change_errors(errors: Vec<ChangeError>, keys: &[&str], prefix: &str) -> ApiError {
    ApiError::validation(
        errors
            .into_iter()
            .map(|error| {
                let at = format!("{prefix}/changes/{}/{}", error.change, keys[error.change]);
                FieldError::new(pointer(&at, &error.field), error.message)
            })
            .collect(),
    )
}

/// The route's JSON body, up to the configured limit.
async fn json_body(req: &HttpRequest, payload: web::Payload) -> Result<Vec<u8>, ApiError> {
    let limit = req.app_data::<BodyLimit>().map_or(1 << 20, |limit| limit.0);
    extract::read_json_body(&extract::media_type(req), payload.into_inner(), limit).await
}

/// Scores products with hypothetical changes to the facts next to the facts
/// as they are: for each product, both headline results, the deltas and
/// what moved in the explanation. Nothing is stored and the live scores are
/// untouched. The examples run against the baseline dataset.
#[utoipa::path(tag = "scenarios",
    request_body(content = ScenarioRequest, examples(
        ("us_separation_plant" = (summary = "A 10,000 t/yr NdPr separation plant in the US comes online in 2027",
            value = json!({"buyer": "US", "changes": [{"add_fact": {
                "product": "ndpr-oxide", "country": "US", "facility": "hypothetical 10,000 t/yr NdPr separation plant",
                "metric": "capacity", "value": 10000, "unit": "t/yr", "period": "2026",
                "status": "under_construction", "expected_online": 2027}}]}))),
        ("magnet_export_ban" = (summary = "China bans exports of NdFeB magnets",
            value = json!({"buyer": "US", "changes": [{"export_control": {
                "product": "sintered-ndfeb-magnet", "country": "CN", "level": "ban", "status": "in_force"}}]}))),
        ("october_2025_controls" = (summary = "The October 2025 rare-earth controls are reinstated",
            description = "MOFCOM Announcement No. 61 of 2025 licensed exports of magnets and of foreign-made items containing Chinese rare earths; it was suspended by No. 70.",
            value = json!({"buyer": "EU", "changes": [
                {"export_control": {"product": "sintered-ndfeb-magnet", "level": "licensing", "status": "in_force"}},
                {"export_control": {"product": "ev-traction-motor", "level": "licensing", "status": "in_force"}},
                {"export_control": {"product": "wind-turbine-generator", "level": "licensing", "status": "in_force"}}]}))),
    )),
    security((), ("bearer" = ["read"])),
    responses((status = 200, body = ScenarioEvaluation), AccessErrors, BodyErrors))]
#[post("/scenarios/evaluate")]
pub async fn evaluate_scenario(
    req: HttpRequest,
    live: web::Data<LiveScores>,
    _reader: Reader,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = json_body(&req, payload).await?;
    let request: ScenarioRequest = extract::parse_json(&body)?;
    let state = live.state();
    let prepared = prepare(&request, &state, "", &EvaluateQuery::default())?;
    let evaluation = evaluate(&live, &state, prepared, "", None).await?;
    render::json(&evaluation)
}

/// A scenario to save.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Magnet export ban",
    "description": "China bans exports of sintered NdFeB magnets to every buyer.",
    "scenario": {"buyer": "US", "changes": [{"export_control": {
        "product": "sintered-ndfeb-magnet", "level": "ban", "status": "in_force"}}]}
}))]
pub struct NewScenario {
    /// 1 to 200 characters, not all blank.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    name: String,
    /// At most 4,000 characters.
    #[serde(default)]
    #[schema(max_length = 4000)]
    description: String,
    scenario: ScenarioRequest,
}

/// A saved scenario.
#[derive(Debug, Serialize, ToSchema)]
pub struct SavedScenario {
    /// Its id, a UUID.
    #[schema(example = "0b6f3c1e-58a4-4a8e-9d0c-3f1f0e6d2a71")]
    pub id: String,
    /// Its name, 1 to 200 characters.
    pub name: String,
    /// What it is about; empty when none was given.
    pub description: String,
    /// As it was saved.
    #[schema(value_type = ScenarioRequest)]
    pub scenario: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    /// When it was saved.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl From<store::scenarios::StoredScenario> for SavedScenario {
    fn from(stored: store::scenarios::StoredScenario) -> SavedScenario {
        SavedScenario {
            id: stored.id,
            name: stored.name,
            description: stored.description,
            scenario: stored.request,
            created_at: stored.created_at,
        }
    }
}

const MAX_NAME_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 4000;

/// Saves a named change set, checked as an evaluation would check it (the
/// products and facts it names exist), to be evaluated again later with
/// `POST /v1/scenarios/{id}/evaluate` against the facts of that day.
#[utoipa::path(tag = "scenarios", request_body = NewScenario, params(IdempotencyKeyHeader),
    security(("bearer" = ["ingest"])),
    responses((status = 201, description = "Saved", body = SavedScenario, headers(("Location" = String, description = "The created resource, e.g. `/v1/scenarios/0b6f3c1e-58a4-4a8e-9d0c-3f1f0e6d2a71`"))), AccessErrors, BodyErrors))]
#[post("/scenarios")]
pub async fn create_scenario(
    req: HttpRequest,
    pool: web::Data<Pool>,
    live: web::Data<LiveScores>,
    caller: Ingest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let audit = write::actor(&caller.0, &req);
    let body = json_body(&req, payload).await?;
    let mut digest = RequestDigest::start(&req);
    digest.update(&body);
    let key = write::idempotency(&req, digest)?;
    let new: NewScenario = extract::parse_json(&body)?;
    // Stored as posted: the typed parse above has checked its shape.
    let mut raw: serde_json::Value = extract::parse_json(&body)?;
    let request = raw["scenario"].take();
    let name = new.name.trim().to_owned();
    let mut errors = Vec::new();
    if !(1..=MAX_NAME_CHARS).contains(&name.chars().count()) {
        errors.push(FieldError::new(
            "/name",
            format!("must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    if new.description.chars().count() > MAX_DESCRIPTION_CHARS {
        errors.push(FieldError::new(
            "/description",
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    let state = live.state();
    let prepared = match prepare(
        &new.scenario,
        &state,
        "/scenario",
        &EvaluateQuery::default(),
    ) {
        Ok(prepared) => Some(prepared),
        Err(error) => {
            errors.extend(error.errors);
            None
        }
    };
    if let Some(prepared) = prepared {
        let snapshot = state.snapshot.clone();
        let Prepared {
            params,
            changes,
            keys,
            ..
        } = prepared;
        let checked = web::block(move || scenario::check(&snapshot, &changes, params.as_of))
            .await
            .map_err(ApiError::internal)?;
        if let Err(problems) = checked {
            errors.extend(change_errors(problems, &keys, "/scenario").errors);
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let outcome = idempotency::run(&pool, key.as_ref(), move |tx| {
        Box::pin(async move {
            let stored = store::scenarios::insert(tx, &name, &new.description, &request).await?;
            audit
                .record(tx, serde_json::json!({ "scenarios": [stored.id] }))
                .await?;
            let saved = SavedScenario::from(stored);
            write::created(format!("/v1/scenarios/{}", saved.id), &saved)
        })
    })
    .await?;
    write::respond(outcome)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ScenarioListQuery {
    /// Page size, 1..1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^([0-9a-f]{2}){1,256}$")]
    cursor: Option<String>,
}

/// Lists saved scenarios, newest first, a page at a time.
#[utoipa::path(tag = "scenarios", params(ScenarioListQuery), security((), ("bearer" = ["read"])),
    responses((status = 200, description = "One page", body = Paged<SavedScenario>, headers(("Link" = String, description = "`<…&cursor=…>; rel=\"next\"` when there is a next page"))), AccessErrors, QueryErrors))]
#[get("/scenarios")]
pub async fn list_scenarios(
    req: HttpRequest,
    pool: web::Data<Pool>,
    _reader: Reader,
    query: Query<ScenarioListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.0;
    let limit = pagination::limit(query.limit)?;
    let listing = pagination::Listing::new("scenarios", &req);
    let after = listing.after_created(query.cursor.as_deref())?;
    let client = pool.get().await.map_err(StoreError::from)?;
    let page = store::scenarios::list(&client, after, limit).await?;
    let page = store::Page {
        items: page.items.into_iter().map(SavedScenario::from).collect(),
        has_more: page.has_more,
    };
    Ok(listing.respond(&listing.page(page, |s| {
        pagination::Listing::created_key(s.created_at, &s.id)
    })))
}

fn scenario_id(id: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(id).map_err(|_| ApiError::not_found(format!("scenario `{id}`")))
}

async fn load(pool: &Pool, id: &str) -> Result<store::scenarios::StoredScenario, ApiError> {
    let uuid = scenario_id(id)?;
    let client = pool.get().await.map_err(StoreError::from)?;
    store::scenarios::get(&client, &uuid)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("scenario `{id}`")))
}

/// One saved scenario.
#[utoipa::path(tag = "scenarios",
    params(("id" = uuid::Uuid, Path, description = "Scenario id (a UUID)")),
    security((), ("bearer" = ["read"])),
    responses((status = 200, body = SavedScenario), NotFound, AccessErrors))]
#[get("/scenarios/{id:[0-9a-fA-F-]+}")]
pub async fn get_scenario(
    pool: web::Data<Pool>,
    _reader: Reader,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let stored = load(&pool, &id).await?;
    Ok(HttpResponse::Ok().json(SavedScenario::from(stored)))
}

/// Deletes a saved scenario for good: scenarios are notes, not facts.
#[utoipa::path(tag = "scenarios",
    params(("id" = uuid::Uuid, Path, description = "Scenario id (a UUID)")),
    security(("bearer" = ["ingest"])),
    responses((status = 204, description = "Deleted"), NotFound, AccessErrors))]
#[delete("/scenarios/{id:[0-9a-fA-F-]+}")]
pub async fn delete_scenario(
    req: HttpRequest,
    pool: web::Data<Pool>,
    caller: Ingest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let uuid = scenario_id(&id)?;
    let mut client = pool.get().await.map_err(StoreError::from)?;
    let tx = client.transaction().await.map_err(StoreError::from)?;
    if !store::scenarios::delete(&tx, &uuid).await? {
        return Err(ApiError::not_found(format!("scenario `{id}`")));
    }
    write::actor(&caller.0, &req)
        .record(&tx, serde_json::json!({ "scenarios": [uuid.to_string()] }))
        .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Evaluates a saved scenario against the facts as they are now (or at
/// `as_of`), optionally for another buyer. Nothing is stored.
#[utoipa::path(tag = "scenarios",
    params(("id" = uuid::Uuid, Path, description = "Scenario id (a UUID)"), EvaluateQuery),
    security((), ("bearer" = ["read"])),
    responses((status = 200, body = ScenarioEvaluation), NotFound, AccessErrors, QueryErrors))]
#[post("/scenarios/{id:[0-9a-fA-F-]+}/evaluate")]
pub async fn evaluate_saved_scenario(
    pool: web::Data<Pool>,
    live: web::Data<LiveScores>,
    _reader: Reader,
    id: web::Path<String>,
    query: Query<EvaluateQuery>,
) -> Result<HttpResponse, ApiError> {
    let stored = load(&pool, &id).await?;
    let request: ScenarioRequest = serde_json::from_value(stored.request).map_err(|error| {
        ApiError::internal(anyhow::anyhow!(
            "saved scenario {} no longer parses: {error}",
            stored.id
        ))
    })?;
    let state = live.state();
    // The facts may have changed since it was saved: problems are the
    // saved scenario's, pointed at within it.
    let prepared = prepare(&request, &state, "/scenario", &query.0)?;
    let reference = ScenarioRef {
        id: stored.id,
        name: stored.name,
    };
    let evaluation = evaluate(&live, &state, prepared, "/scenario", Some(reference)).await?;
    render::json(&evaluation)
}
