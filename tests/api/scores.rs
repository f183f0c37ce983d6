use std::time::Duration;

use serde_json::json;

use crate::helpers::{
    assert_problem, production_fact, rounded_eq, spawn_app, spawn_app_on, TestApp,
};

const MAGNET: &str = "/v1/scores/sintered-ndfeb-magnet";

/// Mining shares for the magnet chain: China 270 kt of 360 kt.
async fn seed_facts(app: &TestApp) {
    let mut us = production_fact();
    us["country"] = json!("US");
    us["value"] = json!(45);
    let mut au = production_fact();
    au["country"] = json!("AU");
    au["value"] = json!(45);
    app.post_ok("/v1/facts", &json!([production_fact(), us, au]))
        .await;
}

async fn score(app: &TestApp, path: &str) -> serde_json::Value {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// The dependency `path` scores once the replica serves every committed
/// write (the refresh after a write is asynchronous).
async fn current_dependency(app: &TestApp, path: &str) -> f64 {
    app.wait_until_current().await;
    score(app, path).await["dependency"]["score"]
        .as_f64()
        .unwrap()
}

async fn seeded_app() -> TestApp {
    let app = spawn_app().await;
    app.seed_chain().await;
    seed_facts(&app).await;
    // 270 of 360 kt is Chinese: 75.
    assert_eq!(current_dependency(&app, MAGNET).await, 75.0);
    app
}

fn chinese_share_fact(product: &str, percent: f64) -> serde_json::Value {
    json!({"product": product, "country": "CN", "metric": "market_share", "value": percent, "unit": "%",
           "period": "2024", "status": "estimate", "source_id": "usgs-mcs-2025"})
}

#[tokio::test]
async fn a_relevant_fact_moves_the_score_and_an_irrelevant_one_does_not() {
    let app = seeded_app().await;
    let before = score(&app, MAGNET).await;
    let dependency = before["dependency"]["score"].as_f64().unwrap();
    assert!(
        (dependency - 75.0).abs() < 1e-9,
        "270 / (270 + 45 + 45) = 75%: {dependency}"
    );
    assert_eq!(before["methodology_version"], "2026.6");

    // Another product's facts change nothing upstream of the magnet.
    app.post_ok(
        "/v1/products",
        &json!({"id": "primary-gallium", "name": "Primary gallium", "stage": "smelting"}),
    )
    .await;
    app.post_ok("/v1/facts", &chinese_share_fact("primary-gallium", 98.0))
        .await;
    assert_eq!(
        current_dependency(&app, "/v1/scores/primary-gallium").await,
        98.0,
        "the replica has applied the gallium fact"
    );
    assert_eq!(
        score(&app, MAGNET).await["dependency"],
        before["dependency"]
    );

    // China separating 92% of the oxide binds the whole chain.
    app.post_ok("/v1/facts", &chinese_share_fact("ndpr-oxide", 92.0))
        .await;
    let after = current_dependency(&app, MAGNET).await;
    assert!((after - 92.0).abs() < 1e-9, "{after}");
    let detail = score(&app, MAGNET).await;
    assert_eq!(detail["dependency"]["chokepoint"]["product"], "ndpr-oxide");
    assert_eq!(detail["dependency"]["chokepoint"]["stage"], "smelting");
}

#[tokio::test]
async fn the_recorded_view_reproduces_an_older_score_exactly() {
    let app = seeded_app().await;
    // `then` must fall strictly between the seeded facts' recording time
    // and the writes below: these sleeps are about the clock, not about
    // waiting for the service.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let then = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let old = score(&app, &format!("{MAGNET}?as_of={then}&view=recorded")).await;

    let id = app
        .post_ok("/v1/facts", &chinese_share_fact("ndpr-oxide", 92.0))
        .await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(current_dependency(&app, MAGNET).await, 92.0);
    let facts: serde_json::Value = app
        .get("/v1/facts?product=rare-earth-concentrate&country=US")
        .await
        .json()
        .await
        .unwrap();
    let us_fact = facts["items"][0]["id"].as_i64().unwrap();
    for retracted in [id, us_fact] {
        app.delete_ok(&format!("/v1/facts/{retracted}?reason=test"))
            .await;
    }
    app.wait_until_current().await;

    let replayed = score(&app, &format!("{MAGNET}?as_of={then}&view=recorded")).await;
    assert_eq!(replayed["dependency"], old["dependency"]);
    assert_eq!(replayed["difficulty"], old["difficulty"]);
    assert_eq!(replayed["facts_used"], old["facts_used"]);
    let now = score(&app, MAGNET).await["dependency"]["score"]
        .as_f64()
        .unwrap();
    assert!(
        rounded_eq(now, 100.0 * 270.0 / 315.0),
        "without the US row: {now}"
    );
}

#[tokio::test]
async fn history_has_one_point_per_step() {
    let app = seeded_app().await;
    let history = score(
        &app,
        &format!("{MAGNET}/history?from=2024-01-01&to=2026-06-30&step=quarter"),
    )
    .await;
    let points = history["points"].as_array().unwrap();
    assert_eq!(points.len(), 10, "2024 Q1 to 2026 Q2");
    assert_eq!(points[0]["as_of"], "2024-03-31T23:59:59Z");
    assert_eq!(points[9]["as_of"], "2026-06-30T23:59:59Z");
    // The facts were recorded today: every past point predates them, and
    // without supply data the dependency is unknown, not 0.
    assert!(
        points.iter().all(|p| p["dependency"].is_null()),
        "{history}"
    );
    let yearly = score(
        &app,
        &format!("{MAGNET}/history?from=2020-01-01&to=2026-12-31&step=year"),
    )
    .await;
    assert_eq!(yearly["points"].as_array().unwrap().len(), 7);
    assert_problem(
        app.get(&format!("{MAGNET}/history?step=week")).await,
        422,
        "invalid_parameter",
    )
    .await;
    assert_problem(
        app.get(&format!("{MAGNET}/history?from=2026-01-01&to=2025-01-01"))
            .await,
        422,
        "invalid_parameter",
    )
    .await;
}

#[tokio::test]
async fn etags_answer_304_until_the_data_changes() {
    let app = seeded_app().await;
    let first = app.get(MAGNET).await;
    let tag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(first.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("must-revalidate"));
    let again = app
        .client
        .get(app.url(MAGNET))
        .header("If-None-Match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], tag.as_str());
    // If-None-Match compares weakly: a weak form of the tag matches too.
    let weak = app
        .client
        .get(app.url(MAGNET))
        .header("If-None-Match", format!("\"nope\", W/{tag}"))
        .send()
        .await
        .unwrap();
    assert_eq!(weak.status(), 304);
    let other = app
        .client
        .get(app.url(&format!("{MAGNET}?buyer=EU")))
        .header("If-None-Match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200, "other parameters, other tag");

    // An instant after the chain was recorded, before the next write.
    let then = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    app.post_ok("/v1/facts", &chinese_share_fact("ndpr-oxide", 92.0))
        .await;
    assert_eq!(current_dependency(&app, MAGNET).await, 92.0);
    let changed = app
        .client
        .get(app.url(MAGNET))
        .header("If-None-Match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200, "new data, new tag");
    let recorded = app
        .get(&format!("{MAGNET}?as_of={then}&view=recorded"))
        .await;
    assert_eq!(recorded.status(), 200);
    assert!(
        recorded.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=86400"),
        "what was recorded at a past instant cannot change"
    );
    let public = app.get(&format!("{MAGNET}?as_of=2025-01-01")).await;
    assert!(
        public.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("must-revalidate"),
        "what was published by a past instant grows as it is recorded"
    );
}

#[tokio::test]
async fn a_fact_written_through_one_replica_is_served_by_another() {
    let a = seeded_app().await;
    let b = spawn_app_on(&a.database).await;
    assert_eq!(score(&b, MAGNET).await["dependency"]["score"], 75.0);
    a.post_ok("/v1/facts", &chinese_share_fact("ndpr-oxide", 92.0))
        .await;
    assert_eq!(current_dependency(&b, MAGNET).await, 92.0);
}

/// A refresh for one product's change reads a database where other writes
/// may have committed meanwhile: what it serves must cover all of them,
/// as the data version it serves does.
#[tokio::test]
async fn a_refresh_serves_every_write_its_version_covers() {
    let app = seeded_app().await;
    // Myanmar's 40 kt of ore (stored normalised, as China's 270 are),
    // committed unannounced, as a write whose notification is still on
    // its way would be.
    let inserted = app
        .db
        .execute(
            "INSERT INTO facts (product_id, country, metric, value, unit, period_start, status, source_id, confidence, published_on)
             SELECT product_id, 'MM', metric, value * 40 / 270, unit, period_start, status, source_id, confidence, published_on
             FROM facts WHERE product_id = 'rare-earth-concentrate' AND country = 'CN'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(inserted, 1);
    // This write announces only the oxide.
    app.post_ok("/v1/facts", &chinese_share_fact("ndpr-oxide", 92.0))
        .await;
    assert_eq!(current_dependency(&app, MAGNET).await, 92.0);
    let ore = score(&app, "/v1/scores/rare-earth-concentrate").await;
    assert_eq!(
        ore["dependency"]["score"],
        100.0 * 270.0 / 400.0,
        "Myanmar's ore is served with the version that counts it"
    );
}

#[tokio::test]
async fn the_listener_recovers_when_its_connection_is_killed() {
    let app = seeded_app().await;
    let terminated = app
        .db
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2",
            &[&chokepoint::live::listener::APPLICATION_NAME, &app.database],
        )
        .await
        .unwrap();
    assert_eq!(terminated.len(), 1, "one listener per app");
    app.post_ok("/v1/facts", &chinese_share_fact("ndpr-oxide", 92.0))
        .await;
    assert_eq!(current_dependency(&app, MAGNET).await, 92.0);
}

#[tokio::test]
async fn the_list_sorts_filters_and_pages() {
    let app = seeded_app().await;
    app.post_ok("/v1/facts", &chinese_share_fact("ndpr-metal", 50.0))
        .await;
    app.wait_until_current().await;
    let all = score(&app, "/v1/scores?sort=-dependency&limit=1000").await;
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    let dependencies: Vec<f64> = items
        .iter()
        .map(|i| i["dependency"].as_f64().unwrap())
        .collect();
    assert!(
        dependencies.windows(2).all(|w| w[0] >= w[1]),
        "{dependencies:?}"
    );

    let mut paged = Vec::new();
    let mut path = "/v1/scores?sort=-dependency&limit=1".to_owned();
    loop {
        let page = score(&app, &path).await;
        paged.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["product"].clone()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/scores?sort=-dependency&limit=1&cursor={cursor}"),
            None => break,
        }
    }
    let expected: Vec<serde_json::Value> = items.iter().map(|i| i["product"].clone()).collect();
    assert_eq!(paged, expected);

    let mining = score(&app, "/v1/scores?stage=mining").await;
    assert_eq!(mining["items"].as_array().unwrap().len(), 1);
    let eu = score(&app, "/v1/scores?buyer=EU&as_of=2026-01-01").await;
    assert_eq!(
        eu["items"].as_array().unwrap().len(),
        4,
        "another instant is computed on demand"
    );
}

#[tokio::test]
async fn bad_parameters_and_unknown_products_are_problems() {
    let app = seeded_app().await;
    assert_problem(app.get("/v1/scores/unobtainium").await, 404, "not_found").await;
    assert_problem(
        app.get("/v1/scores/unobtainium/eu-crm").await,
        404,
        "not_found",
    )
    .await;
    for (query, name) in [
        ("buyer=XX", "buyer"),
        ("as_of=yesterday", "as_of"),
        ("weights=speed:1", "weights"),
        ("weights=time:-1", "weights"),
        ("horizon=99", "horizon"),
        ("chain=random", "chain"),
        ("draws=5", "draws"),
        ("colour=red", "colour"),
    ] {
        let problem = assert_problem(
            app.get(&format!("{MAGNET}?{query}")).await,
            422,
            "invalid_parameter",
        )
        .await;
        assert_eq!(
            problem["errors"][0]["pointer"],
            format!("/query/{name}"),
            "{query}: {problem}"
        );
    }
    assert_problem(
        app.get("/v1/scores?sort=colour").await,
        422,
        "invalid_parameter",
    )
    .await;
}

#[tokio::test]
async fn uncertainty_weights_and_the_eu_crm_cross_check_are_explained() {
    let app = seeded_app().await;
    let detail = score(&app, &format!("{MAGNET}?uncertainty=true&draws=200&seed=7")).await;
    let dependency = &detail["uncertainty"]["dependency"];
    let (p5, p50, p95) = (
        dependency["p5"].as_f64().unwrap(),
        dependency["p50"].as_f64().unwrap(),
        dependency["p95"].as_f64().unwrap(),
    );
    assert!(p5 <= p50 && p50 <= p95, "{dependency}");
    let again = score(&app, &format!("{MAGNET}?uncertainty=true&draws=200&seed=7")).await;
    assert_eq!(again["uncertainty"], detail["uncertainty"], "seeded");

    let weighted = score(
        &app,
        &format!("{MAGNET}?weights=time:1,scale:0,capital:0,cost:0,know_how:0,substitution:0"),
    )
    .await;
    assert_eq!(weighted["params"]["weights"]["time"], 1.0);
    let components = weighted["difficulty"]["components"].as_array().unwrap();
    let total: f64 = components
        .iter()
        .map(|c| c["contribution"].as_f64().unwrap())
        .sum();
    assert!(
        (total - weighted["difficulty"]["score"].as_f64().unwrap()).abs() < 1e-6,
        "contributions add up"
    );

    let crm = score(&app, "/v1/scores/rare-earth-concentrate/eu-crm").await;
    assert_eq!(crm["buyer"], "EU");
    assert!(crm["stages"].is_array(), "{crm}");
}

#[tokio::test]
async fn a_chain_without_supply_data_has_no_dependency_and_lists_last() {
    // The chain's products exist but no supply fact does yet.
    let app = spawn_app().await;
    app.seed_chain().await;
    app.wait_until_current().await;
    let unknown = score(&app, MAGNET).await;
    assert!(unknown["dependency"]["score"].is_null(), "{unknown}");
    assert_eq!(unknown["dependency"]["supply_coverage"], 0.0);
    assert!(unknown["dependency"]["insufficient_data"].is_string());
    // Supply facts for the concentrate alone: it is scored, the rest of the
    // chain through it too.
    app.post_ok("/v1/facts", &json!([production_fact()])).await;
    app.wait_until_current().await;
    app.post_ok(
        "/v1/products",
        &json!({"id": "unmapped-alloy", "name": "An alloy nobody has data on", "stage": "materials"}),
    )
    .await;
    app.wait_until_current().await;
    for sort in ["dependency", "-dependency"] {
        let page: serde_json::Value = app
            .get(&format!("/v1/scores?sort={sort}"))
            .await
            .json()
            .await
            .unwrap();
        let items = page["items"].as_array().unwrap();
        let last = items.last().unwrap();
        assert_eq!(last["product"], "unmapped-alloy", "{sort}: {page}");
        assert!(last["dependency"].is_null());
        assert!(items[..items.len() - 1]
            .iter()
            .all(|item| item["dependency"].is_f64()));
    }
}
