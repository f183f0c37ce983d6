//! Fact resolution: which value of each input holds for a buyer at a time.
//!
//! For each key (product, country, metric, buyer, facility, plus the status
//! class of capacity, the level of a control or the controller of a control
//! share) the facts recorded by `as_of`, not retracted by then, whose period
//! starts on or before `as_of` are candidates; buyer-specific candidates
//! override global ones; the latest period start wins; facts sharing it are
//! combined by a confidence-weighted mean. Shares of one whole (import,
//! market and export shares) are resolved as one set per product instead:
//! the latest period of the set wins for every country, so a distribution
//! never mixes years. The result is a flat list of numeric *slots* (so
//! Monte Carlo can perturb them as one array) plus typed views that say what
//! each slot means.

use std::ops::Range;
use std::sync::Arc;

use time::{Date, OffsetDateTime, UtcOffset};

use super::params::Params;
use super::snapshot::{variant, Snapshot, SnapshotFact};
use crate::domain::{Buyer, CountryCode, FactStatus, Metric, Period, ValueKind, View};

/// Two facts for the same key and period conflict when their spread exceeds
/// this fraction of their mean.
pub(crate) const CONFLICT_THRESHOLD: f64 = 0.2;

/// Relative standard deviation of a value from its confidence.
pub(crate) fn sigma_for_confidence(confidence: f64) -> f64 {
    0.5 * (1.0 - confidence)
}

/// One resolved number: what it measures, how uncertain it is, the range it
/// must stay in, and the facts behind it (a range of `Resolved::used`).
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub sigma: f64,
    pub min: f64,
    pub max: f64,
    pub facts: Range<usize>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct CountryValue {
    pub country: CountryCode,
    pub slot: usize,
}

/// Non-operating capacity, counted by status when it comes online in time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PipelineValue {
    pub country: CountryCode,
    pub status: FactStatus,
    pub expected_online: Option<i32>,
    pub slot: usize,
}

/// An export control or technology ban whose period contains `as_of`.
#[derive(Debug, Clone)]
pub(crate) struct ControlValue {
    /// `None` only for a technology ban recorded without a country.
    pub country: Option<CountryCode>,
    pub level: u32,
    pub status: FactStatus,
    pub period: Period,
    pub facts: Range<usize>,
}

/// Facts for one key and period that disagree by more than the threshold.
#[derive(Debug, Clone)]
pub(crate) struct ConflictValue {
    pub metric: Metric,
    pub country: Option<CountryCode>,
    pub facility: Option<Arc<str>>,
    pub buyer: Option<Buyer>,
    pub period: Period,
    pub facts: Range<usize>,
    pub mean: f64,
    pub relative_spread: f64,
}

/// Everything one product's score reads, for one buyer at one time.
#[derive(Debug, Clone, Default)]
pub(crate) struct Resolved {
    /// Slot values; Monte Carlo replaces this array, nothing else.
    pub values: Vec<f64>,
    pub slots: Vec<Slot>,
    /// Indices into [`Snapshot::facts`] of every fact used.
    pub used: Vec<usize>,
    pub production: Vec<CountryValue>,
    pub operating_capacity: Vec<CountryValue>,
    pub pipeline: Vec<PipelineValue>,
    pub market_share: Vec<CountryValue>,
    /// Shares of world exports by country.
    pub export_share: Vec<CountryValue>,
    /// Share of a country's output controlled by Chinese firms.
    pub controlled_by_china: Vec<CountryValue>,
    /// The buyer's imports by origin.
    pub import_shares: Vec<CountryValue>,
    pub trade_restrictions: Vec<CountryValue>,
    /// Governance (mean WGI) of every country named in supply or sourcing.
    pub governance: Vec<CountryValue>,
    pub import_reliance: Option<usize>,
    pub demand: Option<usize>,
    pub recycling_input_rate: Option<usize>,
    pub substitution_index: Option<usize>,
    pub lead_time_years: Option<usize>,
    pub capex_per_tpa: Option<usize>,
    pub cost_premium: Option<usize>,
    pub economic_importance: Option<usize>,
    /// China's state-support level for its producers.
    pub state_support: Option<usize>,
    pub export_controls: Vec<ControlValue>,
    /// Export controls known at `as_of` whose period starts later: the
    /// next one of each (country, level, facility).
    pub announced_controls: Vec<ControlValue>,
    /// Chinese technology-export bans (one recorded without a country is
    /// taken as China's, the only one the method asks about).
    pub technology_bans: Vec<ControlValue>,
    pub conflicts: Vec<ConflictValue>,
}

impl Resolved {
    /// The value for `country` in a per-country list, if resolved.
    pub fn country_slot(list: &[CountryValue], country: CountryCode) -> Option<usize> {
        list.iter()
            .find(|cv| cv.country == country)
            .map(|cv| cv.slot)
    }

    pub fn slot_facts(&self, slot: usize) -> &[usize] {
        &self.used[self.slots[slot].facts.clone()]
    }
}

/// How facts of a metric are keyed beyond (product, metric, buyer).
#[derive(Clone, Copy, PartialEq)]
enum Grouping {
    /// Country, variant and facility: volumes and capacities.
    Facility,
    /// Country and variant; the facility is informational.
    Country,
}

/// The part of a distribution that takes part: its buyer class and the
/// period start that won for the whole set.
#[derive(Clone, Copy)]
struct SetPeriod {
    /// The buyer's own facts (else the global ones).
    own: bool,
    start: Date,
}

/// The candidates chosen for one key, combined.
struct Pick {
    value: f64,
    confidence: f64,
    facts: Range<usize>,
    expected_online: Option<i32>,
}

pub(crate) fn resolve(snapshot: &Snapshot, product: usize, params: &Params) -> Resolved {
    resolve_for(snapshot, product, Some(params.buyer), params)
}

/// What a product resolves to for `buyer`, or with no buyer (global facts
/// only: what every country's output of the product is, whoever buys it).
pub(crate) fn resolve_for(
    snapshot: &Snapshot,
    product: usize,
    buyer: Option<Buyer>,
    params: &Params,
) -> Resolved {
    let mut resolver = Resolver::new(snapshot, buyer, params);
    let facts = |metric: Metric| match (metric.spec().needs_buyer, buyer) {
        (true, Some(buyer)) => snapshot.buyer_facts(product, metric, buyer),
        (true, None) => 0..0,
        (false, _) => snapshot.product_facts(product, metric),
    };
    let r = &mut resolver;
    r.out.production = r.volumes(Metric::Production, facts(Metric::Production), 0);
    r.out.operating_capacity = r.volumes(Metric::Capacity, facts(Metric::Capacity), 0);
    r.out.pipeline = r.pipeline(facts(Metric::Capacity));
    r.out.market_share = r.distribution(Metric::MarketShare, facts(Metric::MarketShare));
    r.out.export_share = r.distribution(Metric::ExportShare, facts(Metric::ExportShare));
    r.out.controlled_by_china = r.controlled_by_china(facts(Metric::ControlledShare));
    r.out.import_shares = r.distribution(Metric::ImportShare, facts(Metric::ImportShare));
    r.out.trade_restrictions =
        r.per_country(Metric::TradeRestriction, facts(Metric::TradeRestriction));
    r.out.state_support = Resolved::country_slot(
        &r.per_country(Metric::StateSupport, facts(Metric::StateSupport)),
        CountryCode::CN,
    );
    r.out.import_reliance = r.whole(Metric::ImportReliance, facts(Metric::ImportReliance));
    r.out.demand = r.whole(Metric::Demand, facts(Metric::Demand));
    r.out.recycling_input_rate = r.whole(
        Metric::RecyclingInputRate,
        facts(Metric::RecyclingInputRate),
    );
    r.out.substitution_index = r.whole(Metric::SubstitutionIndex, facts(Metric::SubstitutionIndex));
    r.out.lead_time_years = r.whole(Metric::LeadTimeYears, facts(Metric::LeadTimeYears));
    r.out.capex_per_tpa = r.whole(Metric::CapexPerTpa, facts(Metric::CapexPerTpa));
    r.out.cost_premium = r.whole(Metric::CostPremium, facts(Metric::CostPremium));
    r.out.economic_importance = r.whole(
        Metric::EconomicImportance,
        facts(Metric::EconomicImportance),
    );
    r.out.export_controls = r.controls(Metric::ExportControl, facts(Metric::ExportControl));
    r.out.announced_controls = r.announced(facts(Metric::ExportControl));
    r.out.technology_bans = r
        .controls(
            Metric::TechnologyExportBan,
            facts(Metric::TechnologyExportBan),
        )
        .into_iter()
        .filter(|c| c.country.is_none_or(|country| country == CountryCode::CN))
        .collect();
    r.out.governance = r.governance(snapshot);
    resolver.out
}

/// How a country sources a product: its imports by origin, its import
/// reliance and its recycled input, as its own facts (buyer = the country)
/// resolve; `None` when none is recorded (it buys on the world market).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sourcing {
    pub imports: Vec<(CountryCode, f64)>,
    pub reliance: Option<f64>,
    pub recycling: Option<f64>,
    /// Its annual consumption (t/yr), when recorded.
    pub demand: Option<f64>,
    /// Indices into [`Snapshot::facts`] of the facts behind each import
    /// share, in the order of `imports`.
    pub import_facts: Vec<Vec<usize>>,
    /// Indices of the facts behind the reliance.
    pub reliance_facts: Vec<usize>,
}

pub(crate) fn resolve_sourcing(
    snapshot: &Snapshot,
    product: usize,
    buyer: Buyer,
    params: &Params,
) -> Option<Sourcing> {
    let mut resolver = Resolver::new(snapshot, Some(buyer), params);
    let r = &mut resolver;
    let facts = |metric: Metric| snapshot.buyer_facts(product, metric, buyer);
    let imports = r.distribution(Metric::ImportShare, facts(Metric::ImportShare));
    let reliance = r.whole(Metric::ImportReliance, facts(Metric::ImportReliance));
    // The country's own rate, else one recorded for every buyer.
    let recycling = r.whole(
        Metric::RecyclingInputRate,
        snapshot.product_facts(product, Metric::RecyclingInputRate),
    );
    if imports.is_empty() && reliance.is_none() && recycling.is_none() {
        return None;
    }
    let demand = r.whole(Metric::Demand, facts(Metric::Demand));
    let out = resolver.out;
    let value = |slot: usize| out.values[slot];
    let facts_of = |slot: usize| out.slot_facts(slot).to_vec();
    Some(Sourcing {
        imports: imports
            .iter()
            .map(|cv| (cv.country, value(cv.slot)))
            .collect(),
        reliance: reliance.map(value),
        recycling: recycling.map(value),
        demand: demand.map(value),
        import_facts: imports.iter().map(|cv| facts_of(cv.slot)).collect(),
        reliance_facts: reliance.map(facts_of).unwrap_or_default(),
    })
}

struct Resolver<'a> {
    facts: &'a [SnapshotFact],
    /// `None`: global facts only.
    buyer: Option<Buyer>,
    as_of: OffsetDateTime,
    view: View,
    date: Date,
    /// While a distribution is resolved: the only facts that may take part.
    set: Option<SetPeriod>,
    out: Resolved,
}

impl<'a> Resolver<'a> {
    fn new(snapshot: &'a Snapshot, buyer: Option<Buyer>, params: &Params) -> Resolver<'a> {
        Resolver {
            facts: snapshot.facts(),
            buyer,
            as_of: params.as_of,
            view: params.view,
            date: params.as_of.to_offset(UtcOffset::UTC).date(),
            set: None,
            out: Resolved::default(),
        }
    }

    /// Whether the fact is the resolved buyer's own.
    fn own(&self, fact: &SnapshotFact) -> bool {
        fact.buyer.is_some() && fact.buyer == self.buyer
    }

    /// Shares of one whole, resolved as one set: among the product's usable
    /// facts of the metric (the buyer's own when it has any, else the
    /// global ones; only its own for a metric that needs a buyer), the
    /// latest period start wins for the whole set, and only the countries
    /// with facts in that period take part. Facts of one country and that
    /// period are combined as any key's; market and export shares keep the
    /// facility rule of volumes (a total beats its facilities), import
    /// shares are keyed by country alone.
    fn distribution(&mut self, metric: Metric, range: Range<usize>) -> Vec<CountryValue> {
        let Some(set) = self.set_period(metric, range.clone()) else {
            return Vec::new();
        };
        self.set = Some(set);
        let rows = match metric {
            Metric::ImportShare => self.per_country(metric, range),
            _ => self.volumes(metric, range, 0),
        };
        self.set = None;
        rows
    }

    /// The buyer class and latest period start of a distribution's usable
    /// facts, if it has any.
    fn set_period(&self, metric: Metric, range: Range<usize>) -> Option<SetPeriod> {
        let needs_buyer = metric.spec().needs_buyer;
        let (mut own, mut global): (Option<Date>, Option<Date>) = (None, None);
        for fact in &self.facts[range] {
            // A share is about a country; one without it never takes part.
            if fact.country.is_none() || !self.usable(fact) {
                continue;
            }
            let best = match fact.buyer {
                Some(_) if self.own(fact) => &mut own,
                None if !needs_buyer => &mut global,
                _ => continue,
            };
            *best = Some(best.map_or(fact.period.start, |d| d.max(fact.period.start)));
        }
        match (own, global) {
            (Some(start), _) => Some(SetPeriod { own: true, start }),
            (None, Some(start)) => Some(SetPeriod { own: false, start }),
            (None, None) => None,
        }
    }

    /// Per-country volumes (or shares): a country's facility-less row (which
    /// sorts first) is its total; without one, its facilities' rows add up.
    fn volumes(
        &mut self,
        metric: Metric,
        range: Range<usize>,
        wanted_variant: u32,
    ) -> Vec<CountryValue> {
        let facts = self.facts;
        let mut rows = Vec::new();
        let mut groups = groups(facts, range, Grouping::Facility)
            .filter(|g| variant(&facts[g.start]) == wanted_variant)
            .peekable();
        let mut parts: Vec<Pick> = Vec::new();
        while let Some(first) = groups.next() {
            let country_of_group = facts[first.start].country;
            let mut country_groups = std::iter::once(first).chain(std::iter::from_fn(|| {
                groups.next_if(|g| facts[g.start].country == country_of_group)
            }));
            let Some(country) = country_of_group else {
                // Volumes are about a country; validation requires one.
                country_groups.for_each(drop);
                continue;
            };
            parts.clear();
            for group in country_groups.by_ref() {
                let is_total = facts[group.start].facility.is_none();
                if let Some(pick) = self.pick(metric, group) {
                    parts.push(pick);
                    if is_total {
                        break;
                    }
                }
            }
            country_groups.for_each(drop);
            if let Some(slot) = self.push_sum(metric, &parts) {
                rows.push(CountryValue { country, slot });
            }
        }
        rows
    }

    fn pipeline(&mut self, range: Range<usize>) -> Vec<PipelineValue> {
        let facts = self.facts;
        let mut rows = Vec::new();
        for group in
            groups(facts, range, Grouping::Facility).filter(|g| variant(&facts[g.start]) > 0)
        {
            let first = &facts[group.start];
            let (Some(country), status) = (first.country, first.status) else {
                continue;
            };
            if let Some(pick) = self.pick(Metric::Capacity, group) {
                let expected_online = pick.expected_online;
                let slot = self.push_slot(Metric::Capacity, pick);
                rows.push(PipelineValue {
                    country,
                    status,
                    expected_online,
                    slot,
                });
            }
        }
        rows
    }

    fn controlled_by_china(&mut self, range: Range<usize>) -> Vec<CountryValue> {
        let china = CountryCode::CN.as_str().as_bytes();
        let china_variant = u32::from(china[0]) << 8 | u32::from(china[1]);
        self.country_rows(Metric::ControlledShare, range, |variant| {
            variant == china_variant
        })
    }

    fn per_country(&mut self, metric: Metric, range: Range<usize>) -> Vec<CountryValue> {
        self.country_rows(metric, range, |_| true)
    }

    fn country_rows(
        &mut self,
        metric: Metric,
        range: Range<usize>,
        wanted: impl Fn(u32) -> bool,
    ) -> Vec<CountryValue> {
        let facts = self.facts;
        let mut rows = Vec::new();
        for group in
            groups(facts, range, Grouping::Country).filter(|g| wanted(variant(&facts[g.start])))
        {
            let Some(country) = facts[group.start].country else {
                continue;
            };
            if let Some(pick) = self.pick(metric, group) {
                rows.push(CountryValue {
                    country,
                    slot: self.push_slot(metric, pick),
                });
            }
        }
        rows
    }

    /// A metric of the product as a whole: every fact is a candidate for the
    /// one value, whatever its country or facility.
    fn whole(&mut self, metric: Metric, range: Range<usize>) -> Option<usize> {
        let pick = self.pick(metric, range)?;
        Some(self.push_slot(metric, pick))
    }

    /// Controls whose period contains `as_of`, one per (country, level,
    /// facility): the facility names the measure when one product carries
    /// several controls of the same level. Level 0 ("none") rows are kept:
    /// they show the question was checked.
    fn controls(&mut self, metric: Metric, range: Range<usize>) -> Vec<ControlValue> {
        let facts = self.facts;
        let mut rows = Vec::new();
        for group in groups(facts, range, Grouping::Facility) {
            let level = variant(&facts[group.start]);
            if let Some(pick) = self.pick(metric, group) {
                let used = &self.out.used[pick.facts.clone()];
                let surest = used
                    .iter()
                    .map(|&i| &self.facts[i])
                    .reduce(|a, b| if b.confidence > a.confidence { b } else { a })
                    .expect("a pick has facts");
                rows.push(ControlValue {
                    country: surest.country,
                    level,
                    status: surest.status,
                    period: surest.period,
                    facts: pick.facts,
                });
            }
        }
        rows
    }

    /// Export controls known at `as_of` that take effect later, the
    /// earliest of each group; they are listed, not scored.
    fn announced(&mut self, range: Range<usize>) -> Vec<ControlValue> {
        let facts = self.facts;
        let mut rows = Vec::new();
        for group in groups(facts, range, Grouping::Facility) {
            let next = facts[group.clone()]
                .iter()
                .enumerate()
                .filter(|(_, fact)| {
                    self.view.knows(&fact.knowledge, self.as_of)
                        && fact.period.start > self.date
                        && fact.status == FactStatus::InForce
                        && fact.value.is_some_and(|level| level > 0.0)
                        && (fact.buyer.is_none() || self.own(fact))
                })
                .min_by_key(|(_, fact)| fact.period.start);
            if let Some((i, fact)) = next {
                let first = self.out.used.len();
                self.out.used.push(group.start + i);
                rows.push(ControlValue {
                    country: fact.country,
                    level: variant(fact),
                    status: fact.status,
                    period: fact.period,
                    facts: first..first + 1,
                });
            }
        }
        rows
    }

    /// Governance of every country that supplies or sources the product.
    fn governance(&mut self, snapshot: &Snapshot) -> Vec<CountryValue> {
        let mut countries: Vec<CountryCode> = [
            &self.out.production,
            &self.out.operating_capacity,
            &self.out.market_share,
            &self.out.export_share,
            &self.out.import_shares,
        ]
        .into_iter()
        .flatten()
        .map(|cv| cv.country)
        .collect();
        countries.sort_unstable();
        countries.dedup();
        let mut rows = Vec::new();
        for country in countries {
            let range = snapshot.country_facts(country, Metric::GovernanceWgi);
            if let Some(pick) = self.pick(Metric::GovernanceWgi, range) {
                rows.push(CountryValue {
                    country,
                    slot: self.push_slot(Metric::GovernanceWgi, pick),
                });
            }
        }
        rows
    }

    fn usable(&self, fact: &SnapshotFact) -> bool {
        let known = self.view.knows(&fact.knowledge, self.as_of);
        let in_time = if is_control(fact.metric) {
            fact.period.contains(self.date)
        } else {
            fact.period.start <= self.date
        };
        known && in_time && fact.value.is_some() && admissible(fact.metric, fact.status)
    }

    /// Usable, and while a distribution is resolved, of its winning class
    /// and period.
    fn candidate(&self, fact: &SnapshotFact) -> bool {
        let in_set = self.set.is_none_or(|set| {
            let class = if set.own {
                self.own(fact)
            } else {
                fact.buyer.is_none()
            };
            class && fact.period.start == set.start
        });
        in_set && self.usable(fact)
    }

    /// Resolves one key: buyer-specific facts override global ones (global
    /// facts never stand in for metrics that need a buyer), the latest
    /// period start wins, ties are combined by a confidence-weighted mean.
    fn pick(&mut self, metric: Metric, group: Range<usize>) -> Option<Pick> {
        let needs_buyer = metric.spec().needs_buyer;
        let (mut best_own, mut best_global): (Option<Date>, Option<Date>) = (None, None);
        for fact in &self.facts[group.clone()] {
            if !self.candidate(fact) {
                continue;
            }
            let best = match fact.buyer {
                Some(_) if self.own(fact) => &mut best_own,
                None if !needs_buyer => &mut best_global,
                _ => continue,
            };
            *best = Some(best.map_or(fact.period.start, |d| d.max(fact.period.start)));
        }
        let (own, start) = match (best_own, best_global) {
            (Some(d), _) => (true, d),
            (None, Some(d)) => (false, d),
            (None, None) => return None,
        };
        let first = self.out.used.len();
        let mut combined = Combination::default();
        for (i, fact) in self.facts[group.clone()].iter().enumerate() {
            let class_matches = if own {
                self.own(fact)
            } else {
                fact.buyer.is_none()
            };
            if class_matches && fact.period.start == start && self.candidate(fact) {
                self.out.used.push(group.start + i);
                combined.add(fact);
            }
        }
        let facts = first..self.out.used.len();
        let value = combined.mean();
        if let Some(relative_spread) = combined.conflict() {
            let lead = &self.facts[self.out.used[first]];
            self.out.conflicts.push(ConflictValue {
                metric,
                country: lead.country,
                facility: lead.facility.clone(),
                buyer: lead.buyer,
                period: lead.period,
                facts: facts.clone(),
                mean: value,
                relative_spread,
            });
        }
        Some(Pick {
            value,
            confidence: combined.confidence_sum / combined.count as f64,
            facts,
            expected_online: combined.expected_online,
        })
    }

    fn push_slot(&mut self, metric: Metric, pick: Pick) -> usize {
        self.push_sum(metric, &[pick]).expect("one pick")
    }

    /// One slot for the sum of several picks (a country's facilities).
    fn push_sum(&mut self, metric: Metric, picks: &[Pick]) -> Option<usize> {
        let first = picks.first()?;
        let last = picks.last()?;
        let fact_count: usize = picks.iter().map(|p| p.facts.len()).sum();
        let confidence: f64 = picks
            .iter()
            .map(|p| p.confidence * p.facts.len() as f64)
            .sum::<f64>()
            / fact_count as f64;
        let (sigma, min, max) = match metric.spec().kind {
            // Levels are categories, not measurements: they are not perturbed.
            ValueKind::Level { labels } => (0.0, 0.0, (labels.len() - 1) as f64),
            ValueKind::Number { min, max } => (sigma_for_confidence(confidence), min, max),
            ValueKind::Qualitative => (0.0, f64::MIN, f64::MAX),
        };
        self.out.values.push(picks.iter().map(|p| p.value).sum());
        self.out.slots.push(Slot {
            sigma,
            min,
            max,
            facts: first.facts.start..last.facts.end,
        });
        Some(self.out.slots.len() - 1)
    }
}

/// Splits a sorted run of facts into the runs sharing a key.
fn groups(
    facts: &[SnapshotFact],
    range: Range<usize>,
    grouping: Grouping,
) -> impl Iterator<Item = Range<usize>> + '_ {
    let same = move |a: &SnapshotFact, b: &SnapshotFact| {
        a.country == b.country
            && variant(a) == variant(b)
            && (grouping == Grouping::Country || a.facility == b.facility)
    };
    let mut start = range.start;
    std::iter::from_fn(move || {
        if start >= range.end {
            return None;
        }
        let first = &facts[start];
        let len = facts[start..range.end]
            .iter()
            .take_while(|f| same(first, f))
            .count();
        let group = start..start + len;
        start += len;
        Some(group)
    })
}

/// Running sums for a confidence-weighted mean and the spread check.
#[derive(Default)]
struct Combination {
    count: usize,
    sum: f64,
    weighted_sum: f64,
    confidence_sum: f64,
    min: f64,
    max: f64,
    expected_online: Option<i32>,
}

impl Combination {
    fn add(&mut self, fact: &SnapshotFact) {
        let value = fact.value.expect("usable facts have a value");
        if self.count == 0 {
            (self.min, self.max) = (value, value);
        }
        self.count += 1;
        self.sum += value;
        self.weighted_sum += fact.confidence * value;
        self.confidence_sum += fact.confidence;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        // Several dates for one project: the latest is the prudent one.
        self.expected_online = self.expected_online.max(fact.expected_online);
    }

    fn mean(&self) -> f64 {
        if self.confidence_sum > 0.0 {
            self.weighted_sum / self.confidence_sum
        } else {
            self.sum / self.count as f64
        }
    }

    /// The spread relative to the mean when it exceeds the threshold.
    fn conflict(&self) -> Option<f64> {
        let spread = self.max - self.min;
        if self.count < 2 || spread == 0.0 {
            return None;
        }
        let mean = self.mean().abs();
        let relative = if mean > 0.0 {
            spread / mean
        } else {
            f64::INFINITY
        };
        (relative > CONFLICT_THRESHOLD).then_some(relative)
    }
}

fn is_control(metric: Metric) -> bool {
    matches!(metric, Metric::ExportControl | Metric::TechnologyExportBan)
}

/// Which statuses may stand for a metric: targets are aspirations and never
/// count; idled (suspended) capacity does not supply; only capacity has a
/// pipeline; only controls are in force or suspended in a meaningful way.
fn admissible(metric: Metric, status: FactStatus) -> bool {
    use FactStatus::*;
    match metric {
        Metric::Capacity => !matches!(status, Target | Suspended),
        Metric::ExportControl | Metric::TechnologyExportBan => {
            !matches!(status, Target | UnderConstruction | Planned | Announced)
        }
        _ => !matches!(
            status,
            Target | Suspended | UnderConstruction | Planned | Announced
        ),
    }
}
