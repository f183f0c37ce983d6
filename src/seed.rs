//! The baseline dataset (`data/baseline/`), built into the binary and
//! loaded through the same validation as the API. Loading is idempotent:
//! sources and products that exist are left alone and facts identical to a
//! stored, unretracted one are skipped, so a second run changes nothing.

use std::collections::HashSet;

use anyhow::{anyhow, Context};
use deadpool_postgres::Pool;

use crate::domain::{Fact, FactRecord, NewProduct, NewSource};
use crate::ingest::{parse_fact, save_product, References, Rejected};
use crate::store::{self, StoreError};

/// A dataset as NDJSON texts, in the import endpoint's formats.
pub struct Dataset {
    pub sources: &'static str,
    pub products: &'static str,
    pub facts: &'static str,
}

pub const BASELINE: Dataset = Dataset {
    sources: include_str!("../data/baseline/sources.ndjson"),
    products: include_str!("../data/baseline/products.ndjson"),
    facts: include_str!("../data/baseline/facts.ndjson"),
};

/// What a load added.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub sources_added: usize,
    pub products_added: usize,
    pub facts_added: usize,
    pub facts_already_present: usize,
}

/// Loads `dataset` in one transaction: all of it, or nothing.
pub async fn seed(pool: &Pool, dataset: &Dataset) -> anyhow::Result<SeedReport> {
    let mut report = SeedReport::default();
    let mut client = pool.get().await.map_err(StoreError::from)?;
    let tx = client.transaction().await.map_err(StoreError::from)?;

    for (line, text) in lines(dataset.sources) {
        let new: NewSource =
            serde_json::from_str(text).with_context(|| format!("sources.ndjson line {line}"))?;
        let source = new
            .validate()
            .map_err(|errors| anyhow!("sources.ndjson line {line}: {errors:?}"))?;
        if store::sources::get(&tx, source.id.as_str())
            .await?
            .is_none()
        {
            store::sources::insert(&tx, &source).await?;
            report.sources_added += 1;
        }
    }

    for (line, text) in lines(dataset.products) {
        let new: NewProduct =
            serde_json::from_str(text).with_context(|| format!("products.ndjson line {line}"))?;
        let product = new
            .validate(None)
            .map_err(|errors| anyhow!("products.ndjson line {line}: {errors:?}"))?;
        if store::products::get(&tx, product.id.as_str())
            .await?
            .is_none()
        {
            save_product(&tx, &product)
                .await
                .map_err(|e| rejected("products.ndjson", line, e))?;
            report.products_added += 1;
        }
    }

    let references = References::load(&tx).await?;
    let stored: HashSet<String> = store::snapshot::facts(&tx, None)
        .await?
        .into_iter()
        .filter(|(record, _)| record.retracted_at.is_none())
        .map(|(record, _)| identity_of_record(&record))
        .collect();
    let mut facts = Vec::new();
    let mut confidences = Vec::new();
    for (line, text) in lines(dataset.facts) {
        let value: serde_json::Value =
            serde_json::from_str(text).with_context(|| format!("facts.ndjson line {line}"))?;
        let fact = parse_fact(value)
            .map_err(|e| anyhow!("facts.ndjson line {line}: {:?}", e.into_problems()))?;
        let confidence = references
            .check(&fact)
            .map_err(|problems| anyhow!("facts.ndjson line {line}: {problems:?}"))?;
        if stored.contains(&identity(&fact, confidence)) {
            report.facts_already_present += 1;
            continue;
        }
        facts.push(fact);
        confidences.push(confidence);
    }
    if !facts.is_empty() {
        store::facts::insert_batch(&tx, &facts, &confidences).await?;
        report.facts_added = facts.len();
    }
    if report.sources_added + report.products_added + report.facts_added > 0 {
        store::notify_changed(&tx, &store::Affected::everything()).await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(report)
}

/// Non-empty lines with their 1-based numbers.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty())
}

fn rejected(file: &str, line: usize, error: Rejected) -> anyhow::Error {
    match error {
        Rejected::Invalid(problems) => anyhow!("{file} line {line}: {problems:?}"),
        Rejected::Store(error) => anyhow!(error).context(format!("{file} line {line}")),
    }
}

/// What makes two facts the same claim: everything but server-set fields.
fn identity(fact: &Fact, confidence: f64) -> String {
    serde_json::json!([
        fact.product,
        fact.country,
        fact.buyer,
        fact.facility,
        fact.metric,
        fact.value,
        fact.period,
        fact.status,
        fact.controlled_by,
        fact.expected_online,
        fact.source_id,
        confidence,
        fact.quote,
        fact.locator,
        fact.note,
    ])
    .to_string()
}

fn identity_of_record(record: &FactRecord) -> String {
    serde_json::json!([
        record.product,
        record.country,
        record.buyer,
        record.facility,
        record.metric,
        record.value,
        record.period,
        record.status,
        record.controlled_by,
        record.expected_online,
        record.source_id,
        record.confidence,
        record.quote,
        record.locator,
        record.note,
    ])
    .to_string()
}

/// Whether the database holds no products yet (a first start).
pub async fn is_empty(pool: &Pool) -> Result<bool, StoreError> {
    let client = pool.get().await?;
    Ok(store::products::list(&client, None, None, 1)
        .await?
        .items
        .is_empty())
}
