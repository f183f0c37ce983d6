//! Every example in the committed spec, executed against a freshly seeded
//! service as Swagger UI's "Try it out" would send it: each answers its
//! documented 2xx with a meaningful result, and in the shape of the
//! operation's recorded response example.
//!
//! `CHOKEPOINT_RECORD_EXAMPLES=1 cargo test --test api examples` records the
//! answers as the response examples (`openapi/examples/`, long arrays cut,
//! secrets cut to their prefix; a picture's SVG whole); regenerate the spec
//! afterwards.

use std::collections::HashMap;

use serde_json::Value;

use crate::helpers::{spawn_seeded_app, TestApp};

const COMMITTED: &str = include_str!("../../openapi/openapi.json");

/// Every operation, reads before the writes that would change them and
/// each write before what uses its result.
const ORDER: &[&str] = &[
    "healthz",
    "readyz",
    "metrics",
    "methodology",
    "list_problems",
    "get_problem",
    "list_sources",
    "get_source",
    "list_products",
    "get_product",
    "get_product_map",
    "list_facts",
    "get_fact",
    "list_scores",
    "get_score",
    "get_eu_crm",
    "get_history",
    "get_chain_picture",
    "get_history_picture",
    "create_source",
    "create_product",
    "put_product",
    "create_facts",
    "import_facts",
    "evaluate_scenario",
    "create_scenario",
    "list_scenarios",
    "get_scenario",
    "evaluate_saved_scenario",
    "assess_exposure",
    "run_backtest",
    "create_watchlist",
    "list_watchlists",
    "get_watchlist",
    "put_watchlist",
    "create_rule",
    "list_rules",
    "get_rule",
    "create_webhook",
    "list_webhooks",
    "get_webhook",
    "ping_webhook",
    "list_deliveries",
    "redeliver",
    "rotate_webhook_secret",
    "enable_webhook",
    "list_events",
    "create_key",
    "list_keys",
    "revoke_key",
    "retract_fact",
    "delete_scenario",
    "delete_rule",
    "delete_webhook",
    "delete_watchlist",
    "list_audit",
];

/// Operations whose answer must hold a non-zero number: a score read that
/// gives zeros everywhere has not read the baseline.
const SCORED: &[&str] = &[
    "list_scores",
    "get_score",
    "get_eu_crm",
    "get_history",
    "evaluate_scenario",
    "evaluate_saved_scenario",
    "assess_exposure",
    "run_backtest",
];

/// Path parameters only an earlier call can supply: (operation, parameter,
/// the operation whose answer's `id` it takes).
const FROM_EARLIER: &[(&str, &str, &str)] = &[
    ("get_scenario", "id", "create_scenario"),
    ("evaluate_saved_scenario", "id", "create_scenario"),
    ("delete_scenario", "id", "create_scenario"),
    ("revoke_key", "id", "create_key"),
    ("get_watchlist", "id", "create_watchlist"),
    ("put_watchlist", "id", "create_watchlist"),
    ("delete_watchlist", "id", "create_watchlist"),
    ("create_rule", "id", "create_watchlist"),
    ("list_rules", "id", "create_watchlist"),
    ("get_rule", "id", "create_rule"),
    ("delete_rule", "id", "create_rule"),
    ("get_webhook", "id", "create_webhook"),
    ("delete_webhook", "id", "create_webhook"),
    ("ping_webhook", "id", "create_webhook"),
    ("list_deliveries", "id", "create_webhook"),
    ("redeliver", "id", "create_webhook"),
    ("redeliver", "delivery_id", "ping_webhook"),
    ("rotate_webhook_secret", "id", "create_webhook"),
    ("enable_webhook", "id", "create_webhook"),
];

struct Operation<'a> {
    method: &'a str,
    path: &'a str,
    spec: &'a Value,
}

fn operations(spec: &Value) -> HashMap<&str, Operation<'_>> {
    let mut found = HashMap::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap();
            found.insert(
                id,
                Operation {
                    method,
                    path,
                    spec: operation,
                },
            );
        }
    }
    found
}

/// Follows a `$ref` into the document's components.
fn resolve<'a>(spec: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(reference) => {
            let mut target = spec;
            for part in reference.trim_start_matches("#/").split('/') {
                target = &target[part];
            }
            target
        }
        None => value,
    }
}

/// What Swagger UI prefills for a parameter or body: its own example, else
/// its schema's.
fn example_of<'a>(spec: &'a Value, holder: &'a Value) -> Option<&'a Value> {
    if let Some(example) = holder.get("example") {
        return Some(example);
    }
    if let Some(first) = holder
        .get("examples")
        .and_then(|e| e.as_object())
        .and_then(|e| e.values().next())
    {
        return first.get("value");
    }
    let schema = resolve(spec, holder.get("schema")?);
    schema
        .get("example")
        .or_else(|| schema["examples"].as_array().and_then(|e| e.first()))
}

/// Each request body example of an operation, as (media type, body).
fn bodies(spec: &Value, id: &str, operation: &Value) -> Vec<(String, Value)> {
    let Some(content) = operation["requestBody"]["content"].as_object() else {
        return vec![(String::new(), Value::Null)];
    };
    let mut found = Vec::new();
    for (media_type, media) in content {
        match media["examples"].as_object() {
            Some(named) => found.extend(
                named
                    .values()
                    .map(|example| (media_type.clone(), example["value"].clone())),
            ),
            None => found.push((
                media_type.clone(),
                example_of(spec, media)
                    .unwrap_or_else(|| panic!("{id}: no body example for {media_type}"))
                    .clone(),
            )),
        }
    }
    found
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn has_nonzero_number(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
        Value::Array(items) => items.iter().any(has_nonzero_number),
        Value::Object(fields) => fields.values().any(has_nonzero_number),
        _ => false,
    }
}

/// Differences in shape: object keys, recursively, and the first item of
/// arrays (a recorded example keeps only some).
fn shape_differences(expected: &Value, actual: &Value, at: &str, found: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for key in e.keys().filter(|k| !a.contains_key(*k)) {
                found.push(format!("{at}/{key} is gone"));
            }
            for key in a.keys().filter(|k| !e.contains_key(*k)) {
                found.push(format!("{at}/{key} is new"));
            }
            for (key, value) in e {
                if let Some(other) = a.get(key) {
                    shape_differences(value, other, &format!("{at}/{key}"), found);
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if let (Some(e), Some(a)) = (e.first(), a.first()) {
                shape_differences(e, a, &format!("{at}/0"), found);
            }
        }
        _ => {}
    }
}

/// The answer as a recorded example: arrays cut to their first two items
/// and their last (a history's latest point, a listing's range), and a new
/// key's secret cut to its prefix, so no usable secret is published.
fn trimmed(value: &Value) -> Value {
    match value {
        Value::Array(items) if items.len() > 3 => {
            Value::Array(items[..2].iter().chain(items.last()).map(trimmed).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(trimmed).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| match (k.as_str(), v.as_str()) {
                    ("key", Some(secret)) if secret.starts_with("ck_") => {
                        let prefix: String = secret.chars().take(11).collect();
                        (k.clone(), Value::String(format!("{prefix}_…")))
                    }
                    ("secret", Some(secret)) if secret.starts_with("whsec_") => {
                        (k.clone(), Value::String("whsec_…".to_owned()))
                    }
                    _ => (k.clone(), trimmed(v)),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

async fn send(
    app: &TestApp,
    operation: &Operation<'_>,
    path: &str,
    query: &[(String, String)],
    media_type: &str,
    body: &Value,
) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(operation.method.to_uppercase().as_bytes()).unwrap();
    let mut request = app.client.request(method, app.url(path)).query(query);
    if !media_type.is_empty() {
        let payload = if media_type == "application/json" {
            body.to_string()
        } else {
            text(body)
        };
        request = request
            .header(reqwest::header::CONTENT_TYPE, media_type)
            .body(payload);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn every_example_in_the_spec_runs_against_the_seeded_service() {
    let spec: Value = serde_json::from_str(COMMITTED).unwrap();
    let operations = operations(&spec);
    let mut listed: Vec<&str> = ORDER.to_vec();
    listed.sort_unstable();
    let mut documented: Vec<&str> = operations.keys().copied().collect();
    documented.sort_unstable();
    assert_eq!(listed, documented, "ORDER lists every operation once");

    let record = std::env::var("CHOKEPOINT_RECORD_EXAMPLES").is_ok_and(|v| v == "1");
    let app = spawn_seeded_app().await;
    let mut answers: HashMap<&str, Value> = HashMap::new();
    let mut pictures: HashMap<&str, String> = HashMap::new();
    let mut problems = Vec::new();
    for id in ORDER {
        let operation = &operations[id];
        let mut path = operation.path.to_owned();
        let mut query = Vec::new();
        for parameter in operation.spec["parameters"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let name = parameter["name"].as_str().unwrap();
            let earlier = FROM_EARLIER
                .iter()
                .find(|(op, param, _)| op == id && *param == name)
                .map(|(_, _, from)| {
                    let answer = answers.get(from).unwrap_or_else(|| {
                        panic!("{id} needs {from}'s answer, which failed: {problems:#?}")
                    });
                    text(&answer["id"])
                });
            let value = earlier.or_else(|| example_of(&spec, parameter).map(text));
            match (parameter["in"].as_str().unwrap(), value) {
                ("path", Some(value)) => path = path.replace(&format!("{{{name}}}"), &value),
                ("path", None) => panic!("{id}: path parameter {name} has no example"),
                ("query", Some(value)) => query.push((name.to_owned(), value)),
                _ => {}
            }
        }
        let expected: u16 = operation.spec["responses"]
            .as_object()
            .unwrap()
            .keys()
            .find(|status| status.starts_with('2'))
            .unwrap_or_else(|| panic!("{id} documents a 2xx"))
            .parse()
            .unwrap();
        for (media_type, body) in bodies(&spec, id, operation.spec) {
            let mut query = query.clone();
            // A CSV bill of materials names its buyer in the query, which a
            // JSON one must not: Swagger UI's default body is the JSON one.
            if *id == "assess_exposure" && media_type == "text/csv" {
                query.push(("buyer".into(), "US".into()));
            }
            let response = send(&app, operation, &path, &query, &media_type, &body).await;
            let status = response.status().as_u16();
            let content_type = |prefix: &str| {
                response
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .is_some_and(|v| v.to_str().unwrap().starts_with(prefix))
            };
            let (is_json, is_svg) = (
                content_type("application/json"),
                content_type("image/svg+xml"),
            );
            let content = response.text().await.unwrap();
            let what = format!("{} {path} {media_type}", operation.method.to_uppercase());
            if status != expected {
                problems.push(format!("{what}: {status}, not {expected}: {content}"));
                continue;
            }
            if expected == 204 {
                continue;
            }
            if content.trim().is_empty() {
                problems.push(format!("{what}: an empty answer"));
                continue;
            }
            if is_svg {
                pictures.entry(id).or_insert(content);
                continue;
            }
            if !is_json {
                continue;
            }
            let answer: Value = serde_json::from_str(&content).unwrap();
            if answer["items"]
                .as_array()
                .is_some_and(|items| items.is_empty())
            {
                problems.push(format!("{what}: no items"));
            }
            if SCORED.contains(id) && !has_nonzero_number(&answer) {
                problems.push(format!("{what}: every number is 0"));
            }
            answers.entry(id).or_insert(answer);
        }
        if let Some(svg) = pictures.get(id) {
            let file = format!("{}/openapi/examples/{id}.svg", env!("CARGO_MANIFEST_DIR"));
            if record {
                std::fs::write(&file, svg).unwrap();
                continue;
            }
            let recorded = std::fs::read_to_string(&file)
                .unwrap_or_else(|_| panic!("{id} has a recorded SVG example"));
            if recorded.trim().is_empty() {
                problems.push(format!("{id}: no recorded SVG example"));
            } else if classes(&recorded) != classes(svg) {
                problems.push(format!(
                    "{id}: the picture no longer has the recorded parts: {:?} recorded, {:?} now",
                    classes(&recorded),
                    classes(svg)
                ));
            }
            continue;
        }
        let Some(answer) = answers.get(id) else {
            continue;
        };
        let file = format!("{}/openapi/examples/{id}.json", env!("CARGO_MANIFEST_DIR"));
        if record {
            let mut json = serde_json::to_string_pretty(&trimmed(answer)).unwrap();
            json.push('\n');
            std::fs::write(&file, json).unwrap();
            continue;
        }
        let recorded: Value = serde_json::from_str(
            &std::fs::read_to_string(&file)
                .unwrap_or_else(|_| panic!("{id} has a recorded response example")),
        )
        .unwrap();
        if recorded.is_null() {
            problems.push(format!("{id}: no recorded response example"));
            continue;
        }
        let mut differences = Vec::new();
        shape_differences(&recorded, answer, "", &mut differences);
        if !differences.is_empty() {
            problems.push(format!(
                "{id}: the answer no longer has the recorded shape: {differences:?}"
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The `class` names an SVG's elements carry: the parts of a picture (the
/// recorded example's and the answer's must match).
fn classes(svg: &str) -> std::collections::BTreeSet<String> {
    let document = roxmltree::Document::parse(svg).expect("an SVG answer is XML");
    document
        .descendants()
        .filter_map(|n| n.attribute("class"))
        .flat_map(|c| c.split(' '))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_picture_documents_its_svg_example() {
    let spec: Value = serde_json::from_str(COMMITTED).unwrap();
    let mut pictures = 0;
    for (id, operation) in operations(&spec) {
        let svg = &operation.spec["responses"]["200"]["content"]["image/svg+xml"];
        if svg.is_null() {
            continue;
        }
        pictures += 1;
        let example = svg["example"].as_str().unwrap_or_default();
        assert!(example.starts_with("<svg "), "{id}: an SVG example");
        classes(example);
        assert!(
            !operation.spec["responses"]["200"]["content"]["image/png"].is_null(),
            "{id}: PNG too"
        );
    }
    assert_eq!(pictures, 3, "chain, history and map");
}

#[test]
fn every_json_success_documents_a_response_example() {
    let spec: Value = serde_json::from_str(COMMITTED).unwrap();
    let mut missing = Vec::new();
    for (id, operation) in operations(&spec) {
        let success = operation.spec["responses"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(status, _)| status.starts_with('2'));
        if let Some((_, response)) = success {
            let json = &response["content"]["application/json"];
            if !json.is_null() && json.get("example").is_none() {
                missing.push(id);
            }
        }
    }
    missing.sort_unstable();
    assert!(missing.is_empty(), "no response example: {missing:?}");
}
