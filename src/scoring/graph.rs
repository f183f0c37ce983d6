//! The product graph as it was recorded: every revision of every product,
//! so a `recorded` read of the past scores the graph the service held then.

use std::collections::{BTreeMap, HashSet};

use time::OffsetDateTime;

use super::snapshot::{Snapshot, SnapshotError};
use crate::domain::{Product, ProductId};

/// Every recorded revision of every product, oldest first.
#[derive(Debug, Clone, Default)]
pub struct GraphHistory {
    revisions: Vec<(OffsetDateTime, Product)>,
}

impl GraphHistory {
    pub fn new(mut revisions: Vec<(OffsetDateTime, Product)>) -> GraphHistory {
        revisions.sort_by_key(|(at, _)| *at);
        GraphHistory { revisions }
    }

    /// How many revisions had been recorded at `as_of`: two instants with
    /// the same count saw the same graph.
    pub fn recorded_by(&self, as_of: OffsetDateTime) -> usize {
        self.revisions.partition_point(|(at, _)| *at <= as_of)
    }

    /// Whether every revision had been recorded at `as_of`: the graph then
    /// is today's.
    pub fn is_current_at(&self, as_of: OffsetDateTime) -> bool {
        self.recorded_by(as_of) == self.revisions.len()
    }

    /// Each product's latest revision recorded by `as_of`.
    pub fn products_at(&self, as_of: OffsetDateTime) -> Vec<Product> {
        let mut latest: BTreeMap<&ProductId, &Product> = BTreeMap::new();
        for (_, product) in &self.revisions[..self.recorded_by(as_of)] {
            latest.insert(&product.id, product);
        }
        latest.into_values().cloned().collect()
    }
}

impl Snapshot {
    /// The same facts over another graph (facts of products it lacks are
    /// left out).
    pub fn with_products(&self, products: Vec<Product>) -> Result<Snapshot, SnapshotError> {
        let ids: HashSet<&ProductId> = products.iter().map(|p| &p.id).collect();
        let facts = self
            .facts()
            .iter()
            .filter(|f| f.product.as_ref().is_none_or(|p| ids.contains(p)))
            .cloned()
            .collect();
        Snapshot::new(products, facts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ProductInput, Stage};
    use time::macros::datetime;

    fn product(id: &str, stage: Stage, inputs: &[(&str, f64)]) -> Product {
        Product {
            id: ProductId::parse(id).unwrap(),
            name: id.to_owned(),
            stage,
            description: String::new(),
            hs_codes: Vec::new(),
            inputs: inputs
                .iter()
                .map(|(input, share)| ProductInput {
                    product: ProductId::parse(input).unwrap(),
                    share: *share,
                    essential: true,
                })
                .collect(),
        }
    }

    #[test]
    fn each_product_reads_its_latest_revision_recorded_by_then() {
        let history = GraphHistory::new(vec![
            (
                datetime!(2025-03-01 00:00 UTC),
                product("oxide", Stage::Smelting, &[("ore", 0.5)]),
            ),
            (
                datetime!(2025-01-01 00:00 UTC),
                product("ore", Stage::Mining, &[]),
            ),
            (
                datetime!(2025-06-01 00:00 UTC),
                product("oxide", Stage::Smelting, &[("ore", 1.0)]),
            ),
        ]);
        assert!(history
            .products_at(datetime!(2024-12-31 00:00 UTC))
            .is_empty());
        let oxide = |products: Vec<Product>| {
            products
                .into_iter()
                .find(|p| p.id.as_str() == "oxide")
                .unwrap()
        };
        let spring = history.products_at(datetime!(2025-04-01 00:00 UTC));
        assert_eq!(spring.len(), 2);
        assert_eq!(oxide(spring).inputs[0].share, 0.5);
        let summer = history.products_at(datetime!(2025-07-01 00:00 UTC));
        assert_eq!(oxide(summer).inputs[0].share, 1.0);
        assert!(history.is_current_at(datetime!(2025-07-01 00:00 UTC)));
        assert!(!history.is_current_at(datetime!(2025-04-01 00:00 UTC)));
        assert_eq!(
            history.recorded_by(datetime!(2025-04-01 00:00 UTC)),
            history.recorded_by(datetime!(2025-05-01 00:00 UTC)),
            "the same graph"
        );
    }
}
