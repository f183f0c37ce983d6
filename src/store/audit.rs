//! SQL for the audit trail: one row per committed write, inserted in the
//! write's own transaction so a rolled-back write leaves no trace.

use deadpool_postgres::GenericClient;
use serde::Serialize;
use time::OffsetDateTime;
use tokio_postgres::Row;
use utoipa::ToSchema;

use super::{Page, StoreError};

/// Who wrote what, when, through which route.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditRecord {
    /// The entry's id.
    pub id: i64,
    /// When the write was made (server clock, within its transaction).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    /// The key that wrote (absent for the command line's `seed`).
    pub key_id: Option<i64>,
    /// The HTTP method, or `CLI` for a command of the binary.
    #[schema(example = "POST")]
    pub method: String,
    /// The route template written through, or the command's name.
    #[schema(example = "/v1/facts")]
    pub route: String,
    /// The ids written or changed (e.g. `{"facts": [101, 102]}`).
    #[schema(value_type = Object, example = json!({"facts": [101, 102]}))]
    pub object_ids: serde_json::Value,
    /// The request's `X-Request-Id`; absent for a command.
    pub request_id: Option<String>,
}

/// Who is writing, through which route: captured before the write's
/// transaction so its audit row can be inserted inside it.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The key that writes; `None` for the command line.
    pub key_id: Option<i64>,
    pub method: String,
    pub route: String,
    pub request_id: Option<String>,
}

impl Actor {
    /// A command of the binary itself, such as `seed`.
    pub fn command(name: &str) -> Actor {
        Actor {
            key_id: None,
            method: "CLI".to_owned(),
            route: name.to_owned(),
            request_id: None,
        }
    }

    /// Records a write of `object_ids`; call it inside the write's transaction.
    pub async fn record(
        &self,
        client: &impl GenericClient,
        object_ids: serde_json::Value,
    ) -> Result<(), StoreError> {
        client
            .execute(
                "INSERT INTO audit_log (key_id, method, route, object_ids, request_id) VALUES ($1, $2, $3, $4, $5)",
                &[&self.key_id, &self.method, &self.route, &object_ids, &self.request_id],
            )
            .await?;
        Ok(())
    }
}

/// Filters for listing the trail.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub key_id: Option<i64>,
    pub route: Option<String>,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
}

fn audit_record(row: &Row) -> AuditRecord {
    AuditRecord {
        id: row.get("id"),
        at: row.get("at"),
        key_id: row.get("key_id"),
        method: row.get("method"),
        route: row.get("route"),
        object_ids: row.get("object_ids"),
        request_id: row.get("request_id"),
    }
}

/// Entries newest first, before `before` (an id), a page at a time.
pub async fn list(
    client: &impl GenericClient,
    filter: &AuditFilter,
    before: Option<i64>,
    limit: usize,
) -> Result<Page<AuditRecord>, StoreError> {
    let rows = client
        .query(
            "SELECT id, at, key_id, method, route, object_ids, request_id FROM audit_log
             WHERE ($1::int8 IS NULL OR key_id = $1)
               AND ($2::text IS NULL OR route = $2)
               AND ($3::timestamptz IS NULL OR at >= $3)
               AND ($4::timestamptz IS NULL OR at <= $4)
               AND ($5::int8 IS NULL OR id < $5)
             ORDER BY id DESC LIMIT $6",
            &[
                &filter.key_id,
                &filter.route,
                &filter.from,
                &filter.to,
                &before,
                &(limit as i64 + 1),
            ],
        )
        .await?;
    Ok(Page::from_rows(
        rows.iter().map(audit_record).collect(),
        limit,
    ))
}
