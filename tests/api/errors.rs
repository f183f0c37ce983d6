use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn an_unknown_route_is_a_404_problem() {
    let app = spawn_app().await;
    let body = assert_problem(app.get("/v1/no-such-thing").await, 404, "route_not_found").await;
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("/v1/no-such-thing"));
}

#[tokio::test]
async fn a_wrong_method_is_a_405_problem_with_allow() {
    let app = spawn_app().await;
    let response = app.client.delete(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.headers()["allow"], "GET, HEAD, OPTIONS");
    assert_problem(response, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn every_problem_type_resolves_to_its_catalogue_entry() {
    let app = spawn_app().await;
    let catalogue: Vec<serde_json::Value> = app.get("/problems").await.json().await.unwrap();
    assert!(catalogue.len() >= 10);
    for entry in &catalogue {
        let code = entry["code"].as_str().unwrap();
        let response = app.get(&format!("/problems/{code}")).await;
        assert_eq!(response.status(), 200);
        let fetched: serde_json::Value = response.json().await.unwrap();
        assert_eq!(&fetched, entry);
    }
    assert_problem(app.get("/problems/no_such_code").await, 404, "not_found").await;
}

#[tokio::test]
async fn swagger_ui_is_served_and_docs_redirects() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client.get(app.url("/docs")).send().await.unwrap();
    assert!(response.status().is_redirection());
    assert_eq!(response.headers()["location"], "/docs/");
    let response = app.get("/docs/").await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("swagger"));
}
