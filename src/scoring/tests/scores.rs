//! Formulas, fact resolution, the EU CRM cross-check and the API's edges,
//! each checked against arithmetic written out in the test.

use time::macros::datetime;
use time::OffsetDateTime;

use super::kit::*;
use crate::domain::{Buyer, FactStatus, Metric, SourceKind, Stage, View};
use crate::scoring::{
    eu_crm, score_all, score_product, uncertainty, Chain, Origin, Params, ShareBasis, Snapshot,
    SnapshotError, SnapshotFact, Weights,
};

fn ore_kit() -> Kit {
    let mut kit = Kit::new();
    kit.product("ore", Stage::Mining, &[]);
    kit
}

#[test]
fn the_recorded_view_excludes_later_recorded_and_retracted_facts() {
    let mut kit = ore_kit();
    kit.fact("ore", "CN", Metric::Production, 60.0);
    kit.fact("ore", "AU", Metric::Production, 40.0);
    kit.fact("ore", "US", Metric::Production, 100.0)
        .knowledge
        .recorded_at = datetime!(2026-02-01 00:00 UTC);
    retract(
        kit.fact("ore", "MM", Metric::Production, 100.0),
        datetime!(2025-12-01 00:00 UTC),
    );
    retract(
        kit.fact("ore", "MY", Metric::Production, 100.0),
        datetime!(2026-03-01 00:00 UTC),
    );
    let recorded = Params {
        view: View::Recorded,
        ..params()
    };
    let score = kit.score("ore", &recorded);
    assert_close(
        score.dependency.score.unwrap_or(0.0),
        100.0 * 60.0 / (60.0 + 40.0 + 100.0),
    );
    let used: Vec<i64> = score.facts_used.iter().map(|f| f.id).collect();
    assert_eq!(used, vec![1, 2, 5]);
}

/// Retracts `fact` at `at`, the correction published that day.
fn retract(fact: &mut SnapshotFact, at: OffsetDateTime) {
    fact.knowledge.retracted_at = Some(at);
    fact.knowledge.retraction_published_on = Some(at.date());
}

#[test]
fn the_public_view_reads_publication_dates_not_recording() {
    let mut kit = ore_kit();
    kit.fact("ore", "CN", Metric::Production, 60.0);
    // Published before as_of but recorded after it: public knows it.
    let late = kit.fact("ore", "AU", Metric::Production, 40.0);
    late.knowledge.recorded_at = datetime!(2026-06-01 00:00 UTC);
    late.knowledge.published_on = datetime!(2025-01-31 00:00 UTC).date();
    // Recorded before as_of but published after it: public does not.
    kit.fact("ore", "US", Metric::Production, 100.0)
        .knowledge
        .published_on = datetime!(2026-01-15 00:00 UTC).date();
    // Retracted (and the correction published) only after as_of.
    retract(
        kit.fact("ore", "MY", Metric::Production, 20.0),
        datetime!(2026-03-01 00:00 UTC),
    );
    let public = kit.score("ore", &params());
    assert_close(
        public.dependency.score.unwrap_or(0.0),
        100.0 * 60.0 / (60.0 + 40.0 + 20.0),
    );
    let recorded = kit.score(
        "ore",
        &Params {
            view: View::Recorded,
            ..params()
        },
    );
    assert_close(
        recorded.dependency.score.unwrap_or(0.0),
        100.0 * 60.0 / (60.0 + 100.0 + 20.0),
    );
    // Current: everything recorded and standing now, whenever published.
    let current = kit.score(
        "ore",
        &Params {
            view: View::Current,
            ..params()
        },
    );
    assert_close(
        current.dependency.score.unwrap_or(0.0),
        100.0 * 60.0 / (60.0 + 40.0 + 100.0),
    );
}

#[test]
fn the_latest_period_started_by_as_of_wins() {
    let mut kit = ore_kit();
    kit.fact("ore", "CN", Metric::Production, 50.0).period = period("2023");
    kit.fact("ore", "CN", Metric::Production, 80.0);
    kit.fact("ore", "CN", Metric::Production, 999.0).period = period("2026-06-01/..");
    kit.fact("ore", "AU", Metric::Production, 20.0);
    let score = kit.score("ore", &params());
    assert_close(
        score.dependency.score.unwrap_or(0.0),
        100.0 * 80.0 / (80.0 + 20.0),
    );
}

#[test]
fn buyer_specific_facts_override_global_ones() {
    let mut kit = ore_kit();
    kit.fact("ore", "CN", Metric::Production, 100.0);
    kit.fact("ore", "US", Metric::RecyclingInputRate, 0.1);
    for_buyer(kit.fact("ore", "US", Metric::RecyclingInputRate, 0.3), us());
    // Import shares need a buyer: a global one is never used.
    kit.fact("ore", "CN", Metric::ImportShare, 0.0);
    let for_us = kit.score("ore", &params());
    assert_close(
        for_us.dependency.score.unwrap_or(0.0),
        100.0 * 1.0 * (1.0 - 0.3),
    );
    let japan = Params::new(Buyer::Country(country("JP")), AS_OF);
    assert_close(
        kit.score("ore", &japan).dependency.score.unwrap_or(0.0),
        100.0 * 1.0 * (1.0 - 0.1),
    );
}

#[test]
fn a_rate_measured_for_one_buyer_holds_for_that_buyer_only() {
    // The EU CRM study's end-of-life recycling input rates describe the
    // EU's flows of scrap and are recorded for buyer EU (tungsten: 42%).
    let mut kit = ore_kit();
    kit.fact("ore", "CN", Metric::Production, 100.0);
    for_buyer(
        kit.fact("ore", "", Metric::RecyclingInputRate, 0.42),
        Buyer::Eu,
    );
    let eu = Params::new(Buyer::Eu, AS_OF);

    // g = 1. The US falls back to the documented default 0: e = 1, 100.
    let for_us = kit.score("ore", &params());
    let rate = &for_us.dependency.exposure.recycling_input_rate;
    assert_close(rate.value, 0.0);
    assert_eq!(rate.origin, Origin::Default);
    assert!(rate.fact_ids.is_empty());
    assert!(for_us
        .defaults_used
        .iter()
        .any(|d| d.input == "recycling_input_rate"));
    assert_close(for_us.dependency.score.unwrap_or(0.0), 100.0);
    // The EU: e = 1 · (1 − 0.42) = 0.58, 58.
    let for_eu = kit.score("ore", &eu);
    assert_eq!(
        for_eu.dependency.exposure.recycling_input_rate.fact_ids,
        vec![2]
    );
    assert_close(for_eu.dependency.score.unwrap_or(0.0), 58.0);

    // The EU CRM check likewise. HHI_WGI,t of global supply: China alone,
    // 1² · 5 (no WGI fact) · 1 = 5; no sourcing, SI 1.
    // US: SR = 5 · (1 − 0) = 5. EU: SR = 5 · (1 − 0.42) = 2.9.
    let snapshot = kit.snapshot();
    let us_crm = eu_crm(&snapshot, &id("ore"), &params()).unwrap();
    let us_rate = &us_crm.stages[0].end_of_life_recycling_input_rate;
    assert_eq!((us_rate.value, us_rate.origin), (0.0, Origin::Default));
    assert_close(us_crm.supply_risk.unwrap(), 5.0);
    let eu_check = eu_crm(&snapshot, &id("ore"), &eu).unwrap();
    assert_close(eu_check.supply_risk.unwrap(), 2.9);

    // A rate recorded for every buyer stands in for the US, not for the EU,
    // whose own rate overrides it: US 100 · (1 − 0.1) = 90, EU still 58.
    kit.fact("ore", "", Metric::RecyclingInputRate, 0.1);
    assert_close(
        kit.score("ore", &params()).dependency.score.unwrap_or(0.0),
        90.0,
    );
    assert_close(kit.score("ore", &eu).dependency.score.unwrap_or(0.0), 58.0);
}

/// A US buyer's import origins: China and Australia in 2019, Australia and
/// Malaysia in 2024. China shipped in 2019 but not in 2024.
fn import_years_kit() -> Kit {
    let mut kit = ore_kit();
    kit.fact("ore", "CN", Metric::Production, 60.0);
    kit.fact("ore", "AU", Metric::Production, 40.0);
    for_buyer(kit.fact("ore", "US", Metric::ImportReliance, 0.8), us());
    for (origin, share, year) in [
        ("CN", 0.7, "2019"),
        ("AU", 0.3, "2019"),
        ("AU", 0.25, "2024"),
        ("MY", 0.75, "2024"),
    ] {
        for_buyer(kit.fact("ore", origin, Metric::ImportShare, share), us()).period = period(year);
    }
    kit
}

#[test]
fn import_shares_resolve_as_one_distribution_of_the_latest_year() {
    // Since 2026.4 the 2024 set wins whole: Australia 0.25, Malaysia 0.75,
    // and no China. Until 2026.3 each origin kept its own latest year, so
    // China's 2019 share of 0.7 stood beside the 2024 shares (sum 1.7).
    let kit = import_years_kit();
    let score = kit.score("ore", &params());
    // g = 60 / (60 + 40) = 0.6, IR = 0.8, China is not a 2024 origin:
    // 20% US output (0), imports 25% Australian output (0) and 75%
    // Malaysian (Malaysia makes none and records no sourcing: the world
    // market, 0.6): e = 0.8 · 0.75 · 0.6 = 0.36.
    let exposure = &score.dependency.exposure;
    assert_close(exposure.import_share_china.value, 0.0);
    assert_eq!(exposure.import_share_china.origin, Origin::Facts);
    // The origins behind m = 0 are the 2024 facts, ids 6 (AU) and 7 (MY);
    // 4 (CN 2019) and 5 (AU 2019) are left out.
    let mut origins = exposure.import_share_china.fact_ids.clone();
    origins.sort_unstable();
    assert_eq!(origins, vec![6, 7]);
    assert_close(exposure.value, 0.36);
    assert_close(score.dependency.score.unwrap_or(0.0), 36.0);
    assert!(score.facts_used.iter().all(|f| f.id != 4 && f.id != 5));

    // The EU CRM sourcing term reads the same set. No WGI facts, so every
    // country's WGI_c is the default 5 and t_c is 1.
    // Global:   (0.6² + 0.4²) · 5   = 0.52 · 5   = 2.6
    // Sourcing: (0.25² + 0.75²) · 5 = 0.625 · 5  = 3.125
    // SR = 2.6 · 0.8/2 + 3.125 · (1 − 0.8/2) = 1.04 + 1.875 = 2.915
    let crm = eu_crm(&kit.snapshot(), &id("ore"), &params()).unwrap();
    let stage = &crm.stages[0];
    let sourcing: Vec<(String, f64)> = stage
        .sourcing_countries
        .iter()
        .map(|c| (c.country.to_string(), c.share))
        .collect();
    assert_eq!(sourcing, vec![("AU".into(), 0.25), ("MY".into(), 0.75)]);
    assert_close(stage.hhi_wgi_t_sourcing.unwrap(), 3.125);
    assert_close(stage.hhi_wgi_t_global.unwrap(), 2.6);
    assert_close(crm.supply_risk.unwrap(), 2.915);
}

#[test]
fn facts_that_differ_by_more_than_a_fifth_are_a_conflict() {
    let mut kit = ore_kit();
    kit.fact("ore", "CN", Metric::Production, 100.0).confidence = 0.9;
    kit.fact("ore", "CN", Metric::Production, 130.0).confidence = 0.6;
    kit.fact("ore", "AU", Metric::Production, 100.0);
    kit.fact("ore", "AU", Metric::Production, 110.0);
    let score = kit.score("ore", &params());
    let china = (0.9 * 100.0 + 0.6 * 130.0) / (0.9 + 0.6);
    let australia = (100.0 + 110.0) / 2.0;
    assert_close(
        score.dependency.score.unwrap_or(0.0),
        100.0 * china / (china + australia),
    );
    assert_eq!(score.conflicts.len(), 1, "10/105 is within 20%");
    let conflict = &score.conflicts[0];
    assert_eq!(conflict.fact_ids, vec![1, 2]);
    assert_close(conflict.mean, china);
    assert_close(conflict.relative_spread, (130.0 - 100.0) / china);
}

#[test]
fn a_country_total_beats_its_facilities_which_otherwise_add_up() {
    let mut kit = ore_kit();
    kit.fact("ore", "CN", Metric::Production, 70.0);
    kit.fact("ore", "US", Metric::Production, 10.0).facility = Some("mine-a".into());
    kit.fact("ore", "US", Metric::Production, 20.0).facility = Some("mine-b".into());
    kit.fact("ore", "AU", Metric::Production, 50.0);
    kit.fact("ore", "AU", Metric::Production, 999.0).facility = Some("mine-c".into());
    let score = kit.score("ore", &params());
    assert_close(
        score.dependency.china_share.value,
        70.0 / (70.0 + (10.0 + 20.0) + 50.0),
    );
}

/// China 100, Myanmar 50 of which 60% Chinese-controlled, Australia 50.
fn controlled_kit() -> Kit {
    let mut kit = ore_kit();
    kit.fact("ore", "CN", Metric::Production, 100.0);
    kit.fact("ore", "MM", Metric::Production, 50.0);
    kit.fact("ore", "AU", Metric::Production, 50.0);
    kit.fact("ore", "MM", Metric::ControlledShare, 0.6)
        .controlled_by = Some(country("CN"));
    kit.fact("", "CN", Metric::GovernanceWgi, -0.5);
    kit.fact("", "AU", Metric::GovernanceWgi, 1.5);
    kit.fact("ore", "CN", Metric::TradeRestriction, 1.1);
    kit
}

#[test]
fn china_share_counts_chinese_controlled_output_abroad() {
    let score = controlled_kit().score("ore", &params());
    let share = &score.dependency.china_share;
    assert_eq!(share.basis, ShareBasis::Production);
    assert_close(share.value, (100.0 + 0.6 * 50.0) / 200.0);
    assert_close(
        share.hhi,
        0.5_f64.powi(2) + 0.25_f64.powi(2) + 0.25_f64.powi(2),
    );
    // WGI scaled (2.5 − WGI)·2: CN 6, AU 2, MM without a fact 5; t_CN 1.1.
    let expected = 0.25 * 6.0 * 1.1 + 0.0625 * 5.0 + 0.0625 * 2.0;
    assert_close(share.hhi_governance, expected);
    assert!(score
        .defaults_used
        .iter()
        .any(|d| d.input == "governance_wgi:MM"));
}

#[test]
fn political_stability_is_recorded_for_reference_and_moves_nothing() {
    let kit = controlled_kit();
    let mut with_stability = kit.clone();
    for (country_code, estimate) in [("CN", -0.3), ("MM", -2.0), ("AU", 0.9)] {
        with_stability.fact("", country_code, Metric::WgiPoliticalStability, estimate);
    }
    let eu = Params::new(Buyer::Eu, AS_OF);
    for params in [params(), eu] {
        let before = kit.score("ore", &params);
        let after = with_stability.score("ore", &params);
        assert_eq!(
            serde_json::to_value(&before).unwrap(),
            serde_json::to_value(&after).unwrap()
        );
        let crm =
            |kit: &Kit| serde_json::to_value(eu_crm(&kit.snapshot(), &id("ore"), &params)).unwrap();
        assert_eq!(crm(&kit), crm(&with_stability));
    }
    // Myanmar has no `governance_wgi` fact: its governance stays the default
    // 5 whatever its political-stability estimate.
    let score = with_stability.score("ore", &params());
    let myanmar = score
        .dependency
        .china_share
        .countries
        .iter()
        .find(|c| c.country == country("MM"))
        .unwrap();
    assert_close(myanmar.governance_scaled, 5.0);
    assert_eq!(myanmar.governance_origin, Origin::Default);
}

#[test]
fn exposure_follows_the_buyers_sourcing_by_origin_then_recycling() {
    let mut kit = controlled_kit();
    for_buyer(kit.fact("ore", "CN", Metric::ImportShare, 0.5), us());
    for_buyer(kit.fact("ore", "US", Metric::ImportReliance, 0.8), us());
    kit.fact("ore", "US", Metric::RecyclingInputRate, 0.1);
    let score = kit.score("ore", &params());
    // 10% recycled; of the rest, 20% US output (none Chinese-controlled)
    // and 80% imports: half Chinese, half of unrecorded origin, bought on
    // the world market at China's share g.
    let g = 130.0 / 200.0;
    let e = (1.0 - 0.1) * (0.2 * 0.0 + 0.8 * (0.5 * 1.0 + 0.5 * g));
    assert_close(score.dependency.exposure.value, e);
    assert_close(score.dependency.score.unwrap_or(0.0), 100.0 * e);
    assert_eq!(
        score.dependency.exposure.import_reliance.origin,
        Origin::Facts
    );
}

#[test]
fn china_share_falls_back_to_operating_capacity_then_market_share() {
    let mut kit = ore_kit();
    kit.fact("ore", "CN", Metric::Capacity, 30.0).status = FactStatus::Operating;
    kit.fact("ore", "AU", Metric::Capacity, 10.0);
    let pipeline = kit.fact("ore", "US", Metric::Capacity, 100.0);
    pipeline.status = FactStatus::Planned;
    pipeline.expected_online = Some(2027);
    kit.fact("ore", "CN", Metric::MarketShare, 0.6);
    let share = kit.score("ore", &params()).dependency.china_share;
    assert_eq!(share.basis, ShareBasis::OperatingCapacity);
    assert_close(share.value, 30.0 / (30.0 + 10.0));

    let mut kit = ore_kit();
    kit.fact("ore", "CN", Metric::MarketShare, 0.6);
    let share = kit.score("ore", &params()).dependency.china_share;
    assert_eq!(share.basis, ShareBasis::MarketShare);
    assert_close(share.value, 0.6);
    assert_close(share.hhi, 0.6 * 0.6);
}

#[test]
fn a_basis_without_a_chinese_row_is_passed_over() {
    // Capacity recorded only for two Western plants says nothing of China's share.
    let mut kit = ore_kit();
    kit.fact("ore", "MY", Metric::Capacity, 9_000.0).status = FactStatus::Operating;
    kit.fact("ore", "US", Metric::Capacity, 6_000.0).status = FactStatus::Operating;
    kit.fact("ore", "CN", Metric::MarketShare, 0.92);
    let share = kit.score("ore", &params()).dependency.china_share;
    assert_eq!(share.basis, ShareBasis::MarketShare);
    assert_close(share.value, 0.92);

    // With nothing else recorded, the capacity list is used: China 0.
    let mut kit = ore_kit();
    kit.fact("ore", "MY", Metric::Capacity, 9_000.0).status = FactStatus::Operating;
    let share = kit.score("ore", &params()).dependency.china_share;
    assert_eq!(share.basis, ShareBasis::OperatingCapacity);
    assert_close(share.value, 0.0);
}

#[test]
fn export_shares_stand_in_only_when_nothing_measures_supply() {
    // World exports of the oxide: China 0.7, Vietnam 0.2, Japan 0.1; a
    // Malaysian plant's capacity is the only other record.
    let mut kit = ore_kit();
    kit.fact("ore", "CN", Metric::ExportShare, 0.7);
    kit.fact("ore", "VN", Metric::ExportShare, 0.2);
    kit.fact("ore", "JP", Metric::ExportShare, 0.1);
    kit.fact("ore", "MY", Metric::Capacity, 9_000.0).status = FactStatus::Operating;
    kit.fact("", "CN", Metric::GovernanceWgi, -0.5);
    let score = kit.score("ore", &params());
    let share = &score.dependency.china_share;
    assert_eq!(share.basis, ShareBasis::ExportShare);
    assert!(
        share.note.contains("world exports") && share.note.contains("not of its production"),
        "{}",
        share.note
    );
    // Shares of world exports are taken as published, like market shares:
    // g = 0.7, HHI = 0.7² + 0.2² + 0.1² = 0.49 + 0.04 + 0.01 = 0.54.
    assert_close(share.value, 0.7);
    assert_close(share.hhi, 0.54);
    // WGI_c: CN (2.5 + 0.5)·2 = 6, VN and JP the default 5; t_c 1:
    // 0.49·6 + 0.04·5 + 0.01·5 = 2.94 + 0.2 + 0.05 = 3.19.
    assert_close(share.hhi_governance, 3.19);
    // No import shares for the US: e = g, dependency 70.
    assert_close(score.dependency.score.unwrap_or(0.0), 70.0);
    // Scale: only capacity outside China (9,000 t/yr), so China's is
    // inferred from g: 0.7/0.3 · 9,000 = 21,000; 21,000 / 30,000 = 0.7.
    assert_close(score.difficulty.components[1].normalised, 0.7);
    assert!(score.difficulty.components[1]
        .note
        .contains("share of world exports"));
    // The EU CRM global term reads the same shares.
    let crm = eu_crm(&kit.snapshot(), &id("ore"), &params()).unwrap();
    assert_close(crm.stages[0].hhi_wgi_t_global.unwrap(), 3.19);

    // Any measure of supply comes first: a market share ...
    let mut with_market = kit.clone();
    with_market.fact("ore", "CN", Metric::MarketShare, 0.9);
    let share = with_market.score("ore", &params()).dependency.china_share;
    assert_eq!(share.basis, ShareBasis::MarketShare);
    assert_close(share.value, 0.9);
    // ... capacity with a Chinese row ...
    let mut with_capacity = kit.clone();
    with_capacity
        .fact("ore", "CN", Metric::Capacity, 27_000.0)
        .status = FactStatus::Operating;
    let share = with_capacity.score("ore", &params()).dependency.china_share;
    assert_eq!(share.basis, ShareBasis::OperatingCapacity);
    assert_close(share.value, 27_000.0 / 36_000.0);
    // ... and production.
    let mut with_production = kit.clone();
    with_production.fact("ore", "CN", Metric::Production, 40.0);
    with_production.fact("ore", "AU", Metric::Production, 60.0);
    let share = with_production
        .score("ore", &params())
        .dependency
        .china_share;
    assert_eq!(share.basis, ShareBasis::Production);
    assert_close(share.value, 0.4);
}

/// mine → sep → magnet, and a substitutable additive into the magnet.
fn chain_kit() -> Kit {
    let mut kit = Kit::new();
    kit.product("mine", Stage::Mining, &[])
        .product("sep", Stage::Smelting, &[("mine", 1.0, true)])
        .product("additive", Stage::Smelting, &[])
        .product(
            "magnet",
            Stage::Materials,
            &[("sep", 0.3, true), ("additive", 0.2, false)],
        );
    kit.fact("mine", "CN", Metric::Production, 80.0);
    kit.fact("mine", "AU", Metric::Production, 20.0);
    kit.fact("sep", "CN", Metric::MarketShare, 0.5);
    kit.fact("additive", "CN", Metric::Production, 30.0);
    kit.fact("additive", "US", Metric::Production, 70.0);
    kit.fact("magnet", "CN", Metric::MarketShare, 0.4);
    kit
}

#[test]
fn the_chain_bounds_a_product_by_its_inputs_and_names_the_chokepoint() {
    let kit = chain_kit();
    let (mine_free, sep_own_free, additive_free, magnet_own_free): (f64, f64, f64, f64) =
        (0.2, 0.5, 0.7, 0.6);
    let sep_bottleneck = f64::min(sep_own_free, mine_free);
    let sep_independent = sep_own_free * mine_free;
    let additive_term = 1.0 - 0.2 * (1.0 - additive_free);
    let bottleneck = magnet_own_free.min(sep_bottleneck).min(additive_term);
    let independent = magnet_own_free * sep_independent * additive_term;

    let score = kit.score("magnet", &params());
    let dependency = &score.dependency;
    assert_close(dependency.score.unwrap(), 100.0 * (1.0 - bottleneck));
    assert_close(dependency.independent.unwrap(), 100.0 * (1.0 - independent));
    assert_close(
        dependency.dependency_range.unwrap().low,
        100.0 * (1.0 - bottleneck),
    );
    assert_close(
        dependency.dependency_range.unwrap().high,
        100.0 * (1.0 - independent),
    );
    let chokepoint = dependency.chokepoint.as_ref().unwrap();
    assert_eq!(chokepoint.product, id("mine"));
    assert_eq!(chokepoint.path, vec![id("magnet"), id("sep"), id("mine")]);
    assert_close(chokepoint.exposure, 80.0);
    assert!(dependency.inputs[0].binding && !dependency.inputs[1].binding);
    assert_close(dependency.inputs[1].term, additive_term);

    let independent_params = Params {
        chain: Chain::Independent,
        ..params()
    };
    let score = kit.score("magnet", &independent_params);
    assert_close(
        score.dependency.score.unwrap_or(0.0),
        100.0 * (1.0 - independent),
    );
    assert_close(
        score.dependency.dependency_range.unwrap().low,
        100.0 * (1.0 - bottleneck),
    );
    let parts: f64 = score
        .dependency
        .components
        .iter()
        .map(|c| c.contribution)
        .sum();
    assert_close(parts, score.dependency.score.unwrap_or(0.0));
}

/// A materials product with a fact for every difficulty component.
fn anode_kit() -> Kit {
    let mut kit = Kit::new();
    kit.product("anode", Stage::Materials, &[]);
    kit.fact("anode", "CN", Metric::LeadTimeYears, 6.0);
    kit.fact("anode", "CN", Metric::Capacity, 90.0);
    kit.fact("anode", "US", Metric::Capacity, 10.0);
    let building = kit.fact("anode", "US", Metric::Capacity, 20.0);
    (building.status, building.expected_online, building.facility) = (
        FactStatus::UnderConstruction,
        Some(2027),
        Some("plant-1".into()),
    );
    let late = kit.fact("anode", "US", Metric::Capacity, 50.0);
    (late.status, late.expected_online, late.facility) =
        (FactStatus::Planned, Some(2035), Some("plant-2".into()));
    let undated = kit.fact("anode", "AU", Metric::Capacity, 40.0);
    undated.status = FactStatus::Announced;
    kit.fact("anode", "CN", Metric::Production, 80.0);
    kit.fact("anode", "US", Metric::Production, 20.0);
    for_buyer(kit.fact("anode", "US", Metric::Demand, 1000.0), us());
    kit.fact("anode", "US", Metric::CapexPerTpa, 50_000.0);
    kit.fact("anode", "US", Metric::CostPremium, 0.3);
    kit.fact("anode", "CN", Metric::StateSupport, 2.0);
    let ban = kit.fact("anode", "CN", Metric::TechnologyExportBan, 1.0);
    (ban.status, ban.period) = (FactStatus::InForce, period("2023-12-21/.."));
    kit.fact("anode", "CN", Metric::SubstitutionIndex, 0.6);
    kit
}

#[test]
fn difficulty_is_the_weighted_mean_of_its_components() {
    let score = anode_kit().score("anode", &params());
    let time = 6.0 / 20.0;
    // Operating 90 CN + 10 US, US 20 under construction (×0.8) by 2031;
    // the 2035 plant is past the horizon, the undated one does not count.
    let scale = 90.0 / (90.0 + 10.0 + 0.8 * 20.0);
    let exposure = 80.0 / 100.0;
    let capex = 1000.0 * exposure * 50_000.0;
    let capital = (capex / 1.0e7_f64).log10() / 4.0;
    let cost = 0.3 + 0.1 * 2.0;
    let know_how = 0.5;
    let substitution = 0.6;
    let expected = 100.0
        * (0.25 * time
            + 0.25 * scale
            + 0.15 * capital
            + 0.15 * cost
            + 0.10 * know_how
            + 0.10 * substitution);
    let difficulty = &score.difficulty;
    assert_close(difficulty.own_score, expected);
    assert_close(difficulty.score, expected);
    assert_close(difficulty.coverage, 1.0);
    assert_close(difficulty.components[1].normalised, scale);
    assert_close(difficulty.components[2].raw.unwrap(), capex);
    let parts: f64 = difficulty.components.iter().map(|c| c.contribution).sum();
    assert_close(parts, expected);
    assert_close(difficulty.years_to_displace, 6.0);
}

#[test]
fn capacity_recorded_only_outside_china_infers_chinas_from_its_share() {
    let mut kit = Kit::new();
    kit.product("oxide", Stage::Smelting, &[]);
    kit.fact("oxide", "CN", Metric::MarketShare, 0.92);
    kit.fact("oxide", "MY", Metric::Capacity, 9_000.0).status = FactStatus::Operating;
    kit.fact("oxide", "US", Metric::Capacity, 6_000.0).status = FactStatus::Operating;
    let scale_of = |kit: &Kit| kit.score("oxide", &params()).difficulty.components[1].normalised;
    // Without a pipeline China's inferred capacity holds exactly its share.
    assert_close(scale_of(&kit), 0.92);

    let plant = kit.fact("oxide", "US", Metric::Capacity, 10_000.0);
    (plant.status, plant.expected_online, plant.facility) = (
        FactStatus::UnderConstruction,
        Some(2027),
        Some("new plant".into()),
    );
    // China: 0.92 / 0.08 × 15,000 = 172,500 t/yr; the plant counts 0.8 × 10,000.
    let china = 0.92 / (1.0 - 0.92) * 15_000.0;
    assert_close(scale_of(&kit), china / (china + 15_000.0 + 0.8 * 10_000.0));
}

#[test]
fn weights_can_be_overridden_and_missing_components_are_dropped() {
    let time_only = Params {
        weights: Weights::new(1.0, 0.0, 0.0, 0.0, 0.0, 0.0).unwrap(),
        ..params()
    };
    assert_close(
        anode_kit().score("anode", &time_only).difficulty.score,
        100.0 * 6.0 / 20.0,
    );

    let mut kit = ore_kit();
    kit.fact("ore", "CN", Metric::Production, 70.0);
    kit.fact("ore", "AU", Metric::Production, 30.0);
    let score = kit.score("ore", &params());
    // Time (mining default 16 years), scale (China's share standing in for
    // capacity) and know-how (no ban: 0) remain; capital, cost and
    // substitution are dropped.
    let expected = 100.0 * (0.25 * (16.0 / 20.0) + 0.25 * 0.7 + 0.10 * 0.0) / (0.25 + 0.25 + 0.10);
    assert_close(score.difficulty.score, expected);
    assert_close(score.difficulty.coverage, 0.25);
    let origins: Vec<Origin> = score
        .difficulty
        .components
        .iter()
        .take(6)
        .map(|c| c.origin)
        .collect();
    use Origin::{Default, Facts, Missing};
    assert_eq!(
        origins,
        vec![Default, Facts, Missing, Missing, Default, Missing]
    );
    assert_close(score.difficulty.components[0].effective_weight, 0.25 / 0.6);
    assert!(score
        .defaults_used
        .iter()
        .any(|d| d.input == "lead_time_years" && d.value == 16.0));
}

#[test]
fn chain_difficulty_takes_the_hardest_material_input_and_its_lead_time() {
    let mut kit = Kit::new();
    kit.product("ore", Stage::Mining, &[])
        .product("minor-ore", Stage::Mining, &[])
        .product(
            "metal",
            Stage::Smelting,
            &[("ore", 1.0, true), ("minor-ore", 0.1, false)],
        );
    kit.fact("ore", "CN", Metric::Production, 60.0);
    kit.fact("ore", "AU", Metric::Production, 40.0);
    // Dependency 5 < 10: immaterial however hard.
    kit.fact("minor-ore", "CN", Metric::Production, 5.0);
    kit.fact("minor-ore", "AU", Metric::Production, 95.0);
    kit.fact("minor-ore", "CN", Metric::LeadTimeYears, 30.0);
    kit.fact("metal", "CN", Metric::MarketShare, 0.3);
    let score = kit.score("metal", &params());
    let ore = 100.0 * (0.25 * (16.0 / 20.0) + 0.25 * 0.6) / 0.6;
    let metal = 100.0 * (0.25 * (5.0 / 20.0) + 0.25 * 0.3) / 0.6;
    assert_close(score.difficulty.own_score, metal);
    assert_close(score.difficulty.score, ore);
    assert_eq!(score.difficulty.binding.product, id("ore"));
    assert_eq!(score.difficulty.binding_path, vec![id("metal"), id("ore")]);
    assert_close(score.difficulty.years_to_displace, 16.0);
    assert!(!score.difficulty.inputs[1].material);
    let parts: f64 = score
        .difficulty
        .components
        .iter()
        .map(|c| c.contribution)
        .sum();
    assert_close(parts, ore);
}

#[test]
fn eu_crm_supply_risk_by_hand() {
    let eu = Params::new(Buyer::Eu, AS_OF);
    let mut kit = Kit::new();
    kit.product("ore", Stage::Mining, &[])
        .product("metal", Stage::Smelting, &[("ore", 1.0, true)]);
    kit.fact("ore", "CN", Metric::Production, 60.0);
    kit.fact("ore", "AU", Metric::Production, 30.0);
    kit.fact("ore", "US", Metric::Production, 10.0);
    kit.fact("", "CN", Metric::GovernanceWgi, -0.5);
    kit.fact("", "AU", Metric::GovernanceWgi, 1.5);
    kit.fact("", "MY", Metric::GovernanceWgi, 0.5);
    kit.fact("ore", "CN", Metric::TradeRestriction, 1.1);
    for_buyer(kit.fact("ore", "CN", Metric::ImportShare, 0.5), Buyer::Eu);
    for_buyer(kit.fact("ore", "MY", Metric::ImportShare, 0.3), Buyer::Eu);
    for_buyer(kit.fact("ore", "AU", Metric::ImportShare, 0.2), Buyer::Eu);
    for_buyer(
        kit.fact("ore", "DE", Metric::ImportReliance, 1.0),
        Buyer::Eu,
    );
    kit.fact("ore", "DE", Metric::RecyclingInputRate, 0.1);
    kit.fact("ore", "DE", Metric::SubstitutionIndex, 0.9);
    kit.fact("ore", "DE", Metric::EconomicImportance, 3.5);
    kit.fact("metal", "CN", Metric::MarketShare, 0.9);
    kit.fact("metal", "DE", Metric::EconomicImportance, 2.0);
    let snapshot = kit.snapshot();

    // WGI scaled (2.5 − WGI)·2: CN 6, AU 2, MY 4, US (no fact) 5.
    let global = 0.6_f64.powi(2) * 6.0 * 1.1 + 0.3_f64.powi(2) * 2.0 + 0.1_f64.powi(2) * 5.0;
    let sourcing = 0.5_f64.powi(2) * 6.0 * 1.1 + 0.3_f64.powi(2) * 4.0 + 0.2_f64.powi(2) * 2.0;
    let ir = 1.0;
    let ore_sr = (global * ir / 2.0 + sourcing * (1.0 - ir / 2.0)) * (1.0 - 0.1) * 0.9;
    let ore = eu_crm(&snapshot, &id("ore"), &eu).unwrap();
    assert_close(ore.stages[0].hhi_wgi_t_global.unwrap(), global);
    assert_close(ore.stages[0].hhi_wgi_t_sourcing.unwrap(), sourcing);
    assert_close(ore.supply_risk.unwrap(), ore_sr);
    assert!(ore.critical, "SR {ore_sr} ≥ 1 and EI 3.5 ≥ 2.8");

    // Metal: global supply only (no sourcing data): 0.9²·6·1.1, no
    // recycling, SI 1 by default; the chain's maximum is the metal stage.
    let metal_sr = 0.9_f64.powi(2) * 6.0 * 1.0;
    let metal = eu_crm(&snapshot, &id("metal"), &eu).unwrap();
    assert_eq!(metal.stages.len(), 2);
    assert_close(metal.supply_risk.unwrap(), metal_sr.max(ore_sr));
    assert_eq!(metal.binding_product, Some(id("metal")));
    assert!(!metal.critical, "EI 2.0 < 2.8");
}

fn controls_kit() -> Kit {
    let mut kit = Kit::new();
    kit.product("oxide", Stage::Smelting, &[]).product(
        "magnet",
        Stage::Materials,
        &[("oxide", 0.3, true)],
    );
    let control = |kit: &mut Kit,
                   product: &str,
                   level: f64,
                   status: FactStatus,
                   when: &str,
                   measure: &str| {
        let fact = kit.fact(product, "CN", Metric::ExportControl, level);
        (fact.status, fact.period, fact.facility) = (status, period(when), Some(measure.into()));
        fact.knowledge.recorded_at = datetime!(2025-11-15 00:00 UTC);
    };
    control(
        &mut kit,
        "magnet",
        1.0,
        FactStatus::InForce,
        "2025-04-04/..",
        "april-2025",
    );
    control(
        &mut kit,
        "magnet",
        1.0,
        FactStatus::InForce,
        "2025-10-09/..",
        "october-2025",
    );
    control(
        &mut kit,
        "magnet",
        1.0,
        FactStatus::Suspended,
        "2025-11-10/2026-11-10",
        "october-2025",
    );
    control(
        &mut kit,
        "magnet",
        2.0,
        FactStatus::InForce,
        "2024-01-01/2024-12-31",
        "lapsed",
    );
    control(
        &mut kit,
        "oxide",
        2.0,
        FactStatus::InForce,
        "2025-01-01/..",
        "oxide-ban",
    );
    kit
}

#[test]
fn export_controls_are_reported_with_suspensions_and_upstream_controls() {
    let kit = controls_kit();
    let pressure = kit.score("magnet", &params()).pressure;
    let summary: Vec<(String, u32, FactStatus, bool, String)> = pressure
        .iter()
        .map(|p| {
            (
                p.product.to_string(),
                p.level,
                p.status,
                p.upstream,
                p.period.to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "magnet".into(),
                1,
                FactStatus::InForce,
                false,
                "2025-04-04/..".into()
            ),
            (
                "magnet".into(),
                1,
                FactStatus::Suspended,
                false,
                "2025-11-10/2026-11-10".into()
            ),
            (
                "oxide".into(),
                2,
                FactStatus::InForce,
                true,
                "2025-01-01/..".into()
            ),
        ]
    );
    assert_eq!(pressure[2].level_label, "ban");

    // Once the suspension has run out, the October control is in force again.
    let later = Params::new(us(), datetime!(2026-12-01 00:00 UTC));
    let statuses: Vec<FactStatus> = kit
        .score("magnet", &later)
        .pressure
        .iter()
        .filter(|p| !p.upstream)
        .map(|p| p.status)
        .collect();
    assert_eq!(statuses, vec![FactStatus::InForce, FactStatus::InForce]);
}

#[test]
fn snapshots_reject_bad_graphs_and_facts() {
    let build = |kit: &Kit| Snapshot::new(kit.products.clone(), kit.facts.clone()).err();
    let mut cycle = Kit::new();
    cycle
        .product("aa", Stage::Materials, &[("bb", 0.5, true)])
        .product("bb", Stage::Materials, &[("aa", 0.5, true)]);
    assert!(matches!(build(&cycle), Some(SnapshotError::Cycle(_))));

    let mut unknown = Kit::new();
    unknown.product("aa", Stage::Materials, &[("zz", 0.5, true)]);
    assert!(matches!(
        build(&unknown),
        Some(SnapshotError::UnknownInput { .. })
    ));

    let mut backwards = Kit::new();
    backwards.product("aa", Stage::Materials, &[]).product(
        "bb",
        Stage::Mining,
        &[("aa", 0.5, true)],
    );
    assert!(matches!(
        build(&backwards),
        Some(SnapshotError::DownstreamInput { .. })
    ));

    let mut share = Kit::new();
    share
        .product("aa", Stage::Mining, &[])
        .product("bb", Stage::Smelting, &[("aa", 1.5, true)]);
    assert!(matches!(
        build(&share),
        Some(SnapshotError::InvalidShare { .. })
    ));

    let mut twice = ore_kit();
    twice.product("ore", Stage::Mining, &[]);
    assert!(matches!(
        build(&twice),
        Some(SnapshotError::DuplicateProduct(_))
    ));

    let mut orphan = ore_kit();
    orphan.fact("nowhere", "CN", Metric::Production, 1.0);
    assert!(matches!(
        build(&orphan),
        Some(SnapshotError::UnknownFactProduct { .. })
    ));

    let mut unsure = ore_kit();
    unsure.fact("ore", "CN", Metric::Production, 1.0).confidence = 1.5;
    assert_eq!(build(&unsure), Some(SnapshotError::InvalidFact(1)));
}

#[test]
fn downstream_of_finds_every_product_made_from_the_changed_ones() {
    let mut kit = chain_kit();
    kit.product("other", Stage::Mining, &[]);
    let snapshot = kit.snapshot();
    let found: Vec<String> = snapshot
        .downstream_of(&[id("sep")])
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(found, vec!["magnet", "sep"]);
    assert_eq!(snapshot.downstream_of(&[id("mine"), id("other")]).len(), 4);
}

#[test]
fn score_all_computes_each_product_once_upstream_first_and_agrees_with_score_product() {
    let kit = chain_kit();
    let snapshot = kit.snapshot();
    let all = score_all(&snapshot, &params());
    let order: Vec<String> = all.iter().map(|s| s.product.to_string()).collect();
    assert_eq!(
        order,
        vec!["mine", "additive", "sep", "magnet"]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
    );
    for score in &all {
        assert_eq!(
            Some(score),
            score_product(&snapshot, &score.product, &params()).as_ref()
        );
    }
    assert!(score_product(&snapshot, &id("absent"), &params()).is_none());
    let json = serde_json::to_value(&all[3]).unwrap();
    assert_eq!(json["methodology_version"], "2026.6");
    assert_eq!(json["params"]["chain"], "bottleneck");
    assert_eq!(json["as_of"], "2026-01-01T00:00:00Z");
}

#[test]
fn intervals_collapse_at_full_confidence_and_widen_below_it() {
    let kit = chain_kit();
    let sure = uncertainty(&kit.snapshot(), &id("magnet"), &params(), 200, 1).unwrap();
    for interval in [sure.dependency, sure.difficulty] {
        assert_eq!(
            [interval.p5, interval.p50, interval.p95],
            [interval.point; 3]
        );
    }
    let mut unsure = kit.clone();
    unsure.facts.iter_mut().for_each(|f| f.confidence = 0.5);
    let snapshot = unsure.snapshot();
    let wide = uncertainty(&snapshot, &id("magnet"), &params(), 500, 7).unwrap();
    assert!(wide.dependency.p5 < wide.dependency.p95);
    assert_eq!(
        Some(&wide),
        uncertainty(&snapshot, &id("magnet"), &params(), 500, 7).as_ref()
    );
    assert_ne!(
        Some(&wide),
        uncertainty(&snapshot, &id("magnet"), &params(), 500, 8).as_ref()
    );
}

#[test]
fn stored_fact_records_convert_to_snapshot_facts() {
    use crate::domain::{FactRecord, SourceId, SourceKind, Unit};
    use crate::scoring::SnapshotFact;
    let record = FactRecord {
        id: 7,
        product: Some(id("ore")),
        country: Some(country("CN")),
        buyer: None,
        facility: None,
        metric: Metric::Production,
        value: Some(270_000.0),
        unit: Unit::TonnesPerYear,
        period: period("2024"),
        status: FactStatus::Estimate,
        controlled_by: None,
        expected_online: None,
        source_id: SourceId::parse("usgs-mcs-2025").unwrap(),
        confidence: 0.9,
        published_on: RECORDED.date(),
        quote: None,
        locator: None,
        note: None,
        recorded_at: RECORDED,
        retracted_at: None,
        retraction_reason: None,
        retraction_published_on: None,
    };
    let fact = SnapshotFact::from_record(record, SourceKind::GovernmentStatistics);
    assert_eq!(
        (fact.id, fact.value, fact.confidence),
        (7, Some(270_000.0), 0.9)
    );
    let mut kit = ore_kit();
    kit.facts.push(fact);
    let score = kit.score("ore", &params());
    assert_eq!(score.facts_used[0].source_id.as_str(), "usgs-mcs-2025");
    assert_close(score.dependency.score.unwrap_or(0.0), 100.0);
}

#[test]
fn output_types_document_themselves_for_openapi() {
    use crate::scoring::{EuCrmResult, Intervals, ProductScore};
    use utoipa::{PartialSchema, ToSchema};
    let roots = [
        ProductScore::schema(),
        EuCrmResult::schema(),
        Intervals::schema(),
        Params::schema(),
    ];
    let mut nested = Vec::new();
    ProductScore::schemas(&mut nested);
    EuCrmResult::schemas(&mut nested);
    Intervals::schemas(&mut nested);
    let names: Vec<&str> = nested.iter().map(|(name, _)| name.as_str()).collect();
    for name in [
        "DependencyScore",
        "DifficultyScore",
        "Component",
        "Chain",
        "Weights",
        "CrmStage",
        "Interval",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let json = serde_json::to_string(&(roots, nested)).unwrap();
    for field in [
        "methodology_version",
        "dependency_range",
        "chokepoint",
        "years_to_displace",
        "coverage",
        "p95",
    ] {
        assert!(json.contains(field), "{field}");
    }
}

#[test]
fn product_wide_facts_need_no_country_and_volumes_without_one_are_ignored() {
    let mut kit = ore_kit();
    kit.fact("ore", "CN", Metric::Production, 100.0);
    kit.fact("ore", "AU", Metric::Production, 100.0);
    kit.fact("ore", "", Metric::Production, 500.0);
    kit.fact("ore", "", Metric::LeadTimeYears, 10.0);
    kit.fact("ore", "US", Metric::LeadTimeYears, 14.0);
    let score = kit.score("ore", &params());
    assert_close(score.dependency.score.unwrap_or(0.0), 100.0 * 100.0 / 200.0);
    assert_close(
        score.difficulty.components[0].raw.unwrap(),
        (10.0 + 14.0) / 2.0,
    );
}

#[test]
fn a_chain_is_the_product_and_its_upstream_each_scored_as_alone() {
    let mut kit = Kit::new();
    kit.product("ore", Stage::Mining, &[])
        .product("other-ore", Stage::Mining, &[])
        .product("oxide", Stage::Smelting, &[("ore", 1.0, true)])
        .product("magnet", Stage::Materials, &[("oxide", 0.8, true)])
        .product("unrelated", Stage::Materials, &[("other-ore", 1.0, true)]);
    kit.fact("ore", "CN", Metric::Production, 90.0);
    kit.fact("ore", "AU", Metric::Production, 10.0);
    kit.fact("oxide", "CN", Metric::MarketShare, 0.95);
    let snapshot = kit.snapshot();
    let chain = crate::scoring::score_chain(&snapshot, &id("magnet"), &params()).unwrap();
    let ids: Vec<&str> = chain.iter().map(|s| s.product.as_str()).collect();
    assert_eq!(
        ids,
        ["ore", "oxide", "magnet"],
        "inputs first, the product last"
    );
    for score in &chain {
        assert_eq!(
            Some(score),
            score_product(&snapshot, &score.product, &params()).as_ref()
        );
    }
    assert!(crate::scoring::score_chain(&snapshot, &id("absent"), &params()).is_none());
}

/// Projects and targets move no number but are listed beside them: the
/// product's own first, then those upstream of it, each once, and only
/// those published by `as_of`.
#[test]
fn evidence_lists_qualitative_facts_of_the_product_and_upstream_known_at_the_date() {
    let mut kit = chain_kit();
    let plain = kit.score("magnet", &params());
    let project = kit.fact("mine", "CN", Metric::Project, 0.0);
    project.value = None;
    project.status = FactStatus::UnderConstruction;
    project.facility = Some("Phase II".into());
    project.source_kind = SourceKind::StateAffiliatedMedia;
    project.confidence = 0.2;
    let project = project.id;
    let target = kit.fact("magnet", "CN", Metric::PolicyTarget, 0.0);
    target.value = None;
    target.status = FactStatus::Target;
    let target = target.id;
    let later = kit.fact("sep", "CN", Metric::Project, 0.0);
    later.value = None;
    later.knowledge.published_on = (AS_OF + time::Duration::days(1)).date();

    let score = kit.score("magnet", &params());
    let listed: Vec<(i64, &str, bool)> = score
        .evidence
        .iter()
        .map(|e| (e.fact.id, e.product.as_str(), e.upstream))
        .collect();
    assert_eq!(
        listed,
        vec![(target, "magnet", false), (project, "mine", true)]
    );
    let phase = &score.evidence[1];
    assert_eq!(phase.status, FactStatus::UnderConstruction);
    assert_eq!(phase.facility.as_deref(), Some("Phase II"));
    assert_eq!(phase.fact.source_kind, SourceKind::StateAffiliatedMedia);
    assert_eq!(phase.published_on, RECORDED.date());
    // The scores themselves are untouched.
    assert_eq!(score.dependency, plain.dependency);
    assert_eq!(score.difficulty, plain.difficulty);
    // A day after publication, the later project is listed too.
    let next_day = Params::new(us(), AS_OF + time::Duration::days(1));
    let sep = kit.score("sep", &next_day);
    assert_eq!(sep.evidence.len(), 2, "{:?}", sep.evidence);
    assert!(!sep.evidence[0].upstream && sep.evidence[1].upstream);
}
