use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// CEPII's table of the HS 1992 six-digit codes BACI reports trade in: the
/// code table every trade connector reads, so a product can only name a
/// code that trade data can carry.
const HS92_TABLE: &str = include_str!("../../data/public/baci/product_codes_HS92_V202401b.csv");

/// An HS 1992 six-digit product code known to the trade code table.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "284690", pattern = "^[0-9]{6}$")]
pub struct HsCode([u8; 6]);

/// The table's codes with their descriptions, sorted by code.
fn table() -> &'static [(HsCode, &'static str)] {
    static TABLE: OnceLock<Vec<(HsCode, &'static str)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut rows: Vec<(HsCode, &'static str)> = HS92_TABLE
            .lines()
            .skip(1)
            .filter_map(|line| {
                let (code, description) = line.split_once(',')?;
                let code = HsCode::digits(code)?;
                Some((code, description.trim_matches('"')))
            })
            .collect();
        rows.sort_unstable_by_key(|(code, _)| *code);
        rows
    })
}

impl HsCode {
    fn digits(s: &str) -> Option<HsCode> {
        let bytes: [u8; 6] = s.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(u8::is_ascii_digit)
            .then_some(HsCode(bytes))
    }

    /// Six digits of a code in the HS 1992 table, or why not.
    pub fn parse(s: &str) -> Result<HsCode, String> {
        let code = HsCode::digits(s)
            .ok_or_else(|| format!("`{s}` is not an HS code: use six digits, such as `284690`"))?;
        code.description()
            .map(|_| code)
            .ok_or_else(|| format!("`{s}` is not in the HS 1992 code table of the trade data"))
    }

    /// The code as BACI writes it in its `k` column: an integer, so codes of
    /// chapters 01–09 lose their leading zero.
    pub fn from_number(k: u32) -> Option<HsCode> {
        (k < 1_000_000)
            .then(|| format!("{k:06}"))
            .and_then(|s| HsCode::parse(&s).ok())
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("HS codes are ASCII digits")
    }

    /// The table's description of the code.
    pub fn description(&self) -> Option<&'static str> {
        let rows = table();
        rows.binary_search_by_key(self, |(code, _)| *code)
            .ok()
            .map(|i| rows[i].1)
    }
}

impl TryFrom<String> for HsCode {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        HsCode::parse(&value)
    }
}

impl From<HsCode> for String {
    fn from(value: HsCode) -> Self {
        value.as_str().to_owned()
    }
}

impl std::fmt::Display for HsCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_digits_of_the_hs92_table_only() {
        let code = HsCode::parse("284690").unwrap();
        assert!(code.description().unwrap().contains("rare-earth"));
        assert_eq!(HsCode::from_number(10111).unwrap().as_str(), "010111");
        for bad in ["28469", "2846900", "28469a", " 284690", "123456", ""] {
            assert!(HsCode::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(HsCode::from_number(1_000_000), None);
    }
}
