use serde_json::json;

use crate::helpers::{assert_problem, spawn_app, table_counts};

fn baotou() -> serde_json::Value {
    json!({
        "id": "baotou-daily-2026-work-report",
        "title": "Baotou 2026 government work report (summary)",
        "publisher": "Baotou Daily Digital Newspaper",
        "kind": "state_affiliated_media",
        "published_on": "2026-01-22"
    })
}

#[tokio::test]
async fn a_source_gets_its_reliability_from_its_kind_unless_overridden() {
    let app = spawn_app().await;
    let response = app.post_json("/v1/sources", &baotou()).await;
    assert_eq!(response.status(), 201);
    let source: serde_json::Value = response.json().await.unwrap();
    assert_eq!(source["reliability"], 0.3);
    assert_eq!(source["reliability_overridden"], false);
    assert_eq!(source["published_on"], "2026-01-22");

    let overridden = json!({"id": "usgs-mcs-2025", "title": "MCS 2025", "publisher": "USGS",
        "kind": "government_statistics", "reliability": 0.95});
    let source = app.post_ok("/v1/sources", &overridden).await;
    assert_eq!(source["reliability"], 0.95);
    assert_eq!(source["reliability_overridden"], true);

    let fetched: serde_json::Value = app
        .get("/v1/sources/baotou-daily-2026-work-report")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["kind"], "state_affiliated_media");
    assert_problem(app.get("/v1/sources/nope-nope").await, 404, "not_found").await;
}

#[tokio::test]
async fn a_duplicate_source_is_a_conflict() {
    let app = spawn_app().await;
    assert_eq!(app.post_json("/v1/sources", &baotou()).await.status(), 201);
    let before = table_counts(&app).await;
    assert_problem(
        app.post_json("/v1/sources", &baotou()).await,
        409,
        "conflict",
    )
    .await;
    assert_eq!(table_counts(&app).await, before);
}

#[tokio::test]
async fn bad_sources_are_rejected_with_pointers_and_nothing_is_written() {
    let app = spawn_app().await;
    let before = table_counts(&app).await;
    let cases = [
        (json!({"kind": "blog"}), "/kind"),
        (json!({"id": "Not A Slug"}), "/id"),
        (json!({"published_on": "22/01/2026"}), "/published_on"),
        (json!({"reliability": 1.5}), "/reliability"),
        (json!({"url": "ftp://example.org"}), "/url"),
        (json!({"title": ""}), "/title"),
    ];
    for (change, pointer) in cases {
        let mut body = baotou();
        body.as_object_mut()
            .unwrap()
            .extend(change.as_object().unwrap().clone());
        let problem = assert_problem(
            app.post_json("/v1/sources", &body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["pointer"], pointer, "{problem}");
    }
    let mut unknown = baotou();
    unknown["publisherr"] = json!("typo");
    let problem = assert_problem(
        app.post_json("/v1/sources", &unknown).await,
        422,
        "invalid_body",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/publisherr", "{problem}");
    assert!(problem["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("publisherr"));
    assert_eq!(table_counts(&app).await, before);
}

#[tokio::test]
async fn malformed_oversized_and_mistyped_bodies_are_problems() {
    let app = spawn_app().await;
    let before = table_counts(&app).await;
    let response = app
        .post_raw("/v1/sources", "application/json", "{\"id\": ")
        .await;
    assert_problem(response, 400, "malformed_json").await;
    let response = app.post_raw("/v1/sources", "text/plain", "hello").await;
    assert_problem(response, 415, "unsupported_media_type").await;
    let huge = format!("{{\"id\": \"x\", \"notes\": \"{}\"}}", "a".repeat(2 << 20));
    let response = app.post_raw("/v1/sources", "application/json", huge).await;
    assert_problem(response, 413, "payload_too_large").await;
    let response = app
        .post_raw("/v1/sources", "application/json", "{\"id\": 42}")
        .await;
    let problem = assert_problem(response, 422, "invalid_body").await;
    assert_eq!(problem["errors"][0]["pointer"], "/id");
    assert_eq!(table_counts(&app).await, before);
}

#[tokio::test]
async fn sources_are_listed_a_page_at_a_time() {
    let app = spawn_app().await;
    for i in 0..5 {
        let body =
            json!({"id": format!("source-{i}"), "title": "t", "publisher": "p", "kind": "news"});
        assert_eq!(app.post_json("/v1/sources", &body).await.status(), 201);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/sources?limit=2&cursor={c}"),
            None => "/v1/sources?limit=2".to_owned(),
        };
        let page: serde_json::Value = app.get(&path).await.json().await.unwrap();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        (0..5).map(|i| format!("source-{i}")).collect::<Vec<_>>()
    );
    assert_problem(
        app.get("/v1/sources?limit=0").await,
        422,
        "invalid_parameter",
    )
    .await;
    assert_problem(
        app.get("/v1/sources?cursor=zz").await,
        422,
        "invalid_parameter",
    )
    .await;
    let problem = assert_problem(
        app.get("/v1/sources?kind=blog").await,
        422,
        "invalid_parameter",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/query/kind");
}
