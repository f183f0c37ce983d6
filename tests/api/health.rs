use chokepoint::config::ServeSettings;
use chokepoint::startup::Application;

use crate::helpers::{assert_problem, spawn_app, spawn_app_on};

#[tokio::test]
async fn liveness_and_readiness_answer_ok() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap()["status"],
        "ok"
    );
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 200);
    let ready: serde_json::Value = response.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(
        ready["data_version"], ready["committed_data_version"],
        "nothing written since the load: {ready}"
    );
}

#[tokio::test]
async fn readiness_tells_whether_the_replica_serves_the_latest_commit() {
    let app = spawn_app().await;
    let loaded = app.wait_until_current().await;
    app.seed_chain().await;
    let ready: serde_json::Value = app.get("/readyz").await.json().await.unwrap();
    assert_ne!(
        ready["committed_data_version"], loaded,
        "a commit is visible at once"
    );
    let committed = app.wait_until_current().await;
    assert_eq!(ready["committed_data_version"], committed);
    let scores: serde_json::Value = app.get("/v1/scores?limit=1000").await.json().await.unwrap();
    assert_eq!(
        scores["items"].as_array().unwrap().len(),
        4,
        "the version served is the data served: {scores}"
    );

    // A second replica loads the same data under the same version.
    let b = spawn_app_on(&app.database).await;
    assert_eq!(b.wait_until_current().await, committed);
}

#[tokio::test]
async fn readiness_is_503_with_retry_after_when_the_database_is_down() {
    // Nothing listens on port 1: the pool cannot connect.
    let url = "postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=1".to_owned();
    let settings = ServeSettings::for_database(url.clone());
    let app = Application::build(&settings, &url).await.unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());

    let response = reqwest::get(format!("{address}/healthz")).await.unwrap();
    assert_eq!(
        response.status(),
        200,
        "liveness does not depend on the database"
    );
    let response = reqwest::get(format!("{address}/readyz")).await.unwrap();
    assert_eq!(response.headers()["retry-after"], "5");
    let body = assert_problem(response, 503, "database_unavailable").await;
    let detail = body["detail"].as_str().unwrap();
    assert!(
        !detail.contains("127.0.0.1") && !detail.contains("refused"),
        "internals leak: {detail}"
    );
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("X-Request-Id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-42");

    let response = app.get("/healthz").await;
    let generated = response.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");

    let oversized = "x".repeat(200);
    let response = app
        .client
        .get(app.url("/nope"))
        .header("X-Request-Id", &oversized)
        .send()
        .await
        .unwrap();
    let echoed = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(echoed, oversized, "an oversized id is replaced");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["request_id"],
        echoed.as_str(),
        "problems carry the request id"
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_report_the_pool() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.get("/readyz").await;
    }
    app.get("/no-such-route").await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text().await.unwrap();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/readyz",status="200"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"http_request_duration_seconds_bucket{method="GET",route="/readyz",status="200",le="+Inf"} 3"#), "{text}");
    assert!(text.contains("db_pool_max_connections 8"), "{text}");
    assert!(
        text.contains(r#"db_pool_connections{state="idle"}"#),
        "{text}"
    );
}
