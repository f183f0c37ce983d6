//! Cursor pagination: opaque cursors, bounded limits, one page shape.

use serde::Serialize;
use utoipa::ToSchema;

use super::error::ApiError;

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

/// One page of results. Pass `next_cursor` as `cursor` to get the next.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T: ToSchema> {
    pub items: Vec<T>,
    pub has_more: bool,
    /// Opaque; absent on the last page.
    #[schema(example = "69643a3432")]
    pub next_cursor: Option<String>,
}

pub fn limit(requested: Option<usize>) -> Result<usize, ApiError> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::invalid_parameter(
            "limit",
            "query",
            format!("must be between 1 and {MAX_LIMIT}"),
        )),
    }
}

/// Cursors are hex of `<kind>:<key>`: opaque to clients, checked on the way in.
pub fn encode(kind: &str, key: &str) -> String {
    format!("{kind}:{key}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn decode(kind: &str, cursor: &str) -> Result<String, ApiError> {
    let invalid = invalid_cursor;
    if cursor.len() % 2 != 0 || cursor.len() > 512 {
        return Err(invalid());
    }
    // By bytes: a client may send anything, multibyte characters included.
    let bytes: Option<Vec<u8>> = cursor
        .as_bytes()
        .chunks(2)
        .map(|pair| {
            let hex = std::str::from_utf8(pair).ok()?;
            hex.bytes()
                .all(|b| b.is_ascii_hexdigit())
                .then(|| u8::from_str_radix(hex, 16).ok())?
        })
        .collect();
    let text = String::from_utf8(bytes.ok_or_else(invalid)?).map_err(|_| invalid())?;
    text.strip_prefix(&format!("{kind}:"))
        .map(str::to_owned)
        .ok_or_else(invalid)
}

/// The key a `cursor` parameter carries, parsed; `None` without a cursor.
pub fn after<K: std::str::FromStr>(
    kind: &str,
    cursor: Option<&str>,
) -> Result<Option<K>, ApiError> {
    cursor
        .map(|cursor| decode(kind, cursor)?.parse().map_err(|_| invalid_cursor()))
        .transpose()
}

/// The problem for a cursor this listing did not hand out.
pub fn invalid_cursor() -> ApiError {
    ApiError::invalid_parameter("cursor", "query", "is not a cursor this listing returned")
}

pub fn page<T: ToSchema>(
    page: crate::store::Page<T>,
    kind: &str,
    key: impl Fn(&T) -> String,
) -> Paged<T> {
    let next_cursor = page
        .has_more
        .then(|| page.items.last().map(|last| encode(kind, &key(last))))
        .flatten();
    Paged {
        items: page.items,
        has_more: page.has_more,
        next_cursor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_are_checked() {
        let cursor = encode("facts", "42");
        assert_eq!(decode("facts", &cursor).unwrap(), "42");
        assert!(decode("sources", &cursor).is_err());
        assert!(decode("facts", "zz").is_err());
        for hostile in ["aéa", "é", "€€", "+1", ""] {
            assert!(decode("facts", hostile).is_err(), "{hostile}");
        }
    }
}
