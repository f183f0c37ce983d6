//! Bill-of-materials exposure: items scored with their own stage supplied
//! from the supplier's country, weighted, ranked and advised, against
//! arithmetic written out here.

use proptest::prelude::*;

use super::kit::*;
use super::properties::{chains, name, snapshot_strategy, EPSILON, NEWCOMER};
use crate::domain::{Buyer, Metric, Stage};
use crate::scoring::exposure::{assess, Advice, Item, StagePoint, UnknownProduct, WeightBasis};
use crate::scoring::{score_all, score_product, Chain, Params};

/// Ore: China 60, Australia 30, Malaysia 10 of which China controls half
/// (g = 0.65), two years to open a mine. Oxide: China 90% of the market,
/// Japan 10%; the US buys 1,000 t/yr at $10M per t/yr of capacity. Magnet:
/// no facts.
fn chain() -> Kit {
    let mut kit = Kit::new();
    kit.product("ore", Stage::Mining, &[])
        .product("oxide", Stage::Smelting, &[("ore", 1.0, true)])
        .product("magnet", Stage::Materials, &[("oxide", 1.0, true)]);
    kit.fact("ore", "CN", Metric::Production, 60.0);
    kit.fact("ore", "AU", Metric::Production, 30.0);
    kit.fact("ore", "MY", Metric::Production, 10.0);
    kit.fact("ore", "MY", Metric::ControlledShare, 0.5)
        .controlled_by = Some(country("CN"));
    kit.fact("ore", "", Metric::LeadTimeYears, 2.0);
    kit.fact("oxide", "CN", Metric::MarketShare, 0.9);
    kit.fact("oxide", "JP", Metric::MarketShare, 0.1);
    for_buyer(kit.fact("oxide", "US", Metric::Demand, 1000.0), us());
    kit.fact("oxide", "", Metric::CapexPerTpa, 1.0e7);
    kit
}

fn item(product: &str, supplier: Option<&str>, spend: Option<f64>, quantity: Option<f64>) -> Item {
    Item {
        product: id(product),
        supplier_country: supplier.map(country),
        annual_spend: spend,
        quantity,
    }
}

fn point(product: &str, stage: Stage) -> Option<StagePoint> {
    Some(StagePoint {
        product: id(product),
        stage,
    })
}

#[test]
fn the_supplier_country_sets_the_own_stage_and_inputs_keep_their_chain() {
    let items = [
        item("magnet", Some("JP"), Some(100.0), None),
        item("oxide", Some("JP"), Some(300.0), None),
        item("oxide", Some("CN"), Some(600.0), None),
        item("ore", Some("MY"), Some(1000.0), None),
    ];
    let assessment = assess(&chain().snapshot(), &params(), &items, 10).unwrap();
    assert_eq!(assessment.basis, WeightBasis::AnnualSpend);

    // China-free supply f: ore 0.35 on the market; from Malaysia 0.5 (China
    // controls half); the oxide 0.1 on the market, from Japan min(1, 0.35),
    // from China 0; a magnet made in Japan min(1, f(oxide)) = 0.1.
    let expected_dependency = [90.0, 65.0, 100.0, 50.0];
    let expected_exposure = [0.0, 0.0, 1.0, 0.5];
    // Difficulty. Ore: time 2/20, scale 0.65 (g stands in), know-how 0:
    // weights .25 + .25 + .10. Oxide: time 5/20, scale 0.9, capital
    // log10(1,000 t × e × $10M / $10M) / 4, know-how 0: weights .25 + .25 +
    // .15 + .10; the chain keeps the harder of the oxide and the ore.
    let ore = 100.0 * (0.25 * 0.1 + 0.25 * 0.65) / 0.60;
    let oxide = |e: f64| {
        let capital = if e > 0.0 {
            (1000.0 * e * 1.0e7 / 1.0e7_f64).log10() / 4.0
        } else {
            0.0
        };
        100.0 * (0.25 * 0.25 + 0.25 * 0.9 + 0.15 * capital) / 0.75
    };
    let expected_difficulty = [
        oxide(0.9).max(ore),
        oxide(0.0).max(ore),
        oxide(1.0).max(ore),
        ore,
    ];
    let expected_chokepoint = [
        point("oxide", Stage::Smelting),
        point("ore", Stage::Mining),
        point("oxide", Stage::Smelting),
        point("ore", Stage::Mining),
    ];
    let weights = [0.05, 0.15, 0.30, 0.50];
    for (i, score) in assessment.items.iter().enumerate() {
        assert_close(score.weight, weights[i]);
        assert_close(score.own_exposure, expected_exposure[i]);
        assert_close(score.dependency, expected_dependency[i]);
        assert_close(score.difficulty, expected_difficulty[i]);
        assert_eq!(score.chokepoint, expected_chokepoint[i], "item {i}");
    }
    let weighted = |values: [f64; 4]| -> f64 { (0..4).map(|i| weights[i] * values[i]).sum() };
    assert_close(assessment.dependency, weighted(expected_dependency));
    assert_close(assessment.difficulty, weighted(expected_difficulty));
}

#[test]
fn hotspots_rank_by_weighted_dependency_with_the_best_single_change() {
    let items = [
        item("magnet", Some("JP"), Some(100.0), None),
        item("oxide", Some("JP"), Some(300.0), None),
        item("oxide", Some("CN"), Some(600.0), None),
        item("ore", Some("MY"), Some(1000.0), None),
    ];
    let assessment = assess(&chain().snapshot(), &params(), &items, 3).unwrap();
    let ranked: Vec<(usize, f64)> = assessment
        .hotspots
        .iter()
        .map(|h| (h.item, h.contribution))
        .collect();
    // 0.30 × 100, 0.50 × 50, 0.15 × 65 (0.05 × 90 is fourth, cut off).
    assert_eq!(ranked.len(), 3);
    for ((item, contribution), (expected_item, expected)) in
        ranked.iter().zip([(2, 30.0), (3, 25.0), (1, 9.75)])
    {
        assert_eq!(*item, expected_item);
        assert_close(*contribution, expected);
    }
    let advice: Vec<&Advice> = assessment
        .hotspots
        .iter()
        .map(|h| h.advice.as_ref().unwrap())
        .collect();
    // Oxide from China: Japan, the one other recorded source, gives
    // min(1, 0.35) → 65. Nothing upstream binds.
    assert!(
        matches!(advice[0], Advice::MoveSupplier { country: c, dependency, points }
        if c.as_str() == "JP" && close(*dependency, 65.0) && close(*points, 35.0)),
        "{:?}",
        advice[0]
    );
    // Ore from Malaysia: Australia, uncontrolled, takes it to 0.
    assert!(
        matches!(advice[1], Advice::MoveSupplier { country: c, dependency, points }
        if c.as_str() == "AU" && close(*dependency, 0.0) && close(*points, 50.0)),
        "{:?}",
        advice[1]
    );
    // Oxide from Japan: no other source outside China; a China-free ore
    // stage would free it entirely.
    assert!(
        matches!(advice[2], Advice::SecureUpstream { product, stage: Stage::Mining, dependency, points }
        if product.as_str() == "ore" && close(*dependency, 0.0) && close(*points, 65.0)),
        "{:?}",
        advice[2]
    );
    // Each advice's points in the aggregate: the item's weight times its own.
    let aggregate: Vec<f64> = assessment
        .hotspots
        .iter()
        .map(|h| h.aggregate_points.unwrap())
        .collect();
    for (points, expected) in aggregate
        .iter()
        .zip([0.30 * 35.0, 0.50 * 50.0, 0.15 * 65.0])
    {
        assert_close(*points, expected);
    }
    assert_eq!(assessment.total_annual_spend, Some(2000.0));
    assert_eq!(assessment.total_quantity, None);

    let everything = assess(&chain().snapshot(), &params(), &items, 10).unwrap();
    let magnet = everything.hotspots.iter().find(|h| h.item == 0).unwrap();
    // The Japanese magnet is bound by the oxide: free it and the ore binds.
    assert!(
        matches!(magnet.advice.as_ref().unwrap(), Advice::SecureUpstream { product, dependency, points, .. }
        if product.as_str() == "oxide" && close(*dependency, 65.0) && close(*points, 25.0))
    );
}

#[test]
fn weights_fall_back_from_spend_to_quantity_to_equal_shares() {
    let snapshot = chain().snapshot();
    let spend_missing = [
        item("ore", None, Some(10.0), Some(1.0)),
        item("oxide", None, None, Some(3.0)),
    ];
    let assessment = assess(&snapshot, &params(), &spend_missing, 10).unwrap();
    assert_eq!(assessment.basis, WeightBasis::Quantity);
    // Totals count the items that give an amount.
    assert_eq!(assessment.total_annual_spend, Some(10.0));
    assert_eq!(assessment.total_quantity, Some(4.0));
    assert_close(assessment.items[0].weight, 0.25);
    let neither = [
        item("ore", None, Some(10.0), None),
        item("oxide", None, None, None),
    ];
    let assessment = assess(&snapshot, &params(), &neither, 10).unwrap();
    assert_eq!(assessment.basis, WeightBasis::Equal);
    assert_close(assessment.items[1].weight, 0.5);
    let zero_spend = [
        item("ore", None, Some(0.0), None),
        item("oxide", None, Some(0.0), None),
    ];
    let assessment = assess(&snapshot, &params(), &zero_spend, 10).unwrap();
    assert_eq!(
        assessment.basis,
        WeightBasis::Equal,
        "no total to take shares of"
    );
}

#[test]
fn an_unknown_product_is_refused() {
    let items = [item("unobtainium", None, None, None)];
    assert_eq!(
        assess(&chain().snapshot(), &params(), &items, 10),
        Err(UnknownProduct(id("unobtainium")))
    );
}

#[test]
fn without_a_supplier_country_an_item_scores_as_the_market() {
    let snapshot = chain().snapshot();
    let items = [item("magnet", None, None, None)];
    let assessment = assess(&snapshot, &params(), &items, 10).unwrap();
    let market = score_product(&snapshot, &id("magnet"), &params()).unwrap();
    assert_close(
        assessment.items[0].dependency,
        market.dependency.score.unwrap_or(0.0),
    );
    assert_close(assessment.items[0].difficulty, market.difficulty.score);
}

fn without_recycling(kit: &Kit) -> Kit {
    let mut kit = kit.clone();
    kit.facts.retain(|f| f.metric != Metric::RecyclingInputRate);
    kit
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// (Recycling is left out: a buyer's recycled supply is not part of an
    /// item bought from a supplier.)
    #[test]
    fn items_follow_the_market_and_the_supplier_country(kit in snapshot_strategy()) {
        let kit = without_recycling(&kit);
        let snapshot = kit.snapshot();
        for params in chains() {
            let market = score_all(&snapshot, &params);
            // A buyer with no sourcing recorded: the world market.
            let world = score_all(&snapshot, &Params { buyer: Buyer::Country(country("FR")), ..params });
            let items: Vec<Item> = (0..kit.products.len())
                .flat_map(|i| [None, Some("CN"), Some(NEWCOMER)].map(|c| item(&name(i), c, None, None)))
                .collect();
            let assessment = assess(&snapshot, &params, &items, 0).unwrap();
            for (item, score) in items.iter().zip(&assessment.items) {
                let market = market.iter().find(|s| s.product == item.product).unwrap();
                match item.supplier_country.map(|c| c.as_str().to_owned()).as_deref() {
                    None => {
                        prop_assert!((score.dependency - market.dependency.score.unwrap_or(0.0)).abs() < EPSILON);
                        prop_assert!((score.difficulty - market.difficulty.score).abs() < EPSILON);
                    }
                    // China's own supply is all Chinese: never less dependent.
                    Some("CN") => prop_assert!(score.dependency >= market.dependency.score.unwrap_or(0.0) - EPSILON),
                    // A newcomer outside China buys its inputs on the world
                    // market: it carries exactly what a world-market buyer of
                    // each input depends on, through the input terms.
                    _ => {
                        let product = kit.products.iter().find(|p| p.id == item.product).unwrap();
                        let terms = product.inputs.iter().map(|input| {
                            let world = world.iter().find(|s| s.product == input.product).unwrap();
                            let free = 1.0 - world.dependency.score.unwrap_or(0.0) / 100.0;
                            if input.essential { free } else { 1.0 - input.share * (1.0 - free) }
                        });
                        let free = match params.chain {
                            Chain::Bottleneck => terms.fold(1.0, f64::min),
                            Chain::Independent => terms.product(),
                        };
                        prop_assert!((score.dependency - 100.0 * (1.0 - free)).abs() < 1e-7,
                            "{}: {} vs {}", item.product, score.dependency, 100.0 * (1.0 - free));
                    }
                }
            }
        }
    }
}
