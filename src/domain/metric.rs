use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The closed vocabulary of what a fact can measure. Each metric has one
/// canonical unit and range (see [`Metric::spec`]); values are normalised to
/// it on ingestion so the scoring method never converts units.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Production,
    Capacity,
    MarketShare,
    ControlledShare,
    ImportShare,
    ExportShare,
    ImportReliance,
    Demand,
    RecyclingInputRate,
    SubstitutionIndex,
    GovernanceWgi,
    WgiPoliticalStability,
    TradeRestriction,
    ExportControl,
    TechnologyExportBan,
    LeadTimeYears,
    CapexPerTpa,
    CostPremium,
    StateSupport,
    EconomicImportance,
    OutputValue,
    PolicyTarget,
    Project,
}

/// How a metric's value is shaped, which decides its validation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueKind {
    /// A finite number within `min..=max`.
    Number { min: f64, max: f64 },
    /// An integer level on a named scale (`labels[i]` is level `i`).
    Level { labels: &'static [&'static str] },
    /// Qualitative: the value may be null.
    Qualitative,
}

/// Where a metric applies: to a product, or to a country regardless of product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricScope {
    Product,
    Country,
}

/// Everything the service knows about a metric: published in the API spec.
#[derive(Debug, Clone, Copy)]
pub struct MetricSpec {
    pub metric: Metric,
    pub unit: Unit,
    pub kind: ValueKind,
    pub scope: MetricScope,
    /// The fact must name a buyer (buyer-specific metrics).
    pub needs_buyer: bool,
    /// The fact must name a country. Metrics that can describe the world or
    /// a bloc as a whole (a lead time, a substitution index, the EU's import
    /// reliance) may leave it out.
    pub needs_country: bool,
    pub meaning: &'static str,
}

/// Canonical units. Accepted spellings are converted by [`Unit::normalise`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum Unit {
    #[serde(rename = "t/yr")]
    TonnesPerYear,
    #[serde(rename = "fraction")]
    Fraction,
    #[serde(rename = "USD per t/yr")]
    UsdPerTpa,
    #[serde(rename = "years")]
    Years,
    #[serde(rename = "level")]
    Level,
    #[serde(rename = "index")]
    Index,
    #[serde(rename = "multiplier")]
    Multiplier,
    #[serde(rename = "USD")]
    Usd,
    #[serde(rename = "none")]
    None,
}

const EXPORT_CONTROL_LEVELS: &[&str] = &["none", "licensing", "ban"];
const TECHNOLOGY_BAN_LEVELS: &[&str] = &["none", "restricted", "prohibited"];
const STATE_SUPPORT_LEVELS: &[&str] = &["none", "low", "medium", "high"];

const fn number(min: f64, max: f64) -> ValueKind {
    ValueKind::Number { min, max }
}

const VOLUME_MAX: f64 = 1.0e12;
const MONEY_MAX: f64 = 1.0e15;

impl Metric {
    pub const ALL: [Metric; 23] = [
        Metric::Production,
        Metric::Capacity,
        Metric::MarketShare,
        Metric::ControlledShare,
        Metric::ImportShare,
        Metric::ExportShare,
        Metric::ImportReliance,
        Metric::Demand,
        Metric::RecyclingInputRate,
        Metric::SubstitutionIndex,
        Metric::GovernanceWgi,
        Metric::WgiPoliticalStability,
        Metric::TradeRestriction,
        Metric::ExportControl,
        Metric::TechnologyExportBan,
        Metric::LeadTimeYears,
        Metric::CapexPerTpa,
        Metric::CostPremium,
        Metric::StateSupport,
        Metric::EconomicImportance,
        Metric::OutputValue,
        Metric::PolicyTarget,
        Metric::Project,
    ];

    pub fn parse(s: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Production => "production",
            Metric::Capacity => "capacity",
            Metric::MarketShare => "market_share",
            Metric::ControlledShare => "controlled_share",
            Metric::ImportShare => "import_share",
            Metric::ExportShare => "export_share",
            Metric::ImportReliance => "import_reliance",
            Metric::Demand => "demand",
            Metric::RecyclingInputRate => "recycling_input_rate",
            Metric::SubstitutionIndex => "substitution_index",
            Metric::GovernanceWgi => "governance_wgi",
            Metric::WgiPoliticalStability => "wgi_political_stability",
            Metric::TradeRestriction => "trade_restriction",
            Metric::ExportControl => "export_control",
            Metric::TechnologyExportBan => "technology_export_ban",
            Metric::LeadTimeYears => "lead_time_years",
            Metric::CapexPerTpa => "capex_per_tpa",
            Metric::CostPremium => "cost_premium",
            Metric::StateSupport => "state_support",
            Metric::EconomicImportance => "economic_importance",
            Metric::OutputValue => "output_value",
            Metric::PolicyTarget => "policy_target",
            Metric::Project => "project",
        }
    }

    pub fn spec(self) -> MetricSpec {
        use MetricScope::{Country, Product};
        let (unit, kind, scope, needs_buyer, meaning) = match self {
            Metric::Production => (Unit::TonnesPerYear, number(0.0, VOLUME_MAX), Product, false,
                "Annual output in a country (or at a facility), in tonnes of contained product per year."),
            Metric::Capacity => (Unit::TonnesPerYear, number(0.0, VOLUME_MAX), Product, false,
                "Nameplate capacity, operating or in the pipeline (see status and expected_online)."),
            Metric::MarketShare => (Unit::Fraction, number(0.0, 1.0), Product, false,
                "The country's share of world supply at this stage, when volumes are not published."),
            Metric::ControlledShare => (Unit::Fraction, number(0.0, 1.0), Product, false,
                "Share of the country's output that firms of `controlled_by` control."),
            Metric::ImportShare => (Unit::Fraction, number(0.0, 1.0), Product, true,
                "Share of the buyer's imports that come from `country` (the origin)."),
            Metric::ExportShare => (Unit::Fraction, number(0.0, 1.0), Product, false,
                "The country's share of world exports of the product in the period, by value (trade statistics); not a production share."),
            Metric::ImportReliance => (Unit::Fraction, number(0.0, 1.0), Product, true,
                "The buyer's net import reliance: net imports over apparent consumption."),
            Metric::Demand => (Unit::TonnesPerYear, number(0.0, VOLUME_MAX), Product, true,
                "The buyer's annual consumption."),
            Metric::RecyclingInputRate => (Unit::Fraction, number(0.0, 1.0), Product, false,
                "End-of-life recycling input rate: share of demand met by recycled material. A buyer is optional: name the one whose demand it measures (the EU CRM study's rates are the EU's), which then holds for that buyer only; without a buyer it holds for every buyer."),
            Metric::SubstitutionIndex => (Unit::Fraction, number(0.0, 1.0), Product, false,
                "Substitution index for supply risk: 1 means no substitute exists."),
            Metric::GovernanceWgi => (Unit::Index, number(-2.5, 2.5), Country, false,
                "Mean of the World Bank's Worldwide Governance Indicators (−2.5 worst, 2.5 best)."),
            Metric::WgiPoliticalStability => (Unit::Index, number(-4.0, 4.0), Country, false,
                "World Bank WGI Political Stability and Absence of Violence/Terrorism estimate, in units of a standard normal (mostly within ±2.5; Syria and Yemen fall below −3 in some years). Recorded for reference; the method's governance is `governance_wgi`, the mean of the six estimates."),
            Metric::TradeRestriction => (Unit::Multiplier, number(1.0, 2.0), Product, false,
                "EU CRM trade-restriction multiplier t_c (1 = no restriction)."),
            Metric::ExportControl => (Unit::Level, ValueKind::Level { labels: EXPORT_CONTROL_LEVELS }, Product, false,
                "An export control by `country` on this product: 0 none, 1 licensing, 2 ban. The period gives when it applies; status in_force or suspended."),
            Metric::TechnologyExportBan => (Unit::Level, ValueKind::Level { labels: TECHNOLOGY_BAN_LEVELS }, Product, false,
                "A ban on exporting the know-how to make this product: 0 none, 1 restricted, 2 prohibited."),
            Metric::LeadTimeYears => (Unit::Years, number(0.0, 50.0), Product, false,
                "Years from decision (or discovery, for mines) to first production of new capacity."),
            Metric::CapexPerTpa => (Unit::UsdPerTpa, number(0.0, MONEY_MAX), Product, false,
                "Capital cost of new capacity per tonne of annual output."),
            Metric::CostPremium => (Unit::Fraction, number(0.0, 10.0), Product, false,
                "Unit-cost premium of non-Chinese over Chinese production (1 = 100% dearer)."),
            Metric::StateSupport => (Unit::Level, ValueKind::Level { labels: STATE_SUPPORT_LEVELS }, Product, false,
                "State support for the country's producers: 0 none to 3 high."),
            Metric::EconomicImportance => (Unit::Index, number(0.0, 10.0), Product, false,
                "EU CRM economic importance (EI); critical needs EI ≥ 2.8. It measures importance to the EU's economy: record it for buyer `EU` (a buyer is optional; it then holds for that buyer only)."),
            Metric::OutputValue => (Unit::Usd, number(0.0, MONEY_MAX), Product, false,
                "Output value in US dollars (convert at the period's average rate; say so in the note)."),
            Metric::PolicyTarget => (Unit::None, ValueKind::Qualitative, Product, false,
                "A stated policy goal, quoted; a number only where the source gives one."),
            Metric::Project => (Unit::None, ValueKind::Qualitative, Product, false,
                "A named project, quoted; a number only where the source gives one."),
        };
        let needs_country = matches!(
            self,
            Metric::Production
                | Metric::Capacity
                | Metric::MarketShare
                | Metric::ControlledShare
                | Metric::ImportShare
                | Metric::ExportShare
                | Metric::GovernanceWgi
                | Metric::WgiPoliticalStability
                | Metric::TradeRestriction
                | Metric::ExportControl
                | Metric::StateSupport
        );
        MetricSpec {
            metric: self,
            unit,
            kind,
            scope,
            needs_buyer,
            needs_country,
            meaning,
        }
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::TonnesPerYear => "t/yr",
            Unit::Fraction => "fraction",
            Unit::UsdPerTpa => "USD per t/yr",
            Unit::Years => "years",
            Unit::Level => "level",
            Unit::Index => "index",
            Unit::Multiplier => "multiplier",
            Unit::Usd => "USD",
            Unit::None => "none",
        }
    }

    /// Spellings accepted for this canonical unit, with the factor that
    /// converts a value in that spelling to the canonical unit.
    pub fn accepted(self) -> &'static [(&'static str, f64)] {
        match self {
            Unit::TonnesPerYear => &[
                ("t/yr", 1.0),
                ("t", 1.0),
                ("kt/yr", 1.0e3),
                ("kt", 1.0e3),
                ("Mt/yr", 1.0e6),
                ("Mt", 1.0e6),
            ],
            // Percentages divide (below) rather than multiply by 0.01, so 94%
            // is exactly 0.94.
            Unit::Fraction => &[("fraction", 1.0), ("%", 0.01)],
            Unit::UsdPerTpa => &[("USD per t/yr", 1.0), ("USD/(t/yr)", 1.0), ("USD/tpa", 1.0)],
            Unit::Years => &[("years", 1.0), ("yr", 1.0)],
            Unit::Level => &[("level", 1.0)],
            Unit::Index => &[("index", 1.0)],
            Unit::Multiplier => &[("multiplier", 1.0)],
            Unit::Usd => &[("USD", 1.0), ("USD m", 1.0e6), ("USD bn", 1.0e9)],
            Unit::None => &[("none", 1.0)],
        }
    }

    /// The factor converting `spelling` into this unit, if it is accepted.
    pub fn factor(self, spelling: &str) -> Option<f64> {
        self.accepted()
            .iter()
            .find(|(accepted, _)| accepted.eq_ignore_ascii_case(spelling.trim()))
            .map(|(_, factor)| *factor)
    }
}

impl MetricSpec {
    /// Validates a raw value in the given unit spelling and returns it in the
    /// canonical unit. Errors are messages for the client, naming the rule.
    pub fn normalise(
        &self,
        value: Option<f64>,
        unit: Option<&str>,
    ) -> Result<Option<f64>, NormaliseError> {
        let factor = match unit {
            None if self.unit == Unit::None => 1.0,
            None => {
                return Err(NormaliseError::Unit(format!(
                    "`{}` needs a unit: one of {}",
                    self.metric,
                    self.unit_list()
                )))
            }
            Some(spelling) => self.unit.factor(spelling).ok_or_else(|| {
                NormaliseError::Unit(format!(
                    "unit `{spelling}` does not fit `{}`: use one of {}",
                    self.metric,
                    self.unit_list()
                ))
            })?,
        };
        let Some(raw) = value else {
            return match self.kind {
                ValueKind::Qualitative => Ok(None),
                _ => Err(NormaliseError::Value(format!(
                    "`{}` needs a numeric value",
                    self.metric
                ))),
            };
        };
        if !raw.is_finite() {
            return Err(NormaliseError::Value(
                "the value must be a finite number".into(),
            ));
        }
        let canonical = if factor < 1.0 {
            raw / (1.0 / factor).round()
        } else {
            raw * factor
        };
        match self.kind {
            ValueKind::Number { min, max } if !(min..=max).contains(&canonical) => {
                Err(NormaliseError::Value(format!(
                    "`{}` must be between {min} and {max} {} (got {canonical})",
                    self.metric,
                    self.unit.as_str()
                )))
            }
            ValueKind::Level { labels }
                if canonical.fract() != 0.0
                    || canonical < 0.0
                    || canonical >= labels.len() as f64 =>
            {
                Err(NormaliseError::Value(format!(
                    "`{}` is a level from 0 to {} ({})",
                    self.metric,
                    labels.len() - 1,
                    labels.join(", ")
                )))
            }
            _ => Ok(Some(canonical)),
        }
    }

    fn unit_list(&self) -> String {
        self.unit
            .accepted()
            .iter()
            .map(|(s, _)| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Why a value could not be normalised: the unit or the value itself.
#[derive(Debug, Clone, PartialEq)]
pub enum NormaliseError {
    Unit(String),
    Value(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_accepted_spellings_to_the_canonical_unit() {
        let production = Metric::Production.spec();
        assert_eq!(
            production.normalise(Some(270.0), Some("kt/yr")),
            Ok(Some(270_000.0))
        );
        let share = Metric::MarketShare.spec();
        assert_eq!(share.normalise(Some(92.0), Some("%")), Ok(Some(0.92)));
        assert_eq!(share.normalise(Some(94.0), Some("%")), Ok(Some(0.94)));
    }

    #[test]
    fn rejects_values_outside_the_metric_range() {
        assert!(Metric::MarketShare
            .spec()
            .normalise(Some(1.2), Some("fraction"))
            .is_err());
        assert!(Metric::Production
            .spec()
            .normalise(Some(-1.0), Some("t/yr"))
            .is_err());
        assert!(Metric::ExportControl
            .spec()
            .normalise(Some(1.5), Some("level"))
            .is_err());
        assert!(Metric::Production
            .spec()
            .normalise(Some(f64::NAN), Some("t/yr"))
            .is_err());
        assert!(matches!(
            Metric::Production.spec().normalise(Some(1.0), Some("%")),
            Err(NormaliseError::Unit(_))
        ));
    }

    #[test]
    fn the_vocabulary_lists_every_metric_once_in_declaration_order() {
        // Scoring indexes facts by `metric as usize` over `Metric::ALL`.
        for (position, metric) in Metric::ALL.into_iter().enumerate() {
            assert_eq!(metric as usize, position, "{metric}");
            assert_eq!(Metric::parse(metric.as_str()), Some(metric));
        }
    }

    #[test]
    fn only_qualitative_metrics_accept_a_null_value() {
        assert_eq!(Metric::Project.spec().normalise(None, None), Ok(None));
        assert!(Metric::Capacity
            .spec()
            .normalise(None, Some("t/yr"))
            .is_err());
    }
}
