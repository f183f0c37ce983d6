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

/// Every property of every schema a 2xx response can return says what it
/// is (its unit and scale included, by convention of the doc comments).
///
/// The walk starts at the schemas the 2xx responses reference and follows
/// `$ref`, `allOf`, `oneOf`, `anyOf`, `items`, `properties` and
/// `additionalProperties`. A property counts as described when it carries a
/// `description` itself, or when a branch of its `oneOf`/`anyOf`/`allOf`
/// does (utoipa puts an optional field's doc comment on the `$ref` branch
/// next to `null`). A bare `$ref` does not count on the referenced schema's
/// description: that says what the type is, not what this field means
/// (`import_reliance` and `recycling_input_rate` are both a `Quantity`).
/// The one exception is the tag of an internally tagged enum, a property
/// whose schema is a single-value `enum`: the variant it names carries the
/// description.
#[test]
fn every_property_of_a_response_schema_has_a_description() {
    use serde_json::Value;
    use std::collections::BTreeSet;

    fn references(value: &Value, found: &mut BTreeSet<String>) {
        match value {
            Value::Object(fields) => {
                if let Some(Value::String(target)) = fields.get("$ref") {
                    found.insert(target.clone());
                }
                fields.values().for_each(|v| references(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| references(v, found)),
            _ => {}
        }
    }
    fn described(property: &Value) -> bool {
        property.get("description").is_some()
            || ["oneOf", "anyOf", "allOf"].iter().any(|key| {
                property[key]
                    .as_array()
                    .is_some_and(|branches| branches.iter().any(|b| b.get("description").is_some()))
            })
    }
    fn is_tag(property: &Value) -> bool {
        property["type"] == "string" && property["enum"].as_array().is_some_and(|e| e.len() == 1)
    }
    fn check(schema: &Value, at: &str, missing: &mut Vec<String>) {
        if let Some(properties) = schema["properties"].as_object() {
            for (name, property) in properties {
                if !described(property) && !is_tag(property) {
                    missing.push(format!("{at}.{name}"));
                }
                check(property, &format!("{at}.{name}"), missing);
            }
        }
        for key in ["allOf", "oneOf", "anyOf"] {
            for (i, branch) in schema[key].as_array().into_iter().flatten().enumerate() {
                check(branch, &format!("{at}[{key}/{i}]"), missing);
            }
        }
        for key in ["items", "additionalProperties"] {
            if schema[key].is_object() {
                check(&schema[key], &format!("{at}[{key}]"), missing);
            }
        }
    }

    let spec: Value = serde_json::from_str(COMMITTED).unwrap();
    let mut pending = BTreeSet::new();
    for item in spec["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            for (status, response) in operation["responses"].as_object().into_iter().flatten() {
                if status.starts_with('2') {
                    references(&response["content"], &mut pending);
                }
            }
        }
    }
    assert!(!pending.is_empty(), "2xx responses reference schemas");
    let mut seen = BTreeSet::new();
    let mut missing = Vec::new();
    while let Some(target) = pending.pop_first() {
        if !seen.insert(target.clone()) {
            continue;
        }
        let schema = spec
            .pointer(target.strip_prefix('#').unwrap())
            .unwrap_or_else(|| panic!("{target} is not defined"));
        let name = target.rsplit('/').next().unwrap();
        check(schema, name, &mut missing);
        let mut next = BTreeSet::new();
        references(schema, &mut next);
        pending.extend(next.into_iter().filter(|t| !seen.contains(t)));
    }
    assert!(seen.len() > 50, "the walk reaches the response schemas");
    assert!(
        missing.is_empty(),
        "response properties without a description (add a `///` doc comment \
         saying what the field is, with its unit and scale):\n{}",
        missing.join("\n")
    );
}
