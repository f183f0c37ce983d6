//! What the store hands back: validated values plus what the server
//! recorded about them. These are also the API's response bodies.

use serde::Serialize;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use super::{
    Buyer, CountryCode, Fact, FactStatus, Metric, Period, ProductId, ProductInput, SourceId,
    SourceKind, Stage, Unit,
};

/// A stored source.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SourceRecord {
    /// The source's id, cited by facts as `source_id`.
    pub id: SourceId,
    /// The publication's title.
    pub title: String,
    /// Who published it.
    pub publisher: String,
    /// What kind of source it is; sets the default reliability.
    pub kind: SourceKind,
    /// Where to read it.
    pub url: Option<String>,
    /// When it was published.
    #[schema(value_type = Option<String>, format = Date)]
    pub published_on: Option<time::Date>,
    /// When it was last consulted.
    #[schema(value_type = Option<String>, format = Date)]
    pub accessed_on: Option<time::Date>,
    /// Free text about the source.
    pub notes: Option<String>,
    /// Fraction 0–1: the reliability prior, the kind's default unless
    /// overridden; a fact without a confidence takes it.
    pub reliability: f64,
    /// Whether `reliability` was set for this source rather than taken from
    /// its kind.
    pub reliability_overridden: bool,
    /// When the service recorded the source (server time, UTC).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub recorded_at: OffsetDateTime,
}

/// A stored product with its inputs and the products that use it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductRecord {
    /// The product's id, used in every path and fact.
    pub id: ProductId,
    /// Its name, for people.
    pub name: String,
    /// Its stage of the supply chain.
    pub stage: Stage,
    /// What the product is; may be empty.
    pub description: String,
    /// Its upstream products, each with the share of its input needs it
    /// covers.
    pub inputs: Vec<ProductInput>,
    /// The HS 1992 six-digit codes its trade is recorded under.
    pub hs_codes: Vec<super::HsCode>,
    /// Products that list this one as an input.
    pub used_by: Vec<ProductId>,
    /// How many times the product has been written (1 = never changed).
    pub revision: i32,
    /// When it was last written (server time, UTC).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

/// A stored fact: what it claims, where from, and when the service learned
/// (and, if so, retracted) it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FactRecord {
    /// The fact's id.
    #[schema(example = 42)]
    pub id: i64,
    /// The product it is about; absent for country-level metrics such as
    /// `governance_wgi`.
    pub product: Option<ProductId>,
    /// The country it is about (the origin, for `import_share`); absent
    /// for world-wide or product-wide values.
    pub country: Option<CountryCode>,
    /// The buyer, for buyer-specific metrics; absent for every buyer.
    pub buyer: Option<Buyer>,
    /// The facility or project, for plant-level values.
    pub facility: Option<String>,
    /// What the fact records.
    pub metric: Metric,
    /// In the metric's canonical unit (`unit`); absent only for qualitative
    /// metrics.
    pub value: Option<f64>,
    /// The metric's canonical unit, to which the value was converted.
    pub unit: Unit,
    /// The time the fact describes.
    pub period: Period,
    /// Its status (`actual`, `estimate`, `operating`, `in_force`, …).
    pub status: FactStatus,
    /// Country whose firms control this capacity (`CN` for a Chinese-owned
    /// plant abroad).
    pub controlled_by: Option<CountryCode>,
    /// Year pipeline capacity is expected online.
    pub expected_online: Option<i32>,
    /// The source the fact cites.
    pub source_id: SourceId,
    /// Fraction 0–1: the fact's own confidence, or its source's reliability
    /// when it gave none.
    pub confidence: f64,
    /// When the information became public: the fact's own date, else its
    /// source's `published_on`, else the day it was recorded.
    #[schema(value_type = String, format = Date)]
    pub published_on: Date,
    /// Verbatim excerpt from the source.
    pub quote: Option<String>,
    /// Where in the source: table, page or section.
    pub locator: Option<String>,
    /// Free text.
    pub note: Option<String>,
    /// When the service recorded the fact (server time, UTC); reads of an
    /// earlier instant in the `recorded` view do not see it.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub recorded_at: OffsetDateTime,
    /// When it was retracted; absent while it stands.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub retracted_at: Option<OffsetDateTime>,
    /// Why it was retracted.
    pub retraction_reason: Option<String>,
    /// When the retraction became public (set with the retraction).
    #[schema(value_type = Option<String>, format = Date)]
    pub retraction_published_on: Option<Date>,
}

impl FactRecord {
    /// A validated fact as stored: its id, its confidence resolved (its own,
    /// else its source's reliability) and when it was recorded.
    pub fn from_fact(
        id: i64,
        fact: Fact,
        defaults: FactDefaults,
        recorded_at: OffsetDateTime,
    ) -> FactRecord {
        FactRecord {
            id,
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
            source_id: fact.source_id,
            confidence: defaults.confidence,
            published_on: defaults.published_on,
            quote: fact.quote,
            locator: fact.locator,
            note: fact.note,
            recorded_at,
            retracted_at: None,
            retraction_reason: None,
            retraction_published_on: None,
        }
    }

    /// What the fact claims, without what the server set (id, recording,
    /// retraction): two facts making the same claim have the same claim.
    pub fn claim(&self) -> String {
        let mut value = serde_json::to_value(self).expect("a record serialises");
        if let Some(fields) = value.as_object_mut() {
            for server_set in [
                "id",
                "recorded_at",
                "retracted_at",
                "retraction_reason",
                "retraction_published_on",
            ] {
                fields.remove(server_set);
            }
        }
        value.to_string()
    }
}

/// What a write settles for a fact from what it refers to: its confidence
/// (its own, else its source's reliability) and its publication date (its
/// own, else its source's, else the day it is recorded).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FactDefaults {
    pub confidence: f64,
    pub published_on: Date,
}
