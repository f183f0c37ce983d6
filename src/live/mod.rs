//! Live scores: an in-memory snapshot of products and facts with the
//! current headline scores of the main buyers and of every buyer with
//! sourcing facts, swapped atomically so a read never
//! waits for a recompute or the database. Kept fresh by change
//! notifications (see [`listener`]); other instants, parameters and
//! uncertainty are computed on demand from the same snapshot and cached.

mod announcer;
mod cache;
pub mod listener;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use arc_swap::ArcSwap;
use deadpool_postgres::Pool;
use time::OffsetDateTime;

use crate::domain::{Buyer, ProductId, View};
use crate::scoring::summary::ScoreSummary;
use crate::scoring::{self, GraphHistory, Params, ProductScore, Snapshot, SnapshotFact};
use crate::store::snapshot::FactsWritten;
use crate::store::{self, StoreError};

pub use announcer::Announcer;
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
    /// The product graph's revision ([`store::snapshot::graph_revision`]).
    graph_revision: String,
    /// The writes the load saw (PostgreSQL's snapshot text; empty before
    /// any load): the next refresh reads only the facts written since.
    visible_writes: String,
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
    /// Marked at every swap, for what reacts to new scores.
    swapped: tokio::sync::watch::Sender<()>,
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
            swapped: tokio::sync::watch::Sender::new(()),
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
                graph_revision: String::new(),
                visible_writes: String::new(),
            }),
            cache: ResultCache::new(256),
            graphs: ResultCache::new(REBUILT_GRAPHS),
            swapped: tokio::sync::watch::Sender::new(()),
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

    /// Reads what was written since the last load and recomputes the scores
    /// it can move, or (`full`) reloads everything. The swap is atomic.
    pub async fn refresh(&self, pool: &Pool, full: bool) -> Result<(), StoreError> {
        let previous = (!full).then(|| self.state());
        let state = load_state(pool, previous, None).await?;
        self.state.store(Arc::new(state));
        self.swapped.send_replace(());
        Ok(())
    }

    /// Sees every swap of the state from now on.
    pub fn swaps(&self) -> tokio::sync::watch::Receiver<()> {
        self.swapped.subscribe()
    }
}

/// Loads a state: everything, or what was written since `previous`.
async fn load_state(
    pool: &Pool,
    previous: Option<Arc<State>>,
    now: Option<OffsetDateTime>,
) -> Result<State, StoreError> {
    let mut client = pool.get().await?;
    // One consistent read: the version matches exactly the rows loaded.
    let tx = store::snapshot::consistent_read(&mut client).await?;
    let visible_writes = store::snapshot::visible_writes(&tx).await?;
    let version = store::snapshot::data_version(&tx).await?;
    let graph_revision = store::snapshot::graph_revision(&tx).await?;
    // Nothing loaded yet: there is nothing to add to.
    let mut incremental = previous
        .filter(|previous| !previous.visible_writes.is_empty())
        .map(|previous| (previous, BTreeSet::new()));
    let (products, graphs) = match &mut incremental {
        Some((previous, _)) if previous.graph_revision == graph_revision => (
            previous.snapshot.products().to_vec(),
            previous.graphs.clone(),
        ),
        _ => {
            let products = store::snapshot::products(&tx).await?;
            let graphs = GraphHistory::new(store::snapshot::product_revisions(&tx).await?);
            if let Some((previous, changed)) = &mut incremental {
                for product in &products {
                    if previous.snapshot.product(&product.id) != Some(product) {
                        changed.insert(product.id.clone());
                    }
                }
            }
            (products, Arc::new(graphs))
        }
    };
    let facts = match &mut incremental {
        Some((previous, changed)) => {
            let mut written = Vec::new();
            store::snapshot::facts(&tx, FactsWritten::Since(&previous.visible_writes), |fact| {
                written.push(fact)
            })
            .await?;
            for fact in &written {
                match &fact.product {
                    Some(product) => {
                        changed.insert(product.clone());
                    }
                    // A country-level fact can move any score.
                    None => changed.extend(products.iter().map(|p| p.id.clone())),
                }
            }
            // A retraction rewrites a fact already held: the new row replaces it.
            let rewritten: HashSet<i64> = written.iter().map(|f| f.id).collect();
            let held = previous.snapshot.facts();
            let mut facts = Vec::with_capacity(held.len() + written.len());
            facts.extend(held.iter().filter(|f| !rewritten.contains(&f.id)).cloned());
            facts.extend(written);
            facts
        }
        None => every_fact(&tx).await?,
    };
    tx.commit().await?;
    drop(client);
    let computed_at = now.unwrap_or_else(OffsetDateTime::now_utc);
    let previous = incremental;
    tokio::task::spawn_blocking(move || {
        let snapshot =
            Arc::new(Snapshot::new(products, facts).map_err(|e| StoreError::Other(e.into()))?);
        let current = current_scores(&snapshot, computed_at, previous);
        Ok(State {
            version,
            snapshot,
            graphs,
            computed_at,
            current,
            graph_revision,
            visible_writes,
        })
    })
    .await
    .map_err(|e| StoreError::Other(e.into()))?
}

async fn every_fact(
    tx: &impl deadpool_postgres::GenericClient,
) -> Result<Vec<SnapshotFact>, StoreError> {
    let count = store::snapshot::fact_count(tx).await?;
    let mut facts = Vec::with_capacity(usize::try_from(count).unwrap_or_default());
    store::snapshot::facts(tx, FactsWritten::Ever, |fact| facts.push(fact)).await?;
    Ok(facts)
}

/// Every product and fact as one consistent read, for a command that
/// scores without serving.
pub async fn load_snapshot(pool: &Pool) -> Result<Snapshot, StoreError> {
    let mut client = pool.get().await?;
    let tx = store::snapshot::consistent_read(&mut client).await?;
    let products = store::snapshot::products(&tx).await?;
    let facts = every_fact(&tx).await?;
    tx.commit().await?;
    tokio::task::spawn_blocking(move || {
        Snapshot::new(products, facts).map_err(|e| StoreError::Other(e.into()))
    })
    .await
    .map_err(|e| StoreError::Other(e.into()))?
}

/// The current scores of every precomputed buyer: after an incremental
/// load, only the changed products and what is made from them are scored
/// again (the others cannot have moved).
fn current_scores(
    snapshot: &Snapshot,
    computed_at: OffsetDateTime,
    previous: Option<(Arc<State>, BTreeSet<ProductId>)>,
) -> HashMap<Buyer, Arc<CurrentScores>> {
    let started = std::time::Instant::now();
    let affected = previous
        .as_ref()
        .map(|(_, changed)| snapshot.downstream_of(changed));
    let fresh = |summary: ScoreSummary| CurrentScore {
        summary,
        as_of: computed_at,
    };
    let mut current = HashMap::new();
    // One supply network for every buyer: it does not depend on the buyer.
    let mut scorer = scoring::Scorer::new(snapshot, &Params::new(Buyer::Eu, computed_at));
    for buyer in precomputed_buyers(snapshot) {
        let params = Params::new(buyer, computed_at);
        let old = previous
            .as_ref()
            .and_then(|(state, _)| state.current.get(&buyer));
        let scores = match (old, &affected) {
            (Some(old), Some(affected)) => {
                // Unaffected: the old score stands, with the instant it was
                // computed for.
                let (standing, rescored): (Vec<_>, Vec<_>) = snapshot
                    .products()
                    .iter()
                    .map(|p| (p, old.get(&p.id).filter(|_| !affected.contains(&p.id))))
                    .partition(|(_, standing)| standing.is_some());
                let rescored = rescored.iter().map(|(p, _)| &p.id);
                let mut scores: Vec<CurrentScore> = scorer
                    .summarise_products(rescored, &params)
                    .into_iter()
                    .map(fresh)
                    .collect();
                scores.extend(standing.into_iter().filter_map(|(_, s)| s.cloned()));
                scores
            }
            _ => scorer
                .summarise_all(&params)
                .into_iter()
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
    current
}
