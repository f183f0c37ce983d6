//! Regression tests for defects found by testing the service from the
//! outside: data lost or corrupted on the write paths, crashes and 500s.

use futures_util::stream;
use serde_json::json;

use crate::helpers::{assert_problem, pointers, production_fact, spawn_app, table_counts, TestApp};

const WIDE_HEADER: &str =
    "product,country,metric,value,unit,period,status,source_id,confidence,quote,note";

/// `rows` valid CSV facts with quoted text, eleven columns each.
fn wide_csv(rows: usize, line_end: &str) -> String {
    let mut csv = format!("{WIDE_HEADER}{line_end}");
    for i in 0..rows {
        csv.push_str(&format!(
            "rare-earth-concentrate,CN,production,{}.5,kt,2024,estimate,usgs-mcs-2025,0.{},\"row {i}, \"\"quoted\"\"\nsecond line\",\"note {i}\"{line_end}",
            200 + i % 97,
            1 + i % 9
        ));
    }
    csv
}

/// Sends `body` in chunks of the given sizes (cycled), so records straddle
/// chunk boundaries the way a slow client's body does.
async fn post_in_chunks(
    app: &TestApp,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
    sizes: &'static [usize],
) -> reqwest::Response {
    let mut chunks = Vec::new();
    let mut rest = body.as_slice();
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at((*size).min(rest.len()));
        chunks.push(Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(
            chunk,
        )));
        rest = tail;
    }
    app.post_raw(
        path,
        content_type,
        reqwest::Body::wrap_stream(stream::iter(chunks)),
    )
    .await
}

#[tokio::test]
async fn a_large_csv_import_keeps_every_row_whatever_the_chunking() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let body = wide_csv(50_000, "\n").into_bytes();
    let response = post_in_chunks(
        &app,
        "/v1/facts/import",
        "text/csv",
        body.clone(),
        &[8191, 1, 4093, 65536],
    )
    .await;
    let summary: serde_json::Value = response.json().await.unwrap();
    assert_eq!(summary["rows_written"], 50_000, "{summary}");
    assert_eq!(summary["rows_rejected"], 0);

    let response = post_in_chunks(
        &app,
        "/v1/facts/import?on_error=skip",
        "text/csv",
        body,
        &[777, 3],
    )
    .await;
    let summary: serde_json::Value = response.json().await.unwrap();
    assert_eq!(summary["rows_written"], 50_000, "{summary}");
    assert_eq!(app.count("facts").await, 100_000);
    let stored = app
        .db
        .query_one(
            "SELECT count(*) FROM facts WHERE quote LIKE 'row %, \"quoted\"' || chr(10) || 'second line' AND note LIKE 'note %'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(stored.get::<_, i64>(0), 100_000, "every quoted cell intact");
}

#[tokio::test]
async fn crlf_and_lf_files_report_the_same_lines() {
    let app = spawn_app().await;
    app.seed_chain().await;
    for line_end in ["\n", "\r\n"] {
        let mut csv = wide_csv(3, line_end);
        csv.push_str(&format!(
            "rare-earth-concentrate,CN,production,lots,kt,2024,estimate,usgs-mcs-2025,,,{line_end}"
        ));
        let csv = csv.replacen(
            "rare-earth-concentrate,CN,production,200.5",
            "rare-earth-concentrate,CN,production,-1",
            1,
        );
        let problem = assert_problem(
            app.post_raw("/v1/facts/import", "text/csv", csv).await,
            422,
            "validation_failed",
        )
        .await;
        let pointers = pointers(&problem);
        // The header is line 1; each row's quote spans two lines.
        assert_eq!(
            pointers,
            ["/line/2/value", "/line/8/value"],
            "{line_end:?}: {problem}"
        );
    }
    assert_eq!(app.count("facts").await, 0);
}

#[tokio::test]
async fn records_and_lines_over_a_mebibyte_are_refused_not_crashed_on() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let before = table_counts(&app).await;
    let mut csv = wide_csv(2, "\n").into_bytes();
    csv.extend(b"rare-earth-concentrate,CN,production,1,kt,2024,estimate,usgs-mcs-2025,,\"");
    csv.extend(std::iter::repeat_n(b'x', (1 << 20) + 100));
    csv.extend(b"\",\n");
    let problem = assert_problem(
        post_in_chunks(&app, "/v1/facts/import", "text/csv", csv, &[65536]).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/line/6", "{problem}");

    let mut ndjson = format!("{}\n", production_fact()).into_bytes();
    let mut long = production_fact();
    long["quote"] = json!("y".repeat((1 << 20) + 100));
    ndjson.extend(format!("{long}\n").into_bytes());
    let problem = assert_problem(
        post_in_chunks(
            &app,
            "/v1/facts/import",
            "application/x-ndjson",
            ndjson,
            &[65536],
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/line/2", "{problem}");
    assert_eq!(table_counts(&app).await, before);
    assert_eq!(
        app.get("/healthz").await.status(),
        200,
        "the worker lives on"
    );
}

#[tokio::test]
async fn an_unknown_source_is_refused_even_with_an_explicit_confidence() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let before = table_counts(&app).await;
    let mut fact = production_fact();
    fact["source_id"] = json!("no-such-source");
    fact["confidence"] = json!(0.8);
    let problem = assert_problem(
        app.post_json("/v1/facts", &fact).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/source_id");
    let problem = assert_problem(
        app.post_json("/v1/facts", &json!([production_fact(), fact]))
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/1/source_id");
    let problem = assert_problem(
        app.post_raw(
            "/v1/facts/import",
            "application/x-ndjson",
            format!("{fact}\n"),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/line/1/source_id");
    let csv = "product,country,metric,value,unit,period,status,source_id,confidence\n\
               rare-earth-concentrate,CN,production,270,kt,2024,estimate,no-such-source,0.8\n";
    let problem = assert_problem(
        app.post_raw("/v1/facts/import", "text/csv", csv).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/line/2/source_id");
    assert_eq!(table_counts(&app).await, before);
}

/// Every text field of every write, and query and path values, with U+0000.
#[tokio::test]
async fn nul_characters_are_refused_with_a_pointer_and_nothing_is_written() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let nul = "bad\u{0}text";
    let before = table_counts(&app).await;
    let audit_before = app.count("audit_log").await;
    let mut bodies: Vec<(&str, serde_json::Value, &str)> = vec![
        (
            "/v1/sources",
            json!({"id": "s-nul", "title": nul, "publisher": "p", "kind": "government_statistics"}),
            "/title",
        ),
        (
            "/v1/products",
            json!({"id": "p-nul", "name": nul, "stage": "mining"}),
            "/name",
        ),
        (
            "/v1/products",
            json!({"id": "p-nul", "name": "ok", "stage": "mining", "description": nul}),
            "/description",
        ),
        (
            "/v1/keys",
            json!({"name": nul, "scopes": ["read"]}),
            "/name",
        ),
        (
            "/v1/scenarios",
            json!({"name": nul, "changes": []}),
            "/name",
        ),
    ];
    for field in ["quote", "note", "facility"] {
        let mut fact = production_fact();
        fact[field] = json!(nul);
        bodies.push(("/v1/facts", fact, ""));
    }
    for (path, body, pointer) in bodies {
        let problem =
            assert_problem(app.post_json(path, &body).await, 422, "validation_failed").await;
        let expected = if pointer.is_empty() {
            body.as_object()
                .unwrap()
                .iter()
                .find(|(_, v)| *v == nul)
                .map(|(k, _)| format!("/{k}"))
                .unwrap()
        } else {
            pointer.to_owned()
        };
        assert_eq!(
            problem["errors"][0]["pointer"],
            expected.as_str(),
            "{path}: {problem}"
        );
        assert!(problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("U+0000"));
    }
    let mut fact = production_fact();
    fact["note"] = json!(nul);
    let problem = assert_problem(
        app.post_raw(
            "/v1/facts/import",
            "application/x-ndjson",
            format!("{fact}\n"),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/line/1/note");
    let csv = "product,country,metric,value,unit,period,status,source_id,note\n\
               rare-earth-concentrate,CN,production,270,kt,2024,estimate,usgs-mcs-2025,a\0b\n";
    let problem = assert_problem(
        app.post_raw("/v1/facts/import", "text/csv", csv).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/line/2/note");

    let retract = app
        .client
        .delete(app.url("/v1/facts/1?reason=a%00b"))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(retract, 422, "invalid_parameter").await;
    assert_eq!(problem["errors"][0]["pointer"], "/query/reason");
    let problem = assert_problem(
        app.get("/v1/facts?source=a%00b").await,
        422,
        "invalid_parameter",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/query/source");
    for path in [
        "/v1/sources/a%00b",
        "/v1/products/a%00b",
        "/v1/scores/a%00b?buyer=US",
    ] {
        let problem = assert_problem(app.get(path).await, 422, "invalid_parameter").await;
        assert_eq!(problem["errors"][0]["pointer"], "/path", "{path}");
    }
    assert_eq!(table_counts(&app).await, before);
    assert_eq!(app.count("audit_log").await, audit_before);
}

#[tokio::test]
async fn a_cursor_with_multibyte_characters_is_a_422_on_every_listing() {
    let app = spawn_app().await;
    for listing in [
        "/v1/facts",
        "/v1/sources",
        "/v1/products",
        "/v1/scores",
        "/v1/scenarios",
        "/v1/audit",
    ] {
        for cursor in ["a%C3%A9a", "%E2%82%AC%E2%82%AC", "%2B1"] {
            let response = app.get(&format!("{listing}?cursor={cursor}")).await;
            let problem = assert_problem(response, 422, "invalid_parameter").await;
            assert_eq!(
                problem["errors"][0]["pointer"], "/query/cursor",
                "{listing}"
            );
        }
    }
    // Anonymous callers reach the same code.
    let anonymous = reqwest::get(app.url("/v1/facts?cursor=a%C3%A9a"))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 422);
}

/// Facts without a product (a country's governance) arriving in the same
/// batch as product facts reach the live scores with them.
#[tokio::test]
async fn country_facts_in_a_mixed_batch_reach_the_live_scores() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let mut australia = production_fact();
    australia["country"] = json!("AU");
    australia["value"] = json!(30);
    let governance = json!({"country": "CN", "metric": "governance_wgi", "value": -0.55,
        "unit": "index", "period": "2023", "status": "actual", "source_id": "usgs-mcs-2025"});
    let response = app
        .post_json(
            "/v1/facts",
            &json!([production_fact(), australia, governance]),
        )
        .await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let crm = app
        .get_current("/v1/scores/rare-earth-concentrate/eu-crm?buyer=EU")
        .await;
    let china = crm["stages"][0]["global_countries"]
        .as_array()
        .and_then(|countries| countries.iter().find(|c| c["country"] == "CN"))
        .unwrap_or_else(|| panic!("China in {crm}"));
    assert_eq!(china["wgi_origin"], "facts", "{china}");
    // WGI -0.55 on the EU's 0..10 scale (10 worst): (2.5 - (-0.55)) / 0.5.
    let expected = (2.5 + 0.55) / 0.5;
    assert!(
        (china["wgi_scaled"].as_f64().unwrap() - expected).abs() < 1e-6,
        "{china}"
    );
}

#[tokio::test]
async fn a_key_secret_exists_only_in_the_response_that_creates_it() {
    let app = spawn_app().await;
    let create = || {
        app.client
            .post(app.url("/v1/keys"))
            .header("Idempotency-Key", "create-nightly-key")
            .json(&json!({"name": "nightly import", "scopes": ["ingest"]}))
            .send()
    };
    let first = create().await.unwrap();
    assert_eq!(first.status(), 201);
    let first: serde_json::Value = first.json().await.unwrap();
    let secret = first["key"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("ck_"));

    let replay = create().await.unwrap();
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let replay: serde_json::Value = replay.json().await.unwrap();
    assert!(
        replay.get("key").is_none(),
        "a replay never hands the secret out: {replay}"
    );
    assert_eq!(replay["id"], first["id"]);
    assert_eq!(replay["scopes"], json!(["ingest"]));

    // No row of any table holds the secret, in text or as bytes.
    let tables = app
        .db
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .await
        .unwrap();
    assert!(tables.len() >= 5);
    let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
    for table in tables {
        let table: String = table.get(0);
        let found: i64 = app
            .db
            .query_one(
                &format!(
                    "SELECT count(*) FROM {table} AS t WHERE strpos(t::text, $1) > 0 OR strpos(t::text, $2) > 0"
                ),
                &[&secret, &hex],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(found, 0, "table {table} holds the secret");
    }
    let works = crate::helpers::client_with_key(&secret)
        .get(app.url("/v1/facts"))
        .send()
        .await
        .unwrap();
    assert_eq!(works.status(), 200, "the secret itself works");
}

#[tokio::test]
async fn scopes_are_deduplicated_and_bounded() {
    let app = spawn_app().await;
    let created = app
        .post_ok(
            "/v1/keys",
            &json!({"name": "twice", "scopes": ["read", "read", "ingest"]}),
        )
        .await;
    assert_eq!(created["scopes"], json!(["read", "ingest"]), "{created}");
    let keys_before = app.count("api_keys").await;
    let many = vec!["read"; 100_000];
    let problem = assert_problem(
        app.post_json("/v1/keys", &json!({"name": "many", "scopes": many}))
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/scopes");
    assert_eq!(app.count("api_keys").await, keys_before);
}

/// Bogus tokens are limited per address; a key's bucket is only spent by
/// requests that authenticate as that key.
#[tokio::test]
async fn failed_authentications_are_limited_and_never_spend_a_real_keys_bucket() {
    let database = crate::helpers::fresh_database().await;
    let mut settings =
        chokepoint::config::ServeSettings::for_database(crate::helpers::database_url(&database));
    // Refills so slowly that a drained key bucket would show for minutes.
    settings.rate_limit = 1;
    settings.rate_burst = 200;
    let app = crate::helpers::spawn_with(settings, &database).await;
    let real =
        crate::helpers::create_key(&database, "real", &[chokepoint::domain::Scope::Read]).await;
    let prefix = real.rsplit_once('_').map(|(p, _)| p).unwrap().to_owned();

    let mut statuses = std::collections::BTreeMap::new();
    let started = std::time::Instant::now();
    for i in 0..260 {
        let token = if i % 2 == 0 {
            format!("{prefix}_{}", "0".repeat(real.len() - prefix.len() - 1))
        } else {
            format!("ck_{:08x}_{}", i, "f".repeat(64))
        };
        let status = crate::helpers::client_with_key(&token)
            .get(app.url("/v1/facts"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        *statuses.entry(status).or_insert(0) += 1;
    }
    assert_eq!(
        statuses.keys().copied().collect::<Vec<_>>(),
        [401, 429],
        "{statuses:?}"
    );
    // A burst of 20 (a tenth of the requests' burst) refilled at 1 a second.
    let allowed = 20 + started.elapsed().as_secs() as usize + 1;
    assert!(statuses[&401] <= allowed, "a stricter bucket: {statuses:?}");

    // Once the address's failure bucket refills, the real key's own bucket
    // turns out untouched: full but for this request.
    let real_client = crate::helpers::client_with_key(&real);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let response = loop {
        let response = real_client.get(app.url("/v1/facts")).send().await.unwrap();
        if response.status() == 200 {
            break response;
        }
        assert_eq!(response.status(), 429);
        assert!(std::time::Instant::now() < deadline);
        // The bucket refills with time (a token a second): waiting is the point.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(
        response.headers()["ratelimit"]
            .to_str()
            .unwrap()
            .starts_with("\"default\";r=199;"),
        "{:?}",
        response.headers()["ratelimit"]
    );
}

#[tokio::test]
async fn unknown_query_parameters_are_refused_on_writes_as_on_reads() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let before = table_counts(&app).await;
    let source = json!({"id": "extra", "title": "t", "publisher": "p", "kind": "news"});
    let problem = assert_problem(
        app.post_json("/v1/sources?foo=bar", &source).await,
        422,
        "invalid_parameter",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/query/foo");
    let problem = assert_problem(
        app.post_json("/v1/facts?foo=bar", &production_fact()).await,
        422,
        "invalid_parameter",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/query/foo");
    assert_problem(
        app.get("/v1/scores?foo=bar").await,
        422,
        "invalid_parameter",
    )
    .await;
    let response = app
        .post_json("/v1/facts/import?on_error=skip&colour=red", &json!({}))
        .await;
    assert_problem(response, 422, "invalid_parameter").await;
    assert_eq!(table_counts(&app).await, before);
    assert_eq!(
        app.post_json("/v1/sources", &source).await.status(),
        201,
        "without the stray parameter the same write goes through"
    );
}

#[tokio::test]
async fn methods_and_options_follow_the_declared_routes() {
    let app = spawn_app().await;
    for (path, allow) in [
        ("/v1/facts/import", "POST, OPTIONS"),
        ("/v1/scenarios/evaluate", "POST, OPTIONS"),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.headers()["allow"], allow, "{path}");
        assert_problem(response, 405, "method_not_allowed").await;
        let response = app
            .client
            .request(reqwest::Method::OPTIONS, app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "{path}");
        assert_eq!(response.headers()["allow"], allow, "{path}");
    }
    let response = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/v1/facts/7"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET, DELETE, HEAD, OPTIONS");
    assert_problem(app.get("/v1/facts/seven").await, 404, "route_not_found").await;
    assert_problem(app.get("/v1/facts/7").await, 404, "not_found").await;
    let problem = assert_problem(
        app.get("/v1/scores/ndpr-oxide?seed=9223372036854775808")
            .await,
        422,
        "invalid_parameter",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/query/seed");
}

/// Errors that layers below the routes answer themselves are problems too.
#[tokio::test]
async fn errors_from_lower_layers_are_problem_documents() {
    let database = crate::helpers::fresh_database().await;
    let mut settings =
        chokepoint::config::ServeSettings::for_database(crate::helpers::database_url(&database));
    settings.cors_origins = vec!["https://tools.example".to_owned()];
    let app = crate::helpers::spawn_with(settings, &database).await;
    let refused = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/v1/products"))
        .header("Origin", "https://elsewhere.example")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .unwrap();
    let problem = assert_problem(refused, 400, "bad_request").await;
    assert!(problem["request_id"].is_string(), "{problem}");
    let allowed = app
        .client
        .get(app.url("/v1/products"))
        .header("Origin", "https://tools.example")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://tools.example"
    );
    assert_problem(
        app.get("/docs/no-such-file.js").await,
        404,
        "route_not_found",
    )
    .await;
}

/// Sends raw bytes on one connection and reads until the server closes it.
async fn raw_exchange(app: &TestApp, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("the server closes the connection after a malformed head")
    .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// The status line and problem body of each response in a raw answer.
fn problems_in(answer: &str) -> Vec<(String, serde_json::Value)> {
    answer
        .split("HTTP/1.1 ")
        .skip(1)
        .map(|response| {
            let status = response.lines().next().unwrap_or_default().to_owned();
            let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
            (
                status,
                serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
            )
        })
        .collect()
}

/// Heads that actix-http would answer with an empty 400 or 431 get problem
/// documents like every other error, after any earlier pipelined answer.
#[tokio::test]
async fn malformed_request_heads_are_answered_with_problems() {
    let app = spawn_app().await;
    let long_uri = format!(
        "GET /v1/facts?{} HTTP/1.1\r\nhost: x\r\n\r\n",
        (0..10_000)
            .map(|i| format!("p{i}={i}"))
            .collect::<Vec<_>>()
            .join("&")
    );
    let many_headers = (0..120).fold(
        "GET /v1/facts HTTP/1.1\r\nhost: x\r\n".to_owned(),
        |head, i| head + &format!("x-h{i}: v\r\n"),
    ) + "\r\n";
    let cases: Vec<(Vec<u8>, &str, &str)> = vec![
        (long_uri.into_bytes(), "414", "uri_too_long"),
        (b"POST /v1/facts HTTP/1.1\r\nhost: x\r\nidempotency-key: a\x01b\r\ncontent-length: 2\r\n\r\n{}".to_vec(), "400", "bad_request"),
        (many_headers.into_bytes(), "431", "headers_too_large"),
        (b"POST /v1/facts HTTP/1.1\r\nhost: x\r\ncontent-length: 2x\r\n\r\n{}".to_vec(), "400", "bad_request"),
    ];
    for (request, status, code) in cases {
        let answer = raw_exchange(&app, &request).await;
        let responses = problems_in(&answer);
        assert_eq!(responses.len(), 1, "{answer}");
        let (line, problem) = &responses[0];
        assert!(line.starts_with(status), "{code}: {answer}");
        assert!(
            answer
                .to_ascii_lowercase()
                .contains("content-type: application/problem+json"),
            "{answer}"
        );
        assert_eq!(problem["code"], code, "{answer}");
        assert!(problem["request_id"].is_string());
    }

    // A good request first on the same connection is answered first.
    let mut pipelined = b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n".to_vec();
    pipelined.extend(b"GET /v1/facts HTTP/1.1\r\nhost: x\r\nx-bad: \x7f\r\n\r\n");
    let responses = problems_in(&raw_exchange(&app, &pipelined).await);
    assert_eq!(responses.len(), 2);
    assert!(responses[0].0.starts_with("200"));
    assert!(responses[1].0.starts_with("400"));
    assert_eq!(responses[1].1["code"], "bad_request");
    assert_eq!(
        app.count("facts").await,
        0,
        "nothing of the refused request was written"
    );
}

/// One rule for codes everywhere: exact upper case, no whitespace.
#[tokio::test]
async fn country_and_buyer_codes_are_exact_in_bodies_and_queries() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let before = table_counts(&app).await;
    for near_miss in ["cn ", "cn", " CN", "Cn"] {
        let mut fact = production_fact();
        fact["country"] = json!(near_miss);
        let problem = assert_problem(
            app.post_json("/v1/facts", &fact).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(
            problem["errors"][0]["pointer"], "/country",
            "{near_miss:?}: {problem}"
        );
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("upper-case"),
            "{problem}"
        );
    }
    let problem = assert_problem(
        app.get("/v1/scores?buyer=us").await,
        422,
        "invalid_parameter",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/query/buyer");
    let problem = assert_problem(
        app.post_json(
            "/v1/exposure",
            &json!({"buyer": "eu", "items": [{"ref": "A", "product": "ndpr-oxide"}]}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/buyer");
    assert_eq!(table_counts(&app).await, before);
    let mut fact = production_fact();
    fact["country"] = json!("CN");
    assert_eq!(app.post_json("/v1/facts", &fact).await.status(), 201);
}

#[tokio::test]
async fn head_is_served_by_every_get_route_and_responses_are_gzipped_on_request() {
    let app = spawn_app().await;
    app.seed_chain().await;
    // The new products reach the live scores asynchronously.
    app.wait_until_current().await;
    for path in [
        "/v1/products",
        "/v1/products/ndpr-oxide",
        "/v1/scores/ndpr-oxide",
        "/healthz",
    ] {
        let get = app.get(path).await;
        let head = app.client.head(app.url(path)).send().await.unwrap();
        assert_eq!(head.status(), get.status(), "{path}");
        assert_eq!(
            head.headers()["content-type"],
            get.headers()["content-type"],
            "{path}"
        );
        assert!(head.bytes().await.unwrap().is_empty(), "{path}: no body");
    }
    let compressed = app
        .client
        .get(app.url("/v1/products"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(compressed.headers()["content-encoding"], "gzip");
    let plain = app.get("/v1/products").await;
    assert!(plain.headers().get("content-encoding").is_none());
}

/// Every 201 names what it created, on a replay too; the place resolves.
#[tokio::test]
async fn created_resources_carry_their_location() {
    let app = spawn_app().await;
    app.seed_chain().await;
    // Scenarios are checked against the live data, which catches up asynchronously.
    app.wait_until_current().await;
    let post = |path: &'static str, body: serde_json::Value, key: &'static str| {
        app.client
            .post(app.url(path))
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let cases = [
        (
            "/v1/sources",
            json!({"id": "iea-2026", "title": "t", "publisher": "p", "kind": "intergovernmental_agency"}),
            "loc-source",
            "/v1/sources/iea-2026",
        ),
        (
            "/v1/products",
            json!({"id": "gallium", "name": "Gallium", "stage": "smelting"}),
            "loc-product",
            "/v1/products/gallium",
        ),
    ];
    for (path, body, key, location) in cases {
        for attempt in ["first", "replay"] {
            let response = post(path, body.clone(), key).await.unwrap();
            assert_eq!(response.status(), 201, "{path} {attempt}");
            assert_eq!(response.headers()["location"], location, "{path} {attempt}");
        }
        assert_eq!(app.get(location).await.status(), 200);
    }
    let fact = post("/v1/facts", production_fact(), "loc-fact")
        .await
        .unwrap();
    let location = fact.headers()["location"].to_str().unwrap().to_owned();
    let written: serde_json::Value = fact.json().await.unwrap();
    assert_eq!(location, format!("/v1/facts/{}", written["id"]));
    assert_eq!(app.get(&location).await.status(), 200);
    let scenario = post(
        "/v1/scenarios",
        json!({"name": "ban", "scenario": {"buyer": "US", "changes": [{"export_control": {"product": "ndpr-oxide", "level": "ban", "status": "in_force"}}]}}),
        "loc-scenario",
    )
    .await
    .unwrap();
    assert_eq!(scenario.status(), 201);
    let location = scenario.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/v1/scenarios/"));
    assert_eq!(app.get(&location).await.status(), 200);
    let key = post(
        "/v1/keys",
        json!({"name": "k", "scopes": ["read"]}),
        "loc-key",
    )
    .await
    .unwrap();
    let location = key.headers()["location"].to_str().unwrap().to_owned();
    let created: serde_json::Value = key.json().await.unwrap();
    assert_eq!(location, format!("/v1/keys/{}", created["id"]));
}

/// A cursor belongs to the sort and filters it was issued for; the next
/// page is also linked from the response headers.
#[tokio::test]
async fn cursors_are_bound_to_their_parameters_and_pages_link_the_next() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let all = app.get_current("/v1/scores?limit=1000").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 4, "{all}");
    let first = app.get("/v1/scores?sort=-dependency&limit=2").await;
    let link = first.headers()["link"].to_str().unwrap().to_owned();
    let page: serde_json::Value = first.json().await.unwrap();
    let cursor = page["next_cursor"].as_str().unwrap();
    assert_eq!(
        link,
        format!("</v1/scores?sort=-dependency&limit=2&cursor={cursor}>; rel=\"next\"")
    );
    let next = link.trim_start_matches('<').split('>').next().unwrap();
    let second: serde_json::Value = app.get(next).await.json().await.unwrap();
    assert_eq!(second["items"].as_array().unwrap().len(), 2);
    assert_ne!(second["items"][0], page["items"][0]);
    // Another page size is fine; another sort is not.
    let wider = app
        .get(&format!(
            "/v1/scores?sort=-dependency&limit=3&cursor={cursor}"
        ))
        .await;
    assert_eq!(wider.status(), 200);
    let problem = assert_problem(
        app.get(&format!("/v1/scores?sort=product&limit=2&cursor={cursor}"))
            .await,
        422,
        "invalid_parameter",
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], "/query/cursor");
    let facts: serde_json::Value = app.get("/v1/products?limit=1").await.json().await.unwrap();
    let cursor = facts["next_cursor"].as_str().unwrap();
    assert_problem(
        app.get(&format!(
            "/v1/products?stage=mining&limit=1&cursor={cursor}"
        ))
        .await,
        422,
        "invalid_parameter",
    )
    .await;
    let last = app.get("/v1/products?limit=1000").await;
    assert!(
        last.headers().get("link").is_none(),
        "no next page, no link"
    );
}

/// A problem names the request it answers, and its `type` resolves to a
/// page a person can read.
#[tokio::test]
async fn problems_carry_their_instance_and_types_resolve_to_readable_pages() {
    let app = spawn_app().await;
    let problem =
        assert_problem(app.get("/v1/facts?limit=0").await, 422, "invalid_parameter").await;
    assert_eq!(problem["instance"], "/v1/facts");
    let page = app
        .client
        .get(app.url(problem["type"].as_str().unwrap()))
        .header("Accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<h1>A path or query parameter is invalid</h1>"),
        "{html}"
    );
    assert!(
        html.contains("/query/{name}"),
        "the page says what to do: {html}"
    );
    let catalogue: Vec<serde_json::Value> = app.get("/problems").await.json().await.unwrap();
    for entry in &catalogue {
        assert!(
            entry["advice"].as_str().is_some_and(|a| a.len() > 20),
            "{entry}"
        );
    }
    let methodology = app.get("/methodology").await;
    assert_eq!(methodology.status(), 200);
    assert!(methodology.text().await.unwrap().contains("dependency"));
    let spec: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    assert_eq!(spec["externalDocs"]["url"], "/methodology");
}

/// Single facts and products carry ETags; PUT honours If-Match.
#[tokio::test]
async fn single_resources_carry_etags_and_put_honours_if_match() {
    let app = spawn_app().await;
    app.seed_chain().await;
    let product = app.get("/v1/products/ndpr-metal").await;
    let tag = product.headers()["etag"].to_str().unwrap().to_owned();
    let revalidated = app
        .client
        .get(app.url("/v1/products/ndpr-metal"))
        .header("If-None-Match", format!("W/{tag}"))
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 304);
    let replacement = json!({"name": "NdPr metal", "stage": "smelting", "description": "alloyed",
        "inputs": [{"product": "ndpr-oxide", "share": 1.0, "essential": true}]});
    let put = |if_match: String| {
        app.client
            .put(app.url("/v1/products/ndpr-metal"))
            .header("If-Match", if_match)
            .json(&replacement)
            .send()
    };
    assert_eq!(put(tag.clone()).await.unwrap().status(), 200);
    let revisions = app.count("product_revisions").await;
    let problem = assert_problem(put(tag.clone()).await.unwrap(), 412, "precondition_failed").await;
    assert!(problem["detail"].as_str().unwrap().contains("If-Match"));
    assert_eq!(
        app.count("product_revisions").await,
        revisions,
        "nothing written"
    );
    let fresh = app.get("/v1/products/ndpr-metal").await;
    let fresh_tag = fresh.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(fresh_tag, tag);
    assert_eq!(put(fresh_tag).await.unwrap().status(), 200);

    let written = app.post_ok("/v1/facts", &production_fact()).await;
    let path = format!("/v1/facts/{}", written["id"]);
    let fact = app.get(&path).await;
    let tag = fact.headers()["etag"].to_str().unwrap().to_owned();
    let again = app
        .client
        .get(app.url(&path))
        .header("If-None-Match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
}
