//! What-if scenarios: the snapshot with hypothetical facts added, existing
//! facts left out and export controls switched, scored by the same engine
//! next to the unchanged snapshot. Pure: the caller passes a snapshot and
//! gets both results back; the snapshot itself is never modified.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;
use time::{Duration, OffsetDateTime, UtcOffset};
use utoipa::ToSchema;

use super::engine::walk;
use super::explain::{Explainer, ProductScore};
use super::params::Params;
use super::snapshot::{Snapshot, SnapshotFact};
use crate::domain::{
    Buyer, CountryCode, Fact, FactDefaults, FactRecord, FactStatus, Metric, NewFact, Period,
    ProductId, SourceId, SourceKind,
};

/// The source every hypothetical fact cites.
pub const SCENARIO_SOURCE: &str = "scenario";

/// The confidence of a hypothetical fact that states none: the scenario
/// asserts it, so it is taken as certain.
pub const HYPOTHETICAL_CONFIDENCE: f64 = 1.0;

/// Hypothetical facts are recorded this long before `as_of`, so that they
/// are known at it.
const RECORDED_BEFORE_AS_OF: Duration = Duration::SECOND;

/// Scores closer than this are the same score (float noise of a recompute).
const UNCHANGED: f64 = 1e-9;

/// One change a scenario makes to the facts.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A hypothetical fact, validated like an ingested one; it cites
    /// [`SCENARIO_SOURCE`] whatever its `source_id` says.
    AddFact(Fact),
    /// Existing facts left out, by id.
    DropFacts(Vec<i64>),
    /// An export control in force, or suspended, from `as_of`'s day on.
    ExportControl(ControlSwitch),
}

/// An export control switched on or off. It becomes a hypothetical
/// `export_control` fact keyed like the control it overrides (product,
/// country, level, facility, buyer) whose period starts on `as_of`'s day, so
/// it is the latest and wins resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlSwitch {
    pub product: ProductId,
    pub country: CountryCode,
    /// Only for this buyer; `None` for every buyer.
    pub buyer: Option<Buyer>,
    /// The label telling apart several controls of one level on a product.
    pub facility: Option<String>,
    /// 1 licensing, 2 ban.
    pub level: u32,
    /// In force, or suspended.
    pub in_force: bool,
}

/// A change the snapshot cannot take.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeError {
    /// The change's position in the list.
    pub change: usize,
    /// Where in the change: a field name, or the position of a fact id.
    pub field: String,
    pub message: String,
}

/// A product's scores without and with the scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub baseline: ProductScore,
    pub scenario: ProductScore,
}

/// What a scenario did and what it moved.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The hypothetical facts (negative ids), each with the position of the
    /// change that made it.
    pub hypothetical: Vec<(usize, SnapshotFact)>,
    /// Facts left out, in the order the changes named them.
    pub dropped: Vec<i64>,
    /// Products whose own facts change and every product made from them.
    pub affected: BTreeSet<ProductId>,
    /// One per product asked about (by default the affected ones, inputs
    /// before the products made from them).
    pub comparisons: Vec<Comparison>,
}

/// Scores `products` (default: every affected product) on `snapshot` and on
/// the snapshot as `changes` leave it. Unknown product ids in `products` are
/// ignored; changes naming unknown products or facts are errors.
pub fn evaluate(
    snapshot: &Snapshot,
    changes: &[Change],
    products: Option<&[ProductId]>,
    params: &Params,
) -> Result<Evaluation, Vec<ChangeError>> {
    let applied = apply(snapshot, changes, params.as_of)?;
    let affected = if applied.country_level {
        // Any product may read a country-level fact.
        snapshot.products().iter().map(|p| p.id.clone()).collect()
    } else {
        snapshot.downstream_of(applied.products.iter())
    };
    let targets: Vec<ProductId> = match products {
        Some(requested) => {
            let mut seen = HashSet::new();
            requested
                .iter()
                .filter(|id| snapshot.product(id).is_some() && seen.insert(*id))
                .cloned()
                .collect()
        }
        None => snapshot
            .products()
            .iter()
            .filter(|p| affected.contains(&p.id))
            .map(|p| p.id.clone())
            .collect(),
    };
    let baseline = score_targets(snapshot, &targets, params);
    let changed = changed_snapshot(snapshot, &targets, &applied);
    let scenario = score_targets(&changed, &targets, params);
    Ok(Evaluation {
        hypothetical: applied.hypothetical,
        dropped: applied.dropped_in_order,
        affected,
        comparisons: baseline
            .into_iter()
            .zip(scenario)
            .map(|(baseline, scenario)| Comparison { baseline, scenario })
            .collect(),
    })
}

/// Checks that the products and facts `changes` name exist, without
/// scoring anything (a scenario being saved).
pub fn check(
    snapshot: &Snapshot,
    changes: &[Change],
    as_of: OffsetDateTime,
) -> Result<(), Vec<ChangeError>> {
    apply(snapshot, changes, as_of).map(drop)
}

/// The changes as facts to add and to leave out.
struct Applied {
    hypothetical: Vec<(usize, SnapshotFact)>,
    dropped: HashSet<i64>,
    dropped_in_order: Vec<i64>,
    /// Products whose own facts change.
    products: BTreeSet<ProductId>,
    /// Whether a fact about no product (a country-level metric) changes.
    country_level: bool,
}

impl Applied {
    fn touch(&mut self, product: Option<&ProductId>) {
        match product {
            Some(id) => {
                self.products.insert(id.clone());
            }
            None => self.country_level = true,
        }
    }

    fn add(&mut self, change: usize, mut fact: SnapshotFact) {
        fact.id = -(self.hypothetical.len() as i64 + 1);
        self.touch(fact.product.as_ref());
        self.hypothetical.push((change, fact));
    }
}

fn apply(
    snapshot: &Snapshot,
    changes: &[Change],
    as_of: OffsetDateTime,
) -> Result<Applied, Vec<ChangeError>> {
    let mut applied = Applied {
        hypothetical: Vec::new(),
        dropped: HashSet::new(),
        dropped_in_order: Vec::new(),
        products: BTreeSet::new(),
        country_level: false,
    };
    let mut errors = Vec::new();
    let unknown_product = |change: usize, id: &ProductId| ChangeError {
        change,
        field: "product".to_owned(),
        message: format!("product `{id}` does not exist"),
    };
    // Built only when a change drops facts: fact id → its product.
    let mut fact_products: Option<HashMap<i64, Option<&ProductId>>> = None;
    let recorded_at = as_of - RECORDED_BEFORE_AS_OF;
    for (index, change) in changes.iter().enumerate() {
        match change {
            Change::AddFact(fact) => {
                if let Some(id) = fact
                    .product
                    .as_ref()
                    .filter(|id| snapshot.product(id).is_none())
                {
                    errors.push(unknown_product(index, id));
                    continue;
                }
                let confidence = fact.confidence.unwrap_or(HYPOTHETICAL_CONFIDENCE);
                if !fact.value.is_none_or(f64::is_finite) {
                    errors.push(ChangeError {
                        change: index,
                        field: "value".to_owned(),
                        message: "must be a finite number".to_owned(),
                    });
                    continue;
                }
                if !(0.0..=1.0).contains(&confidence) {
                    errors.push(ChangeError {
                        change: index,
                        field: "confidence".to_owned(),
                        message: "must be between 0 and 1".to_owned(),
                    });
                    continue;
                }
                applied.add(index, hypothetical(fact, confidence, recorded_at));
            }
            Change::DropFacts(ids) => {
                let known = fact_products.get_or_insert_with(|| {
                    snapshot
                        .facts()
                        .iter()
                        .map(|f| (f.id, f.product.as_ref()))
                        .collect()
                });
                for (position, id) in ids.iter().enumerate() {
                    match known.get(id) {
                        Some(product) => {
                            if applied.dropped.insert(*id) {
                                applied.dropped_in_order.push(*id);
                            }
                            applied.touch(*product);
                        }
                        None => errors.push(ChangeError {
                            change: index,
                            field: position.to_string(),
                            message: format!("fact {id} does not exist"),
                        }),
                    }
                }
            }
            Change::ExportControl(switch) => {
                if snapshot.product(&switch.product).is_none() {
                    errors.push(unknown_product(index, &switch.product));
                    continue;
                }
                applied.add(index, control_fact(switch, as_of, recorded_at));
            }
        }
    }
    if errors.is_empty() {
        Ok(applied)
    } else {
        Err(errors)
    }
}

fn scenario_source() -> SourceId {
    SourceId::parse(SCENARIO_SOURCE).expect("the scenario source id is a valid slug")
}

/// A validated fact as scoring reads it, citing [`SCENARIO_SOURCE`],
/// recorded just before `as_of` and published on its day, so that every
/// view knows it there; its id is set when it is added.
fn hypothetical(fact: &Fact, confidence: f64, recorded_at: OffsetDateTime) -> SnapshotFact {
    let defaults = FactDefaults {
        confidence,
        published_on: (recorded_at + RECORDED_BEFORE_AS_OF)
            .to_offset(UtcOffset::UTC)
            .date(),
    };
    let mut record = FactRecord::from_fact(0, fact.clone(), defaults, recorded_at);
    record.source_id = scenario_source();
    SnapshotFact::from_record(record, SourceKind::Other)
}

/// The switch as the `export_control` fact it stands for, validated like
/// any submitted fact.
fn control_fact(
    switch: &ControlSwitch,
    as_of: OffsetDateTime,
    recorded_at: OffsetDateTime,
) -> SnapshotFact {
    let from_that_day = Period {
        start: as_of.to_offset(UtcOffset::UTC).date(),
        end: None,
    };
    let status = if switch.in_force {
        FactStatus::InForce
    } else {
        FactStatus::Suspended
    };
    let fact = NewFact {
        product: Some(switch.product.to_string()),
        country: Some(switch.country.to_string()),
        buyer: switch.buyer.map(|b| b.to_string()),
        facility: switch.facility.clone(),
        metric: Metric::ExportControl.as_str().to_owned(),
        value: Some(f64::from(switch.level)),
        unit: Some(Metric::ExportControl.spec().unit.as_str().to_owned()),
        period: from_that_day.to_string(),
        status: status.as_str().to_owned(),
        source_id: SCENARIO_SOURCE.to_owned(),
        ..NewFact::default()
    }
    .validate()
    .expect("a control switch is a valid export_control fact");
    hypothetical(&fact, HYPOTHETICAL_CONFIDENCE, recorded_at)
}

/// The part of the snapshot the targets read (they and everything upstream,
/// plus the country-level facts) with the changes applied. Re-indexing only
/// that part keeps a scenario cheap on a large snapshot.
fn changed_snapshot(snapshot: &Snapshot, targets: &[ProductId], applied: &Applied) -> Snapshot {
    let positions: Vec<usize> = targets
        .iter()
        .filter_map(|id| snapshot.position(id))
        .collect();
    let closure = snapshot.upstream_closure_of_all(&positions);
    let in_scope: HashSet<&ProductId> = closure
        .iter()
        .map(|&p| &snapshot.products()[p].id)
        .collect();
    let facts = snapshot.facts();
    let kept = closure
        .iter()
        .flat_map(|&p| snapshot.facts_of(p))
        .chain(snapshot.country_level_facts())
        .map(|i| &facts[i])
        .filter(|fact| !applied.dropped.contains(&fact.id));
    let added = applied
        .hypothetical
        .iter()
        .map(|(_, fact)| fact)
        .filter(|fact| fact.product.as_ref().is_none_or(|p| in_scope.contains(p)));
    let products = closure
        .iter()
        .map(|&p| snapshot.products()[p].clone())
        .collect();
    Snapshot::new(products, kept.chain(added).cloned().collect())
        // A part closed under inputs of a valid snapshot, plus facts whose
        // products, values and confidences were checked, is valid.
        .expect("the changed snapshot is valid")
}

/// Fully explained scores of `targets`, each product of their chains
/// computed once; unknown ids are skipped.
fn score_targets(snapshot: &Snapshot, targets: &[ProductId], params: &Params) -> Vec<ProductScore> {
    let positions: Vec<usize> = targets
        .iter()
        .filter_map(|id| snapshot.position(id))
        .collect();
    let order = snapshot.upstream_closure_of_all(&positions);
    let wanted: HashSet<usize> = positions.iter().copied().collect();
    let mut scores: HashMap<usize, ProductScore> = HashMap::with_capacity(positions.len());
    let mut explainer = Explainer::new(snapshot, params);
    walk(snapshot, params, &order, |visit| {
        // Every product is explained: products downstream read its pressure.
        let score = explainer.explain(&visit);
        if wanted.contains(&visit.product) {
            scores.insert(visit.product, score);
        }
    });
    positions.iter().filter_map(|p| scores.remove(p)).collect()
}

/// Which score a component belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScoreKind {
    Dependency,
    Difficulty,
}

/// One difference between a product's explanation without and with the
/// scenario.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExplanationChange {
    /// China's share `g` of the product's own stage (0..1).
    ChinaShare {
        /// Fraction 0–1 in the baseline.
        before: f64,
        /// Fraction 0–1 in the scenario.
        after: f64,
    },
    /// A component's contribution to a score, in points of 0..100
    /// (`own_stage`, `upstream`; `time`, `scale`, `capital`, `cost`,
    /// `know_how`, `substitution`, `upstream`).
    Component {
        /// Which score the component belongs to.
        score: ScoreKind,
        /// The component's name.
        name: String,
        /// Points of the 0–100 score in the baseline.
        before: f64,
        /// Points of the 0–100 score in the scenario (0 when the
        /// component is gone).
        after: f64,
    },
    /// The deepest product whose own stage binds the dependency.
    Chokepoint {
        /// In the baseline; absent at dependency 0.
        before: Option<ProductId>,
        /// In the scenario; absent at dependency 0.
        after: Option<ProductId>,
    },
    /// The product whose difficulty is the chain's.
    DifficultyBinding {
        /// In the baseline.
        before: ProductId,
        /// In the scenario.
        after: ProductId,
    },
    /// An export control on the product or upstream of it: absent, in force
    /// or suspended.
    Pressure {
        /// The product the control applies to.
        product: ProductId,
        /// The controlling country.
        country: CountryCode,
        /// 1 licensing, 2 ban.
        level: u32,
        /// `in_force` or `suspended` in the baseline; absent when there
        /// was no such control.
        before: Option<FactStatus>,
        /// `in_force` or `suspended` in the scenario; absent when there is
        /// no such control.
        after: Option<FactStatus>,
    },
    /// Facts behind the product's own stage that the scenario brings in or
    /// leaves out (hypothetical ones have negative ids).
    FactsUsed {
        /// Fact ids used in the scenario only.
        added: Vec<i64>,
        /// Fact ids used in the baseline only.
        removed: Vec<i64>,
    },
    /// Inputs that now fall back to a documented default, or no longer do.
    DefaultsUsed {
        /// Inputs on a default in the scenario only.
        added: Vec<String>,
        /// Inputs on a default in the baseline only.
        removed: Vec<String>,
    },
}

/// What differs between two explanations of one product.
pub fn explanation_changes(
    baseline: &ProductScore,
    scenario: &ProductScore,
) -> Vec<ExplanationChange> {
    let mut changes = Vec::new();
    let (g_before, g_after) = (
        baseline.dependency.china_share.value,
        scenario.dependency.china_share.value,
    );
    if (g_before - g_after).abs() > UNCHANGED {
        changes.push(ExplanationChange::ChinaShare {
            before: g_before,
            after: g_after,
        });
    }
    for (score, before, after) in [
        (
            ScoreKind::Dependency,
            &baseline.dependency.components,
            &scenario.dependency.components,
        ),
        (
            ScoreKind::Difficulty,
            &baseline.difficulty.components,
            &scenario.difficulty.components,
        ),
    ] {
        for old in before {
            let new = after
                .iter()
                .find(|c| c.name == old.name)
                .map_or(0.0, |c| c.contribution);
            if (old.contribution - new).abs() > UNCHANGED {
                changes.push(ExplanationChange::Component {
                    score,
                    name: old.name.to_owned(),
                    before: old.contribution,
                    after: new,
                });
            }
        }
    }
    let chokepoint = |s: &ProductScore| s.dependency.chokepoint.as_ref().map(|c| c.product.clone());
    if chokepoint(baseline) != chokepoint(scenario) {
        changes.push(ExplanationChange::Chokepoint {
            before: chokepoint(baseline),
            after: chokepoint(scenario),
        });
    }
    if baseline.difficulty.binding.product != scenario.difficulty.binding.product {
        changes.push(ExplanationChange::DifficultyBinding {
            before: baseline.difficulty.binding.product.clone(),
            after: scenario.difficulty.binding.product.clone(),
        });
    }
    changes.extend(pressure_changes(baseline, scenario));
    let ids = |s: &ProductScore| -> BTreeSet<i64> { s.facts_used.iter().map(|f| f.id).collect() };
    let (added, removed) = difference(&ids(baseline), &ids(scenario));
    if !added.is_empty() || !removed.is_empty() {
        changes.push(ExplanationChange::FactsUsed { added, removed });
    }
    let defaults = |s: &ProductScore| -> BTreeSet<String> {
        s.defaults_used.iter().map(|d| d.input.clone()).collect()
    };
    let (added, removed) = difference(&defaults(baseline), &defaults(scenario));
    if !added.is_empty() || !removed.is_empty() {
        changes.push(ExplanationChange::DefaultsUsed { added, removed });
    }
    changes
}

/// What is in `after` only, and what is in `before` only.
fn difference<T: Ord + Clone>(before: &BTreeSet<T>, after: &BTreeSet<T>) -> (Vec<T>, Vec<T>) {
    (
        after.difference(before).cloned().collect(),
        before.difference(after).cloned().collect(),
    )
}

/// Controls by (product, country, level): in force if any entry of that key
/// is, else suspended.
fn pressure_by_key(score: &ProductScore) -> BTreeMap<(ProductId, CountryCode, u32), FactStatus> {
    let mut keyed = BTreeMap::new();
    for pressure in &score.pressure {
        let status = keyed
            .entry((pressure.product.clone(), pressure.country, pressure.level))
            .or_insert(pressure.status);
        if pressure.status == FactStatus::InForce {
            *status = FactStatus::InForce;
        }
    }
    keyed
}

fn pressure_changes(baseline: &ProductScore, scenario: &ProductScore) -> Vec<ExplanationChange> {
    let before = pressure_by_key(baseline);
    let after = pressure_by_key(scenario);
    let keys: BTreeSet<&(ProductId, CountryCode, u32)> =
        before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter(|key| before.get(*key) != after.get(*key))
        .map(|(product, country, level)| {
            let key = (product.clone(), *country, *level);
            ExplanationChange::Pressure {
                product: product.clone(),
                country: *country,
                level: *level,
                before: before.get(&key).copied(),
                after: after.get(&key).copied(),
            }
        })
        .collect()
}
