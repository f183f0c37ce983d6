//! SQL for API keys. Only a key's SHA-256 is stored.

use deadpool_postgres::GenericClient;
use serde::Serialize;
use time::OffsetDateTime;
use tokio_postgres::Row;
use utoipa::ToSchema;

use super::sources::corrupt;
use super::StoreError;
use crate::domain::Scope;

/// A key as listed: never its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyRecord {
    /// The key's id (`/v1/keys/{id}`).
    #[schema(example = 1)]
    pub id: i64,
    /// What the key is for.
    #[schema(example = "nightly USGS import")]
    pub name: String,
    /// The public part of the key (`ck_<prefix>_…`), to recognise it.
    #[schema(example = "3fa85f64")]
    pub prefix: String,
    /// What the key may do (`admin` includes `ingest`, which includes
    /// `read`).
    pub scopes: Vec<Scope>,
    /// When it was created (server time, UTC).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// The key that created this one (none for keys made on the command line).
    pub created_by: Option<i64>,
    /// When it was revoked; absent while it is valid.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<OffsetDateTime>,
}

const COLUMNS: &str = "id, name, prefix, scopes, created_at, created_by, revoked_at";

fn record(row: &Row) -> Result<KeyRecord, StoreError> {
    let scopes: Vec<String> = row.get("scopes");
    Ok(KeyRecord {
        id: row.get("id"),
        name: row.get("name"),
        prefix: row.get("prefix"),
        scopes: scopes
            .iter()
            .map(|s| Scope::parse(s).ok_or_else(|| corrupt(format!("scope {s}"))))
            .collect::<Result<_, _>>()?,
        created_at: row.get("created_at"),
        created_by: row.get("created_by"),
        revoked_at: row.get("revoked_at"),
    })
}

pub async fn insert(
    client: &impl GenericClient,
    name: &str,
    scopes: &[Scope],
    prefix: &str,
    secret_hash: &[u8; 32],
    created_by: Option<i64>,
) -> Result<KeyRecord, StoreError> {
    let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    let row = client
        .query_one(
            &format!(
                "INSERT INTO api_keys (name, prefix, secret_hash, scopes, created_by)
                 VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
            ),
            &[
                &name,
                &prefix,
                &secret_hash.as_slice(),
                &scopes,
                &created_by,
            ],
        )
        .await?;
    record(&row)
}

/// A live (unrevoked) key by its public prefix, with its stored hash.
pub async fn live_by_prefix(
    client: &impl GenericClient,
    prefix: &str,
) -> Result<Option<(KeyRecord, Vec<u8>)>, StoreError> {
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS}, secret_hash FROM api_keys WHERE prefix = $1 AND revoked_at IS NULL"),
            &[&prefix],
        )
        .await?;
    row.map(|row| Ok((record(&row)?, row.get("secret_hash"))))
        .transpose()
}

pub async fn list(client: &impl GenericClient) -> Result<Vec<KeyRecord>, StoreError> {
    let rows = client
        .query(&format!("SELECT {COLUMNS} FROM api_keys ORDER BY id"), &[])
        .await?;
    rows.iter().map(record).collect()
}

/// Revokes a key; `None` if there is no such live key.
pub async fn revoke(client: &impl GenericClient, id: i64) -> Result<Option<KeyRecord>, StoreError> {
    let row = client
        .query_opt(
            &format!("UPDATE api_keys SET revoked_at = clock_timestamp() WHERE id = $1 AND revoked_at IS NULL RETURNING {COLUMNS}"),
            &[&id],
        )
        .await?;
    row.as_ref().map(record).transpose()
}
