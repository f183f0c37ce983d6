//! Bill-of-materials exposure: a buyer's items, each a product bought from
//! a supplier in a country for some spend, scored with the item's own stage
//! supplied from that country while its inputs keep their chains as the
//! data has them; the weighted aggregates; and for the items that weigh
//! most, the single change that would lower their dependency most.

use std::collections::HashMap;

use serde::Serialize;
use thiserror::Error;
use utoipa::ToSchema;

use super::engine::{ChainNumbers, Node};
use super::params::Params;
use super::resolve::Resolved;
use super::snapshot::Snapshot;
use crate::domain::{CountryCode, ProductId, Stage};

/// Dependency points below this are no gain (float noise of a recompute).
const NO_GAIN: f64 = 1e-9;

/// One line of a bill of materials.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub product: ProductId,
    /// Where the item's own stage is supplied from; `None`: the market.
    pub supplier_country: Option<CountryCode>,
    pub annual_spend: Option<f64>,
    pub quantity: Option<f64>,
}

/// What the items' weights are shares of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WeightBasis {
    /// Every item gives a spend, and they add up to more than 0.
    AnnualSpend,
    /// Otherwise every item gives a quantity, adding up to more than 0.
    Quantity,
    /// Otherwise every item weighs the same.
    Equal,
}

/// A product at a stage of the chain.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct StagePoint {
    /// The product.
    pub product: ProductId,
    /// Its stage.
    pub stage: Stage,
}

/// One item's scores.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemScore {
    /// Share of the total (0..1).
    pub weight: f64,
    /// `e` of the item's own stage (0..1): the Chinese-controlled fraction
    /// of the supplier country's output, or the buyer's market exposure.
    pub own_exposure: f64,
    pub dependency: f64,
    pub difficulty: f64,
    /// The deepest product whose own stage binds the dependency (the item's
    /// own product when its supplier binds); `None` at dependency 0.
    pub chokepoint: Option<StagePoint>,
}

/// The single change that would lower an item's dependency most.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Advice {
    /// Buy the item from a supplier in `country`: of the countries with
    /// recorded output of the product, outside China, the one that lowers
    /// the dependency most (the largest producer among equals).
    MoveSupplier {
        /// The country to buy from instead.
        country: CountryCode,
        /// Points 0–100: the item's dependency after the move (the level it
        /// would reach, not the change; see `points`).
        dependency: f64,
        /// Points on the 0–100 scale the move takes off the item's
        /// dependency: its dependency now minus `dependency`.
        points: f64,
    },
    /// Secure China-free supply of the upstream stage that binds the item:
    /// the dependency if `product`'s own stage were free of Chinese control.
    SecureUpstream {
        /// The upstream product whose own stage binds the item.
        product: ProductId,
        /// Its stage.
        stage: Stage,
        /// Points 0–100: the item's dependency with that stage secured (the
        /// level it would reach, not the change; see `points`).
        dependency: f64,
        /// Points on the 0–100 scale the change takes off the item's
        /// dependency: its dependency now minus `dependency`.
        points: f64,
    },
}

impl Advice {
    pub fn points(&self) -> f64 {
        match self {
            Advice::MoveSupplier { points, .. } | Advice::SecureUpstream { points, .. } => *points,
        }
    }
}

/// An item among those that weigh most in the aggregate dependency.
#[derive(Debug, Clone, PartialEq)]
pub struct Hotspot {
    /// Position in the items.
    pub item: usize,
    /// `weight × dependency`: the item's points in the aggregate dependency.
    pub contribution: f64,
    /// `None` when no single change lowers the item's dependency.
    pub advice: Option<Advice>,
    /// How many points the advice takes off the aggregate dependency
    /// (`weight ×` the item's points).
    pub aggregate_points: Option<f64>,
}

/// The items scored, aggregated and ranked.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub basis: WeightBasis,
    /// In the order of the items given.
    pub items: Vec<ItemScore>,
    /// Weighted mean dependency of the items.
    pub dependency: f64,
    /// Weighted mean difficulty of the items.
    pub difficulty: f64,
    /// The items' total annual spend, of those that give one.
    pub total_annual_spend: Option<f64>,
    /// The items' total quantity, of those that give one.
    pub total_quantity: Option<f64>,
    /// By contribution, largest first (ties in item order); items that add
    /// nothing are left out.
    pub hotspots: Vec<Hotspot>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("product `{0}` is not in the snapshot")]
pub struct UnknownProduct(pub ProductId);

/// Scores `items` and ranks the `hotspots` that weigh most.
pub fn assess(
    snapshot: &Snapshot,
    params: &Params,
    items: &[Item],
    hotspots: usize,
) -> Result<Assessment, UnknownProduct> {
    let positions = items
        .iter()
        .map(|item| {
            snapshot
                .position(&item.product)
                .ok_or_else(|| UnknownProduct(item.product.clone()))
        })
        .collect::<Result<Vec<usize>, _>>()?;
    let mut distinct = positions.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let numbers = ChainNumbers::new(snapshot, params, &distinct);
    let mut assessor = Assessor {
        snapshot,
        params,
        numbers,
    };
    let (basis, weights) = weights(items);
    // Bills of materials repeat products and countries: each pair once.
    let mut variants: HashMap<(usize, Option<CountryCode>), (f64, Node)> = HashMap::new();
    let mut scores = Vec::with_capacity(items.len());
    for ((item, &product), weight) in items.iter().zip(&positions).zip(weights) {
        let (own_exposure, node) = *variants
            .entry((product, item.supplier_country))
            .or_insert_with(|| assessor.variant(product, item.supplier_country));
        scores.push(ItemScore {
            weight,
            own_exposure,
            dependency: node.dependency(params.chain),
            difficulty: node.difficulty,
            chokepoint: assessor.chokepoint(product, &node),
        });
    }
    let dependency = scores.iter().map(|s| s.weight * s.dependency).sum();
    let difficulty = scores.iter().map(|s| s.weight * s.difficulty).sum();
    let mut ranked: Vec<(usize, f64)> = scores
        .iter()
        .enumerate()
        .map(|(i, s)| (i, s.weight * s.dependency))
        .filter(|(_, contribution)| *contribution > 0.0)
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let hotspots = ranked
        .into_iter()
        .take(hotspots)
        .map(|(index, contribution)| {
            let item = &items[index];
            let (_, node) = variants[&(positions[index], item.supplier_country)];
            let advice = assessor.advice(positions[index], item, &node);
            Hotspot {
                item: index,
                contribution,
                aggregate_points: advice
                    .as_ref()
                    .map(|advice| scores[index].weight * advice.points()),
                advice,
            }
        })
        .collect();
    let total = |amount: fn(&Item) -> Option<f64>| -> Option<f64> {
        items
            .iter()
            .filter_map(amount)
            .fold(None, |sum, a| Some(sum.unwrap_or(0.0) + a))
    };
    Ok(Assessment {
        basis,
        items: scores,
        dependency,
        difficulty,
        total_annual_spend: total(|item| item.annual_spend),
        total_quantity: total(|item| item.quantity),
        hotspots,
    })
}

/// Each item's share of the total spend, else of the total quantity, else
/// an equal share: a basis counts only when every item gives it and the
/// total is positive (spend and quantities do not mix).
fn weights(items: &[Item]) -> (WeightBasis, Vec<f64>) {
    let shares = |amounts: Vec<Option<f64>>| -> Option<Vec<f64>> {
        let amounts: Vec<f64> = amounts.into_iter().collect::<Option<_>>()?;
        let total: f64 = amounts.iter().sum();
        (total > 0.0).then(|| amounts.iter().map(|a| a / total).collect())
    };
    if let Some(weights) = shares(items.iter().map(|i| i.annual_spend).collect()) {
        (WeightBasis::AnnualSpend, weights)
    } else if let Some(weights) = shares(items.iter().map(|i| i.quantity).collect()) {
        (WeightBasis::Quantity, weights)
    } else {
        let equal = 1.0 / items.len().max(1) as f64;
        (WeightBasis::Equal, vec![equal; items.len()])
    }
}

struct Assessor<'a> {
    snapshot: &'a Snapshot,
    params: &'a Params,
    numbers: ChainNumbers<'a>,
}

impl Assessor<'_> {
    /// The own exposure and node of `product` bought from `country`: its own
    /// stage is the country's output, Chinese-controlled for the fraction
    /// China controls there (all of it in China). Without a country, the
    /// market's.
    fn variant(&mut self, product: usize, country: Option<CountryCode>) -> (f64, Node) {
        match country {
            None => {
                let node = *self.numbers.node(product);
                (node.exposure, node)
            }
            Some(_) => {
                let node = self.numbers.variant(product, country, None);
                (node.exposure, node)
            }
        }
    }

    fn stage_point(&self, product: usize) -> StagePoint {
        let product = &self.snapshot.products()[product];
        StagePoint {
            product: product.id.clone(),
            stage: product.stage,
        }
    }

    fn chokepoint(&self, product: usize, node: &Node) -> Option<StagePoint> {
        self.numbers
            .chokepoint(product, node)
            .map(|p| self.stage_point(p))
    }

    /// The better of moving the supplier and securing the upstream stage
    /// that binds; `None` when neither lowers the dependency.
    fn advice(&mut self, product: usize, item: &Item, node: &Node) -> Option<Advice> {
        let chain = self.params.chain;
        let current = node.dependency(chain);
        let moved = self
            .best_move(product, item.supplier_country)
            .map(|(country, dependency)| Advice::MoveSupplier {
                country,
                dependency,
                points: current - dependency,
            });
        let upstream = self
            .numbers
            .chokepoint(product, node)
            .filter(|&chokepoint| chokepoint != product)
            .map(|chokepoint| {
                let dependency = self
                    .numbers
                    .variant(product, item.supplier_country, Some(chokepoint))
                    .dependency(chain);
                let point = self.stage_point(chokepoint);
                Advice::SecureUpstream {
                    product: point.product,
                    stage: point.stage,
                    dependency,
                    points: current - dependency,
                }
            });
        // On a tie the supplier move wins: it is the buyer's own decision.
        [moved, upstream]
            .into_iter()
            .flatten()
            .filter(|advice| advice.points() > NO_GAIN)
            .reduce(|best, next| {
                if next.points() > best.points() {
                    next
                } else {
                    best
                }
            })
    }

    /// The country outside China, other than the current supplier's, whose
    /// supply gives the lowest dependency, the largest producer among equals.
    fn best_move(
        &mut self,
        product: usize,
        current: Option<CountryCode>,
    ) -> Option<(CountryCode, f64)> {
        let chain = self.params.chain;
        let mut best: Option<(CountryCode, f64, f64)> = None;
        for (country, share) in supplying_countries(self.numbers.resolved(product)) {
            if country == CountryCode::CN || Some(country) == current {
                continue;
            }
            let dependency = self
                .numbers
                .variant(product, Some(country), None)
                .dependency(chain);
            let better = best.is_none_or(|(_, best_dependency, best_share)| {
                dependency < best_dependency - NO_GAIN
                    || (dependency <= best_dependency + NO_GAIN && share > best_share)
            });
            if better {
                best = Some((country, dependency, share));
            }
        }
        best.map(|(country, dependency, _)| (country, dependency))
    }
}

/// Countries with recorded output of the product (production, operating
/// capacity or market share), each with its largest share among those
/// records, in country order.
fn supplying_countries(r: &Resolved) -> Vec<(CountryCode, f64)> {
    let mut shares: HashMap<CountryCode, f64> = HashMap::new();
    for (rows, published_shares) in [
        (&r.production, false),
        (&r.operating_capacity, false),
        (&r.market_share, true),
    ] {
        let total: f64 = rows.iter().map(|row| r.values[row.slot]).sum();
        for row in rows.iter() {
            let amount = r.values[row.slot];
            let share = match (published_shares, total > 0.0) {
                (true, _) => amount,
                (false, true) => amount / total,
                (false, false) => 0.0,
            };
            let entry = shares.entry(row.country).or_insert(share);
            *entry = entry.max(share);
        }
    }
    let mut countries: Vec<(CountryCode, f64)> = shares.into_iter().collect();
    countries.sort_by_key(|(country, _)| *country);
    countries
}
