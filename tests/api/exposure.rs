use serde_json::json;

use crate::helpers::{assert_problem, production_fact, table_counts};
use crate::scenarios::{ok_json, seeded_chain, wait_for_dependency};

fn number(value: &serde_json::Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{value} is not a number"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// A bill of materials across the chain, with spends.
fn bill() -> serde_json::Value {
    json!({"buyer": "US", "items": [
        {"ref": "MAG-1", "product": "sintered-ndfeb-magnet", "annual_spend": 500000, "supplier_country": "JP", "supplier": "Supplier B"},
        {"ref": "MAG-2", "product": "sintered-ndfeb-magnet", "annual_spend": 250000, "supplier_country": "CN"},
        {"ref": "OX-1", "product": "ndpr-oxide", "annual_spend": 125000},
        {"ref": "ORE-1", "product": "rare-earth-concentrate", "annual_spend": 125000, "supplier_country": "AU"},
        {"ref": "MET-1", "product": "ndpr-metal", "annual_spend": 0, "supplier_country": "US"}
    ]})
}

#[tokio::test]
async fn aggregates_are_the_spend_weighted_items() {
    let app = seeded_chain().await;
    let report = ok_json(app.post_json("/v1/exposure", &bill()).await).await;
    let items = report["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    let spend: Vec<f64> = items.iter().map(|i| number(&i["annual_spend"])).collect();
    let total: f64 = spend.iter().sum();
    let weighted = |field: &str| -> f64 {
        items
            .iter()
            .zip(&spend)
            .map(|(item, spend)| spend * number(&item[field]))
            .sum::<f64>()
            / total
    };
    let summary = &report["summary"];
    assert_eq!(summary["weight_basis"], "annual_spend");
    assert_eq!(number(&summary["total_annual_spend"]), 1_000_000.0);
    assert!(
        close(number(&summary["dependency"]), weighted("dependency")),
        "{summary}"
    );
    assert!(
        close(number(&summary["difficulty"]), weighted("difficulty")),
        "{summary}"
    );
    for (item, spend) in items.iter().zip(&spend) {
        assert!(close(number(&item["weight"]), spend / total));
    }

    // Ranked by weight × dependency: the Japanese magnets (0.5 × 92), the
    // Chinese ones (0.25 × 100), then the ore and the oxide (0.125 each).
    let hotspots = report["hotspots"].as_array().unwrap();
    let ranked: Vec<&str> = hotspots
        .iter()
        .map(|h| h["ref"].as_str().unwrap())
        .collect();
    assert_eq!(ranked[..2], ["MAG-1", "MAG-2"]);
    assert!(!ranked.contains(&"MET-1"), "no spend, no contribution");
    for hotspot in hotspots {
        let item = &items[hotspot["index"].as_u64().unwrap() as usize];
        assert!(close(
            number(&hotspot["contribution"]),
            number(&item["weight"]) * number(&item["dependency"])
        ));
    }
    // The Japanese magnets are bound by China's share of the oxide, and no
    // other magnet source is on record: securing the oxide stage leaves the
    // ore binding, at 75.
    let japanese = &hotspots[0];
    assert_eq!(japanese["advice"]["action"], "secure_upstream");
    assert_eq!(japanese["advice"]["product"], "ndpr-oxide");
    assert!(close(number(&japanese["advice"]["dependency"]), 75.0));
    assert!(close(number(&japanese["advice"]["points"]), 92.0 - 75.0));
    assert!(close(
        number(&japanese["aggregate_points"]),
        0.5 * (92.0 - 75.0)
    ));
}

#[tokio::test]
async fn the_supplier_country_sets_the_items_own_stage_and_upstream_stays() {
    let app = seeded_chain().await;
    // China controls 60% of Australia's ore.
    let mut controlled = production_fact();
    (
        controlled["metric"],
        controlled["country"],
        controlled["value"],
        controlled["unit"],
        controlled["controlled_by"],
    ) = (
        json!("controlled_share"),
        json!("AU"),
        json!(60),
        json!("%"),
        json!("CN"),
    );
    assert_eq!(app.post_json("/v1/facts", &controlled).await.status(), 201);
    // (270 + 0.6 × 45) / 360
    let ore = 100.0 * (270.0 + 0.6 * 45.0) / 360.0;
    wait_for_dependency(&app, "rare-earth-concentrate", ore).await;

    let report = ok_json(
        app.post_json(
            "/v1/exposure",
            &json!({"buyer": "US", "items": [
                {"ref": "a", "product": "ndpr-oxide"},
                {"ref": "b", "product": "ndpr-oxide", "supplier_country": "CN"},
                {"ref": "c", "product": "ndpr-oxide", "supplier_country": "JP"},
                {"ref": "d", "product": "sintered-ndfeb-magnet", "supplier_country": "JP"},
                {"ref": "e", "product": "rare-earth-concentrate", "supplier_country": "AU"},
                {"ref": "f", "product": "rare-earth-concentrate", "supplier_country": "US"}
            ]}),
        )
        .await,
    )
    .await;
    assert_eq!(report["summary"]["weight_basis"], "equal");
    let items = report["items"].as_array().unwrap();
    let oxide = ok_json(app.get("/v1/scores/ndpr-oxide").await).await;
    // No supplier country: the market's scores.
    assert_eq!(items[0]["dependency"], oxide["dependency"]["score"]);
    assert_eq!(items[0]["difficulty"], oxide["difficulty"]["score"]);
    // From China: all of the stage is Chinese.
    assert_eq!(
        (
            number(&items[1]["own_exposure"]),
            number(&items[1]["dependency"])
        ),
        (1.0, 100.0)
    );
    assert_eq!(items[1]["chokepoint"], "ndpr-oxide");
    // From Japan: the oxide stage is free, the ore upstream is not.
    assert_eq!(number(&items[2]["own_exposure"]), 0.0);
    assert!(close(number(&items[2]["dependency"]), ore));
    assert_eq!(items[2]["chokepoint"], "rare-earth-concentrate");
    assert_eq!(items[2]["chokepoint_stage"], "mining");
    // A Japanese magnet still carries the Chinese-separated oxide.
    assert!(close(number(&items[3]["dependency"]), 92.0));
    assert_eq!(items[3]["chokepoint"], "ndpr-oxide");
    // Australian ore: China controls 60% of it; US ore: none.
    assert!(close(number(&items[4]["own_exposure"]), 0.6));
    assert!(close(number(&items[4]["dependency"]), 60.0));
    assert_eq!(items[5]["dependency"], 0.0);
    assert_eq!(items[5]["chokepoint"], serde_json::Value::Null);

    // The Chinese oxide binds itself and has no other recorded source: no
    // single change on record lowers it.
    let hotspot = report["hotspots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["ref"] == "b")
        .unwrap();
    assert_eq!(hotspot["advice"], serde_json::Value::Null, "{hotspot}");
}

/// The same bill as CSV: columns reordered, a quoted cell with a comma.
const BILL_CSV: &str = "supplier,ref,product,annual_spend,supplier_country\n\
\"Supplier B, Osaka\",MAG-1,sintered-ndfeb-magnet,500000,JP\n\
,MAG-2,sintered-ndfeb-magnet,250000,CN\n\
,OX-1,ndpr-oxide,125000,\n\
\n\
,ORE-1,rare-earth-concentrate,125000,AU\n\
,MET-1,ndpr-metal,0,US\n\
,X-1,unobtainium,10,\n";

#[tokio::test]
async fn csv_and_json_give_the_same_answer() {
    let app = seeded_chain().await;
    let mut json_bill = bill();
    json_bill["items"][0]["supplier"] = json!("Supplier B, Osaka");
    json_bill["items"]
        .as_array_mut()
        .unwrap()
        .push(json!({"ref": "X-1", "product": "unobtainium", "annual_spend": 10}));
    let from_json = ok_json(app.post_json("/v1/exposure", &json_bill).await).await;
    let from_csv = ok_json(
        app.post_raw("/v1/exposure?buyer=US", "text/csv", BILL_CSV)
            .await,
    )
    .await;
    assert_eq!(from_csv, from_json);
    assert_eq!(from_csv["rejected"][0]["index"], 5);
    assert_eq!(from_csv["items"][0]["supplier"], "Supplier B, Osaka");
}

#[tokio::test]
async fn bad_items_are_reported_by_index_and_the_rest_scored() {
    let app = seeded_chain().await;
    let report = ok_json(
        app.post_json(
            "/v1/exposure",
            &json!({"buyer": "US", "items": [
                {"ref": "ok", "product": "ndpr-oxide", "quantity": 4},
                {"ref": "unknown", "product": "unobtainium", "quantity": 1},
                {"ref": "negative", "product": "ndpr-oxide", "quantity": -1},
                {"ref": "nowhere", "product": "ndpr-oxide", "supplier_country": "XX", "quantity": 1},
                {"product": "ndpr-oxide", "quantity": 1},
                {"ref": "typo", "product": "ndpr-oxide", "quantity": 1, "colour": "red"},
                {"ref": "text", "product": "ndpr-oxide", "quantity": "many"},
                "not an item",
                {"ref": "also ok", "product": "ndpr-metal", "quantity": 1}
            ]}),
        )
        .await,
    )
    .await;
    let scored: Vec<u64> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["index"].as_u64().unwrap())
        .collect();
    assert_eq!(scored, [0, 8]);
    assert_eq!(report["summary"]["weight_basis"], "quantity");
    assert_eq!(report["items"][0]["weight"], 0.8);
    let rejected: Vec<(u64, String)> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap(),
                r["errors"][0]["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(u64, String)> = [
        (1, "product"),
        (2, "quantity"),
        (3, "supplier_country"),
        (4, ""),
        (5, "colour"),
        (6, "quantity"),
        (7, ""),
    ]
    .into_iter()
    .map(|(i, f)| (i, f.to_owned()))
    .collect();
    assert_eq!(rejected, expected, "{}", report["rejected"]);
    assert_eq!(report["rejected"][0]["ref"], "unknown");
    assert_eq!(
        report["rejected"][0]["errors"][0]["message"],
        "product `unobtainium` does not exist"
    );
    assert_eq!(
        (
            report["summary"]["received"].clone(),
            report["summary"]["rejected"].clone()
        ),
        (json!(9), json!(7))
    );
}

#[tokio::test]
async fn nothing_valid_or_malformed_input_is_refused_and_nothing_is_written() {
    let app = seeded_chain().await;
    let before = table_counts(&app).await;
    let all_bad = assert_problem(
        app.post_json(
            "/v1/exposure",
            &json!({"buyer": "US", "items": [
                {"ref": "a", "product": "unobtainium"},
                {"ref": "b", "product": "ndpr-oxide", "annual_spend": -3}
            ]}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    let pointers: Vec<&str> = all_bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(pointers, ["/items/0/product", "/items/1/annual_spend"]);
    let csv_bad = assert_problem(
        app.post_raw(
            "/v1/exposure?buyer=US",
            "text/csv",
            "ref,product\na,unobtainium\n",
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(csv_bad["errors"][0]["pointer"], "/line/2/product");

    for (content_type, body, status, code) in [
        (
            "application/json",
            "{\"buyer\": \"US\", \"items\": [",
            400,
            "malformed_json",
        ),
        (
            "application/json",
            "{\"buyer\": \"US\", \"items\": []}",
            422,
            "validation_failed",
        ),
        (
            "application/json",
            "{\"buyer\": \"XX\", \"items\": [{\"ref\": \"a\", \"product\": \"ndpr-oxide\"}]}",
            422,
            "validation_failed",
        ),
        ("application/json", "{\"items\": []}", 422, "invalid_body"),
        (
            "text/csv",
            "ref,product,colour\na,ndpr-oxide,red\n",
            422,
            "invalid_body",
        ),
        ("text/csv", "product\nndpr-oxide\n", 422, "invalid_body"),
        ("text/csv", "", 422, "invalid_body"),
        ("text/plain", "ref,product\n", 415, "unsupported_media_type"),
    ] {
        let path = if content_type == "text/csv" {
            "/v1/exposure?buyer=US"
        } else {
            "/v1/exposure"
        };
        assert_problem(app.post_raw(path, content_type, body).await, status, code).await;
    }
    let no_buyer = assert_problem(
        app.post_raw("/v1/exposure", "text/csv", "ref,product\na,ndpr-oxide\n")
            .await,
        422,
        "invalid_parameter",
    )
    .await;
    assert_eq!(no_buyer["errors"][0]["pointer"], "/query/buyer");
    let misplaced = assert_problem(
        app.post_json("/v1/exposure?buyer=US", &bill()).await,
        422,
        "invalid_parameter",
    )
    .await;
    assert_eq!(misplaced["errors"][0]["pointer"], "/query/buyer");

    let too_many: Vec<serde_json::Value> = (0..10_001)
        .map(|i| json!({"ref": format!("r{i}"), "product": "ndpr-oxide"}))
        .collect();
    assert_problem(
        app.post_json("/v1/exposure", &json!({"buyer": "US", "items": too_many}))
            .await,
        413,
        "payload_too_large",
    )
    .await;
    assert_eq!(table_counts(&app).await, before);
}

#[tokio::test]
async fn ten_thousand_items_are_scored_in_one_request() {
    let app = seeded_chain().await;
    let products = [
        "sintered-ndfeb-magnet",
        "ndpr-oxide",
        "ndpr-metal",
        "rare-earth-concentrate",
    ];
    let countries = [None, Some("CN"), Some("JP"), Some("AU"), Some("US")];
    let items: Vec<serde_json::Value> = (0..10_000)
        .map(|i| {
            json!({"ref": format!("P-{i:05}"), "product": products[i % 4],
                   "supplier_country": countries[i % 5], "annual_spend": 1000 + i})
        })
        .collect();
    let report = ok_json(
        app.post_json("/v1/exposure", &json!({"buyer": "US", "items": items}))
            .await,
    )
    .await;
    assert_eq!(report["summary"]["scored"], 10_000);
    assert_eq!(report["hotspots"].as_array().unwrap().len(), 10);
    let weights: f64 = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| number(&i["weight"]))
        .sum();
    assert!((weights - 1.0).abs() < 1e-9);
}

/// Spends are in the request's currency, USD unless it names another; the
/// currency labels the amounts and, weights being shares of the total
/// spend, moves nothing else in the report.
#[tokio::test]
async fn the_currency_of_spend_is_echoed_default_usd_and_changes_no_score() {
    let app = seeded_chain().await;
    let usd = ok_json(app.post_json("/v1/exposure", &bill()).await).await;
    assert_eq!(usd["summary"]["currency"], "USD");
    let mut eur_bill = bill();
    eur_bill["currency"] = json!("EUR");
    let mut eur = ok_json(app.post_json("/v1/exposure", &eur_bill).await).await;
    assert_eq!(eur["summary"]["currency"], "EUR");
    eur["summary"]["currency"] = json!("USD");
    assert_eq!(eur, usd, "only the currency differs");

    let csv_default = ok_json(
        app.post_raw("/v1/exposure?buyer=US", "text/csv", BILL_CSV)
            .await,
    )
    .await;
    assert_eq!(csv_default["summary"]["currency"], "USD");
    let mut csv_eur = ok_json(
        app.post_raw("/v1/exposure?buyer=US&currency=EUR", "text/csv", BILL_CSV)
            .await,
    )
    .await;
    assert_eq!(csv_eur["summary"]["currency"], "EUR");
    csv_eur["summary"]["currency"] = json!("USD");
    assert_eq!(csv_eur, csv_default, "only the currency differs");
}

#[tokio::test]
async fn a_currency_that_is_not_three_upper_case_letters_is_refused_with_a_pointer() {
    let app = seeded_chain().await;
    let before = table_counts(&app).await;
    for bad in ["eur", "EURO", "EU", ""] {
        let mut body = bill();
        body["currency"] = json!(bad);
        let problem = assert_problem(
            app.post_json("/v1/exposure", &body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["pointer"], "/currency", "{bad}");
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("ISO 4217"),
            "{problem}"
        );

        let problem = assert_problem(
            app.post_raw(
                &format!("/v1/exposure?buyer=US&currency={bad}"),
                "text/csv",
                BILL_CSV,
            )
            .await,
            422,
            "invalid_parameter",
        )
        .await;
        assert_eq!(problem["errors"][0]["pointer"], "/query/currency", "{bad}");
    }
    // A JSON body states its currency in the body, like its buyer.
    let misplaced = assert_problem(
        app.post_json("/v1/exposure?currency=EUR", &bill()).await,
        422,
        "invalid_parameter",
    )
    .await;
    assert_eq!(misplaced["errors"][0]["pointer"], "/query/currency");
    assert_eq!(table_counts(&app).await, before);
}
