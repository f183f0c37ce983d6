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
        let resolved = resolve(snapshot, product, params);
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

/// The chain numbers of some products and everything upstream of them,
/// computed once without explanations. What each product resolved to is
/// kept, so a variant with some products' own exposure `e` replaced only
/// recomputes the products between those and the one asked about.
pub(crate) struct ChainNumbers<'a> {
    snapshot: &'a Snapshot,
    params: &'a Params,
    /// By product: what it resolved to and its own stage's numbers; `None`
    /// outside the products' upstream closure.
    locals: Vec<Option<(Resolved, Local)>>,
    nodes: Vec<Node>,
}

impl<'a> ChainNumbers<'a> {
    pub fn new(snapshot: &'a Snapshot, params: &'a Params, products: &[usize]) -> ChainNumbers<'a> {
        let count = snapshot.products().len();
        let mut locals: Vec<Option<(Resolved, Local)>> = (0..count).map(|_| None).collect();
        let mut nodes = vec![Node::default(); count];
        for product in snapshot.upstream_closure_of_all(products) {
            let resolved = resolve(snapshot, product, params);
            let local = local(snapshot, product, &resolved, &resolved.values, params);
            nodes[product] = node(snapshot, product, &local, &nodes, params.chain);
            locals[product] = Some((resolved, local));
        }
        ChainNumbers {
            snapshot,
            params,
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

    /// `product`'s node with the own exposure of each `(product, e)` of
    /// `overrides` replaced; products of its chain that neither carry an
    /// override nor use one keep their nodes.
    pub fn with_exposures(&self, product: usize, overrides: &[(usize, f64)]) -> Node {
        // Everything upstream of `product` has a smaller index.
        let mut nodes = self.nodes[..=product].to_vec();
        let mut moved = vec![false; product + 1];
        for upstream in self.snapshot.upstream_closure(product) {
            let exposure = overrides
                .iter()
                .find(|(p, _)| *p == upstream)
                .map(|(_, e)| *e);
            let input_moved = self
                .snapshot
                .edges(upstream)
                .iter()
                .any(|edge| moved[edge.input]);
            if exposure.is_none() && !input_moved {
                continue;
            }
            let (resolved, local) = self.evaluated(upstream);
            let local = match exposure {
                Some(e) => self.local_with_exposure(upstream, resolved, local, e),
                None => *local,
            };
            nodes[upstream] = node(self.snapshot, upstream, &local, &nodes, self.params.chain);
            moved[upstream] = true;
        }
        nodes[product]
    }

    /// The own numbers with `e` replaced: the capital component reads it
    /// (the volume to replace is demand × e), the rest of the own difficulty
    /// does not. Only the exposure's `value` is meaningful afterwards.
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

    /// The deepest product whose own stage binds the dependency of
    /// `product` when its node is `variant` (its inputs as the data has
    /// them); `None` when nothing on the chain is Chinese-controlled.
    pub fn chokepoint(&self, product: usize, variant: &Node) -> Option<usize> {
        if variant.free_bottleneck >= 1.0 {
            return None;
        }
        let mut current = product;
        let mut edge = variant.dependency_edge;
        while let Some(position) = edge {
            current = self.snapshot.edges(current)[position].input;
            edge = self.nodes[current].dependency_edge;
        }
        Some(current)
    }
}
