//! Stripe-style idempotency keys. The first response to a key is stored in
//! the same transaction as the write it reports, so a replay can never
//! disagree with what was written; a concurrent repeat blocks on the key's
//! row until the first commits, then replays it.

use deadpool_postgres::Pool;
use deadpool_postgres::Transaction;
use futures_util::future::BoxFuture;

use super::StoreError;

/// How long keys are kept at least; older ones are purged lazily.
const RETENTION: &str = "48 hours";

/// A client's key with the digest of the request it came with.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: String,
    pub digest: [u8; 32],
}

/// A response (always JSON), and what a replay of it answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    /// Stored for replays instead of `body` when `body` holds something
    /// that must never be stored, such as a new key's secret.
    pub replay_body: Option<Vec<u8>>,
    /// The created resource (`Location`), for a 201.
    pub location: Option<String>,
}

/// What became of a write that carried an idempotency key.
#[derive(Debug)]
pub enum Outcome {
    /// Written now; here is the response.
    Done(Reply),
    /// The key was used before with the same request: its first response.
    Replayed(Reply),
    /// The key was used before with a different request.
    KeyReused,
}

/// Runs `work` in a transaction and commits it, honouring the key: a
/// request seen before is answered from the store without running `work`;
/// a concurrent duplicate blocks on the key's row, then replays.
pub async fn run<E, F>(
    pool: &Pool,
    idempotency: Option<&Idempotency>,
    work: F,
) -> Result<Outcome, E>
where
    E: From<StoreError>,
    F: for<'t> FnOnce(&'t Transaction<'t>) -> BoxFuture<'t, Result<Reply, E>>,
{
    let mut client = pool.get().await.map_err(StoreError::from)?;
    if let Some(idempotency) = idempotency {
        if has_key(&client, &idempotency.key).await? {
            return Ok(replay(&client, idempotency).await?);
        }
    }
    let tx = client.transaction().await.map_err(StoreError::from)?;
    let reply = work(&tx).await?;
    let Some(idempotency) = idempotency else {
        tx.commit().await.map_err(StoreError::from)?;
        return Ok(Outcome::Done(reply));
    };
    match commit(tx, idempotency, reply).await? {
        Some(outcome) => Ok(outcome),
        None => Ok(replay(&client, idempotency).await?),
    }
}

/// Whether a live response is stored under `key`.
pub async fn has_key(client: &tokio_postgres::Client, key: &str) -> Result<bool, StoreError> {
    let row = client
        .query_opt(
            &format!("SELECT 1 FROM idempotency_keys WHERE key = $1 AND created_at > now() - interval '{RETENTION}'"),
            &[&key],
        )
        .await?;
    Ok(row.is_some())
}

/// The stored outcome for a key already used: its response if this request
/// is the same, else `KeyReused`.
pub async fn replay(
    client: &tokio_postgres::Client,
    idempotency: &Idempotency,
) -> Result<Outcome, StoreError> {
    let row = client
        .query_opt(
            "SELECT request_hash, status, body, location FROM idempotency_keys WHERE key = $1",
            &[&idempotency.key],
        )
        .await?;
    Ok(match row {
        Some(row) if row.get::<_, &[u8]>(0) == idempotency.digest => Outcome::Replayed(Reply {
            status: row.get::<_, i16>(1) as u16,
            body: row.get(2),
            replay_body: None,
            location: row.get(3),
        }),
        _ => Outcome::KeyReused,
    })
}

/// Stores the reply under the key and commits. Returns `None` (after
/// rolling back) when a concurrent request claimed the key first: the
/// caller then replays that request's outcome.
pub async fn commit(
    tx: Transaction<'_>,
    idempotency: &Idempotency,
    reply: Reply,
) -> Result<Option<Outcome>, StoreError> {
    // An expired key may be reused.
    tx.execute(
        &format!("DELETE FROM idempotency_keys WHERE key = $1 AND created_at < now() - interval '{RETENTION}'"),
        &[&idempotency.key],
    )
    .await?;
    let inserted = tx
        .execute(
            "INSERT INTO idempotency_keys (key, request_hash, status, content_type, body, location)
             VALUES ($1, $2, $3, 'application/json', $4, $5) ON CONFLICT (key) DO NOTHING",
            &[
                &idempotency.key,
                &idempotency.digest.as_slice(),
                &(reply.status as i16),
                reply.replay_body.as_ref().unwrap_or(&reply.body),
                &reply.location,
            ],
        )
        .await?;
    if inserted == 1 {
        tx.commit().await?;
        Ok(Some(Outcome::Done(reply)))
    } else {
        tx.rollback().await?;
        Ok(None)
    }
}
