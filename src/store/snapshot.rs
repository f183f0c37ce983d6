//! SQL that loads what scoring reads: every product with its inputs, every
//! fact (retracted ones too, so any past instant can be reconstructed) with
//! its source's kind, and a version token for the data as a whole.

use std::collections::HashMap;
use std::sync::Arc;

use deadpool_postgres::GenericClient;
use futures_util::TryStreamExt;
use time::OffsetDateTime;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::sources::corrupt;
use super::StoreError;
use crate::domain::{
    Buyer, CountryCode, FactStatus, Knowledge, Metric, Period, Product, ProductId, ProductInput,
    SourceId, SourceKind, Stage,
};
use crate::scoring::SnapshotFact;

/// The product graph's revision: the latest revision and how many there are.
const GRAPH_REVISION: &str =
    "SELECT coalesce(max(revision), 0) || ':' || count(*) FROM product_revisions";

/// A read-only repeatable-read transaction: every read in it sees one
/// instant, so a version read in it matches exactly the rows loaded.
pub async fn consistent_read(
    client: &mut deadpool_postgres::Client,
) -> Result<deadpool_postgres::Transaction<'_>, StoreError> {
    Ok(client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?)
}

/// A token that changes whenever anything scoring reads changes, and is the
/// same on every replica for the same data (it feeds ETags).
pub async fn data_version(client: &impl GenericClient) -> Result<String, StoreError> {
    let sql = format!(
        "SELECT concat_ws('/',
            (SELECT coalesce(max(id), 0) FROM facts),
            (SELECT count(*) FROM facts WHERE retracted_at IS NOT NULL),
            ({GRAPH_REVISION}),
            (SELECT count(*) FROM sources))"
    );
    let row = client.query_one(&sql, &[]).await?;
    Ok(row.get(0))
}

/// Which revision the product graph is at: when it is the one loaded
/// before, neither the products nor their revisions need reading again.
pub async fn graph_revision(client: &impl GenericClient) -> Result<String, StoreError> {
    let row = client.query_one(GRAPH_REVISION, &[]).await?;
    Ok(row.get(0))
}

/// What the reading transaction sees, as PostgreSQL's snapshot text: given
/// back to [`facts`] later, it finds exactly the facts written since.
pub async fn visible_writes(client: &impl GenericClient) -> Result<String, StoreError> {
    let row = client
        .query_one("SELECT pg_current_snapshot()::text", &[])
        .await?;
    Ok(row.get(0))
}

/// Whether any fact was written since a reader saw `visible_writes` (see
/// [`FactsWritten::Since`]).
pub async fn facts_written_since(
    client: &impl GenericClient,
    visible_writes: &str,
) -> Result<bool, StoreError> {
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM facts
                WHERE written_in >= pg_snapshot_xmin($1::text::pg_snapshot)
                  AND NOT pg_visible_in_snapshot(written_in, $1::text::pg_snapshot))",
            &[&visible_writes],
        )
        .await?;
    Ok(row.get(0))
}

/// How many facts there are, to size a full load.
pub async fn fact_count(client: &impl GenericClient) -> Result<i64, StoreError> {
    let row = client.query_one("SELECT count(*) FROM facts", &[]).await?;
    Ok(row.get(0))
}

pub async fn products(client: &impl GenericClient) -> Result<Vec<Product>, StoreError> {
    let rows = client
        .query(
            "SELECT p.id, p.name, p.stage, p.description,
                coalesce((SELECT json_agg(json_build_object('product', i.input_id, 'share', i.share,
                                                            'essential', i.essential) ORDER BY i.input_id)
                          FROM product_inputs i WHERE i.product_id = p.id), '[]') AS inputs
             FROM products p ORDER BY p.id",
            &[],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let stage: &str = row.get("stage");
            Ok(Product {
                id: ProductId::parse(row.get("id")).map_err(corrupt)?,
                name: row.get("name"),
                stage: Stage::parse(stage).ok_or_else(|| corrupt(format!("stage {stage}")))?,
                description: row.get("description"),
                inputs: serde_json::from_value::<Vec<ProductInput>>(row.get("inputs"))
                    .map_err(corrupt)?,
                // The method reads no trade codes.
                hs_codes: Vec::new(),
            })
        })
        .collect()
}

/// Every revision of every product, with when it was recorded: the graph
/// of any past instant.
pub async fn product_revisions(
    client: &impl GenericClient,
) -> Result<Vec<(OffsetDateTime, Product)>, StoreError> {
    let rows = client
        .query(
            "SELECT product_id, body, recorded_at FROM product_revisions
             ORDER BY recorded_at, product_id, revision",
            &[],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let body: serde_json::Value = row.get("body");
            let stage = body["stage"].as_str().unwrap_or_default();
            let product = Product {
                id: ProductId::parse(row.get("product_id")).map_err(corrupt)?,
                name: body["name"].as_str().unwrap_or_default().to_owned(),
                stage: Stage::parse(stage).ok_or_else(|| corrupt(format!("stage {stage}")))?,
                description: body["description"].as_str().unwrap_or_default().to_owned(),
                inputs: serde_json::from_value::<Vec<ProductInput>>(body["inputs"].clone())
                    .map_err(corrupt)?,
                hs_codes: Vec::new(),
            };
            let mut product = product;
            // In the order `products` gives the live graph, so the same graph
            // scores the same, number for number.
            product.inputs.sort_by(|a, b| a.product.cmp(&b.product));
            Ok((row.get("recorded_at"), product))
        })
        .collect()
}

/// The columns scoring reads, in the order [`Shared::fact`] reads them: no
/// quotes, notes or other text, which the API serves from the table.
const SCORING_COLUMNS: &str = "f.id, f.product_id, f.country, f.buyer, f.facility, f.metric, \
    f.value, f.period_start, f.period_end, f.status, f.controlled_by, f.expected_online, \
    f.source_id, s.kind, f.confidence, f.published_on, f.recorded_at, f.retracted_at, \
    f.retraction_published_on";

/// Which facts [`facts`] reads.
#[derive(Debug, Clone, Copy)]
pub enum FactsWritten<'a> {
    Ever,
    /// Written (inserted, or retracted) by a transaction that the reader
    /// with these [`visible_writes`] could not see: a cost that follows
    /// the change, found through the index of writers.
    Since(&'a str),
}

/// Facts as scoring reads them, streamed to `each` in no particular order.
/// Rows are converted as they arrive, so a million facts never sit in
/// memory twice.
pub async fn facts(
    client: &impl GenericClient,
    written: FactsWritten<'_>,
    mut each: impl FnMut(SnapshotFact),
) -> Result<(), StoreError> {
    let since = match written {
        FactsWritten::Ever => None,
        FactsWritten::Since(snapshot) => Some(snapshot),
    };
    let sql = format!(
        "SELECT {SCORING_COLUMNS} FROM facts f JOIN sources s ON s.id = f.source_id
         WHERE $1::text IS NULL
            OR (f.written_in >= pg_snapshot_xmin($1::text::pg_snapshot)
                AND NOT pg_visible_in_snapshot(f.written_in, $1::text::pg_snapshot))"
    );
    let params: [&(dyn ToSql + Sync); 1] = [&since];
    let rows = client.query_raw(&sql, params).await?;
    futures_util::pin_mut!(rows);
    let mut shared = Shared::default();
    while let Some(row) = rows.try_next().await? {
        each(shared.fact(&row)?);
    }
    Ok(())
}

/// One copy of each product id, source id and facility name, however many
/// facts repeat it.
#[derive(Default)]
struct Shared {
    products: HashMap<Box<str>, ProductId>,
    sources: HashMap<Box<str>, SourceId>,
    facilities: HashMap<Box<str>, Arc<str>>,
}

impl Shared {
    fn fact(&mut self, row: &Row) -> Result<SnapshotFact, StoreError> {
        let country = |column: usize| -> Result<Option<CountryCode>, StoreError> {
            row.get::<_, Option<&str>>(column)
                .map(|c| CountryCode::parse(c).ok_or_else(|| corrupt(format!("country {c}"))))
                .transpose()
        };
        let metric: &str = row.get(5);
        let status: &str = row.get(9);
        let kind: &str = row.get(13);
        Ok(SnapshotFact {
            id: row.get(0),
            product: row
                .get::<_, Option<&str>>(1)
                .map(|p| shared(&mut self.products, p, ProductId::parse))
                .transpose()?,
            country: country(2)?,
            buyer: row
                .get::<_, Option<&str>>(3)
                .map(|b| Buyer::parse(b).ok_or_else(|| corrupt(format!("buyer {b}"))))
                .transpose()?,
            facility: row
                .get::<_, Option<&str>>(4)
                .map(|f| shared(&mut self.facilities, f, |f| Ok::<_, String>(Arc::from(f))))
                .transpose()?,
            metric: Metric::parse(metric).ok_or_else(|| corrupt(format!("metric {metric}")))?,
            value: row.get(6),
            period: Period {
                start: row.get(7),
                end: row.get(8),
            },
            status: FactStatus::parse(status).ok_or_else(|| corrupt(format!("status {status}")))?,
            controlled_by: country(10)?,
            expected_online: row.get(11),
            source_id: shared(&mut self.sources, row.get(12), SourceId::parse)?,
            source_kind: SourceKind::parse(kind)
                .ok_or_else(|| corrupt(format!("source kind {kind}")))?,
            confidence: row.get(14),
            knowledge: Knowledge {
                published_on: row.get(15),
                recorded_at: row.get(16),
                retracted_at: row.get(17),
                retraction_published_on: row.get(18),
            },
        })
    }
}

/// The shared copy of `text`, parsed with `parse` the first time it is seen.
fn shared<T: Clone, E: std::fmt::Display>(
    seen: &mut HashMap<Box<str>, T>,
    text: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, StoreError> {
    if let Some(value) = seen.get(text) {
        return Ok(value.clone());
    }
    let value = parse(text).map_err(corrupt)?;
    seen.insert(text.into(), value.clone());
    Ok(value)
}
