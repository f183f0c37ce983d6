//! What-if scenarios: changes applied to a snapshot, checked against
//! arithmetic written out here and against the same facts recorded for real.

use proptest::prelude::*;

use super::kit::*;
use super::properties::{chains, name, snapshot_strategy, EPSILON, NEWCOMER};
use crate::domain::{Fact, FactStatus, Metric, Period, SourceId, Stage};
use crate::scoring::scenario::{
    evaluate, explanation_changes, Change, ChangeError, ControlSwitch, ExplanationChange, ScoreKind,
};
use crate::scoring::{score_all, Snapshot};

/// A capacity project, as a client would submit it in a scenario.
fn project(product: &str, country_code: &str, tonnes: f64, online: i32) -> Fact {
    Fact {
        product: Some(id(product)),
        country: Some(country(country_code)),
        buyer: None,
        facility: Some("new separation plant".into()),
        metric: Metric::Capacity,
        value: Some(tonnes),
        unit: Metric::Capacity.spec().unit,
        period: Period::year(2026).unwrap(),
        status: FactStatus::UnderConstruction,
        controlled_by: None,
        expected_online: Some(online),
        source_id: SourceId::parse("scenario").unwrap(),
        confidence: None,
        published_on: None,
        quote: None,
        locator: None,
        note: None,
    }
}

fn control(product: &str, level: u32, in_force: bool) -> Change {
    Change::ExportControl(ControlSwitch {
        product: id(product),
        country: country("CN"),
        buyer: None,
        facility: None,
        level,
        in_force,
    })
}

/// Ore (China 60 of 100, in production and in operating capacity) and an
/// oxide made from it with no facts of its own.
fn ore_and_oxide() -> Kit {
    let mut kit = Kit::new();
    kit.product("ore", Stage::Mining, &[])
        .product("oxide", Stage::Smelting, &[("ore", 1.0, true)]);
    kit.fact("ore", "CN", Metric::Production, 60.0);
    kit.fact("ore", "AU", Metric::Production, 40.0);
    kit.fact("ore", "CN", Metric::Capacity, 60.0);
    kit.fact("ore", "AU", Metric::Capacity, 40.0);
    kit
}

#[test]
fn non_chinese_capacity_lowers_difficulty_and_leaves_dependency() {
    let kit = ore_and_oxide();
    let changes = [Change::AddFact(project("ore", "US", 50.0, 2027))];
    let evaluation = evaluate(&kit.snapshot(), &changes, None, &params()).unwrap();

    let affected: Vec<&str> = evaluation.affected.iter().map(|p| p.as_str()).collect();
    assert_eq!(
        affected,
        ["ore", "oxide"],
        "the ore and what is made from it"
    );
    assert_eq!(evaluation.hypothetical.len(), 1);
    let (change, fact) = &evaluation.hypothetical[0];
    assert_eq!((*change, fact.id), (0, -1));
    assert_eq!(fact.source_id.as_str(), "scenario");
    assert_eq!(
        fact.confidence, 1.0,
        "a hypothetical fact is taken as given"
    );

    // Difficulty: time 16/20 (mining default), scale, know-how 0 (default);
    // capital, cost and substitution have no fact: weights .25 + .25 + .10.
    let difficulty = |scale: f64| 100.0 * (0.25 * 0.8 + 0.25 * scale + 0.10 * 0.0) / 0.60;
    // The project counts 0.8 (under construction) by 2027, within 2026 + 5.
    let scale_after = 60.0 / (60.0 + 40.0 + 0.8 * 50.0);
    let [ore, oxide] = &evaluation.comparisons[..] else {
        panic!("two comparisons: {:?}", evaluation.comparisons.len())
    };
    assert_eq!(ore.baseline.product.as_str(), "ore");
    assert_close(ore.baseline.difficulty.score, difficulty(0.6));
    assert_close(ore.scenario.difficulty.score, difficulty(scale_after));
    for comparison in [ore, oxide] {
        assert_close(comparison.baseline.dependency.score.unwrap_or(0.0), 60.0);
        assert_close(comparison.scenario.dependency.score.unwrap_or(0.0), 60.0);
    }
    // The oxide's own difficulty (time 5/20, know-how 0: 17.86) is below the
    // ore's, which it takes over its material input.
    assert_close(oxide.scenario.difficulty.score, difficulty(scale_after));

    let changes = explanation_changes(&ore.baseline, &ore.scenario);
    let scale_weight = 0.25 / 0.60;
    assert!(
        changes.iter().any(|c| matches!(c,
        ExplanationChange::Component { score: ScoreKind::Difficulty, name, before, after }
            if name == "scale" && close(*before, 100.0 * scale_weight * 0.6)
                && close(*after, 100.0 * scale_weight * scale_after))),
        "{changes:?}"
    );
    assert!(changes.contains(&ExplanationChange::FactsUsed {
        added: vec![-1],
        removed: vec![]
    }));
    assert!(
        !changes.iter().any(|c| matches!(
            c,
            ExplanationChange::Component {
                score: ScoreKind::Dependency,
                ..
            }
        )),
        "{changes:?}"
    );
}

#[test]
fn dropped_facts_and_switched_controls_change_shares_and_pressure() {
    let mut kit = ore_and_oxide();
    let licensing = kit.fact("ore", "CN", Metric::ExportControl, 1.0);
    (licensing.status, licensing.period) = (FactStatus::InForce, period("2025-04-04/.."));
    let au_production = 2;
    let changes = [
        Change::DropFacts(vec![au_production]),
        control("ore", 2, true),
        control("ore", 1, false),
    ];
    let evaluation = evaluate(&kit.snapshot(), &changes, None, &params()).unwrap();
    assert_eq!(evaluation.dropped, [au_production]);
    let ids: Vec<(usize, i64)> = evaluation
        .hypothetical
        .iter()
        .map(|(change, fact)| (*change, fact.id))
        .collect();
    assert_eq!(ids, [(1, -1), (2, -2)]);
    let switch_off = &evaluation.hypothetical[1].1;
    assert_eq!(switch_off.status, FactStatus::Suspended);
    assert_eq!(
        switch_off.period,
        period("2026-01-01/.."),
        "from as_of's day"
    );

    let ore = &evaluation.comparisons[0];
    // Without Australia's 40, China produces all the ore.
    assert_close(ore.scenario.dependency.score.unwrap_or(0.0), 100.0);
    let changes = explanation_changes(&ore.baseline, &ore.scenario);
    for expected in [
        ExplanationChange::ChinaShare {
            before: 0.6,
            after: 1.0,
        },
        ExplanationChange::Pressure {
            product: id("ore"),
            country: country("CN"),
            level: 1,
            before: Some(FactStatus::InForce),
            after: Some(FactStatus::Suspended),
        },
        ExplanationChange::Pressure {
            product: id("ore"),
            country: country("CN"),
            level: 2,
            before: None,
            after: Some(FactStatus::InForce),
        },
        // The licensing fact 5 gives way to the hypothetical suspension.
        ExplanationChange::FactsUsed {
            added: vec![-2, -1],
            removed: vec![2, 5],
        },
    ] {
        assert!(changes.contains(&expected), "{expected:?} in {changes:?}");
    }
    assert!(changes.iter().any(|c| matches!(c,
        ExplanationChange::Component { score: ScoreKind::Dependency, name, before, after }
            if name == "own_stage" && close(*before, 60.0) && close(*after, 100.0))));
    // The oxide carries the ore's controls as upstream pressure.
    let oxide = explanation_changes(
        &evaluation.comparisons[1].baseline,
        &evaluation.comparisons[1].scenario,
    );
    assert!(oxide.iter().any(|c| matches!(c,
        ExplanationChange::Pressure { product, level: 2, after: Some(FactStatus::InForce), .. }
            if product.as_str() == "ore")));
}

#[test]
fn unknown_products_and_facts_are_reported_by_change() {
    let kit = ore_and_oxide();
    let changes = [
        Change::AddFact(project("unobtainium", "US", 1.0, 2027)),
        Change::DropFacts(vec![1, 999]),
        control("nope", 2, true),
    ];
    let errors = evaluate(&kit.snapshot(), &changes, None, &params()).unwrap_err();
    let at: Vec<(usize, &str)> = errors
        .iter()
        .map(|ChangeError { change, field, .. }| (*change, field.as_str()))
        .collect();
    assert_eq!(at, [(0, "product"), (1, "1"), (2, "product")]);
    assert!(errors[1].message.contains("999"));
}

#[test]
fn listed_products_are_scored_once_each_and_unknown_ones_skipped() {
    let kit = ore_and_oxide();
    let changes = [Change::DropFacts(vec![2])];
    let listed = [id("oxide"), id("oxide"), id("unobtainium")];
    let evaluation = evaluate(&kit.snapshot(), &changes, Some(&listed), &params()).unwrap();
    assert_eq!(evaluation.comparisons.len(), 1);
    assert_eq!(evaluation.comparisons[0].scenario.product.as_str(), "oxide");
    assert_close(
        evaluation.comparisons[0]
            .scenario
            .dependency
            .score
            .unwrap_or(0.0),
        100.0,
    );
}

#[test]
fn a_country_level_fact_may_move_every_product() {
    let mut kit = ore_and_oxide();
    kit.product("gallium", Stage::Smelting, &[]);
    let governance = Fact {
        product: None,
        metric: Metric::GovernanceWgi,
        value: Some(-1.0),
        unit: Metric::GovernanceWgi.spec().unit,
        facility: None,
        expected_online: None,
        status: FactStatus::Estimate,
        ..project("ore", "AU", 0.0, 2027)
    };
    let evaluation = evaluate(
        &kit.snapshot(),
        &[Change::AddFact(governance)],
        None,
        &params(),
    )
    .unwrap();
    assert_eq!(evaluation.affected.len(), 3);
}

/// The snapshot with `fact` recorded for real.
fn with_fact(kit: &Kit, fact: &Fact) -> Snapshot {
    let mut kit = kit.clone();
    let recorded = kit.fact(
        fact.product.as_ref().unwrap().as_str(),
        fact.country.unwrap().as_str(),
        fact.metric,
        fact.value.unwrap(),
    );
    (
        recorded.status,
        recorded.expected_online,
        recorded.facility,
        recorded.period,
    ) = (
        fact.status,
        fact.expected_online,
        fact.facility.as_deref().map(std::sync::Arc::from),
        fact.period,
    );
    kit.snapshot()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn a_scenario_scores_as_if_its_facts_were_recorded(
        kit in snapshot_strategy(),
        pick in 0..100usize,
        amount in 1.0..5000.0f64,
        years_ahead in 0..8i32,
    ) {
        let target = name(pick % kit.products.len());
        let fact = project(&target, NEWCOMER, amount, 2026 + years_ahead);
        let recorded = with_fact(&kit, &fact);
        for params in chains() {
            let evaluation = evaluate(&kit.snapshot(), &[Change::AddFact(fact.clone())], None, &params).unwrap();
            let unchanged = score_all(&kit.snapshot(), &params);
            let expected = score_all(&recorded, &params);
            for comparison in &evaluation.comparisons {
                let product = &comparison.scenario.product;
                let before = unchanged.iter().find(|s| &s.product == product).unwrap();
                let after = expected.iter().find(|s| &s.product == product).unwrap();
                prop_assert_eq!(&comparison.baseline, before);
                prop_assert!((comparison.scenario.dependency.score.unwrap_or(0.0) - after.dependency.score.unwrap_or(0.0)).abs() < EPSILON);
                prop_assert!((comparison.scenario.difficulty.score - after.difficulty.score).abs() < EPSILON);
                // New non-Chinese capacity: never more dependent, never harder.
                prop_assert!(comparison.scenario.dependency.score.unwrap_or(0.0) <= before.dependency.score.unwrap_or(0.0) + EPSILON);
                prop_assert!(comparison.scenario.difficulty.score <= before.difficulty.score + EPSILON);
            }
            // Products outside the target's downstream are not reported.
            let reported: Vec<&str> = evaluation.comparisons.iter().map(|c| c.scenario.product.as_str()).collect();
            let downstream = kit.snapshot().downstream_of([&id(&target)]);
            prop_assert_eq!(reported.len(), downstream.len());
        }
    }
}
