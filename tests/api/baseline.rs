//! The baseline dataset: it loads through the public API, hangs together,
//! and gives the headline results its cited figures imply.

use std::collections::HashMap;

use serde_json::json;

use chokepoint::seed::{seed, BASELINE};
use chokepoint::store;

use crate::helpers::{database_url, spawn_app, table_counts, TestApp};

fn lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Loads the baseline the way a client would: sources and products one by
/// one, facts through the streaming import (all or nothing).
async fn load_through_the_api(app: &TestApp) {
    for source in lines(BASELINE.sources) {
        let response = app.post_json("/v1/sources", &source).await;
        assert_eq!(
            response.status(),
            201,
            "{source}: {}",
            response.text().await.unwrap()
        );
    }
    for product in lines(BASELINE.products) {
        let response = app.post_json("/v1/products", &product).await;
        assert_eq!(
            response.status(),
            201,
            "{product}: {}",
            response.text().await.unwrap()
        );
    }
    let response = app
        .post_raw("/v1/facts/import", "application/x-ndjson", BASELINE.facts)
        .await;
    let status = response.status();
    let summary: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        status, 201,
        "every fact is valid and cites an existing source: {summary}"
    );
    assert_eq!(summary["rows_written"], lines(BASELINE.facts).len());
}

/// Every product's score, once the replica serves every committed write.
async fn wait_for_scores(app: &TestApp, products: usize) -> Vec<serde_json::Value> {
    let page = app.get_current("/v1/scores?limit=1000").await;
    let items = page["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), products, "every product is scored");
    items
}

#[tokio::test]
async fn the_baseline_loads_through_the_api_and_every_product_is_explained() {
    let app = spawn_app().await;
    load_through_the_api(&app).await;
    let products = lines(BASELINE.products);
    wait_for_scores(&app, products.len()).await;
    for product in &products {
        let id = product["id"].as_str().unwrap();
        let score: serde_json::Value = app
            .get(&format!("/v1/scores/{id}"))
            .await
            .json()
            .await
            .unwrap();
        let defaults: Vec<&str> = score["defaults_used"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["input"].as_str().unwrap())
            .collect();
        // A product either has the supply facts its dependency needs, or says it fell back.
        if score["dependency"]["china_share"]["basis"] == "none" {
            assert!(defaults.contains(&"china_share"), "{id}: {defaults:?}");
        }
        // Each difficulty component not backed by facts is named as a default or dropped.
        let coverage = score["difficulty"]["coverage"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&coverage), "{id}: coverage {coverage}");
        if coverage < 1.0 {
            let components = score["difficulty"]["components"].as_array().unwrap();
            let dropped = components.iter().any(|c| c["origin"] == "missing");
            assert!(
                !defaults.is_empty() || dropped,
                "{id}: partial coverage without defaults listed or components dropped: {components:?}"
            );
        }
    }
}

#[test]
fn shares_for_one_product_and_period_never_exceed_one() {
    let mut totals: HashMap<(String, String, String, String), f64> = HashMap::new();
    for fact in lines(BASELINE.facts) {
        let metric = fact["metric"].as_str().unwrap();
        if !["market_share", "import_share", "export_share"].contains(&metric) {
            continue;
        }
        let value = fact["value"].as_f64().unwrap();
        let fraction = if fact["unit"] == "%" {
            value / 100.0
        } else {
            value
        };
        let key = (
            metric.to_owned(),
            fact["product"].as_str().unwrap_or_default().to_owned(),
            fact["buyer"].as_str().unwrap_or_default().to_owned(),
            fact["period"].as_str().unwrap().to_owned(),
        );
        *totals.entry(key).or_default() += fraction;
    }
    assert!(!totals.is_empty());
    for (key, total) in totals {
        assert!(total <= 1.0 + 0.005, "{key:?} adds up to {total}");
    }
}

#[tokio::test]
async fn seeding_twice_changes_nothing() {
    let app = spawn_app().await;
    let pool = store::connect(&database_url(&app.database), 2).unwrap();
    let first = seed(&pool, &BASELINE).await.unwrap();
    assert_eq!(first.facts_added, lines(BASELINE.facts).len());
    let counts = table_counts(&app).await;
    let second = seed(&pool, &BASELINE).await.unwrap();
    assert_eq!(
        (
            second.sources_added,
            second.products_added,
            second.facts_added
        ),
        (0, 0, 0)
    );
    assert_eq!(second.facts_already_present, first.facts_added);
    assert_eq!(table_counts(&app).await, counts);
}

#[tokio::test]
async fn headline_results_follow_from_the_cited_figures() {
    let app = spawn_app().await;
    let pool = store::connect(&database_url(&app.database), 2).unwrap();
    seed(&pool, &BASELINE).await.unwrap();
    let scores = wait_for_scores(&app, lines(BASELINE.products).len()).await;
    let dependency = |id: &str| {
        scores
            .iter()
            .find(|s| s["product"] == id)
            .unwrap_or_else(|| panic!("{id} scored"))["dependency"]
            .as_f64()
            .unwrap()
    };
    // Sintered NdFeB magnets: China makes about 90% of them (a low-confidence
    // estimate) from oxide it separates at ~92% (IEA), so a US buyer's
    // dependency is high whatever the aggregation.
    let magnets = dependency("sintered-ndfeb-magnet");
    assert!(magnets >= 80.0, "magnets {magnets}");
    // An EV motor is made from those magnets: it cannot be less dependent.
    assert!(dependency("ev-traction-motor") >= magnets - 1e-9);
    // Primary gallium: China ~98% of world output (USGS); the US imports it
    // mostly via third countries, which halves the blended exposure at most.
    let gallium = dependency("primary-gallium");
    assert!(gallium >= 50.0, "gallium {gallium}");
    // Lithium chemicals: China refines much of them, but Chile, Argentina and
    // Australia supply most raw material and the US buys little from China.
    let lithium = dependency("lithium-chemicals");
    assert!(
        magnets > lithium && gallium > lithium,
        "magnets {magnets}, gallium {gallium}, lithium {lithium}"
    ); // Tungsten's end-of-life recycling input rate, 42% in the EU CRM study,
       // measures the EU's scrap flows: it lowers the EU's exposure to APT, and
       // a US buyer falls back to the default of no recycled supply.
    for (buyer, rate, origin) in [("EU", 0.42, "facts"), ("US", 0.0, "default")] {
        let score = app
            .get_current(&format!("/v1/scores/apt?buyer={buyer}"))
            .await;
        let recycling = &score["dependency"]["exposure"]["recycling_input_rate"];
        assert_eq!(recycling["value"], rate, "{buyer}: {recycling}");
        assert_eq!(recycling["origin"], origin, "{buyer}: {recycling}");
    }
}

/// Figures the EU CRM study measured for the EU (its recycling of scrap,
/// its economy, its imports) carry buyer `EU`, so they never stand for
/// another buyer; its world figures (global supply shares, producers' trade
/// restrictions, substitution indexes) carry none.
#[test]
fn the_eu_studys_own_measurements_are_scoped_to_the_eu() {
    let mut checked = 0;
    for fact in lines(BASELINE.facts) {
        if fact["source_id"] != "ec-crm-2023-study" {
            continue;
        }
        let metric = fact["metric"].as_str().unwrap();
        let eu_measured = [
            "recycling_input_rate",
            "economic_importance",
            "import_reliance",
            "import_share",
        ]
        .contains(&metric);
        let expected = if eu_measured {
            json!("EU")
        } else {
            json!(null)
        };
        assert_eq!(fact["buyer"], expected, "{fact}");
        checked += usize::from(eu_measured);
    }
    assert_eq!(checked, 10 + 10 + 15 + 29);
}
