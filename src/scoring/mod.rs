//! The scoring engine: pure, deterministic functions from a snapshot of
//! products and facts to explained scores. No IO, no clock: the caller
//! passes `as_of`. The method is described in `docs/methodology.md`.
//!
//! - **dependency** (0–100): the share of the buyer's supply passing through
//!   Chinese-controlled capacity, at the product's stage or upstream;
//! - **displacement difficulty** (0–100): how hard that share would be to
//!   replace;
//! - an **EU CRM** supply-risk cross-check, and seeded **Monte Carlo**
//!   intervals for both scores;
//! - what-if **scenarios** on a changed snapshot, and the **exposure** of a
//!   bill of materials bought from suppliers in named countries.

mod dependency;
mod difficulty;
mod engine;
mod eu_crm;
mod explain;
pub mod exposure;
mod graph;
mod network;
mod params;
mod resolve;
pub mod scenario;
mod snapshot;
pub mod summary;
mod uncertainty;

#[cfg(test)]
mod tests;

pub use dependency::ShareBasis;
pub use difficulty::Origin;
pub use eu_crm::{
    CrmCountry, CrmStage, EuCrmResult, ECONOMIC_IMPORTANCE_THRESHOLD, EU_CRM_METHOD,
    SUPPLY_RISK_THRESHOLD,
};
pub use explain::{
    Binding, ChinaShare, Chokepoint, Component, Conflict, CountryShare, DefaultUsed,
    DependencyScore, DifficultyScore, FactRef, InputDifficulty, InputTerm, LocalExposure, PathStep,
    PathVia, Pressure, ProductScore, Quantity, ScoreRange, SupplyPath,
};
pub use graph::GraphHistory;
pub use params::{
    Chain, HorizonError, OverrideError, Params, WeightOverrides, Weights, WeightsError,
    COMPONENT_NAMES,
};
pub use snapshot::{Snapshot, SnapshotError, SnapshotFact};
pub use summary::{History, HistoryPoint, ScoreDelta, ScoreSummary, Step};
pub(crate) use uncertainty::Rng;
pub use uncertainty::{Interval, Intervals, DEFAULT_DRAWS};

use crate::domain::ProductId;

/// The version of the method. The year and a counter: any change that can
/// move a score (a formula, a default, a weight) bumps it, so a stored score
/// names the method that produced it.
pub const METHODOLOGY_VERSION: &str = "2026.6";

/// Scores one product (computing its upstream chain once each), or `None`
/// if the product is not in the snapshot.
pub fn score_product(
    snapshot: &Snapshot,
    product: &ProductId,
    params: &Params,
) -> Option<ProductScore> {
    let position = snapshot.position(product)?;
    let closure = snapshot.upstream_closure(position);
    let mut explainer = explain::Explainer::new(snapshot, params);
    let mut score = None;
    engine::walk(snapshot, params, &closure, |visit| {
        let explained = explainer.explain(&visit);
        if visit.product == position {
            score = Some(explained);
        }
    });
    score
}

/// Scores a product and every product upstream of it, each computed once,
/// inputs before the products made from them (the product last); `None` if
/// the product is not in the snapshot. Each score is the one
/// [`score_product`] gives that product.
pub fn score_chain(
    snapshot: &Snapshot,
    product: &ProductId,
    params: &Params,
) -> Option<Vec<ProductScore>> {
    let position = snapshot.position(product)?;
    let closure = snapshot.upstream_closure(position);
    let mut explainer = explain::Explainer::new(snapshot, params);
    let mut scores = Vec::with_capacity(closure.len());
    engine::walk(snapshot, params, &closure, |visit| {
        scores.push(explainer.explain(&visit))
    });
    Some(scores)
}

/// Scores the given products, computing everything upstream of them once,
/// inputs before the products made from them; unknown ids are ignored. Each
/// score is the one [`score_product`] gives that product.
pub fn score_products<'a>(
    snapshot: &Snapshot,
    products: impl IntoIterator<Item = &'a ProductId>,
    params: &Params,
) -> Vec<ProductScore> {
    Scorer::new(snapshot, params).score_products(products, params)
}

/// Scores every product, each computed once, inputs before the products
/// made from them (the order of the result).
pub fn score_all(snapshot: &Snapshot, params: &Params) -> Vec<ProductScore> {
    Scorer::new(snapshot, params).score_all(params)
}

/// Scores for several buyers at one instant and view, over one supply
/// network: what it builds for one buyer serves the next (the network
/// does not depend on the buyer). Each score is the one [`score_product`]
/// gives.
pub struct Scorer<'a> {
    snapshot: &'a Snapshot,
    network: network::Network<'a>,
}

impl<'a> Scorer<'a> {
    /// A scorer for `params`' instant and view.
    pub fn new(snapshot: &'a Snapshot, params: &Params) -> Scorer<'a> {
        Scorer {
            snapshot,
            network: network::Network::new(snapshot, params),
        }
    }

    /// [`score_all`] for `params`, which must share the scorer's instant
    /// and view.
    pub fn score_all(&mut self, params: &Params) -> Vec<ProductScore> {
        let all: Vec<usize> = (0..self.snapshot.products().len()).collect();
        let explainer = explain::Explainer::new(self.snapshot, params);
        self.scores(&all, params, explainer)
    }

    /// [`score_products`] for `params`, which must share the scorer's
    /// instant and view.
    pub fn score_products<'p>(
        &mut self,
        products: impl IntoIterator<Item = &'p ProductId>,
        params: &Params,
    ) -> Vec<ProductScore> {
        let positions = self.positions(products);
        let explainer = explain::Explainer::new(self.snapshot, params);
        self.scores(&positions, params, explainer)
    }

    /// [`score_all`]'s scores without the chokepoint's paths (and the
    /// defaults read off them), the one costly part headline figures do
    /// not need.
    pub fn headline_scores(&mut self, params: &Params) -> Vec<ProductScore> {
        let all: Vec<usize> = (0..self.snapshot.products().len()).collect();
        let explainer = explain::Explainer::for_summaries(self.snapshot, params);
        self.scores(&all, params, explainer)
    }

    /// [`score_products`]' scores without the chokepoint's paths.
    pub fn headline_scores_of<'p>(
        &mut self,
        products: impl IntoIterator<Item = &'p ProductId>,
        params: &Params,
    ) -> Vec<ProductScore> {
        let positions = self.positions(products);
        let explainer = explain::Explainer::for_summaries(self.snapshot, params);
        self.scores(&positions, params, explainer)
    }

    /// The headline figures of every product, as [`score_all`]'s scores
    /// summarise.
    pub fn summarise_all(&mut self, params: &Params) -> Vec<ScoreSummary> {
        summaries(self.headline_scores(params))
    }

    /// The headline figures of the given products, as [`score_products`]'
    /// scores summarise.
    pub fn summarise_products<'p>(
        &mut self,
        products: impl IntoIterator<Item = &'p ProductId>,
        params: &Params,
    ) -> Vec<ScoreSummary> {
        summaries(self.headline_scores_of(products, params))
    }

    fn positions<'p>(&self, products: impl IntoIterator<Item = &'p ProductId>) -> Vec<usize> {
        products
            .into_iter()
            .filter_map(|id| self.snapshot.position(id))
            .collect()
    }

    /// The products at `positions`, computing everything upstream of them
    /// once, inputs first.
    fn scores(
        &mut self,
        positions: &[usize],
        params: &Params,
        mut explainer: explain::Explainer<'_>,
    ) -> Vec<ProductScore> {
        let snapshot = self.snapshot;
        let mut wanted = vec![false; snapshot.products().len()];
        positions.iter().for_each(|&p| wanted[p] = true);
        let closure = snapshot.upstream_closure_of_all(positions);
        let mut scores = Vec::with_capacity(positions.len());
        engine::walk_in(&mut self.network, snapshot, params, &closure, |visit| {
            if wanted[visit.product] {
                scores.push(explainer.explain(&visit));
            } else {
                explainer.pass(&visit);
            }
        });
        scores
    }
}

fn summaries(scores: Vec<ProductScore>) -> Vec<ScoreSummary> {
    scores.iter().map(ScoreSummary::from).collect()
}

/// p5/p50/p95 of both scores over `draws` seeded Monte Carlo draws (at
/// least one); the same snapshot, parameters and seed give the same result.
pub fn uncertainty(
    snapshot: &Snapshot,
    product: &ProductId,
    params: &Params,
    draws: u32,
    seed: u64,
) -> Option<Intervals> {
    uncertainty::uncertainty(snapshot, product, params, draws, seed)
}

/// The EU CRM supply-risk cross-check of a product and its upstream chain.
pub fn eu_crm(snapshot: &Snapshot, product: &ProductId, params: &Params) -> Option<EuCrmResult> {
    eu_crm::eu_crm(snapshot, product, params)
}
