//! The country-resolved network: hand-worked chains through third
//! countries, and its properties against the method it generalises.

use proptest::prelude::*;

use super::kit::*;
use super::properties::{chains, name, snapshot_strategy, world_market_only, EPSILON};
use crate::domain::{Buyer, Metric, Stage};
use crate::scoring::network::Network;
use crate::scoring::{score_all, Chain, Params, PathVia, ProductScore, ScoreSummary, Scorer};

fn buyer(code: &str) -> Buyer {
    Buyer::Country(country(code))
}

fn params_for(code: &str) -> Params {
    Params::new(buyer(code), AS_OF)
}

/// `buyer` imports `product` from `origin` at `share` of its imports.
fn imports(kit: &mut Kit, product: &str, buyer_code: &str, origin: &str, share: f64) {
    for_buyer(
        kit.fact(product, origin, Metric::ImportShare, share),
        buyer(buyer_code),
    );
}

fn reliance(kit: &mut Kit, product: &str, buyer_code: &str, value: f64) {
    for_buyer(
        kit.fact(product, buyer_code, Metric::ImportReliance, value),
        buyer(buyer_code),
    );
}

/// Primary gallium: China 90 t, Japan 5, Korea 5. The US imports all it
/// uses: 40% from Japan, 30% from China, 30% from Germany. Japan imports 80%
/// of what it uses, all from China. Germany makes none and re-exports what
/// it imports: half Chinese, half Korean.
fn gallium() -> Kit {
    let mut kit = Kit::new();
    kit.product("gallium", Stage::Smelting, &[]);
    for (country_code, tonnes) in [("CN", 90.0), ("JP", 5.0), ("KR", 5.0)] {
        kit.fact("gallium", country_code, Metric::Production, tonnes);
    }
    reliance(&mut kit, "gallium", "US", 1.0);
    for (origin, share) in [("JP", 0.4), ("CN", 0.3), ("DE", 0.3)] {
        imports(&mut kit, "gallium", "US", origin, share);
    }
    reliance(&mut kit, "gallium", "JP", 0.8);
    imports(&mut kit, "gallium", "JP", "CN", 1.0);
    imports(&mut kit, "gallium", "DE", "CN", 0.5);
    imports(&mut kit, "gallium", "DE", "KR", 0.5);
    kit
}

fn points_and_summaries(score: &ProductScore) -> Vec<(f64, String)> {
    let chokepoint = score.dependency.chokepoint.as_ref().expect("a chokepoint");
    chokepoint
        .paths
        .iter()
        .map(|p| (p.points, p.summary.clone()))
        .collect()
}

#[test]
fn gallium_through_japan_and_germany_keeps_its_chinese_content() {
    let kit = gallium();
    let us = kit.score("gallium", &params_for("US"));
    // What each origin ships: Japan's pool is 20% its own (China-free) and
    // 80% Chinese imports, 0.8 Chinese; China's own output 1; Germany's
    // re-exports 0.5 · 1 + 0.5 · 0 (Korean output) = 0.5.
    let japan = 0.2 * 0.0 + 0.8 * 1.0;
    let germany = 0.5 * 1.0 + 0.5 * 0.0;
    let expected = 100.0 * (0.4 * japan + 0.3 * 1.0 + 0.3 * germany);
    assert_close(us.dependency.bottleneck.unwrap_or(0.0), expected);
    assert_close(us.dependency.independent.unwrap_or(0.0), expected);
    assert_close(expected, 77.0);
    // The paths, heaviest first, add up to the score.
    let paths = points_and_summaries(&us);
    assert_eq!(paths.len(), 3);
    assert_close(paths[0].0, 100.0 * 0.4 * 0.8);
    assert_eq!(paths[0].1, "US ← JP 40% gallium ← CN 80% gallium");
    assert_close(paths[1].0, 100.0 * 0.3);
    assert_eq!(paths[1].1, "US ← CN 30% gallium");
    assert_close(paths[2].0, 100.0 * 0.3 * 0.5);
    assert_eq!(paths[2].1, "US ← DE 30% gallium ← CN 50% gallium");
    let chokepoint = us.dependency.chokepoint.as_ref().unwrap();
    assert_eq!(chokepoint.country.as_deref(), Some("CN"));
    assert_close(chokepoint.other_paths_points, 0.0);
    assert_eq!(chokepoint.paths[0].steps[0].via, PathVia::Import);
    // Each step cites the fact its share comes from, in the order the kit
    // recorded them: 1–3 production, 4 US reliance, 5–7 US imports (JP,
    // CN, DE), 8 Japan's reliance, 9 Japan's imports from China, 10–11
    // Germany's.
    let cited: Vec<Vec<i64>> = chokepoint.paths[0]
        .steps
        .iter()
        .map(|s| s.fact_ids.clone())
        .collect();
    assert_eq!(cited, vec![vec![5], vec![9]]);
    let germany: Vec<Vec<i64>> = chokepoint.paths[2]
        .steps
        .iter()
        .map(|s| s.fact_ids.clone())
        .collect();
    assert_eq!(germany, vec![vec![7], vec![10]]);

    // Japan's own dependency is its pool's; a buyer with no sourcing
    // recorded buys on the world market, China's 90%.
    assert_close(
        kit.score("gallium", &params_for("JP"))
            .dependency
            .score
            .unwrap_or(0.0),
        100.0 * japan,
    );
    let world = kit.score("gallium", &params_for("KR"));
    assert_close(world.dependency.score.unwrap_or(0.0), 90.0);
    assert!(world
        .defaults_used
        .iter()
        .any(|d| d.input == "import_share"));
}

/// NdPr oxide: China 90, Malaysia 10. Magnets: Japan 30, China 70. The US
/// imports all its magnets from Japan; Japan buys its oxide 80% from China
/// and 20% from Malaysia.
fn magnets() -> Kit {
    let mut kit = Kit::new();
    kit.product("oxide", Stage::Smelting, &[]).product(
        "magnet",
        Stage::Materials,
        &[("oxide", 1.0, true)],
    );
    kit.fact("oxide", "CN", Metric::Production, 90.0);
    kit.fact("oxide", "MY", Metric::Production, 10.0);
    kit.fact("magnet", "JP", Metric::Production, 30.0);
    kit.fact("magnet", "CN", Metric::Production, 70.0);
    imports(&mut kit, "magnet", "US", "JP", 1.0);
    imports(&mut kit, "oxide", "JP", "CN", 0.8);
    imports(&mut kit, "oxide", "JP", "MY", 0.2);
    kit
}

#[test]
fn a_japanese_magnet_on_chinese_oxide_carries_the_oxide_into_the_us() {
    let us = magnets().score("magnet", &params_for("US"));
    // Own stage: Japanese magnets, no Chinese control: 0. Oxide stage: what
    // Japan buys, 0.8 Chinese. Bottleneck: the larger, 80. Independent: the
    // share passing through no Chinese control at either stage,
    // (1 − 0) · (1 − 0.8) = 0.2, so 80 too.
    assert_close(us.dependency.exposure.value, 0.0);
    assert_close(us.dependency.bottleneck.unwrap_or(0.0), 80.0);
    assert_close(us.dependency.independent.unwrap_or(0.0), 80.0);
    let chokepoint = us.dependency.chokepoint.as_ref().unwrap();
    assert_eq!(chokepoint.product, id("oxide"));
    assert_eq!(chokepoint.country.as_deref(), Some("CN"));
    assert_eq!(chokepoint.path, vec![id("magnet"), id("oxide")]);
    assert_close(chokepoint.exposure, 80.0);
    assert_eq!(
        points_and_summaries(&us),
        vec![(80.0, "US ← JP 100% magnet ← CN 80% oxide".to_owned())]
    );
    let oxide = &us.dependency.inputs[0];
    assert_close(oxide.dependency, 80.0);
    assert!(oxide.binding);
    // Before the network, a US buyer of Japanese magnets read the oxide at
    // its own (world-market) exposure, 90, and the magnet stage at China's
    // share of US imports, 0: the chain now follows Japan's oxide instead.
}

#[test]
fn a_country_that_makes_none_re_exports_what_it_imports() {
    let mut kit = Kit::new();
    kit.product("cobalt", Stage::Smelting, &[]);
    kit.fact("cobalt", "CD", Metric::Production, 60.0);
    kit.fact("cobalt", "FI", Metric::Production, 40.0);
    kit.fact("cobalt", "CD", Metric::ControlledShare, 0.45)
        .controlled_by = Some(country("CN"));
    // Germany buys all from the Netherlands, which makes none: 60% of its
    // imports are Congolese, 40% Finnish. Belgium buys from Germany: two
    // re-exports away from the mines.
    imports(&mut kit, "cobalt", "DE", "NL", 1.0);
    imports(&mut kit, "cobalt", "NL", "CD", 0.6);
    imports(&mut kit, "cobalt", "NL", "FI", 0.4);
    imports(&mut kit, "cobalt", "BE", "DE", 1.0);
    let netherlands = 0.6 * 0.45 + 0.4 * 0.0;
    for buyer_code in ["DE", "BE"] {
        let score = kit.score("cobalt", &params_for(buyer_code));
        assert_close(score.dependency.score.unwrap_or(0.0), 100.0 * netherlands);
    }
    let germany = kit.score("cobalt", &params_for("DE"));
    // Facts: 1–2 production, 3 China's control in the Congo, 4 Germany's
    // imports from the Netherlands, 5–6 the Netherlands' from the Congo
    // and Finland. The last step cites its share and its Chinese control.
    let steps = &germany.dependency.chokepoint.as_ref().unwrap().paths[0].steps;
    let cited: Vec<&[i64]> = steps.iter().map(|s| s.fact_ids.as_slice()).collect();
    assert_eq!(cited, vec![&[4][..], &[5, 3][..]]);
    assert_eq!(
        points_and_summaries(&germany),
        vec![(
            100.0 * 0.6 * 0.45,
            "DE ← NL 100% cobalt ← CD 60% cobalt".to_owned()
        )]
    );
    // The world market: (0.6 · 0.45 · 100) / 100.
    assert_close(
        kit.score("cobalt", &params_for("FR"))
            .dependency
            .score
            .unwrap_or(0.0),
        100.0 * 0.6 * 0.45,
    );
}

/// The method before the network, from each product's China share `g`:
/// `f(p) = min(1 − g, min_i g_i)` or `(1 − g) · Π g_i`.
fn single_country_dependency(kit: &Kit, scores: &[ProductScore], chain: Chain) -> Vec<f64> {
    let mut free: Vec<f64> = Vec::new();
    for (product, score) in kit.products.iter().zip(scores) {
        assert_eq!(product.id, score.product);
        let own = 1.0 - score.dependency.china_share.value;
        let terms = product.inputs.iter().map(|input| {
            let position = kit
                .products
                .iter()
                .position(|p| p.id == input.product)
                .unwrap();
            let f = free[position];
            if input.essential {
                f
            } else {
                1.0 - input.share * (1.0 - f)
            }
        });
        free.push(match chain {
            Chain::Bottleneck => terms.fold(own, f64::min),
            Chain::Independent => terms.fold(own, |a, b| a * b),
        });
    }
    free.iter().map(|f| 100.0 * (1.0 - f)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Where every country buys on the world market, the network is the
    /// single-country method.
    #[test]
    fn with_every_country_on_the_world_market_it_is_the_single_country_method(kit in snapshot_strategy()) {
        let kit = world_market_only(&kit);
        for params in chains() {
            let scores = score_all(&kit.snapshot(), &params);
            let old = single_country_dependency(&kit, &scores, params.chain);
            for (score, expected) in scores.iter().zip(old) {
                prop_assert!((score.dependency.score.unwrap_or(0.0) - expected).abs() < 1e-7,
                    "{}: {} vs {}", score.product, score.dependency.score.unwrap_or(0.0), expected);
            }
        }
    }

    /// A buyer whose every origin ships only Chinese output depends at least
    /// as much as one buying on the world market.
    #[test]
    fn origins_sourcing_all_from_china_never_score_below_the_world_market(kit in snapshot_strategy(), pick in 0..100usize) {
        let target = name(pick % kit.products.len());
        let mut kit = kit;
        imports(&mut kit, &target, "GB", "NL", 0.6);
        imports(&mut kit, &target, "GB", "BE", 0.4);
        imports(&mut kit, &target, "NL", "CN", 1.0);
        imports(&mut kit, &target, "BE", "CN", 1.0);
        for chain in [Chain::Bottleneck, Chain::Independent] {
            let at = |code: &str| Params { chain, ..params_for(code) };
            let snapshot = kit.snapshot();
            let gb = crate::scoring::score_product(&snapshot, &id(&target), &at("GB")).unwrap();
            let world = crate::scoring::score_product(&snapshot, &id(&target), &at("IT")).unwrap();
            prop_assert!(gb.dependency.score.unwrap_or(0.0) >= world.dependency.score.unwrap_or(0.0) - EPSILON);
        }
    }

    /// Moving part of an origin's imports to China never lowers the
    /// dependency of a buyer that imports from it: under `independent`
    /// always; under `bottleneck` where the makers buy their own inputs on
    /// the world market. (Under `bottleneck` each stage is a pool of its
    /// own: if China's makers buy an input less from China than the makers
    /// they displace, that input's stage can become less Chinese.)
    #[test]
    fn more_chinese_sourcing_at_an_origin_never_lowers_a_buyer(kit in snapshot_strategy(), pick in 0..100usize, low in 0.0..=1.0f64, raise in 0.0..=1.0f64) {
        let target = name(pick % kit.products.len());
        let high = low + (1.0 - low) * raise;
        let with_share = |kit: &Kit, china: f64| {
            let mut kit = kit.clone();
            imports(&mut kit, &target, "GB", "NL", 1.0);
            imports(&mut kit, &target, "NL", "CN", china);
            imports(&mut kit, &target, "NL", "AU", 1.0 - china);
            kit
        };
        let world = world_market_only(&kit);
        for (kit, chain) in [(&kit, Chain::Independent), (&world, Chain::Bottleneck), (&world, Chain::Independent)] {
            let at = Params { chain, ..params_for("GB") };
            let before = score_all(&with_share(kit, low).snapshot(), &at);
            let after = score_all(&with_share(kit, high).snapshot(), &at);
            for (b, a) in before.iter().zip(&after) {
                let (b_score, a_score) = (b.dependency.score.unwrap_or(0.0), a.dependency.score.unwrap_or(0.0));
                prop_assert!(a_score >= b_score - EPSILON, "{} {:?}: {} → {}", b.product, chain, b_score, a_score);
            }
        }
    }

    /// One network read for several buyers in turn gives each buyer the
    /// scores it gets alone, and summaries made without the paths are the
    /// summaries of the full scores.
    #[test]
    fn a_network_shared_by_buyers_gives_each_its_own_scores(kit in snapshot_strategy()) {
        let mut kit = kit;
        imports(&mut kit, "p0", "GB", "US", 0.7);
        reliance(&mut kit, "p0", "GB", 0.6);
        let snapshot = kit.snapshot();
        let mut scorer = Scorer::new(&snapshot, &params());
        for code in ["US", "GB", "FR", "US"] {
            let alone = score_all(&snapshot, &params_for(code));
            let shared = scorer.score_all(&params_for(code));
            prop_assert_eq!(&alone, &shared);
            let summaries = serde_json::to_value(scorer.summarise_all(&params_for(code))).unwrap();
            let expected: Vec<ScoreSummary> = alone.iter().map(ScoreSummary::from).collect();
            prop_assert_eq!(summaries, serde_json::to_value(expected).unwrap());
        }
    }

    /// The arithmetic a draw runs (only what the buyer's supplies read)
    /// gives those supplies the numbers the whole network's gives them, to
    /// the bit.
    #[test]
    fn a_draws_plan_gives_the_supplies_the_whole_networks_numbers(kit in snapshot_strategy(), scale in 0.5..1.5f64) {
        let mut kit = kit;
        imports(&mut kit, "p0", "GB", "US", 0.7);
        imports(&mut kit, "p0", "US", "CN", 0.4);
        reliance(&mut kit, "p0", "GB", 0.6);
        let snapshot = kit.snapshot();
        let params = params_for("GB");
        let mut network = Network::new(&snapshot, &params);
        let supplies: Vec<usize> = (0..snapshot.products().len())
            .map(|p| network.buyer_supply(p, params.buyer))
            .collect();
        let plan = network.plan(&supplies);
        let scaled: Vec<Vec<f64>> = (0..snapshot.products().len())
            .map(|p| network.stage_values(p).iter().map(|v| v * scale).collect())
            .collect();
        let (mut whole, mut planned) = (Vec::new(), Vec::new());
        network.evaluate(&|p| scaled[p].as_slice(), None, &mut whole);
        network.evaluate_plan(&plan, &|p| scaled[p].as_slice(), &mut planned);
        let bits = |values: &[f64], node: usize| {
            let content = network.content_of(values, node);
            content.stages.iter().chain([&content.free_independent]).chain(content.inputs_free_independent)
                .map(|v| v.to_bits()).collect::<Vec<_>>()
        };
        for &node in &supplies {
            prop_assert_eq!(bits(&whole, node), bits(&planned, node));
        }
    }

    /// The listed paths and the rest add up to the bottleneck dependency.
    #[test]
    fn paths_add_up_to_the_bottleneck_dependency(kit in snapshot_strategy()) {
        for code in ["US", "GB"] {
            for score in score_all(&kit.snapshot(), &params_for(code)) {
                match &score.dependency.chokepoint {
                    None => prop_assert!(score.dependency.bottleneck.unwrap_or(0.0).abs() < EPSILON),
                    Some(chokepoint) => {
                        let listed: f64 = chokepoint.paths.iter().map(|p| p.points).sum();
                        prop_assert!((listed + chokepoint.other_paths_points - score.dependency.bottleneck.unwrap_or(0.0)).abs() < 1e-7,
                            "{}: {} + {} vs {}", score.product, listed, chokepoint.other_paths_points, score.dependency.bottleneck.unwrap_or(0.0));
                        prop_assert!(chokepoint.paths.windows(2).all(|w| w[0].points >= w[1].points - EPSILON));
                        prop_assert!(chokepoint.paths.iter().all(|p| p.points > 0.0 && !p.steps.is_empty()));
                    }
                }
            }
        }
    }
}

#[test]
fn no_supply_facts_on_the_chain_is_no_score_not_zero() {
    let mut kit = Kit::new();
    kit.product("ore", Stage::Mining, &[])
        .product("metal", Stage::Smelting, &[("ore", 1.0, true)])
        .product("alloy", Stage::Materials, &[("metal", 1.0, true)]);
    kit.fact("metal", "", Metric::LeadTimeYears, 4.0);
    let unknown = kit.score("alloy", &params());
    assert_eq!(unknown.dependency.score, None);
    assert_eq!(unknown.dependency.bottleneck, None);
    assert_eq!(unknown.dependency.dependency_range, None);
    assert_eq!(unknown.dependency.supply_coverage, 0.0);
    assert!(unknown.dependency.insufficient_data.is_some());
    assert!(unknown.dependency.chokepoint.is_none());
    assert!(unknown.dependency.components.is_empty());
    // Difficulty is still scored from what is known.
    assert!(unknown.difficulty.score > 0.0);

    // Supply facts at one stage of three: a score, with its coverage.
    kit.fact("ore", "CN", Metric::Production, 70.0);
    kit.fact("ore", "AU", Metric::Production, 30.0);
    let known = kit.score("alloy", &params());
    assert_close(known.dependency.score.unwrap(), 70.0);
    assert_close(known.dependency.supply_coverage, 1.0 / 3.0);
    assert_eq!(known.dependency.insufficient_data, None);
    let summary = crate::scoring::ScoreSummary::from(&unknown);
    assert_eq!(summary.dependency, None);
}

#[test]
fn a_producer_ships_no_more_of_its_own_output_than_it_makes() {
    let mut kit = Kit::new();
    kit.product("gallium", Stage::Smelting, &[]);
    for (country_code, tonnes) in [("CN", 90.0), ("JP", 3.0), ("KR", 7.0)] {
        kit.fact("gallium", country_code, Metric::Production, tonnes);
    }
    // The US uses 10 t a year, all imported, half from Japan and half from
    // Korea: 5 t each. Korea makes 7 t, so its 5 t can be its own; Japan
    // makes 3 t, so at least 2 t of the 5 are re-exports, and Japan records
    // no sourcing: they come from the world market, China's 90%.
    for_buyer(kit.fact("gallium", "US", Metric::Demand, 10.0), buyer("US"));
    reliance(&mut kit, "gallium", "US", 1.0);
    imports(&mut kit, "gallium", "US", "JP", 0.5);
    imports(&mut kit, "gallium", "US", "KR", 0.5);
    let us = kit.score("gallium", &params_for("US"));
    let japan_own = 3.0 / 5.0;
    let expected = 100.0 * 0.5 * (1.0 - japan_own) * 0.9;
    assert_close(us.dependency.score.unwrap(), expected);
    assert_close(expected, 18.0);
    let paths = points_and_summaries(&us);
    assert_eq!(paths.len(), 1);
    assert_close(paths[0].0, expected);
    assert_eq!(paths[0].1, "US ← JP 20% gallium ← CN 90% gallium");
    // Without the demand, nothing says Japan ships more than it makes.
    kit.facts.retain(|f| f.metric != Metric::Demand);
    assert_close(
        kit.score("gallium", &params_for("US"))
            .dependency
            .score
            .unwrap(),
        0.0,
    );
}
