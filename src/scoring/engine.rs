//! Evaluation along the DAG: each product is resolved and computed once per
//! call, inputs before the products made from them.

use super::dependency::{exposure, supply, Exposure, Supply};
use super::difficulty::{chain_difficulty, own_difficulty, OwnDifficulty};
use super::network::{Network, Outcome, Place};
use super::params::{Chain, Params};
use super::resolve::{resolve, Resolved};
use super::snapshot::Snapshot;
use crate::domain::{Buyer, CountryCode};

/// A product's own stage: numbers only, so Monte Carlo can recompute it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Local {
    pub supply: Supply,
    pub exposure: Exposure,
    pub difficulty: OwnDifficulty,
}

/// The product's own numbers, with `e` the Chinese content of the buyer's
/// supply at this stage (from the network).
pub(crate) fn local(
    snapshot: &Snapshot,
    product: usize,
    r: &Resolved,
    values: &[f64],
    params: &Params,
    e: f64,
) -> Local {
    let supply = supply(r, values);
    let exposure = exposure(r, values, supply.share, e);
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
    /// Under bottleneck, the path (of the network's paths of the product)
    /// whose stage binds; 0 is the own stage.
    pub binding_path: usize,
    pub own_difficulty: f64,
    pub difficulty: f64,
    /// The input edge whose chain difficulty binds (`None`: own).
    pub difficulty_edge: Option<usize>,
    pub years_to_displace: f64,
    /// The input edge on the way to the longest lead time (`None`: own).
    pub years_edge: Option<usize>,
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

/// Combines a product's own numbers with the network's outcome for the
/// buyer's supply of it and its inputs' nodes (already in `nodes`, indexed
/// by product): the dependency is the outcome's; the difficulty takes an
/// input when the dependency that input passes on is material.
pub(crate) fn node(
    snapshot: &Snapshot,
    product: usize,
    local: &Local,
    outcome: &Outcome,
    nodes: &[Node],
    chain: Chain,
) -> Node {
    let edges = snapshot.edges(product);
    let own = &local.difficulty;
    let difficulty = chain_difficulty(
        own.score,
        own.lead_time_years,
        edges
            .iter()
            .zip(&outcome.inputs)
            .map(|(e, &(bottleneck, independent))| {
                let input = &nodes[e.input];
                let free = match chain {
                    Chain::Bottleneck => bottleneck,
                    Chain::Independent => independent,
                };
                (
                    100.0 * (1.0 - free),
                    input.difficulty,
                    input.years_to_displace,
                )
            }),
    );
    Node {
        free_bottleneck: outcome.free_bottleneck,
        free_independent: outcome.free_independent,
        exposure: local.exposure.value,
        dependency_edge: outcome.binding_edge,
        binding_path: outcome.binding_path,
        own_difficulty: own.score,
        difficulty: difficulty.score,
        difficulty_edge: difficulty.binding_edge,
        years_to_displace: difficulty.years_to_displace,
        years_edge: difficulty.years_edge,
    }
}

/// Evaluates one product for the buyer: its resolution, the network's
/// outcome for the buyer's supply, its own numbers and its node.
pub(crate) fn evaluate_product(
    snapshot: &Snapshot,
    params: &Params,
    network: &mut Network<'_>,
    product: usize,
    nodes: &[Node],
) -> (Resolved, Outcome, Local, Node) {
    let resolved = resolve(snapshot, product, params);
    let (outcome, local, node) =
        evaluate_resolved(snapshot, params, network, product, &resolved, nodes);
    (resolved, outcome, local, node)
}

/// [`evaluate_product`] with the product already resolved for the buyer.
pub(crate) fn evaluate_resolved(
    snapshot: &Snapshot,
    params: &Params,
    network: &mut Network<'_>,
    product: usize,
    resolved: &Resolved,
    nodes: &[Node],
) -> (Outcome, Local, Node) {
    let supply_node = network.buyer_supply(product, params.buyer);
    let outcome = network.outcome(product, supply_node, None);
    let local = local(
        snapshot,
        product,
        resolved,
        &resolved.values,
        params,
        outcome.exposure,
    );
    let node = node(snapshot, product, &local, &outcome, nodes, params.chain);
    (outcome, local, node)
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
    /// The network's outcome for the buyer's supply of the product.
    pub outcome: &'a Outcome,
    pub network: &'a Network<'a>,
    /// Nodes of this product and everything upstream of it.
    pub nodes: &'a [Node],
}

/// Evaluates `order` (topological, closed under inputs) and calls `visit`
/// for each product once its node is known.
pub(crate) fn walk(
    snapshot: &Snapshot,
    params: &Params,
    order: &[usize],
    visit: impl FnMut(Visit<'_>),
) {
    walk_in(
        &mut Network::new(snapshot, params),
        snapshot,
        params,
        order,
        visit,
    )
}

/// [`walk`] on a network built for the same instant and view, which keeps
/// what it builds for the next buyer.
pub(crate) fn walk_in<'s>(
    network: &mut Network<'s>,
    snapshot: &'s Snapshot,
    params: &Params,
    order: &[usize],
    mut visit: impl FnMut(Visit<'_>),
) {
    assert!(
        network.serves(params),
        "a network is read at its own instant"
    );
    let mut nodes = vec![Node::default(); snapshot.products().len()];
    for &product in order {
        let (resolved, outcome, local, node) =
            evaluate_product(snapshot, params, network, product, &nodes);
        nodes[product] = node;
        visit(Visit {
            product,
            resolved: &resolved,
            local: &local,
            outcome: &outcome,
            network,
            nodes: &nodes,
        });
    }
}

/// The chain numbers of some products and everything upstream of them,
/// computed once without explanations, with the network they were read
/// from, so variants (the product bought from one country, an upstream
/// stage secured) recompute only what they change.
pub(crate) struct ChainNumbers<'a> {
    snapshot: &'a Snapshot,
    params: &'a Params,
    network: Network<'a>,
    /// By product: what it resolved to and its own stage's numbers; `None`
    /// outside the products' upstream closure.
    locals: Vec<Option<(Resolved, Local)>>,
    nodes: Vec<Node>,
}

impl<'a> ChainNumbers<'a> {
    pub fn new(snapshot: &'a Snapshot, params: &'a Params, products: &[usize]) -> ChainNumbers<'a> {
        let count = snapshot.products().len();
        let mut network = Network::new(snapshot, params);
        let mut locals: Vec<Option<(Resolved, Local)>> = (0..count).map(|_| None).collect();
        let mut nodes = vec![Node::default(); count];
        for product in snapshot.upstream_closure_of_all(products) {
            let (resolved, _, local, node) =
                evaluate_product(snapshot, params, &mut network, product, &nodes);
            nodes[product] = node;
            locals[product] = Some((resolved, local));
        }
        ChainNumbers {
            snapshot,
            params,
            network,
            locals,
            nodes,
        }
    }

    /// The product's node as the data has it.
    pub fn node(&self, product: usize) -> &Node {
        &self.nodes[product]
    }

    /// What the product resolved to.
    pub fn resolved(&self, product: usize) -> &Resolved {
        &self.evaluated(product).0
    }

    fn evaluated(&self, product: usize) -> &(Resolved, Local) {
        self.locals[product]
            .as_ref()
            .expect("only products of the closure are asked about")
    }

    /// The node of `product` bought from `supplier` (the buyer's market
    /// when `None`), with the products of `secured` carrying no Chinese
    /// control.
    pub fn variant(
        &mut self,
        product: usize,
        supplier: Option<CountryCode>,
        secured: Option<usize>,
    ) -> Node {
        let supply = match supplier {
            Some(country) => self
                .network
                .made(product, Place::At(Buyer::Country(country))),
            None => self.network.buyer_supply(product, self.params.buyer),
        };
        let outcome = match secured {
            None => self.network.outcome(product, supply, None),
            Some(secured) => {
                let mut values = Vec::new();
                let network = &self.network;
                network.evaluate(&|p| network.stage_values(p), Some(secured), &mut values);
                network.outcome(product, supply, Some(&values))
            }
        };
        let (resolved, local) = self.evaluated(product);
        let local = self.local_with_exposure(product, resolved, local, outcome.exposure);
        node(
            self.snapshot,
            product,
            &local,
            &outcome,
            &self.nodes,
            self.params.chain,
        )
    }

    /// The own numbers with `e` replaced: the capital component reads it
    /// (the volume to replace is demand × e), the rest of the own difficulty
    /// does not.
    fn local_with_exposure(
        &self,
        product: usize,
        resolved: &Resolved,
        local: &Local,
        exposure: f64,
    ) -> Local {
        let stage = self.snapshot.products()[product].stage;
        let mut local = *local;
        local.exposure.value = exposure;
        local.difficulty = own_difficulty(
            resolved,
            &resolved.values,
            stage,
            &local.supply,
            exposure,
            self.params,
        );
        local
    }

    /// The deepest product whose stage binds the dependency of `product`
    /// when its node is `variant`; `None` when nothing on the chain is
    /// Chinese-controlled.
    pub fn chokepoint(&self, product: usize, variant: &Node) -> Option<usize> {
        if variant.free_bottleneck >= 1.0 {
            return None;
        }
        self.network.known_paths(product)[variant.binding_path]
            .products
            .last()
            .copied()
    }
}
