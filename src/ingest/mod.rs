//! The write path shared by the API and the `seed` command: parsing and
//! validating submitted facts and products against what is stored, so a
//! fact loaded from the baseline passes exactly the checks an API client's
//! would; and the framing of streamed uploads (`csv`, `rows`).

pub mod csv;
pub mod rows;

use std::collections::{HashMap, HashSet};

use crate::domain::{find_cycle, text, Fact, NewFact, Product};
use crate::store::{self, StoreError};

/// A write refused: the problems as (JSON Pointer, message), or the store failed.
#[derive(Debug)]
pub enum Rejected {
    Invalid(Vec<(String, String)>),
    Store(StoreError),
}

impl From<StoreError> for Rejected {
    fn from(error: StoreError) -> Rejected {
        Rejected::Store(error)
    }
}

fn problem(pointer: impl Into<String>, message: impl Into<String>) -> (String, String) {
    (pointer.into(), message.into())
}

/// The references a fact must make to stored things, read once per write.
pub struct References {
    products: HashSet<String>,
    reliabilities: HashMap<String, f64>,
}

impl References {
    pub async fn load(
        client: &impl deadpool_postgres::GenericClient,
    ) -> Result<References, StoreError> {
        Ok(References {
            products: store::facts::product_ids(client).await?,
            reliabilities: store::sources::reliabilities(client).await?,
        })
    }

    /// The fact's confidence, or the problems with what it refers to.
    pub fn check(&self, fact: &Fact) -> Result<f64, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        if let Some(product) = &fact.product {
            if !self.products.contains(product.as_str()) {
                problems.push(("product", format!("product `{product}` does not exist")));
            }
        }
        let confidence = store::facts::resolve_confidence(fact, &self.reliabilities);
        if confidence.is_none() {
            problems.push((
                "source_id",
                format!("source `{}` does not exist", fact.source_id),
            ));
        }
        match confidence {
            Some(confidence) if problems.is_empty() => Ok(confidence),
            _ => Err(problems),
        }
    }
}

/// Why a submitted fact was refused: it does not fit the schema (unknown
/// field, wrong type) or it breaks a rule. Problems are (field, message).
pub enum FactError {
    Schema(Vec<(String, String)>),
    Invalid(Vec<(String, String)>),
}

impl FactError {
    pub fn into_problems(self) -> Vec<(String, String)> {
        match self {
            FactError::Schema(problems) | FactError::Invalid(problems) => problems,
        }
    }
}

/// Parses and validates one submitted fact.
pub fn parse_fact(value: serde_json::Value) -> Result<Fact, FactError> {
    if let Some(pointer) = text::nul_pointer(&value) {
        let field = pointer.trim_start_matches('/').replace('/', ".");
        return Err(FactError::Invalid(vec![(
            field,
            text::NUL_MESSAGE.to_owned(),
        )]));
    }
    let new: NewFact = serde_path_to_error::deserialize(value).map_err(|error| {
        let field = error.path().to_string();
        let message = error.into_inner().to_string();
        FactError::Schema(vec![(
            if field == "." { String::new() } else { field },
            message,
        )])
    })?;
    new.validate().map_err(|problems| {
        FactError::Invalid(
            problems
                .into_iter()
                .map(|p| (p.field.to_owned(), p.message))
                .collect(),
        )
    })
}

/// Checks the product against the stored graph (inputs exist, stages run
/// upstream, no cycle) and writes it; returns whether it was created.
pub async fn save_product(
    tx: &deadpool_postgres::Transaction<'_>,
    product: &Product,
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
    });
    let created = store::products::upsert(tx, product, &body).await?;
    let mut affected = store::Affected::default();
    affected.add_product(product.id.as_str());
    for input in &product.inputs {
        affected.add_product(input.product.as_str());
    }
    store::notify_changed(tx, &affected).await?;
    Ok(created)
}
