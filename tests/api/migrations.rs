use chokepoint::store;

use crate::helpers::{database_url, empty_database};

#[tokio::test]
async fn replicas_starting_at_once_apply_each_migration_exactly_once() {
    let database = empty_database().await;
    let url = database_url(&database);
    let replicas: Vec<_> = (0..4).map(|_| store::connect(&url, 1).unwrap()).collect();
    let results = futures_util::future::join_all(replicas.iter().map(store::migrate)).await;
    for result in results {
        result.expect("every replica's migration run succeeds");
    }
    let client = replicas[0].get().await.unwrap();
    let applied: Vec<i32> = client
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let expected: Vec<i32> = store::MIGRATIONS
        .iter()
        .map(|(version, _, _)| *version)
        .collect();
    assert_eq!(applied, expected);
    // Running again is a no-op.
    store::migrate(&replicas[1]).await.unwrap();
    let count: i64 = client
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count as usize, expected.len());
}
