//! The rule evaluator: one replica at a time, the holder of a session
//! advisory lock on its own connection, evaluates every rule whenever the
//! live scores change (and every few seconds, for quiet periods ending and
//! controls coming into force by the calendar). A round's rule states and
//! events are written on that same connection, in one transaction: if the
//! replica dies the lock goes with its connection, its unfinished round
//! rolls back, and the next holder goes on from the stored states, so
//! nothing is raised twice or lost.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use serde_json::{json, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use super::rules::{self, ControlStatus, Observation, ObservedControl, RuleState};
use crate::domain::{Buyer, Condition, FactStatus, ProductId};
use crate::live::{LiveScores, State};
use crate::scoring::{self, Params, ProductScore, ScoreSummary, METHODOLOGY_VERSION};
use crate::store::monitoring::{self as store, NewEvent, Recipients, WatchedRule};

/// The evaluating connection's `application_name`.
pub const APPLICATION_NAME: &str = "chokepoint-evaluator";
/// The session advisory lock whose holder evaluates.
const EVALUATOR_LOCK: i64 = 0x6368_6f6b_0002;
/// How often a replica that does not evaluate asks for the lock: bounds
/// the time to take over from one that died.
const CAMPAIGN_EVERY: Duration = Duration::from_secs(1);
/// How often rules are evaluated without a change of scores.
const TICK: Duration = Duration::from_secs(5);
/// Most facts an event lists as its causes.
const MAX_CAUSES: usize = 50;

/// Runs until the process ends: campaigns for the lock, evaluates while
/// holding it, and campaigns again whenever its connection is lost.
pub async fn run(live: Arc<LiveScores>, pool: Pool, database_url: String) {
    loop {
        if let Err(error) = campaign_and_evaluate(&live, &pool, &database_url).await {
            tracing::warn!(
                error = format!("{error:#}"),
                "rule evaluation stopped; campaigning again"
            );
        }
        tokio::time::sleep(CAMPAIGN_EVERY).await;
    }
}

async fn campaign_and_evaluate(
    live: &Arc<LiveScores>,
    pool: &Pool,
    database_url: &str,
) -> anyhow::Result<()> {
    let mut client = crate::store::dedicated_connection(database_url, APPLICATION_NAME).await?;
    loop {
        let held: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&EVALUATOR_LOCK])
            .await?
            .get(0);
        if held {
            break;
        }
        tokio::time::sleep(CAMPAIGN_EVERY).await;
    }
    tracing::info!("this replica evaluates the alert rules");
    let mut swaps = live.swaps();
    let mut previous: Option<Arc<State>> = None;
    // Only the lock's holder writes rule states: read once, then kept.
    let mut stored = store::rule_states(&client).await?;
    loop {
        let state = live.state();
        if !state.version.is_empty() {
            let raised = round(&mut client, pool, &state, previous.as_ref(), &mut stored).await?;
            if raised > 0 {
                tracing::info!(events = raised, data_version = %state.version, "alert rules raised events");
            }
            previous = Some(state);
        }
        tokio::select! {
            changed = swaps.changed() => changed?,
            () = tokio::time::sleep(TICK) => {}
        }
    }
}

/// Rule states as stored, by (rule, product).
type States = HashMap<(Uuid, String), Value>;

/// One evaluation of every rule against `state`; the events raised.
/// `stored` is what the rules last saw, kept up to date with what is
/// written.
async fn round(
    client: &mut deadpool_postgres::Object,
    pool: &Pool,
    state: &Arc<State>,
    previous: Option<&Arc<State>>,
    stored: &mut States,
) -> anyhow::Result<usize> {
    let rules = store::watched_rules(&pool.get().await?).await?;
    if rules.is_empty() {
        stored.clear();
        return Ok(0);
    }
    let now = OffsetDateTime::now_utc();
    let (state, previous) = (state.clone(), previous.cloned());
    let mut known = std::mem::take(stored);
    let (plan, mut known) = tokio::task::spawn_blocking(move || {
        let plan = plan_round(&rules, &known, &state, previous.as_deref(), now);
        // Deleted rules' states went with them, and products a watchlist
        // no longer lists start afresh if listed again.
        let watched: std::collections::HashSet<(Uuid, &str)> = rules
            .iter()
            .flat_map(|r| r.products.iter().map(|p| (r.rule.id, p.as_str())))
            .collect();
        known.retain(|(rule, product), _| watched.contains(&(*rule, product.as_str())));
        (plan, known)
    })
    .await?;
    if !plan.states.is_empty() || !plan.events.is_empty() {
        let tx = client.transaction().await?;
        if !plan.states.is_empty() {
            store::save_rule_states(&tx, &plan.states).await?;
        }
        for event in &plan.events {
            store::insert_event(&tx, event, Recipients::Subscribed).await?;
        }
        tx.commit().await?;
    }
    let raised = plan.events.len();
    for (rule, product, value) in plan.states {
        known.insert((rule, product), value);
    }
    *stored = known;
    Ok(raised)
}

/// What a round writes: the states that changed and the events raised.
#[derive(Debug, Default)]
pub struct RoundPlan {
    pub states: Vec<(Uuid, String, Value)>,
    pub events: Vec<NewEvent>,
}

/// What each rule sees now, against what it saw: pure apart from the
/// scoring it runs (on the given state, at its `computed_at`).
pub fn plan_round(
    rules: &[WatchedRule],
    stored: &States,
    state: &State,
    previous: Option<&State>,
    now: OffsetDateTime,
) -> RoundPlan {
    let mut observer = Observer::new(state, previous);
    let mut plan = RoundPlan::default();
    for watched in rules {
        let condition = &watched.rule.condition;
        for product in &watched.products {
            if state.snapshot.product(product).is_none() {
                continue;
            }
            let key = (watched.rule.id, product.as_str().to_owned());
            let before: Option<RuleState> = stored
                .get(&key)
                .and_then(|value| serde_json::from_value::<RuleState>(value.clone()).ok())
                .filter(|state| state.buyer == Some(watched.buyer));
            let observed = observer.observe(watched.buyer, product, condition);
            let (mut after, alerts) = rules::evaluate(
                condition,
                watched.rule.quiet_period_seconds.into(),
                before.as_ref(),
                &observed,
                now.unix_timestamp(),
            );
            after.buyer = Some(watched.buyer);
            if before.as_ref() != Some(&after) {
                let value = serde_json::to_value(&after).expect("rule states serialise");
                plan.states.push((key.0, key.1, value));
            }
            for alert in alerts {
                let id = Uuid::new_v4();
                let body = json!({
                    "id": id,
                    "type": alert.event_type,
                    "created_at": super::rfc3339(now),
                    "rule": {
                        "id": watched.rule.id,
                        "name": watched.rule.name,
                        "watchlist_id": watched.rule.watchlist_id,
                    },
                    "buyer": watched.buyer,
                    "product": product,
                    "detail": alert.detail,
                    "caused_by": {"facts": observer.causes(product)},
                    "data_version": state.version,
                    "methodology_version": METHODOLOGY_VERSION,
                });
                plan.events.push(NewEvent {
                    id,
                    owner: watched.owner,
                    event_type: alert.event_type,
                    rule_id: Some(watched.rule.id),
                    body,
                });
            }
        }
    }
    plan
}

/// Scores read once per round per (buyer, product), and the facts that
/// changed since the previous round.
struct Observer<'a> {
    state: &'a State,
    summaries: HashMap<(Buyer, ProductId), Option<ScoreSummary>>,
    explained: HashMap<(Buyer, ProductId), Option<ProductScore>>,
    eu_crm: HashMap<(Buyer, ProductId), Option<f64>>,
    /// Per product, the changed facts that can move its scores (its own,
    /// its inputs' at any depth, and country-level ones).
    causes: HashMap<ProductId, Vec<i64>>,
}

impl<'a> Observer<'a> {
    fn new(state: &'a State, previous: Option<&State>) -> Observer<'a> {
        Observer {
            state,
            summaries: HashMap::new(),
            explained: HashMap::new(),
            eu_crm: HashMap::new(),
            causes: previous.map_or_else(HashMap::new, |previous| changed_facts(state, previous)),
        }
    }

    fn params(&self, buyer: Buyer) -> Params {
        Params::new(buyer, self.state.computed_at)
    }

    fn observe(&mut self, buyer: Buyer, product: &ProductId, condition: &Condition) -> Observation {
        let key = (buyer, product.clone());
        let mut observation = Observation::default();
        match condition {
            Condition::Threshold { score, .. } | Condition::Movement { score, .. } => {
                use crate::domain::WatchedScore;
                match score {
                    WatchedScore::EuCrmSupplyRisk => {
                        let params = self.params(buyer);
                        let snapshot = &self.state.snapshot;
                        observation.eu_crm_supply_risk =
                            *self.eu_crm.entry(key).or_insert_with(|| {
                                scoring::eu_crm(snapshot, product, &params)
                                    .and_then(|r| r.supply_risk)
                            });
                    }
                    WatchedScore::Dependency | WatchedScore::Difficulty => {
                        if let Some(summary) = self.summary(key) {
                            observation.dependency = summary.dependency;
                            observation.difficulty = Some(summary.difficulty);
                        }
                    }
                }
            }
            Condition::ExportControl { .. } => {
                if let Some(score) = self.explained(key) {
                    observation.controls = score
                        .pressure
                        .iter()
                        .map(|control| {
                            let status = if control.takes_effect_on.is_some() {
                                ControlStatus::Announced
                            } else if control.status == FactStatus::Suspended {
                                ControlStatus::Suspended
                            } else {
                                ControlStatus::InForce
                            };
                            let key = format!(
                                "{}|{}|{}",
                                control.product, control.country, control.level
                            );
                            let detail = serde_json::to_value(control).unwrap_or(Value::Null);
                            (key, ObservedControl { status, detail })
                        })
                        .collect::<BTreeMap<_, _>>();
                }
            }
            Condition::FactConflict => {
                if let Some(score) = self.explained(key) {
                    observation.conflicts = score
                        .conflicts
                        .iter()
                        .map(|conflict| {
                            let mut ids = conflict.fact_ids.clone();
                            ids.sort_unstable();
                            let key = format!(
                                "{}|{}|{}",
                                conflict.metric.as_str(),
                                conflict.period,
                                ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
                            );
                            (key, serde_json::to_value(conflict).unwrap_or(Value::Null))
                        })
                        .collect();
                }
            }
        }
        observation
    }

    fn summary(&mut self, key: (Buyer, ProductId)) -> Option<&ScoreSummary> {
        let state = self.state;
        let params = self.params(key.0);
        self.summaries
            .entry(key)
            .or_insert_with_key(|(buyer, product)| {
                match state.current(*buyer).and_then(|scores| scores.get(product)) {
                    Some(current) => Some(current.summary.clone()),
                    None => scoring::score_product(&state.snapshot, product, &params)
                        .as_ref()
                        .map(ScoreSummary::from),
                }
            })
            .as_ref()
    }

    fn explained(&mut self, key: (Buyer, ProductId)) -> Option<&ProductScore> {
        let state = self.state;
        let params = self.params(key.0);
        self.explained
            .entry(key)
            .or_insert_with_key(|(_, product)| {
                scoring::score_product(&state.snapshot, product, &params)
            })
            .as_ref()
    }

    fn causes(&self, product: &ProductId) -> Vec<i64> {
        self.causes.get(product).cloned().unwrap_or_default()
    }
}

/// Facts added or retracted between two states, per product whose scores
/// they can move.
fn changed_facts(state: &State, previous: &State) -> HashMap<ProductId, Vec<i64>> {
    let before: HashMap<i64, Option<OffsetDateTime>> = previous
        .snapshot
        .facts()
        .iter()
        .map(|f| (f.id, f.knowledge.retracted_at))
        .collect();
    let mut by_product: BTreeMap<Option<&ProductId>, Vec<i64>> = BTreeMap::new();
    for fact in state.snapshot.facts() {
        if before.get(&fact.id) != Some(&fact.knowledge.retracted_at) {
            by_product
                .entry(fact.product.as_ref())
                .or_default()
                .push(fact.id);
        }
    }
    let mut causes: HashMap<ProductId, Vec<i64>> = HashMap::new();
    let everyone: Vec<ProductId> = state
        .snapshot
        .products()
        .iter()
        .map(|p| p.id.clone())
        .collect();
    for (product, ids) in by_product {
        let moved: Vec<ProductId> = match product {
            Some(product) => state
                .snapshot
                .downstream_of([product])
                .into_iter()
                .collect(),
            None => everyone.clone(),
        };
        for moved in moved {
            let list = causes.entry(moved).or_default();
            list.extend(ids.iter().copied());
        }
    }
    for list in causes.values_mut() {
        list.sort_unstable();
        list.dedup();
        list.truncate(MAX_CAUSES);
    }
    causes
}
