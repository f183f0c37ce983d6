//! The country-resolved supply network. A node is a product at a place: what
//! a country makes (`Made`), what it has to use or sell (`Supply`: its own
//! output, its imports by origin, recycled material) or the world market
//! (`World`: every producer by its share). Each node carries, for every
//! stage reachable from its product (a *path* of inputs), the share of its
//! output that passed through Chinese-controlled capacity at that stage, and
//! the share that passed through none (the `independent` aggregation).
//!
//! Nodes are built on demand, inputs first, so their order is topological:
//! a Monte Carlo draw recomputes them in order from perturbed stage values.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::rc::Rc;

use super::dependency::{
    country_share, input_term, supply_rows, Excess, ShareBasis, DEFAULT_IMPORT_RELIANCE,
};
use super::params::Params;
use super::resolve::{resolve_for, resolve_sourcing, CountryValue, Resolved, Sourcing};
use super::snapshot::{Edge, Snapshot};
use crate::domain::{Buyer, CountryCode};

/// Re-exports are followed through this many countries; beyond them a
/// country's supply is taken as the world market's.
pub(crate) const REEXPORT_HOPS: u8 = 2;

/// Where a product is made or held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Place {
    At(Buyer),
    /// Output outside the countries recorded (published shares that do not
    /// add up to the world): not Chinese-controlled, buying on the world
    /// market.
    Rest,
}

/// A stage reached from a product by following inputs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Path {
    /// From the product to the stage, both included.
    pub products: Vec<usize>,
    /// `Π share` of the substitutable inputs on the way (1 when all are
    /// essential): what a unit of Chinese content at the stage weighs in the
    /// product's dependency.
    pub dilution: f64,
}

/// How a node's supply reaches it from a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    /// The country's own output.
    Domestic,
    /// Imports from the origin.
    Import(CountryCode),
    /// The world market: recorded imports that leave a remainder, or no
    /// sourcing recorded at all.
    WorldMarket,
    /// A producer's share of the world market.
    Producer(CountryCode),
    /// Output outside the recorded producers.
    Rest,
}

#[derive(Debug, Clone)]
enum Spec {
    Made {
        product: usize,
        place: Place,
        /// One supply node per input edge.
        inputs: Vec<usize>,
    },
    Supply {
        product: usize,
        /// Whose supply it is.
        place: Buyer,
        /// Re-exports away from the country that uses it (0: its own use).
        hop: u8,
        recycled: f64,
        /// How the supply is made up, as routes follow it.
        parts: Vec<(Via, f64, usize)>,
        /// The same with re-exports expanded: weights on the product's
        /// made and world nodes only, which is all a draw recomputes.
        flat: Vec<(f64, usize)>,
    },
    World {
        product: usize,
        basis: ShareBasis,
        /// Rows of the stage's supply basis: (country, slot, made node).
        producers: Vec<(CountryCode, usize, usize)>,
        rest: usize,
    },
}

impl Spec {
    fn product(&self) -> usize {
        match self {
            Spec::Made { product, .. }
            | Spec::Supply { product, .. }
            | Spec::World { product, .. } => *product,
        }
    }
}

/// A node's numbers, borrowed from the arena: for each path of its product
/// the Chinese content at that stage; the share passing through no Chinese
/// control; and that share for each input of the product.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Content<'n> {
    pub stages: &'n [f64],
    pub free_independent: f64,
    pub inputs_free_independent: &'n [f64],
}

impl Content<'_> {
    /// `1 − max_π dilution_π · content_π` and the path that attains it
    /// (ties go to the longer path: the deepest binding stage).
    pub fn bottleneck(&self, paths: &[Path]) -> (f64, usize) {
        let mut best = (0.0, 0);
        for (index, (path, content)) in paths.iter().zip(self.stages).enumerate() {
            let weighed = path.dilution * content;
            let longer = path.products.len() > paths[best.1].products.len();
            if weighed > best.0 || (weighed == best.0 && longer) {
                best = (weighed, index);
            }
        }
        (1.0 - best.0.min(1.0), best.1)
    }
}

/// The buyer's numbers for a product, read off its supply node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outcome {
    pub node: usize,
    pub free_bottleneck: f64,
    pub free_independent: f64,
    /// Chinese content at the product's own stage: the buyer's exposure `e`.
    pub exposure: f64,
    /// The path whose stage binds under bottleneck (0: the own stage).
    pub binding_path: usize,
    /// Its first input edge, `None` when the own stage binds.
    pub binding_edge: Option<usize>,
    /// Per input edge, the China-free share it passes on to this supply
    /// under each aggregation.
    pub inputs: Vec<(f64, f64)>,
}

/// One step of a route: a place that made a product on the way.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Step {
    pub product: usize,
    pub place: Place,
    /// Share of the previous step's supply (the buyer's, for the first).
    pub share: f64,
    /// How the stretch from the previous step began.
    pub via: Via,
    /// Indices into [`Snapshot::facts`] of the facts behind the share (an
    /// import share, a reliance, a producer's output) and, at the last
    /// step, the place's Chinese control.
    pub facts: Vec<usize>,
}

/// One route of Chinese content to a stage: its steps from the buyer's
/// supply to the place at the stage, and the content it carries (a share
/// of the buyer's supply, before dilution).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Route {
    pub steps: Vec<Step>,
    pub content: f64,
}

pub(crate) struct Network<'a> {
    snapshot: &'a Snapshot,
    /// Only `as_of` and `view` are read: the network is every buyer's.
    params: Params,
    paths: Vec<Option<Vec<Path>>>,
    stages: Vec<Option<Resolved>>,
    /// Each stage's supply basis and its rows as resolved, read once.
    rows: Vec<Option<(ShareBasis, Vec<CountryValue>)>>,
    /// Each place's sourcing, resolved once and shared by every supply of
    /// it.
    sourcing: HashMap<(usize, Buyer), Option<Rc<Sourcing>>>,
    specs: Vec<Spec>,
    /// Each spec's arithmetic, as a draw recomputes it.
    ops: Vec<Op>,
    /// Scratch for [`Network::flatten`]: by node, its place in the list
    /// being built (`usize::MAX`: not in it).
    flat_at: Vec<usize>,
    offsets: Vec<usize>,
    values: Vec<f64>,
    made: HashMap<(usize, Place), usize>,
    supplies: HashMap<(usize, Buyer, u8), usize>,
    worlds: HashMap<usize, usize>,
}

impl<'a> Network<'a> {
    /// Whether scores with `params` can read this network: the same
    /// instant and view (the buyer does not matter).
    pub fn serves(&self, params: &Params) -> bool {
        self.params.as_of == params.as_of && self.params.view == params.view
    }

    pub fn new(snapshot: &'a Snapshot, params: &Params) -> Network<'a> {
        let count = snapshot.products().len();
        Network {
            snapshot,
            params: *params,
            paths: vec![None; count],
            stages: vec![None; count],
            rows: vec![None; count],
            sourcing: HashMap::new(),
            specs: Vec::new(),
            ops: Vec::new(),
            flat_at: Vec::new(),
            offsets: Vec::new(),
            values: Vec::new(),
            made: HashMap::new(),
            supplies: HashMap::new(),
            worlds: HashMap::new(),
        }
    }

    /// The stages reachable from `product`, its own first, then each input's
    /// in edge order.
    pub fn paths(&mut self, product: usize) -> &[Path] {
        if self.paths[product].is_none() {
            let mut paths = vec![Path {
                products: vec![product],
                dilution: 1.0,
            }];
            for edge in self.snapshot.edges(product).to_vec() {
                let weight = if edge.essential { 1.0 } else { edge.share };
                for path in self.paths(edge.input).to_vec() {
                    let mut products = vec![product];
                    products.extend(path.products);
                    paths.push(Path {
                        products,
                        dilution: weight * path.dilution,
                    });
                }
            }
            self.paths[product] = Some(paths);
        }
        self.paths[product].as_deref().expect("just computed")
    }

    /// The paths of a product already met.
    pub fn known_paths(&self, product: usize) -> &[Path] {
        self.paths[product]
            .as_deref()
            .expect("the product's nodes are built")
    }

    /// What every country's output of the product is (global facts only).
    pub fn stage(&mut self, product: usize) -> &Resolved {
        if self.stages[product].is_none() {
            let resolved = resolve_for(self.snapshot, product, None, &self.params);
            self.set_stage(product, resolved);
        }
        self.stages[product].as_ref().expect("just resolved")
    }

    /// The supply basis of the product's stage and its rows, as resolved.
    fn rows(&mut self, product: usize) -> (ShareBasis, &[CountryValue]) {
        self.stage(product);
        let (basis, rows) = self.rows[product].as_ref().expect("read with the stage");
        (*basis, rows)
    }

    fn sourcing_of(&mut self, product: usize, buyer: Buyer) -> Option<Rc<Sourcing>> {
        let (snapshot, params) = (self.snapshot, &self.params);
        self.sourcing
            .entry((product, buyer))
            .or_insert_with(|| resolve_sourcing(snapshot, product, buyer, params).map(Rc::new))
            .clone()
    }

    pub fn content(&self, node: usize) -> Content<'_> {
        content_in(&self.values, &self.offsets, &self.specs, &self.paths, node)
    }

    /// The buyer's supply of a product: its own sourcing, or the world
    /// market's when it has none recorded.
    pub fn buyer_supply(&mut self, product: usize, buyer: Buyer) -> usize {
        self.supply(product, buyer, 0)
    }

    /// What `place` makes of `product`.
    pub fn made(&mut self, product: usize, place: Place) -> usize {
        if let Some(&node) = self.made.get(&(product, place)) {
            return node;
        }
        let edges = self.snapshot.edges(product).to_vec();
        let inputs = edges
            .iter()
            .map(|edge| match place {
                Place::At(buyer) => self.supply(edge.input, buyer, 0),
                Place::Rest => self.world(edge.input),
            })
            .collect();
        let node = self.push(Spec::Made {
            product,
            place,
            inputs,
        });
        self.made.insert((product, place), node);
        node
    }

    /// A place's supply of a product, `hop` re-exports away from the
    /// country that uses it.
    fn supply(&mut self, product: usize, buyer: Buyer, hop: u8) -> usize {
        if let Some(&node) = self.supplies.get(&(product, buyer, hop)) {
            return node;
        }
        let Some(sourcing) = self
            .sourcing_of(product, buyer)
            .filter(|_| hop <= REEXPORT_HOPS)
        else {
            return self.world(product);
        };
        // Recycled material meets a country's own demand; what it ships on
        // is primary.
        let recycled = if hop == 0 {
            sourcing.recycling.unwrap_or(0.0).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let primary = 1.0 - recycled;
        let own_country = match buyer {
            Buyer::Country(country) => Some(country),
            Buyer::Eu => None,
        };
        let recorded: f64 = sourcing.imports.iter().map(|(_, m)| m).sum();
        let scale = if recorded > 1.0 { 1.0 / recorded } else { 1.0 };
        // Without a recorded reliance the place imports all it uses.
        let domestic = sourcing
            .reliance
            .map_or(1.0 - DEFAULT_IMPORT_RELIANCE, |r| 1.0 - r.clamp(0.0, 1.0));
        let imported = primary * (1.0 - domestic);
        let mut parts = Vec::new();
        if domestic > 0.0 {
            let made = self.made(product, Place::At(buyer));
            parts.push((Via::Domestic, primary * domestic, made));
        }
        let mut to_world = if sourcing.imports.is_empty() {
            1.0
        } else {
            1.0 - recorded * scale
        };
        for &(origin, share) in &sourcing.imports {
            let weight = imported * share * scale;
            if Some(origin) == own_country {
                let made = self.made(product, Place::At(buyer));
                parts.push((Via::Domestic, weight, made));
                continue;
            }
            let node = self.exports(product, origin, hop + 1);
            // A producer ships no more of its own output than it makes:
            // where the importer's demand says how much it buys there,
            // the excess is the producer's re-exports.
            let own = match (&self.specs[node], sourcing.demand) {
                (Spec::Made { .. }, Some(demand)) if origin != CountryCode::CN => self
                    .output(product, origin)
                    .map_or(1.0, |output| (output / (demand * weight)).min(1.0)),
                _ => 1.0,
            };
            if own < 1.0 {
                let reexports = self.supply(product, Buyer::Country(origin), hop + 1);
                parts.push((Via::Import(origin), weight * own, node));
                parts.push((Via::Import(origin), weight * (1.0 - own), reexports));
            } else {
                parts.push((Via::Import(origin), weight, node));
            }
        }
        to_world = to_world.max(0.0);
        if to_world > 0.0 {
            let world = self.world(product);
            parts.push((Via::WorldMarket, imported * to_world, world));
        }
        let flat = self.flatten(&parts);
        let node = self.push(Spec::Supply {
            product,
            place: buyer,
            hop,
            recycled,
            parts,
            flat,
        });
        self.supplies.insert((product, buyer, hop), node);
        node
    }

    /// `parts` as weights on made and world nodes, re-exports expanded and
    /// repeated nodes summed (in the order they are first met).
    fn flatten(&mut self, parts: &[(Via, f64, usize)]) -> Vec<(f64, usize)> {
        let mut flat: Vec<(f64, usize)> = Vec::new();
        // Where each node is in `flat`, so a repeat is found at once.
        let at = &mut self.flat_at;
        at.resize(self.specs.len(), usize::MAX);
        let mut add = |w: f64, node: usize| match at[node] {
            usize::MAX => {
                at[node] = flat.len();
                flat.push((w, node));
            }
            i => flat[i].0 += w,
        };
        for &(_, w, child) in parts {
            match &self.specs[child] {
                // A re-exporting country ships primary material only.
                Spec::Supply { flat: inner, .. } => {
                    inner.iter().for_each(|&(v, node)| add(w * v, node))
                }
                _ => add(w, child),
            }
        }
        for &(_, node) in &flat {
            at[node] = usize::MAX;
        }
        flat
    }

    /// What `origin` exports of a product: China's own output; the pool of
    /// a country that records its import reliance (its output and its
    /// imports); a producer's own output; a country that makes none but
    /// records imports re-exports them; otherwise the world market.
    fn exports(&mut self, product: usize, origin: CountryCode, hop: u8) -> usize {
        let buyer = Buyer::Country(origin);
        if origin == CountryCode::CN {
            return self.made(product, Place::At(buyer));
        }
        let sourcing = self.sourcing_of(product, buyer);
        if sourcing.as_ref().is_some_and(|s| s.reliance.is_some()) {
            return self.supply(product, buyer, hop);
        }
        if self.produces(product, origin) {
            return self.made(product, Place::At(buyer));
        }
        self.supply(product, buyer, hop)
    }

    /// The country's output of the product in tonnes a year, when the
    /// stage's supply basis is volumes.
    fn output(&mut self, product: usize, country: CountryCode) -> Option<f64> {
        let (basis, rows) = self.rows(product);
        if !matches!(
            basis,
            ShareBasis::Production | ShareBasis::OperatingCapacity
        ) {
            return None;
        }
        let slot = Resolved::country_slot(rows, country)?;
        Some(self.stage_values(product)[slot])
    }

    /// Whether the stage's supply basis has a row for the country.
    fn produces(&mut self, product: usize, country: CountryCode) -> bool {
        let (_, rows) = self.rows(product);
        rows.iter().any(|row| row.country == country)
    }

    fn world(&mut self, product: usize) -> usize {
        if let Some(&node) = self.worlds.get(&product) {
            return node;
        }
        let (basis, rows) = self.rows(product);
        let rows = rows.to_vec();
        let producers = rows
            .into_iter()
            .map(|CountryValue { country, slot }| {
                let made = self.made(product, Place::At(Buyer::Country(country)));
                (country, slot, made)
            })
            .collect();
        let rest = self.made(product, Place::Rest);
        let node = self.push(Spec::World {
            product,
            basis,
            producers,
            rest,
        });
        self.worlds.insert(product, node);
        node
    }

    fn push(&mut self, spec: Spec) -> usize {
        let product = spec.product();
        self.paths(product);
        self.stage(product);
        let width = width(self.snapshot, self.known_paths(product).len(), product);
        let node = self.specs.len();
        let start = self.values.len();
        self.offsets.push(start);
        self.values.resize(start + width, 0.0);
        let op = self.op(&spec, start, width);
        self.specs.push(spec);
        let stages = &self.stages;
        let stage_values = |product: usize| {
            stages[product]
                .as_ref()
                .map_or(&[][..], |r| r.values.as_slice())
        };
        op.run(&self.stages, &stage_values, None, &mut self.values);
        self.ops.push(op);
        node
    }

    /// The arithmetic of `spec`, whose numbers go at `start` (its parts are
    /// built, its stage resolved).
    fn op(&self, spec: &Spec, start: usize, width: usize) -> Op {
        let product = spec.product();
        let kind = match spec {
            Spec::Made { place, inputs, .. } => {
                let stage = self.stages[product]
                    .as_ref()
                    .expect("a node's stage is resolved");
                let control = match *place {
                    Place::At(Buyer::Country(CountryCode::CN)) => Control::China,
                    Place::At(Buyer::Country(country)) => {
                        Control::Share(Resolved::country_slot(&stage.controlled_by_china, country))
                    }
                    Place::At(Buyer::Eu) => Control::Eu,
                    Place::Rest => Control::Rest,
                };
                let inputs = inputs
                    .iter()
                    .zip(self.snapshot.edges(product))
                    .map(|(&id, &edge)| {
                        (edge, self.offsets[id], self.known_paths(edge.input).len())
                    })
                    .collect();
                Kind::Made {
                    product,
                    control,
                    inputs,
                }
            }
            Spec::Supply { recycled, flat, .. } => Kind::Supply {
                recycled: *recycled,
                terms: flat.iter().map(|&(w, id)| (w, self.offsets[id])).collect(),
            },
            Spec::World {
                basis,
                producers,
                rest,
                ..
            } => Kind::World {
                product,
                basis: *basis,
                producers: producers
                    .iter()
                    .map(|&(_, slot, made)| (slot, self.offsets[made]))
                    .collect(),
                rest: self.offsets[*rest],
            },
        };
        Op {
            start,
            width,
            paths: self.known_paths(product).len(),
            pool: matches!(spec, Spec::Supply { hop, .. } if *hop > 0),
            kind,
        }
    }

    /// Recomputes every node from `stage_values` (by product; the resolved
    /// values where `None`), with the products in `secured` carrying no
    /// Chinese control, into `out` (the arena of [`Network::content_of`]).
    /// Every node's numbers are overwritten but the re-export pools', which
    /// are expanded into the supplies that use them and stay 0: `out` is
    /// empty or an arena of this network (a draw reuses the last one).
    pub fn evaluate<'v>(
        &self,
        stage_values: &dyn Fn(usize) -> &'v [f64],
        secured: Option<usize>,
        out: &mut Vec<f64>,
    ) {
        if out.len() != self.values.len() {
            out.clear();
            out.resize(self.values.len(), 0.0);
        }
        for op in self.ops.iter().filter(|op| !op.pool) {
            op.run(&self.stages, stage_values, secured, out);
        }
    }

    /// The arithmetic of the nodes that reading `read` (nodes whose every
    /// number is read, as [`Network::outcome_into`] reads a supply) depends
    /// on, in order. A supply or world market that only made nodes read
    /// gives them its contents and free share, never its inputs' free
    /// shares, so it computes only those; nodes nothing read depends on
    /// (the re-export pools among them) are left out.
    pub fn plan(&self, read: &[usize]) -> Vec<Op> {
        #[derive(Clone, Copy, PartialEq, PartialOrd)]
        enum Need {
            None,
            Content,
            All,
        }
        let mut need = vec![Need::None; self.specs.len()];
        read.iter().for_each(|&node| need[node] = Need::All);
        // Parts are built before the nodes made of them.
        for node in (0..self.specs.len()).rev() {
            let level = need[node];
            let parts: Box<dyn Iterator<Item = (usize, Need)>> = match &self.specs[node] {
                _ if level == Need::None => continue,
                Spec::Made { inputs, .. } => {
                    Box::new(inputs.iter().map(|&input| (input, Need::Content)))
                }
                Spec::Supply { flat, .. } => Box::new(flat.iter().map(|&(_, part)| (part, level))),
                Spec::World {
                    producers, rest, ..
                } => Box::new(
                    producers
                        .iter()
                        .map(|&(_, _, made)| made)
                        .chain([*rest])
                        .map(|part| (part, level)),
                ),
            };
            for (part, to) in parts {
                if need[part] < to {
                    need[part] = to;
                }
            }
        }
        self.ops
            .iter()
            .zip(&self.specs)
            .zip(need)
            .filter(|(_, level)| *level != Need::None)
            .map(|((op, spec), level)| {
                let mut op = op.clone();
                if level == Need::Content && !matches!(spec, Spec::Made { .. }) {
                    op.width = op.paths + 1;
                }
                op
            })
            .collect()
    }

    /// [`Network::evaluate`] of a [`Network::plan`]'s nodes only: the
    /// numbers its reads take are the same, the others are not written.
    pub fn evaluate_plan<'v>(
        &self,
        plan: &[Op],
        stage_values: &dyn Fn(usize) -> &'v [f64],
        out: &mut Vec<f64>,
    ) {
        if out.len() != self.values.len() {
            out.clear();
            out.resize(self.values.len(), 0.0);
        }
        for op in plan {
            op.run(&self.stages, stage_values, None, out);
        }
    }

    /// A node's numbers in an arena filled by [`Network::evaluate`].
    pub fn content_of<'v>(&'v self, values: &'v [f64], node: usize) -> Content<'v> {
        content_in(values, &self.offsets, &self.specs, &self.paths, node)
    }

    /// Reads the product's stage from `resolved` (for one buyer's Monte
    /// Carlo draws, which perturb that buyer's resolution once for both its
    /// own numbers and the network).
    pub fn set_stage(&mut self, product: usize, resolved: Resolved) {
        let (basis, rows) = supply_rows(&resolved, &resolved.values);
        self.rows[product] = Some((basis, rows.to_vec()));
        self.stages[product] = Some(resolved);
    }

    /// The product's stage as resolved, if a node of it was built.
    pub fn stage_resolved(&self, product: usize) -> Option<&Resolved> {
        self.stages[product].as_ref()
    }

    pub fn stage_values(&self, product: usize) -> &[f64] {
        self.stages[product]
            .as_ref()
            .map_or(&[][..], |r| r.values.as_slice())
    }

    /// The routes carrying most of `node`'s Chinese content at path
    /// `path`, the largest first, at most `limit`. A route's potential (its
    /// weight times its node's content) is exactly what its completions
    /// carry, so routes come out of the best-first search in order.
    pub fn routes(&self, node: usize, path: usize, limit: usize) -> Vec<Route> {
        struct Frontier {
            potential: f64,
            node: usize,
            path: usize,
            weight: f64,
            /// Share since the last step, how that stretch began and the
            /// facts behind it.
            pending: f64,
            via: Option<Via>,
            facts: Vec<usize>,
            steps: Vec<Step>,
        }
        impl PartialEq for Frontier {
            fn eq(&self, other: &Self) -> bool {
                self.cmp(other) == Ordering::Equal
            }
        }
        impl Eq for Frontier {}
        impl PartialOrd for Frontier {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }
        impl Ord for Frontier {
            fn cmp(&self, other: &Self) -> Ordering {
                self.potential.total_cmp(&other.potential)
            }
        }
        const MAX_EXPANSIONS: usize = 20_000;
        let potential =
            |node: usize, path: usize, weight: f64| weight * self.content(node).stages[path];
        let mut heap = BinaryHeap::new();
        heap.push(Frontier {
            potential: potential(node, path, 1.0),
            node,
            path,
            weight: 1.0,
            pending: 1.0,
            via: None,
            facts: Vec::new(),
            steps: Vec::new(),
        });
        let mut routes = Vec::new();
        let mut expansions = 0;
        while let Some(item) = heap.pop() {
            if routes.len() >= limit || expansions >= MAX_EXPANSIONS || item.potential <= 0.0 {
                break;
            }
            expansions += 1;
            let enter = |heap: &mut BinaryHeap<Frontier>,
                         via: Via,
                         w: f64,
                         child: usize,
                         facts: &[usize]| {
                let weight = item.weight * w;
                let pending = item.pending * w;
                let via = item.via.unwrap_or(via);
                let mut next = Frontier {
                    potential: potential(child, item.path, weight),
                    node: child,
                    path: item.path,
                    weight,
                    pending,
                    via: Some(via),
                    facts: item.facts.iter().chain(facts).copied().collect(),
                    steps: item.steps.clone(),
                };
                let step_place = match (&self.specs[child], via) {
                    (Spec::Made { place, .. }, _) => Some(*place),
                    (Spec::Supply { .. } | Spec::World { .. }, Via::Import(origin)) => {
                        Some(Place::At(Buyer::Country(origin)))
                    }
                    _ => None,
                };
                if let Some(place) = step_place {
                    next.steps.push(Step {
                        product: self.specs[child].product(),
                        place,
                        share: pending,
                        via,
                        facts: std::mem::take(&mut next.facts),
                    });
                    next.pending = 1.0;
                    next.via = None;
                }
                heap.push(next);
            };
            match &self.specs[item.node] {
                Spec::Supply {
                    parts,
                    product,
                    place,
                    ..
                } => {
                    let sourcing = self
                        .sourcing
                        .get(&(*product, *place))
                        .and_then(Option::as_deref);
                    for &(via, w, child) in parts {
                        let facts: &[usize] = match (via, sourcing) {
                            (Via::Import(origin), Some(s)) => s
                                .imports
                                .iter()
                                .position(|(o, _)| *o == origin)
                                .map_or(&[], |i| &s.import_facts[i]),
                            (Via::Domestic, Some(s)) => &s.reliance_facts,
                            _ => &[],
                        };
                        enter(&mut heap, via, w, child, facts);
                    }
                }
                Spec::World {
                    basis,
                    producers,
                    rest,
                    product,
                } => {
                    let values = self.stage_values(*product);
                    let amounts: Vec<f64> = producers
                        .iter()
                        .map(|(_, slot, _)| values[*slot].max(0.0))
                        .collect();
                    let world: f64 = amounts.iter().sum();
                    let weights: Vec<f64> = amounts
                        .iter()
                        .map(|&a| country_share(*basis, a, world, Excess::Scaled))
                        .collect();
                    let rest_weight = 1.0 - weights.iter().sum::<f64>();
                    let stage = self.stage_resolved(*product);
                    for ((country, slot, child), w) in producers.iter().zip(weights) {
                        let facts = stage.map_or(&[][..], |r| r.slot_facts(*slot));
                        enter(&mut heap, Via::Producer(*country), w, *child, facts);
                    }
                    if rest_weight > 0.0 {
                        enter(&mut heap, Via::Rest, rest_weight, *rest, &[]);
                    }
                }
                Spec::Made {
                    product,
                    inputs,
                    place,
                } => {
                    if item.path == 0 {
                        let mut steps = item.steps;
                        if let (Some(last), Place::At(Buyer::Country(country)), Some(stage)) =
                            (steps.last_mut(), place, self.stage_resolved(*product))
                        {
                            if let Some(slot) =
                                Resolved::country_slot(&stage.controlled_by_china, *country)
                            {
                                last.facts.extend_from_slice(stage.slot_facts(slot));
                            }
                        }
                        routes.push(Route {
                            steps,
                            content: item.potential,
                        });
                        continue;
                    }
                    let (edge, inner) = self.input_path(*product, item.path);
                    let child = inputs[edge];
                    heap.push(Frontier {
                        potential: potential(child, inner, item.weight),
                        node: child,
                        path: inner,
                        weight: item.weight,
                        pending: 1.0,
                        via: None,
                        facts: Vec::new(),
                        steps: item.steps,
                    });
                }
            }
        }
        routes
    }

    /// The buyer-side numbers of `node`, a supply of `product`, read from
    /// `values` (the network's own when `None`).
    pub fn outcome(&self, product: usize, node: usize, values: Option<&[f64]>) -> Outcome {
        let mut outcome = Outcome {
            node,
            free_bottleneck: 0.0,
            free_independent: 0.0,
            exposure: 0.0,
            binding_path: 0,
            binding_edge: None,
            inputs: Vec::new(),
        };
        self.outcome_into(product, node, values, &mut outcome);
        outcome
    }

    /// [`Network::outcome`] written over `outcome`, reusing its buffer (a
    /// draw reads one per product).
    pub fn outcome_into(
        &self,
        product: usize,
        node: usize,
        values: Option<&[f64]>,
        outcome: &mut Outcome,
    ) {
        let content = match values {
            Some(values) => self.content_of(values, node),
            None => self.content(node),
        };
        let paths = self.known_paths(product);
        let (free_bottleneck, binding_path) = content.bottleneck(paths);
        let mut inputs = std::mem::take(&mut outcome.inputs);
        inputs.clear();
        let mut start = 1;
        for (k, edge) in self.snapshot.edges(product).iter().enumerate() {
            let inner = self.known_paths(edge.input);
            let carried = inner
                .iter()
                .zip(&content.stages[start..start + inner.len()])
                .map(|(path, c)| path.dilution * c)
                .fold(0.0, f64::max);
            inputs.push((1.0 - carried.min(1.0), content.inputs_free_independent[k]));
            start += inner.len();
        }
        *outcome = Outcome {
            node,
            free_bottleneck,
            free_independent: content.free_independent,
            exposure: content.stages[0],
            binding_path,
            binding_edge: (binding_path > 0).then(|| self.input_path(product, binding_path).0),
            inputs,
        };
    }

    /// The input edge a path (not the own one) goes through, and the path's
    /// index among that input's paths.
    fn input_path(&self, product: usize, path: usize) -> (usize, usize) {
        let mut start = 1;
        for (edge, e) in self.snapshot.edges(product).iter().enumerate() {
            let count = self.known_paths(e.input).len();
            if path < start + count {
                return (edge, path - start);
            }
            start += count;
        }
        unreachable!("a path index within the product's paths")
    }
}

/// Values per node: a content per path, the independent free share, and
/// that share for each input.
fn width(snapshot: &Snapshot, paths: usize, product: usize) -> usize {
    paths + 1 + snapshot.edges(product).len()
}

fn content_in<'v>(
    values: &'v [f64],
    offsets: &[usize],
    specs: &[Spec],
    paths: &[Option<Vec<Path>>],
    node: usize,
) -> Content<'v> {
    let product = specs[node].product();
    let count = paths[product].as_ref().map_or(1, Vec::len);
    let start = offsets[node];
    let end = offsets.get(node + 1).copied().unwrap_or(values.len());
    let slice = &values[start..end];
    Content {
        stages: &slice[..count],
        free_independent: slice[count],
        inputs_free_independent: &slice[count + 1..],
    }
}

/// The Chinese-controlled fraction of what `place` makes of a product.
fn controlled(place: Place, stage: &Resolved, values: &[f64]) -> f64 {
    use super::dependency::china_controlled_fraction;
    match place {
        Place::At(Buyer::Country(country)) => china_controlled_fraction(stage, values, country),
        Place::At(Buyer::Eu) => {
            let (_, rows) = supply_rows(stage, values);
            let (mut controlled, mut total) = (0.0, 0.0);
            for row in rows.iter().filter(|r| r.country.is_eu_member()) {
                let amount = values[row.slot];
                controlled += amount * china_controlled_fraction(stage, values, row.country);
                total += amount;
            }
            if total > 0.0 {
                controlled / total
            } else {
                0.0
            }
        }
        Place::Rest => 0.0,
    }
}

/// How a made node's Chinese control is read from its stage's values.
#[derive(Debug, Clone, Copy)]
enum Control {
    /// China's own output: all of it.
    China,
    /// Another country's output: its controlled share, when its stage
    /// records one (the slot), else none.
    Share(Option<usize>),
    /// The EU's: its members' output weighed by their control.
    Eu,
    /// Output outside the recorded producers: none.
    Rest,
}

/// A node's arithmetic with its lookups done once: where its numbers go in
/// the arena and where its parts' numbers are, so a draw only reads
/// values and adds.
#[derive(Debug, Clone)]
pub(crate) struct Op {
    start: usize,
    /// Values of the node: `paths`, the free share, one per input.
    width: usize,
    paths: usize,
    /// A re-export pool, expanded into the supplies that use it: not
    /// recomputed by [`Network::evaluate`].
    pool: bool,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Made {
        product: usize,
        control: Control,
        /// Per input edge: the edge, its supply node's start and its
        /// product's path count.
        inputs: Vec<(Edge, usize, usize)>,
    },
    Supply {
        recycled: f64,
        /// The flattened parts: weight and start of the node.
        terms: Vec<(f64, usize)>,
    },
    World {
        product: usize,
        basis: ShareBasis,
        /// Per producer: its slot in the stage and its made node's start.
        producers: Vec<(usize, usize)>,
        rest: usize,
    },
}

impl Op {
    /// Computes the node into `values` (its parts already there) from the
    /// stage values by product, the products in `secured` carrying no
    /// Chinese control.
    fn run<'v>(
        &self,
        stages: &[Option<Resolved>],
        stage_values: &dyn Fn(usize) -> &'v [f64],
        secured: Option<usize>,
        values: &mut [f64],
    ) {
        let (before, rest) = values.split_at_mut(self.start);
        let out = &mut rest[..self.width];
        let paths = self.paths;
        match &self.kind {
            Kind::Made {
                product,
                control,
                inputs,
            } => {
                let kappa = if secured == Some(*product) {
                    0.0
                } else {
                    match *control {
                        Control::China => 1.0,
                        Control::Share(slot) => slot.map_or(0.0, |s| stage_values(*product)[s]),
                        Control::Eu => {
                            let stage = stages[*product]
                                .as_ref()
                                .expect("a node's stage is resolved");
                            controlled(Place::At(Buyer::Eu), stage, stage_values(*product))
                        }
                        Control::Rest => 0.0,
                    }
                };
                out[0] = kappa;
                let mut at = 1;
                let mut free = 1.0 - kappa;
                for (k, &(edge, input, input_paths)) in inputs.iter().enumerate() {
                    copy(
                        &mut out[at..at + input_paths],
                        &before[input..input + input_paths],
                    );
                    at += input_paths;
                    let input_free = before[input + input_paths];
                    out[paths + 1 + k] = input_free;
                    free *= input_term(&edge, input_free);
                }
                out[paths] = free;
            }
            Kind::Supply { recycled, terms } => {
                accumulate(out, before, terms.iter().copied());
                for free in &mut out[paths..] {
                    *free += recycled;
                }
            }
            Kind::World {
                product,
                basis,
                producers,
                rest,
            } => {
                let values = stage_values(*product);
                let amount = |slot: usize| values[slot].max(0.0);
                let world: f64 = producers.iter().map(|&(slot, _)| amount(slot)).sum();
                let mut shares = 0.0;
                // Volumes that add up to nothing weigh nothing.
                let volumes = matches!(
                    basis,
                    ShareBasis::Production | ShareBasis::OperatingCapacity
                );
                let weighed = if world > 0.0 || !volumes {
                    producers.as_slice()
                } else {
                    &[]
                };
                let terms = weighed.iter().map(|&(slot, start)| {
                    let w = country_share(*basis, amount(slot), world, Excess::Scaled);
                    shares += w;
                    (w, start)
                });
                accumulate(out, before, terms);
                let rest_weight = (1.0 - shares).max(0.0);
                add_weighed(out, rest_weight, &before[*rest..*rest + self.width]);
            }
        }
    }
}

/// `out[j] = Σ w · part[j]` over the terms (weight, start of a part as wide
/// as `out`), summed in their order from 0.
fn accumulate(out: &mut [f64], parts: &[f64], terms: impl Iterator<Item = (f64, usize)>) {
    /// The same with the width known, so the sums stay in registers.
    fn fixed<const N: usize>(
        out: &mut [f64],
        parts: &[f64],
        terms: impl Iterator<Item = (f64, usize)>,
    ) {
        let mut sums = [0.0; N];
        for (w, start) in terms {
            let part: &[f64; N] = parts[start..start + N].try_into().expect("N values");
            for (sum, v) in sums.iter_mut().zip(part) {
                *sum += w * v;
            }
        }
        out.copy_from_slice(&sums);
    }
    match out.len() {
        1 => fixed::<1>(out, parts, terms),
        2 => fixed::<2>(out, parts, terms),
        3 => fixed::<3>(out, parts, terms),
        4 => fixed::<4>(out, parts, terms),
        5 => fixed::<5>(out, parts, terms),
        6 => fixed::<6>(out, parts, terms),
        7 => fixed::<7>(out, parts, terms),
        8 => fixed::<8>(out, parts, terms),
        width => {
            out.fill(0.0);
            for (w, start) in terms {
                add_weighed(out, w, &parts[start..start + width]);
            }
        }
    }
}

/// `out[j] += w · part[j]`.
fn add_weighed(out: &mut [f64], w: f64, part: &[f64]) {
    for (o, v) in out.iter_mut().zip(part) {
        *o += w * v;
    }
}

/// `to.copy_from_slice(from)`, inline for the few values a node copies
/// (a call to `memcpy` costs more than such a copy).
fn copy(to: &mut [f64], from: &[f64]) {
    fn fixed<const N: usize>(to: &mut [f64], from: &[f64]) {
        let from: &[f64; N] = from.try_into().expect("N values");
        let to: &mut [f64; N] = to.try_into().expect("N values");
        *to = *from;
    }
    match to.len() {
        0 => {}
        1 => fixed::<1>(to, from),
        2 => fixed::<2>(to, from),
        3 => fixed::<3>(to, from),
        4 => fixed::<4>(to, from),
        5 => fixed::<5>(to, from),
        6 => fixed::<6>(to, from),
        7 => fixed::<7>(to, from),
        8 => fixed::<8>(to, from),
        _ => to.copy_from_slice(from),
    }
}
