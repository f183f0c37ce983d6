use serde_json::json;

use crate::helpers::{assert_problem, spawn_app, table_counts};

#[tokio::test]
async fn a_product_shows_its_inputs_and_its_users() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let oxide: serde_json::Value = app
        .get("/v1/products/ndpr-oxide")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(oxide["stage"], "smelting");
    assert_eq!(
        oxide["inputs"],
        json!([{"product": "rare-earth-concentrate", "share": 1.0, "essential": true}])
    );
    assert_eq!(oxide["used_by"], json!(["ndpr-metal"]));
    assert_eq!(oxide["revision"], 1);

    let smelting: serde_json::Value = app
        .get("/v1/products?stage=smelting")
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = smelting["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["ndpr-metal", "ndpr-oxide"]);
    assert_problem(app.get("/v1/products/unobtainium").await, 404, "not_found").await;
}

#[tokio::test]
async fn put_replaces_a_product_and_keeps_its_revisions() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let body = json!({"name": "Sintered NdFeB magnet", "stage": "materials",
        "inputs": [{"product": "ndpr-metal", "share": 0.7, "essential": true}]});
    let response = app
        .client
        .put(app.url("/v1/products/sintered-ndfeb-magnet"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let magnet: serde_json::Value = response.json().await.unwrap();
    assert_eq!(magnet["inputs"][0]["share"], 0.7);
    assert_eq!(magnet["revision"], 2);

    let response = app
        .client
        .put(app.url("/v1/products/ev-traction-motor"))
        .json(&json!({
            "name": "EV traction motor", "stage": "applications",
            "inputs": [{"product": "sintered-ndfeb-magnet", "share": 0.3, "essential": true}]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "PUT creates a missing product");
}

#[tokio::test]
async fn a_cycle_is_rejected_naming_it_and_nothing_changes() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let before = table_counts(&app).await;
    // ndpr-metal already needs ndpr-oxide; making the oxide need the metal closes a loop.
    let body = json!({"name": "NdPr oxide", "stage": "smelting",
        "inputs": [{"product": "ndpr-metal", "share": 0.1, "essential": false}]});
    let response = app
        .client
        .put(app.url("/v1/products/ndpr-oxide"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 422, "validation_failed").await;
    let message = problem["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("ndpr-oxide → ndpr-metal → ndpr-oxide"),
        "{message}"
    );
    assert_eq!(table_counts(&app).await, before);
}

#[tokio::test]
async fn inputs_must_exist_and_sit_upstream() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let before = table_counts(&app).await;
    let cases = [
        (
            json!({"id": "magnet-2", "name": "m", "stage": "materials", "inputs": [{"product": "unobtainium", "share": 0.5}]}),
            "/inputs/0/product",
        ),
        (
            json!({"id": "ore-2", "name": "o", "stage": "mining", "inputs": [{"product": "ndpr-oxide", "share": 0.5}]}),
            "/inputs/0/product",
        ),
        (
            json!({"id": "magnet-3", "name": "m", "stage": "materials", "inputs": [{"product": "ndpr-metal", "share": 1.5}]}),
            "/inputs/0/share",
        ),
        (
            json!({"id": "magnet-4", "name": "m", "stage": "materials", "inputs": [{"product": "magnet-4", "share": 0.5}]}),
            "/inputs/0/product",
        ),
        (
            json!({"id": "magnet-5", "name": "m", "stage": "downstream"}),
            "/stage",
        ),
    ];
    for (body, pointer) in cases {
        let problem = assert_problem(
            app.post_json("/v1/products", &body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["pointer"], pointer, "{problem}");
    }
    let problem = assert_problem(
        app.post_json(
            "/v1/products",
            &json!({"id": "ndpr-oxide", "name": "again", "stage": "smelting"}),
        )
        .await,
        409,
        "conflict",
    )
    .await;
    assert!(problem["detail"].as_str().unwrap().contains("PUT"));
    assert_eq!(table_counts(&app).await, before);
}

#[tokio::test]
async fn products_carry_hs_codes_of_the_trade_code_table_only() {
    let app = spawn_app().await;
    let product = |codes: serde_json::Value| json!({"id": "rare-earth-compounds", "name": "Rare-earth compounds", "stage": "smelting", "hs_codes": codes});
    let before = table_counts(&app).await;
    for (codes, pointer, message) in [
        (json!(["28469"]), "/hs_codes/0", "six digits"),
        (
            json!(["123456"]),
            "/hs_codes/0",
            "not in the HS 1992 code table",
        ),
        (json!(["284690", "284690"]), "/hs_codes/1", "listed twice"),
        (json!(vec!["284690"; 21]), "/hs_codes", "at most 20"),
    ] {
        let problem = assert_problem(
            app.post_json("/v1/products", &product(codes.clone())).await,
            422,
            "validation_failed",
        )
        .await;
        let error = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["pointer"] == pointer)
            .unwrap_or_else(|| panic!("{codes}: {problem}"));
        assert!(
            error["message"].as_str().unwrap().contains(message),
            "{problem}"
        );
    }
    assert_eq!(table_counts(&app).await, before, "nothing is written");

    let created = app
        .post_ok("/v1/products", &product(json!(["284690", "284610"])))
        .await;
    assert_eq!(created["hs_codes"], json!(["284690", "284610"]));
    let read = app.get_current("/v1/products/rare-earth-compounds").await;
    assert_eq!(read["hs_codes"], json!(["284690", "284610"]));
}
