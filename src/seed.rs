//! The baseline dataset (`data/baseline/`), built into the binary and
//! loaded through the write layer the API uses (`ingest`). Loading is idempotent:
//! sources and products that exist are left alone and facts identical to a
//! stored, unretracted one are skipped, so a second run changes nothing.

use std::collections::HashSet;

use anyhow::{anyhow, Context};
use deadpool_postgres::Pool;

use time::OffsetDateTime;

use crate::domain::{FactRecord, NewProduct, NewSource};
use crate::ingest::facts::write_facts;
use crate::ingest::products::save_product;
use crate::ingest::{parse_fact, References, Rejected};
use crate::store::audit::Actor;
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
    let actor = Actor::command("seed");

    for (line, text) in lines(dataset.sources) {
        let new: NewSource =
            serde_json::from_str(text).with_context(|| format!("sources.ndjson line {line}"))?;
        let source = new
            .validate(OffsetDateTime::now_utc().date())
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
            save_product(&tx, &product, &actor)
                .await
                .map_err(|e| rejected(&format!("products.ndjson line {line}"), e))?;
            report.products_added += 1;
        }
    }

    let references = References::load(&tx).await?;
    let stored: HashSet<String> = store::facts::standing(&tx)
        .await?
        .iter()
        .map(FactRecord::claim)
        .collect();
    let mut facts = Vec::new();
    let mut lines_of_facts = Vec::new();
    for (line, text) in lines(dataset.facts) {
        let value: serde_json::Value =
            serde_json::from_str(text).with_context(|| format!("facts.ndjson line {line}"))?;
        let fact = parse_fact(value)
            .map_err(|e| anyhow!("facts.ndjson line {line}: {:?}", e.into_problems()))?;
        let confidence = references
            .check(&fact)
            .map_err(|problems| anyhow!("facts.ndjson line {line}: {problems:?}"))?;
        let claim =
            FactRecord::from_fact(0, fact.clone(), confidence, OffsetDateTime::UNIX_EPOCH).claim();
        if stored.contains(&claim) {
            report.facts_already_present += 1;
            continue;
        }
        facts.push(fact);
        lines_of_facts.push(line);
    }
    if !facts.is_empty() {
        let pointer = |index: usize, field: &str| format!("line {} {field}", lines_of_facts[index]);
        write_facts(&tx, &facts, &actor, pointer)
            .await
            .map_err(|e| rejected("facts.ndjson", e))?;
        report.facts_added = facts.len();
    }
    tx.commit().await.map_err(StoreError::from)?;
    if report.sources_added + report.products_added + report.facts_added > 0 {
        store::announce_changes(&client).await?;
    }
    Ok(report)
}

/// Non-empty lines with their 1-based numbers.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty())
}

fn rejected(at: &str, error: Rejected) -> anyhow::Error {
    match error {
        Rejected::Invalid(problems) => anyhow!("{at}: {problems:?}"),
        Rejected::Store(error) => anyhow!(error).context(at.to_owned()),
    }
}

/// Whether the database holds no products yet (a first start).
pub async fn is_empty(pool: &Pool) -> Result<bool, StoreError> {
    let client = pool.get().await?;
    Ok(store::products::list(&client, None, None, 1)
        .await?
        .items
        .is_empty())
}
