//! Evaluation along the DAG: each product is resolved and computed once per
//! call, inputs before the products made from them.

use super::dependency::{chain_dependency, exposure, supply, Exposure, Supply};
use super::difficulty::{chain_difficulty, own_difficulty, OwnDifficulty};
use super::params::{Chain, Params};
use super::resolve::{resolve, Resolved};
use super::snapshot::Snapshot;

/// A product's own stage: numbers only, so Monte Carlo can recompute it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Local {
    pub supply: Supply,
    pub exposure: Exposure,
    pub difficulty: OwnDifficulty,
}

pub(crate) fn local(
    snapshot: &Snapshot,
    product: usize,
    r: &Resolved,
    values: &[f64],
    params: &Params,
) -> Local {
    let supply = supply(r, values);
    let exposure = exposure(r, values, supply.share);
    let stage = snapshot.products()[product].stage;
    let difficulty = own_difficulty(r, values, stage, &supply, exposure.value, params);
    Local {
        supply,
        exposure,
        difficulty,
    }
}

/// A product's results after its chain.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Node {
    /// China-free supply under each aggregation.
    pub free_bottleneck: f64,
    pub free_independent: f64,
    /// Own exposure `e`.
    pub exposure: f64,
    /// Under bottleneck, the input edge that binds (`None`: own stage).
    pub dependency_edge: Option<usize>,
    pub own_difficulty: f64,
    pub difficulty: f64,
    /// The input edge whose chain difficulty binds (`None`: own).
    pub difficulty_edge: Option<usize>,
    pub years_to_displace: f64,
}

impl Node {
    pub fn free(&self, chain: Chain) -> f64 {
        match chain {
            Chain::Bottleneck => self.free_bottleneck,
            Chain::Independent => self.free_independent,
        }
    }

    /// `100 · (1 − f)` under the chosen aggregation.
    pub fn dependency(&self, chain: Chain) -> f64 {
        100.0 * (1.0 - self.free(chain))
    }
}

/// Combines a product's own numbers with its inputs' nodes (already in
/// `nodes`, indexed by product).
pub(crate) fn node(
    snapshot: &Snapshot,
    product: usize,
    local: &Local,
    nodes: &[Node],
    chain: Chain,
) -> Node {
    let edges = snapshot.edges(product);
    let dependency = chain_dependency(
        1.0 - local.exposure.value,
        edges.iter().map(|e| {
            (
                *e,
                nodes[e.input].free_bottleneck,
                nodes[e.input].free_independent,
            )
        }),
    );
    let own = &local.difficulty;
    let difficulty = chain_difficulty(
        own.score,
        own.lead_time_years,
        edges.iter().map(|e| {
            let input = &nodes[e.input];
            (
                input.dependency(chain),
                input.difficulty,
                input.years_to_displace,
            )
        }),
    );
    Node {
        free_bottleneck: dependency.bottleneck,
        free_independent: dependency.independent,
        exposure: local.exposure.value,
        dependency_edge: dependency.binding_edge,
        own_difficulty: own.score,
        difficulty: difficulty.score,
        difficulty_edge: difficulty.binding_edge,
        years_to_displace: difficulty.years_to_displace,
    }
}

/// The products met following binding edges from `product`, itself first.
pub(crate) fn binding_path(
    snapshot: &Snapshot,
    product: usize,
    nodes: &[Node],
    edge_of: impl Fn(&Node) -> Option<usize>,
) -> Vec<usize> {
    let mut path = vec![product];
    let mut current = product;
    while let Some(edge) = edge_of(&nodes[current]) {
        current = snapshot.edges(current)[edge].input;
        path.push(current);
    }
    path
}

/// What a walk hands over for each product it evaluates.
pub(crate) struct Visit<'a> {
    pub product: usize,
    pub resolved: &'a Resolved,
    pub local: &'a Local,
    /// Nodes of this product and everything upstream of it.
    pub nodes: &'a [Node],
}

/// Evaluates `order` (topological, closed under inputs) and calls `visit`
/// for each product once its node is known.
pub(crate) fn walk(
    snapshot: &Snapshot,
    params: &Params,
    order: &[usize],
    mut visit: impl FnMut(Visit<'_>),
) {
    let mut nodes = vec![Node::default(); snapshot.products().len()];
    for &product in order {
        let resolved = resolve(snapshot, product, params.buyer, params.as_of);
        let local = local(snapshot, product, &resolved, &resolved.values, params);
        nodes[product] = node(snapshot, product, &local, &nodes, params.chain);
        visit(Visit {
            product,
            resolved: &resolved,
            local: &local,
            nodes: &nodes,
        });
    }
}
