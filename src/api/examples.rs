//! Each operation's 2xx response example: the answer of the seeded
//! baseline to the operation's own request example, recorded by the
//! example test (`tests/api/examples.rs`, which also checks that the
//! service still answers in that shape) in `openapi/examples/`.

use utoipa::openapi::OpenApi as OpenApiDocument;

macro_rules! recorded {
    ($($operation:literal),* $(,)?) => {
        &[$(($operation, include_str!(concat!("../../openapi/examples/", $operation, ".json")))),*]
    };
}

/// (operationId, its recorded 2xx JSON body).
const RESPONSES: &[(&str, &str)] = recorded![
    "healthz",
    "readyz",
    "list_problems",
    "get_problem",
    "list_sources",
    "create_source",
    "get_source",
    "list_products",
    "create_product",
    "get_product",
    "put_product",
    "import_facts",
    "list_facts",
    "create_facts",
    "get_fact",
    "retract_fact",
    "list_scores",
    "get_score",
    "get_eu_crm",
    "get_history",
    "evaluate_scenario",
    "list_scenarios",
    "create_scenario",
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
    "list_keys",
    "create_key",
    "revoke_key",
    "list_audit",
];

/// (operationId, its recorded SVG picture).
const PICTURES: &[(&str, &str)] = &[
    (
        "get_chain_picture",
        include_str!("../../openapi/examples/get_chain_picture.svg"),
    ),
    (
        "get_history_picture",
        include_str!("../../openapi/examples/get_history_picture.svg"),
    ),
    (
        "get_product_map",
        include_str!("../../openapi/examples/get_product_map.svg"),
    ),
];

/// Sets each recorded body as the example of its operation's first 2xx
/// JSON response, and each recorded picture as its SVG response's.
pub struct ResponseExamples;

impl utoipa::Modify for ResponseExamples {
    fn modify(&self, openapi: &mut OpenApiDocument) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let Some(id) = operation.operation_id.as_deref() else {
                    continue;
                };
                if let Some((_, svg)) = PICTURES.iter().find(|(op, _)| *op == id) {
                    let success = operation.responses.responses.get_mut("200");
                    if let Some(utoipa::openapi::RefOr::T(response)) = success {
                        if let Some(content) = response.content.get_mut("image/svg+xml") {
                            content.example = (!svg.trim().is_empty())
                                .then(|| serde_json::Value::String((*svg).to_owned()));
                        }
                    }
                    continue;
                }
                let Some((_, text)) = RESPONSES.iter().find(|(op, _)| *op == id) else {
                    continue;
                };
                let example: serde_json::Value =
                    serde_json::from_str(text).expect("recorded examples are JSON");
                if example.is_null() {
                    continue;
                }
                let success = operation
                    .responses
                    .responses
                    .iter_mut()
                    .find(|(status, _)| status.starts_with('2'));
                if let Some((_, utoipa::openapi::RefOr::T(response))) = success {
                    if let Some(content) = response.content.get_mut("application/json") {
                        content.example = Some(example);
                    }
                }
            }
        }
    }
}
