//! Cursor pagination: opaque cursors, bounded limits, one page shape, a
//! `Link: <…>; rel="next"` header. A cursor is bound to the listing and to
//! the parameters it was issued for (sort, filters; not `limit`), so reusing
//! it with others is refused instead of silently starting over.

use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ApiError;

/// One listing request: its kind of cursor, bound to its parameters, and
/// where its next page is.
pub struct Listing {
    kind: String,
    path: String,
    /// The query without `cursor`, as sent.
    query: Vec<(String, String)>,
}

impl Listing {
    pub fn new(kind: &str, req: &HttpRequest) -> Listing {
        use sha2::Digest;
        let query: Vec<(String, String)> = form_urlencoded::parse(req.query_string().as_bytes())
            .filter(|(name, _)| name != "cursor")
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        let mut binding: Vec<&(String, String)> =
            query.iter().filter(|(name, _)| name != "limit").collect();
        binding.sort();
        let digest = sha2::Sha256::digest(format!("{binding:?}"));
        let tag: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        Listing {
            kind: format!("{kind}.{tag}"),
            path: req.path().to_owned(),
            query,
        }
    }

    /// The key a `cursor` parameter carries, parsed; `None` without a cursor.
    pub fn after<K: std::str::FromStr>(&self, cursor: Option<&str>) -> Result<Option<K>, ApiError> {
        cursor
            .map(|cursor| self.decode(cursor)?.parse().map_err(|_| invalid_cursor()))
            .transpose()
    }

    /// The (creation instant, id) a `cursor` of a newest-first listing of
    /// UUID-keyed records carries; `None` without a cursor.
    pub fn after_created(
        &self,
        cursor: Option<&str>,
    ) -> Result<Option<(time::OffsetDateTime, uuid::Uuid)>, ApiError> {
        cursor
            .map(|cursor| {
                let key = self.decode(cursor)?;
                let (nanos, id) = key.split_once('|').ok_or_else(invalid_cursor)?;
                // An instant PostgreSQL can hold: a forged cursor is a 422.
                let at = nanos
                    .parse::<i128>()
                    .ok()
                    .and_then(|n| time::OffsetDateTime::from_unix_timestamp_nanos(n).ok())
                    .filter(|at| (1970..=9999).contains(&at.year()))
                    .ok_or_else(invalid_cursor)?;
                Ok((at, uuid::Uuid::parse_str(id).map_err(|_| invalid_cursor())?))
            })
            .transpose()
    }

    /// The key [`Listing::after_created`] reads back.
    pub fn created_key(at: time::OffsetDateTime, id: impl std::fmt::Display) -> String {
        format!("{}|{id}", at.unix_timestamp_nanos())
    }

    pub fn decode(&self, cursor: &str) -> Result<String, ApiError> {
        decode(&self.kind, cursor)
    }

    pub fn encode(&self, key: &str) -> String {
        encode(&self.kind, key)
    }

    pub fn page<T: ToSchema>(
        &self,
        page: crate::store::Page<T>,
        key: impl Fn(&T) -> String,
    ) -> Paged<T> {
        let next_cursor = page
            .has_more
            .then(|| page.items.last().map(|last| self.encode(&key(last))))
            .flatten();
        Paged {
            items: page.items,
            has_more: page.has_more,
            next_cursor,
        }
    }

    /// The page as JSON, with a `Link` to the next one when there is one.
    pub fn respond<T: ToSchema + Serialize>(&self, page: &Paged<T>) -> HttpResponse {
        self.response(page.next_cursor.as_deref()).json(page)
    }

    /// A JSON page already rendered (see [`joined_page`]).
    pub fn respond_json_bytes(&self, body: Bytes, next_cursor: Option<&str>) -> HttpResponse {
        self.response(next_cursor)
            .content_type("application/json")
            .body(body)
    }

    /// The page as CSV, its header row first; the `Link` header is the only
    /// way to the next page, as there is no body to carry `next_cursor`.
    pub fn respond_csv<T: ToSchema + Serialize>(
        &self,
        page: &Paged<T>,
        table: super::csv_export::Table,
    ) -> Result<HttpResponse, ApiError> {
        Ok(self
            .response(page.next_cursor.as_deref())
            .content_type(super::csv_export::TEXT_CSV)
            .body(table.rows(&page.items, true)?))
    }

    fn response(&self, next_cursor: Option<&str>) -> actix_web::HttpResponseBuilder {
        let mut response = HttpResponse::Ok();
        if let Some(cursor) = next_cursor {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.extend_pairs(&self.query);
            query.append_pair("cursor", cursor);
            response.insert_header((
                actix_web::http::header::LINK,
                format!("<{}?{}>; rel=\"next\"", self.path, query.finish()),
            ));
        }
        response
    }
}

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

/// One page of results. Pass `next_cursor` as `cursor` to get the next.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T: ToSchema> {
    /// This page's items, in the listing's order.
    pub items: Vec<T>,
    /// Whether another page follows.
    pub has_more: bool,
    /// Opaque; absent on the last page.
    #[schema(example = "69643a3432")]
    pub next_cursor: Option<String>,
}

/// A JSON page of items already rendered, byte for byte the whole page
/// rendered with its derived numbers rounded.
pub fn joined_page<'a>(
    items: impl Iterator<Item = &'a [u8]>,
    has_more: bool,
    next_cursor: Option<&str>,
) -> Bytes {
    let items: Vec<&[u8]> = items.collect();
    let size = items.iter().map(|item| item.len() + 1).sum::<usize>()
        + next_cursor.map_or(0, str::len)
        + 64;
    let mut body = Vec::with_capacity(size);
    body.extend_from_slice(b"{\"items\":[");
    for (n, item) in items.into_iter().enumerate() {
        if n > 0 {
            body.push(b',');
        }
        body.extend_from_slice(item);
    }
    body.extend_from_slice(b"],\"has_more\":");
    body.extend_from_slice(if has_more { b"true" } else { b"false" });
    body.extend_from_slice(b",\"next_cursor\":");
    serde_json::to_writer(&mut body, &next_cursor).expect("a string renders");
    body.push(b'}');
    Bytes::from(body)
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
fn encode(kind: &str, key: &str) -> String {
    format!("{kind}:{key}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode(kind: &str, cursor: &str) -> Result<String, ApiError> {
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

/// The problem for a cursor this listing did not hand out.
pub fn invalid_cursor() -> ApiError {
    ApiError::invalid_parameter(
        "cursor",
        "query",
        "is not a cursor this listing returned for these parameters: \
         pass the next_cursor of a page with the same sort and filters",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, ToSchema)]
    struct Item {
        value: f64,
        name: String,
    }

    #[test]
    fn a_page_of_rendered_items_is_the_page_rendered_whole() {
        let req = actix_web::test::TestRequest::get()
            .uri("/v1/things?limit=2")
            .to_http_request();
        let listing = Listing::new("things", &req);
        for (has_more, next_cursor) in [(true, Some("abc\"d".to_owned())), (false, None)] {
            let page = Paged {
                items: vec![
                    Item {
                        value: 90.00000000000001,
                        name: "a".into(),
                    },
                    Item {
                        value: -0.0,
                        name: "b\u{e9}".into(),
                    },
                ],
                has_more,
                next_cursor,
            };
            let whole = super::super::render::to_vec(&page).unwrap();
            let rendered: Vec<Vec<u8>> = page
                .items
                .iter()
                .map(|i| super::super::render::to_vec(i).unwrap())
                .collect();
            let joined = joined_page(
                rendered.iter().map(|i| &i[..]),
                page.has_more,
                page.next_cursor.as_deref(),
            );
            let response = listing.respond_json_bytes(joined.clone(), page.next_cursor.as_deref());
            let link = response
                .headers()
                .get("link")
                .map(|l| l.to_str().unwrap().to_owned());
            assert_eq!(link.is_some(), has_more, "{link:?}");
            assert_eq!(&whole[..], &joined[..]);
        }
        let empty = joined_page(std::iter::empty(), false, None);
        assert_eq!(
            &empty[..],
            br#"{"items":[],"has_more":false,"next_cursor":null}"#
        );
    }

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
