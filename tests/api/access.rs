use std::time::Duration;

use chokepoint::config::{Reads, ServeSettings};
use chokepoint::domain::Scope;
use serde_json::json;

use crate::helpers::{
    assert_problem, client_with_key, create_key, database_url, fresh_database, production_fact,
    spawn_app, spawn_app_on, spawn_with, TestApp,
};

fn source(id: &str) -> serde_json::Value {
    json!({"id": id, "title": "t", "publisher": "p", "kind": "news"})
}

async fn audit_rows(app: &TestApp) -> i64 {
    app.count("audit_log").await
}

#[tokio::test]
async fn a_write_without_a_key_is_401_and_writes_nothing() {
    let app = spawn_app().await;
    let anonymous = reqwest::Client::new();
    let before = (app.count("sources").await, audit_rows(&app).await);
    let response = anonymous
        .post(app.url("/v1/sources"))
        .json(&source("s-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_problem(response, 401, "unauthorized").await;
    let forged = "ck_0000abcd_".to_owned() + &"0".repeat(64);
    let response = client_with_key(&forged)
        .post(app.url("/v1/sources"))
        .json(&source("s-1"))
        .send()
        .await
        .unwrap();
    let body = assert_problem(response, 401, "unauthorized").await;
    assert!(
        !body.to_string().contains(&forged),
        "no key material in error bodies"
    );
    let response = anonymous
        .post(app.url("/v1/sources"))
        .header("Authorization", "Basic dXNlcjpwYXNz")
        .json(&source("s-1"))
        .send()
        .await
        .unwrap();
    assert_problem(response, 401, "unauthorized").await;
    assert_eq!((app.count("sources").await, audit_rows(&app).await), before);
}

#[tokio::test]
async fn each_scope_reaches_its_routes_and_no_further() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let reader = client_with_key(&create_key(&app.database, "reader", &[Scope::Read]).await);
    let ingester = client_with_key(&create_key(&app.database, "ingester", &[Scope::Ingest]).await);

    // read: reads only.
    assert_eq!(
        reader
            .get(app.url("/v1/products"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let response = reader
        .post(app.url("/v1/sources"))
        .json(&source("by-reader"))
        .send()
        .await
        .unwrap();
    assert_problem(response, 403, "forbidden").await;
    // ingest: reads and writes, not keys or the audit trail.
    assert_eq!(
        ingester
            .get(app.url("/v1/scores"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        ingester
            .post(app.url("/v1/facts"))
            .json(&production_fact())
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    for path in ["/v1/keys", "/v1/audit"] {
        assert_problem(
            ingester.get(app.url(path)).send().await.unwrap(),
            403,
            "forbidden",
        )
        .await;
    }
    let response = ingester
        .post(app.url("/v1/keys"))
        .json(&json!({"name": "x", "scopes": ["admin"]}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 403, "forbidden").await;
    // admin: everything.
    assert_eq!(app.get("/v1/keys").await.status(), 200);
    assert_eq!(app.get("/v1/audit").await.status(), 200);
    // Reads are open by default, without a key.
    assert_eq!(
        reqwest::get(app.url("/v1/products"))
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn reads_need_a_key_when_configured_so() {
    let database = fresh_database().await;
    let mut settings = ServeSettings::for_database(database_url(&database));
    settings.reads = Reads::Key;
    let app = spawn_with(settings, &database).await;
    assert_problem(
        reqwest::get(app.url("/v1/products")).await.unwrap(),
        401,
        "unauthorized",
    )
    .await;
    assert_problem(
        reqwest::get(app.url("/v1/scores")).await.unwrap(),
        401,
        "unauthorized",
    )
    .await;
    let reader = client_with_key(&create_key(&database, "reader", &[Scope::Read]).await);
    assert_eq!(
        reader
            .get(app.url("/v1/products"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        reqwest::get(app.url("/healthz")).await.unwrap().status(),
        200,
        "probes stay open"
    );
}

#[tokio::test]
async fn a_key_created_and_revoked_through_the_api_stops_working_on_every_replica() {
    let a = spawn_app().await;
    let b = spawn_app_on(&a.database).await;
    let response = a
        .post_json(
            "/v1/keys",
            &json!({"name": "importer", "scopes": ["ingest"]}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let created: serde_json::Value = response.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with(&format!("ck_{}_", created["prefix"].as_str().unwrap())));

    let listed: serde_json::Value = a.get("/v1/keys").await.json().await.unwrap();
    assert!(
        !listed.to_string().contains(&key),
        "listing never shows secrets"
    );

    let importer = client_with_key(&key);
    assert_eq!(
        importer
            .post(b.url("/v1/sources"))
            .json(&source("before"))
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    let id = created["id"].as_i64().unwrap();
    let response = a
        .client
        .delete(a.url(&format!("/v1/keys/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = importer
        .post(b.url("/v1/sources"))
        .json(&source("after"))
        .send()
        .await
        .unwrap();
    assert_problem(response, 401, "unauthorized").await;
    assert_problem(
        a.client
            .delete(a.url(&format!("/v1/keys/{id}")))
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
    let problem = assert_problem(
        a.post_json("/v1/keys", &json!({"name": "", "scopes": []}))
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn every_write_kind_is_audited_in_its_transaction_and_rejected_ones_are_not() {
    let app = spawn_app().await;
    let request_id = "audit-trail-1";
    let response = app.client.post(app.url("/v1/sources")).header("X-Request-Id", request_id)
        .json(&json!({"id": "usgs-mcs-2025", "title": "t", "publisher": "p", "kind": "government_statistics"}))
        .send().await.unwrap();
    assert_eq!(response.status(), 201);
    app.post_ok(
        "/v1/products",
        &json!({"id": "ore-a", "name": "Ore", "stage": "mining"}),
    )
    .await;
    app.put_ok(
        "/v1/products/ore-a",
        &json!({"name": "Ore A", "stage": "mining"}),
    )
    .await;
    let mut fact = production_fact();
    fact["product"] = json!("ore-a");
    let written = app.post_ok("/v1/facts", &json!([fact.clone()])).await;
    let fact_id = written["ids"][0].as_i64().unwrap();
    let response = app
        .post_raw(
            "/v1/facts/import",
            "application/x-ndjson",
            format!("{fact}\n"),
        )
        .await;
    assert_eq!(response.status(), 201);
    app.delete_ok(&format!("/v1/facts/{fact_id}?reason=test"))
        .await;
    let created = app
        .post_ok("/v1/keys", &json!({"name": "k", "scopes": ["read"]}))
        .await;
    app.delete_ok(&format!("/v1/keys/{}", created["id"])).await;

    let before = audit_rows(&app).await;
    let mut bad = fact.clone();
    bad["unit"] = json!("%");
    assert_eq!(app.post_json("/v1/facts", &bad).await.status(), 422);
    assert_eq!(
        app.post_json(
            "/v1/sources",
            &json!({"id": "usgs-mcs-2025", "title": "t", "publisher": "p", "kind": "news"})
        )
        .await
        .status(),
        409
    );
    assert_eq!(
        audit_rows(&app).await,
        before,
        "rejected writes leave no audit row"
    );

    let trail: serde_json::Value = app.get("/v1/audit?limit=100").await.json().await.unwrap();
    let entries = trail["items"].as_array().unwrap();
    let routes: Vec<String> = entries
        .iter()
        .rev()
        .map(|e| {
            format!(
                "{} {}",
                e["method"].as_str().unwrap(),
                e["route"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        routes,
        [
            "POST /v1/sources",
            "POST /v1/products",
            "PUT /v1/products/{id}",
            "POST /v1/facts",
            "POST /v1/facts/import",
            "DELETE /v1/facts/{id}",
            "POST /v1/keys",
            "DELETE /v1/keys/{id}",
        ]
    );
    let first = entries.last().unwrap();
    assert_eq!(first["request_id"], request_id);
    assert_eq!(first["object_ids"], json!({"sources": ["usgs-mcs-2025"]}));
    assert!(first["key_id"].is_i64());
    let facts_entry = entries.iter().find(|e| e["route"] == "/v1/facts").unwrap();
    assert_eq!(facts_entry["object_ids"], json!({"facts": [fact_id]}));
    let filtered: serde_json::Value = app
        .get("/v1/audit?route=/v1/keys")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);
    let paged: serde_json::Value = app.get("/v1/audit?limit=3").await.json().await.unwrap();
    assert_eq!(paged["items"].as_array().unwrap().len(), 3);
    let next: serde_json::Value = app
        .get(&format!(
            "/v1/audit?limit=100&cursor={}",
            paged["next_cursor"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        next["items"].as_array().unwrap().len(),
        5,
        "8 entries: 3 then 5"
    );
}

#[tokio::test]
async fn a_drained_bucket_answers_429_with_retry_after() {
    let database = fresh_database().await;
    let mut settings = ServeSettings::for_database(database_url(&database));
    settings.rate_limit = 1;
    settings.rate_burst = 3;
    let app = spawn_with(settings, &database).await;
    for remaining in ["2", "1", "0"] {
        let response = app.get("/v1/products").await;
        assert_eq!(response.status(), 200);
        // Three requests of burst refill in three seconds at one a second.
        assert_eq!(
            response.headers()["ratelimit-policy"],
            "\"default\";q=3;w=3"
        );
        let state = response.headers()["ratelimit"].to_str().unwrap().to_owned();
        assert!(
            state.starts_with(&format!("\"default\";r={remaining};t=")),
            "{state}"
        );
    }
    let response = app.get("/v1/products").await;
    assert_eq!(response.headers()["retry-after"], "1");
    assert_problem(response, 429, "rate_limited").await;
    assert_eq!(
        reqwest::get(app.url("/v1/products"))
            .await
            .unwrap()
            .status(),
        200,
        "anonymous callers have their own bucket"
    );
    assert_eq!(
        app.get("/healthz").await.status(),
        200,
        "probes are never limited"
    );
    // The bucket refills a token a second: this test is about time passing.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        app.get("/v1/products").await.status(),
        200,
        "the bucket refills"
    );
}

#[tokio::test]
async fn swagger_ui_pages_carry_security_headers() {
    let app = spawn_app().await;
    let response = app.get("/docs/").await;
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    let spec: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(
        spec["paths"]["/v1/facts"]["post"]["security"],
        json!([{"bearer": ["ingest"]}])
    );
    assert!(spec["paths"]["/v1/facts"]["post"]["responses"]["403"].is_object());
}

#[tokio::test]
async fn cors_is_off_by_default_and_allows_only_configured_origins() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/v1/products"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(response
        .headers()
        .get("access-control-allow-origin")
        .is_none());

    let database = fresh_database().await;
    let mut settings = ServeSettings::for_database(database_url(&database));
    settings.cors_origins = vec!["https://analyst.example".to_owned()];
    let app = spawn_with(settings, &database).await;
    let response = app
        .client
        .get(app.url("/v1/products"))
        .header("Origin", "https://analyst.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://analyst.example"
    );
}

#[tokio::test]
async fn the_first_admin_key_comes_from_the_command_line() {
    let app = spawn_app().await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_chokepoint"))
        .args([
            "keys",
            "create",
            "--scope",
            "admin",
            "--name",
            "first admin",
            "--database-url",
        ])
        .arg(database_url(&app.database))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let key = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains(&key), "the key goes to stdout only");
    let admin = client_with_key(&key);
    let keys: serde_json::Value = admin
        .get(app.url("/v1/keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(keys
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["name"] == "first admin"));
}
