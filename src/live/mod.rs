//! Live scores: an in-memory snapshot of products and facts with the
//! current headline scores of the main buyers and of every buyer with
//! sourcing facts, swapped atomically so a read never
//! waits for a recompute or the database. Kept fresh by change
//! notifications (see [`listener`]); other instants, parameters and
//! uncertainty are computed on demand from the same snapshot and cached.

mod cache;
pub mod listener;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use arc_swap::ArcSwap;
use deadpool_postgres::Pool;
use time::OffsetDateTime;

use crate::domain::{Buyer, ProductId, View};
use crate::scoring::summary::ScoreSummary;
use crate::scoring::{self, GraphHistory, Params, ProductScore, Snapshot, SnapshotFact};
use crate::store::{self, StoreError};

pub use cache::ResultCache;

/// Buyers whose current scores are always kept precomputed, with every
/// buyer that has sourcing facts of its own; any other buyer is computed on
/// demand.
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

/// A product's precomputed current score: the headline figures, and the
/// instant they were computed for. The full explanation is recomputed from
/// the state's snapshot at that instant when read, which gives the same
/// result: only the headline figures stay resident.
#[derive(Debug, Clone)]
pub struct CurrentScore {
    pub summary: ScoreSummary,
    pub as_of: OffsetDateTime,
}

/// Every product's current score for one buyer, in product order.
pub struct CurrentScores {
    buyer: Buyer,
    scores: Vec<CurrentScore>,
}

impl CurrentScores {
    fn new(buyer: Buyer, mut scores: Vec<CurrentScore>) -> CurrentScores {
        scores.sort_by(|a, b| a.summary.product.cmp(&b.summary.product));
        CurrentScores { buyer, scores }
    }

    pub fn buyer(&self) -> Buyer {
        self.buyer
    }

    pub fn summaries(&self) -> impl Iterator<Item = &ScoreSummary> {
        self.scores.iter().map(|s| &s.summary)
    }

    pub fn get(&self, product: &ProductId) -> Option<&CurrentScore> {
        self.scores
            .binary_search_by(|s| s.summary.product.cmp(product))
            .ok()
            .map(|i| &self.scores[i])
    }
}

impl State {
    pub fn current(&self, buyer: Buyer) -> Option<&Arc<CurrentScores>> {
        self.current.get(&buyer)
    }

    /// A product's current score for a precomputed buyer, fully explained:
    /// recomputed at the instant it was computed for. May walk the
    /// product's whole upstream: call it off the async workers.
    pub fn explained(&self, buyer: Buyer, product: &ProductId) -> Option<ProductScore> {
        let score = self.current.get(&buyer)?.get(product)?;
        scoring::score_product(&self.snapshot, product, &Params::new(buyer, score.as_of))
    }
}

/// The buyers whose current scores a snapshot keeps: the main ones and
/// every buyer some fact is about.
fn precomputed_buyers(snapshot: &Snapshot) -> BTreeSet<Buyer> {
    let mut buyers: BTreeSet<Buyer> = MAIN_BUYERS
        .iter()
        .map(|b| Buyer::parse(b).expect("main buyers are valid"))
        .collect();
    buyers.extend(snapshot.facts().iter().filter_map(|f| f.buyer));
    buyers
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
    let started = std::time::Instant::now();
    let mut current = HashMap::new();
    for buyer in precomputed_buyers(&snapshot) {
        let params = Params::new(buyer, computed_at);
        let fresh = |score: &ProductScore| CurrentScore {
            summary: ScoreSummary::from(score),
            as_of: computed_at,
        };
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
                        _ => scoring::score_product(&snapshot, &product.id, &params)
                            .as_ref()
                            .map(fresh),
                    })
                    .collect()
            }
            _ => scoring::score_all(&snapshot, &params)
                .iter()
                .map(fresh)
                .collect(),
        };
        current.insert(buyer, Arc::new(CurrentScores::new(buyer, scores)));
    }
    tracing::info!(
        buyers = current.len(),
        products = snapshot.products().len(),
        incremental = previous.is_some(),
        seconds = started.elapsed().as_secs_f64(),
        "current scores computed"
    );
    Ok(State {
        version,
        snapshot,
        graphs: Arc::new(graphs),
        computed_at,
        current,
    })
}
