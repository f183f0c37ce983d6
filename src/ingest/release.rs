//! Writing a dataset release: the facts a connector derived, compared with
//! the standing facts of the dataset's earlier releases, so that loading a
//! release again adds nothing, and a newer release adds its new years and
//! revises changed values by retracting the old fact (kept, and dated, so
//! the past reads as it was) beside the new one. What is written goes
//! through the streamed import, like any upload.

use std::collections::{HashMap, HashSet};

use deadpool_postgres::Transaction;
use time::{Date, OffsetDateTime};

use super::import::{Import, ImportFailed, OnError};
use super::rows::Format;
use crate::connectors::progress::Progress;
use crate::connectors::Derived;
use crate::domain::{NewFact, Period};
use crate::store::audit::Actor;
use crate::store::{self, StoreError};

/// What a release changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReleaseSummary {
    pub source_created: bool,
    pub facts_derived: u64,
    pub facts_written: u64,
    /// Derived facts identical to a standing one: nothing to do.
    pub facts_unchanged: u64,
    /// Standing facts of an earlier release replaced by a revised value.
    pub facts_revised: u64,
    /// Standing facts of an earlier release in a table the new one covers
    /// (same metric, product, buyer and period) that it no longer lists.
    pub facts_withdrawn: u64,
    /// Derived facts left out because a newer release covers their table.
    pub facts_older_than_standing: u64,
}

/// Why a release wrote nothing.
#[derive(Debug)]
pub enum ReleaseRefused {
    /// The release's source record is invalid: (field, message).
    Source(Vec<(&'static str, String)>),
    /// Derived facts failed the import's checks (a connector defect or a
    /// catalogue that lacks a product).
    Import(ImportFailed),
    Store(StoreError),
}

impl From<StoreError> for ReleaseRefused {
    fn from(error: StoreError) -> ReleaseRefused {
        ReleaseRefused::Store(error)
    }
}

/// What identifies a fact across releases: its metric, product, country,
/// buyer and period.
type Key = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Period,
);
/// The table a fact is a row of: its key without the country.
type Table = (String, Option<String>, Option<String>, Period);

fn table_of(key: &Key) -> Table {
    (key.0.clone(), key.1.clone(), key.3.clone(), key.4)
}

/// Values equal to the precision a release reports them to.
fn same_value(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
        (a, b) => a.is_none() && b.is_none(),
    }
}

/// Writes `derived` in `tx`; the caller commits.
pub async fn write_release(
    tx: &Transaction<'_>,
    derived: Derived,
    actor: &Actor,
) -> Result<ReleaseSummary, ReleaseRefused> {
    let today = OffsetDateTime::now_utc().date();
    let release = derived.release;
    let mut summary = ReleaseSummary {
        facts_derived: derived.facts.len() as u64,
        ..ReleaseSummary::default()
    };
    let source = release
        .source
        .clone()
        .validate(today)
        .map_err(ReleaseRefused::Source)?;
    if store::sources::get(tx, source.id.as_str()).await?.is_none() {
        store::sources::insert(tx, &source).await?;
        summary.source_created = true;
    }

    let standing: HashMap<Key, store::facts::ReleasedFact> =
        store::facts::released(tx, release.family)
            .await?
            .into_iter()
            .map(|fact| {
                let key = (
                    fact.metric.clone(),
                    fact.product.clone(),
                    fact.country.clone(),
                    fact.buyer.clone(),
                    fact.period,
                );
                (key, fact)
            })
            .collect();
    // Tables a newer release covers: this one must not add rows to them
    // (a row it lists may be one the newer release withdrew).
    let newer_tables: HashSet<Table> = standing
        .iter()
        .filter(|(_, fact)| fact.release_published_on > Some(release.published_on))
        .map(|(key, _)| table_of(key))
        .collect();
    let revision_day = release.published_on.min(today);
    let mut writes: Vec<NewFact> = Vec::new();
    let mut revised: Vec<i64> = Vec::new();
    let mut derived_keys: HashSet<Key> = HashSet::with_capacity(derived.facts.len());
    let mut tables: HashSet<Table> = HashSet::new();
    for mut fact in derived.facts {
        let Ok(period) = Period::parse(&fact.period) else {
            // The import names the problem.
            writes.push(fact);
            continue;
        };
        let key = (
            fact.metric.clone(),
            fact.product.clone(),
            fact.country.clone(),
            fact.buyer.clone(),
            period,
        );
        tables.insert(table_of(&key));
        match standing.get(&key) {
            None if newer_tables.contains(&table_of(&key)) => {
                summary.facts_older_than_standing += 1
            }
            None => writes.push(fact),
            Some(old) if same_value(old.value, fact.value) => summary.facts_unchanged += 1,
            Some(old) if old.release_published_on > Some(release.published_on) => {
                summary.facts_older_than_standing += 1
            }
            Some(old) => {
                revised.push(old.id);
                // A revised value is public from the release that revises it.
                fact.published_on = Some(revision_day.to_string());
                writes.push(fact);
            }
        }
        derived_keys.insert(key);
    }
    let withdrawn: Vec<i64> = standing
        .iter()
        .filter(|(key, old)| {
            !derived_keys.contains(*key)
                && tables.contains(&table_of(key))
                && old.release_published_on <= Some(release.published_on)
        })
        .map(|(_, old)| old.id)
        .collect();
    drop(standing);

    if !writes.is_empty() {
        summary.facts_written = import(tx, &writes, actor, &source.id.to_string()).await?;
    }
    let reason = format!("revised by {}", source.id);
    retract(tx, &revised, &reason, revision_day).await?;
    let reason = format!("no longer listed by {}", source.id);
    retract(tx, &withdrawn, &reason, revision_day).await?;
    summary.facts_revised = revised.len() as u64;
    summary.facts_withdrawn = withdrawn.len() as u64;
    if !revised.is_empty() || !withdrawn.is_empty() {
        actor
            .record(
                tx,
                serde_json::json!({
                    "release": source.id,
                    "facts_revised": summary.facts_revised,
                    "facts_withdrawn": summary.facts_withdrawn,
                }),
            )
            .await?;
    }
    Ok(summary)
}

/// Streams `facts` through the import as NDJSON, in abort mode: a derived
/// fact the checks refuse is a defect to see, not a row to drop.
async fn import(
    tx: &Transaction<'_>,
    facts: &[NewFact],
    actor: &Actor,
    label: &str,
) -> Result<u64, ReleaseRefused> {
    const CHUNK_FACTS: usize = 4096;
    let mut import = Import::start(tx, Format::Ndjson, OnError::Abort).await?;
    let mut progress = Progress::new(format!("writing {label}"), facts.len() as u64);
    let mut chunk = Vec::with_capacity(CHUNK_FACTS * 400);
    for batch in facts.chunks(CHUNK_FACTS) {
        chunk.clear();
        for fact in batch {
            serde_json::to_writer(&mut chunk, fact).expect("a fact serialises");
            chunk.push(b'\n');
        }
        import.feed(&chunk).await.map_err(ReleaseRefused::Import)?;
        progress.advance(batch.len() as u64);
    }
    progress.finish();
    let summary = import
        .finish(tx, actor)
        .await
        .map_err(ReleaseRefused::Import)?;
    Ok(summary.rows_written)
}

async fn retract(
    tx: &Transaction<'_>,
    ids: &[i64],
    reason: &str,
    day: Date,
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    for batch in ids.chunks(10_000) {
        store::facts::retract_all(tx, batch, reason, day).await?;
    }
    Ok(())
}
