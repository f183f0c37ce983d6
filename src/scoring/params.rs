//! What a caller may choose: the buyer, the date, the chain aggregation, the
//! difficulty weights and the pipeline horizon. Echoed back in every result.

use serde::{Deserialize, Serialize};
use thiserror::Error;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::domain::{Buyer, View};

/// How a product's China-free supply combines with its inputs'.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Chain {
    /// The scarcest input bounds the product: `f = min(1 − e, min g_i)`.
    #[default]
    Bottleneck,
    /// Inputs constrain independently: `f = (1 − e) · Π g_i`.
    Independent,
}

/// Difficulty component weights. Any non-negative finite values, not all
/// zero; they are renormalised to sum to 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "WeightsInput")]
#[schema(example = json!({"time": 0.25, "scale": 0.25, "capital": 0.15, "cost": 0.15, "know_how": 0.10, "substitution": 0.10}))]
pub struct Weights {
    /// Fraction 0–1 (the six sum to 1): lead time to build new capacity.
    time: f64,
    /// Fraction 0–1 (the six sum to 1): China's share of current and
    /// pipeline capacity.
    scale: f64,
    /// Fraction 0–1 (the six sum to 1): capital needed to replace the
    /// Chinese volume serving the buyer.
    capital: f64,
    /// Fraction 0–1 (the six sum to 1): cost premium of non-Chinese supply,
    /// raised by Chinese state support.
    cost: f64,
    /// Fraction 0–1 (the six sum to 1): Chinese bans on exporting the
    /// technology.
    know_how: f64,
    /// Fraction 0–1 (the six sum to 1): lack of substitutes.
    substitution: f64,
}

/// The unvalidated shape of [`Weights`], as it arrives from a client.
#[derive(Debug, Clone, Copy, Deserialize)]
struct WeightsInput {
    time: f64,
    scale: f64,
    capital: f64,
    cost: f64,
    know_how: f64,
    substitution: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum WeightsError {
    #[error("weights must be finite and non-negative")]
    Invalid,
    #[error("at least one weight must be positive")]
    AllZero,
}

impl TryFrom<WeightsInput> for Weights {
    type Error = WeightsError;
    fn try_from(w: WeightsInput) -> Result<Self, Self::Error> {
        Weights::new(
            w.time,
            w.scale,
            w.capital,
            w.cost,
            w.know_how,
            w.substitution,
        )
    }
}

/// The difficulty components, in the order of [`Weights::as_array`].
pub const COMPONENT_NAMES: [&str; 6] = [
    "time",
    "scale",
    "capital",
    "cost",
    "know_how",
    "substitution",
];

impl Weights {
    /// Validates and renormalises the weights to sum to 1.
    pub fn new(
        time: f64,
        scale: f64,
        capital: f64,
        cost: f64,
        know_how: f64,
        substitution: f64,
    ) -> Result<Weights, WeightsError> {
        let raw = [time, scale, capital, cost, know_how, substitution];
        if raw.iter().any(|w| !w.is_finite() || *w < 0.0) {
            return Err(WeightsError::Invalid);
        }
        let total: f64 = raw.iter().sum();
        if total <= 0.0 {
            return Err(WeightsError::AllZero);
        }
        let [time, scale, capital, cost, know_how, substitution] = raw.map(|w| w / total);
        Ok(Weights {
            time,
            scale,
            capital,
            cost,
            know_how,
            substitution,
        })
    }

    /// time, scale, capital, cost, know_how, substitution; summing to 1.
    pub fn as_array(&self) -> [f64; 6] {
        [
            self.time,
            self.scale,
            self.capital,
            self.cost,
            self.know_how,
            self.substitution,
        ]
    }
}

/// Difficulty weights, any subset.
// The others keep their defaults and all are renormalised to sum to 1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"time": 0.4, "scale": 0.3}))]
pub struct WeightOverrides {
    /// Relative weight of lead time, at least 0 (default 0.25).
    time: Option<f64>,
    /// Relative weight of China's capacity share, at least 0 (default 0.25).
    scale: Option<f64>,
    /// Relative weight of replacement capital, at least 0 (default 0.15).
    capital: Option<f64>,
    /// Relative weight of the cost premium, at least 0 (default 0.15).
    cost: Option<f64>,
    /// Relative weight of technology-export bans, at least 0 (default 0.10).
    know_how: Option<f64>,
    /// Relative weight of the lack of substitutes, at least 0 (default 0.10).
    substitution: Option<f64>,
}

/// Why a weights override was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OverrideError {
    #[error("`{0}` is not name:value")]
    NotAPair(String),
    #[error("`{0}` is not a weight; use time, scale, capital, cost, know_how, substitution")]
    UnknownName(String),
    #[error("`{0}` is not a number")]
    NotANumber(String),
    #[error(transparent)]
    Weights(#[from] WeightsError),
}

impl WeightOverrides {
    /// The text form `time:0.4,scale:0.3` (empty parts are ignored).
    pub fn parse(text: &str) -> Result<WeightOverrides, OverrideError> {
        let mut values = [None; 6];
        for part in text.split(',').filter(|p| !p.trim().is_empty()) {
            let (name, value) = part
                .split_once(':')
                .ok_or_else(|| OverrideError::NotAPair(part.to_owned()))?;
            let index = COMPONENT_NAMES
                .iter()
                .position(|n| *n == name.trim())
                .ok_or_else(|| OverrideError::UnknownName(name.to_owned()))?;
            values[index] = Some(
                value
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| OverrideError::NotANumber(value.to_owned()))?,
            );
        }
        let [time, scale, capital, cost, know_how, substitution] = values;
        Ok(WeightOverrides {
            time,
            scale,
            capital,
            cost,
            know_how,
            substitution,
        })
    }

    /// `defaults` with these overrides, renormalised.
    pub fn apply(&self, defaults: &Weights) -> Result<Weights, WeightsError> {
        let [time, scale, capital, cost, know_how, substitution] = defaults.as_array();
        Weights::new(
            self.time.unwrap_or(time),
            self.scale.unwrap_or(scale),
            self.capital.unwrap_or(capital),
            self.cost.unwrap_or(cost),
            self.know_how.unwrap_or(know_how),
            self.substitution.unwrap_or(substitution),
        )
    }
}

impl Default for Weights {
    /// time .25, scale .25, capital .15, cost .15, know_how .10, substitution .10.
    fn default() -> Self {
        Weights {
            time: 0.25,
            scale: 0.25,
            capital: 0.15,
            cost: 0.15,
            know_how: 0.10,
            substitution: 0.10,
        }
    }
}

/// Everything a score depends on besides the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Params {
    /// Whom the score is for.
    pub buyer: Buyer,
    /// The moment the facts are read as of.
    #[serde(with = "time::serde::rfc3339")]
    pub as_of: OffsetDateTime,
    /// Which aggregation gives the headline dependency.
    pub chain: Chain,
    /// Difficulty component weights, renormalised.
    pub weights: Weights,
    /// Years: pipeline capacity counts when expected online by `as_of`'s
    /// year plus this many years.
    #[schema(example = 5)]
    pub horizon_years: u32,
    /// Which facts count as known at `as_of`.
    pub view: View,
}

/// A pipeline horizon outside [`Params::HORIZON_YEARS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("must be between 1 and 30 years")]
pub struct HorizonError;

impl Params {
    pub const DEFAULT_HORIZON_YEARS: u32 = 5;
    /// The horizons a caller may choose.
    pub const HORIZON_YEARS: std::ops::RangeInclusive<u32> = 1..=30;

    /// Sets the pipeline horizon, within [`Params::HORIZON_YEARS`].
    pub fn set_horizon(&mut self, years: u32) -> Result<(), HorizonError> {
        if !Self::HORIZON_YEARS.contains(&years) {
            return Err(HorizonError);
        }
        self.horizon_years = years;
        Ok(())
    }

    /// Whether the chain, weights and horizon are the defaults.
    pub fn has_default_choices(&self) -> bool {
        let default = Params::new(self.buyer, self.as_of);
        self.chain == default.chain
            && self.weights == default.weights
            && self.horizon_years == default.horizon_years
            && self.view == default.view
    }

    /// Bottleneck chain, default weights, five-year horizon.
    pub fn new(buyer: Buyer, as_of: OffsetDateTime) -> Params {
        Params {
            buyer,
            as_of,
            chain: Chain::default(),
            weights: Weights::default(),
            horizon_years: Self::DEFAULT_HORIZON_YEARS,
            view: View::default(),
        }
    }

    /// The last year whose pipeline capacity counts.
    pub(crate) fn horizon_year(&self) -> i32 {
        let horizon = i32::try_from(self.horizon_years).unwrap_or(i32::MAX);
        self.as_of.year().saturating_add(horizon)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_renormalised_and_validated() {
        let w = Weights::new(1.0, 1.0, 0.0, 0.0, 0.0, 2.0).unwrap();
        assert_eq!(w.as_array(), [0.25, 0.25, 0.0, 0.0, 0.0, 0.5]);
        assert_eq!(
            Weights::new(0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
            Err(WeightsError::AllZero)
        );
        assert_eq!(
            Weights::new(-1.0, 1.0, 0.0, 0.0, 0.0, 0.0),
            Err(WeightsError::Invalid)
        );
        assert_eq!(
            Weights::new(f64::NAN, 1.0, 0.0, 0.0, 0.0, 0.0),
            Err(WeightsError::Invalid)
        );
        assert!((Weights::default().as_array().iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn weights_deserialise_through_validation() {
        let ok: Weights = serde_json::from_str(
            r#"{"time":2,"scale":2,"capital":0,"cost":0,"know_how":0,"substitution":0}"#,
        )
        .unwrap();
        assert_eq!(ok.as_array()[0], 0.5);
        let bad = serde_json::from_str::<Weights>(
            r#"{"time":0,"scale":0,"capital":0,"cost":0,"know_how":0,"substitution":0}"#,
        );
        assert!(bad.is_err());
        let chain: Chain = serde_json::from_str("\"independent\"").unwrap();
        assert_eq!(chain, Chain::Independent);
    }

    #[test]
    fn weight_overrides_replace_named_components_only() {
        let defaults = Weights::default();
        let weights = WeightOverrides::parse("time:0.5")
            .unwrap()
            .apply(&defaults)
            .unwrap();
        assert!(weights.as_array()[0] > defaults.as_array()[0]);
        assert_eq!(
            WeightOverrides::parse("speed:1"),
            Err(OverrideError::UnknownName("speed".into()))
        );
        assert_eq!(
            WeightOverrides::parse("time"),
            Err(OverrideError::NotAPair("time".into()))
        );
        let negative = WeightOverrides::parse("time:-1").unwrap().apply(&defaults);
        assert_eq!(negative, Err(WeightsError::Invalid));
    }

    #[test]
    fn the_horizon_stays_in_range() {
        let mut params = Params::new(Buyer::Eu, OffsetDateTime::UNIX_EPOCH);
        assert_eq!(params.set_horizon(0), Err(HorizonError));
        assert_eq!(params.set_horizon(31), Err(HorizonError));
        assert_eq!(params.set_horizon(30), Ok(()));
        assert_eq!(params.horizon_years, 30);
        assert!(!params.has_default_choices());
    }
}
