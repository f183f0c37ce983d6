//! SQL for saved scenarios: named change sets stored as posted, listed
//! newest first, deleted for good on request.

use deadpool_postgres::GenericClient;
use time::OffsetDateTime;
use tokio_postgres::Row;

use super::{Page, StoreError};

/// A saved scenario as stored; the request is the JSON it was saved with.
#[derive(Debug, Clone)]
pub struct StoredScenario {
    /// A UUID, in its hyphenated form.
    pub id: String,
    pub name: String,
    pub description: String,
    pub request: serde_json::Value,
    pub created_at: OffsetDateTime,
}

const COLUMNS: &str = "id::text AS id, name, description, request, created_at";

fn stored(row: &Row) -> StoredScenario {
    StoredScenario {
        id: row.get("id"),
        name: row.get("name"),
        description: row.get("description"),
        request: row.get("request"),
        created_at: row.get("created_at"),
    }
}

pub async fn insert(
    client: &impl GenericClient,
    name: &str,
    description: &str,
    request: &serde_json::Value,
) -> Result<StoredScenario, StoreError> {
    let id = uuid::Uuid::new_v4().to_string();
    let row = client
        .query_one(
            &format!(
                "INSERT INTO scenarios (id, name, description, request)
                 VALUES ($1::text::uuid, $2, $3, $4) RETURNING {COLUMNS}"
            ),
            &[&id, &name, &description, request],
        )
        .await?;
    Ok(stored(&row))
}

/// The scenario with this id; `id` must be a UUID.
pub async fn get(
    client: &impl GenericClient,
    id: &uuid::Uuid,
) -> Result<Option<StoredScenario>, StoreError> {
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM scenarios WHERE id = $1::text::uuid"),
            &[&id.to_string()],
        )
        .await?;
    Ok(row.as_ref().map(stored))
}

/// Newest first; `after` is the (created_at, id) of the last one seen.
pub async fn list(
    client: &impl GenericClient,
    after: Option<(OffsetDateTime, uuid::Uuid)>,
    limit: usize,
) -> Result<Page<StoredScenario>, StoreError> {
    let (at, id) = after.map_or((None, None), |(at, id)| (Some(at), Some(id.to_string())));
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM scenarios
                 WHERE $1::timestamptz IS NULL OR (created_at, id) < ($1, $2::text::uuid)
                 ORDER BY created_at DESC, id DESC LIMIT $3"
            ),
            &[&at, &id, &(limit as i64 + 1)],
        )
        .await?;
    Ok(Page::from_rows(rows.iter().map(stored).collect(), limit))
}

/// Deletes the scenario; whether it existed.
pub async fn delete(client: &impl GenericClient, id: &uuid::Uuid) -> Result<bool, StoreError> {
    let deleted = client
        .execute(
            "DELETE FROM scenarios WHERE id = $1::text::uuid",
            &[&id.to_string()],
        )
        .await?;
    Ok(deleted == 1)
}
