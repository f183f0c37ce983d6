//! Scoring engine benchmarks, each next to a baseline measured in the same
//! run: one plain pass summing every fact value of the same snapshot (the
//! cost of touching the data once).
//!
//! 1. full recompute: 10,000 products × 7 buyers from about 1,000,000 facts;
//! 2. Monte Carlo: 1,000 draws for the last product of a 5-stage chain, and
//!    of a 5-stage chain with 20 origins per stage each sourcing from all;
//! 3. views: every product of 2,000 scored at a past `as_of` in each view,
//!    against the `recorded` read (what every past read was before views);
//! 4. pictures: the value-chain picture of a 10-product chain, against the
//!    JSON score read of the same product (computed and serialised).
//!
//! Run: `cargo bench --bench scoring`; figures go to bench/README.md.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use time::macros::datetime;
use time::OffsetDateTime;

use chokepoint::domain::{
    Buyer, CountryCode, FactStatus, Knowledge, Metric, Period, Product, ProductId, ProductInput,
    SourceId, SourceKind, Stage, View,
};
use chokepoint::pictures::{self, ChainNode};
use chokepoint::scoring::{
    score_all, score_chain, score_product, uncertainty, Params, ProductScore, Snapshot,
    SnapshotFact, DEFAULT_DRAWS,
};

const AS_OF: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);
const COUNTRIES: [&str; 15] = [
    "CN", "US", "AU", "MM", "CA", "BR", "IN", "VN", "ZA", "CD", "ID", "CL", "JP", "KR", "MY",
];
const BUYERS: [&str; 7] = ["US", "EU", "JP", "KR", "GB", "CA", "AU"];

/// SplitMix64: a tiny deterministic generator for the synthetic data.
struct Synth(u64);

impl Synth {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Generator {
    rng: Synth,
    facts: Vec<SnapshotFact>,
    sources: Vec<SourceId>,
}

impl Generator {
    fn new(seed: u64) -> Generator {
        let sources = (0..20)
            .map(|i| SourceId::parse(&format!("source-{i:02}")).unwrap())
            .collect();
        Generator {
            rng: Synth(seed),
            facts: Vec::new(),
            sources,
        }
    }

    fn fact(
        &mut self,
        product: Option<&ProductId>,
        country: &str,
        metric: Metric,
        value: f64,
        year: i32,
    ) -> &mut SnapshotFact {
        let confidence = 0.5 + 0.5 * self.rng.unit();
        let source_id = self.sources[self.rng.below(self.sources.len())].clone();
        self.facts.push(SnapshotFact {
            id: self.facts.len() as i64 + 1,
            product: product.cloned(),
            country: CountryCode::parse(country),
            buyer: None,
            facility: None,
            metric,
            value: Some(value),
            period: Period::year(year).unwrap(),
            status: FactStatus::Actual,
            controlled_by: None,
            expected_online: None,
            source_id,
            source_kind: SourceKind::GovernmentStatistics,
            confidence,
            knowledge: Knowledge {
                published_on: datetime!(2025-06-01 00:00 UTC).date(),
                recorded_at: datetime!(2025-06-01 00:00 UTC),
                retracted_at: None,
                retraction_published_on: None,
            },
        });
        self.facts.last_mut().unwrap()
    }

    /// 100 facts: two years of production in 15 countries, operating
    /// and pipeline capacity, market shares, each buyer's imports, reliance
    /// and demand, and the difficulty metrics.
    fn product_facts(&mut self, id: &ProductId) {
        let p = Some(id);
        for (c, country) in COUNTRIES.iter().enumerate() {
            let size = if c == 0 { 5.0 } else { 1.0 } * (1_000.0 + 50_000.0 * self.rng.unit());
            for year in [2023, 2024] {
                let value = size * (0.9 + 0.2 * self.rng.unit());
                self.fact(p, country, Metric::Production, value, year);
            }
            self.fact(p, country, Metric::Capacity, size * 1.2, 2024)
                .status = FactStatus::Operating;
        }
        for project in 0..10 {
            let country = COUNTRIES[1 + self.rng.below(COUNTRIES.len() - 1)];
            let status = [
                FactStatus::UnderConstruction,
                FactStatus::Planned,
                FactStatus::Announced,
            ][project % 3];
            let online = 2026 + self.rng.below(8) as i32;
            let value = 5_000.0 * self.rng.unit();
            let fact = self.fact(p, country, Metric::Capacity, value, 2025);
            (fact.status, fact.expected_online, fact.facility) = (
                status,
                Some(online),
                Some(format!("project-{project}").into()),
            );
        }
        let china = 0.5 + 0.45 * self.rng.unit();
        self.fact(p, "CN", Metric::MarketShare, china, 2024);
        let value = china * (0.95 + 0.1 * self.rng.unit());
        self.fact(p, "CN", Metric::MarketShare, value, 2024);
        let value = 0.5 * self.rng.unit();
        self.fact(p, "MM", Metric::ControlledShare, value, 2024)
            .controlled_by = CountryCode::parse("CN");
        for buyer in BUYERS {
            let buyer = Buyer::parse(buyer).unwrap();
            for (origin, share) in [
                ("CN", 0.4 + 0.5 * self.rng.unit()),
                ("AU", 0.1),
                ("CA", 0.05),
            ] {
                self.fact(p, origin, Metric::ImportShare, share.min(1.0), 2024)
                    .buyer = Some(buyer);
            }
            let value = 0.5 + 0.5 * self.rng.unit();
            self.fact(p, "US", Metric::ImportReliance, value, 2024)
                .buyer = Some(buyer);
            let value = 10_000.0 * self.rng.unit();
            self.fact(p, "US", Metric::Demand, value, 2024).buyer = Some(buyer);
        }
        let value = 2.0 + 15.0 * self.rng.unit();
        self.fact(p, "US", Metric::LeadTimeYears, value, 2024);
        let value = 100_000.0 * self.rng.unit();
        self.fact(p, "US", Metric::CapexPerTpa, value, 2024);
        let value = self.rng.unit();
        self.fact(p, "US", Metric::CostPremium, value, 2024);
        let value = self.rng.below(4) as f64;
        self.fact(p, "CN", Metric::StateSupport, value, 2024);
        let value = self.rng.unit();
        self.fact(p, "US", Metric::SubstitutionIndex, value, 2024);
        let value = 0.2 * self.rng.unit();
        self.fact(p, "US", Metric::RecyclingInputRate, value, 2024);
        let value = 1.0 + self.rng.unit();
        self.fact(p, "CN", Metric::TradeRestriction, value, 2024);
    }

    fn governance(&mut self) {
        for country in COUNTRIES {
            let value = 4.0 * self.rng.unit() - 2.0;
            self.fact(None, country, Metric::GovernanceWgi, value, 2023);
        }
    }
}

fn product(index: usize, stage: Stage, inputs: Vec<ProductInput>) -> Product {
    let id = ProductId::parse(&format!("{}-{index:05}", stage.as_str())).unwrap();
    Product {
        name: id.to_string(),
        id,
        stage,
        description: String::new(),
        inputs,
        hs_codes: Vec::new(),
    }
}

/// Layers of 10% mining, 30% smelting, 40% materials, 20% applications;
/// each product takes 1–4 inputs from the layer above it.
fn layered_snapshot(products: usize, seed: u64) -> Snapshot {
    let mut generator = Generator::new(seed);
    let layer_sizes = [
        products / 10,
        products * 3 / 10,
        products * 4 / 10,
        products / 5,
    ];
    let mut all: Vec<Product> = Vec::with_capacity(products);
    let mut previous: Vec<ProductId> = Vec::new();
    for (stage, size) in Stage::ALL.into_iter().zip(layer_sizes) {
        let mut layer = Vec::with_capacity(size);
        for _ in 0..size {
            let mut inputs: Vec<ProductInput> = Vec::new();
            if !previous.is_empty() {
                for _ in 0..1 + generator.rng.below(4) {
                    let input = previous[generator.rng.below(previous.len())].clone();
                    if inputs.iter().all(|i| i.product != input) {
                        let essential = generator.rng.below(2) == 0;
                        inputs.push(ProductInput {
                            product: input,
                            share: generator.rng.unit(),
                            essential,
                        });
                    }
                }
            }
            let made = product(all.len(), stage, inputs);
            generator.product_facts(&made.id);
            layer.push(made.id.clone());
            all.push(made);
        }
        previous = layer;
    }
    generator.governance();
    Snapshot::new(all, generator.facts).expect("a valid synthetic snapshot")
}

/// mining → smelting → smelting → materials → applications.
fn chain_snapshot() -> (Snapshot, ProductId) {
    five_stages(7, |generator, id| generator.product_facts(id))
}

/// A 5-stage chain, each product taking half of the one before, with
/// `facts` recorded for each product.
fn five_stages(
    seed: u64,
    mut facts: impl FnMut(&mut Generator, &ProductId),
) -> (Snapshot, ProductId) {
    let mut generator = Generator::new(seed);
    let stages = [
        Stage::Mining,
        Stage::Smelting,
        Stage::Smelting,
        Stage::Materials,
        Stage::Applications,
    ];
    let mut products: Vec<Product> = Vec::new();
    for (index, stage) in stages.into_iter().enumerate() {
        let inputs = products
            .last()
            .map(|upstream| {
                vec![ProductInput {
                    product: upstream.id.clone(),
                    share: 0.5,
                    essential: true,
                }]
            })
            .unwrap_or_default();
        let made = product(index, stage, inputs);
        facts(&mut generator, &made.id);
        products.push(made);
    }
    generator.governance();
    let last = products.last().unwrap().id.clone();
    (Snapshot::new(products, generator.facts).unwrap(), last)
}

/// 20 countries, each a producer at every stage that imports each
/// product from the other 19 (its reliance recorded): every origin's
/// sourcing is recorded, so the network holds 20 places per stage.
const ORIGINS: [&str; 20] = [
    "CN", "US", "AU", "MM", "CA", "BR", "IN", "VN", "ZA", "CD", "ID", "CL", "JP", "KR", "MY", "DE",
    "FR", "GB", "MX", "PE",
];

/// The 5-stage chain with 20 origins per stage, each sourcing from all.
fn network_chain_snapshot() -> (Snapshot, ProductId) {
    five_stages(11, |generator, id| {
        let p = Some(id);
        for (c, country) in ORIGINS.iter().enumerate() {
            let size =
                if c == 0 { 10.0 } else { 1.0 } * (1_000.0 + 10_000.0 * generator.rng.unit());
            generator.fact(p, country, Metric::Production, size, 2024);
            let buyer = Buyer::parse(country).unwrap();
            let reliance = 0.2 + 0.7 * generator.rng.unit();
            generator
                .fact(p, country, Metric::ImportReliance, reliance, 2024)
                .buyer = Some(buyer);
            let weights: Vec<f64> = ORIGINS.iter().map(|_| generator.rng.unit()).collect();
            let total: f64 = weights.iter().sum();
            for (origin, weight) in ORIGINS.iter().zip(weights) {
                if origin != country {
                    generator
                        .fact(p, origin, Metric::ImportShare, weight / total, 2024)
                        .buyer = Some(buyer);
                }
            }
        }
        generator
            .fact(p, "MM", Metric::ControlledShare, 0.4, 2024)
            .controlled_by = CountryCode::parse("CN");
    })
}

/// The baseline: one pass over every fact value.
fn sum_values(snapshot: &Snapshot) -> f64 {
    snapshot.facts().iter().filter_map(|f| f.value).sum()
}

/// `n` scaled by `BENCH_SCALE` (default 1): CI runs every benchmark at a
/// tiny size so that one that no longer runs is caught.
fn scaled(n: usize) -> usize {
    let scale: f64 = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    ((n as f64 * scale) as usize).max(8)
}

fn full_recompute(c: &mut Criterion) {
    let snapshot = layered_snapshot(scaled(10_000), 2026);
    let buyers: Vec<Params> = BUYERS
        .iter()
        .map(|b| Params::new(Buyer::parse(b).unwrap(), AS_OF))
        .collect();
    println!(
        "full recompute: {} products, {} facts",
        snapshot.products().len(),
        snapshot.facts().len()
    );
    let mut group = c.benchmark_group("full_recompute");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .warm_up_time(Duration::from_secs(2));
    group.bench_function("baseline_sum_fact_values", |b| {
        b.iter(|| sum_values(black_box(&snapshot)))
    });
    group.bench_function("score_all_10k_products_7_buyers", |b| {
        b.iter(|| {
            buyers
                .iter()
                .map(|params| score_all(black_box(&snapshot), params).len())
                .sum::<usize>()
        })
    });
    group.finish();
}

fn monte_carlo(c: &mut Criterion) {
    let (snapshot, last) = chain_snapshot();
    let params = Params::new(Buyer::parse("US").unwrap(), AS_OF);
    println!(
        "monte carlo: {} products, {} facts",
        snapshot.products().len(),
        snapshot.facts().len()
    );
    let mut group = c.benchmark_group("monte_carlo");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    group.bench_function("baseline_sum_fact_values", |b| {
        b.iter(|| sum_values(black_box(&snapshot)))
    });
    group.bench_function("uncertainty_1000_draws_5_stage_chain", |b| {
        b.iter(|| uncertainty(black_box(&snapshot), &last, &params, DEFAULT_DRAWS, 42))
    });
    let (network, network_last) = network_chain_snapshot();
    println!(
        "monte carlo over the network: {} products, {} facts",
        network.products().len(),
        network.facts().len()
    );
    group.bench_function("baseline_sum_fact_values_network", |b| {
        b.iter(|| sum_values(black_box(&network)))
    });
    group.bench_function("uncertainty_1000_draws_5_stages_20_origins", |b| {
        b.iter(|| {
            uncertainty(
                black_box(&network),
                &network_last,
                &params,
                DEFAULT_DRAWS,
                42,
            )
        })
    });
    group.finish();
}

/// The three views of the past against the read every past `as_of` made
/// before views existed (what is now `recorded`), on the same snapshot.
fn views(c: &mut Criterion) {
    let snapshot = layered_snapshot(scaled(2_000), 7);
    let past = datetime!(2025-09-30 00:00 UTC);
    let read = |view| Params {
        view,
        ..Params::new(Buyer::parse("US").unwrap(), past)
    };
    println!(
        "views: {} products, {} facts",
        snapshot.products().len(),
        snapshot.facts().len()
    );
    let mut group = c.benchmark_group("views");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    for (name, view) in [
        ("baseline_recorded", View::Recorded),
        ("public", View::Public),
        ("current", View::Current),
    ] {
        let params = read(view);
        group.bench_function(name, |b| {
            b.iter(|| score_all(black_box(&snapshot), &params).len())
        });
    }
    // A recorded read of an instant whose product graph was different: the
    // snapshot is rebuilt once over that graph (then cached), then scored.
    let older_graph = snapshot.products().to_vec();
    group.bench_function("recorded_rebuilding_an_older_graph", |b| {
        b.iter(|| {
            let rebuilt = snapshot.with_products(older_graph.clone()).unwrap();
            score_all(black_box(&rebuilt), &read(View::Recorded)).len()
        })
    });
    group.finish();
}

/// An input: its index among the products before, its share, whether essential.
type Input = (usize, f64, bool);

/// Ten products, all upstream of the last: three ores, three refined
/// products (one from two ores), three materials and the application made
/// from them, with the facts of every product as above.
fn ten_product_chain() -> (Snapshot, ProductId) {
    let mut generator = Generator::new(11);
    let spec: [(Stage, &[Input]); 10] = [
        (Stage::Mining, &[]),
        (Stage::Mining, &[]),
        (Stage::Mining, &[]),
        (Stage::Smelting, &[(0, 1.0, true)]),
        (Stage::Smelting, &[(1, 1.0, true)]),
        (Stage::Smelting, &[(2, 0.7, true), (0, 0.3, false)]),
        (Stage::Materials, &[(3, 0.8, true), (4, 0.2, false)]),
        (Stage::Materials, &[(5, 1.0, true)]),
        (Stage::Materials, &[(4, 0.6, true), (6, 0.4, true)]),
        (
            Stage::Applications,
            &[(6, 0.5, true), (7, 0.3, true), (8, 0.2, false)],
        ),
    ];
    let mut products: Vec<Product> = Vec::new();
    for (index, (stage, inputs)) in spec.into_iter().enumerate() {
        let inputs = inputs
            .iter()
            .map(|&(input, share, essential)| ProductInput {
                product: products[input].id.clone(),
                share,
                essential,
            })
            .collect();
        let made = product(index, stage, inputs);
        generator.product_facts(&made.id);
        products.push(made);
    }
    generator.governance();
    let last = products.last().unwrap().id.clone();
    (Snapshot::new(products, generator.facts).unwrap(), last)
}

fn chain_picture(snapshot: &Snapshot, last: &ProductId, scores: &[ProductScore]) -> String {
    let nodes: Vec<ChainNode<'_>> = scores
        .iter()
        .map(|score| ChainNode {
            score,
            name: &snapshot.product(&score.product).unwrap().name,
        })
        .collect();
    pictures::chain(last, &nodes, "1000/0/10:10/20").unwrap()
}

/// The chain picture of a 10-product chain against the JSON score read of
/// the same product: the score computed on demand and serialised, which is
/// what `GET /v1/scores/{product}` does for any read that is not the
/// precomputed current one.
fn picture(c: &mut Criterion) {
    let (snapshot, last) = ten_product_chain();
    let params = Params::new(Buyer::parse("US").unwrap(), AS_OF);
    let scores = score_chain(&snapshot, &last, &params).unwrap();
    assert_eq!(scores.len(), 10, "a 10-product chain");
    let svg = chain_picture(&snapshot, &last, &scores);
    println!(
        "pictures: {} products, {} facts, SVG {} bytes",
        snapshot.products().len(),
        snapshot.facts().len(),
        svg.len()
    );
    let mut group = c.benchmark_group("pictures");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    group.bench_function("baseline_json_score_read", |b| {
        b.iter(|| {
            let score = score_product(black_box(&snapshot), &last, &params).unwrap();
            serde_json::to_vec(&score).unwrap().len()
        })
    });
    group.bench_function("chain_svg_10_products_scored_and_drawn", |b| {
        b.iter(|| {
            let scores = score_chain(black_box(&snapshot), &last, &params).unwrap();
            chain_picture(&snapshot, &last, &scores).len()
        })
    });
    group.bench_function("chain_svg_10_products_drawn", |b| {
        b.iter(|| chain_picture(black_box(&snapshot), &last, &scores).len())
    });
    group.bench_function("chain_png_10_products_rendered_from_svg", |b| {
        b.iter(|| pictures::png::render(black_box(&svg)).unwrap().len())
    });
    group.finish();
}

criterion_group!(benches, full_recompute, monte_carlo, views, picture);
criterion_main!(benches);
