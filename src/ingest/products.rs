//! Saving a product: checked against the stored graph (inputs exist,
//! stages run upstream, no cycle) under a lock, so concurrent writers
//! cannot close a cycle between them.

use super::{problem, Rejected};
use crate::domain::{find_cycle, Product};
use crate::store::{self, audit::Actor};

/// Checks the product against the stored graph (inputs exist, stages run
/// upstream, no cycle) and writes it; returns whether it was created.
pub async fn save_product(
    tx: &deadpool_postgres::Transaction<'_>,
    product: &Product,
    actor: &Actor,
) -> Result<bool, Rejected> {
    store::products::lock_graph(tx).await?;
    let (stages, mut edges) = store::products::graph(tx).await?;
    let mut errors = Vec::new();
    for (index, input) in product.inputs.iter().enumerate() {
        match stages.get(&input.product) {
            None => errors.push(problem(format!("/inputs/{index}/product"), format!("product `{}` does not exist", input.product))),
            Some(stage) if *stage > product.stage => errors.push(problem(
                format!("/inputs/{index}/product"),
                format!("`{}` is at the {stage} stage, downstream of {} ({}): inputs must be at the same or an earlier stage", input.product, product.id, product.stage),
            )),
            Some(_) => {}
        }
    }
    // Users must stay at the same or a later stage than this product.
    for (user, inputs) in &edges {
        if inputs.contains(&product.id)
            && stages.get(user).is_some_and(|stage| *stage < product.stage)
        {
            errors.push(problem(
                "/stage",
                format!("`{user}` uses this product at an earlier stage"),
            ));
        }
    }
    edges.remove(&product.id);
    let inputs: Vec<_> = product.inputs.iter().map(|i| &i.product).collect();
    if let Some(cycle) = find_cycle(&product.id, inputs, &edges) {
        let path: Vec<&str> = cycle.iter().map(|p| p.as_str()).collect();
        errors.push(problem(
            "/inputs",
            format!("these inputs would close a cycle: {}", path.join(" → ")),
        ));
    }
    if !errors.is_empty() {
        return Err(Rejected::Invalid(errors));
    }
    let body = serde_json::json!({
        "name": product.name, "stage": product.stage, "description": product.description, "inputs": product.inputs,
        "hs_codes": product.hs_codes,
    });
    let created = store::products::upsert(tx, product, &body).await?;
    actor
        .record(tx, serde_json::json!({ "products": [product.id] }))
        .await?;
    Ok(created)
}
