//! The test harness: a PostgreSQL server (DATABASE_URL / TEST_DATABASE_URL,
//! or a private throwaway cluster started with the service's own embedded
//! code), a migrated template database, and per test a fresh copy of it and
//! the application listening on a random port.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use chokepoint::config::ServeSettings;
use chokepoint::domain::{KeySecret, Scope};
use chokepoint::startup::Application;
use chokepoint::store::{
    self,
    embedded::{Durability, EmbeddedCluster},
};
use tokio::sync::OnceCell;
use tokio_postgres::NoTls;

struct TestServer {
    /// URL of the server with the database name replaced by `{db}`.
    url_template: String,
    template_db: String,
    /// Whether test databases are dropped after each test (on a shared
    /// server; a throwaway cluster is deleted whole at exit).
    drop_databases: bool,
}

static SERVER: OnceCell<TestServer> = OnceCell::const_new();
static THROWAWAY: Mutex<Option<(EmbeddedCluster, PathBuf)>> = Mutex::new(None);

extern "C" fn stop_throwaway_cluster() {
    if let Ok(mut guard) = THROWAWAY.lock() {
        if let Some((cluster, dir)) = guard.take() {
            drop(cluster);
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

async fn server() -> &'static TestServer {
    SERVER
        .get_or_init(|| async {
            let external = std::env::var("TEST_DATABASE_URL")
                .or_else(|_| std::env::var("DATABASE_URL"))
                .ok();
            let (url_template, drop_databases) = match external {
                Some(url) => (with_database(&url, "{db}"), true),
                None => (start_throwaway_cluster(), false),
            };
            let template_db = prepare_template(&url_template).await;
            TestServer {
                url_template,
                template_db,
                drop_databases,
            }
        })
        .await
}

fn start_throwaway_cluster() -> String {
    let dir = std::env::temp_dir().join(format!("chokepoint-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // Nothing outlives the run: skip flushing to disk, which dominates the
    // time of the many small commits tests make.
    let cluster = EmbeddedCluster::start(&dir.join("postgres"), None, Durability::Throwaway)
        .expect("starting a throwaway PostgreSQL for the tests");
    let url = cluster.url("{db}");
    *THROWAWAY.lock().unwrap() = Some((cluster, dir));
    // SAFETY: registers a plain function to run at process exit.
    unsafe { libc::atexit(stop_throwaway_cluster) };
    url
}

/// Replaces the database name in a PostgreSQL URL.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

pub fn database_url(database: &str) -> String {
    SERVER
        .get()
        .expect("server initialised")
        .url_template
        .replace("{db}", database)
}

async fn admin_client(url_template: &str) -> tokio_postgres::Client {
    let (client, connection) =
        tokio_postgres::connect(&url_template.replace("{db}", "postgres"), NoTls)
            .await
            .expect("connecting to the test PostgreSQL server");
    tokio::spawn(connection);
    client
}

/// Creates (once per schema version) a database with every migration
/// applied, which each test's database is copied from.
async fn prepare_template(url_template: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    store::MIGRATIONS.hash(&mut hasher);
    let template = format!("chokepoint_template_{:016x}", hasher.finish());
    let admin = admin_client(url_template).await;
    admin
        .execute("SELECT pg_advisory_lock(7262)", &[])
        .await
        .unwrap();
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&template])
        .await
        .unwrap()
        .is_some();
    if !exists {
        admin
            .execute(&format!("CREATE DATABASE {template}"), &[])
            .await
            .unwrap();
        let pool = store::connect(&url_template.replace("{db}", &template), 1).unwrap();
        store::migrate(&pool)
            .await
            .expect("migrating the template database");
        pool.close();
        drop(pool);
        wait_for_no_sessions(&admin, &template).await;
    }
    admin
        .execute("SELECT pg_advisory_unlock(7262)", &[])
        .await
        .unwrap();
    template
}

async fn wait_for_no_sessions(admin: &tokio_postgres::Client, database: &str) {
    for _ in 0..100 {
        let row = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
                &[&database],
            )
            .await
            .unwrap();
        if row.get::<_, i64>(0) == 0 {
            return;
        }
        // Closed sessions leave asynchronously; a template must have none.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("sessions on {database} did not close");
}

/// An empty database, not migrated; its name.
pub async fn empty_database() -> String {
    let server = server().await;
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let admin = admin_client(&server.url_template).await;
    admin
        .execute(&format!("CREATE DATABASE {name}"), &[])
        .await
        .expect("creating the test database");
    name
}

/// A fresh database copied from the template; its name.
pub async fn fresh_database() -> String {
    let server = server().await;
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let admin = admin_client(&server.url_template).await;
    admin
        .execute(
            &format!("CREATE DATABASE {name} TEMPLATE {}", server.template_db),
            &[],
        )
        .await
        .expect("creating the test database");
    name
}

pub struct TestApp {
    pub address: String,
    /// Sends an admin key on every request.
    pub client: reqwest::Client,
    pub database: String,
    pub db: tokio_postgres::Client,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request failed")
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request failed")
    }

    /// POSTs JSON as a setup step: asserts a 2xx and returns the body.
    pub async fn post_ok(&self, path: &str, body: &serde_json::Value) -> serde_json::Value {
        ok_body(path, self.post_json(path, body).await).await
    }

    /// PUTs JSON as a setup step: asserts a 2xx and returns the body.
    pub async fn put_ok(&self, path: &str, body: &serde_json::Value) -> serde_json::Value {
        let response = self
            .client
            .put(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request failed");
        ok_body(path, response).await
    }

    /// DELETEs as a setup step: asserts a 2xx and returns the body.
    pub async fn delete_ok(&self, path: &str) -> serde_json::Value {
        let response = self
            .client
            .delete(self.url(path))
            .send()
            .await
            .expect("request failed");
        ok_body(path, response).await
    }

    /// The data version this replica serves, and the one committed in the
    /// database, from `/readyz`.
    pub async fn data_versions(&self) -> (String, String) {
        let ready = ok_body("/readyz", self.get("/readyz").await).await;
        let version = |field: &str| {
            ready[field]
                .as_str()
                .unwrap_or_else(|| panic!("{field} in {ready}"))
                .to_owned()
        };
        (version("data_version"), version("committed_data_version"))
    }

    /// Waits until this replica serves everything committed so far, and
    /// returns that data version. Replicas apply change notifications in
    /// order, so afterwards every earlier write that announced a change
    /// (facts, products) is reflected in what it serves, and a write that
    /// should have changed nothing has had its chance to.
    pub async fn wait_until_current(&self) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (served, committed) = self.data_versions().await;
            if served == committed {
                return served;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the replica still serves {served}, not {committed}"
            );
            // Only the polling interval: nothing is asserted about time.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// GETs `path` once the replica serves every committed write, asserting
    /// a 200; its body.
    pub async fn get_current(&self, path: &str) -> serde_json::Value {
        self.wait_until_current().await;
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        response.json().await.expect("a JSON body")
    }

    /// Rows in a table, read directly from the database.
    pub async fn count(&self, table: &str) -> i64 {
        self.db
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let Some(server) = SERVER.get() else { return };
        if !server.drop_databases {
            return;
        }
        let url_template = server.url_template.clone();
        let database = self.database.clone();
        // Drop runs inside the test's runtime: drop the database from a
        // thread with its own.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let admin = admin_client(&url_template).await;
                    let _ = admin
                        .execute(
                            &format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"),
                            &[],
                        )
                        .await;
                })
        })
        .join();
    }
}

/// Starts the application on a fresh database.
pub async fn spawn_app() -> TestApp {
    let database = fresh_database().await;
    spawn_app_on(&database).await
}

/// Starts the application on a fresh database holding the baseline, as
/// the embedded first start and `--seed` give it, once it serves it.
pub async fn spawn_seeded_app() -> TestApp {
    let app = spawn_app().await;
    let pool = store::connect(&database_url(&app.database), 2).unwrap();
    chokepoint::seed::seed(&pool, &chokepoint::seed::BASELINE)
        .await
        .expect("seeding the baseline");
    app.wait_until_current().await;
    app
}

/// Starts another application instance on an existing database, as a second
/// replica behind a load balancer would be.
pub async fn spawn_app_on(database: &str) -> TestApp {
    let url = database_url(database);
    let settings = ServeSettings::for_database(url.clone());
    spawn_with(settings, database).await
}

pub async fn spawn_with(settings: ServeSettings, database: &str) -> TestApp {
    let url = settings
        .database
        .database_url
        .clone()
        .expect("a database URL");
    let app = Application::build(&settings, &url)
        .await
        .expect("building the app");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let (db, connection) = tokio_postgres::connect(&database_url(database), NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let admin_key = create_key(database, "test admin", &[Scope::Admin]).await;
    TestApp {
        address,
        client: client_with_key(&admin_key),
        database: database.to_owned(),
        db,
    }
}

/// Creates a key directly in the database, as `keys create` does.
pub async fn create_key(database: &str, name: &str, scopes: &[Scope]) -> String {
    let secret = KeySecret::generate().unwrap();
    let pool = store::connect(&database_url(database), 1).unwrap();
    let client = pool.get().await.unwrap();
    store::keys::insert(
        &client,
        name,
        scopes,
        &secret.prefix,
        &KeySecret::hash(&secret.full),
        None,
    )
    .await
    .unwrap();
    secret.full
}

/// A client that sends `key` on every request.
pub fn client_with_key(key: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {key}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// Asserts that a setup request succeeded, showing the body when it did
/// not, and returns the body (`null` when empty).
pub async fn ok_body(what: &str, response: reqwest::Response) -> serde_json::Value {
    let status = response.status();
    let text = response.text().await.expect("reading the body");
    assert!(status.is_success(), "{what}: {status} {text}");
    if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: {e} in {text}"))
    }
}

/// The pointers of a problem's field errors, in order.
pub fn pointers(problem: &serde_json::Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["pointer"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts a problem+json response and returns its body.
pub async fn assert_problem(
    response: reqwest::Response,
    status: u16,
    code: &str,
) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    assert_eq!(body["type"], format!("/problems/{code}"));
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

impl TestApp {
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request failed")
    }

    /// A source, a four-stage magnet chain, and nothing else.
    pub async fn seed_chain(&self) {
        for (id, kind) in [
            ("usgs-mcs-2025", "government_statistics"),
            ("baotou-daily-2026", "state_affiliated_media"),
        ] {
            let response = self
                .post_json(
                    "/v1/sources",
                    &serde_json::json!({"id": id, "title": id, "publisher": "p", "kind": kind}),
                )
                .await;
            assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        }
        let products = [
            serde_json::json!({"id": "rare-earth-concentrate", "name": "Rare-earth concentrate", "stage": "mining"}),
            serde_json::json!({"id": "ndpr-oxide", "name": "NdPr oxide", "stage": "smelting",
                "inputs": [{"product": "rare-earth-concentrate", "share": 1.0, "essential": true}]}),
            serde_json::json!({"id": "ndpr-metal", "name": "NdPr metal", "stage": "smelting",
                "inputs": [{"product": "ndpr-oxide", "share": 1.0, "essential": true}]}),
            serde_json::json!({"id": "sintered-ndfeb-magnet", "name": "Sintered NdFeB magnet", "stage": "materials",
                "inputs": [{"product": "ndpr-metal", "share": 0.9, "essential": true}]}),
        ];
        for product in products {
            let response = self.post_json("/v1/products", &product).await;
            assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        }
    }
}

/// A valid production fact, to be varied by tests.
pub fn production_fact() -> serde_json::Value {
    serde_json::json!({
        "product": "rare-earth-concentrate",
        "country": "CN",
        "metric": "production",
        "value": 270,
        "unit": "kt/yr",
        "period": "2024",
        "status": "estimate",
        "source_id": "usgs-mcs-2025"
    })
}

/// Row counts of every ingestion table, to prove a rejected write left
/// everything as it was.
pub async fn table_counts(app: &TestApp) -> Vec<(&'static str, i64)> {
    let mut counts = Vec::new();
    for table in [
        "sources",
        "products",
        "product_inputs",
        "product_revisions",
        "facts",
        "idempotency_keys",
    ] {
        counts.push((table, app.count(table).await));
    }
    counts
}

/// Whether a derived number as the service writes it (rounded to four
/// decimal places) is `expected`, computed exactly.
pub fn rounded_eq(written: f64, expected: f64) -> bool {
    (written - expected).abs() <= 0.5e-4 + 1e-9
}
