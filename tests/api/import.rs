use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;

use chokepoint::config::{ChangeNotifications, ServeSettings};

use crate::helpers::{
    assert_problem, database_url, fresh_database, production_fact, spawn_app, spawn_with,
    table_counts,
};

fn ndjson(facts: &[serde_json::Value]) -> String {
    facts.iter().map(|f| format!("{f}\n")).collect()
}

const CSV_HEADER: &str = "product,country,metric,value,unit,period,status,source_id,quote";

#[tokio::test]
async fn ndjson_and_csv_imports_write_every_valid_row() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let mut us = production_fact();
    us["country"] = json!("US");
    let body = ndjson(&[production_fact(), us]);
    let response = app
        .post_raw("/v1/facts/import", "application/x-ndjson", body)
        .await;
    assert_eq!(response.status(), 201);
    let summary: serde_json::Value = response.json().await.unwrap();
    assert_eq!(summary["rows_read"], 2);
    assert_eq!(summary["rows_written"], 2);
    assert_eq!(summary["rows_rejected"], 0);

    let csv = format!(
        "{CSV_HEADER}\nndpr-oxide,CN,market_share,92,%,2023,estimate,usgs-mcs-2025,\"China 92%, \"\"refining\"\"\nline two\"\n\
         rare-earth-concentrate,AU,production,13,kt,2024,estimate,usgs-mcs-2025,\n"
    );
    let response = app.post_raw("/v1/facts/import", "text/csv", csv).await;
    assert_eq!(response.status(), 201);
    let summary: serde_json::Value = response.json().await.unwrap();
    assert_eq!(summary["rows_written"], 2, "{summary}");
    let oxide: serde_json::Value = app
        .get("/v1/facts?product=ndpr-oxide")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(oxide["items"][0]["value"], 0.92);
    assert_eq!(
        oxide["items"][0]["quote"], "China 92%, \"refining\"\nline two",
        "quoted cells keep commas, quotes and newlines"
    );
    assert_eq!(app.count("facts").await, 4);
}

#[tokio::test]
async fn a_bad_row_aborts_the_whole_import_by_default() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let before = table_counts(&app).await;
    let body = format!(
        "{}this is not json\n{}",
        ndjson(&[production_fact()]),
        ndjson(&[production_fact()])
    );
    let problem = assert_problem(
        app.post_raw("/v1/facts/import", "application/x-ndjson", body)
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/line/2");
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("nothing was written"));

    let mut bad = production_fact();
    bad["period"] = json!("soon");
    let body = ndjson(&[production_fact(), production_fact(), bad]);
    let problem = assert_problem(
        app.post_raw("/v1/facts/import", "application/x-ndjson", body)
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/line/3/period");
    assert_eq!(table_counts(&app).await, before);
}

#[tokio::test]
async fn skip_mode_writes_the_valid_rows_and_reports_the_rest_by_line() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let csv = format!(
        "{CSV_HEADER}\nrare-earth-concentrate,CN,production,270,kt,2024,estimate,usgs-mcs-2025,\n\
         rare-earth-concentrate,CN,production,NaN,kt,2024,estimate,usgs-mcs-2025,\n\
         rare-earth-concentrate,CN,production,5,kt,2024,estimate,usgs-mcs-2025,\n"
    );
    let response = app
        .post_raw("/v1/facts/import?on_error=skip", "text/csv", csv)
        .await;
    assert_eq!(response.status(), 201);
    let summary: serde_json::Value = response.json().await.unwrap();
    assert_eq!(summary["rows_read"], 3);
    assert_eq!(summary["rows_written"], 2);
    assert_eq!(summary["rejected"][0]["line"], 3);
    assert_eq!(summary["rejected"][0]["errors"][0]["field"], "value");
    assert_eq!(app.count("facts").await, 2);
    assert_problem(
        app.post_raw("/v1/facts/import?on_error=maybe", "text/csv", "x")
            .await,
        422,
        "invalid_parameter",
    )
    .await;
}

#[tokio::test]
async fn broken_csv_is_rejected_naming_the_line() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let before = table_counts(&app).await;
    let problem = assert_problem(
        app.post_raw(
            "/v1/facts/import",
            "text/csv",
            "product,country,colour\nx,CN,red\n",
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/line/1");
    assert!(problem["detail"].as_str().unwrap().contains("colour"));

    let problem = assert_problem(
        app.post_raw("/v1/facts/import", "text/csv", "product,country\nx,CN\n")
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("missing column"),
        "{problem}"
    );

    let mut body = format!("{CSV_HEADER}\nrare-earth-concentrate,CN,production,270,kt,2024,estimate,usgs-mcs-2025,ok\n").into_bytes();
    body.extend_from_slice(
        b"rare-earth-concentrate,CN,production,270,kt,2024,estimate,usgs-mcs-2025,caf\xe9\n",
    );
    let problem = assert_problem(
        app.post_raw("/v1/facts/import", "text/csv", body).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/line/3/quote");
    assert!(problem["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("not valid UTF-8"));

    assert_problem(
        app.post_raw("/v1/facts/import", "application/json", "[]")
            .await,
        415,
        "unsupported_media_type",
    )
    .await;
    assert_problem(
        app.post_raw("/v1/facts/import", "application/x-ndjson", "\n\n")
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(table_counts(&app).await, before);
}

#[tokio::test]
async fn a_streamed_import_survives_any_chunking() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let body = ndjson(&vec![production_fact(); 300]).into_bytes();
    // Deliver the body in awkward 7-byte chunks, splitting lines anywhere.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(7).map(|c| Ok(c.to_vec())).collect();
    let stream = futures_util::stream::iter(chunks);
    let response = app
        .client
        .post(app.url("/v1/facts/import"))
        .header("content-type", "application/x-ndjson")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap()["rows_written"],
        300
    );
}

#[tokio::test]
async fn an_import_with_a_key_replays_instead_of_writing_twice() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let body = ndjson(&[production_fact(), production_fact()]);
    let send = |body: String| {
        app.client
            .post(app.url("/v1/facts/import"))
            .header("content-type", "application/x-ndjson")
            .header("Idempotency-Key", "nightly-2026-11-28")
            .body(body)
            .send()
    };
    assert_eq!(send(body.clone()).await.unwrap().status(), 201);
    let replay = send(body).await.unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(app.count("facts").await, 2);
    let different = ndjson(&[production_fact()]);
    assert_problem(
        send(different).await.unwrap(),
        422,
        "idempotency_key_reused",
    )
    .await;
}

/// A connection listening on the change channel, and the payloads it
/// receives, in order.
async fn listen_for_changes(
    database: &str,
) -> (
    tokio_postgres::Client,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    let (listener, mut connection) =
        tokio_postgres::connect(&database_url(database), tokio_postgres::NoTls)
            .await
            .unwrap();
    let (sender, notifications) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notification(n) = message {
                let _ = sender.send(n.payload().to_owned());
            }
        }
    });
    listener
        .batch_execute(&format!("LISTEN {}", chokepoint::store::CHANGES_CHANNEL))
        .await
        .unwrap();
    (listener, notifications)
}

#[tokio::test]
async fn committed_writes_are_announced_on_the_changes_channel() {
    let database = fresh_database().await;
    let mut settings = ServeSettings::for_database(database_url(&database));
    let app = spawn_with(settings.clone(), &database).await;
    // The chain is written through a replica that announces nothing, so
    // every notification seen comes from `app`.
    settings.change_notifications = ChangeNotifications::Off;
    spawn_with(settings, &database).await.seed_chain().await;
    let (listener, mut notifications) = listen_for_changes(&database).await;
    let channel = chokepoint::store::CHANGES_CHANNEL;

    let mut bad = production_fact();
    bad["unit"] = json!("%");
    assert_problem(
        app.post_json("/v1/facts", &bad).await,
        422,
        "validation_failed",
    )
    .await;
    // A marker sent now arrives first only if the refused write announced nothing.
    listener
        .execute("SELECT pg_notify($1, 'marker')", &[&channel])
        .await
        .unwrap();
    assert_eq!(
        next(&mut notifications).await,
        "marker",
        "a refused write is not announced"
    );
    let body = ndjson(&[production_fact()]);
    assert_eq!(
        app.post_raw("/v1/facts/import", "application/x-ndjson", body)
            .await
            .status(),
        201
    );
    assert_eq!(
        next(&mut notifications).await,
        "",
        "the committed write is announced"
    );
}

async fn next(notifications: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(5), notifications.recv())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn with_change_notifications_off_writes_announce_nothing_and_every_replica_finds_them() {
    let database = fresh_database().await;
    let mut settings = ServeSettings::for_database(database_url(&database));
    settings.change_notifications = ChangeNotifications::Off;
    let writer = spawn_with(settings.clone(), &database).await;
    let reader = spawn_with(settings, &database).await;
    writer.seed_chain().await;
    let (listener, mut notifications) = listen_for_changes(&database).await;
    let channel = chokepoint::store::CHANGES_CHANNEL;

    let response = writer
        .post_raw(
            "/v1/facts/import",
            "application/x-ndjson",
            ndjson(&[production_fact()]),
        )
        .await;
    assert_eq!(response.status(), 201);
    // Both replicas find the write by its data version alone.
    let served = writer.wait_until_current().await;
    assert_eq!(reader.wait_until_current().await, served);
    let score = reader
        .get_current("/v1/scores/rare-earth-concentrate?buyer=US")
        .await;
    assert!(
        score["facts_used"]
            .as_array()
            .is_some_and(|facts| !facts.is_empty()),
        "{score}"
    );
    // A marker sent now arrives first only if the write queued nothing.
    listener
        .execute("SELECT pg_notify($1, 'marker')", &[&channel])
        .await
        .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), notifications.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first, "marker", "the write was announced");
}

/// Fact ids are drawn before commit: a transaction holding a smaller id can
/// commit after one holding a larger, which a replica has already loaded.
/// The next refresh still finds the late fact, and a retraction too.
#[tokio::test]
async fn a_refresh_finds_facts_committed_out_of_id_order_and_retractions() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let (mut early, connection) =
        tokio_postgres::connect(&database_url(&app.database), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    let late = early.transaction().await.unwrap();
    let late_id: i64 = late
        .query_one(
            "INSERT INTO facts (product_id, country, metric, value, unit, period_start, period_end,
                                status, source_id, confidence, published_on)
             VALUES ('rare-earth-concentrate', 'AU', 'production', 18, 'kt/yr', '2024-01-01',
                     '2024-12-31', 'estimate', 'usgs-mcs-2025', 0.9, '2025-01-31')
             RETURNING id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let written = app.post_ok("/v1/facts", &production_fact()).await;
    let later_id = written["id"].as_i64().unwrap();
    assert!(later_id > late_id);
    app.wait_until_current().await;
    late.execute(
        "SELECT pg_notify($1, '{\"products\": [\"rare-earth-concentrate\"]}')",
        &[&chokepoint::store::CHANGES_CHANNEL],
    )
    .await
    .unwrap();
    late.commit().await.unwrap();

    let used = |score: &serde_json::Value| -> Vec<i64> {
        score["facts_used"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_i64().unwrap())
            .collect()
    };
    let path = "/v1/scores/rare-earth-concentrate?buyer=US";
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let score = app.get_current(path).await;
        if used(&score).contains(&late_id) {
            assert!(used(&score).contains(&later_id), "{score}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "fact {late_id} never served: {score}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    app.delete_ok(&format!("/v1/facts/{later_id}?reason=superseded"))
        .await;
    let score = app.get_current(path).await;
    assert_eq!(used(&score), vec![late_id]);
}
