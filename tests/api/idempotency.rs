use serde_json::json;

use crate::helpers::{assert_problem, production_fact, spawn_app};

#[tokio::test]
async fn the_same_key_and_body_replay_the_first_response() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let send = |body: serde_json::Value| {
        app.client
            .post(app.url("/v1/facts"))
            .header("Idempotency-Key", "batch-1")
            .json(&body)
            .send()
    };
    let first = send(json!([production_fact()])).await.unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body: serde_json::Value = first.json().await.unwrap();

    let second = send(json!([production_fact()])).await.unwrap();
    assert_eq!(second.status(), 201);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    assert_eq!(
        second.json::<serde_json::Value>().await.unwrap(),
        first_body
    );
    assert_eq!(app.count("facts").await, 1, "written once");

    let mut other = production_fact();
    other["value"] = json!(1);
    let problem = assert_problem(
        send(json!([other])).await.unwrap(),
        422,
        "idempotency_key_reused",
    )
    .await;
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("different request"));
    assert_eq!(app.count("facts").await, 1);
}

#[tokio::test]
async fn concurrent_requests_with_one_key_write_once() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let body = json!([production_fact(), production_fact()]);
    let requests = (0..6).map(|_| {
        app.client
            .post(app.url("/v1/facts"))
            .header("Idempotency-Key", "race")
            .json(&body)
            .send()
    });
    let responses = futures_util::future::join_all(requests).await;
    let mut bodies = Vec::new();
    for response in responses {
        let response = response.unwrap();
        assert_eq!(response.status(), 201);
        bodies.push(response.json::<serde_json::Value>().await.unwrap());
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "every caller sees the same ids"
    );
    assert_eq!(app.count("facts").await, 2);
}

#[tokio::test]
async fn a_rejected_request_does_not_burn_its_key() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let mut bad = production_fact();
    bad["unit"] = json!("%");
    let response = app
        .client
        .post(app.url("/v1/facts"))
        .header("Idempotency-Key", "k")
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    assert_eq!(app.count("idempotency_keys").await, 0);
    let response = app
        .client
        .post(app.url("/v1/facts"))
        .header("Idempotency-Key", "k")
        .json(&production_fact())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}
