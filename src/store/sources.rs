//! SQL for sources.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::{Page, StoreError};
use crate::domain::{Source, SourceId, SourceKind, SourceRecord};

const COLUMNS: &str = "id, title, publisher, kind, url, published_on, accessed_on, notes, \
                       reliability, reliability_overridden, recorded_at";

fn record(row: &Row) -> Result<SourceRecord, StoreError> {
    let id: String = row.get("id");
    let kind: String = row.get("kind");
    Ok(SourceRecord {
        id: SourceId::parse(&id).map_err(corrupt)?,
        title: row.get("title"),
        publisher: row.get("publisher"),
        kind: SourceKind::parse(&kind).ok_or_else(|| corrupt(format!("source kind {kind}")))?,
        url: row.get("url"),
        published_on: row.get("published_on"),
        accessed_on: row.get("accessed_on"),
        notes: row.get("notes"),
        reliability: row.get("reliability"),
        reliability_overridden: row.get("reliability_overridden"),
        recorded_at: row.get("recorded_at"),
    })
}

/// A stored value that no longer parses: a bug or a hand-edited row.
pub(super) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Other(anyhow::anyhow!("stored value does not parse: {what}"))
}

pub async fn insert(
    client: &impl GenericClient,
    source: &Source,
) -> Result<SourceRecord, StoreError> {
    let row = client
        .query_one(
            &format!(
                "INSERT INTO sources (id, title, publisher, kind, url, published_on, accessed_on, notes,
                                      reliability, reliability_overridden)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {COLUMNS}"
            ),
            &[
                &source.id.as_str(),
                &source.title,
                &source.publisher,
                &source.kind.as_str(),
                &source.url,
                &source.published_on,
                &source.accessed_on,
                &source.notes,
                &source.reliability,
                &source.reliability_overridden,
            ],
        )
        .await?;
    record(&row)
}

pub async fn get(
    client: &impl GenericClient,
    id: &str,
) -> Result<Option<SourceRecord>, StoreError> {
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM sources WHERE id = $1"),
            &[&id],
        )
        .await?;
    row.as_ref().map(record).transpose()
}

/// Sources ordered by id, after `after`, optionally of one kind.
pub async fn list(
    client: &impl GenericClient,
    kind: Option<SourceKind>,
    after: Option<&str>,
    limit: usize,
) -> Result<Page<SourceRecord>, StoreError> {
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM sources
                 WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR id > $2)
                 ORDER BY id LIMIT $3"
            ),
            &[&kind.map(SourceKind::as_str), &after, &(limit as i64 + 1)],
        )
        .await?;
    let items = rows.iter().map(record).collect::<Result<_, _>>()?;
    Ok(Page::from_rows(items, limit))
}

/// Reliability of each source, for defaulting fact confidence and for
/// checking that facts cite existing sources.
/// What a fact takes from its source when it gives none: the source's
/// reliability and publication date, by source id.
pub async fn fact_defaults(
    client: &impl GenericClient,
) -> Result<std::collections::HashMap<String, (f64, Option<time::Date>)>, StoreError> {
    let rows = client
        .query("SELECT id, reliability, published_on FROM sources", &[])
        .await?;
    Ok(rows
        .iter()
        .map(|row| (row.get(0), (row.get(1), row.get(2))))
        .collect())
}
