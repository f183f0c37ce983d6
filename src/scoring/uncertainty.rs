//! Seeded Monte Carlo over the resolved values. The generator is written out
//! here (SplitMix64 seeding xoshiro256**, ziggurat normals) so a seed gives
//! the same draws forever, whatever crate versions the build uses.

use std::sync::OnceLock;

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
    #[schema(example = "2026.6")]
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

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * UNIT
    }

    /// Uniform in (0, 1]: a logarithm's argument.
    fn uniform_open(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * UNIT
    }

    /// A standard normal draw by Marsaglia and Tsang's ziggurat: one
    /// generator call picks a layer (the low 8 bits) and a point across it
    /// (the high 53); the point is kept at once when it falls inside the
    /// density (98.8% of draws), else tested against the density or, in
    /// the base layer, drawn from the tail.
    pub fn normal(&mut self) -> f64 {
        let table = ziggurat();
        loop {
            let bits = self.next_u64();
            let layer = (bits & 0xff) as usize;
            let u = (bits >> 11) as f64 * (2.0 * UNIT) - 1.0;
            let x = u * table.x[layer];
            if x.abs() < table.x[layer + 1] {
                return x;
            }
            if layer == 0 {
                return self.tail().copysign(u);
            }
            let (low, high) = (table.f[layer], table.f[layer + 1]);
            if low + (high - low) * self.uniform() < density(x) {
                return x;
            }
        }
    }

    /// A draw of `|z|` beyond the base layer's edge (Marsaglia 1964).
    fn tail(&mut self) -> f64 {
        loop {
            let a = -self.uniform_open().ln() / ZIGGURAT_EDGE;
            let b = -self.uniform_open().ln();
            if 2.0 * b > a * a {
                return ZIGGURAT_EDGE + a;
            }
        }
    }
}

/// 2⁻⁵³: 53 random bits as a fraction.
const UNIT: f64 = 1.0 / (1u64 << 53) as f64;

/// The ziggurat's layers: 256 of equal area under the density
/// `exp(−x²/2)`, the base one holding the tail beyond the edge `r`
/// (Marsaglia and Tsang, 2000). The area is the base layer's, `r·e^(−r²/2)`
/// plus the tail's `√(π/2)·erfc(r/√2)`; with it the top layer ends on the
/// axis to 3·10⁻¹⁵.
const ZIGGURAT_LAYERS: usize = 256;
const ZIGGURAT_EDGE: f64 = 3.654_152_885_361_009;
const ZIGGURAT_AREA: f64 = 4.928_673_233_974_658e-3;

/// Each layer's half-width `x` and the density there `f`, the layer `i`
/// lying between heights `f[i]` and `f[i + 1]`.
struct Ziggurat {
    x: [f64; ZIGGURAT_LAYERS + 1],
    f: [f64; ZIGGURAT_LAYERS + 1],
}

fn density(x: f64) -> f64 {
    (-0.5 * x * x).exp()
}

/// The layers, computed once: each layer's top edge is where the next of
/// the same area begins.
fn ziggurat() -> &'static Ziggurat {
    static TABLE: OnceLock<Ziggurat> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut x = [0.0; ZIGGURAT_LAYERS + 1];
        x[0] = ZIGGURAT_AREA / density(ZIGGURAT_EDGE);
        x[1] = ZIGGURAT_EDGE;
        for i in 2..ZIGGURAT_LAYERS {
            x[i] = (-2.0 * (ZIGGURAT_AREA / x[i - 1] + density(x[i - 1])).ln()).sqrt();
        }
        // The top layer ends on the axis.
        x[ZIGGURAT_LAYERS] = 0.0;
        Ziggurat {
            x,
            f: x.map(density),
        }
    })
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
        normals.fill_with(|| rng.normal());
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

    /// The first normals of seed 42.
    const PINNED: [u64; 4] = [
        13_835_369_122_423_579_613,
        13_823_797_273_710_131_851,
        4_602_194_458_050_592_846,
        4_607_704_814_304_088_606,
    ];

    /// Draws enough for the checks below to see a bias of a few parts in
    /// a thousand.
    const DRAWS: usize = 1_000_000;

    fn normals(seed: u64) -> Vec<f64> {
        let mut rng = Rng::new(seed);
        (0..DRAWS).map(|_| rng.normal()).collect()
    }

    /// `|estimate − expected|` within four standard errors.
    fn within_sampling_error(name: &str, estimate: f64, expected: f64, standard_error: f64) {
        assert!(
            (estimate - expected).abs() < 4.0 * standard_error,
            "{name}: {estimate} against {expected} (standard error {standard_error})"
        );
    }

    #[test]
    fn the_generator_is_reproducible() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        assert!((0..100).all(|_| a.next_u64() == b.next_u64()));
        // A seed gives the same normals forever.
        let mut rng = Rng::new(42);
        let first: Vec<u64> = (0..4).map(|_| rng.normal().to_bits()).collect();
        assert_eq!(first, PINNED);
    }

    #[test]
    fn the_normals_have_the_standard_normals_moments() {
        let z = normals(2026);
        let n = DRAWS as f64;
        let moment = |k: i32| z.iter().map(|z| z.powi(k)).sum::<f64>() / n;
        // Standard errors from the normal's moments: Var(z) = 1,
        // Var(z²) = 2, Var(z³) = 15, Var(z⁴) = 105 − 9.
        within_sampling_error("mean", moment(1), 0.0, (1.0 / n).sqrt());
        within_sampling_error("second moment", moment(2), 1.0, (2.0 / n).sqrt());
        within_sampling_error("third moment", moment(3), 0.0, (15.0 / n).sqrt());
        within_sampling_error("fourth moment", moment(4), 3.0, (96.0 / n).sqrt());
    }

    #[test]
    fn the_normals_have_the_standard_normals_tails() {
        let z = normals(7);
        let n = DRAWS as f64;
        // P(|z| > t) of the standard normal, 2·(1 − Φ(t)); the last `t` is
        // the ziggurat's edge, beyond which draws come from its tail.
        for (t, p) in [
            (1.0, 0.317_310_507_862_914_15),
            (2.0, 0.045_500_263_896_358_42),
            (3.0, 0.002_699_796_063_260_207),
            (ZIGGURAT_EDGE, 0.000_258_032_487_653_991_9),
        ] {
            let beyond = z.iter().filter(|z| z.abs() > t).count() as f64 / n;
            within_sampling_error(
                &format!("P(|z| > {t})"),
                beyond,
                p,
                (p * (1.0 - p) / n).sqrt(),
            );
            let upper = z.iter().filter(|&&z| z > t).count() as f64 / n;
            let half = p / 2.0;
            within_sampling_error(
                &format!("P(z > {t})"),
                upper,
                half,
                (half * (1.0 - half) / n).sqrt(),
            );
        }
    }

    #[test]
    fn the_normals_fall_evenly_between_the_standard_normals_twentieths() {
        // Φ⁻¹(k/20), k = 1..19.
        const QUANTILES: [f64; 19] = [
            -1.644_853_626_951,
            -1.281_551_565_545,
            -1.036_433_389_494,
            -0.841_621_233_573,
            -0.674_489_750_196,
            -0.524_400_512_708,
            -0.385_320_466_408,
            -0.253_347_103_136,
            -0.125_661_346_855,
            0.0,
            0.125_661_346_855,
            0.253_347_103_136,
            0.385_320_466_408,
            0.524_400_512_708,
            0.674_489_750_196,
            0.841_621_233_573,
            1.036_433_389_494,
            1.281_551_565_545,
            1.644_853_626_951,
        ];
        let mut counts = [0usize; 20];
        for z in normals(11) {
            counts[QUANTILES.partition_point(|&q| q < z)] += 1;
        }
        let expected = DRAWS as f64 / 20.0;
        let chi_square: f64 = counts
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum();
        // χ² with 19 degrees of freedom exceeds 43.82 with probability 0.001.
        assert!(chi_square < 43.82, "χ² {chi_square} over {counts:?}");
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
