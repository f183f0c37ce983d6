//! Properties that must hold for any snapshot, on small random ones.

use proptest::prelude::*;

use super::kit::*;
use crate::domain::{FactStatus, Metric, Stage};
use crate::scoring::{
    score_all, score_product, score_products, uncertainty, Chain, Params, ProductScore,
};

const COUNTRIES: [&str; 5] = ["CN", "US", "AU", "MM", "DE"];
/// A country none of the generated facts names: new, non-Chinese supply.
pub(super) const NEWCOMER: &str = "SE";

#[derive(Debug, Clone)]
struct Spec {
    stage: usize,
    /// (which earlier product, share, essential)
    inputs: Vec<(usize, f64, bool)>,
    production: Vec<Option<f64>>,
    capacity: Vec<Option<f64>>,
    market_share_china: Option<f64>,
    buyer: (Option<f64>, Option<f64>, Option<f64>),
    /// lead time, demand, capex per t/yr, cost premium, substitution index
    difficulty: [Option<f64>; 5],
    controlled_mm: Option<f64>,
    confidence: f64,
}

fn fraction() -> impl Strategy<Value = Option<f64>> {
    prop::option::of(0.0..=1.0f64)
}

fn volumes() -> impl Strategy<Value = Vec<Option<f64>>> {
    prop::collection::vec(prop::option::of(0.0..1000.0f64), COUNTRIES.len())
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0..4usize,
        prop::collection::vec((0..100usize, 0.0..=1.0f64, any::<bool>()), 0..4),
        volumes(),
        volumes(),
        fraction(),
        (fraction(), fraction(), fraction()),
        (
            prop::option::of(0.0..40.0f64),
            prop::option::of(0.0..1.0e6f64),
            prop::option::of(0.0..1.0e5f64),
            prop::option::of(0.0..3.0f64),
            fraction(),
        ),
        fraction(),
        0.2..=1.0f64,
    )
        .prop_map(
            |(
                stage,
                inputs,
                production,
                capacity,
                market_share_china,
                buyer,
                difficulty,
                controlled_mm,
                confidence,
            )| Spec {
                difficulty: [
                    difficulty.0,
                    difficulty.1,
                    difficulty.2,
                    difficulty.3,
                    difficulty.4,
                ],
                stage,
                inputs,
                production,
                capacity,
                market_share_china,
                buyer,
                controlled_mm,
                confidence,
            },
        )
}

pub(super) fn name(i: usize) -> String {
    format!("p{i}")
}

/// Products sorted by stage; each takes inputs only from earlier products
/// at the same or an earlier stage, so the graph is a valid DAG.
fn build(mut specs: Vec<Spec>) -> Kit {
    specs.sort_by_key(|s| s.stage);
    let mut kit = Kit::new();
    for (i, spec) in specs.iter().enumerate() {
        let mut inputs: Vec<(String, f64, bool)> = Vec::new();
        if i > 0 {
            for (pick, share, essential) in &spec.inputs {
                let input = name(pick % i);
                if !inputs.iter().any(|(n, _, _)| *n == input) {
                    inputs.push((input, *share, *essential));
                }
            }
        }
        let inputs: Vec<(&str, f64, bool)> = inputs
            .iter()
            .map(|(n, s, e)| (n.as_str(), *s, *e))
            .collect();
        kit.product(&name(i), Stage::ALL[spec.stage], &inputs);
        add_facts(&mut kit, &name(i), spec);
    }
    kit
}

fn add_facts(kit: &mut Kit, product: &str, spec: &Spec) {
    let mut add = |country: &str, metric: Metric, value: Option<f64>| {
        if let Some(value) = value {
            kit.fact(product, country, metric, value).confidence = spec.confidence;
        }
    };
    for (c, country) in COUNTRIES.iter().enumerate() {
        add(country, Metric::Production, spec.production[c]);
        add(country, Metric::Capacity, spec.capacity[c]);
    }
    add("CN", Metric::MarketShare, spec.market_share_china);
    let [lead_time, demand, capex, premium, substitution] = spec.difficulty;
    add("US", Metric::LeadTimeYears, lead_time);
    add("US", Metric::CapexPerTpa, capex);
    add("US", Metric::CostPremium, premium);
    add("US", Metric::SubstitutionIndex, substitution);
    add("US", Metric::RecyclingInputRate, spec.buyer.2);
    if let Some(share) = spec.controlled_mm {
        let fact = kit.fact(product, "MM", Metric::ControlledShare, share);
        fact.controlled_by = Some(country("CN"));
    }
    for (country_code, metric, value) in [
        ("CN", Metric::ImportShare, spec.buyer.0),
        ("US", Metric::ImportReliance, spec.buyer.1),
        ("US", Metric::Demand, demand),
    ] {
        if let Some(value) = value {
            for_buyer(kit.fact(product, country_code, metric, value), us());
        }
    }
}

pub(super) fn snapshot_strategy() -> impl Strategy<Value = Kit> {
    prop::collection::vec(spec(), 1..7).prop_map(build)
}

pub(super) fn chains() -> [Params; 2] {
    [
        params(),
        Params {
            chain: Chain::Independent,
            ..params()
        },
    ]
}

fn scores(kit: &Kit, params: &Params) -> Vec<ProductScore> {
    score_all(&kit.snapshot(), params)
}

pub(super) const EPSILON: f64 = 1e-9;

/// The snapshot with every sourcing fact removed: every country buys on the
/// world market.
pub(super) fn world_market_only(kit: &Kit) -> Kit {
    let mut kit = kit.clone();
    kit.facts.retain(|f| {
        !matches!(
            f.metric,
            Metric::ImportShare | Metric::ImportReliance | Metric::RecyclingInputRate
        )
    });
    kit
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn scores_stay_in_range_and_contributions_add_up(kit in snapshot_strategy()) {
        for params in chains() {
            for score in scores(&kit, &params) {
                for value in [score.dependency.score.unwrap_or(0.0), score.dependency.bottleneck.unwrap_or(0.0), score.dependency.independent.unwrap_or(0.0), score.difficulty.score] {
                    prop_assert!((-EPSILON..=100.0 + EPSILON).contains(&value), "{value}");
                }
                let dependency: f64 = score.dependency.components.iter().map(|c| c.contribution).sum();
                prop_assert!((dependency - score.dependency.score.unwrap_or(0.0)).abs() < 1e-7);
                let difficulty: f64 = score.difficulty.components.iter().map(|c| c.contribution).sum();
                prop_assert!((difficulty - score.difficulty.score).abs() < 1e-7);
                if let Some(range) = score.dependency.dependency_range {
                    prop_assert!(range.low <= range.high);
                }
            }
        }
    }

    /// Scoring a few products at once (what a refresh after a write does)
    /// gives each the score it gets alone.
    #[test]
    fn scoring_some_products_together_gives_each_its_own_score(kit in snapshot_strategy(), picks in prop::collection::vec(0..100usize, 0..4)) {
        let snapshot = kit.snapshot();
        let wanted: std::collections::BTreeSet<_> = picks.iter()
            .map(|p| snapshot.products()[p % snapshot.products().len()].id.clone())
            .collect();
        for params in chains() {
            let together = score_products(&snapshot, &wanted, &params);
            prop_assert_eq!(together.len(), wanted.len());
            for score in &together {
                prop_assert!(wanted.contains(&score.product));
                let alone = score_product(&snapshot, &score.product, &params);
                prop_assert_eq!(Some(score), alone.as_ref());
            }
        }
    }

    /// More Chinese output never lowers the Chinese content at any stage's
    /// own level, and never lowers a dependency where every country buys on
    /// the world market. (With recorded sourcing it can: a buyer whose
    /// domestic chain is Chinese-sourced upstream relies less on it.)
    #[test]
    fn more_chinese_production_never_lowers_dependency(kit in snapshot_strategy(), pick in 0..100usize, extra in 1.0..5000.0f64) {
        let target = name(pick % kit.products.len());
        let mut more = kit.clone();
        match more.facts.iter_mut().find(|f| f.product.as_ref().is_some_and(|p| p.as_str() == target)
            && f.metric == Metric::Production && f.country == Some(country("CN"))) {
            Some(fact) => *fact.value.as_mut().unwrap() += extra,
            None => { more.fact(&target, "CN", Metric::Production, extra); }
        }
        for params in chains() {
            for (before, after) in scores(&kit, &params).iter().zip(scores(&more, &params).iter()) {
                prop_assert!(after.dependency.exposure.value >= before.dependency.exposure.value - EPSILON);
            }
            let (kit, more) = (world_market_only(&kit), world_market_only(&more));
            for (before, after) in scores(&kit, &params).iter().zip(scores(&more, &params).iter()) {
                prop_assert!(after.dependency.score.unwrap_or(0.0) >= before.dependency.score.unwrap_or(0.0) - EPSILON,
                    "{}: {} → {}", before.product, before.dependency.score.unwrap_or(0.0), after.dependency.score.unwrap_or(0.0));
            }
        }
    }

    /// New non-Chinese output never raises the Chinese content at its own
    /// stage, and never raises a dependency where every country buys on the
    /// world market. (With recorded sourcing it can: the newcomer buys its
    /// inputs on the world market, which may be more Chinese than the
    /// buyer's own chain.)
    #[test]
    fn new_non_chinese_supply_never_raises_dependency(kit in snapshot_strategy(), pick in 0..100usize, amount in 1.0..5000.0f64, as_capacity in any::<bool>()) {
        let target = name(pick % kit.products.len());
        let mut more = kit.clone();
        let metric = if as_capacity { Metric::Capacity } else { Metric::Production };
        more.fact(&target, NEWCOMER, metric, amount).status = FactStatus::Operating;
        for params in chains() {
            for (before, after) in scores(&kit, &params).iter().zip(scores(&more, &params).iter()) {
                prop_assert!(after.dependency.exposure.value <= before.dependency.exposure.value + EPSILON);
            }
            let (kit, more) = (world_market_only(&kit), world_market_only(&more));
            for (before, after) in scores(&kit, &params).iter().zip(scores(&more, &params).iter()) {
                prop_assert!(after.dependency.score.unwrap_or(0.0) <= before.dependency.score.unwrap_or(0.0) + EPSILON,
                    "{}: {} → {}", before.product, before.dependency.score.unwrap_or(0.0), after.dependency.score.unwrap_or(0.0));
            }
        }
    }

    #[test]
    fn a_product_depends_at_least_as_much_as_its_essential_inputs(kit in snapshot_strategy()) {
        for params in chains() {
            for score in scores(&kit, &params) {
                for input in score.dependency.inputs.iter().filter(|i| i.essential) {
                    prop_assert!(score.dependency.score.unwrap_or(0.0) >= input.dependency - EPSILON);
                }
            }
        }
    }

    #[test]
    fn non_chinese_pipeline_capacity_never_raises_difficulty(
        kit in snapshot_strategy(),
        pick in 0..100usize,
        amount in 1.0..5000.0f64,
        status in prop::sample::select(vec![FactStatus::UnderConstruction, FactStatus::Planned, FactStatus::Announced]),
        years_ahead in 0..8i32,
    ) {
        let target = name(pick % kit.products.len());
        let mut more = kit.clone();
        let project = more.fact(&target, NEWCOMER, Metric::Capacity, amount);
        (project.status, project.expected_online, project.facility) = (status, Some(2026 + years_ahead), Some("new-plant".into()));
        for params in chains() {
            for (before, after) in scores(&kit, &params).iter().zip(scores(&more, &params).iter()) {
                prop_assert!(after.difficulty.score <= before.difficulty.score + EPSILON,
                    "{}: {} → {}", before.product, before.difficulty.score, after.difficulty.score);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// A distribution resolved from a newer period is that period's alone:
    /// an older fact for an origin the newer period does not name (an
    /// exporter that has since stopped shipping) changes no score, no
    /// explanation and no fact cited.
    #[test]
    fn older_facts_for_a_new_origin_never_change_a_newer_distribution(
        kit in snapshot_strategy(),
        pick in 0..100usize,
        metric in prop::sample::select(vec![Metric::ImportShare, Metric::MarketShare, Metric::ExportShare]),
        share in 0.0..=1.0f64,
        years_back in 1..20i32,
    ) {
        let target = name(pick % kit.products.len());
        let import = metric == Metric::ImportShare;
        let mut newer = kit.clone();
        // The generated facts are of 2024; make sure the product has a 2024
        // distribution of the metric.
        let has_distribution = newer.facts.iter().any(|f| {
            f.metric == metric && f.product.as_ref().is_some_and(|p| p.as_str() == target)
        });
        if !has_distribution {
            let fact = newer.fact(&target, "CN", metric, 0.5);
            if import {
                for_buyer(fact, us());
            }
        }
        let mut older = newer.clone();
        let old = older.fact(&target, NEWCOMER, metric, share);
        old.period = crate::domain::Period::year(2024 - years_back).unwrap();
        if import {
            for_buyer(old, us());
        }
        for params in chains() {
            let before = serde_json::to_string(&scores(&newer, &params)).unwrap();
            let after = serde_json::to_string(&scores(&older, &params)).unwrap();
            prop_assert_eq!(before, after);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn intervals_are_ordered_reproducible_and_collapse_at_full_confidence(kit in snapshot_strategy(), seed in any::<u64>()) {
        let snapshot = kit.snapshot();
        let last = id(&name(kit.products.len() - 1));
        let intervals = uncertainty(&snapshot, &last, &params(), 100, seed).unwrap();
        for i in [intervals.dependency, intervals.difficulty] {
            prop_assert!(i.p5 <= i.p50 && i.p50 <= i.p95);
            prop_assert!((-EPSILON..=100.0 + EPSILON).contains(&i.p5) && i.p95 <= 100.0 + EPSILON);
        }
        let again = uncertainty(&snapshot, &last, &params(), 100, seed);
        prop_assert_eq!(Some(&intervals), again.as_ref());

        let mut sure = kit.clone();
        sure.facts.iter_mut().for_each(|f| f.confidence = 1.0);
        let collapsed = uncertainty(&sure.snapshot(), &last, &params(), 50, seed).unwrap();
        for i in [collapsed.dependency, collapsed.difficulty] {
            prop_assert_eq!([i.p5, i.p50, i.p95], [i.point; 3]);
        }
    }
}

/// Days of 2025, as write times.
fn day(n: u16) -> time::OffsetDateTime {
    time::macros::datetime!(2025-01-01 12:00 UTC) + time::Duration::days(i64::from(n))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The `recorded` view at `t` reads exactly what the store held at `t`:
    /// scoring the full history in that view gives, byte for byte, the
    /// answer of a read made at `t` on what had been written by then,
    /// whatever was recorded and retracted afterwards.
    #[test]
    fn the_recorded_view_reproduces_any_earlier_read(
        kit in snapshot_strategy(),
        writes in prop::collection::vec((0..360u16, prop::option::of(1..200u16)), 1..400),
        read in 0..400u16,
    ) {
        let mut history = kit.clone();
        for (fact, &(recorded, retracted_after)) in history.facts.iter_mut().zip(writes.iter().cycle()) {
            fact.knowledge.recorded_at = day(recorded);
            fact.knowledge.published_on = day(recorded).date();
            fact.knowledge.retracted_at = retracted_after.map(|later| day(recorded + later));
            fact.knowledge.retraction_published_on =
                fact.knowledge.retracted_at.map(|t| t.date());
        }
        let t = day(read);
        let mut held_then = history.clone();
        held_then.facts.retain(|f| f.knowledge.recorded_at <= t);
        for fact in &mut held_then.facts {
            if fact.knowledge.retracted_at.is_some_and(|r| r > t) {
                fact.knowledge.retracted_at = None;
                fact.knowledge.retraction_published_on = None;
            }
        }
        for params in chains() {
            let recorded = Params { as_of: t, view: crate::domain::View::Recorded, ..params };
            let now = serde_json::to_string(&scores(&history, &recorded)).unwrap();
            let then = serde_json::to_string(&scores(&held_then, &recorded)).unwrap();
            prop_assert_eq!(now, then);
        }
    }
}
