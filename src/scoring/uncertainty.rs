//! Seeded Monte Carlo over the resolved values. The generator is written out
//! here (SplitMix64 seeding xoshiro256**, polar Box–Muller normals) so a seed gives
//! the same draws forever, whatever crate versions the build uses.

use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::engine::{evaluate_resolved, local, node, Node};
use super::network::{Network, Op, Outcome};
use super::params::{Chain, Params};
use super::resolve::{resolve, Resolved};
use super::snapshot::Snapshot;
use super::METHODOLOGY_VERSION;
use crate::domain::{Buyer, ProductId};

/// The default number of draws.
pub const DEFAULT_DRAWS: u32 = 1_000;

/// Percentiles of a score over the draws.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Interval {
    /// Points 0–100, as the score: the score from the resolved values
    /// themselves, unperturbed.
    pub point: f64,
    /// Points 0–100: 5th percentile of the draws (nearest rank).
    pub p5: f64,
    /// Points 0–100: median of the draws (nearest rank).
    pub p50: f64,
    /// Points 0–100: 95th percentile of the draws (nearest rank).
    pub p95: f64,
}

/// Uncertainty of both scores of a product.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Intervals {
    /// The product scored.
    pub product: ProductId,
    /// Whom for.
    pub buyer: Buyer,
    /// The instant the facts were read as of.
    #[serde(with = "time::serde::rfc3339")]
    pub as_of: OffsetDateTime,
    /// The aggregation the dependency draws use.
    pub chain: Chain,
    /// How many Monte Carlo draws were made.
    #[schema(example = 1000)]
    pub draws: u32,
    /// The generator's seed: the same seed gives the same draws.
    #[schema(example = 42)]
    pub seed: u64,
    /// The method the draws recompute.
    #[schema(example = "2026.5")]
    pub methodology_version: String,
    /// Dependency over the draws, 0–100 points.
    pub dependency: Interval,
    /// Displacement difficulty over the draws, 0–100 points.
    pub difficulty: Interval,
}

/// xoshiro256** (Blackman and Vigna), seeded through SplitMix64.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    state: [u64; 4],
    spare_normal: Option<f64>,
    /// Scratch of [`Rng::fill_normals`]: the accepted points of a batch.
    points: Vec<(f64, f64, f64)>,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut splitmix = seed;
        let mut next = || {
            splitmix = splitmix.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = splitmix;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng {
            state: [next(), next(), next(), next()],
            spare_normal: None,
            points: Vec::new(),
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [-1, 1).
    fn uniform_symmetric(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (2.0 / (1u64 << 53) as f64) - 1.0
    }

    /// A standard normal draw by Box–Muller in Marsaglia's polar form (no
    /// trigonometry; the second value of each pair is kept for the next call).
    /// The draws take theirs in batches from [`Rng::fill_normals`], which
    /// the tests check against this.
    #[cfg(test)]
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        let (u, v, s) = self.polar_point();
        let factor = polar_factor(s);
        self.spare_normal = Some(v * factor);
        u * factor
    }

    /// A point drawn uniformly in the unit disc (origin excluded) and its
    /// squared radius.
    #[cfg(test)]
    fn polar_point(&mut self) -> (f64, f64, f64) {
        loop {
            let u = self.uniform_symmetric();
            let v = self.uniform_symmetric();
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                return (u, v, s);
            }
        }
    }

    /// Fills `out` with the normals that as many calls of [`Rng::normal`]
    /// would return, in the same order. The points are drawn first, then
    /// turned into normals: their logarithms and square roots, independent
    /// of each other, no longer wait on the generator in turn.
    pub fn fill_normals(&mut self, out: &mut [f64]) {
        let out = match (self.spare_normal, out.split_first_mut()) {
            (Some(z), Some((first, rest))) => {
                self.spare_normal = None;
                *first = z;
                rest
            }
            _ => out,
        };
        let mut points = std::mem::take(&mut self.points);
        let needed = out.len().div_ceil(2);
        points.clear();
        points.resize(needed + 1, (0.0, 0.0, 0.0));
        // The candidates of polar_point in turn, each written to the next
        // place and kept by moving on: no branch to mispredict on the one
        // in five that falls outside the disc.
        let mut accepted = 0;
        while accepted < needed {
            let u = self.uniform_symmetric();
            let v = self.uniform_symmetric();
            let s = u * u + v * v;
            points[accepted] = (u, v, s);
            accepted += usize::from(s > 0.0 && s < 1.0);
        }
        points.truncate(needed);
        let mut pairs = out.chunks_exact_mut(2);
        for (pair, &(u, v, s)) in (&mut pairs).zip(&points) {
            let factor = polar_factor(s);
            pair[0] = u * factor;
            pair[1] = v * factor;
        }
        if let ([last], Some(&(u, v, s))) = (pairs.into_remainder(), points.last()) {
            let factor = polar_factor(s);
            *last = u * factor;
            self.spare_normal = Some(v * factor);
        }
        self.points = points;
    }
}

/// What turns a polar point of squared radius `s` into two standard normals.
fn polar_factor(s: f64) -> f64 {
    (-2.0 * s.ln() / s).sqrt()
}

/// The values of a resolution that the draws perturb: those with a
/// positive `σ`, by index, with their resolved value and range.
struct Perturbed {
    slots: Vec<(usize, f64, f64, f64, f64)>,
}

impl Perturbed {
    fn new(r: &Resolved) -> Perturbed {
        let slots = r
            .slots
            .iter()
            .zip(&r.values)
            .enumerate()
            .filter(|(_, (slot, _))| slot.sigma > 0.0)
            .map(|(index, (slot, &base))| (index, base, slot.sigma, slot.min, slot.max))
            .collect();
        Perturbed { slots }
    }

    /// Redraws every perturbable value from the next normals `z`, one each
    /// in slot order: `v · (1 + σ·z)`, clamped to the metric's range
    /// (fractions stay in 0..1, volumes non-negative). The other values of
    /// `out` stay as resolved.
    fn perturb(&self, z: &[f64], out: &mut [f64]) {
        for (&(index, base, sigma, min, max), &z) in self.slots.iter().zip(z) {
            out[index] = (base * (1.0 + sigma * z)).clamp(min, max);
        }
    }
}

/// The `q`-quantile of sorted draws by nearest rank.
fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn interval(point: f64, mut draws: Vec<f64>) -> Interval {
    draws.sort_by(f64::total_cmp);
    Interval {
        point,
        p5: nearest_rank(&draws, 0.05),
        p50: nearest_rank(&draws, 0.50),
        p95: nearest_rank(&draws, 0.95),
    }
}

/// A product's chain as the draws recompute it: each product's resolution
/// for the buyer and its supply node in the network.
struct DrawnChain<'a> {
    closure: Vec<usize>,
    resolved: Vec<Resolved>,
    supplies: Vec<usize>,
    network: Network<'a>,
    /// The network's arithmetic that the supplies' outcomes read.
    plan: Vec<Op>,
}

/// What a draw writes over, kept from one draw to the next: the network's
/// arena, the products' nodes and the outcome of the product in hand.
struct Scratch {
    arena: Vec<f64>,
    nodes: Vec<Node>,
    outcome: Outcome,
}

impl DrawnChain<'_> {
    /// Recomputes the chain from perturbed values (the buyer's, by position
    /// in the closure, which `position` gives for each product) and returns
    /// the last product's dependency and difficulty.
    fn evaluate(
        &self,
        snapshot: &Snapshot,
        params: &Params,
        values: &[Vec<f64>],
        position: &[usize],
        scratch: &mut Scratch,
    ) -> (f64, f64) {
        let Scratch {
            arena,
            nodes,
            outcome,
        } = scratch;
        self.network
            .evaluate_plan(&self.plan, &|p| values[position[p]].as_slice(), arena);
        for (position, &p) in self.closure.iter().enumerate() {
            self.network
                .outcome_into(p, self.supplies[position], Some(arena), outcome);
            let own = local(
                snapshot,
                p,
                &self.resolved[position],
                &values[position],
                params,
                outcome.exposure,
            );
            nodes[p] = node(snapshot, p, &own, outcome, nodes, params.chain);
        }
        let last = *self.closure.last().expect("the closure holds the product");
        (nodes[last].dependency(params.chain), nodes[last].difficulty)
    }
}

pub(crate) fn uncertainty(
    snapshot: &Snapshot,
    id: &ProductId,
    params: &Params,
    draws: u32,
    seed: u64,
) -> Option<Intervals> {
    let product = snapshot.position(id)?;
    let mut chain = DrawnChain {
        closure: snapshot.upstream_closure(product),
        resolved: Vec::new(),
        supplies: Vec::new(),
        network: Network::new(snapshot, params),
        plan: Vec::new(),
    };
    // The network reads each stage as the buyer resolved it, so a draw
    // perturbs every fact once for both (the chain's products are all the
    // network meets).
    let mut position = vec![usize::MAX; snapshot.products().len()];
    for (at, &p) in chain.closure.iter().enumerate() {
        position[p] = at;
        let resolved = resolve(snapshot, p, params);
        chain.network.set_stage(p, resolved.clone());
        chain.resolved.push(resolved);
    }
    let mut nodes = vec![Node::default(); product + 1];
    let mut last = None;
    for (&p, resolved) in chain.closure.iter().zip(&chain.resolved) {
        let (outcome, _, node) =
            evaluate_resolved(snapshot, params, &mut chain.network, p, resolved, &nodes);
        nodes[p] = node;
        chain.supplies.push(outcome.node);
        last = Some(outcome);
    }
    chain.plan = chain.network.plan(&chain.supplies);
    // The draws write each product's outcome over this one.
    let outcome = last.expect("the closure holds the product");
    let point_dependency = nodes[product].dependency(params.chain);
    let point_difficulty = nodes[product].difficulty;
    let mut values: Vec<Vec<f64>> = chain.resolved.iter().map(|r| r.values.clone()).collect();
    // Each draw takes one normal per perturbed value, product by product
    // in closure order.
    let perturbed: Vec<Perturbed> = chain.resolved.iter().map(Perturbed::new).collect();
    let mut normals = vec![0.0; perturbed.iter().map(|p| p.slots.len()).sum()];
    let mut scratch = Scratch {
        arena: Vec::new(),
        nodes,
        outcome,
    };
    let mut rng = Rng::new(seed);
    let draws = draws.max(1);
    let mut dependency = Vec::with_capacity(draws as usize);
    let mut difficulty = Vec::with_capacity(draws as usize);
    for _ in 0..draws {
        rng.fill_normals(&mut normals);
        let mut z = normals.as_slice();
        for (p, buffer) in perturbed.iter().zip(values.iter_mut()) {
            let (own, rest) = z.split_at(p.slots.len());
            p.perturb(own, buffer);
            z = rest;
        }
        let (d, h) = chain.evaluate(snapshot, params, &values, &position, &mut scratch);
        dependency.push(d);
        difficulty.push(h);
    }
    Some(Intervals {
        product: id.clone(),
        buyer: params.buyer,
        as_of: params.as_of,
        chain: params.chain,
        draws,
        seed,
        methodology_version: METHODOLOGY_VERSION.to_owned(),
        dependency: interval(point_dependency, dependency),
        difficulty: interval(point_difficulty, difficulty),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_reproducible_and_its_normals_are_standard() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        assert!((0..100).all(|_| a.next_u64() == b.next_u64()));
        let mut rng = Rng::new(2026);
        let n = 20_000;
        let draws: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let variance = draws.iter().map(|z| (z - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((variance - 1.0).abs() < 0.05, "variance {variance}");
    }

    #[test]
    fn a_batch_of_normals_is_the_sequence_of_single_draws() {
        let mut single = Rng::new(11);
        let mut batched = Rng::new(11);
        for n in [0, 1, 2, 3, 7, 0, 4, 1, 1, 10] {
            let mut batch = vec![0.0; n];
            batched.fill_normals(&mut batch);
            let expected: Vec<f64> = (0..n).map(|_| single.normal()).collect();
            assert_eq!(
                batch.iter().map(|z| z.to_bits()).collect::<Vec<_>>(),
                expected.iter().map(|z| z.to_bits()).collect::<Vec<_>>()
            );
        }
        assert_eq!(single.next_u64(), batched.next_u64());
    }

    #[test]
    fn nearest_rank_percentiles() {
        let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(nearest_rank(&sorted, 0.05), 5.0);
        assert_eq!(nearest_rank(&sorted, 0.50), 50.0);
        assert_eq!(nearest_rank(&sorted, 0.95), 95.0);
        assert_eq!(nearest_rank(&[3.0], 0.05), 3.0);
    }
}
