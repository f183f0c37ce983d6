//! The backtest: would the scores have warned a buyer before China's export
//! controls? For each documented event, every catalogued product is scored
//! for each targeted buyer as the world knew it `lead_days` before the
//! announcement (view `public`), by the service's method and by simpler
//! methods on the same facts, and the products the event then hit are
//! ranked among all products. Pure like the method: a snapshot and a
//! request in, a report out. `docs/validation.md` describes it.

pub mod metrics;
pub mod table;

use std::collections::HashMap;

use serde::Serialize;
use time::{Date, Duration, Month};
use utoipa::ToSchema;

use crate::domain::{
    AsOf, Buyer, ControlEvent, CountryCode, Measure, Metric, Period, ProductId, View,
};
use crate::scoring::{self, Origin, Params, ProductScore, ShareBasis, Snapshot};
use metrics::{Estimate, Ranking};

/// Days between the scores read and an event's announcement, by default.
pub const DEFAULT_LEAD_DAYS: u32 = 30;
/// The longest lead time a backtest takes: ten years.
pub const MAX_LEAD_DAYS: u32 = 3650;
/// The buyers scored when a request names none.
pub const DEFAULT_BUYERS: [&str; 3] = ["US", "EU", "JP"];
/// Events announced before this year get the trade outcome: the year after
/// them is in the trade data.
pub const TRADE_OUTCOME_BEFORE: i32 = 2024;

/// The events shipped with the service (`data/events/events.ndjson`).
pub fn shipped_events() -> Vec<ControlEvent> {
    read_events(include_str!("../../data/events/events.ndjson")).expect("the shipped events parse")
}

/// Events in the shipped format, one JSON object a line (blank lines
/// skipped); the error names the line.
pub fn read_events(text: &str) -> Result<Vec<ControlEvent>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

/// A way of ranking products by risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The service's dependency (0–100, headline aggregation).
    Dependency,
    /// The service's displacement difficulty (0–100).
    Difficulty,
    /// √(dependency × difficulty): high only where both are.
    Combined,
    /// China's share of the product's own stage (production, capacity or
    /// market shares as resolved), in percent.
    ChinaProductionShare,
    /// The Herfindahl–Hirschman index of the product's own stage.
    StageHhi,
    /// The EU CRM supply risk (2023 method) of the product's chain.
    EuCrmSupplyRisk,
}

impl Method {
    pub const ALL: [Method; 6] = [
        Method::Dependency,
        Method::Difficulty,
        Method::Combined,
        Method::ChinaProductionShare,
        Method::StageHhi,
        Method::EuCrmSupplyRisk,
    ];
    /// The simple method every other is compared with.
    pub const REFERENCE: Method = Method::ChinaProductionShare;

    fn index(self) -> usize {
        Method::ALL.iter().position(|m| *m == self).expect("listed")
    }

    /// Whether the method is the service's own.
    pub fn is_the_services(self) -> bool {
        matches!(
            self,
            Method::Dependency | Method::Difficulty | Method::Combined
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Dependency => "dependency",
            Method::Difficulty => "difficulty",
            Method::Combined => "combined",
            Method::ChinaProductionShare => "china_production_share",
            Method::StageHhi => "stage_hhi",
            Method::EuCrmSupplyRisk => "eu_crm_supply_risk",
        }
    }

    /// Each method's figure for one product.
    fn figures(score: &ProductScore, eu_crm: Option<f64>) -> Figures {
        let dependency = score.dependency.score;
        let difficulty = score.difficulty.score;
        let stage = &score.dependency.china_share;
        let recorded = stage.basis != ShareBasis::None;
        let china = recorded.then(|| {
            100.0
                * stage
                    .countries
                    .iter()
                    .find(|c| c.country == CountryCode::CN)
                    .map_or(0.0, |c| c.share)
        });
        [
            dependency,
            Some(difficulty),
            dependency.map(|d| (d * difficulty).sqrt()),
            china,
            recorded.then_some(stage.hhi),
            eu_crm,
        ]
    }
}

/// What to backtest.
#[derive(Debug, Clone)]
pub struct Backtest {
    pub events: Vec<ControlEvent>,
    /// Whether the events are the shipped set, whose products may be
    /// missing from a smaller catalogue and whose early events may precede
    /// the data: those are reported, not refused.
    pub shipped: bool,
    pub lead_days: u32,
    pub buyers: Vec<Buyer>,
}

impl Backtest {
    /// The shipped events for the default buyers and lead time.
    pub fn shipped() -> Backtest {
        Backtest {
            events: shipped_events(),
            shipped: true,
            lead_days: DEFAULT_LEAD_DAYS,
            buyers: default_buyers(),
        }
    }

    /// The rules a caller's request must keep, against the snapshot it runs
    /// on, each as (JSON Pointer, message); empty when it may run.
    pub fn problems(&self, snapshot: &Snapshot) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if !(1..=MAX_LEAD_DAYS).contains(&self.lead_days) {
            problems.push((
                "/lead_days".into(),
                format!("must be between 1 and {MAX_LEAD_DAYS} days (ten years)"),
            ));
        }
        if self.buyers.is_empty() {
            problems.push(("/buyers".into(), "must name at least one buyer".into()));
        }
        if self.events.is_empty() {
            problems.push(("/events".into(), "must hold at least one event".into()));
        }
        if self.shipped {
            return problems;
        }
        let earliest = earliest_supply_publication(snapshot);
        let mut seen = HashMap::new();
        for (i, event) in self.events.iter().enumerate() {
            let at = |field: &str| format!("/events/{i}{field}");
            if let Some(first) = seen.insert(event.id.clone(), i) {
                problems.push((at("/id"), format!("repeats the id of /events/{first}")));
            }
            problems.extend(event.problems().into_iter().map(|(f, m)| (at(&f), m)));
            for (j, product) in event.products.iter().enumerate() {
                if snapshot.product(product).is_none() {
                    problems.push((
                        at(&format!("/products/{j}")),
                        format!("product `{product}` is not in the catalogue"),
                    ));
                }
            }
            let scored_on = scored_on(event, self.lead_days);
            match earliest {
                Some(first) if scored_on >= first => {}
                _ => problems.push((
                    at("/announced_on"),
                    format!(
                        "scored on {scored_on} ({} days before), before any supply fact (production, capacity, market, export or import shares) was published ({})",
                        self.lead_days,
                        earliest.map_or("none is stored".into(), |d| format!("the first on {d}"))
                    ),
                )),
            }
        }
        problems
    }
}

/// [`DEFAULT_BUYERS`].
pub fn default_buyers() -> Vec<Buyer> {
    DEFAULT_BUYERS
        .iter()
        .map(|b| Buyer::parse(b).expect("a buyer"))
        .collect()
}

/// The day an event's scores are read: `lead_days` before its announcement.
pub fn scored_on(event: &ControlEvent, lead_days: u32) -> Date {
    event.announced_on - Duration::days(i64::from(lead_days))
}

/// The facts a dependency can be computed from: a stage's supply, or a
/// buyer's sourcing. Without any, no method but difficulty's defaults has
/// anything to rank.
const SUPPLY_METRICS: [Metric; 5] = [
    Metric::Production,
    Metric::Capacity,
    Metric::MarketShare,
    Metric::ExportShare,
    Metric::ImportShare,
];

/// The day the first supply fact of the snapshot was published.
pub fn earliest_supply_publication(snapshot: &Snapshot) -> Option<Date> {
    snapshot
        .facts()
        .iter()
        .filter(|f| SUPPLY_METRICS.contains(&f.metric))
        .map(|f| f.knowledge.published_on)
        .min()
}

/// A method's figures over a set of rankings.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MethodResult {
    /// The method measured.
    pub method: Method,
    /// Fraction 0–1: the chance that a product the event targeted scored
    /// above one it did not (ties half); 0.5 is chance. `null` without a
    /// ranking.
    pub auc: Option<Estimate>,
    /// Fraction 0–1 of the targeted products in the top tenth of their
    /// buyer's ranking (percentile rank of at least 90).
    pub top_decile_share: Option<Estimate>,
    /// Percentile 0–100 (100 = the highest score of the catalogue): the
    /// median rank of the targeted products.
    pub median_percentile_rank: Option<Estimate>,
    /// AUC minus that of China's production share alone, on the same
    /// resamples; `null` for that method itself.
    pub auc_minus_china_share: Option<Estimate>,
    /// Products of the rankings the method could score (the others rank
    /// below every scored product), summed over the rankings.
    pub products_scored: usize,
}

/// How one service method compares with China's production share alone.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Comparison {
    /// The service method compared.
    pub method: Method,
    /// `better`, `worse`, or `not_distinguishable` when the 95% interval of
    /// the AUC difference contains 0; `no_data` without rankings.
    #[schema(example = "not_distinguishable")]
    pub reading: &'static str,
    /// The finding in a sentence.
    pub summary: String,
}

/// One method's score and rank of a targeted product.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MethodRank {
    /// The method.
    pub method: Method,
    /// The method's figure; `null` when it has none.
    pub score: Option<f64>,
    /// Percentile 0–100 within the buyer's ranking.
    pub percentile_rank: f64,
}

/// A targeted product as the methods ranked it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TargetedProduct {
    /// The targeted product.
    pub product: ProductId,
    /// Its score and percentile rank under each method.
    pub ranks: Vec<MethodRank>,
}

/// One buyer's ranking for one event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BuyerRanking {
    /// Whom the catalogue was scored for.
    pub buyer: Buyer,
    /// Products ranked: the whole catalogue.
    pub products: usize,
    /// The products the event targeted, as each method ranked them.
    pub targeted: Vec<TargetedProduct>,
}

/// One event's result.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventResult {
    #[schema(value_type = String)]
    /// The event's id.
    pub id: crate::domain::SourceId,
    /// What was restricted.
    pub title: String,
    /// The kind of measure.
    pub measure: Measure,
    #[schema(value_type = String, format = Date)]
    /// `YYYY-MM-DD`: the announcement.
    pub announced_on: Date,
    /// `YYYY-MM-DD`: the day the scores were read (view `public`).
    #[schema(value_type = String, format = Date)]
    pub scored_on: Date,
    /// Whether the event was ranked; see `not_evaluated` otherwise.
    pub evaluated: bool,
    /// Why not, when it was not.
    pub not_evaluated: Option<String>,
    /// Products the event covers that the catalogue lacks (left out).
    pub not_catalogued: Vec<ProductId>,
    /// The targeted buyers among those requested, one ranking each.
    pub rankings: Vec<BuyerRanking>,
    /// Each method over this event's rankings.
    pub results: Vec<MethodResult>,
}

/// One targeted product's imports from China around an early event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TradePoint {
    #[schema(value_type = String)]
    /// The event's id.
    pub event: crate::domain::SourceId,
    /// The targeted buyer.
    pub buyer: Buyer,
    /// The targeted product.
    pub product: ProductId,
    /// Fraction 0–1: China's share of the buyer's imports the year before
    /// the announcement.
    pub share_before: f64,
    /// Fraction 0–1: the same the year after.
    pub share_after: f64,
    /// Fraction −1 to 1: `share_after − share_before`.
    pub change: f64,
}

/// A method's scores against the change in imports from China.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TradeCorrelation {
    /// The method.
    pub method: Method,
    /// Spearman's ρ, −1 to 1, between the method's score and the change;
    /// negative when higher scores preceded larger falls. `null` below
    /// three points.
    pub spearman: Option<Estimate>,
    /// Points with a score by this method.
    pub points: usize,
}

/// The second outcome: did imports from China fall where scores were high?
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TradeOutcome {
    /// What is measured, in words.
    pub description: String,
    /// Every (event, buyer, product) with both years recorded.
    pub points: Vec<TradePoint>,
    /// Each method's scores against the changes.
    pub correlations: Vec<TradeCorrelation>,
}

/// The backtest's result.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Report {
    /// The method that produced the service's scores.
    #[schema(example = "2026.6")]
    pub methodology_version: &'static str,
    /// Days between the scores read and each announcement.
    pub lead_days: u32,
    /// The buyers scored; each event is ranked for those it targets.
    pub buyers: Vec<Buyer>,
    /// Bootstrap resamples behind every interval (seeded: the same data
    /// give the same intervals).
    pub resamples: usize,
    /// Each method over every evaluated ranking of every event (AUC pairs
    /// are formed within a ranking, never across dates or buyers); a
    /// product a method cannot score ranks below those it can.
    pub pooled: Vec<MethodResult>,
    /// The service's methods against China's production share alone, on
    /// `pooled`.
    pub comparisons: Vec<Comparison>,
    /// The same, like for like: each ranking kept to the products every
    /// method scores.
    pub pooled_scored_by_all: Vec<MethodResult>,
    /// The service's methods against China's production share alone, on
    /// `pooled_scored_by_all`.
    pub comparisons_scored_by_all: Vec<Comparison>,
    /// Every event, in the order given, ranked or with why not.
    pub events: Vec<EventResult>,
    /// For events announced before 2024.
    pub trade_outcome: TradeOutcome,
}

/// Each method's figure for one product, in `Method::ALL`'s order.
type Figures = [Option<f64>; 6];

/// (buyer, targeted product) → its figures, for one event.
type TargetFigures = HashMap<(Buyer, ProductId), Figures>;

/// One event's rankings and what they hold.
struct Ranked {
    rankings: Vec<Ranking>,
    buyers: Vec<BuyerRanking>,
    figures: TargetFigures,
}

/// Runs the backtest. The request must have no [`Backtest::problems`].
pub fn run(snapshot: &Snapshot, backtest: &Backtest) -> Report {
    let earliest = earliest_supply_publication(snapshot);
    let mut all_rankings = Vec::new();
    let mut events = Vec::new();
    let mut figures_by_event = HashMap::new();
    for event in &backtest.events {
        let scored_on = scored_on(event, backtest.lead_days);
        let (products, not_catalogued): (Vec<&ProductId>, Vec<&ProductId>) = event
            .products
            .iter()
            .partition(|p| snapshot.product(p).is_some());
        let buyers: Vec<Buyer> = backtest
            .buyers
            .iter()
            .copied()
            .filter(|b| event.targets.includes(*b))
            .collect();
        let why_not = if earliest.is_none_or(|first| scored_on < first) {
            Some(format!(
                "no supply fact (production, capacity, market, export or import shares) had been published by {scored_on}"
            ))
        } else if products.is_empty() {
            Some("none of its products is in the catalogue".to_owned())
        } else if buyers.is_empty() {
            Some("it targets none of the buyers requested".to_owned())
        } else {
            None
        };
        let mut result = EventResult {
            id: event.id.clone(),
            title: event.title.clone(),
            measure: event.measure,
            announced_on: event.announced_on,
            scored_on,
            evaluated: why_not.is_none(),
            not_evaluated: why_not,
            not_catalogued: not_catalogued.into_iter().cloned().collect(),
            rankings: Vec::new(),
            results: Vec::new(),
        };
        if result.evaluated {
            let ranked = rank(snapshot, scored_on, &buyers, &products);
            result.results = method_results(&ranked.rankings);
            result.rankings = ranked.buyers;
            all_rankings.extend(ranked.rankings);
            figures_by_event.insert(event.id.clone(), ranked.figures);
        }
        events.push(result);
    }
    let pooled = method_results(&all_rankings);
    let like_for_like: Vec<Ranking> = all_rankings
        .iter()
        .map(Ranking::scored_by_every_method)
        .collect();
    let pooled_scored_by_all = method_results(&like_for_like);
    Report {
        methodology_version: scoring::METHODOLOGY_VERSION,
        lead_days: backtest.lead_days,
        buyers: backtest.buyers.clone(),
        resamples: metrics::RESAMPLES,
        comparisons: comparisons(&pooled),
        pooled,
        comparisons_scored_by_all: comparisons(&pooled_scored_by_all),
        pooled_scored_by_all,
        events,
        trade_outcome: trade_outcome(snapshot, backtest, &figures_by_event),
    }
}

/// Scores the catalogue for each buyer on `day` and ranks it.
fn rank(snapshot: &Snapshot, day: Date, buyers: &[Buyer], targeted: &[&ProductId]) -> Ranked {
    let mut params = Params::new(buyers[0], AsOf::end_of(day).0);
    params.view = View::Public;
    let mut scorer = scoring::Scorer::new(snapshot, &params);
    let catalogue: Vec<&ProductId> = snapshot.products().iter().map(|p| &p.id).collect();
    let is_targeted: Vec<bool> = catalogue.iter().map(|id| targeted.contains(id)).collect();
    let mut ranked = Ranked {
        rankings: Vec::new(),
        buyers: Vec::new(),
        figures: HashMap::new(),
    };
    for &buyer in buyers {
        params.buyer = buyer;
        let scores: HashMap<ProductId, ProductScore> = scorer
            .headline_scores(&params)
            .into_iter()
            .map(|s| (s.product.clone(), s))
            .collect();
        let figures: Vec<Figures> = catalogue
            .iter()
            .map(|id| {
                let eu_crm = scoring::eu_crm(snapshot, id, &params).and_then(|r| r.supply_risk);
                Method::figures(&scores[*id], eu_crm)
            })
            .collect();
        let ranking = Ranking {
            scores: (0..Method::ALL.len())
                .map(|m| figures.iter().map(|f| f[m]).collect())
                .collect(),
            targeted: (0..catalogue.len()).filter(|&i| is_targeted[i]).collect(),
            others: (0..catalogue.len()).filter(|&i| !is_targeted[i]).collect(),
        };
        let targeted_products = ranking
            .targeted
            .iter()
            .map(|&i| TargetedProduct {
                product: catalogue[i].clone(),
                ranks: Method::ALL
                    .iter()
                    .map(|m| MethodRank {
                        method: *m,
                        score: figures[i][m.index()],
                        percentile_rank: metrics::percentile_rank(&ranking.scores[m.index()], i),
                    })
                    .collect(),
            })
            .collect();
        for &i in &ranking.targeted {
            ranked
                .figures
                .insert((buyer, catalogue[i].clone()), figures[i]);
        }
        ranked.buyers.push(BuyerRanking {
            buyer,
            products: catalogue.len(),
            targeted: targeted_products,
        });
        ranked.rankings.push(ranking);
    }
    ranked
}

fn method_results(rankings: &[Ranking]) -> Vec<MethodResult> {
    let scored = metrics::evaluate(rankings, Method::ALL.len(), Method::REFERENCE.index());
    Method::ALL
        .iter()
        .zip(scored)
        .map(|(method, scored)| MethodResult {
            method: *method,
            auc: scored.map(|s| s.auc),
            top_decile_share: scored.map(|s| s.top_decile),
            median_percentile_rank: scored.map(|s| s.median_percentile),
            auc_minus_china_share: scored
                .and_then(|s| s.auc_versus_reference)
                .filter(|_| *method != Method::REFERENCE),
            products_scored: rankings
                .iter()
                .map(|r| {
                    let scores = &r.scores[method.index()];
                    r.targeted
                        .iter()
                        .chain(&r.others)
                        .filter(|&&p| scores[p].is_some())
                        .count()
                })
                .sum(),
        })
        .collect()
}

fn comparisons(pooled: &[MethodResult]) -> Vec<Comparison> {
    pooled
        .iter()
        .filter(|r| r.method.is_the_services())
        .map(|r| {
            let reference = pooled
                .iter()
                .find(|p| p.method == Method::REFERENCE)
                .and_then(|p| p.auc);
            let (reading, summary) = match (r.auc, reference, r.auc_minus_china_share) {
                (Some(auc), Some(reference), Some(difference)) => {
                    let reading = if difference.low > 0.0 {
                        "better"
                    } else if difference.high < 0.0 {
                        "worse"
                    } else {
                        "not_distinguishable"
                    };
                    let verdict = match reading {
                        "better" => "ranks the targeted products better than",
                        "worse" => "ranks the targeted products worse than",
                        _ => "is not distinguishable, on these events, from",
                    };
                    (
                        reading,
                        format!(
                            "{} (AUC {:.2}) {verdict} China's production share alone (AUC {:.2}): difference {:+.2}, 95% interval {:+.2} to {:+.2}",
                            r.method.as_str(), auc.value, reference.value, difference.value, difference.low, difference.high
                        ),
                    )
                }
                _ => ("no_data", format!("{}: no event could be ranked", r.method.as_str())),
            };
            Comparison {
                method: r.method,
                reading,
                summary,
            }
        })
        .collect()
}

/// The end of `year` in the view that knows every fact recorded now: the
/// trade of that year as the data show it today.
fn year_end(year: i32) -> Params {
    let day = Date::from_calendar_date(year, Month::December, 31).expect("a valid date");
    let mut params = Params::new(Buyer::Eu, AsOf::end_of(day).0);
    params.view = View::Current;
    params
}

fn mid_year(year: i32) -> Date {
    Date::from_calendar_date(year, Month::July, 1).expect("a valid date")
}

fn trade_outcome(
    snapshot: &Snapshot,
    backtest: &Backtest,
    figures_by_event: &HashMap<crate::domain::SourceId, TargetFigures>,
) -> TradeOutcome {
    let mut points = Vec::new();
    let mut pairs: Vec<Vec<(f64, f64)>> = vec![Vec::new(); Method::ALL.len()];
    let import_periods: HashMap<i64, Period> = snapshot
        .facts()
        .iter()
        .filter(|f| f.metric == Metric::ImportShare)
        .map(|f| (f.id, f.period))
        .collect();
    for event in &backtest.events {
        let year = event.announced_on.year();
        if year >= TRADE_OUTCOME_BEFORE {
            continue;
        }
        let products: Vec<&ProductId> = event
            .products
            .iter()
            .filter(|p| snapshot.product(p).is_some())
            .collect();
        let buyers = backtest
            .buyers
            .iter()
            .filter(|b| event.targets.includes(**b));
        let (mut before, mut after) = (year_end(year - 1), year_end(year + 1));
        let mut before_scorer = scoring::Scorer::new(snapshot, &before);
        let mut after_scorer = scoring::Scorer::new(snapshot, &after);
        for &buyer in buyers {
            before.buyer = buyer;
            after.buyer = buyer;
            let shares = |scorer: &mut scoring::Scorer, params: &Params| {
                let year = params.as_of.year();
                scorer
                    .headline_scores_of(products.iter().copied(), params)
                    .into_iter()
                    .filter_map(|s| {
                        let china = &s.dependency.exposure.import_share_china;
                        // Only that year's trade: a later year stands in for
                        // none, and a fact of an earlier one is no change.
                        let of_the_year = !china.fact_ids.is_empty()
                            && china.fact_ids.iter().all(|id| {
                                import_periods
                                    .get(id)
                                    .is_some_and(|p| p.contains(mid_year(year)))
                            });
                        (china.origin == Origin::Facts && of_the_year)
                            .then(|| (s.product.clone(), china.value))
                    })
                    .collect::<HashMap<ProductId, f64>>()
            };
            let (shares_before, shares_after) = (
                shares(&mut before_scorer, &before),
                shares(&mut after_scorer, &after),
            );
            for product in &products {
                let (Some(&share_before), Some(&share_after)) =
                    (shares_before.get(*product), shares_after.get(*product))
                else {
                    continue;
                };
                let change = share_after - share_before;
                if let Some(figures) = figures_by_event
                    .get(&event.id)
                    .and_then(|f| f.get(&(buyer, (*product).clone())))
                {
                    for (m, figure) in figures.iter().enumerate() {
                        if let Some(score) = figure {
                            pairs[m].push((*score, change));
                        }
                    }
                }
                points.push(TradePoint {
                    event: event.id.clone(),
                    buyer,
                    product: (*product).clone(),
                    share_before,
                    share_after,
                    change,
                });
            }
        }
    }
    TradeOutcome {
        description: format!(
            "For each event announced before {TRADE_OUTCOME_BEFORE}, each targeted buyer and product: China's share of the buyer's imports in the trade data as known today, the year after the announcement minus the year before, against each method's score read for the backtest (only where import shares of both years are recorded)."
        ),
        correlations: Method::ALL
            .iter()
            .map(|m| TradeCorrelation {
                method: *m,
                spearman: metrics::spearman_estimate(&pairs[m.index()]),
                points: pairs[m.index()].len(),
            })
            .collect(),
        points,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> Vec<String> {
        [
            "data/baseline/products.ndjson",
            "data/public/products.ndjson",
        ]
        .iter()
        .flat_map(|file| {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
            let text = std::fs::read_to_string(path).expect("the catalogue");
            text.lines()
                .map(|line| {
                    let product: serde_json::Value = serde_json::from_str(line).unwrap();
                    product["id"].as_str().unwrap().to_owned()
                })
                .collect::<Vec<_>>()
        })
        .collect()
    }

    #[test]
    fn the_shipped_events_keep_every_rule_and_name_catalogued_products() {
        let events = shipped_events();
        let catalogue = catalogue();
        let mut ids = std::collections::HashSet::new();
        for event in &events {
            assert!(ids.insert(event.id.clone()), "{} twice", event.id.as_str());
            assert_eq!(
                event.problems(),
                Vec::<(String, String)>::new(),
                "{event:?}"
            );
            for product in &event.products {
                assert!(catalogue.iter().any(|p| p == product.as_str()), "{product}");
            }
        }
        // The events the backtest must cover.
        for id in [
            "2010-rare-earth-quota-cut",
            "2010-rare-earth-shipments-to-japan-halted",
            "2023-gallium-germanium-licensing",
            "2023-graphite-licensing",
            "2023-rare-earth-technology-export-ban",
            "2024-antimony-licensing",
            "2024-us-gallium-germanium-antimony-ban",
            "2025-tungsten-tellurium-bismuth-molybdenum-indium-licensing",
            "2025-medium-heavy-rare-earth-licensing",
            "2025-overseas-rare-earth-items-licensing",
        ] {
            assert!(events.iter().any(|e| e.id.as_str() == id), "{id}");
        }
    }

    #[test]
    fn events_read_back_as_written() {
        let events = shipped_events();
        let text: String = events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap() + "\n")
            .collect();
        assert_eq!(read_events(&text).unwrap(), events);
        let error = read_events("\n{\"id\": 1}\n").unwrap_err();
        assert!(error.starts_with("line 2:"), "{error}");
    }
}
