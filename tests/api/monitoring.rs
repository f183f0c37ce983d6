//! Monitoring end to end: watchlists and rules saved over HTTP, events
//! raised by real writes, read from the feed (long polling) and delivered
//! to a real HTTP receiver the test starts, signed, in order, surviving a
//! receiver that is down and one that is slow.

use std::time::{Duration, Instant};

use chokepoint::config::{ServeSettings, WebhookSettings};
use chokepoint::domain::Scope;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::{
    assert_problem, client_with_key, create_key, database_url, fresh_database, ok_body,
    production_fact, spawn_app, spawn_with, TestApp,
};
use crate::receiver::{Behaviour, Receiver};

/// Settings that let webhooks reach the test's loopback receivers and
/// retry within the test's patience.
pub fn monitoring_settings(url: String) -> ServeSettings {
    let mut settings = ServeSettings::for_database(url);
    settings.webhooks = WebhookSettings {
        allow_private_targets: true,
        retry_base: Duration::from_millis(50),
        retry_max: Duration::from_millis(200),
        ..WebhookSettings::default()
    };
    settings
}

pub async fn spawn_monitoring_app() -> TestApp {
    let database = fresh_database().await;
    spawn_with(monitoring_settings(database_url(&database)), &database).await
}

/// The dependency the service reports for a product and buyer.
async fn dependency(app: &TestApp, product: &str, buyer: &str) -> f64 {
    let score = app
        .get_current(&format!("/v1/scores/{product}?buyer={buyer}"))
        .await;
    score["dependency"]["score"]
        .as_f64()
        .unwrap_or_else(|| panic!("a dependency in {score}"))
}

/// Waits until `rule` has had its first look at every product of its
/// watchlist (so a later change is a change, not its starting point).
pub async fn wait_until_armed(app: &TestApp, rule: &str, products: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let seen: i64 = app
            .db
            .query_one(
                "SELECT count(*) FROM alert_rule_state WHERE rule_id = $1::text::uuid",
                &[&rule],
            )
            .await
            .unwrap()
            .get(0);
        if seen >= products {
            return;
        }
        assert!(Instant::now() < deadline, "rule {rule} never looked");
        // Polling the evaluator's progress: nothing is asserted about time.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads the feed after `after`, waiting up to 20 s for an event.
pub async fn feed(app: &TestApp, after: &str) -> Value {
    let response = app.get(&format!("/v1/events?after={after}&wait=20s")).await;
    ok_body("/v1/events", response).await
}

/// Every `v1` signature of a delivery matches one of `secrets`.
fn verify(signature: &str, body: &[u8], secret: &str) -> bool {
    let mut parts = signature.split(',');
    let timestamp = parts.next().unwrap().strip_prefix("t=").unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    parts.any(|part| part == format!("v1={expected}"))
}

async fn create_webhook(app: &TestApp, url: &str, types: Value) -> Value {
    app.post_ok("/v1/webhooks", &json!({"url": url, "event_types": types}))
        .await
}

#[tokio::test]
async fn a_threshold_crossing_reaches_the_feed_and_a_signed_webhook() {
    let app = spawn_monitoring_app().await;
    app.seed_chain().await;
    let china = app.post_ok("/v1/facts", &production_fact()).await;
    let receiver = Receiver::start(Behaviour::Accept).await;
    let webhook = create_webhook(&app, &receiver.url, json!([])).await;
    let secret = webhook["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{webhook}");
    let watchlist = app
        .post_ok(
            "/v1/watchlists",
            &json!({"name": "Magnets", "buyer": "US", "products": ["rare-earth-concentrate"]}),
        )
        .await;
    let before = dependency(&app, "rare-earth-concentrate", "US").await;
    assert!(before > 90.0, "only China mines: {before}");
    let rule = app
        .post_ok(
            &format!("/v1/watchlists/{}/rules", watchlist["id"].as_str().unwrap()),
            &json!({"name": "Concentrate below 90", "condition":
                {"kind": "threshold", "score": "dependency", "threshold": 90, "hysteresis": 1}}),
        )
        .await;
    let rule_id = rule["id"].as_str().unwrap();
    wait_until_armed(&app, rule_id, 1).await;

    let mut us_mine = production_fact();
    us_mine["country"] = json!("US");
    us_mine["value"] = json!(90);
    let written = app.post_ok("/v1/facts", &us_mine).await;
    let after = dependency(&app, "rare-earth-concentrate", "US").await;
    assert!(after < 89.0, "a US mine lowers it: {after}");

    let feed = feed(&app, "0").await;
    let items = feed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{feed}");
    let event = &items[0]["event"];
    assert_eq!(event["type"], "score.threshold_crossed");
    assert_eq!(event["rule"]["id"], rule_id);
    assert_eq!(event["product"], "rare-earth-concentrate");
    assert_eq!(event["buyer"], "US");
    assert_eq!(event["detail"]["direction"], "down");
    assert_eq!(event["detail"]["before"].as_f64().unwrap(), before);
    assert_eq!(event["detail"]["after"].as_f64().unwrap(), after);
    let causes = event["caused_by"]["facts"].as_array().unwrap();
    let new_id = written["id"].clone();
    assert!(causes.contains(&new_id), "{causes:?} names {new_id}");
    assert!(!causes.contains(&china["id"]), "{causes:?}");
    assert_eq!(feed["next_cursor"], items[0]["cursor"]);

    let delivered = receiver.wait_for(1, Duration::from_secs(20)).await;
    let delivery = &delivered[0];
    assert_eq!(
        delivery.json(),
        *event,
        "the webhook carries the feed's event"
    );
    assert_eq!(delivery.event_id(), event["id"].as_str().unwrap());
    assert_eq!(
        delivery.headers["chokepoint-event-type"],
        "score.threshold_crossed"
    );
    let signature = &delivery.headers["chokepoint-signature"];
    assert!(verify(signature, &delivery.body, &secret), "{signature}");
    assert!(!verify(signature, b"{}", &secret), "the body is signed");

    // The delivery log says so, and a repeated read of the feed is empty.
    let log_path = format!(
        "/v1/webhooks/{}/deliveries",
        webhook["id"].as_str().unwrap()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log = ok_body(&log_path, app.get(&log_path).await).await;
        if log["items"][0]["state"] == "delivered" {
            break log;
        }
        assert!(Instant::now() < deadline, "{log}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(log["items"][0]["attempts"], 1);
    assert_eq!(log["items"][0]["last_status"], 200);
    let cursor = feed["next_cursor"].as_str().unwrap();
    let again = ok_body(
        "/v1/events",
        app.get(&format!("/v1/events?after={cursor}")).await,
    )
    .await;
    assert_eq!(again["items"], json!([]));
    assert_eq!(again["next_cursor"], cursor);
}

#[tokio::test]
async fn an_export_control_upstream_raises_an_event_for_the_watched_product() {
    let app = spawn_monitoring_app().await;
    app.seed_chain().await;
    app.post_ok("/v1/facts", &production_fact()).await;
    let watchlist = app
        .post_ok(
            "/v1/watchlists",
            &json!({"name": "Magnets", "buyer": "EU", "products": ["sintered-ndfeb-magnet"]}),
        )
        .await;
    let rule = app
        .post_ok(
            &format!("/v1/watchlists/{}/rules", watchlist["id"].as_str().unwrap()),
            &json!({"name": "Controls", "condition": {"kind": "export_control"}}),
        )
        .await;
    wait_until_armed(&app, rule["id"].as_str().unwrap(), 1).await;
    app.post_ok(
        "/v1/facts",
        &json!({"product": "ndpr-oxide", "country": "CN", "metric": "export_control",
            "value": 1, "unit": "level", "period": "2025-01-01/..", "status": "in_force",
            "source_id": "usgs-mcs-2025"}),
    )
    .await;
    let feed = feed(&app, "0").await;
    let event = &feed["items"][0]["event"];
    assert_eq!(event["type"], "export_control.in_force", "{feed}");
    assert_eq!(event["product"], "sintered-ndfeb-magnet");
    assert_eq!(event["detail"]["export_control"]["product"], "ndpr-oxide");
    assert_eq!(event["detail"]["export_control"]["upstream"], true);
}

#[tokio::test]
async fn a_receiver_that_is_down_gets_every_event_in_order_once_it_is_back() {
    let app = spawn_monitoring_app().await;
    let receiver = Receiver::start(Behaviour::Down).await;
    let webhook = create_webhook(&app, &receiver.url, json!([])).await;
    let id = webhook["id"].as_str().unwrap();
    let mut events = Vec::new();
    for _ in 0..3 {
        let delivery = app
            .post_ok(&format!("/v1/webhooks/{id}/ping"), &json!(null))
            .await;
        events.push(delivery["event_id"].as_str().unwrap().to_owned());
    }
    // Down for several attempts of the first delivery; the others wait.
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver.refused() < 4 {
        assert!(Instant::now() < deadline, "the first delivery is retried");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log_path = format!("/v1/webhooks/{id}/deliveries");
    let log = ok_body(&log_path, app.get(&log_path).await).await;
    let states: Vec<&Value> = log["items"].as_array().unwrap().iter().collect();
    assert!(states.iter().all(|d| d["state"] == "pending"), "{log}");
    let oldest = states.last().unwrap();
    assert!(oldest["attempts"].as_i64().unwrap() >= 2, "{log}");
    assert!(oldest["last_error"].as_str().is_some(), "{log}");
    let endpoint = ok_body("", app.get(&format!("/v1/webhooks/{id}")).await).await;
    assert!(endpoint["failing_since"].is_string(), "{endpoint}");

    receiver.set(Behaviour::Accept);
    let delivered = receiver.wait_for(3, Duration::from_secs(20)).await;
    let ids: Vec<String> = delivered.iter().map(|d| d.event_id()).collect();
    assert_eq!(ids, events, "every event, in order");
    let endpoint = ok_body("", app.get(&format!("/v1/webhooks/{id}")).await).await;
    assert!(endpoint["failing_since"].is_null(), "{endpoint}");
}

#[tokio::test]
async fn a_slow_receiver_does_not_hold_up_another_endpoint() {
    let app = spawn_monitoring_app().await;
    let slow = Receiver::start(Behaviour::Slow(Duration::from_secs(30))).await;
    let fast = Receiver::start(Behaviour::Accept).await;
    let slow_hook = create_webhook(&app, &slow.url, json!([])).await;
    let fast_hook = create_webhook(&app, &fast.url, json!([])).await;
    let ping = |hook: &Value| format!("/v1/webhooks/{}/ping", hook["id"].as_str().unwrap());
    app.post_ok(&ping(&slow_hook), &json!(null)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while slow.arrived() == 0 {
        assert!(Instant::now() < deadline, "the slow receiver was called");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.post_ok(&ping(&fast_hook), &json!(null)).await;
    fast.wait_for(1, Duration::from_secs(20)).await;
    assert!(
        slow.accepted().is_empty(),
        "the fast endpoint got its event while the slow one was still answering"
    );
}

#[tokio::test]
async fn what_a_key_saves_is_its_own() {
    let app = spawn_monitoring_app().await;
    app.seed_chain().await;
    let watchlist = app
        .post_ok(
            "/v1/watchlists",
            &json!({"name": "Mine", "buyer": "US", "products": ["ndpr-oxide"]}),
        )
        .await;
    let id = watchlist["id"].as_str().unwrap();
    let rule = app
        .post_ok(
            &format!("/v1/watchlists/{id}/rules"),
            &json!({"name": "r", "condition": {"kind": "fact_conflict"}}),
        )
        .await;
    let webhook = create_webhook(&app, "http://127.0.0.1:9/hook", json!(["ping"])).await;
    app.post_ok(
        &format!("/v1/webhooks/{}/ping", webhook["id"].as_str().unwrap()),
        &json!(null),
    )
    .await;

    let other = client_with_key(&create_key(&app.database, "other", &[Scope::Read]).await);
    let paths = [
        format!("/v1/watchlists/{id}"),
        format!("/v1/watchlists/{id}/rules"),
        format!("/v1/rules/{}", rule["id"].as_str().unwrap()),
        format!("/v1/webhooks/{}", webhook["id"].as_str().unwrap()),
        format!(
            "/v1/webhooks/{}/deliveries",
            webhook["id"].as_str().unwrap()
        ),
    ];
    for path in &paths {
        let response = other.get(app.url(path)).send().await.unwrap();
        assert_problem(response, 404, "not_found").await;
        let response = other.delete(app.url(path)).send().await.unwrap();
        assert!(
            [404, 405].contains(&response.status().as_u16()),
            "{path}: {}",
            response.status()
        );
    }
    let response = other
        .put(app.url(&paths[0]))
        .json(&json!({"name": "Theirs", "buyer": "US", "products": ["ndpr-oxide"]}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "not_found").await;
    let response = other
        .post(app.url(&format!("{}/rules", paths[0])))
        .json(&json!({"name": "r", "condition": {"kind": "fact_conflict"}}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "not_found").await;
    for listing in ["/v1/watchlists", "/v1/webhooks", "/v1/events"] {
        let page: Value = other
            .get(app.url(listing))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(page["items"], json!([]), "{listing}: {page}");
    }
    // The owner still has everything, and every change is in the audit trail.
    assert_eq!(ok_body("", app.get(&paths[0]).await).await["name"], "Mine");
    let audit = ok_body("", app.get("/v1/audit?limit=100").await).await;
    let routes: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["route"].as_str().unwrap())
        .collect();
    for route in [
        "/v1/watchlists",
        "/v1/watchlists/{id}/rules",
        "/v1/webhooks",
        "/v1/webhooks/{id}/ping",
    ] {
        assert!(routes.contains(&route), "{route} in {routes:?}");
    }
    // Monitoring needs a key: there is no one to own an anonymous watchlist.
    let anonymous = reqwest::Client::new()
        .get(app.url("/v1/watchlists"))
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, 401, "unauthorized").await;
}

#[tokio::test]
async fn bad_monitoring_input_is_refused_with_pointers_and_nothing_is_written() {
    // The default settings: private webhook targets are refused.
    let app = spawn_app().await;
    app.seed_chain().await;
    let cases = [
        (
            "/v1/watchlists",
            json!({"name": " ", "buyer": "usa", "products": ["ndpr-oxide", "unobtainium", "ndpr-oxide"]}),
            vec!["/name", "/buyer", "/products/1", "/products/2"],
        ),
        (
            "/v1/watchlists",
            json!({"name": "x", "buyer": "US", "products": []}),
            vec!["/products"],
        ),
        (
            "/v1/webhooks",
            json!({"url": "http://127.0.0.1:9000/hook", "rule_ids": ["nope"]}),
            vec!["/url", "/rule_ids/0"],
        ),
        (
            "/v1/webhooks",
            json!({"url": "https://user:pw@hooks.example.com/"}),
            vec!["/url"],
        ),
        (
            "/v1/webhooks",
            json!({"url": "https://hooks.example.com/", "rule_ids": [uuid::Uuid::new_v4()]}),
            vec!["/rule_ids"],
        ),
    ];
    for (path, body, expected) in cases {
        let problem =
            assert_problem(app.post_json(path, &body).await, 422, "validation_failed").await;
        let mut pointers = crate::helpers::pointers(&problem);
        pointers.sort_unstable();
        let mut expected = expected.clone();
        expected.sort_unstable();
        assert_eq!(pointers, expected, "{path} {body}: {problem}");
    }
    let watchlist = app
        .post_ok(
            "/v1/watchlists",
            &json!({"name": "ok", "buyer": "US", "products": ["ndpr-oxide"]}),
        )
        .await;
    let rules = format!("/v1/watchlists/{}/rules", watchlist["id"].as_str().unwrap());
    for (condition, pointer) in [
        (
            json!({"kind": "threshold", "score": "dependency", "threshold": 120}),
            "/condition/threshold",
        ),
        (
            json!({"kind": "movement", "score": "difficulty", "points": 0}),
            "/condition/points",
        ),
        (
            json!({"kind": "export_control", "changes": []}),
            "/condition/changes",
        ),
    ] {
        let problem = assert_problem(
            app.post_json(&rules, &json!({"name": "r", "condition": condition}))
                .await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(
            crate::helpers::pointers(&problem),
            [pointer],
            "{condition}: {problem}"
        );
    }
    let unknown_kind = app
        .post_json(
            &rules,
            &json!({"name": "r", "condition": {"kind": "vibes"}}),
        )
        .await;
    assert_problem(unknown_kind, 422, "invalid_body").await;
    for query in ["wait=61", "wait=soon", "after=-1", "limit=0"] {
        let response = app.get(&format!("/v1/events?{query}")).await;
        assert_problem(response, 422, "invalid_parameter").await;
    }
    for table in ["alert_rules", "webhook_endpoints", "events"] {
        assert_eq!(app.count(table).await, 0, "{table}");
    }
    assert_eq!(app.count("watchlists").await, 1);
}

#[tokio::test]
async fn a_long_poll_is_answered_when_an_event_arrives() {
    let app = spawn_monitoring_app().await;
    let receiver = Receiver::start(Behaviour::Accept).await;
    let webhook = create_webhook(&app, &receiver.url, json!(["ping"])).await;
    let waiting = {
        let client = app.client.clone();
        let url = app.url("/v1/events?after=0&wait=30");
        tokio::spawn(async move { client.get(url).send().await.unwrap() })
    };
    // The feed is held open until the ping is raised, then answers with it.
    let ping = app
        .post_ok(
            &format!("/v1/webhooks/{}/ping", webhook["id"].as_str().unwrap()),
            &json!(null),
        )
        .await;
    let feed: Value = waiting.await.unwrap().json().await.unwrap();
    assert_eq!(feed["items"][0]["event"]["id"], ping["event_id"], "{feed}");
}

/// The backend pid holding the evaluator's lock on `db`'s database, if any.
async fn evaluator_pid(db: &tokio_postgres::Client) -> Option<i32> {
    db.query_opt(
        "SELECT a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND a.application_name = 'chokepoint-evaluator'",
        &[],
    )
    .await
    .unwrap()
    .map(|row| row.get(0))
}

/// Waits until an evaluator other than `not` holds the lock; its pid.
async fn wait_for_evaluator(
    db: &tokio_postgres::Client,
    not: Option<i32>,
    within: Duration,
) -> i32 {
    let deadline = Instant::now() + within;
    loop {
        if let Some(pid) = evaluator_pid(db).await.filter(|pid| Some(*pid) != not) {
            return pid;
        }
        assert!(
            Instant::now() < deadline,
            "no replica took over evaluation within {within:?}"
        );
        // Polling PostgreSQL's lock table: nothing to wait on.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (db, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    db
}

#[tokio::test]
async fn another_replica_takes_over_evaluation_when_the_evaluating_one_is_killed() {
    use crate::process::{serve_command, spawn_service};
    let database = fresh_database().await;
    let key = create_key(&database, "admin", &[Scope::Admin]).await;
    let replica = || {
        let mut command = serve_command();
        command
            .env("DATABASE_URL", database_url(&database))
            .arg("--webhook-private-targets");
        spawn_service(command)
    };
    let db = connect(&database_url(&database)).await;
    let (mut first, first_address, _) = replica();
    let first_pid = wait_for_evaluator(&db, None, Duration::from_secs(20)).await;
    let (_second, second_address, _) = replica();
    let app = |address: String| async {
        TestApp {
            address,
            client: client_with_key(&key),
            database: database.clone(),
            db: connect(&database_url(&database)).await,
        }
    };
    let first_app = app(first_address).await;
    first_app.seed_chain().await;
    first_app.post_ok("/v1/facts", &production_fact()).await;
    let watchlist = first_app
        .post_ok(
            "/v1/watchlists",
            &json!({"name": "w", "buyer": "US", "products": ["rare-earth-concentrate"]}),
        )
        .await;
    let rule = first_app
        .post_ok(
            &format!("/v1/watchlists/{}/rules", watchlist["id"].as_str().unwrap()),
            &json!({"name": "r", "condition":
                {"kind": "threshold", "score": "dependency", "threshold": 90}}),
        )
        .await;
    wait_until_armed(&first_app, rule["id"].as_str().unwrap(), 1).await;
    assert_eq!(
        evaluator_pid(&db).await,
        Some(first_pid),
        "the first still evaluates"
    );

    // SIGKILL: no shutdown, no unlock; the lock goes with its connection.
    // SAFETY: signals our own child.
    unsafe { libc::kill(first.0.id() as i32, libc::SIGKILL) };
    first.0.wait().unwrap();
    wait_for_evaluator(&db, Some(first_pid), Duration::from_secs(10)).await;

    let second_app = app(second_address).await;
    let mut us_mine = production_fact();
    us_mine["country"] = json!("US");
    us_mine["value"] = json!(90);
    second_app.post_ok("/v1/facts", &us_mine).await;
    let feed = feed(&second_app, "0").await;
    let items = feed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "raised once, by the new evaluator: {feed}");
    assert_eq!(items[0]["event"]["type"], "score.threshold_crossed");
}

#[tokio::test]
async fn deliveries_survive_a_database_restart() {
    use chokepoint::domain::KeySecret;
    use chokepoint::startup::Application;
    use chokepoint::store::{
        self,
        embedded::{Durability, EmbeddedCluster},
    };
    let dir = std::env::temp_dir()
        .join(format!(
            "chokepoint-restart-{}",
            uuid::Uuid::new_v4().simple()
        ))
        .join("postgres");
    let start = {
        let dir = dir.clone();
        move || EmbeddedCluster::start(&dir, None, Durability::Throwaway).unwrap()
    };
    let mut cluster = tokio::task::spawn_blocking(start.clone()).await.unwrap();
    let url = cluster.url("postgres");
    let pool = store::connect(&url, 2).unwrap();
    store::migrate(&pool).await.unwrap();
    let secret = KeySecret::generate().unwrap();
    store::keys::insert(
        &pool.get().await.unwrap(),
        "admin",
        &[Scope::Admin],
        &secret.prefix,
        &KeySecret::hash(&secret.full),
        None,
    )
    .await
    .unwrap();
    drop(pool);
    let settings = monitoring_settings(url.clone());
    let application = Application::build(&settings, &url).await.unwrap();
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    let client = client_with_key(&secret.full);

    let receiver = Receiver::start(Behaviour::Slow(Duration::from_secs(1))).await;
    let webhook: Value = client
        .post(format!("{address}/v1/webhooks"))
        .json(&json!({"url": receiver.url}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ping = format!(
        "{address}/v1/webhooks/{}/ping",
        webhook["id"].as_str().unwrap()
    );
    let mut events = Vec::new();
    for _ in 0..3 {
        let delivery: Value = client
            .post(&ping)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        events.push(delivery["event_id"].as_str().unwrap().to_owned());
    }
    // PostgreSQL goes down while the first delivery is being answered.
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver.arrived() == 0 {
        assert!(Instant::now() < deadline, "the first delivery was sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster = tokio::task::spawn_blocking(move || {
        cluster.stop();
        drop(cluster);
        start()
    })
    .await
    .unwrap();

    let deadline = Instant::now() + Duration::from_secs(60);
    let ids = loop {
        let mut ids: Vec<String> = receiver.accepted().iter().map(|r| r.event_id()).collect();
        ids.dedup();
        let mut distinct = ids.clone();
        distinct.sort();
        distinct.dedup();
        if distinct.len() == events.len() {
            break ids;
        }
        assert!(
            Instant::now() < deadline,
            "delivered after the restart: {ids:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Every event, in order; a repeat only of one whose answer the
    // database did not see (at least once), never out of order.
    assert_eq!(ids, events, "in order, each once apart from retries");
    let db = connect(&url).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pending: i64 = db
            .query_one(
                "SELECT count(*) FROM deliveries WHERE state <> 'delivered'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if pending == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{pending} deliveries left");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(cluster);
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one_and_a_redelivery_repeats_the_event() {
    let app = spawn_monitoring_app().await;
    let receiver = Receiver::start(Behaviour::Accept).await;
    let webhook = create_webhook(&app, &receiver.url, json!(["ping"])).await;
    let id = webhook["id"].as_str().unwrap();
    let old = webhook["secret"].as_str().unwrap().to_owned();
    // JSON Schema's integers include `3600.0`.
    let rotated = app
        .post_ok(
            &format!("/v1/webhooks/{id}/rotate-secret"),
            &json!({"overlap_seconds": 3600.0}),
        )
        .await;
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(rotated["previous_secret_until"].is_string(), "{rotated}");
    let ping = app
        .post_ok(&format!("/v1/webhooks/{id}/ping"), &json!(null))
        .await;
    let first = receiver.wait_for(1, Duration::from_secs(20)).await;
    let signature = &first[0].headers["chokepoint-signature"];
    assert_eq!(signature.matches("v1=").count(), 2, "{signature}");
    assert!(verify(signature, &first[0].body, &new));
    assert!(verify(signature, &first[0].body, &old));

    let again = app
        .post_ok(
            &format!("/v1/webhooks/{id}/deliveries/{}/redeliver", ping["id"]),
            &json!(null),
        )
        .await;
    assert_ne!(again["id"], ping["id"]);
    let both = receiver.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(both[1].event_id(), both[0].event_id());
    assert_eq!(both[1].body, both[0].body, "the same event, byte for byte");

    // Without overlap the old secret stops signing at once.
    app.post_ok(
        &format!("/v1/webhooks/{id}/rotate-secret"),
        &json!({"overlap_seconds": 0}),
    )
    .await;
    app.post_ok(&format!("/v1/webhooks/{id}/ping"), &json!(null))
        .await;
    let third = receiver.wait_for(3, Duration::from_secs(20)).await;
    let signature = &third[2].headers["chokepoint-signature"];
    assert_eq!(signature.matches("v1=").count(), 1, "{signature}");
    assert!(
        !verify(signature, &third[2].body, &new),
        "the replaced secret"
    );
}

#[tokio::test]
async fn an_endpoint_failing_for_too_long_is_disabled_and_the_feed_says_so() {
    let database = fresh_database().await;
    let mut settings = monitoring_settings(database_url(&database));
    settings.webhooks.disable_after = Duration::from_millis(300);
    let app = spawn_with(settings, &database).await;
    let receiver = Receiver::start(Behaviour::Down).await;
    let webhook = create_webhook(&app, &receiver.url, json!([])).await;
    let id = webhook["id"].as_str().unwrap();
    app.post_ok(&format!("/v1/webhooks/{id}/ping"), &json!(null))
        .await;
    let feed = feed(&app, "1").await;
    let event = &feed["items"][0]["event"];
    assert_eq!(event["type"], "webhook.disabled", "{feed}");
    assert_eq!(event["detail"]["endpoint_id"], id);
    let endpoint = ok_body("", app.get(&format!("/v1/webhooks/{id}")).await).await;
    assert!(endpoint["disabled_at"].is_string(), "{endpoint}");
    // Nothing more is attempted while disabled; enabling sends what waits.
    receiver.set(Behaviour::Accept);
    let enabled = app
        .post_ok(&format!("/v1/webhooks/{id}/enable"), &json!(null))
        .await;
    assert!(enabled["disabled_at"].is_null(), "{enabled}");
    let delivered = receiver.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(delivered[0].headers["chokepoint-event-type"], "ping");
}

#[tokio::test]
async fn a_revoked_keys_rules_and_webhooks_fall_silent() {
    let app = spawn_monitoring_app().await;
    app.seed_chain().await;
    app.post_ok("/v1/facts", &production_fact()).await;
    let departing = client_with_key(&create_key(&app.database, "departing", &[Scope::Read]).await);
    let receiver = Receiver::start(Behaviour::Accept).await;
    let mut rules = Vec::new();
    for client in [&app.client, &departing] {
        let post = |path: &str, body: Value| {
            let (path, request) = (path.to_owned(), client.post(app.url(path)).json(&body));
            async move { ok_body(&path, request.send().await.unwrap()).await }
        };
        post("/v1/webhooks", json!({"url": receiver.url})).await;
        let watchlist = post(
            "/v1/watchlists",
            json!({"name": "w", "buyer": "US", "products": ["rare-earth-concentrate"]}),
        )
        .await;
        let rule = post(
            &format!("/v1/watchlists/{}/rules", watchlist["id"].as_str().unwrap()),
            json!({"name": "r", "condition":
                {"kind": "threshold", "score": "dependency", "threshold": 90}}),
        )
        .await;
        wait_until_armed(&app, rule["id"].as_str().unwrap(), 1).await;
        rules.push(rule["id"].as_str().unwrap().to_owned());
    }
    let keys = ok_body("/v1/keys", app.get("/v1/keys").await).await;
    let id = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "departing")
        .unwrap()["id"]
        .clone();
    app.delete_ok(&format!("/v1/keys/{id}")).await;

    let mut us_mine = production_fact();
    us_mine["country"] = json!("US");
    us_mine["value"] = json!(90);
    app.post_ok("/v1/facts", &us_mine).await;
    // Both rules are evaluated in one round, in one transaction: the
    // remaining key's event is the round that read the new fact.
    let feed = feed(&app, "0").await;
    assert_eq!(feed["items"][0]["event"]["rule"]["id"], rules[0].as_str());
    let delivered = receiver.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(delivered[0].json()["rule"]["id"], rules[0].as_str());
    let silent: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM events WHERE rule_id = $1::text::uuid",
            &[&rules[1]],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(silent, 0, "a revoked key's rule raised nothing");
}
