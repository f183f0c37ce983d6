//! The run command's embedded database, end to end: the real binary started
//! on an empty data directory, stopped with SIGTERM, started again.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chokepoint::store::embedded::{Durability, EmbeddedCluster};

use crate::process::{serve_command, spawn_service, Log, Service};

fn start_service(data_dir: &Path, public_data: &Path) -> (Service, String, Log) {
    let mut command = serve_command();
    command
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--public-data")
        .arg(public_data)
        .env_remove("DATABASE_URL")
        .env_remove("CHOKEPOINT_NO_PUBLIC_DATA");
    spawn_service(command)
}

fn terminate(Service(child): &mut Service) {
    // SAFETY: sends SIGTERM to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "the service exited with {status}");
            return;
        }
        // Polling a child process's exit: there is no version to wait for.
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the service did not stop after SIGTERM");
}

fn postmaster_running(data_dir: &Path) -> bool {
    data_dir.join("postgres/postmaster.pid").exists()
}

#[tokio::test]
async fn the_service_starts_its_own_database_stops_it_and_reuses_it() {
    let data_dir = std::env::temp_dir().join(format!(
        "chokepoint-serve-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let public_data = crate::connectors::small_public_extract();
    let (mut child, address, log) = start_service(&data_dir, &public_data);
    let response = reqwest::get(format!("{address}/readyz")).await.unwrap();
    assert_eq!(response.status(), 200);
    // The first start serves the baseline and the public datasets on top.
    let score: serde_json::Value =
        reqwest::get(format!("{address}/v1/scores/natural-graphite?buyer=JP"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let text = score.to_string();
    assert!(text.contains("cepii-baci-hs92-v202401b"), "{text}");
    assert!(
        text.contains("usgs-mcs-2025-graphite"),
        "the baseline too: {text}"
    );
    let catalogue: serde_json::Value = reqwest::get(format!("{address}/v1/products/copper-ore"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(catalogue["hs_codes"], serde_json::json!(["260300"]));
    let response = reqwest::get(format!("{address}/docs/")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(postmaster_running(&data_dir));
    // A key presented on a request never reaches the log.
    let key = format!("ck_0badc0de_{}", "5".repeat(64));
    let response = reqwest::Client::new()
        .post(format!("{address}/v1/sources"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"id": "x-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    terminate(&mut child);
    let log = log.lock().unwrap().clone();
    assert!(
        log.iter().any(|line| line.contains("/v1/sources")),
        "the request was logged"
    );
    assert!(
        !log.iter().any(|line| line.contains("0badc0de")),
        "no key material in logs"
    );
    for noise in [
        "already exists",
        "change listener",
        "WARN",
        "\"level\":\"WARN\"",
    ] {
        assert!(
            !log.iter().any(|line| line.contains(noise)),
            "a clean start and stop log no `{noise}`:\n{}",
            log.join("\n")
        );
    }
    assert!(
        !postmaster_running(&data_dir),
        "no postgres left behind after SIGTERM"
    );

    let (mut child, address, _) = start_service(&data_dir, &public_data);
    let response = reqwest::get(format!("{address}/readyz")).await.unwrap();
    assert_eq!(response.status(), 200, "a second start reuses the cluster");
    terminate(&mut child);
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[test]
fn a_throwaway_cluster_flushes_nothing() {
    let dir = std::env::temp_dir().join(format!(
        "chokepoint-throwaway-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let cluster =
        EmbeddedCluster::start(&dir.join("postgres"), None, Durability::Throwaway).unwrap();
    let out = Command::new("psql")
        .arg(cluster.url("chokepoint"))
        .args(["-tAX", "-v", "ON_ERROR_STOP=1", "-c"])
        .arg(
            "SELECT string_agg(name || '=' || setting, ',' ORDER BY name) FROM pg_settings \
              WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes')",
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "fsync=off,full_page_writes=off,synchronous_commit=off"
    );
    drop(cluster);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_stale_postmaster_pid_is_cleared_and_data_persists() {
    let dir = std::env::temp_dir().join(format!(
        "chokepoint-stale-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let data_dir = dir.join("postgres");
    let mut cluster = EmbeddedCluster::start(&data_dir, None, Durability::Durable).unwrap();
    let psql = |cluster: &EmbeddedCluster, sql: &str| {
        let out = Command::new("psql")
            .arg(cluster.url("chokepoint"))
            .args(["-tAX", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(
        psql(&cluster, "SHOW fsync"),
        "on",
        "the service's data is flushed"
    );
    psql(
        &cluster,
        "CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)",
    );
    cluster.stop();
    // A crash leaves postmaster.pid behind, naming a process that is gone.
    let dead_pid = {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    };
    std::fs::write(
        data_dir.join("postmaster.pid"),
        format!("{dead_pid}\n{}\n", data_dir.display()),
    )
    .unwrap();
    let cluster = EmbeddedCluster::start(&data_dir, None, Durability::Durable).unwrap();
    assert_eq!(psql(&cluster, "SELECT n FROM kept"), "42");
    drop(cluster);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn missing_binaries_give_an_actionable_error() {
    let empty = std::env::temp_dir();
    let error = EmbeddedCluster::start(
        &empty.join("never-created"),
        Some(&empty),
        Durability::Durable,
    )
    .unwrap_err();
    let message = format!("{error:#}");
    assert!(message.contains("does not contain initdb"), "{message}");
}

#[test]
fn a_port_in_use_is_reported_before_any_database_starts() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let data_dir =
        std::env::temp_dir().join(format!("chokepoint-port-{}", uuid::Uuid::new_v4().simple()));
    let output = Command::new(env!("CARGO_BIN_EXE_chokepoint"))
        .args(["serve", "--port", &port, "--log-format", "json"])
        .arg("--data-dir")
        .arg(&data_dir)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--port"), "{stderr}");
    assert!(
        !data_dir.join("postgres").exists(),
        "no database was started"
    );
}

/// `--seed` (CHOKEPOINT_SEED, as docker-compose sets it) loads the baseline
/// into an empty database named by DATABASE_URL, as the embedded default does.
#[tokio::test]
async fn seed_loads_the_baseline_into_an_empty_external_database() {
    let database = crate::helpers::empty_database().await;
    let mut command = serve_command();
    command
        .env("DATABASE_URL", crate::helpers::database_url(&database))
        .env("CHOKEPOINT_SEED", "true");
    let (mut service, address, _) = spawn_service(command);
    let page: serde_json::Value = reqwest::get(format!("{address}/v1/products?limit=1000"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        page["items"].as_array().unwrap().len() > 20,
        "the baseline's products"
    );
    terminate(&mut service);
}
