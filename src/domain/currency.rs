use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An ISO 4217 alphabetic currency code: three upper-case ASCII letters.
/// Only the form is checked, not the list of assigned codes: the service
/// converts nothing, it only labels amounts the caller gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");

    /// Exactly three upper-case letters: no other case, no surrounding
    /// whitespace (one rule for bodies and queries alike).
    pub fn parse(s: &str) -> Option<Currency> {
        let bytes: [u8; 3] = s.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(u8::is_ascii_uppercase)
            .then_some(Currency(bytes))
    }

    /// [`Currency::parse`], or the message every field and parameter
    /// answers a bad code with, naming the accepted form.
    pub fn read(text: &str) -> Result<Currency, String> {
        Currency::parse(text).ok_or_else(|| {
            format!("`{text}` is not an ISO 4217 currency code: write three upper-case letters, such as `EUR`")
        })
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("currency codes are ASCII")
    }
}

impl Default for Currency {
    fn default() -> Self {
        Currency::USD
    }
}

impl TryFrom<String> for Currency {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Currency::read(&value)
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.as_str().to_owned()
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl utoipa::PartialSchema for Currency {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "An ISO 4217 alphabetic currency code: three upper-case letters",
            ))
            .pattern(Some("^[A-Z]{3}$"))
            .examples([serde_json::json!("USD")])
            .into()
    }
}

impl ToSchema for Currency {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_three_upper_case_letters_are_a_currency() {
        assert_eq!(
            Currency::parse("EUR").map(|c| c.to_string()),
            Some("EUR".into())
        );
        for bad in ["eur", "Eur", "EURO", "EU", "", " EUR", "E1R", "ÉUR"] {
            assert!(Currency::parse(bad).is_none(), "{bad}");
        }
        assert!(Currency::read("eur").unwrap_err().contains("ISO 4217"));
        assert_eq!(Currency::default(), Currency::USD);
    }
}
