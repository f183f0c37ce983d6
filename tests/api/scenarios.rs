use serde_json::json;

use chokepoint::domain::Scope;

use crate::helpers::{
    assert_problem, client_with_key, create_key, production_fact, rounded_eq, spawn_app,
    table_counts, TestApp,
};

/// The magnet chain with China at 270 of 360 kt of ore (75%), 250 of 300 kt
/// of operating ore capacity, and 92% of the oxide (so 92 for the oxide,
/// the metal and the magnet), loaded into the live scores.
pub async fn seeded_chain() -> TestApp {
    let app = spawn_app().await;
    app.seed_chain().await;
    let mut facts = vec![production_fact()];
    for (country, kilotonnes) in [("US", 45), ("AU", 45)] {
        let mut fact = production_fact();
        fact["country"] = json!(country);
        fact["value"] = json!(kilotonnes);
        facts.push(fact);
    }
    for (country, kilotonnes) in [("CN", 250), ("AU", 50)] {
        let mut fact = production_fact();
        (
            fact["metric"],
            fact["country"],
            fact["value"],
            fact["status"],
        ) = (
            json!("capacity"),
            json!(country),
            json!(kilotonnes),
            json!("operating"),
        );
        facts.push(fact);
    }
    facts.push(
        json!({"product": "ndpr-oxide", "country": "CN", "metric": "market_share", "value": 92,
        "unit": "%", "period": "2024", "status": "estimate", "source_id": "usgs-mcs-2025"}),
    );
    app.post_ok("/v1/facts", &json!(facts)).await;
    wait_for_dependency(&app, "sintered-ndfeb-magnet", 92.0).await;
    app
}

/// Asserts the live score of `product` once the replica serves every
/// committed write (the refresh after a write is asynchronous).
pub async fn wait_for_dependency(app: &TestApp, product: &str, dependency: f64) {
    app.wait_until_current().await;
    let body = ok_json(app.get(&format!("/v1/scores/{product}")).await).await;
    let served = body["dependency"]["score"].as_f64().unwrap();
    assert!(
        (served - dependency).abs() < 1e-9,
        "{product} scores {served}, not {dependency}"
    );
}

pub async fn ok_json(response: reqwest::Response) -> serde_json::Value {
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

/// 100 kt/yr of ore capacity in the US, under construction, online in 2027.
fn us_mine() -> serde_json::Value {
    json!({"add_fact": {"product": "rare-earth-concentrate", "country": "US", "facility": "new mine",
        "metric": "capacity", "value": 100, "unit": "kt/yr", "period": "2026",
        "status": "under_construction", "expected_online": 2027}})
}

fn result<'a>(evaluation: &'a serde_json::Value, product: &str) -> &'a serde_json::Value {
    evaluation["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["product"] == product)
        .unwrap_or_else(|| panic!("{product} in {evaluation}"))
}

fn number(value: &serde_json::Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{value} is not a number"))
}

#[tokio::test]
async fn non_chinese_capacity_lowers_difficulty_and_never_raises_dependency() {
    let app = seeded_chain().await;
    let evaluation = ok_json(
        app.post_json(
            "/v1/scenarios/evaluate",
            &json!({"buyer": "US", "changes": [us_mine()]}),
        )
        .await,
    )
    .await;
    let affected: Vec<&str> = evaluation["affected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(
        affected,
        [
            "ndpr-metal",
            "ndpr-oxide",
            "rare-earth-concentrate",
            "sintered-ndfeb-magnet"
        ]
    );
    assert_eq!(evaluation["hypothetical_facts"][0]["id"], -1);
    assert_eq!(evaluation["hypothetical_facts"][0]["value"], 100_000.0);

    // Ore difficulty: time 16/20 (mining default), scale, know-how 0, with
    // weights .25 + .25 + .10; the project counts 0.8 by 2027.
    let difficulty = |scale: f64| 100.0 * (0.25 * 0.8 + 0.25 * scale) / 0.60;
    let (before, after) = (
        difficulty(250.0 / 300.0),
        difficulty(250.0 / (300.0 + 0.8 * 100.0)),
    );
    for product in affected {
        let compared = result(&evaluation, product);
        let (dependency, changed_dependency) = (
            number(&compared["baseline"]["dependency"]),
            number(&compared["scenario"]["dependency"]),
        );
        assert!(
            changed_dependency <= dependency + 1e-9,
            "{product}: {compared}"
        );
        // Every product of the chain takes the ore's difficulty, the hardest.
        assert!(rounded_eq(
            number(&compared["baseline"]["difficulty"]),
            before
        ));
        assert!(rounded_eq(
            number(&compared["scenario"]["difficulty"]),
            after
        ));
        assert!(rounded_eq(
            number(&compared["delta"]["difficulty"]),
            after - before
        ));
        // The baseline is what the scores say.
        let live = ok_json(app.get(&format!("/v1/scores/{product}")).await).await;
        assert_eq!(
            compared["baseline"]["dependency"],
            live["dependency"]["score"]
        );
        assert_eq!(
            compared["baseline"]["difficulty"],
            live["difficulty"]["score"]
        );
    }
    let ore = result(&evaluation, "rare-earth-concentrate");
    let changes = ore["changes"].as_array().unwrap();
    assert!(
        changes.iter().any(|c| c["kind"] == "component"
            && c["name"] == "scale"
            && c["score"] == "difficulty"),
        "{ore}"
    );
    assert!(
        changes
            .iter()
            .any(|c| c["kind"] == "facts_used" && c["added"] == json!([-1])),
        "{ore}"
    );
}

#[tokio::test]
async fn a_scenario_never_changes_what_the_scores_return() {
    let app = seeded_chain().await;
    let list = ok_json(app.get("/v1/scores?limit=1000").await).await;
    let magnet = ok_json(app.get("/v1/scores/sintered-ndfeb-magnet").await).await;
    let before = table_counts(&app).await;
    let version = app.wait_until_current().await;
    let facts: serde_json::Value =
        ok_json(app.get("/v1/facts?product=rare-earth-concentrate").await).await;
    let china = facts["items"][0]["id"].clone();
    for changes in [
        json!([us_mine()]),
        json!([{"drop_facts": [china]}]),
        json!([{"export_control": {"product": "ndpr-oxide", "level": "ban", "status": "in_force"}}]),
    ] {
        let evaluation = ok_json(
            app.post_json(
                "/v1/scenarios/evaluate",
                &json!({"buyer": "US", "changes": changes}),
            )
            .await,
        )
        .await;
        assert!(!evaluation["results"].as_array().unwrap().is_empty());
    }
    let saved = app
        .post_ok(
            "/v1/scenarios",
            &json!({"name": "US mine", "scenario": {"buyer": "US", "changes": [us_mine()]}}),
        )
        .await;
    let path = format!("/v1/scenarios/{}/evaluate", saved["id"].as_str().unwrap());
    ok_json(app.client.post(app.url(&path)).send().await.unwrap()).await;
    // Dropping China's ore leaves the US and Australia: the ore falls to 0.
    let dropped = ok_json(
        app.post_json(
            "/v1/scenarios/evaluate",
            &json!({"buyer": "US", "changes": [{"drop_facts": [china]}],
                    "products": ["rare-earth-concentrate"]}),
        )
        .await,
    )
    .await;
    assert_eq!(dropped["results"].as_array().unwrap().len(), 1);
    assert_eq!(dropped["results"][0]["scenario"]["dependency"], 0.0);
    // Had an evaluation written anything scoring reads, the committed
    // version would have moved, and waiting for the replica to serve it
    // would show its effect on the scores below.
    assert_eq!(
        app.wait_until_current().await,
        version,
        "no evaluation wrote anything scoring reads"
    );
    assert_eq!(ok_json(app.get("/v1/scores?limit=1000").await).await, list);
    assert_eq!(
        ok_json(app.get("/v1/scores/sintered-ndfeb-magnet").await).await,
        magnet
    );
    assert_eq!(
        table_counts(&app).await,
        before,
        "no fact, source or product was written"
    );
}

#[tokio::test]
async fn saved_scenarios_are_kept_re_evaluated_against_newer_facts_and_deleted() {
    let app = seeded_chain().await;
    let new = json!({"name": "US mine", "description": "100 kt/yr from 2027",
        "scenario": {"buyer": "US", "changes": [us_mine()], "products": ["rare-earth-concentrate"]}});
    let save = || {
        app.client
            .post(app.url("/v1/scenarios"))
            .header("Idempotency-Key", "save-us-mine")
            .json(&new)
            .send()
    };
    let audited = app.count("audit_log").await;
    let first = save().await.unwrap();
    assert_eq!(first.status(), 201);
    let saved: serde_json::Value = first.json().await.unwrap();
    assert_eq!(saved["name"], "US mine");
    assert_eq!(saved["scenario"], new["scenario"], "kept as posted");
    let replay = save().await.unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<serde_json::Value>().await.unwrap(), saved);
    assert_eq!(app.count("scenarios").await, 1);
    assert_eq!(
        app.count("audit_log").await,
        audited + 1,
        "a save is a write"
    );

    let id = saved["id"].as_str().unwrap();
    let listed = ok_json(app.get("/v1/scenarios").await).await;
    assert_eq!(listed["items"], json!([saved]));
    assert_eq!(
        ok_json(app.get(&format!("/v1/scenarios/{id}")).await).await,
        saved
    );

    let evaluate = || {
        app.client
            .post(app.url(&format!("/v1/scenarios/{id}/evaluate")))
            .send()
    };
    let first = ok_json(evaluate().await.unwrap()).await;
    assert_eq!(first["scenario"], json!({"id": id, "name": "US mine"}));
    assert_eq!(first["results"][0]["baseline"]["dependency"], 75.0);

    // Myanmar's 40 kt arrive: China's share of the ore falls to 270 of 400.
    let mut myanmar = production_fact();
    (myanmar["country"], myanmar["value"]) = (json!("MM"), json!(40));
    app.post_ok("/v1/facts", &myanmar).await;
    wait_for_dependency(&app, "rare-earth-concentrate", 67.5).await;
    let later = ok_json(evaluate().await.unwrap()).await;
    assert_eq!(later["results"][0]["baseline"]["dependency"], 67.5);
    assert_ne!(later["data_version"], first["data_version"]);
    let for_eu = ok_json(
        app.client
            .post(app.url(&format!("/v1/scenarios/{id}/evaluate?buyer=EU")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(for_eu["params"]["buyer"], "EU");

    let audited = app.count("audit_log").await;
    let deleted = app
        .client
        .delete(app.url(&format!("/v1/scenarios/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(app.count("scenarios").await, 0, "deleted for good");
    assert_eq!(app.count("audit_log").await, audited + 1, "so is a delete");
    assert_problem(
        app.get(&format!("/v1/scenarios/{id}")).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(evaluate().await.unwrap(), 404, "not_found").await;
    let again = app
        .client
        .delete(app.url(&format!("/v1/scenarios/{id}")))
        .send()
        .await
        .unwrap();
    assert_problem(again, 404, "not_found").await;
    assert_problem(
        app.get("/v1/scenarios/not-a-uuid").await,
        404,
        "route_not_found",
    )
    .await;
}

#[tokio::test]
async fn saved_scenarios_page_newest_first() {
    let app = seeded_chain().await;
    for name in ["first", "second", "third"] {
        let body = json!({"name": name, "scenario": {"buyer": "US", "changes": [us_mine()]}});
        assert_eq!(app.post_json("/v1/scenarios", &body).await.status(), 201);
    }
    let mut names = Vec::new();
    let mut path = "/v1/scenarios?limit=2".to_owned();
    loop {
        let page = ok_json(app.get(&path).await).await;
        names.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["name"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/scenarios?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(names, ["third", "second", "first"]);
    assert_problem(
        app.get("/v1/scenarios?cursor=zz").await,
        422,
        "invalid_parameter",
    )
    .await;
}

#[tokio::test]
async fn bad_scenarios_are_problems_that_point_at_the_field_and_write_nothing() {
    let app = seeded_chain().await;
    let before = table_counts(&app).await;
    let fact = |changes: serde_json::Value| {
        let mut fact = us_mine();
        for (key, value) in changes.as_object().unwrap() {
            fact["add_fact"][key] = value.clone();
        }
        fact
    };
    let cases = [
        (
            json!({"changes": [fact(json!({"product": "unobtainium"}))]}),
            "validation_failed",
            "/changes/0/add_fact/product",
        ),
        (
            json!({"changes": [fact(json!({"metric": "prodution"}))]}),
            "validation_failed",
            "/changes/0/add_fact/metric",
        ),
        (
            json!({"changes": [us_mine(), {"drop_facts": [1, 999999]}]}),
            "validation_failed",
            "/changes/1/drop_facts/1",
        ),
        (
            json!({"changes": [{"export_control": {"product": "ndpr-oxide", "level": "embargo", "status": "in_force"}}]}),
            "invalid_body",
            "/changes/0/export_control/level",
        ),
        (
            json!({"changes": [{"export_control": {"product": "unobtainium", "level": "ban", "status": "in_force"}}]}),
            "validation_failed",
            "/changes/0/export_control/product",
        ),
        (
            json!({"changes": [fact(json!({"source_id": "usgs-mcs-2025"}))]}),
            "invalid_body",
            "/changes/0/add_fact/source_id",
        ),
        (json!({"changes": []}), "validation_failed", "/changes"),
        (
            json!({"buyer": "XX", "changes": [us_mine()]}),
            "validation_failed",
            "/buyer",
        ),
        (
            json!({"as_of": "soon", "changes": [us_mine()]}),
            "validation_failed",
            "/as_of",
        ),
        (
            json!({"horizon": 99, "changes": [us_mine()]}),
            "validation_failed",
            "/horizon",
        ),
        (
            json!({"weights": {"time": -1}, "changes": [us_mine()]}),
            "validation_failed",
            "/weights",
        ),
        (
            json!({"products": ["ndpr-oxide", "unobtainium"], "changes": [us_mine()]}),
            "validation_failed",
            "/products/1",
        ),
    ];
    for (request, code, pointer) in cases {
        let mut body = json!({"buyer": "US"});
        for (key, value) in request.as_object().unwrap() {
            body[key] = value.clone();
        }
        let problem = assert_problem(
            app.post_json("/v1/scenarios/evaluate", &body).await,
            422,
            code,
        )
        .await;
        assert_eq!(
            problem["errors"][0]["pointer"], pointer,
            "{body}: {problem}"
        );

        let saved = assert_problem(
            app.post_json("/v1/scenarios", &json!({"name": "bad", "scenario": body}))
                .await,
            422,
            code,
        )
        .await;
        assert_eq!(
            saved["errors"][0]["pointer"],
            format!("/scenario{pointer}"),
            "{saved}"
        );
    }
    let unnamed = assert_problem(
        app.post_json(
            "/v1/scenarios",
            &json!({"name": "  ", "scenario": {"buyer": "US", "changes": [us_mine()]}}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(unnamed["errors"][0]["pointer"], "/name");
    assert_problem(
        app.post_raw("/v1/scenarios/evaluate", "application/json", "{\"buyer\":")
            .await,
        400,
        "malformed_json",
    )
    .await;
    assert_problem(
        app.post_raw("/v1/scenarios/evaluate", "text/plain", "hello")
            .await,
        415,
        "unsupported_media_type",
    )
    .await;
    assert_eq!(table_counts(&app).await, before);
    assert_eq!(app.count("scenarios").await, 0);
}

#[tokio::test]
async fn a_switched_control_shows_as_pressure_downstream() {
    let app = seeded_chain().await;
    let evaluation = ok_json(
        app.post_json(
            "/v1/scenarios/evaluate",
            &json!({"buyer": "US", "changes": [{"export_control": {
                "product": "ndpr-oxide", "level": "ban", "status": "in_force"}}]}),
        )
        .await,
    )
    .await;
    let magnet = result(&evaluation, "sintered-ndfeb-magnet");
    assert_eq!(magnet["delta"]["export_controls"], 1);
    assert_eq!(
        magnet["delta"]["dependency"], 0.0,
        "pressure is not a score input"
    );
    assert_eq!(
        magnet["changes"],
        json!([{"kind": "pressure", "product": "ndpr-oxide", "country": "CN", "level": 2,
                "before": null, "after": "in_force"}])
    );
    let control = &evaluation["hypothetical_facts"][0];
    assert_eq!(control["metric"], "export_control");
    assert_eq!(control["status"], "in_force");
}

#[tokio::test]
async fn evaluating_is_a_read_and_saving_or_deleting_a_write() {
    let app = seeded_chain().await;
    let body = json!({"name": "US mine", "scenario": {"buyer": "US", "changes": [us_mine()]}});
    let anonymous = reqwest::Client::new();
    let evaluated = anonymous
        .post(app.url("/v1/scenarios/evaluate"))
        .json(&body["scenario"])
        .send()
        .await
        .unwrap();
    assert_eq!(evaluated.status(), 200, "reads are open by default");
    let unsaved = anonymous
        .post(app.url("/v1/scenarios"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_problem(unsaved, 401, "unauthorized").await;
    let reader = client_with_key(&create_key(&app.database, "reader", &[Scope::Read]).await);
    let refused = reader
        .post(app.url("/v1/scenarios"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_problem(refused, 403, "forbidden").await;
    let saved = app.post_ok("/v1/scenarios", &body).await;
    let id = saved["id"].as_str().unwrap();
    let kept = reader
        .delete(app.url(&format!("/v1/scenarios/{id}")))
        .send()
        .await
        .unwrap();
    assert_problem(kept, 403, "forbidden").await;
    let evaluated = reader
        .post(app.url(&format!("/v1/scenarios/{id}/evaluate")))
        .send()
        .await
        .unwrap();
    assert_eq!(evaluated.status(), 200);
    assert_eq!(app.count("scenarios").await, 1);
}
