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
    pub id: SourceId,
    pub title: String,
    pub publisher: String,
    pub kind: SourceKind,
    pub url: Option<String>,
    #[schema(value_type = Option<String>, format = Date)]
    pub published_on: Option<time::Date>,
    #[schema(value_type = Option<String>, format = Date)]
    pub accessed_on: Option<time::Date>,
    pub notes: Option<String>,
    /// Reliability prior (0..1): the kind's default unless overridden.
    pub reliability: f64,
    pub reliability_overridden: bool,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub recorded_at: OffsetDateTime,
}

/// A stored product with its inputs and the products that use it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductRecord {
    pub id: ProductId,
    pub name: String,
    pub stage: Stage,
    pub description: String,
    pub inputs: Vec<ProductInput>,
    /// Products that list this one as an input.
    pub used_by: Vec<ProductId>,
    /// How many times the product has been written (1 = never changed).
    pub revision: i32,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

/// A stored fact: what it claims, where from, and when the service learned
/// (and, if so, retracted) it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FactRecord {
    #[schema(example = 42)]
    pub id: i64,
    pub product: Option<ProductId>,
    pub country: Option<CountryCode>,
    pub buyer: Option<Buyer>,
    pub facility: Option<String>,
    pub metric: Metric,
    /// In the metric's canonical unit.
    pub value: Option<f64>,
    pub unit: Unit,
    pub period: Period,
    pub status: FactStatus,
    pub controlled_by: Option<CountryCode>,
    pub expected_online: Option<i32>,
    pub source_id: SourceId,
    /// The fact's own confidence, or its source's reliability when it gave none.
    pub confidence: f64,
    /// When the information became public: the fact's own date, else its
    /// source's `published_on`, else the day it was recorded.
    #[schema(value_type = String, format = Date)]
    pub published_on: Date,
    pub quote: Option<String>,
    pub locator: Option<String>,
    pub note: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub recorded_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub retracted_at: Option<OffsetDateTime>,
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
