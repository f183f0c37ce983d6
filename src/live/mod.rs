//! Live scores: an in-memory snapshot of products and facts with the
//! current scores of every main buyer, swapped atomically so a read never
//! waits for a recompute or the database. Kept fresh by change
//! notifications (see [`listener`]); other instants, parameters and
//! uncertainty are computed on demand from the same snapshot and cached.

mod cache;
pub mod listener;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use arc_swap::ArcSwap;
use deadpool_postgres::Pool;
use time::OffsetDateTime;

use crate::domain::{Buyer, ProductId, View};
use crate::scoring::{self, GraphHistory, Params, ProductScore, Snapshot, SnapshotFact};
use crate::store::{self, StoreError};

pub use cache::ResultCache;

/// Buyers whose current scores are kept precomputed; any other buyer is
/// computed on demand.
pub const MAIN_BUYERS: [&str; 7] = ["US", "EU", "JP", "KR", "GB", "CA", "AU"];

/// One consistent view: the data, its version, and the current scores.
pub struct State {
    /// Changes whenever the underlying data does; the same on every replica.
    pub version: String,
    pub snapshot: Arc<Snapshot>,
    /// Every recorded revision of the product graph, for `recorded` reads.
    pub graphs: Arc<GraphHistory>,
    /// When the current scores were computed (their `as_of`).
    pub computed_at: OffsetDateTime,
    current: HashMap<Buyer, Arc<CurrentScores>>,
}

/// Every product's score for one buyer, by product id.
pub struct CurrentScores {
    pub scores: Vec<ProductScore>,
    index: HashMap<ProductId, usize>,
    /// Each score's response body, rendered on first read: the same bytes
    /// serve every later read of this state.
    rendered: Vec<OnceLock<Bytes>>,
}

impl CurrentScores {
    fn new(mut scores: Vec<ProductScore>) -> CurrentScores {
        scores.sort_by(|a, b| a.product.cmp(&b.product));
        let index = scores
            .iter()
            .enumerate()
            .map(|(i, s)| (s.product.clone(), i))
            .collect();
        let rendered = scores.iter().map(|_| OnceLock::new()).collect();
        CurrentScores {
            scores,
            index,
            rendered,
        }
    }

    /// The product's rendered response, rendering it with `render` the
    /// first time; `None` for an unknown product.
    pub fn rendered<E>(
        &self,
        product: &ProductId,
        render: impl FnOnce(&ProductScore) -> Result<Bytes, E>,
    ) -> Option<Result<Bytes, E>> {
        let index = *self.index.get(product)?;
        if let Some(bytes) = self.rendered[index].get() {
            return Some(Ok(bytes.clone()));
        }
        Some(
            render(&self.scores[index])
                .map(|bytes| self.rendered[index].get_or_init(|| bytes).clone()),
        )
    }

    pub fn get(&self, product: &ProductId) -> Option<&ProductScore> {
        self.index.get(product).map(|i| &self.scores[*i])
    }
}

impl State {
    pub fn current(&self, buyer: Buyer) -> Option<&Arc<CurrentScores>> {
        self.current.get(&buyer)
    }
}

pub fn main_buyers() -> impl Iterator<Item = Buyer> {
    MAIN_BUYERS
        .iter()
        .map(|b| Buyer::parse(b).expect("main buyers are valid"))
}

/// The shared handle: the current state plus a cache of on-demand results.
pub struct LiveScores {
    state: ArcSwap<State>,
    pub cache: ResultCache,
    /// Snapshots rebuilt over older product graphs: each holds every fact,
    /// so only a few are kept, apart from the results cache.
    graphs: ResultCache,
}

/// How many rebuilt snapshots are kept.
const REBUILT_GRAPHS: usize = 4;

impl LiveScores {
    /// Loads everything and computes the current scores.
    pub async fn load(pool: &Pool) -> anyhow::Result<LiveScores> {
        let state = load_state(pool, None, None).await?;
        Ok(LiveScores {
            state: ArcSwap::from_pointee(state),
            cache: ResultCache::new(256),
            graphs: ResultCache::new(REBUILT_GRAPHS),
        })
    }

    /// No data yet (the database was unreachable at start); the listener
    /// loads everything once it connects.
    pub fn empty() -> LiveScores {
        let snapshot = Snapshot::new(Vec::new(), Vec::new()).expect("an empty snapshot is valid");
        LiveScores {
            state: ArcSwap::from_pointee(State {
                version: String::new(),
                snapshot: Arc::new(snapshot),
                graphs: Arc::default(),
                computed_at: OffsetDateTime::now_utc(),
                current: HashMap::new(),
            }),
            cache: ResultCache::new(256),
            graphs: ResultCache::new(REBUILT_GRAPHS),
        }
    }

    /// The current state; cheap, never blocks.
    pub fn state(&self) -> Arc<State> {
        self.state.load_full()
    }

    /// The snapshot a read with `params` scores on `state`: the live one,
    /// except for a `recorded` read of an instant whose product graph
    /// differs from today's, which gets the same facts over the graph as
    /// recorded then (built once per graph and data version, then cached).
    /// May index every fact: call it off the async workers.
    pub fn snapshot_for(
        &self,
        state: &State,
        params: &Params,
    ) -> Result<Arc<Snapshot>, StoreError> {
        if params.view != View::Recorded || state.graphs.is_current_at(params.as_of) {
            return Ok(state.snapshot.clone());
        }
        let key = format!(
            "{}|graph|{}",
            state.version,
            state.graphs.recorded_by(params.as_of)
        );
        if let Some(snapshot) = self.graphs.get::<Snapshot>(&key) {
            return Ok(snapshot);
        }
        let snapshot = Arc::new(
            state
                .snapshot
                .with_products(state.graphs.products_at(params.as_of))
                .map_err(|e| StoreError::Other(e.into()))?,
        );
        self.graphs.insert(key, snapshot.clone());
        Ok(snapshot)
    }

    /// Reloads the facts of `changed` products (all facts when `None`) and
    /// recomputes the scores; the swap is atomic.
    pub async fn refresh(
        &self,
        pool: &Pool,
        changed: Option<BTreeSet<String>>,
    ) -> Result<(), StoreError> {
        let previous = self.state();
        let state = load_state(pool, changed.map(|c| (previous, c)), None).await?;
        self.state.store(Arc::new(state));
        Ok(())
    }
}

async fn load_state(
    pool: &Pool,
    incremental: Option<(Arc<State>, BTreeSet<String>)>,
    now: Option<OffsetDateTime>,
) -> Result<State, StoreError> {
    let mut client = pool.get().await?;
    // One consistent read: the version matches exactly the rows loaded.
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let version = store::snapshot::data_version(&tx).await?;
    let products = store::snapshot::products(&tx).await?;
    let graphs = GraphHistory::new(store::snapshot::product_revisions(&tx).await?);
    let mut incremental = incremental;
    if let Some((previous, changed)) = &mut incremental {
        // The version read above also counts writes whose notifications
        // are still on their way: a product they redefined is changed too.
        for product in &products {
            if previous.snapshot.product(&product.id) != Some(product) {
                changed.insert(product.id.as_str().to_owned());
            }
        }
    }
    let assembled = match &incremental {
        Some((previous, changed)) => {
            let changed_list: Vec<String> = changed.iter().cloned().collect();
            let mut facts: Vec<SnapshotFact> = previous
                .snapshot
                .facts()
                .iter()
                .filter(|f| {
                    f.product
                        .as_ref()
                        .is_none_or(|p| !changed.contains(p.as_str()))
                })
                .cloned()
                .collect();
            store::snapshot::facts(&tx, Some(&changed_list), |fact| facts.push(fact)).await?;
            // Writes whose notifications are still on their way may have
            // committed since: the version read above counts their facts,
            // so the facts served must too, or the load becomes a full one.
            let retracted = facts
                .iter()
                .filter(|f| f.knowledge.retracted_at.is_some())
                .count();
            let counts = (facts.len() as i64, retracted as i64);
            (store::snapshot::fact_counts(&tx).await? == counts).then_some(facts)
        }
        None => None,
    };
    let facts: Vec<SnapshotFact> = match assembled {
        Some(facts) => facts,
        None => {
            incremental = None;
            let (count, _) = store::snapshot::fact_counts(&tx).await?;
            let mut facts = Vec::with_capacity(usize::try_from(count).unwrap_or_default());
            store::snapshot::facts(&tx, None, |fact| facts.push(fact)).await?;
            facts
        }
    };
    tx.commit().await?;
    drop(client);
    let computed_at = now.unwrap_or_else(OffsetDateTime::now_utc);
    let previous = incremental;
    tokio::task::spawn_blocking(move || {
        build_state(version, products, graphs, facts, computed_at, previous)
    })
    .await
    .map_err(|e| StoreError::Other(e.into()))?
}

fn build_state(
    version: String,
    products: Vec<crate::domain::Product>,
    graphs: GraphHistory,
    facts: Vec<SnapshotFact>,
    computed_at: OffsetDateTime,
    previous: Option<(Arc<State>, BTreeSet<String>)>,
) -> Result<State, StoreError> {
    let snapshot =
        Arc::new(Snapshot::new(products, facts).map_err(|e| StoreError::Other(e.into()))?);
    let mut current = HashMap::new();
    for buyer in main_buyers() {
        let params = Params::new(buyer, computed_at);
        let scores = match &previous {
            // Only the changed products and what is made from them can move.
            Some((state, changed)) if state.current.contains_key(&buyer) => {
                let changed_ids: Vec<ProductId> = changed
                    .iter()
                    .filter_map(|c| ProductId::parse(c).ok())
                    .collect();
                let affected = snapshot.downstream_of(changed_ids.iter());
                let old = &state.current[&buyer];
                snapshot
                    .products()
                    .iter()
                    .filter_map(|product| match old.get(&product.id) {
                        // Unaffected: the old score stands, with the instant it was computed for.
                        Some(score) if !affected.contains(&product.id) => Some(score.clone()),
                        _ => scoring::score_product(&snapshot, &product.id, &params),
                    })
                    .collect()
            }
            _ => scoring::score_all(&snapshot, &params),
        };
        current.insert(buyer, Arc::new(CurrentScores::new(scores)));
    }
    Ok(State {
        version,
        snapshot,
        graphs: Arc::new(graphs),
        computed_at,
        current,
    })
}
