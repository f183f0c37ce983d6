//! CSV responses: content negotiation on `Accept` (JSON or CSV, and SVG or
//! PNG for pictures, by one rule), and one RFC 4180 writer for every listing
//! and report that can be had as a spreadsheet.
//!
//! A table is a list of columns, each a path into the record's JSON form
//! (`dependency_range.low` becomes the column `dependency_range_low`), so a
//! cell says exactly what the JSON field says: the same strings, the same
//! numbers (derived ones rounded as [`super::render`] rounds them), an empty
//! cell for null, and compact JSON for a value with no flat form.

use std::future::Future;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use serde_json::Value;

use super::error::{ApiError, ErrorCode};
use super::render;
use crate::store::Page;

/// The media type of every CSV response: RFC 4180 with its header row,
/// always UTF-8.
pub const TEXT_CSV: &str = "text/csv; charset=utf-8";

/// Rows read from the database per query of a streamed listing: memory stays
/// at about one page however long the listing.
pub const STREAM_PAGE: usize = 1000;

/// What a client asked a response to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    Json,
    Csv,
}

/// Picks JSON or CSV from `Accept` (RFC 9110 §12.5.1): the most specific
/// range naming each decides its weight, the heavier wins, JSON on a tie.
/// No `Accept` (or none that parses) means JSON; one that allows neither is
/// a 406.
pub fn negotiate(req: &HttpRequest) -> Result<Representation, ApiError> {
    match preferred(req, &["application/json", "text/csv"])? {
        0 => Ok(Representation::Json),
        _ => Ok(Representation::Csv),
    }
}

/// What a picture is asked to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Picture {
    Svg,
    Png,
}

impl Picture {
    pub fn media_type(self) -> &'static str {
        match self {
            Picture::Svg => "image/svg+xml",
            Picture::Png => "image/png",
        }
    }
}

/// Picks SVG or PNG from `Accept`, by the same rule as [`negotiate`]: SVG on
/// a tie and without `Accept`; a 406 when neither is allowed.
pub fn negotiate_picture(req: &HttpRequest) -> Result<Picture, ApiError> {
    match preferred(req, &["image/svg+xml", "image/png"])? {
        0 => Ok(Picture::Svg),
        _ => Ok(Picture::Png),
    }
}

/// The index in `offered` of the media type `Accept` prefers: the most
/// specific range naming each decides its weight, the heavier wins, the
/// earlier on a tie. No `Accept` (or none that parses) means the first; one
/// that allows none is a 406.
fn preferred(req: &HttpRequest, offered: &[&str]) -> Result<usize, ApiError> {
    let values: Vec<&str> = req
        .headers()
        .get_all(header::ACCEPT)
        .filter_map(|value| value.to_str().ok())
        .collect();
    let accept = values.join(",");
    let ranges: Vec<MediaRange> = accept.split(',').filter_map(MediaRange::parse).collect();
    if ranges.is_empty() {
        return Ok(0);
    }
    let mut best = (0, 0.0);
    for (i, media_type) in offered.iter().enumerate() {
        let (kind, subtype) = media_type.split_once('/').expect("a type/subtype");
        let q = weight(&ranges, kind, subtype);
        if q > best.1 {
            best = (i, q);
        }
    }
    if best.1 > 0.0 {
        return Ok(best.0);
    }
    let shown: String = accept.chars().take(200).collect();
    let named = match offered {
        [one, other] => format!("neither `{one}` nor `{other}`"),
        _ => format!(
            "none of {}",
            offered
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Err(ApiError::new(
        ErrorCode::NotAcceptable,
        format!("`Accept: {shown}` allows {named}, the representations this operation has"),
    ))
}

struct MediaRange {
    kind: String,
    subtype: String,
    /// Parameters other than `q`, which make a range more specific.
    parameters: usize,
    /// A charset other than UTF-8 was asked for.
    other_charset: bool,
    q: f32,
}

impl MediaRange {
    fn parse(text: &str) -> Option<MediaRange> {
        let mut parts = text.split(';');
        let (kind, subtype) = parts.next()?.trim().split_once('/')?;
        let token = |s: &str| !s.is_empty() && !s.contains(char::is_whitespace);
        if !token(kind) || !token(subtype) {
            return None;
        }
        let mut range = MediaRange {
            kind: kind.to_ascii_lowercase(),
            subtype: subtype.to_ascii_lowercase(),
            parameters: 0,
            other_charset: false,
            q: 1.0,
        };
        for parameter in parts {
            let (name, value) = parameter.split_once('=')?;
            let (name, value) = (name.trim(), value.trim().trim_matches('"'));
            if name.eq_ignore_ascii_case("q") {
                range.q = value.parse().ok().filter(|q| (0.0..=1.0).contains(q))?;
                // Anything after q is an accept extension, not a parameter.
                break;
            }
            range.parameters += 1;
            if name.eq_ignore_ascii_case("charset")
                && !["utf-8", "utf8"].contains(&value.to_ascii_lowercase().as_str())
            {
                range.other_charset = true;
            }
        }
        Some(range)
    }

    /// How specifically this range names `kind/subtype`, if it does.
    fn specificity(&self, kind: &str, subtype: &str) -> Option<usize> {
        match (self.kind.as_str(), self.subtype.as_str()) {
            _ if self.other_charset => None,
            ("*", "*") => Some(0),
            (k, "*") if k == kind => Some(1),
            (k, s) if k == kind && s == subtype => Some(2 + self.parameters),
            _ => None,
        }
    }
}

/// The q of the most specific range that names `kind/subtype`; 0 if none.
fn weight(ranges: &[MediaRange], kind: &str, subtype: &str) -> f32 {
    ranges
        .iter()
        .filter_map(|range| Some((range.specificity(kind, subtype)?, range.q)))
        .max_by_key(|(specificity, _)| *specificity)
        .map_or(0.0, |(_, q)| q)
}

/// Marks a response as chosen by `Accept`, so caches keep JSON and CSV apart.
pub fn vary(response: &mut HttpResponse) {
    response
        .headers_mut()
        .insert(header::VARY, header::HeaderValue::from_static("Accept"));
}

/// Whether numbers are written rounded (derived by the method) or as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbers {
    Derived,
    Stored,
}

/// A CSV table: its columns, each a dotted path into a record's JSON form.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub columns: &'static [&'static str],
    pub numbers: Numbers,
}

impl Table {
    /// The header row: each column's path with `_` for `.`.
    pub fn header(&self, out: &mut Vec<u8>) {
        let names: Vec<String> = self.columns.iter().map(|c| c.replace('.', "_")).collect();
        write_record(out, names.iter().map(String::as_str));
    }

    /// One record as a row.
    pub fn row(&self, record: &impl Serialize, out: &mut Vec<u8>) -> Result<(), ApiError> {
        let value = serde_json::to_value(record).map_err(ApiError::internal)?;
        self.value_row(&value, out);
        Ok(())
    }

    /// One record, already in its JSON form, as a row.
    pub fn value_row(&self, value: &Value, out: &mut Vec<u8>) {
        let cells: Vec<String> = self
            .columns
            .iter()
            .map(|path| {
                let cell = path.split('.').try_fold(value, |v, key| v.get(key));
                cell.map_or_else(String::new, |cell| self.cell(cell))
            })
            .collect();
        write_record(out, cells.iter().map(String::as_str));
    }

    /// Rows for `records`, with the header row first when `header`.
    pub fn rows<T: Serialize>(&self, records: &[T], header: bool) -> Result<Vec<u8>, ApiError> {
        let mut out = Vec::with_capacity(128 * (records.len() + 1));
        if header {
            self.header(&mut out);
        }
        for record in records {
            self.row(record, &mut out)?;
        }
        Ok(out)
    }

    fn cell(&self, value: &Value) -> String {
        match value {
            Value::Null => String::new(),
            Value::String(text) => text.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => match (self.numbers, n.as_f64()) {
                // Written as serde_json writes the rounded number, so a cell
                // reads exactly as the JSON field does.
                (Numbers::Derived, Some(f)) if n.is_f64() => {
                    serde_json::Number::from_f64(render::round(f))
                        .map_or_else(String::new, |r| r.to_string())
                }
                _ => n.to_string(),
            },
            nested => nested.to_string(),
        }
    }
}

/// A 200 with the CSV media type, for callers that add headers or a stream.
pub fn ok() -> HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    response.content_type(TEXT_CSV);
    response
}

/// A whole listing as one CSV response, read page by page: `first` is
/// read before answering (so its errors are problems), each later page
/// when the client has taken the previous one, by `next(key of the last
/// record)`. A failure past the first page can no longer change the
/// status: the stream is cut and the client sees an incomplete transfer
/// rather than a short file that looks whole.
pub fn streamed<T, K, F, Fut>(
    table: Table,
    first: Page<T>,
    key: fn(&T) -> K,
    next: F,
) -> Result<HttpResponse, ApiError>
where
    T: Serialize + 'static,
    K: 'static,
    F: FnMut(K) -> Fut + 'static,
    Fut: Future<Output = Result<Page<T>, ApiError>> + 'static,
{
    let head = Bytes::from(table.rows(&first.items, true)?);
    let after = first
        .has_more
        .then(|| first.items.last().map(key))
        .flatten();
    let rest = stream::try_unfold((after, next), move |(after, mut next)| async move {
        let Some(after) = after else {
            return Ok(None);
        };
        let page = next(after).await?;
        let chunk = Bytes::from(table.rows(&page.items, false)?);
        let after = page.has_more.then(|| page.items.last().map(key)).flatten();
        Ok::<_, ApiError>(Some((chunk, (after, next))))
    })
    .map(|chunk| {
        chunk.map_err(|error| {
            tracing::error!(error = %error, "CSV stream cut short");
            std::io::Error::other(error.to_string())
        })
    });
    let body = stream::once(async move { Ok::<_, std::io::Error>(head) }).chain(rest);
    Ok(ok().streaming(body))
}

/// Writes one record: fields separated by commas, ended by CRLF, quoted
/// when they hold a comma, a quote, CR or LF, with quotes doubled.
fn write_record<'a>(out: &mut Vec<u8>, fields: impl Iterator<Item = &'a str>) {
    for (i, field) in fields.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if field.contains([',', '"', '\r', '\n']) {
            out.push(b'"');
            for byte in field.bytes() {
                if byte == b'"' {
                    out.push(b'"');
                }
                out.push(byte);
            }
            out.push(b'"');
        } else {
            out.extend_from_slice(field.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepting(accept: &str) -> Result<Representation, ApiError> {
        let req = actix_web::test::TestRequest::default()
            .insert_header((header::ACCEPT, accept))
            .to_http_request();
        negotiate(&req)
    }

    #[test]
    fn accept_is_weighed_by_the_most_specific_range() {
        use Representation::*;
        let cases = [
            ("text/csv", Csv),
            ("*/*", Json),
            ("text/*", Csv),
            ("application/json, text/csv", Json),
            ("application/json;q=0.5, text/csv", Csv),
            ("text/csv;q=0.9, application/json", Json),
            ("text/csv; charset=utf-8", Csv),
            ("text/csv;header=present;q=0.8, */*;q=0.1", Csv),
            ("*/*;q=0.5, text/csv;q=0", Json),
            (
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                Json,
            ),
            ("not a media type", Json),
            ("", Json),
        ];
        for (accept, expected) in cases {
            assert_eq!(accepting(accept).unwrap(), expected, "{accept}");
        }
        for refused in [
            "text/html",
            "application/json;q=0, text/csv;q=0",
            "text/csv;charset=latin1",
            "*/*;q=0",
        ] {
            let error = accepting(refused).unwrap_err();
            assert_eq!(error.code, ErrorCode::NotAcceptable, "{refused}");
        }
    }

    #[test]
    fn pictures_are_svg_unless_png_is_preferred() {
        let picture = |accept: &str| {
            let req = actix_web::test::TestRequest::default()
                .insert_header((header::ACCEPT, accept))
                .to_http_request();
            negotiate_picture(&req)
        };
        for (accept, expected) in [
            ("image/png", Picture::Png),
            ("image/svg+xml", Picture::Svg),
            ("*/*", Picture::Svg),
            ("image/*", Picture::Svg),
            ("image/svg+xml;q=0.5, image/png", Picture::Png),
            (
                "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
                Picture::Svg,
            ),
            ("", Picture::Svg),
        ] {
            assert_eq!(picture(accept).unwrap(), expected, "{accept}");
        }
        for refused in ["application/json", "text/csv", "image/jpeg", "image/*;q=0"] {
            let error = picture(refused).unwrap_err();
            assert_eq!(error.code, ErrorCode::NotAcceptable, "{refused}");
            assert!(error
                .detail
                .contains("neither `image/svg+xml` nor `image/png`"));
        }
    }

    #[test]
    fn fields_are_quoted_only_when_they_must_be() {
        let mut out = Vec::new();
        write_record(
            &mut out,
            ["plain", "a,b", "say \"hi\"", "two\nlines", "cr\r", ""].into_iter(),
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\r\",\r\n"
        );
    }

    #[test]
    fn cells_read_as_the_json_does() {
        let record = serde_json::json!({
            "id": 7, "score": 90.00000000000001, "range": {"low": -0.0, "high": 58.73125},
            "none": null, "flag": true, "ids": {"facts": [1, 2]}, "text": "x"
        });
        let columns = &[
            "id",
            "score",
            "range.low",
            "range.high",
            "none",
            "missing",
            "flag",
            "ids",
            "text",
        ];
        let derived = Table {
            columns,
            numbers: Numbers::Derived,
        };
        let mut out = Vec::new();
        derived.header(&mut out);
        derived.value_row(&record, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "id,score,range_low,range_high,none,missing,flag,ids,text\r\n\
             7,90.0,0.0,58.7313,,,true,\"{\"\"facts\"\":[1,2]}\",x\r\n"
        );
        let stored = Table {
            columns: &["score"],
            numbers: Numbers::Stored,
        };
        let mut out = Vec::new();
        stored.value_row(&record, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "90.00000000000001\r\n");
    }
}
