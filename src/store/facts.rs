//! SQL for facts: batch inserts, streaming COPY, point-in-time listing and
//! retraction. Facts are never updated in place or deleted.

use std::borrow::Cow;
use std::pin::Pin;

use bytes::Bytes;
use deadpool_postgres::{GenericClient, Transaction};
use futures_util::SinkExt;
use time::{Date, OffsetDateTime};
use tokio_postgres::{CopyInSink, Row};

use super::sources::corrupt;
use super::{Page, StoreError};
use crate::domain::{
    Buyer, CountryCode, Fact, FactDefaults, FactRecord, FactStatus, Metric, Period, ProductId,
    SourceId, View,
};

const COLUMNS: &str = "id, product_id, country, buyer, facility, metric, value, unit, period_start, \
    period_end, status, controlled_by, expected_online, source_id, confidence, published_on, quote, \
    locator, note, recorded_at, retracted_at, retraction_reason, retraction_published_on";

/// The columns a write sets, with their SQL types, in the order of
/// [`insert_fields`]: the one list both the batch INSERT and the COPY use.
const INSERT_COLUMNS: [(&str, &str); 18] = [
    ("product_id", "text"),
    ("country", "text"),
    ("buyer", "text"),
    ("facility", "text"),
    ("metric", "text"),
    ("value", "float8"),
    ("unit", "text"),
    ("period_start", "date"),
    ("period_end", "date"),
    ("status", "text"),
    ("controlled_by", "text"),
    ("expected_online", "int4"),
    ("source_id", "text"),
    ("confidence", "float8"),
    ("published_on", "date"),
    ("quote", "text"),
    ("locator", "text"),
    ("note", "text"),
];

/// A fact's [`INSERT_COLUMNS`] in PostgreSQL's text form (`None` is NULL).
fn insert_fields(fact: &Fact, defaults: FactDefaults) -> [Option<Cow<'_, str>>; 18] {
    fn text(value: Option<&str>) -> Option<Cow<'_, str>> {
        value.map(Cow::Borrowed)
    }
    [
        text(fact.product.as_ref().map(ProductId::as_str)),
        text(fact.country.as_ref().map(CountryCode::as_str)),
        text(fact.buyer.as_ref().map(Buyer::as_str)),
        text(fact.facility.as_deref()),
        Some(Cow::Borrowed(fact.metric.as_str())),
        fact.value.map(|v| Cow::Owned(v.to_string())),
        Some(Cow::Borrowed(fact.unit.as_str())),
        Some(Cow::Owned(date(fact.period.start))),
        fact.period.end.map(|d| Cow::Owned(date(d))),
        Some(Cow::Borrowed(fact.status.as_str())),
        text(fact.controlled_by.as_ref().map(CountryCode::as_str)),
        fact.expected_online.map(|y| Cow::Owned(y.to_string())),
        Some(Cow::Borrowed(fact.source_id.as_str())),
        Some(Cow::Owned(defaults.confidence.to_string())),
        Some(Cow::Owned(date(defaults.published_on))),
        text(fact.quote.as_deref()),
        text(fact.locator.as_deref()),
        text(fact.note.as_deref()),
    ]
}

fn insert_column_names() -> String {
    let names: Vec<&str> = INSERT_COLUMNS.iter().map(|(name, _)| *name).collect();
    names.join(", ")
}

pub(super) fn record(row: &Row) -> Result<FactRecord, StoreError> {
    let parse_country = |column: &str| -> Result<Option<CountryCode>, StoreError> {
        row.get::<_, Option<&str>>(column)
            .map(|c| CountryCode::parse(c).ok_or_else(|| corrupt(format!("country {c}"))))
            .transpose()
    };
    let metric: &str = row.get("metric");
    let metric = Metric::parse(metric).ok_or_else(|| corrupt(format!("metric {metric}")))?;
    let status: &str = row.get("status");
    Ok(FactRecord {
        id: row.get("id"),
        product: row
            .get::<_, Option<&str>>("product_id")
            .map(|p| ProductId::parse(p).map_err(corrupt))
            .transpose()?,
        country: parse_country("country")?,
        buyer: row
            .get::<_, Option<&str>>("buyer")
            .map(|b| Buyer::parse(b).ok_or_else(|| corrupt(format!("buyer {b}"))))
            .transpose()?,
        facility: row.get("facility"),
        metric,
        value: row.get("value"),
        unit: metric.spec().unit,
        period: Period {
            start: row.get("period_start"),
            end: row.get("period_end"),
        },
        status: FactStatus::parse(status).ok_or_else(|| corrupt(format!("status {status}")))?,
        controlled_by: parse_country("controlled_by")?,
        expected_online: row.get("expected_online"),
        source_id: SourceId::parse(row.get("source_id")).map_err(corrupt)?,
        confidence: row.get("confidence"),
        published_on: row.get("published_on"),
        quote: row.get("quote"),
        locator: row.get("locator"),
        note: row.get("note"),
        recorded_at: row.get("recorded_at"),
        retracted_at: row.get("retracted_at"),
        retraction_reason: row.get("retraction_reason"),
        retraction_published_on: row.get("retraction_published_on"),
    })
}

/// Inserts validated facts in one statement; `defaults` holds what each
/// fact's write settled. Returns the new records in input order.
pub async fn insert_batch(
    client: &impl GenericClient,
    facts: &[Fact],
    defaults: &[FactDefaults],
) -> Result<Vec<FactRecord>, StoreError> {
    let mut columns: Vec<Vec<Option<String>>> = INSERT_COLUMNS
        .iter()
        .map(|_| Vec::with_capacity(facts.len()))
        .collect();
    for (fact, defaults) in facts.iter().zip(defaults) {
        for (column, field) in columns.iter_mut().zip(insert_fields(fact, *defaults)) {
            column.push(field.map(Cow::into_owned));
        }
    }
    let arrays: Vec<String> = (1..=INSERT_COLUMNS.len())
        .map(|n| format!("${n}::text[]"))
        .collect();
    let typed: Vec<String> = INSERT_COLUMNS
        .iter()
        .map(|(name, sql_type)| format!("{name}::{sql_type}"))
        .collect();
    let names = insert_column_names();
    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = columns
        .iter()
        .map(|column| column as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect();
    let rows = client
        .query(
            &format!(
                "INSERT INTO facts ({names})
                 SELECT {} FROM unnest({}) WITH ORDINALITY AS t({names}, n)
                 ORDER BY n
                 RETURNING {COLUMNS}",
                typed.join(", "),
                arrays.join(", ")
            ),
            &params,
        )
        .await?;
    let mut records = rows.iter().map(record).collect::<Result<Vec<_>, _>>()?;
    records.sort_by_key(|r| r.id);
    Ok(records)
}

pub async fn get(client: &impl GenericClient, id: i64) -> Result<Option<FactRecord>, StoreError> {
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM facts WHERE id = $1"),
            &[&id],
        )
        .await?;
    row.as_ref().map(record).transpose()
}

/// Every fact still standing (not retracted), in full.
pub async fn standing(client: &impl GenericClient) -> Result<Vec<FactRecord>, StoreError> {
    let rows = client
        .query(
            &format!("SELECT {COLUMNS} FROM facts WHERE retracted_at IS NULL"),
            &[],
        )
        .await?;
    rows.iter().map(record).collect()
}

/// Filters for listing facts. `None` means "any".
#[derive(Debug, Default, Clone)]
pub struct FactFilter {
    pub product: Option<String>,
    pub country: Option<String>,
    pub buyer: Option<String>,
    pub metric: Option<String>,
    pub source: Option<String>,
    pub status: Option<String>,
    /// Facts whose period overlaps `[period_from, period_to]`.
    pub period_from: Option<Date>,
    pub period_to: Option<Date>,
    /// The facts known at this instant in `view` (see [`View::knows`]).
    pub as_of: Option<OffsetDateTime>,
    pub view: View,
    pub include_retracted: bool,
}

/// Facts in id order after `after`. Ids only grow, so paging by id visits
/// every row present at the start exactly once, however many are added.
pub async fn list(
    client: &impl GenericClient,
    filter: &FactFilter,
    after: Option<i64>,
    limit: usize,
) -> Result<Page<FactRecord>, StoreError> {
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM facts
                 WHERE ($1::text IS NULL OR product_id = $1)
                   AND ($2::text IS NULL OR country = $2)
                   AND ($3::text IS NULL OR buyer = $3)
                   AND ($4::text IS NULL OR metric = $4)
                   AND ($5::text IS NULL OR source_id = $5)
                   AND ($6::text IS NULL OR status = $6)
                   AND ($7::date IS NULL OR period_end IS NULL OR period_end >= $7)
                   AND ($8::date IS NULL OR period_start <= $8)
                   AND ($9::timestamptz IS NULL
                        OR ($13 = 'public' AND published_on <= ($9 AT TIME ZONE 'UTC')::date)
                        OR ($13 = 'recorded' AND recorded_at <= $9)
                        OR $13 = 'current')
                   AND ($10 OR retracted_at IS NULL OR ($9::timestamptz IS NOT NULL AND (
                           ($13 = 'public' AND retraction_published_on > ($9 AT TIME ZONE 'UTC')::date)
                        OR ($13 = 'recorded' AND retracted_at > $9))))
                   AND ($11::int8 IS NULL OR id > $11)
                 ORDER BY id LIMIT $12"
            ),
            &[
                &filter.product,
                &filter.country,
                &filter.buyer,
                &filter.metric,
                &filter.source,
                &filter.status,
                &filter.period_from,
                &filter.period_to,
                &filter.as_of,
                &filter.include_retracted,
                &after,
                &(limit as i64 + 1),
                &filter.view.as_str(),
            ],
        )
        .await?;
    let items = rows.iter().map(record).collect::<Result<_, _>>()?;
    Ok(Page::from_rows(items, limit))
}

/// What happened to a retraction request.
#[derive(Debug)]
pub enum Retraction {
    Retracted(FactRecord),
    AlreadyRetracted(FactRecord),
    NotFound,
}

/// Retracts fact `id` now, the correction published on `published_on`
/// (default: today).
pub async fn retract(
    client: &impl GenericClient,
    id: i64,
    reason: &str,
    published_on: Option<Date>,
) -> Result<Retraction, StoreError> {
    let row = client
        .query_opt(
            &format!(
                "UPDATE facts SET retracted_at = clock_timestamp(), retraction_reason = $2,
                     retraction_published_on = COALESCE($3, (clock_timestamp() AT TIME ZONE 'UTC')::date)
                 WHERE id = $1 AND retracted_at IS NULL RETURNING {COLUMNS}"
            ),
            &[&id, &reason, &published_on],
        )
        .await?;
    match row {
        Some(row) => Ok(Retraction::Retracted(record(&row)?)),
        None => Ok(match get(client, id).await? {
            Some(existing) => Retraction::AlreadyRetracted(existing),
            None => Retraction::NotFound,
        }),
    }
}

/// A standing fact of a dataset release, as a later release compares it.
#[derive(Debug, Clone)]
pub struct ReleasedFact {
    pub id: i64,
    pub metric: String,
    pub product: Option<String>,
    pub country: Option<String>,
    pub buyer: Option<String>,
    pub period: Period,
    pub value: Option<f64>,
    /// When the fact's release was published.
    pub release_published_on: Option<Date>,
}

/// The unretracted facts citing a source whose id starts with `family`:
/// every release of one dataset.
pub async fn released(
    client: &impl GenericClient,
    family: &str,
) -> Result<Vec<ReleasedFact>, StoreError> {
    let rows = client
        .query(
            "SELECT f.id, f.metric, f.product_id, f.country, f.buyer, f.period_start, f.period_end,
                    f.value, s.published_on
             FROM facts f JOIN sources s ON s.id = f.source_id
             WHERE starts_with(f.source_id, $1) AND f.retracted_at IS NULL",
            &[&family],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| ReleasedFact {
            id: row.get(0),
            metric: row.get(1),
            product: row.get(2),
            country: row.get(3),
            buyer: row.get(4),
            period: Period {
                start: row.get(5),
                end: row.get(6),
            },
            value: row.get(7),
            release_published_on: row.get(8),
        })
        .collect())
}

/// Retracts the facts `ids` for `reason`, the correction published on
/// `published_on` (or the fact's own publication, if later).
pub async fn retract_all(
    client: &impl GenericClient,
    ids: &[i64],
    reason: &str,
    published_on: Date,
) -> Result<u64, StoreError> {
    Ok(client
        .execute(
            "UPDATE facts SET retracted_at = clock_timestamp(), retraction_reason = $2,
                 retraction_published_on = GREATEST($3, published_on)
             WHERE id = ANY($1) AND retracted_at IS NULL",
            &[&ids, &reason, &published_on],
        )
        .await?)
}

/// Ids of every product, for checking references without a query per fact.
pub async fn product_ids(
    client: &impl GenericClient,
) -> Result<std::collections::HashSet<String>, StoreError> {
    let rows = client.query("SELECT id FROM products", &[]).await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// Streams facts into the table with COPY, in bounded memory: rows are
/// buffered up to `FLUSH_BYTES` and then sent.
pub struct FactCopy {
    sink: Pin<Box<CopyInSink<Bytes>>>,
    buffer: String,
}

const FLUSH_BYTES: usize = 256 * 1024;

impl FactCopy {
    pub async fn start(tx: &Transaction<'_>) -> Result<FactCopy, StoreError> {
        // A stream of millions of rows may outlast the statement timeout;
        // its length is the client's to choose.
        tx.batch_execute("SET LOCAL statement_timeout = 0").await?;
        let sink = tx
            .copy_in(&format!(
                "COPY facts ({}) FROM STDIN",
                insert_column_names()
            ))
            .await?;
        Ok(FactCopy {
            sink: Box::pin(sink),
            buffer: String::with_capacity(FLUSH_BYTES + 4096),
        })
    }

    pub async fn push(&mut self, fact: &Fact, defaults: FactDefaults) -> Result<(), StoreError> {
        let b = &mut self.buffer;
        for value in insert_fields(fact, defaults) {
            field(b, value.as_deref());
        }
        b.pop();
        b.push('\n');
        if b.len() >= FLUSH_BYTES {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), StoreError> {
        let chunk = Bytes::from(std::mem::take(&mut self.buffer).into_bytes());
        self.buffer.reserve(FLUSH_BYTES + 4096);
        self.sink.send(chunk).await?;
        Ok(())
    }

    /// Sends what is left and ends the COPY; returns the rows written.
    pub async fn finish(mut self) -> Result<u64, StoreError> {
        if !self.buffer.is_empty() {
            self.flush().await?;
        }
        Ok(self.sink.as_mut().finish().await?)
    }
}

fn date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Appends one COPY text-format field and its tab separator.
fn field(buffer: &mut String, value: Option<&str>) {
    match value {
        None => buffer.push_str("\\N"),
        Some(text) => {
            for c in text.chars() {
                match c {
                    '\\' => buffer.push_str("\\\\"),
                    '\t' => buffer.push_str("\\t"),
                    '\n' => buffer.push_str("\\n"),
                    '\r' => buffer.push_str("\\r"),
                    c => buffer.push(c),
                }
            }
        }
    }
    buffer.push('\t');
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn copy_fields_escape_separators() {
        let mut buffer = String::new();
        field(&mut buffer, Some("a\tb\\c\nd"));
        field(&mut buffer, None);
        assert_eq!(buffer, "a\\tb\\\\c\\nd\t\\N\t");
    }
}
