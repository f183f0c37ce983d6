//! SQL for products and their input graph.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::sources::corrupt;
use super::{Page, StoreError};
use crate::domain::{HsCode, Product, ProductId, ProductInput, ProductRecord, Stage};

/// Serialises changes to the product graph, so two concurrent writes
/// cannot each pass the cycle check and together close a cycle.
pub async fn lock_graph(client: &impl GenericClient) -> Result<(), StoreError> {
    client
        .execute("LOCK TABLE product_inputs IN SHARE ROW EXCLUSIVE MODE", &[])
        .await?;
    Ok(())
}

/// Every product's stage, and its inputs.
pub async fn graph(
    client: &impl GenericClient,
) -> Result<
    (
        HashMap<ProductId, Stage>,
        HashMap<ProductId, Vec<ProductId>>,
    ),
    StoreError,
> {
    let stages = client
        .query("SELECT id, stage FROM products", &[])
        .await?
        .iter()
        .map(|row| Ok((parse_id(row.get(0))?, parse_stage(row.get(1))?)))
        .collect::<Result<_, StoreError>>()?;
    let mut edges: HashMap<ProductId, Vec<ProductId>> = HashMap::new();
    for row in client
        .query("SELECT product_id, input_id FROM product_inputs", &[])
        .await?
    {
        edges
            .entry(parse_id(row.get(0))?)
            .or_default()
            .push(parse_id(row.get(1))?);
    }
    Ok((stages, edges))
}

fn parse_id(id: &str) -> Result<ProductId, StoreError> {
    ProductId::parse(id).map_err(corrupt)
}

fn parse_stage(stage: &str) -> Result<Stage, StoreError> {
    Stage::parse(stage).ok_or_else(|| corrupt(format!("stage {stage}")))
}

/// Writes a product (creating or replacing it) and a new revision; returns
/// whether it was created.
pub async fn upsert(
    client: &impl GenericClient,
    product: &Product,
    body: &serde_json::Value,
) -> Result<bool, StoreError> {
    let created: bool = client
        .query_one(
            "INSERT INTO products (id, name, stage, description, hs_codes) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET name = $2, stage = $3, description = $4, hs_codes = $5,
                                            updated_at = clock_timestamp()
             RETURNING (xmax = 0)",
            &[
                &product.id.as_str(),
                &product.name,
                &product.stage.as_str(),
                &product.description,
                &product.hs_codes.iter().map(HsCode::as_str).collect::<Vec<_>>(),
            ],
        )
        .await?
        .get(0);
    client
        .execute(
            "DELETE FROM product_inputs WHERE product_id = $1",
            &[&product.id.as_str()],
        )
        .await?;
    for input in &product.inputs {
        client
            .execute(
                "INSERT INTO product_inputs (product_id, input_id, share, essential) VALUES ($1, $2, $3, $4)",
                &[&product.id.as_str(), &input.product.as_str(), &input.share, &input.essential],
            )
            .await?;
    }
    client
        .execute(
            "INSERT INTO product_revisions (product_id, revision, body)
             SELECT $1, coalesce(max(revision), 0) + 1, $2 FROM product_revisions WHERE product_id = $1",
            &[&product.id.as_str(), body],
        )
        .await?;
    Ok(created)
}

const SELECT: &str = "SELECT p.id, p.name, p.stage, p.description, p.hs_codes, p.updated_at,
        (SELECT coalesce(max(revision), 0) FROM product_revisions r WHERE r.product_id = p.id) AS revision,
        coalesce((SELECT json_agg(json_build_object('product', i.input_id, 'share', i.share, 'essential', i.essential)
                              ORDER BY i.input_id)
                  FROM product_inputs i WHERE i.product_id = p.id), '[]') AS inputs,
        coalesce((SELECT json_agg(u.product_id ORDER BY u.product_id)
                  FROM product_inputs u WHERE u.input_id = p.id), '[]') AS used_by
    FROM products p";

fn record(row: &Row) -> Result<ProductRecord, StoreError> {
    let inputs: serde_json::Value = row.get("inputs");
    let used_by: serde_json::Value = row.get("used_by");
    Ok(ProductRecord {
        id: parse_id(row.get("id"))?,
        name: row.get("name"),
        stage: parse_stage(row.get("stage"))?,
        description: row.get("description"),
        inputs: serde_json::from_value::<Vec<ProductInput>>(inputs).map_err(corrupt)?,
        hs_codes: row
            .get::<_, Vec<String>>("hs_codes")
            .iter()
            .map(|code| HsCode::parse(code).map_err(corrupt))
            .collect::<Result<_, _>>()?,
        used_by: serde_json::from_value(used_by).map_err(corrupt)?,
        revision: row.get("revision"),
        updated_at: row.get("updated_at"),
    })
}

pub async fn get(
    client: &impl GenericClient,
    id: &str,
) -> Result<Option<ProductRecord>, StoreError> {
    let row = client
        .query_opt(&format!("{SELECT} WHERE p.id = $1"), &[&id])
        .await?;
    row.as_ref().map(record).transpose()
}

pub async fn list(
    client: &impl GenericClient,
    stage: Option<Stage>,
    after: Option<&str>,
    limit: usize,
) -> Result<Page<ProductRecord>, StoreError> {
    let rows = client
        .query(
            &format!(
                "{SELECT} WHERE ($1::text IS NULL OR p.stage = $1) AND ($2::text IS NULL OR p.id > $2)
                 ORDER BY p.id LIMIT $3"
            ),
            &[&stage.map(Stage::as_str), &after, &(limit as i64 + 1)],
        )
        .await?;
    let items = rows.iter().map(record).collect::<Result<_, _>>()?;
    Ok(Page::from_rows(items, limit))
}

/// Each HS code's products: how trade flows map to the catalogue.
pub async fn trade_codes(
    client: &impl GenericClient,
) -> Result<HashMap<HsCode, Vec<ProductId>>, StoreError> {
    let rows = client
        .query(
            "SELECT code, array_agg(id ORDER BY id) FROM products, unnest(hs_codes) AS code GROUP BY code",
            &[],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let code = HsCode::parse(row.get(0)).map_err(corrupt)?;
            let products = row
                .get::<_, Vec<&str>>(1)
                .into_iter()
                .map(parse_id)
                .collect::<Result<_, _>>()?;
            Ok((code, products))
        })
        .collect()
}

/// Which of `ids` are stored products.
pub async fn existing(
    client: &impl GenericClient,
    ids: &[&str],
) -> Result<std::collections::HashSet<String>, StoreError> {
    let rows = client
        .query("SELECT id FROM products WHERE id = ANY ($1)", &[&ids])
        .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}
