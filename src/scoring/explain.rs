//! The explained result: every number with where it came from.

use std::borrow::Cow;

use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::dependency::{
    china_controlled_fraction, country_share, scaled_wgi, supply_rows, trade_restriction, Excess,
    ShareBasis, DEFAULT_IMPORT_RELIANCE, DEFAULT_WGI_SCALED,
};
use super::difficulty::{scale_basis, volume_to_replace, Origin, ScaleBasis, MATERIAL_DEPENDENCY};
use super::engine::{binding_path, Node, Visit};
use super::network::{Place, Route, Via};
use super::params::{Chain, Params, COMPONENT_NAMES};
use super::resolve::{ControlValue, Resolved};
use super::snapshot::Snapshot;
use super::METHODOLOGY_VERSION;
use crate::domain::{
    Buyer, CountryCode, FactStatus, Metric, Period, ProductId, SourceId, SourceKind, Stage,
    ValueKind,
};

/// A fact behind a number.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FactRef {
    /// The fact's id (`GET /v1/facts/{id}`); negative for a scenario's
    /// hypothetical facts.
    #[schema(example = 1042)]
    pub id: i64,
    /// The source the fact cites.
    #[schema(value_type = String, example = "usgs-mcs-2025-rare-earths")]
    pub source_id: SourceId,
    /// The kind of that source, which sets its default reliability.
    pub source_kind: SourceKind,
    /// Fraction 0–1: the fact's own confidence, or its source's reliability
    /// when it gave none. Monte Carlo draws give the value a relative
    /// standard deviation of `0.5 · (1 − confidence)`.
    #[schema(example = 0.9)]
    pub confidence: f64,
}

/// A qualitative fact about the product or an input upstream of it (a
/// project and its phase, a policy target): shown beside the scores, which
/// it does not move, so an analyst sees the claims next to the numbers.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Evidence {
    /// The product the fact is about.
    pub product: ProductId,
    /// Its stage.
    pub stage: Stage,
    /// About an input upstream rather than the product itself.
    pub upstream: bool,
    /// `project` or `policy_target`.
    pub metric: Metric,
    /// The country the claim is about.
    pub country: Option<CountryCode>,
    /// The project or facility named.
    #[schema(
        example = "China Northern Rare Earth green smelting upgrade project, Baotou (Phase I)"
    )]
    pub facility: Option<String>,
    /// The phase the claim reports: `operating`, `under_construction`,
    /// `planned`, `announced`, `target`...
    pub status: FactStatus,
    /// When the claim applies.
    pub period: Period,
    /// When the claim became public.
    #[schema(value_type = String, format = Date)]
    pub published_on: time::Date,
    /// The fact (its quote is at `GET /v1/facts/{id}`), its source and
    /// confidence.
    pub fact: FactRef,
}

/// An input that fell back to a documented default.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DefaultUsed {
    /// Which input, e.g. `lead_time_years` or `governance_wgi:MM`.
    #[schema(example = "lead_time_years")]
    pub input: String,
    /// The default applied, in the input's own unit: years for
    /// `lead_time_years`, the 0–10 governance scale for `governance_wgi:…`,
    /// a fraction 0–1 for shares and rates, 0 for a missing ban.
    pub value: f64,
    /// Why the default applies and what it assumes.
    pub reason: String,
}

/// Facts for one key and period that differ by more than 20% of their mean.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Conflict {
    /// The metric the facts record.
    pub metric: Metric,
    /// The country of the key; absent for product-wide metrics.
    pub country: Option<CountryCode>,
    /// The facility of the key; absent for a country or product total.
    pub facility: Option<String>,
    /// The buyer of the key; absent for facts that hold for every buyer.
    pub buyer: Option<Buyer>,
    /// The period the facts share.
    pub period: Period,
    /// The facts combined, in the order of `values`.
    pub fact_ids: Vec<i64>,
    /// Each fact's value, in the metric's canonical unit.
    pub values: Vec<f64>,
    /// The confidence-weighted mean that was used, in the metric's unit.
    pub mean: f64,
    /// Fraction (not percent): `(max − min) / |mean|`; above 0.2 is a
    /// conflict.
    #[schema(example = 0.35)]
    pub relative_spread: f64,
}

/// A scalar input with its origin.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Quantity {
    /// The value used, in the unit of the input the enclosing field names.
    pub value: f64,
    /// Whether `value` comes from facts or is a documented default.
    pub origin: Origin,
    /// The facts behind `value`; empty for a default.
    pub fact_ids: Vec<i64>,
}

/// One additive term of a score: contributions add up to the score.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Component {
    /// `own_stage` and `upstream` for dependency; `time`, `scale`, `capital`,
    /// `cost`, `know_how`, `substitution` and `upstream` for difficulty.
    #[schema(example = "time")]
    pub name: &'static str,
    /// The value in its own unit (`unit`), before normalisation; absent
    /// when the component has no fact and no default.
    pub raw: Option<f64>,
    /// The unit of `raw`: `years`, `fraction` (0–1), `USD`, `level` or
    /// `index`.
    #[schema(example = "years")]
    pub unit: &'static str,
    /// Fraction 0–1: `raw` mapped onto the component's scale (see `note`);
    /// for `upstream`, what the chain adds as a fraction of 100 points.
    pub normalised: f64,
    /// Fraction 0–1: the weight asked for (renormalised over all six
    /// difficulty components); 1 for `own_stage` and `upstream`, which add
    /// directly.
    pub weight: f64,
    /// Fraction 0–1: the weight applied (renormalised over the components
    /// present); 0 for a dropped component.
    pub effective_weight: f64,
    /// Points of the 0–100 score: `100 × effective_weight × normalised`
    /// (for `own_stage`, `100·e`; for `upstream`, the score minus the
    /// rest). A score's contributions add up to it.
    pub contribution: f64,
    /// Whether the component rests on facts, a default, or nothing (dropped).
    pub origin: Origin,
    /// The facts behind the component.
    pub fact_ids: Vec<i64>,
    /// How `raw` was obtained and normalised.
    pub note: Cow<'static, str>,
}

/// A country's row in China's share of a stage.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CountryShare {
    /// The producing (for export shares, the exporting) country.
    pub country: CountryCode,
    /// In the unit of `basis`: tonnes per year for production and operating
    /// capacity, a fraction 0–1 of world supply for market shares, of world
    /// exports for export shares.
    pub amount: f64,
    /// Fraction 0–1: the country's share of the stage (`amount` over
    /// `world`, or the published market or export share).
    pub share: f64,
    /// Fraction 0–1 of the country's output under Chinese control (1 for
    /// China itself).
    pub china_controlled: f64,
    /// EU CRM scale 0–10 (0 best governed, 10 worst):
    /// `(2.5 − mean WGI) × 2`; 5 without a fact.
    pub governance_scaled: f64,
    /// Whether `governance_scaled` comes from a `governance_wgi` fact or the
    /// default.
    pub governance_origin: Origin,
    /// EU CRM trade-restriction multiplier, 1–2 (1 = none).
    pub trade_restriction: f64,
    /// The facts behind the row: volume or share, control, governance,
    /// trade restriction.
    pub fact_ids: Vec<i64>,
}

/// China's share `g` of the stage, with its concentration.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ChinaShare {
    /// What the shares are computed from.
    pub basis: ShareBasis,
    /// What `value` is a share of, in words: of the production or capacity
    /// recorded, of world supply, or of world exports.
    #[schema(value_type = String, example = "China's share of world supply as published (market shares)")]
    pub note: Cow<'static, str>,
    /// Fraction 0–1 (not points): `g`, China's share of the stage, Chinese
    /// output plus output abroad that Chinese firms control.
    #[schema(example = 0.92)]
    pub value: f64,
    /// Chinese plus Chinese-controlled amount, in the unit of `amount`
    /// (t/yr, or a fraction for market and export shares).
    pub china: f64,
    /// Sum of the country rows (the denominator), in the unit of `amount`.
    pub world: f64,
    /// The country rows recorded.
    pub countries: Vec<CountryShare>,
    /// Herfindahl–Hirschman index `Σ s²`, shares as fractions: 0–1 (1 =
    /// one supplier), not the 0–10,000 of percentage shares.
    pub hhi: f64,
    /// Governance-weighted `Σ s² · WGI_c · t_c` (EU CRM `HHI_WGI,t`), 0–20
    /// (WGI_c 0–10, t_c 1–2); higher is more concentrated in poorly
    /// governed or restricting countries.
    pub hhi_governance: f64,
}

/// The buyer's exposure at this stage, before the chain.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LocalExposure {
    /// Fraction 0–1: `g`, as `china_share.value`.
    pub china_share: f64,
    /// Fraction 0–1: `m`, China's share of the buyer's imports (0 when
    /// import origins are recorded without China; `g` when none are).
    pub import_share_china: Quantity,
    /// Fraction 0–1: `IR`, the buyer's import reliance (default 1).
    pub import_reliance: Quantity,
    /// Fraction 0–1: `g·IR/2 + m·(1 − IR/2)`, or `g` without the buyer's
    /// import shares.
    pub before_recycling: f64,
    /// Fraction 0–1 of supply from recycled material (default 0).
    pub recycling_input_rate: Quantity,
    /// Fraction 0–1 (not points): `e`, the buyer's exposure at this stage,
    /// `before_recycling × (1 − recycling_input_rate)`.
    pub value: f64,
}

/// One input edge's term in the chain.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct InputTerm {
    /// The upstream product.
    pub product: ProductId,
    /// Its stage.
    pub stage: Stage,
    /// Fraction 0–1 of this product's input needs the input covers.
    pub share: f64,
    /// An essential input cannot be substituted: it passes on its whole
    /// China-free supply.
    pub essential: bool,
    /// Points 0–100: the input's dependency under the chosen chain.
    pub dependency: f64,
    /// Fraction 0–1: the input's China-free supply `f(i)` under the chosen
    /// chain (`1 − dependency/100`).
    pub china_free_supply: f64,
    /// Fraction 0–1: `g_i`, the China-free supply the input lets through,
    /// `f(i)` if essential, else `1 − share·(1 − f(i))`.
    pub term: f64,
    /// Whether this term binds under bottleneck.
    pub binding: bool,
}

/// How a step of a supply path was supplied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PathVia {
    /// The previous step's own country's output.
    Domestic,
    /// Recorded imports from this place.
    Import,
    /// The world market, for what recorded imports leave over (or beyond
    /// recorded reliance).
    WorldMarket,
    /// The world market by default: no sourcing recorded for the buyer of
    /// this step (listed in `defaults_used`).
    WorldMarketDefault,
}

/// One step of a supply path: a place that made or shipped a product.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PathStep {
    /// The product this place made or shipped.
    pub product: ProductId,
    /// A country code, `EU`, or `ROW` for output outside the recorded
    /// producers.
    #[schema(example = "JP")]
    pub place: String,
    /// Fraction 0–1 of the previous step's supply (the buyer's, for the
    /// first step) that this place provides.
    pub share: f64,
    /// How it reached the previous step.
    pub via: PathVia,
    /// The facts behind `share` (the import share, reliance or output it
    /// comes from; none for a world-market remainder) and, at the last
    /// step, behind the place's Chinese control.
    pub fact_ids: Vec<i64>,
}

/// A route of Chinese content from the buyer to the binding stage.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SupplyPath {
    /// From the buyer's supply towards the binding stage.
    pub steps: Vec<PathStep>,
    /// Points 0–100 of the bottleneck dependency this path carries.
    pub points: f64,
    /// The path in words, each step with its share.
    #[schema(example = "US ← JP 24% primary-gallium ← CN 98% primary-gallium")]
    pub summary: String,
}

/// The (product, place) node that bounds the chain.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Chokepoint {
    /// The product whose stage binds the bottleneck chain (the scored
    /// product itself when its own stage does).
    pub product: ProductId,
    /// Its stage.
    pub stage: Stage,
    /// Where the most Chinese content at that stage comes from (the last
    /// place of the heaviest path): `CN`, or a country with
    /// Chinese-controlled output.
    #[schema(example = "CN")]
    pub country: Option<String>,
    /// Points 0–100 (not a fraction): 100 × the Chinese content of the
    /// buyer's supply at that stage, before dilution by substitutable
    /// inputs.
    pub exposure: f64,
    /// From the scored product down to the chokepoint.
    pub path: Vec<ProductId>,
    /// The paths carrying most of the Chinese content at that stage, the
    /// heaviest first; with `other_paths_points` they add up to the
    /// bottleneck dependency.
    pub paths: Vec<SupplyPath>,
    /// Points carried by the paths not listed.
    pub other_paths_points: f64,
}

/// The two chain aggregations' dependencies, lower first.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct ScoreRange {
    /// Points 0–100: the lower of the two (bottleneck's).
    pub low: f64,
    /// Points 0–100: the higher of the two (independent's).
    pub high: f64,
}

/// Dependency (0..100) with its derivation.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DependencyScore {
    /// Points 0–100 under `chain`: the share of the buyer's supply that
    /// passes through Chinese-controlled capacity at this stage or
    /// upstream, `100 · (1 − china_free_supply)`. 0 none, 100 all. The
    /// method defines no low or high bands; its one threshold is 10, from
    /// which an input counts for the difficulty chain.
    /// `null` when no stage of the chain has supply facts (see
    /// `insufficient_data`): missing data is not a dependency of 0.
    #[schema(example = 92.0)]
    pub score: Option<f64>,
    /// The aggregation that gives `score`.
    pub chain: Chain,
    /// Points 0–100 under the bottleneck aggregation; `null` with `score`.
    pub bottleneck: Option<f64>,
    /// Points 0–100 under the independent aggregation (never below
    /// `bottleneck`); `null` with `score`.
    pub independent: Option<f64>,
    /// Points 0–100: from the chosen aggregation to the other; `null` with
    /// `score`.
    pub dependency_range: Option<ScoreRange>,
    /// Fraction 0–1: `f`, the China-free share of supply under the chosen
    /// chain; `null` with `score`.
    pub china_free_supply: Option<f64>,
    /// Fraction 0–1 of the stages of the chain (the product and every
    /// product upstream of it) with supply facts: production, capacity,
    /// market or export shares.
    pub supply_coverage: f64,
    /// Why there is no score, when there is none: no stage of the chain
    /// has supply facts and the buyer records no sourcing of the product.
    pub insufficient_data: Option<String>,
    /// China's share `g` of this product's own stage (a fraction 0–1).
    pub china_share: ChinaShare,
    /// The buyer's exposure `e` at this stage (a fraction 0–1).
    pub exposure: LocalExposure,
    /// Each input's term in the chain.
    pub inputs: Vec<InputTerm>,
    /// `own_stage` (100·e) plus `upstream` (what the chain adds), in points.
    pub components: Vec<Component>,
    /// Under bottleneck; absent when nothing on the chain is Chinese-controlled.
    pub chokepoint: Option<Chokepoint>,
}

/// An input's difficulty as seen by the chain.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct InputDifficulty {
    /// The upstream product.
    pub product: ProductId,
    /// Its stage.
    pub stage: Stage,
    /// Points 0–100: the input's dependency under the chosen chain.
    pub dependency: f64,
    /// Points 0–100: the input's chain difficulty.
    pub difficulty: f64,
    /// Dependency of at least 10: counts for the chain.
    pub material: bool,
    /// Whether this input's difficulty is the product's.
    pub binding: bool,
}

/// The product whose difficulty is the chain's.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Binding {
    /// The product (the scored one when no material input is harder).
    pub product: ProductId,
    /// Its stage.
    pub stage: Stage,
    /// Points 0–100: its own difficulty.
    pub score: f64,
}

/// Displacement difficulty (0..100) with its derivation.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DifficultyScore {
    /// Points 0–100: how hard replacing the Chinese-controlled supply
    /// would be; 100 × a weighted mean of six components each 0–1, and
    /// the chain's `max(own, material inputs')`. The method defines no low
    /// or high bands; read it with `coverage`.
    #[schema(example = 71.5)]
    pub score: f64,
    /// Points 0–100: this stage's own weighted components, before the chain.
    pub own_score: f64,
    /// Fraction 0–1 of the weight backed by facts (defaults and dropped
    /// components do not count).
    pub coverage: f64,
    /// Own components plus `upstream`; contributions add up to `score`.
    pub components: Vec<Component>,
    /// The product whose difficulty is the chain's.
    pub binding: Binding,
    /// From the scored product to the binding one.
    pub binding_path: Vec<ProductId>,
    /// Years: the longest lead time (fact or stage default) on the binding
    /// path.
    pub years_to_displace: f64,
    /// From the scored product to the product whose lead time sets
    /// `years_to_displace`: the product itself, or the material input (at
    /// any depth) that takes longest to replace.
    pub years_path: Vec<ProductId>,
    /// Each input's difficulty and whether it is material.
    pub inputs: Vec<InputDifficulty>,
}

/// An export control in force or suspended at `as_of`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Pressure {
    /// The product the control applies to.
    pub product: ProductId,
    /// Its stage.
    pub stage: Stage,
    /// On an upstream input rather than the product itself.
    pub upstream: bool,
    /// The controlling country.
    pub country: CountryCode,
    /// 1 licensing, 2 ban.
    pub level: u32,
    /// `level` in words: `licensing` or `ban`.
    #[schema(example = "licensing")]
    pub level_label: String,
    /// `in_force` or `suspended` (until the period ends).
    pub status: FactStatus,
    /// When the control (or its suspension) applies.
    pub period: Period,
    /// When the control was announced: its fact's publication date.
    #[schema(value_type = String, format = Date)]
    pub announced_on: time::Date,
    /// For a control announced but not yet in force at `as_of`: the day it
    /// takes effect. Such a control is listed, not counted as in force.
    #[schema(value_type = Option<String>, format = Date)]
    pub takes_effect_on: Option<time::Date>,
    /// The facts recording it.
    pub fact_ids: Vec<i64>,
}

/// Both scores of a product for a buyer at a time, fully explained.
/// Export controls (`pressure`) are reported beside the scores; they do not
/// enter them.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ProductScore {
    /// The product scored.
    pub product: ProductId,
    /// Its stage.
    pub stage: Stage,
    /// Whom the scores are for.
    pub buyer: Buyer,
    /// The instant the facts were read as of.
    #[serde(with = "time::serde::rfc3339")]
    pub as_of: OffsetDateTime,
    /// The method that produced the scores; scores of different versions
    /// are not comparable without recomputing.
    #[schema(example = "2026.6")]
    pub methodology_version: String,
    /// Dependency, 0–100 points, with its derivation.
    pub dependency: DependencyScore,
    /// Displacement difficulty, 0–100 points, with its derivation.
    pub difficulty: DifficultyScore,
    /// Export controls in force or suspended on the product or upstream.
    pub pressure: Vec<Pressure>,
    /// Facts that disagree by more than 20% where they were combined.
    pub conflicts: Vec<Conflict>,
    /// Facts of the product's own stage; inputs' facts are in their scores.
    pub facts_used: Vec<FactRef>,
    /// Inputs of the product's own stage that fell back to a default.
    pub defaults_used: Vec<DefaultUsed>,
    /// Qualitative facts about the product and everything upstream of it,
    /// known at `as_of`, that the scores do not use.
    pub evidence: Vec<Evidence>,
    /// The parameters used, weights renormalised.
    pub params: Params,
}

/// Builds explained scores while a walk goes along the DAG, carrying each
/// product's export controls down to the products made from it.
pub(crate) struct Explainer<'a> {
    snapshot: &'a Snapshot,
    params: &'a Params,
    /// Per product: its own controls, then every control upstream of it.
    pressure: Vec<Vec<Pressure>>,
    /// Per product: its own qualitative facts, then those upstream of it.
    evidence: Vec<Vec<Evidence>>,
    paths: bool,
}

impl<'a> Explainer<'a> {
    pub fn new(snapshot: &'a Snapshot, params: &'a Params) -> Explainer<'a> {
        Explainer {
            snapshot,
            params,
            pressure: vec![Vec::new(); snapshot.products().len()],
            evidence: vec![Vec::new(); snapshot.products().len()],
            paths: true,
        }
    }

    /// An explainer for headline figures only: it leaves the chokepoint's
    /// paths out (and the defaults read off them), the one costly part a
    /// summary does not show.
    pub fn for_summaries(snapshot: &'a Snapshot, params: &'a Params) -> Explainer<'a> {
        Explainer {
            paths: false,
            ..Explainer::new(snapshot, params)
        }
    }

    /// Records the product's pressure (needed by products downstream) and
    /// returns its explained score.
    pub fn explain(&mut self, visit: &Visit<'_>) -> ProductScore {
        self.pass(visit);
        let pressure = self.pressure[visit.product].clone();
        let evidence = self.evidence[visit.product].clone();
        let explanation = Explanation {
            snapshot: self.snapshot,
            params: self.params,
            visit,
            paths: self.paths,
        };
        explanation.product_score(pressure, evidence)
    }

    /// Records only the product's pressure: for a product upstream of those
    /// explained, whose own score is not wanted.
    pub fn pass(&mut self, visit: &Visit<'_>) {
        self.pressure[visit.product] = self.pressure_of(visit);
        self.evidence[visit.product] = self.evidence_of(visit.product);
    }

    /// Own qualitative facts known at `as_of` first, then upstream ones,
    /// each fact once.
    fn evidence_of(&self, position: usize) -> Vec<Evidence> {
        let product = &self.snapshot.products()[position];
        let facts = self.snapshot.facts();
        let mut list: Vec<Evidence> = Metric::ALL
            .iter()
            .filter(|metric| matches!(metric.spec().kind, ValueKind::Qualitative))
            .flat_map(|&metric| self.snapshot.product_facts(position, metric))
            .map(|i| &facts[i])
            .filter(|fact| self.params.view.knows(&fact.knowledge, self.params.as_of))
            .map(|fact| Evidence {
                product: product.id.clone(),
                stage: product.stage,
                upstream: false,
                metric: fact.metric,
                country: fact.country,
                facility: fact.facility.as_deref().map(str::to_owned),
                status: fact.status,
                period: fact.period,
                published_on: fact.knowledge.published_on,
                fact: FactRef {
                    id: fact.id,
                    source_id: fact.source_id.clone(),
                    source_kind: fact.source_kind,
                    confidence: fact.confidence,
                },
            })
            .collect();
        for edge in self.snapshot.edges(position) {
            for upstream in &self.evidence[edge.input] {
                if !list.iter().any(|e| e.fact.id == upstream.fact.id) {
                    list.push(Evidence {
                        upstream: true,
                        ..upstream.clone()
                    });
                }
            }
        }
        list
    }

    /// Own controls first, then upstream ones, each (product, facts) once.
    fn pressure_of(&self, visit: &Visit<'_>) -> Vec<Pressure> {
        let product = &self.snapshot.products()[visit.product];
        let facts = self.snapshot.facts();
        let in_force = visit
            .resolved
            .export_controls
            .iter()
            .filter(|control| control.level > 0)
            .map(|control| (control, false));
        let announced = visit
            .resolved
            .announced_controls
            .iter()
            .map(|control| (control, true));
        let mut list: Vec<Pressure> = in_force
            .chain(announced)
            .filter_map(|(control, announced)| {
                pressure_entry(
                    product.id.clone(),
                    product.stage,
                    control,
                    announced,
                    visit.resolved,
                    facts,
                )
            })
            .collect();
        for edge in self.snapshot.edges(visit.product) {
            for upstream in &self.pressure[edge.input] {
                let seen = list
                    .iter()
                    .any(|p| p.product == upstream.product && p.fact_ids == upstream.fact_ids);
                if !seen {
                    list.push(Pressure {
                        upstream: true,
                        ..upstream.clone()
                    });
                }
            }
        }
        list
    }
}

fn place_code(place: Place) -> String {
    match place {
        Place::At(buyer) => buyer.as_str().to_owned(),
        Place::Rest => "ROW".to_owned(),
    }
}

fn path_via(via: Via) -> PathVia {
    match via {
        Via::Domestic => PathVia::Domestic,
        Via::Import(_) => PathVia::Import,
        Via::WorldMarket => PathVia::WorldMarket,
        Via::Producer(_) | Via::Rest => PathVia::WorldMarketDefault,
    }
}

fn pressure_entry(
    product: ProductId,
    stage: Stage,
    control: &ControlValue,
    announced: bool,
    r: &Resolved,
    facts: &[super::snapshot::SnapshotFact],
) -> Option<Pressure> {
    let control_facts = &r.used[control.facts.clone()];
    let level_label = match Metric::ExportControl.spec().kind {
        crate::domain::ValueKind::Level { labels } => labels
            .get(control.level as usize)
            .copied()
            .unwrap_or("unknown"),
        _ => "unknown",
    };
    Some(Pressure {
        product,
        stage,
        upstream: false,
        // Export controls name their country (validation requires it).
        country: control.country?,
        level: control.level,
        level_label: level_label.to_owned(),
        status: control.status,
        period: control.period,
        announced_on: control_facts
            .iter()
            .map(|&i| facts[i].knowledge.published_on)
            .min()?,
        takes_effect_on: announced.then_some(control.period.start),
        fact_ids: control_facts.iter().map(|&i| facts[i].id).collect(),
    })
}

struct Explanation<'v, 'a> {
    snapshot: &'a Snapshot,
    params: &'a Params,
    visit: &'v Visit<'v>,
    /// Whether to trace the chokepoint's paths (not needed for summaries).
    paths: bool,
}

impl Explanation<'_, '_> {
    fn node(&self, product: usize) -> &Node {
        &self.visit.nodes[product]
    }

    fn product_id(&self, product: usize) -> ProductId {
        self.snapshot.products()[product].id.clone()
    }

    fn stage(&self, product: usize) -> Stage {
        self.snapshot.products()[product].stage
    }

    fn ids(&self, fact_indices: &[usize]) -> Vec<i64> {
        let facts = self.snapshot.facts();
        fact_indices.iter().map(|&i| facts[i].id).collect()
    }

    fn slot_ids(&self, slot: Option<usize>) -> Vec<i64> {
        slot.map_or_else(Vec::new, |s| self.ids(self.visit.resolved.slot_facts(s)))
    }

    fn product_score(&self, pressure: Vec<Pressure>, evidence: Vec<Evidence>) -> ProductScore {
        let product = self.visit.product;
        let r = self.visit.resolved;
        let mut facts_used: Vec<FactRef> = r
            .used
            .iter()
            .map(|&i| {
                let f = &self.snapshot.facts()[i];
                FactRef {
                    id: f.id,
                    source_id: f.source_id.clone(),
                    source_kind: f.source_kind,
                    confidence: f.confidence,
                }
            })
            .collect();
        facts_used.sort_by_key(|f| f.id);
        facts_used.dedup_by_key(|f| f.id);
        let (dependency, routes) = self.dependency();
        ProductScore {
            product: self.product_id(product),
            stage: self.stage(product),
            buyer: self.params.buyer,
            as_of: self.params.as_of,
            methodology_version: METHODOLOGY_VERSION.to_owned(),
            defaults_used: self.defaults_used(&routes),
            dependency,
            difficulty: self.difficulty(),
            pressure,
            conflicts: self.conflicts(),
            facts_used,
            evidence,
            params: *self.params,
        }
    }

    /// The dependency and the routes listed under its chokepoint.
    fn dependency(&self) -> (DependencyScore, Vec<Route>) {
        let product = self.visit.product;
        let node = self.node(product);
        let chain = self.params.chain;
        let bottleneck = 100.0 * (1.0 - node.free_bottleneck);
        let independent = 100.0 * (1.0 - node.free_independent);
        let (score, other) = match chain {
            Chain::Bottleneck => (bottleneck, independent),
            Chain::Independent => (independent, bottleneck),
        };
        let exposure = self.exposure();
        let china_share = self.china_share();
        let inputs = self.input_terms();
        let passed_on = match chain {
            Chain::Bottleneck => inputs.iter().map(|i| i.term).reduce(f64::min),
            Chain::Independent => inputs.iter().map(|i| i.term).reduce(|a, b| a * b),
        };
        let own_facts: Vec<i64> = china_share
            .countries
            .iter()
            .flat_map(|c| c.fact_ids.iter().copied())
            .chain(exposure.import_share_china.fact_ids.iter().copied())
            .chain(exposure.import_reliance.fact_ids.iter().copied())
            .chain(exposure.recycling_input_rate.fact_ids.iter().copied())
            .collect();
        let own_origin = if china_share.basis == ShareBasis::None {
            Origin::Default
        } else {
            Origin::Facts
        };
        let components = vec![
            Component {
                name: "own_stage",
                raw: Some(exposure.value),
                unit: "fraction",
                normalised: exposure.value,
                weight: 1.0,
                effective_weight: 1.0,
                contribution: 100.0 * exposure.value,
                origin: own_origin,
                fact_ids: own_facts,
                note: "100·e: the buyer's exposure at this product's own stage".into(),
            },
            Component {
                name: "upstream",
                raw: passed_on.map(|free| 1.0 - free),
                unit: "fraction",
                normalised: score / 100.0 - exposure.value,
                weight: 1.0,
                effective_weight: 1.0,
                contribution: score - 100.0 * exposure.value,
                origin: Origin::Facts,
                fact_ids: Vec::new(),
                note: "what the inputs add on top of the own stage; raw is the dependency they pass on (see `inputs` and their scores)".into(),
            },
        ];
        let supply_coverage = self.supply_coverage();
        let r = self.visit.resolved;
        let sourcing_recorded = !r.import_shares.is_empty() || r.import_reliance.is_some();
        if supply_coverage == 0.0 && !sourcing_recorded {
            let dependency = DependencyScore {
                score: None,
                chain,
                bottleneck: None,
                independent: None,
                dependency_range: None,
                china_free_supply: None,
                supply_coverage,
                insufficient_data: Some(
                    "no production, capacity, market-share or export-share facts at this product's stage or upstream, and no sourcing recorded for the buyer: the dependency is unknown, not 0".to_owned(),
                ),
                china_share,
                exposure,
                inputs,
                components: Vec::new(),
                chokepoint: None,
            };
            return (dependency, Vec::new());
        }
        let (chokepoint, routes) = self.chokepoint().unzip();
        let dependency = DependencyScore {
            score: Some(score),
            chain,
            bottleneck: Some(bottleneck),
            independent: Some(independent),
            dependency_range: Some(ScoreRange {
                low: score.min(other),
                high: score.max(other),
            }),
            china_free_supply: Some(node.free(chain)),
            supply_coverage,
            insufficient_data: None,
            china_share,
            exposure,
            inputs,
            components,
            chokepoint,
        };
        (dependency, routes.unwrap_or_default())
    }

    /// The share of the products on the chain (itself and every product
    /// upstream) whose stage has supply facts.
    fn supply_coverage(&self) -> f64 {
        let network = self.visit.network;
        let mut products: Vec<usize> = network
            .known_paths(self.visit.product)
            .iter()
            .filter_map(|path| path.products.last().copied())
            .collect();
        products.sort_unstable();
        products.dedup();
        let covered = products
            .iter()
            .filter(|&&p| {
                network
                    .stage_resolved(p)
                    .is_some_and(|stage| supply_rows(stage, &stage.values).0 != ShareBasis::None)
            })
            .count();
        covered as f64 / products.len() as f64
    }

    fn china_share(&self) -> ChinaShare {
        let r = self.visit.resolved;
        let values = &r.values;
        let supply = &self.visit.local.supply;
        let (basis, rows) = supply_rows(r, values);
        let countries: Vec<CountryShare> = rows
            .iter()
            .map(|row| {
                let governance = scaled_wgi(r, values, row.country);
                let controlled = Resolved::country_slot(&r.controlled_by_china, row.country);
                let governance_slot = Resolved::country_slot(&r.governance, row.country);
                let restriction_slot = Resolved::country_slot(&r.trade_restrictions, row.country);
                let fact_ids = [
                    Some(row.slot),
                    controlled,
                    governance_slot,
                    restriction_slot,
                ]
                .into_iter()
                .flat_map(|slot| self.slot_ids(slot))
                .collect();
                CountryShare {
                    country: row.country,
                    amount: values[row.slot],
                    share: country_share(basis, values[row.slot], supply.world, Excess::Kept),
                    china_controlled: china_controlled_fraction(r, values, row.country),
                    governance_scaled: governance.unwrap_or(DEFAULT_WGI_SCALED),
                    governance_origin: if governance.is_some() {
                        Origin::Facts
                    } else {
                        Origin::Default
                    },
                    trade_restriction: trade_restriction(r, values, row.country),
                    fact_ids,
                }
            })
            .collect();
        let hhi = countries.iter().map(|c| c.share * c.share).sum();
        let hhi_governance = countries
            .iter()
            .map(|c| c.share * c.share * c.governance_scaled * c.trade_restriction)
            .sum();
        ChinaShare {
            basis,
            note: basis_note(basis, rows.iter().any(|r| r.country == CountryCode::CN)).into(),
            value: supply.share,
            china: supply.china,
            world: supply.world,
            countries,
            hhi,
            hhi_governance,
        }
    }

    fn exposure(&self) -> LocalExposure {
        let r = self.visit.resolved;
        let e = &self.visit.local.exposure;
        let china_imports = Resolved::country_slot(&r.import_shares, CountryCode::CN);
        let import_share_origin = match (china_imports, e.import_share_recorded) {
            (Some(_), _) | (None, true) => Origin::Facts,
            (None, false) => Origin::Default,
        };
        let import_share_ids = if china_imports.is_some() {
            self.slot_ids(china_imports)
        } else {
            r.import_shares
                .iter()
                .flat_map(|cv| self.slot_ids(Some(cv.slot)))
                .collect()
        };
        LocalExposure {
            china_share: self.visit.local.supply.share,
            import_share_china: Quantity {
                value: e.import_share_china,
                origin: import_share_origin,
                fact_ids: import_share_ids,
            },
            import_reliance: quantity(
                e.import_reliance,
                e.import_reliance_recorded,
                self.slot_ids(r.import_reliance),
            ),
            before_recycling: e.before_recycling,
            recycling_input_rate: quantity(
                e.recycling_input_rate,
                r.recycling_input_rate.is_some(),
                self.slot_ids(r.recycling_input_rate),
            ),
            value: e.value,
        }
    }

    fn input_terms(&self) -> Vec<InputTerm> {
        let product = self.visit.product;
        let chain = self.params.chain;
        let binding = self.node(product).dependency_edge;
        self.snapshot
            .edges(product)
            .iter()
            .zip(&self.visit.outcome.inputs)
            .enumerate()
            .map(|(position, (edge, &(bottleneck, independent)))| {
                let free = match chain {
                    Chain::Bottleneck => bottleneck,
                    Chain::Independent => independent,
                };
                InputTerm {
                    product: self.product_id(edge.input),
                    stage: self.stage(edge.input),
                    share: edge.share,
                    essential: edge.essential,
                    dependency: 100.0 * (1.0 - free),
                    china_free_supply: free,
                    term: super::dependency::input_term(edge, free),
                    binding: binding == Some(position),
                }
            })
            .collect()
    }

    /// The routes listed under the chokepoint.
    const ROUTES: usize = 5;

    fn chokepoint(&self) -> Option<(Chokepoint, Vec<Route>)> {
        let product = self.visit.product;
        let node = self.node(product);
        if node.free_bottleneck >= 1.0 {
            return None;
        }
        let network = self.visit.network;
        let binding = &network.known_paths(product)[node.binding_path];
        let deepest = *binding
            .products
            .last()
            .expect("a path starts at the product");
        let supply = self.visit.outcome.node;
        let content = network.content(supply).stages[node.binding_path];
        let routes = if self.paths {
            network.routes(supply, node.binding_path, Self::ROUTES)
        } else {
            Vec::new()
        };
        let paths: Vec<SupplyPath> = routes
            .iter()
            .map(|route| self.supply_path(route, binding.dilution))
            .collect();
        let listed: f64 = paths.iter().map(|p| p.points).sum();
        let bottleneck = 100.0 * (1.0 - node.free_bottleneck);
        let country = routes
            .first()
            .and_then(|r| r.steps.last())
            .map(|step| place_code(step.place));
        let chokepoint = Chokepoint {
            product: self.product_id(deepest),
            stage: self.stage(deepest),
            country,
            exposure: 100.0 * content,
            path: binding
                .products
                .iter()
                .map(|&p| self.product_id(p))
                .collect(),
            paths,
            other_paths_points: (bottleneck - listed).max(0.0),
        };
        Some((chokepoint, routes))
    }

    /// Each place on the chokepoint's listed routes that was taken to buy on
    /// the world market for want of sourcing facts, once.
    fn world_market_defaults(&self, routes: &[Route], defaults: &mut Vec<DefaultUsed>) {
        let buyer = Place::At(self.params.buyer);
        for route in routes {
            let buyers = std::iter::once(buyer).chain(route.steps.iter().map(|s| s.place));
            for (step, bought_by) in route.steps.iter().zip(buyers) {
                // The rest of the world is not a country that could record
                // sourcing; the buyer's own default is listed above.
                if path_via(step.via) != PathVia::WorldMarketDefault
                    || bought_by == buyer
                    || bought_by == Place::Rest
                {
                    continue;
                }
                let (product, bought_by) = (self.product_id(step.product), place_code(bought_by));
                let input = format!("sourcing:{product}:{bought_by}");
                if defaults.iter().any(|d| d.input == input) {
                    continue;
                }
                defaults.push(DefaultUsed {
                    input,
                    value: 1.0,
                    reason: format!(
                        "no sourcing recorded for {bought_by}'s {product}: it is taken to buy on the world market (world shares of supply)"
                    ),
                });
            }
        }
    }

    fn supply_path(&self, route: &Route, dilution: f64) -> SupplyPath {
        let steps: Vec<PathStep> = route
            .steps
            .iter()
            .map(|step| PathStep {
                product: self.product_id(step.product),
                place: place_code(step.place),
                share: step.share,
                via: path_via(step.via),
                fact_ids: self.ids(&step.facts),
            })
            .collect();
        let mut summary = self.params.buyer.as_str().to_owned();
        for step in &steps {
            summary.push_str(&format!(
                " ← {} {:.0}% {}",
                step.place,
                100.0 * step.share,
                step.product
            ));
        }
        SupplyPath {
            steps,
            points: 100.0 * dilution * route.content,
            summary,
        }
    }

    fn difficulty(&self) -> DifficultyScore {
        let product = self.visit.product;
        let node = self.node(product);
        let own = &self.visit.local.difficulty;
        let weights = self.params.weights.as_array();
        let mut components: Vec<Component> = (0..6)
            .map(|k| {
                let value = own.components[k];
                Component {
                    name: COMPONENT_NAMES[k],
                    raw: value.raw,
                    unit: COMPONENT_UNITS[k],
                    normalised: value.normalised,
                    weight: weights[k],
                    effective_weight: own.effective_weights[k],
                    contribution: 100.0 * own.effective_weights[k] * value.normalised,
                    origin: value.origin,
                    fact_ids: self.component_facts(k),
                    note: self.component_note(k),
                }
            })
            .collect();
        let path = binding_path(self.snapshot, product, self.visit.nodes, |n| {
            n.difficulty_edge
        });
        let bound = *path.last().expect("a path starts at the product");
        components.push(Component {
            name: "upstream",
            raw: Some(node.difficulty / 100.0),
            unit: "fraction",
            normalised: (node.difficulty - own.score) / 100.0,
            weight: 1.0,
            effective_weight: 1.0,
            contribution: node.difficulty - own.score,
            origin: Origin::Facts,
            fact_ids: Vec::new(),
            note: if bound == product {
                "no material input is harder".into()
            } else {
                format!(
                    "chain difficulty above the own score, set by `{}`",
                    self.product_id(bound)
                )
                .into()
            },
        });
        DifficultyScore {
            score: node.difficulty,
            own_score: own.score,
            coverage: own.coverage,
            components,
            binding: Binding {
                product: self.product_id(bound),
                stage: self.stage(bound),
                score: self.node(bound).own_difficulty,
            },
            binding_path: path.into_iter().map(|p| self.product_id(p)).collect(),
            years_to_displace: node.years_to_displace,
            years_path: binding_path(self.snapshot, product, self.visit.nodes, |n| n.years_edge)
                .into_iter()
                .map(|p| self.product_id(p))
                .collect(),
            inputs: self.input_difficulties(),
        }
    }

    fn input_difficulties(&self) -> Vec<InputDifficulty> {
        let product = self.visit.product;
        let binding = self.node(product).difficulty_edge;
        self.snapshot
            .edges(product)
            .iter()
            .enumerate()
            .map(|(position, edge)| {
                let input = self.node(edge.input);
                let dependency = input.dependency(self.params.chain);
                InputDifficulty {
                    product: self.product_id(edge.input),
                    stage: self.stage(edge.input),
                    dependency,
                    difficulty: input.difficulty,
                    material: dependency >= MATERIAL_DEPENDENCY,
                    binding: binding == Some(position),
                }
            })
            .collect()
    }

    fn component_facts(&self, k: usize) -> Vec<i64> {
        let r = self.visit.resolved;
        let country_rows = |rows: &[super::resolve::CountryValue]| -> Vec<i64> {
            rows.iter()
                .flat_map(|cv| self.slot_ids(Some(cv.slot)))
                .collect()
        };
        match k {
            0 => self.slot_ids(r.lead_time_years),
            1 => {
                let mut ids = country_rows(&r.operating_capacity);
                ids.extend(r.pipeline.iter().flat_map(|p| self.slot_ids(Some(p.slot))));
                if ids.is_empty() {
                    ids = country_rows(supply_rows(r, &r.values).1);
                }
                ids.extend(country_rows(&r.controlled_by_china));
                ids
            }
            2 => {
                let mut ids = self.slot_ids(r.capex_per_tpa);
                ids.extend(self.slot_ids(r.demand));
                ids
            }
            3 => {
                let mut ids = self.slot_ids(r.cost_premium);
                ids.extend(self.slot_ids(r.state_support));
                ids
            }
            4 => r
                .technology_bans
                .iter()
                .flat_map(|b| self.ids(&r.used[b.facts.clone()]))
                .collect(),
            _ => self.slot_ids(r.substitution_index),
        }
    }

    fn component_note(&self, k: usize) -> Cow<'static, str> {
        let r = self.visit.resolved;
        let local = self.visit.local;
        let value = local.difficulty.components[k];
        if value.origin == Origin::Missing {
            return "no fact: dropped, the other weights renormalised".into();
        }
        match k {
            0 => "lead_time_years / 20, capped at 1".into(),
            1 => {
                let horizon = self.params.horizon_year();
                match scale_basis(r, &r.values, &local.supply, horizon) {
                    ScaleBasis::Capacity(split) => format!(
                        "Chinese {:.0} of {:.0} t/yr: operating plus status-weighted pipeline online by {horizon}",
                        split.china, split.total
                    )
                    .into(),
                    ScaleBasis::Inferred { split, china } => format!(
                        "capacity recorded only outside China ({:.0} t/yr operating, {:.0} t/yr with the \
                         status-weighted pipeline online by {horizon}); China's inferred from its share of \
                         {} as g/(1-g) x operating outside = {china:.0} t/yr",
                        split.operating_outside,
                        split.total,
                        if local.supply.basis == ShareBasis::ExportShare {
                            "world exports"
                        } else {
                            "supply"
                        }
                    )
                    .into(),
                    ScaleBasis::Supply | ScaleBasis::None => {
                        if local.supply.basis == ShareBasis::ExportShare {
                            "no capacity that can be set against China's: China's share of world exports stands in (not of production)".into()
                        } else {
                            "no capacity that can be set against China's: China's share of supply stands in".into()
                        }
                    }
                }
            }
            2 => {
                let volume = volume_to_replace(r, &r.values, &local.supply, local.exposure.value)
                    .unwrap_or(0.0);
                let basis = if r.demand.is_some() {
                    "buyer demand × e"
                } else {
                    "Chinese-controlled volume"
                };
                format!(
                    "{volume:.0} t/yr ({basis}) × capex per t/yr; log scale $10M → 0, $100B → 1"
                )
                .into()
            }
            3 => "min(cost_premium, 1) + 0.1 × China's state-support level, capped at 1".into(),
            4 => "Chinese technology-export ban in force: level 2 → 1, level 1 → 0.5, none → 0"
                .into(),
            _ => "substitution_index (1 = no substitute)".into(),
        }
    }

    fn conflicts(&self) -> Vec<Conflict> {
        let facts = self.snapshot.facts();
        let r = self.visit.resolved;
        r.conflicts
            .iter()
            .map(|c| {
                let used = &r.used[c.facts.clone()];
                Conflict {
                    metric: c.metric,
                    country: c.country,
                    facility: c.facility.as_deref().map(str::to_owned),
                    buyer: c.buyer,
                    period: c.period,
                    fact_ids: self.ids(used),
                    values: used
                        .iter()
                        .map(|&i| facts[i].value.unwrap_or(f64::NAN))
                        .collect(),
                    mean: c.mean,
                    relative_spread: c.relative_spread,
                }
            })
            .collect()
    }

    /// The defaults the score took, with those of the places on `routes`
    /// (the chokepoint's listed routes).
    fn defaults_used(&self, routes: &[Route]) -> Vec<DefaultUsed> {
        let r = self.visit.resolved;
        let local = self.visit.local;
        let mut defaults = Vec::new();
        let mut add = |input: String, value: f64, reason: &str| {
            defaults.push(DefaultUsed {
                input,
                value,
                reason: reason.to_owned(),
            })
        };
        if local.supply.basis == ShareBasis::None {
            add("china_share".into(), 0.0, "no production, capacity, market-share or export-share facts: the stage adds no dependency of its own");
        }
        if !local.exposure.import_share_recorded && local.exposure.import_reliance_recorded {
            add(
                "import_share".into(),
                local.exposure.import_share_china,
                "the buyer's import origins are not recorded: its imports come from the world market",
            );
        } else if !local.exposure.import_share_recorded {
            add(
                "import_share".into(),
                local.exposure.import_share_china,
                "the buyer's sourcing is not recorded: it buys on the world market, so its exposure is China's share of supply",
            );
        } else if !local.exposure.import_reliance_recorded {
            add(
                "import_reliance".into(),
                DEFAULT_IMPORT_RELIANCE,
                "not recorded for the buyer: assumed fully import-reliant",
            );
        }
        if r.recycling_input_rate.is_none() {
            add(
                "recycling_input_rate".into(),
                0.0,
                "not recorded: no recycled supply assumed",
            );
        }
        if local.difficulty.components[0].origin == Origin::Default {
            add(
                "lead_time_years".into(),
                local.difficulty.lead_time_years,
                "not recorded: stage default (mining 16, smelting 5, materials 3, applications 2 years)",
            );
        }
        if local.difficulty.components[4].origin == Origin::Default {
            add(
                "technology_export_ban".into(),
                0.0,
                "no Chinese technology-export ban recorded",
            );
        }
        let (_, rows) = supply_rows(r, &r.values);
        for row in rows {
            if Resolved::country_slot(&r.governance, row.country).is_none() {
                add(
                    format!("governance_wgi:{}", row.country),
                    DEFAULT_WGI_SCALED,
                    "no WGI fact: middle of the 0..10 scale",
                );
            }
        }
        self.world_market_defaults(routes, &mut defaults);
        defaults
    }
}

/// What China's share `g` is a share of, for each basis (`china_row`:
/// whether the rows name China).
fn basis_note(basis: ShareBasis, china_row: bool) -> &'static str {
    match basis {
        ShareBasis::Production => {
            "China's share of the production recorded (country rows summed), with output abroad under Chinese control"
        }
        ShareBasis::OperatingCapacity if china_row => {
            "China's share of the operating capacity recorded (country rows summed), with capacity abroad under Chinese control"
        }
        ShareBasis::OperatingCapacity => {
            "operating capacity recorded only outside China, and nothing else: China's share counts only capacity abroad under Chinese control and says nothing of its share of world supply"
        }
        ShareBasis::MarketShare => "China's share of world supply as published (market shares)",
        ShareBasis::ExportShare => {
            "China's share of world exports of the product by value (trade statistics), not of its production: no production, capacity or market share is recorded for this stage"
        }
        ShareBasis::None => "nothing recorded: the stage adds no dependency of its own",
    }
}

fn quantity(value: f64, recorded: bool, fact_ids: Vec<i64>) -> Quantity {
    Quantity {
        value,
        origin: if recorded {
            Origin::Facts
        } else {
            Origin::Default
        },
        fact_ids,
    }
}

/// Units of the raw difficulty components, in component order.
const COMPONENT_UNITS: [&str; 6] = ["years", "fraction", "USD", "fraction", "level", "index"];
