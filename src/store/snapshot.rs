//! SQL that loads what scoring reads: every product with its inputs, every
//! fact (retracted ones too, so any past instant can be reconstructed) with
//! its source's kind, and a version token for the data as a whole.

use deadpool_postgres::GenericClient;
use time::OffsetDateTime;
use tokio_postgres::Row;

use super::sources::corrupt;
use super::StoreError;
use crate::domain::{FactRecord, Product, ProductId, ProductInput, SourceKind, Stage};

/// A token that changes whenever anything scoring reads changes, and is the
/// same on every replica for the same data (it feeds ETags).
pub async fn data_version(client: &impl GenericClient) -> Result<String, StoreError> {
    let row = client
        .query_one(
            "SELECT concat_ws('/',
                (SELECT coalesce(max(id), 0) FROM facts),
                (SELECT count(retracted_at) FROM facts),
                (SELECT coalesce(max(revision), 0) || ':' || count(*) FROM product_revisions),
                (SELECT count(*) FROM sources))",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// How many facts there are, and how many of them are retracted. Facts are
/// never deleted and a retraction is final, so a set of facts read from
/// this database earlier or now that has as many of each is all of them.
pub async fn fact_counts(client: &impl GenericClient) -> Result<(i64, i64), StoreError> {
    let row = client
        .query_one("SELECT count(*), count(retracted_at) FROM facts", &[])
        .await?;
    Ok((row.get(0), row.get(1)))
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

/// Facts with their source's kind: all of them, or only those about the
/// given products (and the country-level ones, which have no product).
pub async fn facts(
    client: &impl GenericClient,
    only_products: Option<&[String]>,
) -> Result<Vec<(FactRecord, SourceKind)>, StoreError> {
    let rows = client
        .query(
            &format!(
                "SELECT {}, s.kind AS source_kind FROM facts f JOIN sources s ON s.id = f.source_id
                 WHERE $1::text[] IS NULL OR f.product_id = ANY($1) ORDER BY f.id",
                super::facts::COLUMNS_OF_F
            ),
            &[&only_products],
        )
        .await?;
    rows.iter().map(fact_with_kind).collect()
}

fn fact_with_kind(row: &Row) -> Result<(FactRecord, SourceKind), StoreError> {
    let kind: &str = row.get("source_kind");
    let kind = SourceKind::parse(kind).ok_or_else(|| corrupt(format!("source kind {kind}")))?;
    Ok((super::facts::record(row)?, kind))
}
