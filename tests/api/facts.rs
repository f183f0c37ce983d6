use serde_json::json;

use crate::helpers::{assert_problem, pointers, production_fact, spawn_app, table_counts, TestApp};

async fn post_fact(app: &TestApp, fact: &serde_json::Value) -> serde_json::Value {
    let response = app.post_json("/v1/facts", fact).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_fact_is_normalised_and_takes_its_sources_reliability() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let fact = post_fact(&app, &production_fact()).await;
    assert_eq!(fact["value"], 270_000.0);
    assert_eq!(fact["unit"], "t/yr");
    assert_eq!(fact["confidence"], 0.9, "government statistics default");
    assert!(fact["recorded_at"].as_str().unwrap().ends_with('Z'));

    let mut share = production_fact();
    share["metric"] = json!("market_share");
    share["value"] = json!(92);
    share["unit"] = json!("%");
    share["source_id"] = json!("baotou-daily-2026");
    let fact = post_fact(&app, &share).await;
    assert_eq!(fact["value"], 0.92);
    assert_eq!(fact["unit"], "fraction");
    assert_eq!(
        fact["confidence"], 0.3,
        "state-affiliated media count for less"
    );

    let world_lead_time = json!({"product": "rare-earth-concentrate", "metric": "lead_time_years", "value": 16,
        "unit": "years", "period": "2024", "status": "estimate", "source_id": "usgs-mcs-2025"});
    let lead_time = post_fact(&app, &world_lead_time).await;
    assert_eq!(
        lead_time["country"],
        serde_json::Value::Null,
        "a world-wide figure needs no country"
    );

    let fetched: serde_json::Value = app
        .get(&format!("/v1/facts/{}", fact["id"]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, fact);
    assert_problem(app.get("/v1/facts/999999").await, 404, "not_found").await;
}

#[tokio::test]
async fn every_validation_rule_rejects_and_writes_nothing() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let before = table_counts(&app).await;
    let cases = [
        (json!({"value": -5}), "/value"),
        (
            json!({"metric": "market_share", "unit": "fraction", "value": 1.2}),
            "/value",
        ),
        (
            json!({"metric": "market_share", "unit": "%", "value": 120}),
            "/value",
        ),
        (json!({"country": "XX"}), "/country"),
        (json!({"controlled_by": "ZZ"}), "/controlled_by"),
        (json!({"product": "unobtainium"}), "/product"),
        (json!({"source_id": "no-such-source"}), "/source_id"),
        (json!({"metric": "vibes"}), "/metric"),
        (json!({"unit": "furlongs"}), "/unit"),
        (json!({"unit": "%"}), "/unit"),
        (json!({"period": "last year"}), "/period"),
        (json!({"period": "2024-02-30"}), "/period"),
        (json!({"status": "rumoured"}), "/status"),
        (json!({"quote": "q".repeat(2001)}), "/quote"),
        (json!({"confidence": 1.01}), "/confidence"),
        (json!({"expected_online": 3000}), "/expected_online"),
        (
            json!({"metric": "import_reliance", "unit": "%", "value": 80}),
            "/buyer",
        ),
        (
            json!({"metric": "governance_wgi", "unit": "index", "value": -0.5}),
            "/product",
        ),
        (json!({"value": null}), "/value"),
        (json!({"country": null}), "/country"),
    ];
    for (change, pointer) in cases {
        let mut fact = production_fact();
        fact.as_object_mut()
            .unwrap()
            .extend(change.as_object().unwrap().clone());
        let problem = assert_problem(
            app.post_json("/v1/facts", &fact).await,
            422,
            "validation_failed",
        )
        .await;
        let pointers = pointers(&problem);
        assert!(pointers.contains(&pointer), "{change}: {problem}");
    }
    let mut unknown = production_fact();
    unknown["sourcee"] = json!("typo");
    assert_problem(
        app.post_json("/v1/facts", &unknown).await,
        422,
        "invalid_body",
    )
    .await;
    let response = app
        .post_raw("/v1/facts", "application/json", r#"{"value": 1e999}"#)
        .await;
    assert_eq!(
        response.status(),
        400,
        "a number JSON cannot hold is malformed"
    );
    assert_eq!(table_counts(&app).await, before);
}

#[tokio::test]
async fn a_batch_with_one_bad_item_writes_nothing_and_names_the_item() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let before = table_counts(&app).await;
    let mut bad = production_fact();
    bad["unit"] = json!("%");
    let batch = json!([production_fact(), bad, production_fact()]);
    let problem = assert_problem(
        app.post_json("/v1/facts", &batch).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/1/unit");
    let mut missing_source = production_fact();
    missing_source["source_id"] = json!("nowhere");
    let problem = assert_problem(
        app.post_json(
            "/v1/facts",
            &json!([production_fact(), production_fact(), missing_source]),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/2/source_id");
    assert_eq!(table_counts(&app).await, before);

    let response = app
        .post_json("/v1/facts", &json!([production_fact(), production_fact()]))
        .await;
    assert_eq!(response.status(), 201);
    let written: serde_json::Value = response.json().await.unwrap();
    assert_eq!(written["written"], 2);
    assert_eq!(app.count("facts").await, 2);
}

#[tokio::test]
async fn a_batch_over_the_maximum_is_refused_whole() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let batch = serde_json::Value::Array(vec![production_fact(); 10_001]);
    let problem = assert_problem(
        app.post_json("/v1/facts", &batch).await,
        413,
        "payload_too_large",
    )
    .await;
    assert!(problem["detail"].as_str().unwrap().contains("10000"));
    assert_eq!(app.count("facts").await, 0);
}

#[tokio::test]
async fn retraction_keeps_history_readable_as_of_earlier_times() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let fact = post_fact(&app, &production_fact()).await;
    let id = fact["id"].as_i64().unwrap();
    let before_retraction = time::OffsetDateTime::now_utc();
    // The retraction's timestamp must come strictly after this instant.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;

    assert_problem(
        app.client
            .delete(app.url(&format!("/v1/facts/{id}")))
            .send()
            .await
            .unwrap(),
        422,
        "invalid_parameter",
    )
    .await;
    let response = app
        .client
        .delete(app.url(&format!("/v1/facts/{id}?reason=superseded")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let retracted: serde_json::Value = response.json().await.unwrap();
    assert_eq!(retracted["retraction_reason"], "superseded");
    assert!(retracted["retracted_at"].is_string());
    let response = app
        .client
        .delete(app.url(&format!("/v1/facts/{id}?reason=again")))
        .send()
        .await
        .unwrap();
    assert_problem(response, 409, "conflict").await;

    let as_of = before_retraction
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let then: serde_json::Value = app
        .get(&format!("/v1/facts?as_of={as_of}&view=recorded"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        then["items"].as_array().unwrap().len(),
        1,
        "known then, not yet retracted"
    );
    let now: serde_json::Value = app.get("/v1/facts").await.json().await.unwrap();
    assert!(now["items"].as_array().unwrap().is_empty());
    let all: serde_json::Value = app
        .get("/v1/facts?include_retracted=true")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
    let before_recording: serde_json::Value = app
        .get("/v1/facts?as_of=2000-01-01T00:00:00Z")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        before_recording["items"].as_array().unwrap().is_empty(),
        "not yet recorded"
    );
    assert_problem(
        app.get("/v1/facts?as_of=yesterday").await,
        422,
        "invalid_parameter",
    )
    .await;
    assert_eq!(app.count("facts").await, 1, "retraction never deletes");
}

#[tokio::test]
async fn filters_select_by_each_field() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let mut us = production_fact();
    us["country"] = json!("US");
    us["value"] = json!(45);
    us["period"] = json!("2023");
    let mut share = production_fact();
    share["product"] = json!("ndpr-oxide");
    share["metric"] = json!("market_share");
    share["value"] = json!(0.92);
    share["unit"] = json!("fraction");
    share["status"] = json!("actual");
    post_fact(&app, &json!([production_fact(), us, share])).await;
    let count = |body: serde_json::Value| body["items"].as_array().unwrap().len();
    for (query, expected) in [
        ("country=US", 1),
        ("country=CN", 2),
        ("product=ndpr-oxide", 1),
        ("metric=production", 2),
        ("status=actual", 1),
        ("source=usgs-mcs-2025", 3),
        ("period_from=2024", 2),
        ("period_to=2023", 1),
        ("period_from=2023&period_to=2023", 1),
    ] {
        let body: serde_json::Value = app
            .get(&format!("/v1/facts?{query}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(count(body), expected, "{query}");
    }
    for near_miss in ["country=cn", "country=CN%20", "buyer=us"] {
        let problem = assert_problem(
            app.get(&format!("/v1/facts?{near_miss}")).await,
            422,
            "invalid_parameter",
        )
        .await;
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("upper-case"),
            "{near_miss}: {problem}"
        );
    }
    assert_problem(
        app.get("/v1/facts?metric=vibes").await,
        422,
        "invalid_parameter",
    )
    .await;
    assert_problem(
        app.get("/v1/facts?colour=red").await,
        422,
        "invalid_parameter",
    )
    .await;
}

#[tokio::test]
async fn pagination_visits_every_row_once_while_rows_are_inserted() {
    let app = spawn_app().await;
    app.seed_chain().await;
    post_fact(&app, &serde_json::Value::Array(vec![production_fact(); 25])).await;
    let original: Vec<i64> = {
        let all: serde_json::Value = app.get("/v1/facts?limit=1000").await.json().await.unwrap();
        all["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_i64().unwrap())
            .collect()
    };
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/facts?limit=7&cursor={c}"),
            None => "/v1/facts?limit=7".to_owned(),
        };
        let page: serde_json::Value = app.get(&path).await.json().await.unwrap();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["id"].as_i64().unwrap()),
        );
        // Someone else keeps writing while we page.
        post_fact(&app, &json!([production_fact(), production_fact()])).await;
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(seen.len() < 500, "pagination must end");
    }
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no row twice");
    for id in original {
        assert_eq!(
            seen.iter().filter(|s| **s == id).count(),
            1,
            "row {id} exactly once"
        );
    }
}
