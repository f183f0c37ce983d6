//! Docker does not run on the build machines: check the compose file by
//! reading it, so it stays wired to the service's configuration.

#[test]
fn compose_wires_the_service_to_postgres() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docker-compose.yml"))
        .unwrap();
    let compose: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let services = &compose["services"];
    let db = &services["db"];
    assert!(db["image"].as_str().unwrap().starts_with("postgres:"));
    assert!(db["healthcheck"]["test"].is_sequence());

    let api = &services["api"];
    let environment = &api["environment"];
    let url = environment["DATABASE_URL"].as_str().unwrap();
    assert!(
        url.starts_with("postgresql://") && url.contains("@db:5432/"),
        "{url}"
    );
    assert_eq!(environment["CHOKEPOINT_HOST"].as_str(), Some("0.0.0.0"));
    assert_eq!(environment["CHOKEPOINT_PORT"].as_str(), Some("8080"));
    let ports: Vec<&str> = api["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(ports.iter().any(|p| p.ends_with(":8080")), "{ports:?}");
    assert_eq!(
        api["depends_on"]["db"]["condition"].as_str(),
        Some("service_healthy")
    );
    let check = serde_yaml::to_string(&api["healthcheck"]["test"]).unwrap();
    assert!(check.contains("/readyz"), "{check}");
    assert_eq!(
        environment["CHOKEPOINT_SEED"].as_str(),
        Some("true"),
        "the first start loads the baseline, as the embedded default does"
    );
}

#[test]
fn the_dockerfile_builds_and_runs_the_serve_command() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile")).unwrap();
    assert!(text.matches("FROM ").count() >= 2, "multi-stage build");
    assert!(text.contains("cargo build --release"));
    assert!(text.contains("\"serve\""));
    let manifests = text
        .find("COPY Cargo.toml Cargo.lock")
        .expect("manifests copied alone");
    assert!(
        manifests < text.find("COPY . .").unwrap(),
        "dependencies build in their own layer"
    );
    assert!(
        text.contains("STRIP=symbols"),
        "the release binary is stripped"
    );
}
