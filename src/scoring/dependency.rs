//! Dependency: the share of the buyer's supply that passes through
//! Chinese-controlled capacity, at this stage or upstream.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::resolve::{CountryValue, Resolved};
use super::snapshot::Edge;
use crate::domain::CountryCode;

/// What China's share of a stage was computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShareBasis {
    /// Production volumes by country (the preferred basis).
    Production,
    /// Operating capacity by country, when no production is recorded.
    OperatingCapacity,
    /// Market shares as published, when no volumes are recorded.
    MarketShare,
    /// Shares of world exports (trade statistics), when nothing measures
    /// supply itself: China's share of what is traded across borders, not
    /// of what is produced.
    ExportShare,
    /// Nothing recorded: the stage itself adds no dependency.
    None,
}

/// Scaled governance of a country without a `governance_wgi` fact: the
/// middle of the 0..10 scale (a WGI mean of 0), neither rewarded nor
/// penalised.
pub(crate) const DEFAULT_WGI_SCALED: f64 = 5.0;

/// China's share of a stage and the volumes behind it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Supply {
    pub basis: ShareBasis,
    /// Chinese plus Chinese-controlled volume (or share).
    pub china: f64,
    /// Sum of the country rows: the denominator.
    pub world: f64,
    /// China's share `g`, 0..1.
    pub share: f64,
}

/// The rows China's share is read from: production when any is recorded
/// (country statistics), else operating capacity if it has a row for China,
/// else market share, else export share. Capacity is typically recorded
/// plant by plant, and a list of Western plants is not the world: without a
/// Chinese row it cannot tell China's share, so it is passed over (and used,
/// giving China 0, only when nothing else is recorded). Export shares come
/// after every measure of supply: trade is not output (a producer that
/// processes at home exports little, a trading hub re-exports much).
pub(crate) fn supply_rows<'r>(r: &'r Resolved, values: &[f64]) -> (ShareBasis, &'r [CountryValue]) {
    let total = |rows: &[CountryValue]| rows.iter().map(|cv| values[cv.slot]).sum::<f64>();
    let reports_china = |rows: &[CountryValue]| rows.iter().any(|cv| cv.country == CountryCode::CN);
    let capacity = total(&r.operating_capacity) > 0.0;
    if total(&r.production) > 0.0 {
        (ShareBasis::Production, &r.production)
    } else if capacity && reports_china(&r.operating_capacity) {
        (ShareBasis::OperatingCapacity, &r.operating_capacity)
    } else if total(&r.market_share) > 0.0 {
        (ShareBasis::MarketShare, &r.market_share)
    } else if total(&r.export_share) > 0.0 {
        (ShareBasis::ExportShare, &r.export_share)
    } else if capacity {
        (ShareBasis::OperatingCapacity, &r.operating_capacity)
    } else {
        (ShareBasis::None, &[])
    }
}

/// Fraction of a country's output under Chinese control: all of China's,
/// the `controlled_share` (controlled_by CN) elsewhere, else none.
pub(crate) fn china_controlled_fraction(r: &Resolved, values: &[f64], country: CountryCode) -> f64 {
    if country == CountryCode::CN {
        return 1.0;
    }
    Resolved::country_slot(&r.controlled_by_china, country).map_or(0.0, |s| values[s])
}

pub(crate) fn supply(r: &Resolved, values: &[f64]) -> Supply {
    let (basis, rows) = supply_rows(r, values);
    let mut china = 0.0;
    let mut world = 0.0;
    for row in rows {
        let amount = values[row.slot];
        china += amount * china_controlled_fraction(r, values, row.country);
        world += amount;
    }
    let share = match basis {
        ShareBasis::None => 0.0,
        // Published shares are already of the world's; often only China's is known.
        ShareBasis::MarketShare | ShareBasis::ExportShare => china.min(1.0),
        ShareBasis::Production | ShareBasis::OperatingCapacity => (china / world).min(1.0),
    };
    Supply {
        basis,
        china,
        world,
        share,
    }
}

/// How published shares are read when the rows add up to more than the
/// whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Excess {
    /// As published (what the scores report and weigh).
    Kept,
    /// Scaled down together to the whole (the network's world market,
    /// whose weights cannot exceed 1).
    Scaled,
}

/// A country's share of the stage, as a fraction: its amount over `world`
/// (the sum of the rows) for volumes; a published share as it is, or with
/// [`Excess::Scaled`] over `world` when that exceeds 1.
pub(crate) fn country_share(basis: ShareBasis, amount: f64, world: f64, excess: Excess) -> f64 {
    match basis {
        ShareBasis::MarketShare | ShareBasis::ExportShare => match excess {
            Excess::Kept => amount,
            Excess::Scaled => amount / world.max(1.0),
        },
        _ if world > 0.0 => amount / world,
        _ => 0.0,
    }
}

/// `(2.5 − WGI) × 2`: 0 best governed, 10 worst.
pub(crate) fn scaled_wgi(r: &Resolved, values: &[f64], country: CountryCode) -> Option<f64> {
    Resolved::country_slot(&r.governance, country).map(|s| (2.5 - values[s]) * 2.0)
}

/// The EU CRM trade-restriction multiplier `t_c`, 1 without a fact.
pub(crate) fn trade_restriction(r: &Resolved, values: &[f64], country: CountryCode) -> f64 {
    Resolved::country_slot(&r.trade_restrictions, country).map_or(1.0, |s| values[s])
}

/// `Σ s²` and `Σ s² · WGI_c · t_c` over rows with shares from `share_of`.
pub(crate) fn concentration(
    r: &Resolved,
    values: &[f64],
    rows: &[CountryValue],
    share_of: impl Fn(f64) -> f64,
) -> (f64, f64) {
    rows.iter().fold((0.0, 0.0), |(hhi, weighted), row| {
        let s = share_of(values[row.slot]);
        let wgi = scaled_wgi(r, values, row.country).unwrap_or(DEFAULT_WGI_SCALED);
        let t = trade_restriction(r, values, row.country);
        (hhi + s * s, weighted + s * s * wgi * t)
    })
}

/// The buyer's own exposure at this stage, before the chain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Exposure {
    /// China's share of the buyer's imports `m` (China's share `g` when not recorded).
    pub import_share_china: f64,
    pub import_share_recorded: bool,
    /// Import reliance `IR` (1 when not recorded).
    pub import_reliance: f64,
    pub import_reliance_recorded: bool,
    pub before_recycling: f64,
    pub recycling_input_rate: f64,
    /// `e`, 0..1.
    pub value: f64,
}

/// Import reliance assumed when a country's imports are recorded but not its
/// reliance: Western buyers of these products import nearly all they use.
pub(crate) const DEFAULT_IMPORT_RELIANCE: f64 = 1.0;

/// The buyer's sourcing facts at this stage beside its exposure `e`, the
/// Chinese content of its supply at the product's own stage as the network
/// computes it. `m` is China's share of recorded imports (China's share `g`
/// when none are recorded, 0 when recorded imports name no Chinese origin).
pub(crate) fn exposure(r: &Resolved, values: &[f64], g: f64, value: f64) -> Exposure {
    let china_imports = Resolved::country_slot(&r.import_shares, CountryCode::CN);
    let import_share_recorded = !r.import_shares.is_empty();
    let import_share_china = match china_imports {
        Some(slot) => values[slot],
        None if import_share_recorded => 0.0,
        None => g,
    };
    let import_reliance = r.import_reliance.map(|s| values[s]);
    let recycling_input_rate = r.recycling_input_rate.map_or(0.0, |s| values[s]);
    let before_recycling = if recycling_input_rate < 1.0 {
        value / (1.0 - recycling_input_rate)
    } else {
        0.0
    };
    Exposure {
        import_share_china,
        import_share_recorded,
        import_reliance: import_reliance.unwrap_or(DEFAULT_IMPORT_RELIANCE),
        import_reliance_recorded: import_reliance.is_some(),
        before_recycling,
        recycling_input_rate,
        value,
    }
}

/// What an input passes on: its China-free supply when essential, else
/// `1 − share·(1 − f)`.
pub(crate) fn input_term(edge: &Edge, input_free: f64) -> f64 {
    if edge.essential {
        input_free
    } else {
        1.0 - edge.share * (1.0 - input_free)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(share: f64, essential: bool) -> Edge {
        Edge {
            input: 0,
            share,
            essential,
        }
    }

    #[test]
    fn essential_input_passes_its_supply_and_substitutable_one_is_diluted() {
        assert_eq!(input_term(&edge(0.3, true), 0.2), 0.2);
        let expected = 1.0 - 0.3 * (1.0 - 0.2);
        assert_eq!(input_term(&edge(0.3, false), 0.2), expected);
    }
}
