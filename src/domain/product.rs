use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A product's id: a lowercase slug such as `sintered-ndfeb-magnet`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "sintered-ndfeb-magnet", pattern = "^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$")]
pub struct ProductId(String);

impl ProductId {
    pub fn parse(s: &str) -> Result<ProductId, String> {
        parse_slug(s).map(ProductId)
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
        value.0
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
