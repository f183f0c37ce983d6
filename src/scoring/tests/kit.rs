//! A small builder for snapshots in tests.

use time::macros::datetime;
use time::OffsetDateTime;

use crate::domain::{
    Buyer, CountryCode, FactStatus, Knowledge, Metric, Period, Product, ProductId, ProductInput,
    SourceId, SourceKind, Stage,
};
use crate::scoring::{Params, ProductScore, Snapshot, SnapshotFact};

pub const AS_OF: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);
pub const RECORDED: OffsetDateTime = datetime!(2025-06-01 00:00 UTC);

pub fn id(s: &str) -> ProductId {
    ProductId::parse(s).unwrap()
}

pub fn country(s: &str) -> CountryCode {
    CountryCode::parse(s).unwrap()
}

pub fn us() -> Buyer {
    Buyer::Country(country("US"))
}

pub fn params() -> Params {
    Params::new(us(), AS_OF)
}

pub fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() <= 1e-9 * expected.abs().max(1.0)
}

#[track_caller]
pub fn assert_close(actual: f64, expected: f64) {
    assert!(close(actual, expected), "expected {expected}, got {actual}");
}

#[derive(Debug, Default, Clone)]
pub struct Kit {
    pub products: Vec<Product>,
    pub facts: Vec<SnapshotFact>,
}

impl Kit {
    pub fn new() -> Kit {
        Kit::default()
    }

    /// Adds a product; inputs are `(id, share, essential)`.
    pub fn product(
        &mut self,
        product: &str,
        stage: Stage,
        inputs: &[(&str, f64, bool)],
    ) -> &mut Kit {
        self.products.push(Product {
            id: id(product),
            name: product.to_owned(),
            stage,
            description: String::new(),
            hs_codes: Vec::new(),
            inputs: inputs
                .iter()
                .map(|(input, share, essential)| ProductInput {
                    product: id(input),
                    share: *share,
                    essential: *essential,
                })
                .collect(),
        });
        self
    }

    /// Adds a fact for 2024, actual, global, confidence 1, recorded before
    /// [`AS_OF`]; returns it for adjustment. An empty product or country
    /// leaves it out.
    pub fn fact(
        &mut self,
        product: &str,
        country_code: &str,
        metric: Metric,
        value: f64,
    ) -> &mut SnapshotFact {
        let product = (!product.is_empty()).then(|| id(product));
        let next_id = self.facts.len() as i64 + 1;
        self.facts.push(SnapshotFact {
            id: next_id,
            product,
            country: (!country_code.is_empty()).then(|| country(country_code)),
            buyer: None,
            facility: None,
            metric,
            value: Some(value),
            period: Period::year(2024).unwrap(),
            status: FactStatus::Actual,
            controlled_by: None,
            expected_online: None,
            source_id: SourceId::parse("test-source").unwrap(),
            source_kind: SourceKind::GovernmentStatistics,
            confidence: 1.0,
            knowledge: Knowledge {
                published_on: RECORDED.date(),
                recorded_at: RECORDED,
                retracted_at: None,
                retraction_published_on: None,
            },
        });
        self.facts.last_mut().unwrap()
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot::new(self.products.clone(), self.facts.clone()).expect("a valid snapshot")
    }

    pub fn score(&self, product: &str, params: &Params) -> ProductScore {
        crate::scoring::score_product(&self.snapshot(), &id(product), params)
            .expect("a known product")
    }
}

/// Sets the buyer of a fact.
pub fn for_buyer(fact: &mut SnapshotFact, buyer: Buyer) -> &mut SnapshotFact {
    fact.buyer = Some(buyer);
    fact
}

pub fn period(s: &str) -> Period {
    Period::parse(s).unwrap()
}
