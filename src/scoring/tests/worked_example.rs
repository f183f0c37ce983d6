//! The worked example of docs/methodology.md ("Worked example: sintered
//! NdFeB magnets for a US buyer"), fact for fact. If this test changes, the
//! document changes with it.

use super::kit::*;
use crate::domain::{FactStatus, Metric, SourceKind, Stage};
use crate::scoring::{score_all, ProductScore, ShareBasis};

fn example() -> Kit {
    let mut kit = Kit::new();
    kit.product("rare-earth-concentrate", Stage::Mining, &[])
        .product(
            "ndpr-oxide",
            Stage::Smelting,
            &[("rare-earth-concentrate", 1.0, true)],
        )
        .product(
            "sintered-ndfeb-magnet",
            Stage::Materials,
            &[("ndpr-oxide", 0.3, true)],
        );
    let sourced = |kit: &mut Kit,
                   product: &str,
                   country: &str,
                   metric: Metric,
                   value: f64,
                   confidence: f64| {
        let fact = kit.fact(product, country, metric, value);
        fact.confidence = confidence;
        fact.source_kind = if confidence >= 0.9 {
            SourceKind::GovernmentStatistics
        } else {
            SourceKind::Other
        };
    };
    // 1–4: USGS Mineral Commodity Summaries 2025, mine production 2024.
    for (country, tonnes) in [
        ("CN", 270_000.0),
        ("US", 45_000.0),
        ("MM", 31_000.0),
        ("AU", 13_000.0),
    ] {
        sourced(
            &mut kit,
            "rare-earth-concentrate",
            country,
            Metric::Production,
            tonnes,
            0.9,
        );
    }
    // 5: IEA, China's share of NdPr oxide separation.
    sourced(&mut kit, "ndpr-oxide", "CN", Metric::MarketShare, 0.92, 0.9);
    // 6: China's December 2023 ban on exporting separation technology.
    let ban = kit.fact("ndpr-oxide", "CN", Metric::TechnologyExportBan, 2.0);
    (ban.status, ban.period, ban.confidence) = (FactStatus::InForce, period("2023-12-21/.."), 0.9);
    // 7: China's share of sintered magnets, a low-confidence estimate.
    sourced(
        &mut kit,
        "sintered-ndfeb-magnet",
        "CN",
        Metric::MarketShare,
        0.9,
        0.5,
    );
    // 8–10: illustrative US figures.
    for (country, metric, value) in [
        ("CN", Metric::ImportShare, 0.75),
        ("US", Metric::ImportReliance, 0.9),
        ("US", Metric::Demand, 9_000.0),
    ] {
        sourced(
            &mut kit,
            "sintered-ndfeb-magnet",
            country,
            metric,
            value,
            0.5,
        );
        kit.facts.last_mut().unwrap().buyer = Some(us());
    }
    // 11–13, 15: illustrative cost, support and substitution figures.
    sourced(
        &mut kit,
        "sintered-ndfeb-magnet",
        "US",
        Metric::CapexPerTpa,
        100_000.0,
        0.5,
    );
    sourced(
        &mut kit,
        "sintered-ndfeb-magnet",
        "US",
        Metric::CostPremium,
        0.5,
        0.5,
    );
    sourced(
        &mut kit,
        "sintered-ndfeb-magnet",
        "CN",
        Metric::StateSupport,
        2.0,
        0.5,
    );
    // 14: the same technology ban covers magnet making.
    let ban = kit.fact(
        "sintered-ndfeb-magnet",
        "CN",
        Metric::TechnologyExportBan,
        2.0,
    );
    (ban.status, ban.period, ban.confidence) = (FactStatus::InForce, period("2023-12-21/.."), 0.9);
    sourced(
        &mut kit,
        "sintered-ndfeb-magnet",
        "US",
        Metric::SubstitutionIndex,
        0.7,
        0.5,
    );
    // 16: China's April 2025 export licensing on magnets with heavy rare earths.
    let control = kit.fact("sintered-ndfeb-magnet", "CN", Metric::ExportControl, 1.0);
    (control.status, control.period, control.confidence) =
        (FactStatus::InForce, period("2025-04-04/.."), 0.9);
    kit
}

fn by_product<'a>(scores: &'a [ProductScore], product: &str) -> &'a ProductScore {
    scores
        .iter()
        .find(|s| s.product.as_str() == product)
        .unwrap()
}

#[test]
fn worked_example_reproduces_the_documented_numbers() {
    let scores = score_all(&example().snapshot(), &params());

    // Step 1: concentrate. g = 270,000 / 359,000; e = g (no US facts).
    let world = 270_000.0 + 45_000.0 + 31_000.0 + 13_000.0;
    let g_mine = 270_000.0 / world;
    let mine = by_product(&scores, "rare-earth-concentrate");
    assert_close(mine.dependency.score.unwrap_or(0.0), 100.0 * g_mine);
    assert_close(mine.dependency.score.unwrap_or(0.0), 75.208_913_649_025_07);
    let hhi = (270_000.0_f64.powi(2)
        + 45_000.0_f64.powi(2)
        + 31_000.0_f64.powi(2)
        + 13_000.0_f64.powi(2))
        / world.powi(2);
    assert_close(mine.dependency.china_share.hhi, hhi);
    // Time: default 16 years → 0.8; scale: China's share stands in; no
    // ban → know-how 0; capital, cost and substitution dropped.
    let mine_difficulty = 100.0 * (0.25 * 0.8 + 0.25 * g_mine + 0.10 * 0.0) / (0.25 + 0.25 + 0.10);
    assert_close(mine.difficulty.score, mine_difficulty);

    // Step 2: NdPr oxide. e = 0.92; bottleneck min(0.08, 1 − g_mine).
    let free_mine = 1.0 - g_mine;
    let oxide = by_product(&scores, "ndpr-oxide");
    assert_eq!(oxide.dependency.china_share.basis, ShareBasis::MarketShare);
    assert_close(
        oxide.dependency.score.unwrap_or(0.0),
        100.0 * (1.0 - f64::min(1.0 - 0.92, free_mine)),
    );
    assert_close(oxide.dependency.score.unwrap_or(0.0), 92.0);
    let oxide_independent_free = (1.0 - 0.92) * free_mine;
    assert_close(
        oxide.dependency.independent.unwrap_or(0.0),
        100.0 * (1.0 - oxide_independent_free),
    );
    // Time: default 5 years → 0.25; scale 0.92; ban level 2 → 1.
    let oxide_difficulty = 100.0 * (0.25 * 0.25 + 0.25 * 0.92 + 0.10 * 1.0) / 0.6;
    assert_close(oxide.difficulty.own_score, oxide_difficulty);
    assert!(
        oxide_difficulty > mine_difficulty,
        "the oxide's own difficulty binds"
    );
    assert_close(oxide.difficulty.score, oxide_difficulty);

    // Step 3: magnets for the US. 10% US output (China controls none of
    // it); 90% imports: 75% Chinese output, the rest of unrecorded origin
    // from the world market, where China holds 0.9.
    let e_magnet = 0.1 * 0.0 + 0.9 * (0.75 * 1.0 + 0.25 * 0.9);
    assert_close(e_magnet, 0.8775);
    let magnet = by_product(&scores, "sintered-ndfeb-magnet");
    assert_close(magnet.dependency.exposure.value, e_magnet);
    // Every maker buys its oxide on the world market (no sourcing
    // recorded), so the oxide stage of the US supply is 0.92 Chinese and
    // the concentrate stage 0.752089.
    let bottleneck_free = 1.0 - e_magnet.max(0.92).max(g_mine);
    assert_close(
        magnet.dependency.score.unwrap_or(0.0),
        100.0 * (1.0 - bottleneck_free),
    );
    assert_close(magnet.dependency.score.unwrap_or(0.0), 92.0);
    // Independent: what passes no Chinese control at any stage, maker by
    // maker: (1 − κ) · the oxide's independent free share, weighted.
    let independent_free = (1.0 - e_magnet) * oxide_independent_free;
    assert_close(
        magnet.dependency.independent.unwrap_or(0.0),
        100.0 * (1.0 - independent_free),
    );
    assert_close(
        magnet.dependency.independent.unwrap_or(0.0),
        99.757_047_353_760_44,
    );
    let chokepoint = magnet.dependency.chokepoint.as_ref().unwrap();
    assert_eq!(chokepoint.product, id("ndpr-oxide"));
    assert_eq!(chokepoint.country.as_deref(), Some("CN"));
    let listed: f64 = chokepoint.paths.iter().map(|p| p.points).sum();
    assert_close(listed + chokepoint.other_paths_points, 92.0);

    // Difficulty: time 3/20 (default), scale 0.9, capital from 9,000 t × e
    // × $100,000 per t/yr, cost 0.5 + 0.1·2, know-how 1, substitution 0.7.
    let capex = 9_000.0 * e_magnet * 100_000.0;
    assert_close(capex, 789_750_000.0);
    let capital = (capex / 1.0e7_f64).log10() / 4.0;
    let own = 100.0
        * (0.25 * (3.0 / 20.0)
            + 0.25 * 0.9
            + 0.15 * capital
            + 0.15 * (0.5 + 0.1 * 2.0)
            + 0.10 * 1.0
            + 0.10 * 0.7);
    assert_close(magnet.difficulty.own_score, own);
    assert_close(magnet.difficulty.coverage, 0.75);
    // The oxide (dependency 92 ≥ 10) is harder: it binds. The time to
    // displace is the longest of the material chain: the concentrate's
    // 16 years (mining default), through the oxide.
    assert_close(magnet.difficulty.score, oxide_difficulty);
    assert_eq!(magnet.difficulty.binding.product, id("ndpr-oxide"));
    assert_close(oxide.difficulty.years_to_displace, 16.0);
    assert_close(magnet.difficulty.years_to_displace, 16.0);
    assert_eq!(
        magnet.difficulty.years_path,
        vec![
            id("sintered-ndfeb-magnet"),
            id("ndpr-oxide"),
            id("rare-earth-concentrate")
        ]
    );
    assert_eq!(magnet.pressure.len(), 1);

    // The rounded figures quoted in the document.
    let rounded = |x: f64| (x * 100.0).round() / 100.0;
    assert_eq!(rounded(mine_difficulty), 64.67);
    assert_eq!(rounded(oxide_difficulty), 65.42);
    assert_eq!(rounded(own), 60.87);
    assert_eq!(rounded(100.0 * (1.0 - oxide_independent_free)), 98.02);
}

const METHODOLOGY: &str = include_str!("../../../docs/methodology.md");

#[test]
fn the_document_quotes_the_tested_figures() {
    for figure in [
        "**75.21**",
        "**64.67**",
        "**92.00**",
        "**98.02**",
        "**65.42**",
        "0.8775",
        "**99.76**",
        "**60.87**",
        "$789,750,000",
        "**ndpr-oxide**",
        "= **16**",
    ] {
        assert!(
            METHODOLOGY.contains(figure),
            "docs/methodology.md should quote {figure}"
        );
    }
    let version = format!("Method version **{}**", crate::scoring::METHODOLOGY_VERSION);
    assert!(METHODOLOGY.contains(&version));
}

#[test]
fn the_document_lists_each_source_kinds_reliability() {
    for kind in SourceKind::ALL {
        let row = format!("| `{}` | {} |", kind.as_str(), kind.default_reliability());
        assert!(
            METHODOLOGY.contains(&row),
            "docs/methodology.md should have the row {row}"
        );
    }
}
