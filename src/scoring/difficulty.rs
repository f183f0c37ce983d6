//! Displacement difficulty: how hard it would be to replace the Chinese
//! share, as a weighted mean of six components in 0..1.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::dependency::{china_controlled_fraction, ShareBasis, Supply};
use super::params::Params;
use super::resolve::Resolved;
use crate::domain::{FactStatus, Stage};

/// Lead time that maps to the maximum time component.
pub(crate) const LEAD_TIME_CAP_YEARS: f64 = 20.0;
/// Capex at or below this maps to 0 (USD).
pub(crate) const CAPEX_FLOOR_USD: f64 = 1.0e7;
/// Capex at or above this maps to 1 (USD).
pub(crate) const CAPEX_CEILING_USD: f64 = 1.0e11;
/// Each level of Chinese state support (0..3) adds this to the cost component.
pub(crate) const STATE_SUPPORT_STEP: f64 = 0.1;
/// An input counts for the chain difficulty when its dependency reaches this.
pub(crate) const MATERIAL_DEPENDENCY: f64 = 10.0;

/// Years from decision to production when no `lead_time_years` fact exists.
/// Mining: IEA, major mines that started 2010–2019 took over 16 years from
/// discovery to production on average.
pub(crate) fn default_lead_time(stage: Stage) -> f64 {
    match stage {
        Stage::Mining => 16.0,
        Stage::Smelting => 5.0,
        Stage::Materials => 3.0,
        Stage::Applications => 2.0,
    }
}

/// How much of a capacity row counts, by status: the method's own
/// assumption of how likely each stage of a project is to deliver.
pub(crate) fn status_weight(status: FactStatus) -> f64 {
    match status {
        FactStatus::UnderConstruction => 0.8,
        FactStatus::Planned => 0.4,
        FactStatus::Announced => 0.15,
        _ => 1.0,
    }
}

/// Where a number came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Resolved from facts (listed alongside).
    Facts,
    /// A documented default (see `defaults_used`).
    Default,
    /// No fact and no default: the component is dropped and the others reweighted.
    Missing,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ComponentValue {
    /// The value in its own unit (years, fraction, USD, level), if any.
    pub raw: Option<f64>,
    pub normalised: f64,
    pub origin: Origin,
}

impl ComponentValue {
    const MISSING: ComponentValue = ComponentValue {
        raw: None,
        normalised: 0.0,
        origin: Origin::Missing,
    };

    fn facts(raw: f64, normalised: f64) -> ComponentValue {
        ComponentValue {
            raw: Some(raw),
            normalised,
            origin: Origin::Facts,
        }
    }
}

/// The product's own difficulty, before the chain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct OwnDifficulty {
    /// In the order of [`super::params::COMPONENT_NAMES`].
    pub components: [ComponentValue; 6],
    /// Weights renormalised over the components present.
    pub effective_weights: [f64; 6],
    /// 0..100.
    pub score: f64,
    /// Share of the weight backed by facts.
    pub coverage: f64,
    pub lead_time_years: f64,
}

pub(crate) fn own_difficulty(
    r: &Resolved,
    values: &[f64],
    stage: Stage,
    supply: &Supply,
    exposure: f64,
    params: &Params,
) -> OwnDifficulty {
    let time = time_component(r, values, stage);
    let components = [
        time,
        scale_component(r, values, supply, params.horizon_year()),
        capital_component(r, values, supply, exposure),
        cost_component(r, values),
        know_how_component(r),
        r.substitution_index.map_or(ComponentValue::MISSING, |s| {
            ComponentValue::facts(values[s], values[s])
        }),
    ];
    let weights = params.weights.as_array();
    let present: f64 = (0..6)
        .filter(|&k| components[k].origin != Origin::Missing)
        .map(|k| weights[k])
        .sum();
    let effective_weights: [f64; 6] = std::array::from_fn(|k| {
        if components[k].origin == Origin::Missing || present <= 0.0 {
            0.0
        } else {
            weights[k] / present
        }
    });
    let score = 100.0
        * (0..6)
            .map(|k| effective_weights[k] * components[k].normalised)
            .sum::<f64>();
    // Folded from +0.0: an empty float sum is −0.0, which would print as such.
    let coverage = (0..6)
        .filter(|&k| components[k].origin == Origin::Facts)
        .map(|k| weights[k])
        .fold(0.0, |total, weight| total + weight);
    OwnDifficulty {
        components,
        effective_weights,
        score,
        coverage,
        lead_time_years: time.raw.expect("time always has a value"),
    }
}

/// `lead_time_years / 20`, capped at 1; a stage default without a fact.
fn time_component(r: &Resolved, values: &[f64], stage: Stage) -> ComponentValue {
    let (years, origin) = match r.lead_time_years {
        Some(slot) => (values[slot], Origin::Facts),
        None => (default_lead_time(stage), Origin::Default),
    };
    ComponentValue {
        raw: Some(years),
        normalised: (years / LEAD_TIME_CAP_YEARS).min(1.0),
        origin,
    }
}

/// Capacity counted for scale: operating capacity in full, pipeline
/// capacity weighted by status when expected online by the horizon year
/// (undated projects do not count).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct CapacitySplit {
    /// Chinese and Chinese-controlled capacity.
    pub china: f64,
    /// All capacity counted.
    pub total: f64,
    /// Operating capacity outside Chinese control.
    pub operating_outside: f64,
    /// Whether any counted row is Chinese or Chinese-controlled.
    pub reports_china: bool,
}

pub(crate) fn capacity_split(r: &Resolved, values: &[f64], horizon_year: i32) -> CapacitySplit {
    let operating = r
        .operating_capacity
        .iter()
        .map(|row| (row.country, values[row.slot], true));
    let pipeline = r
        .pipeline
        .iter()
        .filter(|row| row.expected_online.is_some_and(|year| year <= horizon_year))
        .map(|row| {
            (
                row.country,
                values[row.slot] * status_weight(row.status),
                false,
            )
        });
    operating.chain(pipeline).fold(
        CapacitySplit::default(),
        |split, (country, amount, is_operating)| {
            let controlled = china_controlled_fraction(r, values, country);
            CapacitySplit {
                china: split.china + amount * controlled,
                total: split.total + amount,
                operating_outside: split.operating_outside
                    + if is_operating {
                        amount * (1.0 - controlled)
                    } else {
                        0.0
                    },
                reports_china: split.reports_china || controlled > 0.0,
            }
        },
    )
}

/// What the scale component was computed from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ScaleBasis {
    /// Capacity that includes China's: China's share of it.
    Capacity(CapacitySplit),
    /// Capacity recorded only outside China: China's own inferred from its
    /// share of supply `g` as `g/(1−g)` times the operating capacity outside.
    Inferred {
        split: CapacitySplit,
        china: f64,
    },
    /// No usable capacity: China's share of supply stands in.
    Supply,
    None,
}

pub(crate) fn scale_basis(
    r: &Resolved,
    values: &[f64],
    supply: &Supply,
    horizon_year: i32,
) -> ScaleBasis {
    let split = capacity_split(r, values, horizon_year);
    if split.total > 0.0 && split.reports_china {
        return ScaleBasis::Capacity(split);
    }
    if supply.basis == ShareBasis::None {
        return ScaleBasis::None;
    }
    if split.operating_outside > 0.0 && supply.share < 1.0 {
        let china = supply.share / (1.0 - supply.share) * split.operating_outside;
        return ScaleBasis::Inferred { split, china };
    }
    ScaleBasis::Supply
}

/// China's share of current plus pipeline capacity; see [`ScaleBasis`].
fn scale_component(
    r: &Resolved,
    values: &[f64],
    supply: &Supply,
    horizon_year: i32,
) -> ComponentValue {
    let share = match scale_basis(r, values, supply, horizon_year) {
        ScaleBasis::Capacity(split) => split.china / split.total,
        ScaleBasis::Inferred { split, china } => china / (china + split.total),
        ScaleBasis::Supply => supply.share,
        ScaleBasis::None => return ComponentValue::MISSING,
    };
    ComponentValue::facts(share, share)
}

/// Tonnes per year to replace: the buyer's demand times its exposure, or
/// without demand the whole Chinese-controlled volume.
pub(crate) fn volume_to_replace(
    r: &Resolved,
    values: &[f64],
    supply: &Supply,
    exposure: f64,
) -> Option<f64> {
    match (r.demand, supply.basis) {
        (Some(slot), _) => Some(values[slot] * exposure),
        (None, ShareBasis::Production | ShareBasis::OperatingCapacity) => Some(supply.china),
        (None, _) => None,
    }
}

/// `log10(capex / 10M) / 4` clamped to 0..1: $10M → 0, $100B → 1.
pub(crate) fn capex_scale(usd: f64) -> f64 {
    if usd <= CAPEX_FLOOR_USD {
        return 0.0;
    }
    ((usd / CAPEX_FLOOR_USD).log10() / (CAPEX_CEILING_USD / CAPEX_FLOOR_USD).log10()).min(1.0)
}

fn capital_component(
    r: &Resolved,
    values: &[f64],
    supply: &Supply,
    exposure: f64,
) -> ComponentValue {
    let capex_per_tpa = r.capex_per_tpa.map(|s| values[s]);
    match (
        capex_per_tpa,
        volume_to_replace(r, values, supply, exposure),
    ) {
        (Some(capex), Some(volume)) => {
            let usd = capex * volume;
            ComponentValue::facts(usd, capex_scale(usd))
        }
        _ => ComponentValue::MISSING,
    }
}

/// `min(premium, 1) + 0.1 · China's state-support level`, capped at 1.
fn cost_component(r: &Resolved, values: &[f64]) -> ComponentValue {
    let Some(premium_slot) = r.cost_premium else {
        return ComponentValue::MISSING;
    };
    let premium = values[premium_slot];
    let support = r.state_support.map_or(0.0, |s| values[s]);
    ComponentValue::facts(
        premium,
        (premium.min(1.0) + STATE_SUPPORT_STEP * support).min(1.0),
    )
}

/// A Chinese technology-export ban in force: level 2 → 1, level 1 → 0.5;
/// no ban on record → 0 (a default).
fn know_how_component(r: &Resolved) -> ComponentValue {
    let level = r
        .technology_bans
        .iter()
        .filter(|ban| ban.status != FactStatus::Suspended)
        .map(|ban| ban.level)
        .max()
        .unwrap_or(0);
    let normalised = f64::from(level.min(2)) / 2.0;
    let origin = if r.technology_bans.is_empty() {
        Origin::Default
    } else {
        Origin::Facts
    };
    ComponentValue {
        raw: Some(f64::from(level)),
        normalised,
        origin,
    }
}

/// A product's difficulty after its chain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ChainDifficulty {
    pub score: f64,
    /// The input (by edge position) whose chain difficulty binds, if any.
    pub binding_edge: Option<usize>,
    /// The longest lead time of the product and its material inputs.
    pub years_to_displace: f64,
    /// The input (by edge position) on the way to that lead time, if any.
    pub years_edge: Option<usize>,
}

/// `max(own, chain difficulty of each material input)`, where an input is
/// material when its dependency is at least 10. Inputs are given as
/// `(dependency, chain difficulty, years to displace)`; ties go upstream.
pub(crate) fn chain_difficulty(
    own: f64,
    own_lead_time: f64,
    inputs: impl Iterator<Item = (f64, f64, f64)>,
) -> ChainDifficulty {
    let mut best = ChainDifficulty {
        score: own,
        binding_edge: None,
        years_to_displace: own_lead_time,
        years_edge: None,
    };
    for (position, (dependency, score, years)) in inputs.enumerate() {
        if dependency < MATERIAL_DEPENDENCY {
            continue;
        }
        if score >= best.score {
            best.score = score;
            best.binding_edge = Some(position);
        }
        // Supply cannot be displaced faster than a material input of it.
        if years >= best.years_to_displace && years > own_lead_time {
            best.years_to_displace = years;
            best.years_edge = Some(position);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capex_is_log_scaled_between_ten_million_and_a_hundred_billion() {
        assert_eq!(capex_scale(5.0e6), 0.0);
        assert_eq!(capex_scale(1.0e7), 0.0);
        assert!((capex_scale(1.0e9) - 0.5).abs() < 1e-12);
        assert_eq!(capex_scale(1.0e11), 1.0);
        assert_eq!(capex_scale(1.0e13), 1.0);
        let expected = (3.0e9_f64 / 1.0e7).log10() / 4.0;
        assert!((capex_scale(3.0e9) - expected).abs() < 1e-12);
    }

    #[test]
    fn chain_difficulty_ignores_immaterial_inputs_and_takes_the_hardest() {
        // Input 0: dependency 5 (immaterial), difficulty 90. Input 1:
        // dependency 60, difficulty 70, 16 years on its path.
        let chain = chain_difficulty(
            40.0,
            3.0,
            [(5.0, 90.0, 20.0), (60.0, 70.0, 16.0)].into_iter(),
        );
        assert_eq!(chain.score, 70.0);
        assert_eq!(chain.binding_edge, Some(1));
        assert_eq!(chain.years_to_displace, 16.0);
        assert_eq!(chain.years_edge, Some(1));
        // The own difficulty binds, but the material input's 16 years still
        // bound the time to displace.
        let own = chain_difficulty(80.0, 3.0, [(60.0, 70.0, 16.0)].into_iter());
        assert_eq!(
            (
                own.score,
                own.binding_edge,
                own.years_to_displace,
                own.years_edge
            ),
            (80.0, None, 16.0, Some(0))
        );
    }
}
