use std::sync::Arc;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A product's id: a lowercase slug such as `sintered-ndfeb-magnet`.
// Clones share the text, so the many facts naming one product hold it once.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, ToSchema)]
#[serde(try_from = "String")]
#[schema(value_type = String, example = "sintered-ndfeb-magnet", pattern = "^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$")]
pub struct ProductId(Arc<str>);

impl ProductId {
    pub fn parse(s: &str) -> Result<ProductId, String> {
        parse_slug(s).map(|slug| ProductId(Arc::from(slug)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ProductId {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        ProductId::parse(&value)
    }
}

impl From<ProductId> for String {
    fn from(value: ProductId) -> Self {
        value.0.as_ref().to_owned()
    }
}

impl Serialize for ProductId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl std::fmt::Display for ProductId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Slugs: 2 to 64 characters of `a-z`, `0-9` and inner hyphens.
pub(super) fn parse_slug(s: &str) -> Result<String, String> {
    let ok = (2..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "`{s}` is not a valid id: use 2 to 64 lowercase letters, digits and inner hyphens"
        ))
    }
}

/// An edge to an upstream product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    /// The upstream product.
    pub product: ProductId,
    /// Share of this product's input needs that the upstream product covers (0..1).
    #[schema(minimum = 0.0, maximum = 1.0, example = 0.3)]
    pub share: f64,
    /// An essential input cannot be substituted.
    #[serde(default)]
    pub essential: bool,
}

/// A product as clients submit it (the id comes from the path on `PUT`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "id": "sintered-ndfeb-magnet",
    "name": "Sintered NdFeB permanent magnet",
    "stage": "materials",
    "description": "Sintered neodymium-iron-boron magnet blocks and finished magnets.",
    "inputs": [
        {"product": "ndpr-metal", "share": 0.85, "essential": true},
        {"product": "dy-oxide", "share": 0.1, "essential": false},
        {"product": "tb-oxide", "share": 0.05, "essential": false}
    ]
}))]
pub struct NewProduct {
    /// 2 to 64 lower-case letters, digits and inner hyphens.
    #[schema(value_type = Option<String>, example = "sintered-ndfeb-magnet", pattern = "^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$")]
    pub id: Option<String>,
    /// 1 to 200 characters, not all blank.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    #[schema(value_type = super::Stage)]
    pub stage: String,
    /// At most 4000 characters.
    #[serde(default)]
    #[schema(max_length = 4000)]
    pub description: String,
    #[serde(default)]
    pub inputs: Vec<NewProductInput>,
    /// The HS 1992 six-digit codes its trade is recorded under, at most
    /// 20, each in the code table of the trade data (one code may serve
    /// several products: rare-earth compounds stand for each separated
    /// oxide).
    #[serde(default)]
    #[schema(value_type = Vec<String>, max_items = 20, example = json!(["284690"]))]
    pub hs_codes: Vec<String>,
}

/// Most HS codes one product may carry.
pub const MAX_HS_CODES: usize = 20;

/// An input edge as submitted.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProductInput {
    #[schema(value_type = String, example = "ndpr-metal", pattern = "^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$")]
    pub product: String,
    #[schema(minimum = 0.0, maximum = 1.0, example = 0.9)]
    pub share: f64,
    #[serde(default)]
    pub essential: bool,
}

/// A validated product.
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    pub id: ProductId,
    pub name: String,
    pub stage: super::Stage,
    pub description: String,
    pub inputs: Vec<ProductInput>,
    pub hs_codes: Vec<super::HsCode>,
}

impl NewProduct {
    /// Validates the product's own fields; `id` comes from the body or the
    /// path. Whether inputs exist and keep the graph acyclic is checked
    /// against the stored graph.
    pub fn validate(self, id: Option<&str>) -> Result<Product, Vec<(String, String)>> {
        let mut errors: Vec<(String, String)> = Vec::new();
        let raw_id = match (id, &self.id) {
            (Some(path), Some(body)) if path != body => {
                errors.push((
                    "/id".into(),
                    format!("`{body}` differs from the id in the path `{path}`"),
                ));
                path.to_owned()
            }
            (Some(path), _) => path.to_owned(),
            (None, Some(body)) => body.clone(),
            (None, None) => {
                errors.push(("/id".into(), "is required".into()));
                String::new()
            }
        };
        let product_id = ProductId::parse(&raw_id)
            .map_err(|e| errors.push(("/id".into(), e)))
            .ok();
        let stage = super::Stage::parse(&self.stage);
        if stage.is_none() {
            errors.push((
                "/stage".into(),
                format!(
                    "`{}` is not a stage: use mining, smelting, materials or applications",
                    self.stage
                ),
            ));
        }
        if self.name.trim().is_empty() || self.name.chars().count() > 200 {
            errors.push(("/name".into(), "must be 1 to 200 characters".into()));
        }
        if self.description.chars().count() > 4000 {
            errors.push((
                "/description".into(),
                "must be at most 4000 characters".into(),
            ));
        }
        let mut inputs = Vec::new();
        for (index, input) in self.inputs.into_iter().enumerate() {
            let pointer = format!("/inputs/{index}");
            match ProductId::parse(&input.product) {
                Ok(upstream) if Some(&upstream) == product_id.as_ref() => errors.push((
                    format!("{pointer}/product"),
                    "a product cannot be its own input".into(),
                )),
                Ok(upstream) if inputs.iter().any(|i: &ProductInput| i.product == upstream) => {
                    errors.push((
                        format!("{pointer}/product"),
                        format!("`{upstream}` is listed twice"),
                    ))
                }
                Ok(upstream) => inputs.push(ProductInput {
                    product: upstream,
                    share: input.share,
                    essential: input.essential,
                }),
                Err(e) => errors.push((format!("{pointer}/product"), e)),
            }
            if !(0.0..=1.0).contains(&input.share) {
                errors.push((format!("{pointer}/share"), "must be between 0 and 1".into()));
            }
        }
        if self.hs_codes.len() > MAX_HS_CODES {
            errors.push((
                "/hs_codes".into(),
                format!("must list at most {MAX_HS_CODES} codes"),
            ));
        }
        let mut hs_codes = Vec::new();
        for (index, code) in self.hs_codes.iter().enumerate().take(MAX_HS_CODES) {
            let pointer = format!("/hs_codes/{index}");
            match super::HsCode::parse(code) {
                Ok(code) if hs_codes.contains(&code) => {
                    errors.push((pointer, format!("`{code}` is listed twice")))
                }
                Ok(code) => hs_codes.push(code),
                Err(e) => errors.push((pointer, e)),
            }
        }
        match (product_id, stage, errors.is_empty()) {
            (Some(id), Some(stage), true) => Ok(Product {
                id,
                name: self.name,
                stage,
                description: self.description,
                inputs,
                hs_codes,
            }),
            _ => Err(errors),
        }
    }
}

/// Finds a cycle that adding `product`'s `inputs` would close in a graph
/// given as `edges(product) -> inputs`; returns it as a path from `product`
/// back to itself.
pub fn find_cycle<'a>(
    product: &'a ProductId,
    inputs: impl IntoIterator<Item = &'a ProductId>,
    edges: &'a std::collections::HashMap<ProductId, Vec<ProductId>>,
) -> Option<Vec<ProductId>> {
    // Depth-first search from each new input, looking for `product`.
    fn search<'a>(
        node: &'a ProductId,
        target: &ProductId,
        edges: &'a std::collections::HashMap<ProductId, Vec<ProductId>>,
        path: &mut Vec<ProductId>,
        seen: &mut std::collections::HashSet<&'a ProductId>,
    ) -> bool {
        path.push(node.clone());
        if node == target {
            return true;
        }
        if seen.insert(node) {
            for next in edges.get(node).into_iter().flatten() {
                if search(next, target, edges, path, seen) {
                    return true;
                }
            }
        }
        path.pop();
        false
    }
    let mut seen = std::collections::HashSet::new();
    for input in inputs {
        let mut path = vec![product.clone()];
        if search(input, product, edges, &mut path, &mut seen) {
            return Some(path);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn id(s: &str) -> ProductId {
        ProductId::parse(s).unwrap()
    }

    #[test]
    fn slugs_are_lowercase_with_inner_hyphens() {
        assert!(ProductId::parse("ndpr-oxide").is_ok());
        for bad in ["NdPr", "-a", "a-", "a", "a b", "ndpr_oxide"] {
            assert!(ProductId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_cycle_is_found_and_named() {
        // pb needs pc, pc needs pa; making pa need pb closes pa → pb → pc → pa.
        let edges = HashMap::from([(id("pb"), vec![id("pc")]), (id("pc"), vec![id("pa")])]);
        let a = id("pa");
        let b = id("pb");
        let cycle = find_cycle(&a, [&b], &edges).unwrap();
        assert_eq!(cycle, vec![id("pa"), id("pb"), id("pc"), id("pa")]);
        let d = id("pd");
        assert_eq!(find_cycle(&d, [&b], &edges), None);
    }
}
