//! The scoring input: products and facts, validated and indexed once so that
//! every later score only walks slices.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::ops::Range;
use std::sync::Arc;

use thiserror::Error;

use crate::domain::{
    Buyer, CountryCode, FactRecord, FactStatus, Knowledge, Metric, Period, Product, ProductId,
    ProductInput, SourceId, SourceKind, Stage,
};

/// A stored fact as scoring reads it: its value already in the metric's
/// canonical unit, its confidence already defaulted from its source, with
/// the source's kind and the fact's recording history.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotFact {
    pub id: i64,
    /// `None` for country-level metrics such as `governance_wgi`.
    pub product: Option<ProductId>,
    /// `None` for product-wide metrics such as `lead_time_years`.
    pub country: Option<CountryCode>,
    pub buyer: Option<Buyer>,
    pub facility: Option<Arc<str>>,
    pub metric: Metric,
    pub value: Option<f64>,
    pub period: Period,
    pub status: FactStatus,
    pub controlled_by: Option<CountryCode>,
    pub expected_online: Option<i32>,
    pub source_id: SourceId,
    pub source_kind: SourceKind,
    /// 0..1, already defaulted from the source kind.
    pub confidence: f64,
    /// When it was published, recorded and retracted: what each view reads.
    pub knowledge: Knowledge,
}

impl SnapshotFact {
    /// The scoring view of a stored fact; `source_kind` is its source's kind.
    pub fn from_record(record: FactRecord, source_kind: SourceKind) -> SnapshotFact {
        SnapshotFact {
            id: record.id,
            product: record.product,
            country: record.country,
            buyer: record.buyer,
            facility: record.facility.map(Arc::from),
            metric: record.metric,
            value: record.value,
            period: record.period,
            status: record.status,
            controlled_by: record.controlled_by,
            expected_online: record.expected_online,
            source_id: record.source_id,
            source_kind,
            confidence: record.confidence,
            knowledge: Knowledge {
                published_on: record.published_on,
                recorded_at: record.recorded_at,
                retracted_at: record.retracted_at,
                retraction_published_on: record.retraction_published_on,
            },
        }
    }
}

/// Why a snapshot was rejected.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SnapshotError {
    #[error("product `{0}` appears more than once")]
    DuplicateProduct(ProductId),
    #[error("product `{product}` has an input `{input}` that is not in the snapshot")]
    UnknownInput {
        product: ProductId,
        input: ProductId,
    },
    #[error("product `{product}` ({stage}) cannot take `{input}` ({input_stage}) as input: inputs come from the same or an earlier stage")]
    DownstreamInput {
        product: ProductId,
        stage: Stage,
        input: ProductId,
        input_stage: Stage,
    },
    #[error("product `{product}` has an input share {share} for `{input}` outside 0..1")]
    InvalidShare {
        product: ProductId,
        input: ProductId,
        share: f64,
    },
    #[error("the product graph has a cycle through `{0}`")]
    Cycle(ProductId),
    #[error("fact {fact} names product `{product}`, which is not in the snapshot")]
    UnknownFactProduct { fact: i64, product: ProductId },
    #[error("fact {0} has a confidence outside 0..1 or a value that is not finite")]
    InvalidFact(i64),
}

/// An edge of the product graph, by index into the snapshot's products.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Edge {
    pub input: usize,
    pub share: f64,
    pub essential: bool,
}

/// Products in topological order (every input before the products that use
/// it) with facts grouped by product and metric.
#[derive(Debug, Clone)]
pub struct Snapshot {
    products: Vec<Product>,
    edges: Vec<Vec<Edge>>,
    users: Vec<Vec<usize>>,
    index: HashMap<ProductId, usize>,
    /// Product facts sorted by (product, metric, grouping key), then the
    /// country-level facts.
    facts: Vec<SnapshotFact>,
    /// `metric_starts[p * METRICS + m]..metric_starts[p * METRICS + m + 1]`
    /// is the range of product `p`'s facts for metric `m`.
    metric_starts: Vec<u32>,
    country_facts: HashMap<(CountryCode, Metric), Range<u32>>,
}

const METRICS: usize = Metric::ALL.len();

impl Snapshot {
    /// Validates the graph (known inputs, stages flowing downstream, shares
    /// in 0..1, no cycle) and the facts, and indexes them.
    pub fn new(
        products: Vec<Product>,
        facts: Vec<SnapshotFact>,
    ) -> Result<Snapshot, SnapshotError> {
        let products = topological_order(products)?;
        let index: HashMap<ProductId, usize> = products
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.clone(), i))
            .collect();
        let edges = products
            .iter()
            .map(|p| {
                p.inputs
                    .iter()
                    .map(|input| Edge {
                        input: index[&input.product],
                        share: input.share,
                        essential: input.essential,
                    })
                    .collect()
            })
            .collect::<Vec<Vec<Edge>>>();
        let mut users = vec![Vec::new(); products.len()];
        for (user, inputs) in edges.iter().enumerate() {
            for edge in inputs {
                users[edge.input].push(user);
            }
        }
        let (facts, metric_starts, country_facts) = index_facts(facts, &index, products.len())?;
        Ok(Snapshot {
            products,
            edges,
            users,
            index,
            facts,
            metric_starts,
            country_facts,
        })
    }

    /// The products, inputs before the products made from them.
    pub fn products(&self) -> &[Product] {
        &self.products
    }

    /// The product with this id, if the snapshot has it.
    pub fn product(&self, id: &ProductId) -> Option<&Product> {
        self.index.get(id).map(|&position| &self.products[position])
    }

    /// Every fact, product facts first; a fact's position is stable for the
    /// snapshot's life.
    pub fn facts(&self) -> &[SnapshotFact] {
        &self.facts
    }

    /// The given products and every product made from them, directly or
    /// further downstream: the scores a change to their facts can move.
    /// Unknown ids are ignored.
    pub fn downstream_of<'a>(
        &self,
        products: impl IntoIterator<Item = &'a ProductId>,
    ) -> BTreeSet<ProductId> {
        let mut seen = vec![false; self.products.len()];
        let mut stack: Vec<usize> = products
            .into_iter()
            .filter_map(|id| self.index.get(id).copied())
            .collect();
        while let Some(p) = stack.pop() {
            if !std::mem::replace(&mut seen[p], true) {
                stack.extend(self.users[p].iter().copied());
            }
        }
        seen.iter()
            .enumerate()
            .filter(|(_, &s)| s)
            .map(|(p, _)| self.products[p].id.clone())
            .collect()
    }

    pub(crate) fn position(&self, id: &ProductId) -> Option<usize> {
        self.index.get(id).copied()
    }

    pub(crate) fn edges(&self, product: usize) -> &[Edge] {
        &self.edges[product]
    }

    /// Indices (into [`Snapshot::facts`]) of a product's facts for a metric.
    pub(crate) fn product_facts(&self, product: usize, metric: Metric) -> Range<usize> {
        let slot = product * METRICS + metric as usize;
        self.metric_starts[slot] as usize..self.metric_starts[slot + 1] as usize
    }

    /// Indices of a product's facts for a metric that needs a buyer: only
    /// that buyer's, the one run its resolution reads.
    pub(crate) fn buyer_facts(&self, product: usize, metric: Metric, buyer: Buyer) -> Range<usize> {
        let range = self.product_facts(product, metric);
        let facts = &self.facts[range.clone()];
        let start = facts.partition_point(|f| f.buyer < Some(buyer));
        let end = facts.partition_point(|f| f.buyer <= Some(buyer));
        range.start + start..range.start + end
    }

    /// Indices of all of a product's facts, every metric.
    pub(crate) fn facts_of(&self, product: usize) -> Range<usize> {
        self.metric_starts[product * METRICS] as usize
            ..self.metric_starts[(product + 1) * METRICS] as usize
    }

    /// Indices of the facts about no product (country-level metrics), which
    /// sort after every product's.
    pub(crate) fn country_level_facts(&self) -> Range<usize> {
        self.metric_starts[self.products.len() * METRICS] as usize..self.facts.len()
    }

    /// Indices of the country-level facts for a country and metric.
    pub(crate) fn country_facts(&self, country: CountryCode, metric: Metric) -> Range<usize> {
        self.country_facts
            .get(&(country, metric))
            .map_or(0..0, |r| r.start as usize..r.end as usize)
    }

    /// The products and everything upstream of any of them, in topological
    /// order.
    pub(crate) fn upstream_closure_of_all(&self, products: &[usize]) -> Vec<usize> {
        let mut seen = vec![false; self.products.len()];
        let mut stack = products.to_vec();
        while let Some(p) = stack.pop() {
            if !std::mem::replace(&mut seen[p], true) {
                stack.extend(self.edges[p].iter().map(|e| e.input));
            }
        }
        seen.iter()
            .enumerate()
            .filter(|(_, &s)| s)
            .map(|(p, _)| p)
            .collect()
    }

    /// The product and everything upstream of it, in topological order.
    pub(crate) fn upstream_closure(&self, product: usize) -> Vec<usize> {
        let mut seen = vec![false; product + 1];
        let mut stack = vec![product];
        while let Some(p) = stack.pop() {
            if !std::mem::replace(&mut seen[p], true) {
                stack.extend(self.edges[p].iter().map(|e| e.input));
            }
        }
        // Inputs always have smaller indices, so index order is topological.
        seen.iter()
            .enumerate()
            .filter(|(_, &s)| s)
            .map(|(p, _)| p)
            .collect()
    }
}

/// Sorts products by (stage, id) for a deterministic order, checks the
/// edges, then orders them so that every input precedes its users (Kahn's
/// algorithm).
fn topological_order(mut products: Vec<Product>) -> Result<Vec<Product>, SnapshotError> {
    products.sort_by(|a, b| (a.stage, &a.id).cmp(&(b.stage, &b.id)));
    if let Some(w) = products.windows(2).find(|w| w[0].id == w[1].id) {
        return Err(SnapshotError::DuplicateProduct(w[0].id.clone()));
    }
    let position: HashMap<&ProductId, usize> = products
        .iter()
        .enumerate()
        .map(|(i, p)| (&p.id, i))
        .collect();
    let mut pending_inputs = vec![0usize; products.len()];
    let mut users = vec![Vec::new(); products.len()];
    for (i, product) in products.iter().enumerate() {
        for input in &product.inputs {
            let j = *position
                .get(&input.product)
                .ok_or_else(|| SnapshotError::UnknownInput {
                    product: product.id.clone(),
                    input: input.product.clone(),
                })?;
            check_edge(product, input, products[j].stage)?;
            pending_inputs[i] += 1;
            users[j].push(i);
        }
    }
    // Always take the first ready product in (stage, id) order, so the
    // order is stage by stage wherever the graph allows.
    let mut ready: BinaryHeap<Reverse<usize>> = (0..products.len())
        .filter(|&i| pending_inputs[i] == 0)
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(products.len());
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for &user in &users[i] {
            pending_inputs[user] -= 1;
            if pending_inputs[user] == 0 {
                ready.push(Reverse(user));
            }
        }
    }
    if order.len() < products.len() {
        let stuck = (0..products.len())
            .find(|&i| pending_inputs[i] > 0)
            .expect("a product is left");
        return Err(SnapshotError::Cycle(products[stuck].id.clone()));
    }
    let mut slots: Vec<Option<Product>> = products.into_iter().map(Some).collect();
    Ok(order
        .into_iter()
        .map(|i| slots[i].take().expect("each product once"))
        .collect())
}

fn check_edge(
    product: &Product,
    input: &ProductInput,
    input_stage: Stage,
) -> Result<(), SnapshotError> {
    if !(0.0..=1.0).contains(&input.share) {
        return Err(SnapshotError::InvalidShare {
            product: product.id.clone(),
            input: input.product.clone(),
            share: input.share,
        });
    }
    if input_stage > product.stage {
        return Err(SnapshotError::DownstreamInput {
            product: product.id.clone(),
            stage: product.stage,
            input: input.product.clone(),
            input_stage,
        });
    }
    Ok(())
}

type FactIndex = (
    Vec<SnapshotFact>,
    Vec<u32>,
    HashMap<(CountryCode, Metric), Range<u32>>,
);

fn index_facts(
    facts: Vec<SnapshotFact>,
    index: &HashMap<ProductId, usize>,
    product_count: usize,
) -> Result<FactIndex, SnapshotError> {
    let mut keyed = Vec::with_capacity(facts.len());
    for fact in facts {
        let valid = (0.0..=1.0).contains(&fact.confidence) && fact.value.is_none_or(f64::is_finite);
        if !valid {
            return Err(SnapshotError::InvalidFact(fact.id));
        }
        // Country-level facts sort after every product's.
        let owner = match &fact.product {
            None => usize::MAX,
            Some(id) => *index
                .get(id)
                .ok_or_else(|| SnapshotError::UnknownFactProduct {
                    fact: fact.id,
                    product: id.clone(),
                })?,
        };
        keyed.push((owner, fact));
    }
    keyed.sort_by(|(pa, a), (pb, b)| pa.cmp(pb).then_with(|| grouping_order(a, b)));

    let mut metric_starts = vec![0u32; product_count * METRICS + 1];
    let mut country_facts: HashMap<(CountryCode, Metric), Range<u32>> = HashMap::new();
    for (i, (owner, fact)) in keyed.iter().enumerate() {
        let i = i as u32;
        if *owner == usize::MAX {
            if let Some(country) = fact.country {
                country_facts
                    .entry((country, fact.metric))
                    .or_insert(i..i)
                    .end = i + 1;
            }
        } else {
            metric_starts[owner * METRICS + fact.metric as usize + 1] += 1;
        }
    }
    for slot in 1..metric_starts.len() {
        metric_starts[slot] += metric_starts[slot - 1];
    }
    Ok((
        keyed.into_iter().map(|(_, f)| f).collect(),
        metric_starts,
        country_facts,
    ))
}

/// The order within a product: by metric, then the grouping key (country,
/// variant, facility), then buyer and latest period first. A metric that
/// needs a buyer sorts by buyer first, so each buyer's facts are one run
/// (no other buyer's facts ever take part in its resolution). Every
/// grouping used by resolution is a contiguous run in this order.
fn grouping_order(a: &SnapshotFact, b: &SnapshotFact) -> Ordering {
    let run = |f: &SnapshotFact| f.buyer.filter(|_| f.metric.spec().needs_buyer);
    (
        a.metric,
        run(a),
        a.country,
        variant(a),
        &a.facility,
        a.buyer,
    )
        .cmp(&(
            b.metric,
            run(b),
            b.country,
            variant(b),
            &b.facility,
            b.buyer,
        ))
        .then_with(|| b.period.start.cmp(&a.period.start))
        .then_with(|| a.id.cmp(&b.id))
}

/// The part of a fact's key beyond (country, facility): capacity by status,
/// controls by level, control shares by the controlling country.
pub(crate) fn variant(fact: &SnapshotFact) -> u32 {
    match fact.metric {
        Metric::Capacity => match fact.status {
            FactStatus::UnderConstruction => 1,
            FactStatus::Planned => 2,
            FactStatus::Announced => 3,
            _ => 0,
        },
        Metric::ExportControl | Metric::TechnologyExportBan => {
            fact.value.map_or(0, |v| v.max(0.0) as u32)
        }
        Metric::ControlledShare => fact.controlled_by.map_or(0, |c| {
            let b = c.as_str().as_bytes();
            u32::from(b[0]) << 8 | u32::from(b[1])
        }),
        _ => 0,
    }
}
