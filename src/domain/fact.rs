use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::ToSchema;

use super::metric::{MetricScope, NormaliseError};
use super::{Buyer, CountryCode, FactStatus, Metric, Period, ProductId, SourceId, Unit};

/// Longest accepted verbatim quote, in characters.
pub const MAX_QUOTE_CHARS: usize = 2000;
const MAX_NOTE_CHARS: usize = 4000;
const MAX_SHORT_CHARS: usize = 300;

/// A fact as clients submit it, in JSON, NDJSON or CSV (same field names).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "product": "rare-earth-concentrate",
    "country": "CN",
    "metric": "production",
    "value": 270000,
    "unit": "t/yr",
    "period": "2024",
    "status": "estimate",
    "source_id": "usgs-mcs-2025-rare-earths",
    "locator": "Rare Earths, World Mine Production table",
    "quote": "China 270,000 (estimated, rare-earth-oxide equivalent)"
}))]
pub struct NewFact {
    /// The product; absent for country-level metrics such as `governance_wgi`.
    #[schema(value_type = Option<String>, example = "ndpr-oxide")]
    pub product: Option<String>,
    /// ISO 3166-1 alpha-2 code of the country the fact is about (the origin,
    /// for `import_share`). Required for country-specific metrics (production,
    /// capacity, shares, governance, trade restrictions, export controls,
    /// state support); absent means world-wide or bloc-wide.
    #[schema(value_type = Option<String>, example = "CN")]
    pub country: Option<String>,
    /// For buyer-specific metrics: the buyer (country or `EU`).
    #[schema(value_type = Option<String>, example = "US")]
    pub buyer: Option<String>,
    /// Facility or project name.
    pub facility: Option<String>,
    #[schema(value_type = Metric)]
    pub metric: String,
    /// A finite number in `unit`; null only for qualitative metrics.
    pub value: Option<f64>,
    /// Any accepted spelling for the metric's canonical unit (e.g. `kt/yr`, `%`).
    #[schema(example = "t/yr")]
    pub unit: Option<String>,
    #[schema(value_type = Period)]
    pub period: String,
    #[schema(value_type = FactStatus)]
    pub status: String,
    /// Country whose firms control this capacity (e.g. `CN` for a Chinese-owned mine abroad).
    #[schema(value_type = Option<String>, example = "CN")]
    pub controlled_by: Option<String>,
    /// Year pipeline capacity is expected online.
    #[schema(example = 2027)]
    pub expected_online: Option<i32>,
    #[schema(value_type = String, example = "usgs-mcs-2025-rare-earths")]
    pub source_id: String,
    /// 0..1; defaults to the source's reliability.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub confidence: Option<f64>,
    /// When this information became public (`YYYY-MM-DD`, 1900 to today);
    /// defaults to the source's `published_on`, else the day it is recorded.
    /// Give it when one source republishes figures first published earlier
    /// (a dataset release whose older years came out in earlier releases).
    #[schema(value_type = Option<String>, format = Date, example = "2025-01-31", pattern = "^(19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}$")]
    pub published_on: Option<String>,
    /// Verbatim excerpt from the source (at most 2000 characters).
    pub quote: Option<String>,
    /// Where in the source: table, page or section.
    pub locator: Option<String>,
    pub note: Option<String>,
}

/// A fact that is not (yet) true.
// A submitted fact without `source_id`, `quote` and `locator`, for a what-if.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HypotheticalFact {
    /// The product; absent for country-level metrics such as `governance_wgi`.
    #[schema(example = "ndpr-oxide")]
    pub product: Option<String>,
    /// ISO 3166-1 alpha-2 code of the country the fact is about (the origin,
    /// for `import_share`); absent means world-wide or bloc-wide.
    #[schema(example = "US")]
    pub country: Option<String>,
    /// For buyer-specific metrics: the buyer (country or `EU`).
    pub buyer: Option<String>,
    /// Facility or project name.
    pub facility: Option<String>,
    /// What the fact records.
    #[schema(value_type = Metric)]
    pub metric: String,
    /// A finite number in `unit`; null only for qualitative metrics.
    pub value: Option<f64>,
    /// Any accepted spelling for the metric's canonical unit (e.g. `kt/yr`, `%`).
    #[schema(example = "t/yr")]
    pub unit: Option<String>,
    /// The time the fact describes.
    #[schema(value_type = Period, example = "2026")]
    pub period: String,
    /// The fact's status (`actual`, `under_construction`, `in_force`, …).
    #[schema(value_type = FactStatus, example = "under_construction")]
    pub status: String,
    /// Country whose firms control this capacity.
    pub controlled_by: Option<String>,
    /// Year pipeline capacity is expected online.
    #[schema(example = 2027)]
    pub expected_online: Option<i32>,
    /// Fraction 0–1; default 1 (the scenario asserts the fact).
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub confidence: Option<f64>,
    /// Free text, kept with the scenario.
    pub note: Option<String>,
}

impl NewFact {
    /// The hypothetical fact as a submission citing `source_id`, so that it
    /// passes exactly the checks of a real one.
    pub fn hypothetical(fact: HypotheticalFact, source_id: &str) -> NewFact {
        NewFact {
            product: fact.product,
            country: fact.country,
            buyer: fact.buyer,
            facility: fact.facility,
            metric: fact.metric,
            value: fact.value,
            unit: fact.unit,
            period: fact.period,
            status: fact.status,
            controlled_by: fact.controlled_by,
            expected_online: fact.expected_online,
            source_id: source_id.to_owned(),
            confidence: fact.confidence,
            published_on: None,
            quote: None,
            locator: None,
            note: fact.note,
        }
    }
}

/// A validated fact, values in the metric's canonical unit. References to
/// products and sources are checked against the store separately.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    pub product: Option<ProductId>,
    pub country: Option<CountryCode>,
    pub buyer: Option<Buyer>,
    pub facility: Option<String>,
    pub metric: Metric,
    pub value: Option<f64>,
    pub unit: Unit,
    pub period: Period,
    pub status: FactStatus,
    pub controlled_by: Option<CountryCode>,
    pub expected_online: Option<i32>,
    pub source_id: SourceId,
    pub confidence: Option<f64>,
    /// `None`: the source's publication date, resolved when written.
    pub published_on: Option<Date>,
    pub quote: Option<String>,
    pub locator: Option<String>,
    pub note: Option<String>,
}

/// Earliest accepted publication date.
pub const EARLIEST_PUBLICATION: Date = time::macros::date!(1900 - 01 - 01);

/// A publication date as submitted: `YYYY-MM-DD`, not before 1900; whether
/// it lies in the future is checked when written, against the clock.
pub fn parse_publication_date(text: &str) -> Result<Date, String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date =
        Date::parse(text, format).map_err(|_| format!("`{text}` is not a YYYY-MM-DD date"))?;
    if date < EARLIEST_PUBLICATION {
        return Err("must not be before 1900-01-01".to_owned());
    }
    Ok(date)
}

/// One problem with one field of a submitted fact.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldProblem {
    pub field: &'static str,
    pub message: String,
}

fn problem(field: &'static str, message: impl Into<String>) -> FieldProblem {
    FieldProblem {
        field,
        message: message.into(),
    }
}

impl NewFact {
    /// Validates every field and normalises the value to the metric's
    /// canonical unit; returns every problem found, not just the first.
    pub fn validate(self) -> Result<Fact, Vec<FieldProblem>> {
        let mut errors = Vec::new();
        let metric = Metric::parse(&self.metric);
        if metric.is_none() {
            errors.push(problem(
                "metric",
                format!(
                    "`{}` is not a metric; see the Metric schema for the vocabulary",
                    self.metric
                ),
            ));
        }
        let country = self.country.as_deref().and_then(|c| {
            CountryCode::read(c)
                .map_err(|message| errors.push(problem("country", message)))
                .ok()
        });
        let buyer = self.buyer.as_deref().and_then(|b| {
            Buyer::read(b)
                .map_err(|message| errors.push(problem("buyer", message)))
                .ok()
        });
        let controlled_by = self.controlled_by.as_deref().and_then(|c| {
            CountryCode::read(c)
                .map_err(|message| errors.push(problem("controlled_by", message)))
                .ok()
        });
        let product = self.product.as_deref().and_then(|p| {
            ProductId::parse(p)
                .map_err(|e| errors.push(problem("product", e)))
                .ok()
        });
        let period = Period::parse(&self.period)
            .map_err(|e| errors.push(problem("period", e)))
            .ok();
        let status = FactStatus::parse(&self.status);
        if status.is_none() {
            let all: Vec<&str> = FactStatus::ALL.iter().map(|s| s.as_str()).collect();
            errors.push(problem(
                "status",
                format!(
                    "`{}` is not a status: use one of {}",
                    self.status,
                    all.join(", ")
                ),
            ));
        }
        let source_id = SourceId::parse(&self.source_id)
            .map_err(|e| errors.push(problem("source_id", e)))
            .ok();
        let published_on = self.published_on.as_deref().and_then(|text| {
            parse_publication_date(text)
                .map_err(|message| errors.push(problem("published_on", message)))
                .ok()
        });
        if let Some(c) = self.confidence {
            if !(0.0..=1.0).contains(&c) {
                errors.push(problem("confidence", "must be between 0 and 1"));
            }
        }
        if let Some(year) = self.expected_online {
            if !(1900..=2100).contains(&year) {
                errors.push(problem(
                    "expected_online",
                    "must be a year between 1900 and 2100",
                ));
            }
        }
        for (field, text, max) in [
            ("quote", &self.quote, MAX_QUOTE_CHARS),
            ("note", &self.note, MAX_NOTE_CHARS),
            ("facility", &self.facility, MAX_SHORT_CHARS),
            ("locator", &self.locator, MAX_SHORT_CHARS),
        ] {
            if text.as_ref().is_some_and(|t| t.chars().count() > max) {
                errors.push(problem(field, format!("must be at most {max} characters")));
            }
        }
        let mut value = None;
        if let Some(metric) = metric {
            let spec = metric.spec();
            match (spec.scope, &self.product) {
                (MetricScope::Product, None) => errors.push(problem(
                    "product",
                    format!("`{metric}` is about a product: name it"),
                )),
                (MetricScope::Country, Some(_)) => errors.push(problem(
                    "product",
                    format!("`{metric}` is a country-level metric: leave product out"),
                )),
                _ => {}
            }
            if spec.needs_country && self.country.is_none() {
                errors.push(problem(
                    "country",
                    format!("`{metric}` is about a country: name it"),
                ));
            }
            if spec.needs_buyer && self.buyer.is_none() {
                errors.push(problem(
                    "buyer",
                    format!("`{metric}` is buyer-specific: name the buyer"),
                ));
            }
            match spec.normalise(self.value, self.unit.as_deref()) {
                Ok(normalised) => value = normalised,
                Err(NormaliseError::Unit(message)) => errors.push(problem("unit", message)),
                Err(NormaliseError::Value(message)) => errors.push(problem("value", message)),
            }
        }
        match (metric, period, status, source_id) {
            (Some(metric), Some(period), Some(status), Some(source_id)) if errors.is_empty() => {
                Ok(Fact {
                    product,
                    country,
                    buyer,
                    facility: self.facility,
                    metric,
                    value,
                    unit: metric.spec().unit,
                    period,
                    status,
                    controlled_by,
                    expected_online: self.expected_online,
                    source_id,
                    confidence: self.confidence,
                    published_on,
                    quote: self.quote,
                    locator: self.locator,
                    note: self.note,
                })
            }
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> NewFact {
        NewFact {
            product: Some("ndpr-oxide".into()),
            country: Some("CN".into()),
            metric: "production".into(),
            value: Some(60.0),
            unit: Some("kt/yr".into()),
            period: "2024".into(),
            status: "estimate".into(),
            source_id: "usgs-mcs-2025".into(),
            ..NewFact::default()
        }
    }

    #[test]
    fn a_valid_fact_is_normalised() {
        let fact = valid().validate().unwrap();
        assert_eq!(fact.value, Some(60_000.0));
        assert_eq!(fact.unit, Unit::TonnesPerYear);
    }

    #[test]
    fn every_problem_is_reported() {
        let bad = NewFact {
            country: Some("XX".into()),
            period: "soon".into(),
            unit: Some("%".into()),
            quote: Some("q".repeat(MAX_QUOTE_CHARS + 1)),
            ..valid()
        };
        let fields: Vec<&str> = bad
            .validate()
            .unwrap_err()
            .iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(fields, ["country", "period", "quote", "unit"]);
    }

    #[test]
    fn scope_and_buyer_rules_hold() {
        let governance = NewFact {
            metric: "governance_wgi".into(),
            unit: Some("index".into()),
            value: Some(-0.5),
            ..valid()
        };
        assert_eq!(governance.validate().unwrap_err()[0].field, "product");
        let reliance = NewFact {
            metric: "import_reliance".into(),
            unit: Some("%".into()),
            value: Some(80.0),
            ..valid()
        };
        assert_eq!(reliance.validate().unwrap_err()[0].field, "buyer");
    }

    #[test]
    fn a_buyer_is_optional_where_the_metric_does_not_need_one() {
        let rate = |buyer: Option<&str>| NewFact {
            country: None,
            buyer: buyer.map(str::to_owned),
            metric: "recycling_input_rate".into(),
            unit: Some("%".into()),
            value: Some(42.0),
            ..valid()
        };
        let eu = rate(Some("EU")).validate().unwrap();
        assert_eq!(eu.buyer, Some(Buyer::Eu));
        assert_eq!(eu.value, Some(0.42));
        assert_eq!(rate(None).validate().unwrap().buyer, None);
    }
}
