//! `POST /v1/backtests`: scores read before each event, ranked against the
//! products it hit.

use serde_json::{json, Value};

use crate::helpers::{assert_problem, pointers, rounded_eq, spawn_app, spawn_seeded_app, TestApp};

fn event(products: &[&str]) -> Value {
    json!({
        "id": "test-licensing",
        "title": "Licensing of two mined products",
        "announced_on": "2025-03-01", "in_force_on": "2025-03-01", "measure": "licensing",
        "products": products, "targets": "everyone",
        "source": {"id": "test-announcement", "title": "Announcement", "publisher": "MOFCOM",
            "url": "https://example.org/announcement", "published_on": "2025-03-01"}
    })
}

/// Four mined products, China's share of each 90, 60, 30 and 10% as
/// published in January 2024, and a later publication that would make the
/// third all Chinese.
async fn four_mines() -> TestApp {
    let app = spawn_app().await;
    app.post_ok(
        "/v1/sources",
        &json!({"id": "survey", "title": "Survey", "publisher": "p",
            "kind": "government_statistics", "published_on": "2024-01-31"}),
    )
    .await;
    for (product, china) in [("m1", 90.0), ("m2", 60.0), ("m3", 30.0), ("m4", 10.0)] {
        app.post_ok(
            "/v1/products",
            &json!({"id": product, "name": product, "stage": "mining"}),
        )
        .await;
        for (country, value) in [("CN", china), ("AU", 100.0 - china)] {
            app.post_ok(
                "/v1/facts",
                &json!({"product": product, "country": country, "metric": "production",
                    "value": value, "unit": "kt/yr", "period": "2023", "status": "estimate",
                    "source_id": "survey"}),
            )
            .await;
        }
    }
    app.post_ok(
        "/v1/facts",
        &json!({"product": "m3", "country": "CN", "metric": "production", "value": 500,
            "unit": "kt/yr", "period": "2024", "status": "estimate", "source_id": "survey",
            "published_on": "2025-06-01"}),
    )
    .await;
    app.wait_until_current().await;
    app
}

fn method<'a>(results: &'a Value, name: &str) -> &'a Value {
    results
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["method"] == name)
        .unwrap_or_else(|| panic!("no {name} in {results}"))
}

#[tokio::test]
async fn targeted_products_are_ranked_on_what_was_published_before_the_event() {
    let app = four_mines().await;
    let body = app
        .post_ok(
            "/v1/backtests",
            &json!({"events": [event(&["m1", "m3"])], "buyers": ["US"]}),
        )
        .await;
    let result = &body["events"][0];
    assert_eq!(result["evaluated"], true, "{result}");
    assert_eq!(result["scored_on"], "2025-01-30");
    // A world-market buyer's dependency is China's share (no inputs, no
    // recycling): targeted 90 and 30 against 60 and 10. 90 beats both, 30
    // beats 10 only: 3 of 4 pairs. Had the June 2025 publication been
    // read, m3 would be all Chinese and every pair won.
    for name in ["dependency", "china_production_share"] {
        let m = method(&result["results"], name);
        assert!(
            rounded_eq(m["auc"]["value"].as_f64().unwrap(), 0.75),
            "{name}: {m}"
        );
        // Percentile ranks among the four: m1 beats 3 of 3 (100), m3 1 of 3.
        let median = (100.0 + 100.0 / 3.0) / 2.0;
        assert!(
            rounded_eq(
                m["median_percentile_rank"]["value"].as_f64().unwrap(),
                median
            ),
            "{m}"
        );
        assert!(
            rounded_eq(m["top_decile_share"]["value"].as_f64().unwrap(), 0.5),
            "{m}"
        );
    }
    // HHI: m1 .81+.01 = .82, m2 .36+.16 = .52, m3 .09+.49 = .58, m4 .82.
    // m1 beats m2 and ties m4 (½), m3 beats m2 and loses to m4: 2.5 of 4.
    let hhi = method(&result["results"], "stage_hhi");
    assert!(
        rounded_eq(hhi["auc"]["value"].as_f64().unwrap(), 0.625),
        "{hhi}"
    );
    let ranked = &result["rankings"][0];
    assert_eq!(ranked["buyer"], "US");
    assert_eq!(ranked["products"], 4);
    let m3 = ranked["targeted"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["product"] == "m3")
        .unwrap();
    let dependency = method(&m3["ranks"], "dependency");
    assert!(
        rounded_eq(dependency["score"].as_f64().unwrap(), 30.0),
        "{m3}"
    );
    // Pooled over the one ranking: the same figures, with intervals around
    // them; the difference from China's share alone is 0 for dependency.
    let pooled = method(&body["pooled"], "dependency");
    let auc = &pooled["auc"];
    assert!(auc["low"].as_f64().unwrap() <= 0.75 && auc["high"].as_f64().unwrap() >= 0.75);
    assert!(rounded_eq(
        pooled["auc_minus_china_share"]["value"].as_f64().unwrap(),
        0.0
    ));
    assert!(method(&body["pooled"], "china_production_share")["auc_minus_china_share"].is_null());
    let reading = body["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["method"] == "dependency")
        .unwrap();
    assert_eq!(reading["reading"], "not_distinguishable", "{reading}");
}

#[tokio::test]
async fn the_shipped_events_run_on_the_baseline_and_report_what_they_cannot_rank() {
    let app = spawn_seeded_app().await;
    let body = app.post_ok("/v1/backtests", &json!({})).await;
    assert_eq!(body["lead_days"], 30);
    assert_eq!(body["buyers"], json!(["US", "EU", "JP"]));
    let events = body["events"].as_array().unwrap();
    assert!(events.len() >= 10, "{}", events.len());
    let quota = events
        .iter()
        .find(|e| e["id"] == "2010-rare-earth-quota-cut")
        .unwrap();
    assert_eq!(quota["evaluated"], false);
    assert!(
        quota["not_evaluated"]
            .as_str()
            .unwrap()
            .contains("no supply fact"),
        "{quota}"
    );
    // The US ban is ranked for the US only; a licensing for all three.
    let us_ban = events
        .iter()
        .find(|e| e["id"] == "2024-us-gallium-germanium-antimony-ban")
        .unwrap();
    assert_eq!(us_ban["evaluated"], true, "{us_ban}");
    let buyers: Vec<&Value> = us_ban["rankings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["buyer"])
        .collect();
    assert_eq!(buyers, [&json!("US")]);
    let gallium = events
        .iter()
        .find(|e| e["id"] == "2023-gallium-germanium-licensing")
        .unwrap();
    assert_eq!(gallium["rankings"].as_array().unwrap().len(), 3);
    // The baseline lacks the public catalogue's tellurium and indium.
    let minor_metals = events
        .iter()
        .find(|e| e["id"] == "2025-tungsten-tellurium-bismuth-molybdenum-indium-licensing")
        .unwrap();
    assert!(minor_metals["not_catalogued"]
        .as_array()
        .unwrap()
        .contains(&json!("tellurium")));
    for result in body["pooled"].as_array().unwrap() {
        let auc = &result["auc"];
        let (low, value, high) = (
            auc["low"].as_f64().unwrap(),
            auc["value"].as_f64().unwrap(),
            auc["high"].as_f64().unwrap(),
        );
        assert!(
            (0.0..=1.0).contains(&value) && low <= value && value <= high,
            "{result}"
        );
    }
    assert_eq!(body["comparisons"].as_array().unwrap().len(), 3);
    assert!(body["trade_outcome"]["correlations"].is_array());
    // The same request again is the same report.
    assert_eq!(app.post_ok("/v1/backtests", &json!({})).await, body);
}

#[tokio::test]
async fn bad_backtests_are_refused_with_pointers() {
    let app = four_mines().await;
    let mut unknown = event(&["m1", "no-such-product"]);
    let mut early = event(&["m1"]);
    early["announced_on"] = json!("2020-01-01");
    early["in_force_on"] = json!("2020-01-01");
    let mut untargeted = event(&["m1"]);
    untargeted["targets"] = json!([]);
    unknown["id"] = json!("unknown-product");
    for (body, pointer) in [
        (json!({"events": [unknown]}), "/events/0/products/1"),
        (json!({"events": [early]}), "/events/0/announced_on"),
        (json!({"events": [untargeted]}), "/events/0/targets"),
        (json!({"lead_days": 0}), "/lead_days"),
        (json!({"lead_days": 3651}), "/lead_days"),
        (json!({"buyers": []}), "/buyers"),
        (
            json!({"buyers": ["US", "EU", "JP", "DE", "FR", "KR", "IN", "BR", "CA", "AU", "GB",
            "IT", "ES", "NL", "BE", "PL", "SE", "NO", "FI", "DK", "AT"]}),
            "/buyers",
        ),
        (json!({"events": []}), "/events"),
    ] {
        let response = app.post_json("/v1/backtests", &body).await;
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(pointers(&problem), [pointer], "{body}: {problem}");
    }
    let mut nobody = event(&["m1"]);
    nobody["targets"] = json!("somebody");
    let response = app
        .post_json("/v1/backtests", &json!({"events": [nobody]}))
        .await;
    let problem = assert_problem(response, 422, "invalid_body").await;
    assert_eq!(pointers(&problem), ["/events/0/targets"], "{problem}");
}
