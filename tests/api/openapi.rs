use crate::helpers::spawn_app;

const COMMITTED: &str = include_str!("../../openapi/openapi.json");

#[test]
fn the_committed_spec_matches_the_code() {
    let generated = chokepoint::api::openapi_json();
    assert!(
        generated == COMMITTED,
        "openapi/openapi.json is out of date: refresh it with \
         `cargo run -q -- openapi > openapi/openapi.json` and commit it"
    );
}

#[test]
fn the_spec_version_is_the_api_version_not_the_crate_version() {
    let spec: serde_json::Value = serde_json::from_str(COMMITTED).unwrap();
    assert_eq!(spec["info"]["version"], "1.0.0");
}

#[test]
fn every_operation_documents_its_errors_and_every_error_code_is_in_the_spec() {
    let spec: serde_json::Value = serde_json::from_str(COMMITTED).unwrap();
    let codes = spec["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap();
    for code in chokepoint::api::error::ErrorCode::ALL {
        assert!(
            codes.iter().any(|c| c == code.as_str()),
            "{} missing",
            code.as_str()
        );
    }
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            assert!(
                operation["responses"]
                    .as_object()
                    .is_some_and(|r| !r.is_empty()),
                "{method} {path} documents no responses"
            );
            assert!(operation["tags"].is_array(), "{method} {path} has no tag");
        }
    }
}

#[tokio::test]
async fn the_served_spec_is_the_committed_one() {
    let app = spawn_app().await;
    let served: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    let committed: serde_json::Value = serde_json::from_str(COMMITTED).unwrap();
    assert!(
        served == committed,
        "GET /openapi.json differs from openapi/openapi.json"
    );
}

/// Every `$ref` points at something the document defines (an undefined
/// schema makes Swagger UI show a plain text box and validators fail).
#[test]
fn every_reference_in_the_spec_resolves() {
    fn refs<'a>(value: &'a serde_json::Value, found: &mut Vec<&'a str>) {
        match value {
            serde_json::Value::Object(fields) => {
                if let Some(serde_json::Value::String(target)) = fields.get("$ref") {
                    found.push(target);
                }
                fields.values().for_each(|v| refs(v, found));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
            _ => {}
        }
    }
    let spec: serde_json::Value = serde_json::from_str(COMMITTED).unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    let mut found = Vec::new();
    refs(&spec, &mut found);
    assert!(found.len() > 50, "the document uses references");
    for target in found {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{target} is not a local reference"));
        assert!(spec.pointer(pointer).is_some(), "{target} is not defined");
    }
}
