//! The write layer: every use case that writes facts or products, shared
//! by the API and the `seed` command, so a fact loaded from the baseline
//! passes exactly the checks an API client's would and is written the same
//! way. `facts` writes a batch or a retraction, `import` streams an upload
//! through COPY, `products` checks and saves a product against the stored
//! graph. Parsing submissions lives here too, and the framing of streamed
//! uploads (`csv`, one CSV record reader for every upload; `rows`, facts
//! framed from NDJSON or CSV). Callers own the transaction and commit it.

pub mod csv;
pub mod facts;
pub mod import;
pub mod products;
pub mod release;
pub mod rows;

use std::collections::{HashMap, HashSet};

use time::{Date, OffsetDateTime};

use crate::domain::{text, Fact, FactDefaults, NewFact};
use crate::store::{self, StoreError};

/// A write refused: the problems as (JSON Pointer, message), or the store failed.
#[derive(Debug)]
pub enum Rejected {
    Invalid(Vec<(String, String)>),
    Store(StoreError),
}

impl From<StoreError> for Rejected {
    fn from(error: StoreError) -> Rejected {
        Rejected::Store(error)
    }
}

fn problem(pointer: impl Into<String>, message: impl Into<String>) -> (String, String) {
    (pointer.into(), message.into())
}

/// The references a fact must make to stored things, read once per write.
pub struct References {
    products: HashSet<String>,
    /// Each source's reliability and publication date.
    sources: HashMap<String, (f64, Option<Date>)>,
    /// The day of the write: no publication date may lie beyond it.
    today: Date,
}

impl References {
    pub async fn load(
        client: &impl deadpool_postgres::GenericClient,
    ) -> Result<References, StoreError> {
        Ok(References {
            products: store::facts::product_ids(client).await?,
            sources: store::sources::fact_defaults(client).await?,
            today: OffsetDateTime::now_utc().date(),
        })
    }

    /// What the write settles for the fact (confidence and publication
    /// date, from its source where it gives none), or the problems with
    /// what it refers to.
    pub fn check(&self, fact: &Fact) -> Result<FactDefaults, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        if let Some(product) = &fact.product {
            if !self.products.contains(product.as_str()) {
                problems.push(("product", format!("product `{product}` does not exist")));
            }
        }
        if fact.published_on.is_some_and(|day| day > self.today) {
            problems.push((
                "published_on",
                format!("must not be after today ({})", self.today),
            ));
        }
        match self.sources.get(fact.source_id.as_str()) {
            Some((reliability, source_published_on)) if problems.is_empty() => Ok(FactDefaults {
                confidence: fact.confidence.unwrap_or(*reliability),
                // A source's date is bounded when it is written; the cap
                // keeps rows written around the service from reaching here.
                published_on: fact
                    .published_on
                    .or(*source_published_on)
                    .unwrap_or(self.today)
                    .min(self.today),
            }),
            Some(_) => Err(problems),
            None => {
                problems.push((
                    "source_id",
                    format!("source `{}` does not exist", fact.source_id),
                ));
                Err(problems)
            }
        }
    }
}

/// Why a submitted fact was refused: it does not fit the schema (unknown
/// field, wrong type) or it breaks a rule. Problems are (field, message).
pub enum FactError {
    Schema(Vec<(String, String)>),
    Invalid(Vec<(String, String)>),
}

impl FactError {
    pub fn into_problems(self) -> Vec<(String, String)> {
        match self {
            FactError::Schema(problems) | FactError::Invalid(problems) => problems,
        }
    }
}

/// Parses and validates one submitted fact.
pub fn parse_fact(value: serde_json::Value) -> Result<Fact, FactError> {
    if let Some(pointer) = text::nul_pointer(&value) {
        let field = pointer.trim_start_matches('/').replace('/', ".");
        return Err(FactError::Invalid(vec![(
            field,
            text::NUL_MESSAGE.to_owned(),
        )]));
    }
    let new: NewFact = serde_path_to_error::deserialize(value).map_err(|error| {
        let field = error.path().to_string();
        let message = error.into_inner().to_string();
        FactError::Schema(vec![(
            if field == "." { String::new() } else { field },
            message,
        )])
    })?;
    new.validate().map_err(|problems| {
        FactError::Invalid(
            problems
                .into_iter()
                .map(|p| (p.field.to_owned(), p.message))
                .collect(),
        )
    })
}
