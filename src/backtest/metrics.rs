//! The backtest's measures of how targeted products rank, and their
//! bootstrap intervals. Pure arithmetic over score lists.

use serde::Serialize;
use utoipa::ToSchema;

use crate::scoring::Rng;

/// Bootstrap resamples behind every interval.
pub const RESAMPLES: usize = 1000;
/// The bootstrap's seed: the same inputs give the same intervals.
pub const SEED: u64 = 2009;

/// One event's ranking of the catalogue for one buyer: each method's score
/// of every product (`None`: the method has no score, which ranks below
/// every score, as a method that gives no warning), and the products the
/// event targeted.
#[derive(Debug, Clone)]
pub struct Ranking {
    /// Per method, per product.
    pub scores: Vec<Vec<Option<f64>>>,
    /// Indices of the products the event targeted.
    pub targeted: Vec<usize>,
    /// Indices of the others.
    pub others: Vec<usize>,
}

impl Ranking {
    /// The ranking kept to the products every method scores.
    pub fn scored_by_every_method(&self) -> Ranking {
        let scored = |&p: &usize| self.scores.iter().all(|method| method[p].is_some());
        Ranking {
            scores: self.scores.clone(),
            targeted: self.targeted.iter().copied().filter(scored).collect(),
            others: self.others.iter().copied().filter(scored).collect(),
        }
    }
}

/// A figure with its 95% bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Estimate {
    /// The figure on the data as they are.
    pub value: f64,
    /// 2.5th percentile of the resampled figures.
    pub low: f64,
    /// 97.5th percentile of the resampled figures.
    pub high: f64,
}

/// The three measures of one method over a set of rankings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measures {
    /// Fraction 0–1: the chance a targeted product outscores one the event
    /// did not target (ties count half); 0.5 is no better than chance.
    pub auc: f64,
    /// Fraction 0–1 of targeted products in the top tenth of their ranking.
    pub top_decile: f64,
    /// Percentile 0–100 (100 = the highest score): the median rank of the
    /// targeted products.
    pub median_percentile: f64,
}

/// A ranking's products in ascending order of each method's score, in
/// groups of equal scores: what the measures of any sample of it need.
struct Sorted<'a> {
    ranking: &'a Ranking,
    targeted: Vec<bool>,
    /// Per method: product indices ascending, and where each tie group ends.
    order: Vec<(Vec<usize>, Vec<usize>)>,
}

impl<'a> Sorted<'a> {
    fn new(ranking: &'a Ranking) -> Sorted<'a> {
        let n = ranking.scores.first().map_or(0, Vec::len);
        let mut targeted = vec![false; n];
        ranking.targeted.iter().for_each(|&t| targeted[t] = true);
        let order = ranking
            .scores
            .iter()
            .map(|scores| {
                let mut order: Vec<usize> = (0..n).collect();
                order.sort_by(|&a, &b| key(scores[a]).total_cmp(&key(scores[b])));
                let ends = (1..=n)
                    .filter(|&i| i == n || key(scores[order[i]]) != key(scores[order[i - 1]]))
                    .collect();
                (order, ends)
            })
            .collect();
        Sorted {
            ranking,
            targeted,
            order,
        }
    }
}

/// How many times a sample takes each product of a ranking (0: left out).
struct Sample<'a, 'r> {
    sorted: &'a Sorted<'r>,
    weights: Vec<u32>,
}

fn key(score: Option<f64>) -> f64 {
    score.unwrap_or(f64::NEG_INFINITY)
}

/// 1 if `a` beats `b`, ½ on a tie, else 0.
fn wins(a: f64, b: f64) -> f64 {
    if a > b {
        1.0
    } else if a == b {
        0.5
    } else {
        0.0
    }
}

/// The percentile rank 0–100 of `score` among `all`, which holds it once:
/// the share of the others it beats, ties counting half.
fn percentile(score: f64, all: &[f64]) -> f64 {
    let beaten: f64 = all.iter().map(|&s| wins(score, s)).sum::<f64>() - 0.5;
    100.0 * beaten / (all.len() - 1).max(1) as f64
}

/// The percentile rank 0–100 of product `index` in a method's ranking.
pub fn percentile_rank(scores: &[Option<f64>], index: usize) -> f64 {
    let all: Vec<f64> = scores.iter().map(|s| key(*s)).collect();
    percentile(all[index], &all)
}

// The figures of the multiset each sample is, by tie groups: a targeted
// product beats every product below its group and ties (half) the rest
// of its group, itself excepted. Sums of halves are exact, so this equals
// comparing every pair.
fn measures(samples: &[Sample], method: usize) -> Option<Measures> {
    let (mut won, mut pairs) = (0.0, 0.0);
    let mut percentiles = Vec::new();
    for sample in samples {
        let (order, ends) = &sample.sorted.order[method];
        let targeted = &sample.sorted.targeted;
        let weight = |p: usize| f64::from(sample.weights[p]);
        let (mut of_targeted, mut total) = (0.0, 0.0);
        for (&w, &is_targeted) in sample.weights.iter().zip(targeted) {
            total += f64::from(w);
            if is_targeted {
                of_targeted += f64::from(w);
            }
        }
        pairs += of_targeted * (total - of_targeted);
        let (mut others_below, mut all_below, mut start) = (0.0, 0.0, 0);
        for &end in ends {
            let group = &order[start..end];
            let in_group: f64 = group.iter().map(|&p| weight(p)).sum();
            let targeted_in_group: f64 = group
                .iter()
                .filter(|&&p| targeted[p])
                .map(|&p| weight(p))
                .sum();
            let others_in_group = in_group - targeted_in_group;
            won += targeted_in_group * (others_below + 0.5 * others_in_group);
            let beaten = all_below + 0.5 * in_group - 0.5;
            let percentile = 100.0 * beaten / (total - 1.0).max(1.0);
            for &p in group.iter().filter(|&&p| targeted[p]) {
                percentiles.extend(std::iter::repeat_n(percentile, sample.weights[p] as usize));
            }
            others_below += others_in_group;
            all_below += in_group;
            start = end;
        }
    }
    if pairs == 0.0 {
        return None;
    }
    let top = percentiles.iter().filter(|&&p| p >= 90.0).count();
    Some(Measures {
        auc: won / pairs,
        top_decile: top as f64 / percentiles.len() as f64,
        median_percentile: median(&mut percentiles),
    })
}

/// The median; the mean of the middle two for an even count.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The 2.5th and 97.5th percentiles (nearest rank) of `values`.
fn interval(values: &mut [f64]) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    let at =
        |q: f64| values[((q * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1];
    (at(0.025), at(0.975))
}

fn below(rng: &mut Rng, n: usize) -> usize {
    (rng.next_u64() % n as u64) as usize
}

/// Each method's measures over `rankings`, with intervals, and each
/// method's AUC minus `reference`'s AUC (same resamples) with its interval.
/// A resample draws rankings with replacement, then, within each, targeted
/// and other products with replacement. `None` for a method without a
/// single (targeted, other) pair.
pub fn evaluate(rankings: &[Ranking], methods: usize, reference: usize) -> Vec<Option<Scored>> {
    let sorted: Vec<Sorted> = rankings.iter().map(Sorted::new).collect();
    let whole: Vec<Sample> = sorted
        .iter()
        .map(|sorted| {
            let mut weights = vec![0; sorted.targeted.len()];
            let ranking = sorted.ranking;
            ranking
                .targeted
                .iter()
                .chain(&ranking.others)
                .for_each(|&p| weights[p] += 1);
            Sample { sorted, weights }
        })
        .collect();
    let point: Vec<Option<Measures>> = (0..methods).map(|m| measures(&whole, m)).collect();
    let mut resampled: Vec<Vec<Measures>> = vec![Vec::with_capacity(RESAMPLES); methods];
    let mut rng = Rng::new(SEED);
    for _ in 0..RESAMPLES {
        let samples: Vec<Sample> = (0..rankings.len())
            .map(|_| {
                let sorted = &sorted[below(&mut rng, rankings.len())];
                let mut weights = vec![0; sorted.targeted.len()];
                let ranking = sorted.ranking;
                for from in [&ranking.targeted, &ranking.others] {
                    for _ in 0..from.len() {
                        weights[from[below(&mut rng, from.len())]] += 1;
                    }
                }
                Sample { sorted, weights }
            })
            .collect();
        for (m, draws) in resampled.iter_mut().enumerate() {
            if let Some(measured) = measures(&samples, m) {
                draws.push(measured);
            }
        }
    }
    (0..methods)
        .map(|m| {
            let value = point[m]?;
            let draws = &resampled[m];
            let estimate = |value: f64, of: fn(&Measures) -> f64| {
                let mut values: Vec<f64> = draws.iter().map(of).collect();
                let (low, high) = interval(&mut values);
                Estimate { value, low, high }
            };
            let versus_reference = point[reference].map(|reference_value| {
                let mut differences: Vec<f64> = draws
                    .iter()
                    .zip(&resampled[reference])
                    .map(|(a, b)| a.auc - b.auc)
                    .collect();
                let (low, high) = interval(&mut differences);
                Estimate {
                    value: value.auc - reference_value.auc,
                    low,
                    high,
                }
            });
            Some(Scored {
                auc: estimate(value.auc, |m| m.auc),
                top_decile: estimate(value.top_decile, |m| m.top_decile),
                median_percentile: estimate(value.median_percentile, |m| m.median_percentile),
                auc_versus_reference: versus_reference,
            })
        })
        .collect()
}

/// A method's measures with their intervals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub auc: Estimate,
    pub top_decile: Estimate,
    pub median_percentile: Estimate,
    /// This method's AUC minus the reference method's, on the same
    /// resamples.
    pub auc_versus_reference: Option<Estimate>,
}

/// Ranks 1..n, ties sharing their mean rank.
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end + 1 < order.len() && values[order[end + 1]] == values[order[start]] {
            end += 1;
        }
        let mean = (start + end) as f64 / 2.0 + 1.0;
        for &i in &order[start..=end] {
            ranks[i] = mean;
        }
        start = end + 1;
    }
    ranks
}

/// Spearman's rank correlation of the pairs, `None` below three pairs or
/// when either side is constant.
pub fn spearman(pairs: &[(f64, f64)]) -> Option<f64> {
    if pairs.len() < 3 {
        return None;
    }
    let x = ranks(&pairs.iter().map(|p| p.0).collect::<Vec<_>>());
    let y = ranks(&pairs.iter().map(|p| p.1).collect::<Vec<_>>());
    let mean = (pairs.len() as f64 + 1.0) / 2.0;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(&y) {
        sxy += (a - mean) * (b - mean);
        sxx += (a - mean) * (a - mean);
        syy += (b - mean) * (b - mean);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// Spearman's correlation with a bootstrap interval over the pairs.
pub fn spearman_estimate(pairs: &[(f64, f64)]) -> Option<Estimate> {
    let value = spearman(pairs)?;
    let mut rng = Rng::new(SEED);
    let mut draws: Vec<f64> = (0..RESAMPLES)
        .filter_map(|_| {
            let sample: Vec<(f64, f64)> = (0..pairs.len())
                .map(|_| pairs[below(&mut rng, pairs.len())])
                .collect();
            spearman(&sample)
        })
        .collect();
    if draws.is_empty() {
        return None;
    }
    let (low, high) = interval(&mut draws);
    Some(Estimate { value, low, high })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranking(scores: Vec<Option<f64>>, targeted: &[usize]) -> Ranking {
        let others = (0..scores.len())
            .filter(|i| !targeted.contains(i))
            .collect();
        Ranking {
            scores: vec![scores],
            targeted: targeted.to_vec(),
            others,
        }
    }

    #[test]
    fn auc_counts_won_pairs_and_half_ties() {
        // Targeted 90 and 40 against 80, 40, 10 and an unscored product:
        // 90 beats all four (4); 40 beats 10 and the unscored (2), ties 40
        // (½), loses to 80: 6.5 of 8 pairs.
        let r = ranking(
            vec![
                Some(90.0),
                Some(80.0),
                Some(40.0),
                Some(40.0),
                Some(10.0),
                None,
            ],
            &[0, 3],
        );
        let sorted = Sorted::new(&r);
        let m = measures(
            &[Sample {
                sorted: &sorted,
                weights: vec![1; 6],
            }],
            0,
        )
        .unwrap();
        assert!((m.auc - 6.5 / 8.0).abs() < 1e-12);
        // Percentiles among the six: 90 beats the other five: 100; 40 beats
        // two, ties one (½) of five: 50. One of two in the top decile.
        assert!((m.median_percentile - 75.0).abs() < 1e-12);
        assert!((m.top_decile - 0.5).abs() < 1e-12);
        // Taking the 40 twice and leaving out the 80: 90 beats 40, 10 and
        // the unscored (3 pairs); each 40 beats 10 and the unscored (2)
        // and ties the other 40 (½): 3 + 2·2.5 = 8 of 3·3 = 9 pairs.
        let m = measures(
            &[Sample {
                sorted: &sorted,
                weights: vec![1, 0, 1, 2, 1, 1],
            }],
            0,
        )
        .unwrap();
        assert!((m.auc - 8.0 / 9.0).abs() < 1e-12);
    }

    #[test]
    fn a_perfect_ranking_has_a_tight_interval_and_chance_straddles_half() {
        let perfect = ranking((0..20).map(|i| Some(i as f64)).collect(), &[17, 18, 19]);
        let scored = evaluate(std::slice::from_ref(&perfect), 1, 0)[0].unwrap();
        assert_eq!(scored.auc.value, 1.0);
        assert_eq!((scored.auc.low, scored.auc.high), (1.0, 1.0));
        assert_eq!(scored.auc_versus_reference.unwrap().value, 0.0);
        let flat = ranking(vec![Some(5.0); 20], &[3, 9]);
        let scored = evaluate(std::slice::from_ref(&flat), 1, 0)[0].unwrap();
        assert_eq!(scored.auc.value, 0.5);
        assert_eq!(scored.median_percentile.value, 50.0);
    }

    #[test]
    fn intervals_are_deterministic_and_contain_the_value() {
        let scores: Vec<Option<f64>> = (0..30).map(|i| Some(((i * 37) % 30) as f64)).collect();
        let r = ranking(scores, &[2, 5, 11, 20]);
        let a = evaluate(std::slice::from_ref(&r), 1, 0);
        let b = evaluate(std::slice::from_ref(&r), 1, 0);
        assert_eq!(a, b);
        let auc = a[0].unwrap().auc;
        assert!(auc.low <= auc.value && auc.value <= auc.high);
    }

    #[test]
    fn spearman_matches_a_hand_computed_case() {
        // x ranks 1 2 3 4, y ranks 1 3 2 4: d² = 0 1 1 0, ρ = 1 − 6·2/(4·15) = 0.8.
        let rho = spearman(&[(1.0, 10.0), (2.0, 30.0), (3.0, 20.0), (4.0, 40.0)]).unwrap();
        assert!((rho - 0.8).abs() < 1e-12);
        assert_eq!(spearman(&[(1.0, 1.0), (2.0, 1.0), (3.0, 1.0)]), None);
    }
}
