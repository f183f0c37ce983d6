//! Writing facts: a batch (`POST /v1/facts` and `seed`) and a retraction.
//! Each checks what the facts refer to, writes them, records the audit row
//! and queues the change notification inside the caller's transaction, so
//! the caller's commit makes all of it visible at once.

use deadpool_postgres::Transaction;
use time::{Date, OffsetDateTime};

use super::{References, Rejected};
use crate::domain::{Fact, FactRecord};
use crate::store::audit::Actor;
use crate::store::{self, StoreError};

/// Writes `facts` in one statement; ids are in input order. A fact whose
/// product or source does not exist rejects the whole batch, each problem
/// at `pointer(index, field)`.
pub async fn write_facts(
    tx: &Transaction<'_>,
    facts: &[Fact],
    actor: &Actor,
    pointer: impl Fn(usize, &str) -> String,
) -> Result<Vec<FactRecord>, Rejected> {
    let references = References::load(tx).await?;
    let mut confidences = Vec::with_capacity(facts.len());
    let mut problems = Vec::new();
    for (index, fact) in facts.iter().enumerate() {
        match references.check(fact) {
            Ok(confidence) => confidences.push(confidence),
            Err(found) => problems.extend(
                found
                    .into_iter()
                    .map(|(field, message)| (pointer(index, field), message)),
            ),
        }
    }
    if !problems.is_empty() {
        return Err(Rejected::Invalid(problems));
    }
    let records = store::facts::insert_batch(tx, facts, &confidences).await?;
    let ids: Vec<i64> = records.iter().map(|r| r.id).collect();
    actor
        .record(tx, serde_json::json!({ "facts": ids }))
        .await?;
    Ok(records)
}

/// Why a retraction did not happen.
#[derive(Debug)]
pub enum RetractionRefused {
    NotFound,
    AlreadyRetracted(Option<OffsetDateTime>),
    /// The correction's publication date is impossible for this fact.
    PublishedOn(String),
    Store(StoreError),
}

impl From<StoreError> for RetractionRefused {
    fn from(error: StoreError) -> RetractionRefused {
        RetractionRefused::Store(error)
    }
}

/// Retracts fact `id` for `reason`, the correction published on
/// `published_on` (default today): not before the fact's own publication
/// nor after today. The fact stays stored.
pub async fn retract_fact(
    tx: &Transaction<'_>,
    id: i64,
    reason: &str,
    published_on: Option<Date>,
    actor: &Actor,
) -> Result<FactRecord, RetractionRefused> {
    let fact = store::facts::get(tx, id)
        .await?
        .ok_or(RetractionRefused::NotFound)?;
    if fact.retracted_at.is_some() {
        return Err(RetractionRefused::AlreadyRetracted(fact.retracted_at));
    }
    let today = OffsetDateTime::now_utc().date();
    let day = published_on.unwrap_or(today);
    if day > today {
        return Err(RetractionRefused::PublishedOn(format!(
            "must not be after today ({today})"
        )));
    }
    if day < fact.published_on {
        return Err(RetractionRefused::PublishedOn(format!(
            "must not be before the fact's own publication ({})",
            fact.published_on
        )));
    }
    let retracted = match store::facts::retract(tx, id, reason, Some(day)).await? {
        store::facts::Retraction::Retracted(fact) => fact,
        store::facts::Retraction::AlreadyRetracted(fact) => {
            return Err(RetractionRefused::AlreadyRetracted(fact.retracted_at))
        }
        store::facts::Retraction::NotFound => return Err(RetractionRefused::NotFound),
    };
    actor
        .record(tx, serde_json::json!({ "facts": [id] }))
        .await?;
    Ok(retracted)
}
