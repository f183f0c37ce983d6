//! `/v1/scores`: dependency and displacement difficulty, explained, read
//! from the live in-memory snapshot. Current scores of the main buyers are
//! precomputed; other instants, buyers and parameters are computed on
//! demand and cached. Every response carries an `ETag`.

use std::sync::Arc;

use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::{IntoParams, ToSchema};

use super::auth::Reader;
use super::caching::{cached, etag, not_modified};
use super::csv_export::{self, Representation};
use super::docs::{AccessErrors, NotAcceptable, NotFound, QueryErrors};
use super::error::ApiError;
use super::extract::Query;
use super::pagination::{self, Paged};
use super::params::{product_id, unknown_product, AsOfQuery, ScoreParams, ScoreRequest, US};
use super::render;
use crate::domain::{Buyer, Stage, View};
use crate::live::{LiveScores, State};
use crate::scoring::summary::{self, History, ScoreSummary, Step};
use crate::scoring::{self, EuCrmResult, Intervals, Params, ProductScore, Snapshot, DEFAULT_DRAWS};

/// One product's full, explained result.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScoreDetail<'a> {
    #[serde(flatten)]
    pub score: &'a ProductScore,
    /// p5/p50/p95 of both scores, with `uncertainty=true`.
    pub uncertainty: Option<&'a Intervals>,
}

impl ScoreDetail<'_> {
    fn render(&self) -> Result<bytes::Bytes, ApiError> {
        render::to_vec(self).map(bytes::Bytes::from)
    }
}

/// The snapshot a read with `params` scores (see
/// [`LiveScores::snapshot_for`]), rebuilt off the async workers when a
/// `recorded` read needs an older product graph.
pub(super) async fn snapshot_for(
    live: &web::Data<LiveScores>,
    state: &Arc<State>,
    params: Params,
) -> Result<Arc<Snapshot>, ApiError> {
    if params.view != View::Recorded {
        return Ok(state.snapshot.clone());
    }
    let (live, state) = (live.clone().into_inner(), state.clone());
    Ok(web::block(move || live.snapshot_for(&state, &params))
        .await
        .map_err(ApiError::internal)??)
}

/// Runs a computation off the async workers, caching its result.
pub(super) async fn computed<T: Send + Sync + 'static>(
    live: &LiveScores,
    key: String,
    work: impl FnOnce() -> Option<T> + Send + 'static,
) -> Result<Option<Arc<T>>, ApiError> {
    if let Some(hit) = live.cache.get::<T>(&key) {
        return Ok(Some(hit));
    }
    let value = web::block(move || work().map(Arc::new))
        .await
        .map_err(ApiError::internal)?;
    if let Some(value) = &value {
        live.cache.insert(key, value.clone());
    }
    Ok(value)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only products at this stage.
    #[param(value_type = Option<Stage>)]
    stage: Option<Stage>,
    /// `product` (default), `dependency`, `difficulty`; prefix `-` for
    /// descending. Products without a dependency (no supply data on their
    /// chain) come last either way.
    #[param(
        example = "-dependency",
        pattern = "^-?(product|dependency|difficulty)$"
    )]
    sort: Option<String>,
    /// Products a page (default 100). With `Accept: text/csv`, leave it
    /// out for the whole listing in one response.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^([0-9a-f]{2}){1,256}$")]
    cursor: Option<String>,
}

#[derive(Debug, Clone, Copy)]
enum SortKey {
    Product,
    Dependency,
    Difficulty,
}

fn parse_sort(sort: Option<&str>) -> Result<(SortKey, bool), ApiError> {
    let text = sort.unwrap_or("product");
    let (descending, name) = match text.strip_prefix('-') {
        Some(name) => (true, name),
        None => (false, text),
    };
    let key = match name {
        "product" => SortKey::Product,
        "dependency" => SortKey::Dependency,
        "difficulty" => SortKey::Difficulty,
        _ => {
            return Err(ApiError::invalid_parameter(
                "sort",
                "query",
                "use product, dependency or difficulty, with `-` for descending",
            ))
        }
    };
    Ok((key, descending))
}

/// A listing's order: by the key's value (product order alone for
/// `product`), ties broken by product id.
#[derive(Debug, Clone, Copy)]
struct Order {
    key: SortKey,
    descending: bool,
}

impl Order {
    /// The number a summary sorts by: negated for descending, 0 for
    /// `product`, whose order is the ids'. A product without a dependency
    /// sorts last either way.
    fn value(self, summary: &ScoreSummary) -> f64 {
        let value = match self.key {
            SortKey::Product => 0.0,
            SortKey::Dependency => match summary.dependency {
                Some(dependency) => dependency,
                None => return f64::INFINITY,
            },
            SortKey::Difficulty => summary.difficulty,
        };
        if self.descending && !matches!(self.key, SortKey::Product) {
            -value
        } else {
            value
        }
    }

    /// Compares (value, product id) positions; a cursor is one.
    fn compare(self, a: (f64, &str), b: (f64, &str)) -> std::cmp::Ordering {
        let order = a.0.total_cmp(&b.0).then_with(|| a.1.cmp(b.1));
        if matches!(self.key, SortKey::Product) && self.descending {
            order.reverse()
        } else {
            order
        }
    }
}

fn unrendered() -> ApiError {
    ApiError::internal(anyhow::anyhow!("a score summary did not render"))
}

/// One state's summaries for one request, each rendered once: a page is
/// its items' bytes joined.
struct Listed {
    summaries: Vec<ScoreSummary>,
    json: Vec<bytes::Bytes>,
}

impl Listed {
    fn new(summaries: Vec<ScoreSummary>) -> Option<Listed> {
        let json = summaries
            .iter()
            .map(|s| render::to_vec(s).map(bytes::Bytes::from).ok())
            .collect::<Option<Vec<_>>>()?;
        Some(Listed { summaries, json })
    }

    /// The summaries at `stage` (all without one) in `order`, as (sort
    /// value, index) pairs.
    fn ordered(&self, stage: Option<Stage>, order: Order) -> Vec<(f64, usize)> {
        let mut rows: Vec<(f64, usize)> = self
            .summaries
            .iter()
            .enumerate()
            .filter(|(_, s)| stage.is_none_or(|stage| s.stage == stage))
            .map(|(i, s)| (order.value(s), i))
            .collect();
        rows.sort_by(|a, b| {
            order.compare(
                (a.0, self.summaries[a.1].product.as_str()),
                (b.0, self.summaries[b.1].product.as_str()),
            )
        });
        rows
    }
}

/// The columns of a score summary in CSV: its fields, `dependency_range`
/// as two columns, numbers rounded as in JSON.
const SCORE_TABLE: csv_export::Table = csv_export::Table {
    columns: &[
        "product",
        "stage",
        "dependency",
        "dependency_range.low",
        "dependency_range.high",
        "difficulty",
        "coverage",
        "chokepoint",
        "chokepoint_stage",
        "binding_stage",
        "years_to_displace",
        "export_controls",
        "methodology_version",
    ],
    numbers: csv_export::Numbers::Derived,
};

/// Every product's dependency and displacement difficulty for a buyer,
/// filterable by stage, sortable, a page at a time. Without `as_of` or
/// custom parameters this reads the precomputed current scores.
///
/// With `Accept: text/csv` the summaries come as CSV (RFC 4180, UTF-8, a
/// header row, CRLF record ends; one column per field, `dependency_range`
/// as `dependency_range_low` and `dependency_range_high`, empty for null;
/// numbers rounded as in JSON). Without `limit`, a CSV response is the
/// whole sorted listing (after `cursor` when given); with `limit` it is one
/// page, as in JSON, and the next page is the `Link` header's.
#[utoipa::path(tag = "scores", params(ScoreParams, AsOfQuery, ListQuery),
    responses(
        (status = 200, description = "One page, or with `Accept: text/csv` and no `limit` the whole listing",
         content(
            (Paged<ScoreSummary> = "application/json"),
            (String = "text/csv", example = json!("product,stage,dependency,dependency_range_low,dependency_range_high,difficulty,coverage,chokepoint,chokepoint_stage,binding_stage,years_to_displace,export_controls,methodology_version\r\nsintered-ndfeb-magnet,materials,96.4,92.0,96.4,71.5,0.8571,ndpr-oxide,smelting,mining,9.5,2,2026.6\r\n")),
         ),
         headers(("ETag" = String), ("Cache-Control" = String), ("Link" = String, description = "`<…&cursor=…>; rel=\"next\"` when there is a next page"), ("Vary" = String, description = "Includes `Accept`: JSON and CSV are two representations"))),
        (status = 304, description = "Not modified since the `If-None-Match` ETag"),
        NotAcceptable, AccessErrors, QueryErrors),
    security((), ("bearer" = ["read"])))]
#[get("/scores")]
pub async fn list_scores(
    req: HttpRequest,
    live: web::Data<LiveScores>,
    _reader: Reader,
    score: Query<ScoreParams>,
    as_of: Query<AsOfQuery>,
    list: Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let representation = csv_export::negotiate(&req)?;
    let state = live.state();
    let request = ScoreRequest::parse(&score.0, as_of.0.as_of, &state, US)?;
    let list = list.0;
    // A CSV export without `limit` is the whole listing; any other
    // request is one page.
    let limit = match (representation, list.limit) {
        (Representation::Csv, None) => None,
        (_, requested) => Some(pagination::limit(requested)?),
    };
    let (key, descending) = parse_sort(list.sort.as_deref())?;
    let listing = pagination::Listing::new("scores", &req);
    let after = list
        .cursor
        .as_deref()
        .map(|c| listing.decode(c))
        .transpose()?;
    // JSON and CSV are two representations: two tags.
    let variant = match representation {
        Representation::Json => req.query_string().to_owned(),
        Representation::Csv => format!("{}|csv", req.query_string()),
    };
    let tag = etag(&state, "list", "", &request.canonical, &variant);
    let immutable = request.is_immutable(&state);
    // Summaries of a whole state are computed once, then sorted per request.
    let state_key = format!(
        "{}|{}|summaries|{}",
        state.version,
        state.computed_at.unix_timestamp_nanos(),
        request.canonical
    );
    // A page asked for again in the same state is sent as it was.
    let page_key = format!("{state_key}|page|{variant}");
    if matches!(representation, Representation::Json) {
        if let Some(page) = live.cache.get::<(bytes::Bytes, Option<String>)>(&page_key) {
            let mut response = cached(&req, tag, immutable, || {
                Ok(listing.respond_json_bytes(page.0.clone(), page.1.as_deref()))
            })?;
            csv_export::vary(&mut response);
            return Ok(response);
        }
    }
    let listed: Arc<Listed> = if request.current {
        let current = state
            .current(request.params.buyer)
            .expect("checked by ScoreRequest::parse")
            .clone();
        computed(&live, state_key.clone(), move || {
            Listed::new(current.summaries().cloned().collect())
        })
        .await?
        .ok_or_else(unrendered)?
    } else {
        let params = request.params;
        let snapshot = snapshot_for(&live, &state, params).await?;
        computed(&live, state_key.clone(), move || {
            let scores = scoring::score_all(&snapshot, &params);
            Listed::new(scores.iter().map(ScoreSummary::from).collect())
        })
        .await?
        .ok_or_else(unrendered)?
    };
    let order = Order { key, descending };
    let ordered: Arc<Vec<(f64, usize)>> = {
        let listed = listed.clone();
        let stage = list.stage;
        computed(
            &live,
            format!("{state_key}|order|{stage:?}|{key:?}|{descending}"),
            move || Some(listed.ordered(stage, order)),
        )
        .await?
        .expect("an order always exists")
    };
    let mut response = cached(&req, tag, immutable, move || {
        let start = match &after {
            None => 0,
            Some(cursor) => {
                let (value, id) = cursor
                    .split_once('|')
                    .ok_or_else(pagination::invalid_cursor)?;
                let value: f64 = value.parse().map_err(|_| pagination::invalid_cursor())?;
                ordered.partition_point(|&(v, i)| {
                    order.compare((v, listed.summaries[i].product.as_str()), (value, id))
                        != std::cmp::Ordering::Greater
                })
            }
        };
        let limit = limit.unwrap_or(ordered.len());
        let page = &ordered[start.min(ordered.len())..];
        let has_more = page.len() > limit;
        let page = &page[..page.len().min(limit)];
        let next_cursor = has_more.then(|| {
            let (value, index) = page[limit - 1];
            let id = listed.summaries[index].product.as_str();
            listing.encode(&format!("{value}|{id}"))
        });
        match representation {
            Representation::Json => {
                let body = pagination::joined_page(
                    page.iter().map(|&(_, i)| &listed.json[i][..]),
                    has_more,
                    next_cursor.as_deref(),
                );
                let response = listing.respond_json_bytes(body.clone(), next_cursor.as_deref());
                live.cache.insert(page_key, Arc::new((body, next_cursor)));
                Ok(response)
            }
            Representation::Csv => {
                let items = page
                    .iter()
                    .map(|&(_, i)| listed.summaries[i].clone())
                    .collect();
                let page = Paged {
                    items,
                    has_more,
                    next_cursor,
                };
                listing.respond_csv(&page, SCORE_TABLE)
            }
        }
    })?;
    csv_export::vary(&mut response);
    Ok(response)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DetailQuery {
    /// Add p5/p50/p95 intervals from a seeded Monte Carlo over fact confidence.
    uncertainty: Option<bool>,
    /// Monte Carlo draws (100..10000, default 1000).
    #[param(minimum = 100, maximum = 10000)]
    draws: Option<u32>,
    /// Monte Carlo seed (default 42): the same seed gives the same intervals.
    #[param(minimum = 0)]
    seed: Option<i64>,
}

/// One product's full result for a buyer: both scores with their components
/// and contributions, the chokepoint and binding stage, years to displace,
/// export-control pressure, coverage, conflicts, the facts used with their
/// sources, the parameters and the methodology version.
#[utoipa::path(tag = "scores",
    params(("product" = String, Path, example = "sintered-ndfeb-magnet"), ScoreParams, AsOfQuery, DetailQuery),
    responses(
        (status = 200, body = ScoreDetail, headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 304, description = "Not modified since the `If-None-Match` ETag"),
        NotFound, AccessErrors, QueryErrors),
    security((), ("bearer" = ["read"])))]
#[get("/scores/{product}")]
pub async fn get_score(
    req: HttpRequest,
    live: web::Data<LiveScores>,
    _reader: Reader,
    product: web::Path<String>,
    score: Query<ScoreParams>,
    as_of: Query<AsOfQuery>,
    detail: Query<DetailQuery>,
) -> Result<HttpResponse, ApiError> {
    let state = live.state();
    let product = product_id(&product)?;
    let request = ScoreRequest::parse(&score.0, as_of.0.as_of, &state, US)?;
    let detail = detail.0;
    let draws = detail.draws.unwrap_or(DEFAULT_DRAWS);
    if !(100..=10_000).contains(&draws) {
        return Err(ApiError::invalid_parameter(
            "draws",
            "query",
            "must be between 100 and 10000",
        ));
    }
    let seed = u64::try_from(detail.seed.unwrap_or(42)).map_err(|_| {
        ApiError::invalid_parameter("seed", "query", "must be between 0 and 2^63 - 1")
    })?;
    let with_uncertainty = detail.uncertainty.unwrap_or(false);
    let extra = format!("{with_uncertainty}|{draws}|{seed}");
    let tag = etag(&state, "one", product.as_str(), &request.canonical, &extra);
    if not_modified(&req, &tag) {
        return cached(&req, tag, request.is_immutable(&state), || {
            unreachable!("answered 304")
        });
    }
    let uncertainty = if with_uncertainty {
        let params = request.params;
        let snapshot = snapshot_for(&live, &state, params).await?;
        let id = product.clone();
        let key = format!(
            "{}|mc|{}|{}|{draws}|{seed}",
            state.version, product, request.canonical
        );
        computed(&live, key, move || {
            scoring::uncertainty(&snapshot, &id, &params, draws, seed)
        })
        .await?
    } else {
        None
    };
    let current = state
        .current(request.params.buyer)
        .filter(|_| request.current);
    let body = match (current, &uncertainty) {
        // The current score, with or without intervals: explained at its
        // instant and rendered once per state and question while it stays
        // in the cache.
        (Some(_), intervals) => {
            let key = format!(
                "{}|{}|current|{}|{}|{extra}",
                state.version,
                state.computed_at.unix_timestamp_nanos(),
                product,
                request.canonical
            );
            let (state, buyer, id) = (state.clone(), request.params.buyer, product.clone());
            let intervals = intervals.clone();
            let body = computed(&live, key, move || {
                let score = state.explained(buyer, &id)?;
                Some(
                    ScoreDetail {
                        score: &score,
                        uncertainty: intervals.as_deref(),
                    }
                    .render()
                    .map_err(|e| format!("{e:?}")),
                )
            })
            .await?
            .ok_or_else(|| unknown_product(&product))?;
            body.as_ref()
                .clone()
                .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?
        }
        (None, _) => {
            let params = request.params;
            let snapshot = snapshot_for(&live, &state, params).await?;
            let id = product.clone();
            let score = computed(
                &live,
                format!("{}|one|{}|{}", state.version, product, request.canonical),
                move || scoring::score_product(&snapshot, &id, &params),
            )
            .await?
            .ok_or_else(|| unknown_product(&product))?;
            ScoreDetail {
                score: &score,
                uncertainty: uncertainty.as_deref(),
            }
            .render()?
        }
    };
    cached(&req, tag, request.is_immutable(&state), move || {
        Ok(HttpResponse::Ok()
            .content_type("application/json")
            .body(body))
    })
}

/// The European Commission's supply-risk indicator (JRC methodology of the
/// 2023 CRM list) on the same facts, as a cross-check, with every component.
/// The buyer defaults to `EU`.
#[utoipa::path(tag = "scores",
    params(("product" = String, Path, example = "ndpr-oxide"), ScoreParams, AsOfQuery),
    responses(
        (status = 200, body = EuCrmResult, headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 304, description = "Not modified since the `If-None-Match` ETag"),
        NotFound, AccessErrors, QueryErrors),
    security((), ("bearer" = ["read"])))]
#[get("/scores/{product}/eu-crm")]
pub async fn get_eu_crm(
    req: HttpRequest,
    live: web::Data<LiveScores>,
    _reader: Reader,
    product: web::Path<String>,
    score: Query<ScoreParams>,
    as_of: Query<AsOfQuery>,
) -> Result<HttpResponse, ApiError> {
    let state = live.state();
    let product = product_id(&product)?;
    let request = ScoreRequest::parse(&score.0, as_of.0.as_of, &state, Buyer::Eu)?;
    let tag = etag(&state, "eu-crm", product.as_str(), &request.canonical, "");
    let past = request.is_immutable(&state);
    let params = request.params;
    let snapshot = snapshot_for(&live, &state, params).await?;
    let id = product.clone();
    let value = computed(
        &live,
        format!("{}|crm|{}|{}", state.version, product, request.canonical),
        move || scoring::eu_crm(&snapshot, &id, &params),
    )
    .await?
    .ok_or_else(|| unknown_product(&product))?;
    cached(&req, tag, past, move || render::json(&*value))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// First date (YYYY-MM-DD); default five years before `to`.
    #[param(value_type = Option<String>, format = Date)]
    from: Option<String>,
    /// Last date (YYYY-MM-DD); default today.
    #[param(value_type = Option<String>, format = Date)]
    to: Option<String>,
    /// `year` (default), `quarter` or `month`.
    #[param(value_type = Option<Step>)]
    step: Option<Step>,
}

/// A history's instants: `from`, `to` and `step` checked, with defaults.
pub(super) struct HistoryRange {
    pub from: Date,
    pub to: Date,
    pub step: Step,
    pub instants: Vec<time::OffsetDateTime>,
}

impl HistoryRange {
    /// The range `history` asks for on `state`, of at most `max_points`.
    pub fn parse(
        history: &HistoryQuery,
        state: &State,
        max_points: usize,
    ) -> Result<HistoryRange, ApiError> {
        let date = |name: &str, value: &Option<String>| -> Result<Option<Date>, ApiError> {
            value
                .as_deref()
                .map(|v| {
                    Date::parse(v, time::macros::format_description!("[year]-[month]-[day]"))
                        .map_err(|_| {
                            ApiError::invalid_parameter(
                                name,
                                "query",
                                format!("`{v}` is not a YYYY-MM-DD date"),
                            )
                        })
                })
                .transpose()
        };
        let to = date("to", &history.to)?.unwrap_or(state.computed_at.date());
        let from = date("from", &history.from)?
            .unwrap_or_else(|| to.replace_year(to.year() - 5).unwrap_or(to));
        if from > to {
            return Err(ApiError::invalid_parameter(
                "from",
                "query",
                "must not be after `to`",
            ));
        }
        let step = history.step.unwrap_or(Step::Year);
        let instants = summary::steps(from, to, step);
        if instants.len() > max_points {
            return Err(ApiError::invalid_parameter(
                "step",
                "query",
                format!(
                    "{} points; at most {max_points}: use a coarser step or a shorter range",
                    instants.len()
                ),
            ));
        }
        Ok(HistoryRange {
            from,
            to,
            step,
            instants,
        })
    }

    /// The range in ETags and cache keys.
    pub fn key(&self) -> String {
        format!("{}|{}|{}", self.from, self.to, self.step.as_str())
    }

    /// The snapshot each instant is scored on (see [`snapshot_for`]).
    pub async fn snapshots(
        &self,
        live: &web::Data<LiveScores>,
        state: &Arc<State>,
        params: Params,
    ) -> Result<Vec<Arc<Snapshot>>, ApiError> {
        let mut snapshots = Vec::with_capacity(self.instants.len());
        for &as_of in &self.instants {
            snapshots.push(snapshot_for(live, state, Params { as_of, ..params }).await?);
        }
        Ok(snapshots)
    }
}

/// Most points one history returns.
const MAX_HISTORY_POINTS: usize = 400;

/// The scores recomputed at each step (the end of each year, quarter or
/// month) from the facts as the service knew them then, for trend charts.
#[utoipa::path(tag = "scores",
    params(("product" = String, Path, example = "sintered-ndfeb-magnet"), ScoreParams, HistoryQuery),
    responses(
        (status = 200, body = History, headers(("ETag" = String), ("Cache-Control" = String))),
        NotFound, AccessErrors, QueryErrors),
    security((), ("bearer" = ["read"])))]
#[get("/scores/{product}/history")]
pub async fn get_history(
    req: HttpRequest,
    live: web::Data<LiveScores>,
    _reader: Reader,
    product: web::Path<String>,
    score: Query<ScoreParams>,
    history: Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    let state = live.state();
    let product = product_id(&product)?;
    let request = ScoreRequest::parse(&score.0, None, &state, US)?;
    let range = HistoryRange::parse(&history.0, &state, MAX_HISTORY_POINTS)?;
    let tag = etag(
        &state,
        "history",
        product.as_str(),
        &request.canonical,
        &range.key(),
    );
    let params = request.params;
    let snapshots = range.snapshots(&live, &state, params).await?;
    let id = product.clone();
    let key = format!(
        "{}|history|{}|{}|{}",
        state.version,
        product,
        request.canonical,
        range.key()
    );
    let (step, instants) = (range.step, range.instants);
    let value = computed(&live, key, move || {
        summary::history(&id, &params, step, &instants, |at| {
            let point = instants.iter().position(|t| *t == at)?;
            Some(snapshots[point].clone())
        })
    })
    .await?
    .ok_or_else(|| unknown_product(&product))?;
    cached(&req, tag, false, move || render::json(&*value))
}
