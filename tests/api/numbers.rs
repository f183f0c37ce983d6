//! Derived numbers are written rounded to four decimal places, never as a
//! negative zero, in every response that carries them.

use serde_json::json;

use crate::helpers::{ok_body, spawn_seeded_app};

/// Every number in `value` that breaks the rule, with its JSON path; the
/// count of fractional numbers seen.
fn unrounded(value: &serde_json::Value, path: &str, found: &mut Vec<String>) -> usize {
    match value {
        serde_json::Value::Number(n) => {
            if let Some(x) = n.as_f64().filter(|_| !n.is_i64() && !n.is_u64()) {
                let on_grid = ((x * 1e4).round() / 1e4 - x).abs() <= x.abs() * 1e-15;
                if !on_grid || (x == 0.0 && x.is_sign_negative()) {
                    found.push(format!("{path} = {x}"));
                }
                return usize::from(x.fract() != 0.0);
            }
            0
        }
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| unrounded(item, &format!("{path}/{i}"), found))
            .sum(),
        serde_json::Value::Object(fields) => fields
            .iter()
            .map(|(key, item)| unrounded(item, &format!("{path}/{key}"), found))
            .sum(),
        _ => 0,
    }
}

#[tokio::test]
async fn derived_numbers_are_rounded_to_four_places_everywhere() {
    let app = spawn_seeded_app().await;
    let mut bodies = Vec::new();
    for path in [
        "/v1/scores/sintered-ndfeb-magnet",
        "/v1/scores/sintered-ndfeb-magnet?buyer=JP&uncertainty=true&draws=200",
        "/v1/scores/primary-gallium?as_of=2025-06-30&chain=independent",
        "/v1/scores?buyer=EU&limit=1000",
        "/v1/scores/ndpr-oxide/eu-crm",
        "/v1/scores/sintered-ndfeb-magnet/history?step=quarter",
    ] {
        bodies.push((path.to_owned(), ok_body(path, app.get(path).await).await));
    }
    let evaluation = app
        .post_json(
            "/v1/scenarios/evaluate",
            &json!({"buyer": "US", "changes": [{"export_control": {
                "product": "sintered-ndfeb-magnet", "level": "ban", "status": "in_force"}}]}),
        )
        .await;
    bodies.push(("scenario".into(), ok_body("scenario", evaluation).await));
    let exposure = app
        .post_json(
            "/v1/exposure",
            &json!({"buyer": "US", "items": [
                {"ref": "A", "product": "sintered-ndfeb-magnet", "annual_spend": 850000.123456, "supplier_country": "JP"},
                {"ref": "B", "product": "ndpr-oxide", "annual_spend": 300000}]}),
        )
        .await;
    bodies.push(("exposure".into(), ok_body("exposure", exposure).await));

    let mut checked = 0;
    for (what, body) in &bodies {
        let mut found = Vec::new();
        let fractions = unrounded(body, "", &mut found);
        assert!(found.is_empty(), "{what}: {found:?}");
        assert!(fractions > 0, "{what} carries fractions");
        checked += fractions;
    }
    assert!(checked > 300, "{checked} fractions checked");
}
