//! Plain SQL migrations from `migrations/`, embedded in the binary and
//! applied in order, each in its own transaction, under an advisory lock so
//! that replicas starting at once apply each migration exactly once.

use anyhow::Context;
use deadpool_postgres::Pool;

/// (version, name, SQL), in order. A test checks this lists every file.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "0001_domain.sql",
        include_str!("../../migrations/0001_domain.sql"),
    ),
    (
        2,
        "0002_access.sql",
        include_str!("../../migrations/0002_access.sql"),
    ),
    (
        3,
        "0003_scenarios.sql",
        include_str!("../../migrations/0003_scenarios.sql"),
    ),
    (
        4,
        "0004_created_location.sql",
        include_str!("../../migrations/0004_created_location.sql"),
    ),
    (
        5,
        "0005_publication_time.sql",
        include_str!("../../migrations/0005_publication_time.sql"),
    ),
    (
        6,
        "0006_hs_codes.sql",
        include_str!("../../migrations/0006_hs_codes.sql"),
    ),
    (
        7,
        "0007_written_in.sql",
        include_str!("../../migrations/0007_written_in.sql"),
    ),
    (
        8,
        "0008_monitoring.sql",
        include_str!("../../migrations/0008_monitoring.sql"),
    ),
];

/// Arbitrary but fixed: identifies this service's migration lock.
const MIGRATION_LOCK: i64 = 0x6368_6f6b_6570;

pub async fn migrate(pool: &Pool) -> anyhow::Result<()> {
    let mut client = pool.get().await.context("connecting to run migrations")?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .context("taking the migration lock")?;
    let result = apply_pending(&mut client).await;
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .context("releasing the migration lock")?;
    result
}

async fn apply_pending(client: &mut deadpool_postgres::Client) -> anyhow::Result<()> {
    client
        .batch_execute(
            // Without the notice that the table exists, logged on every start.
            "SET client_min_messages TO warning;
             CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
             );
             RESET client_min_messages",
        )
        .await
        .context("creating schema_migrations")?;
    let applied: Vec<i32> = client
        .query("SELECT version FROM schema_migrations", &[])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    for (version, name, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        let tx = client.transaction().await?;
        tx.batch_execute(sql)
            .await
            .with_context(|| format!("applying migration {name}"))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(migration = name, "applied migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;

    #[test]
    fn every_migration_file_is_embedded_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        files.sort();
        let embedded: Vec<&str> = MIGRATIONS.iter().map(|(_, name, _)| *name).collect();
        assert_eq!(files, embedded);
        for (index, (version, name, _)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*version as usize, index + 1);
            assert!(name.starts_with(&format!("{version:04}_")));
        }
    }
}
