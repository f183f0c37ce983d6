//! Facts streamed as NDJSON lines or CSV records, framed from chunks of any
//! size and parsed row by row, each row with its line in the stream.

use super::csv::{self, FramingError, Record};
use super::parse_fact;
use crate::domain::{Fact, NewFact};

/// Longest accepted NDJSON line.
pub const MAX_LINE_BYTES: usize = csv::MAX_RECORD_BYTES;

/// The CSV columns, in any order; the header row must name only these, and
/// at least metric, period, status and source_id. Empty cells are nulls.
pub const CSV_COLUMNS: [&str; 17] = [
    "product",
    "country",
    "buyer",
    "facility",
    "metric",
    "value",
    "unit",
    "period",
    "status",
    "controlled_by",
    "expected_online",
    "source_id",
    "confidence",
    "published_on",
    "quote",
    "locator",
    "note",
];
const REQUIRED_CSV_COLUMNS: [&str; 4] = ["metric", "period", "status", "source_id"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Csv,
}

/// One row read from the stream: the fact, or its problems as (field, message).
pub struct Row {
    pub line: u64,
    pub fact: Result<Fact, Vec<(String, String)>>,
}

/// A problem with the stream itself (not one row): it stops the import.
#[derive(Debug)]
pub enum StreamError {
    LineTooLong(u64),
    Framing(FramingError),
    BadHeader { line: u64, message: String },
}

/// Splits a byte stream into rows, whatever the chunk boundaries.
pub struct FactRows {
    format: Format,
    /// NDJSON: the start of a line not yet ended.
    pending: Vec<u8>,
    /// NDJSON: the line number of the first byte of `pending`.
    line: u64,
    csv: csv::Reader,
    header: Option<Vec<&'static str>>,
}

impl FactRows {
    pub fn new(format: Format) -> FactRows {
        FactRows {
            format,
            pending: Vec::new(),
            line: 1,
            csv: csv::Reader::default(),
            header: None,
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<Row>, StreamError> {
        match self.format {
            Format::Ndjson => {
                self.pending.extend_from_slice(chunk);
                self.drain_ndjson(false)
            }
            Format::Csv => {
                let records = self.csv.feed(chunk).map_err(StreamError::Framing)?;
                self.csv_rows(records)
            }
        }
    }

    pub fn finish(&mut self) -> Result<Vec<Row>, StreamError> {
        match self.format {
            Format::Ndjson => self.drain_ndjson(true),
            Format::Csv => {
                let records = self.csv.finish().map_err(StreamError::Framing)?;
                self.csv_rows(records)
            }
        }
    }

    fn drain_ndjson(&mut self, at_end: bool) -> Result<Vec<Row>, StreamError> {
        let mut rows = Vec::new();
        let mut start = 0;
        while let Some(end) = self.pending[start..]
            .iter()
            .position(|b| *b == b'\n')
            .map(|i| start + i)
        {
            if end - start > MAX_LINE_BYTES {
                return Err(StreamError::LineTooLong(self.line));
            }
            rows.extend(ndjson_row(&self.pending[start..end], self.line));
            self.line += 1;
            start = end + 1;
        }
        self.pending.drain(..start);
        if self.pending.len() > MAX_LINE_BYTES {
            return Err(StreamError::LineTooLong(self.line));
        }
        if at_end && !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            rows.extend(ndjson_row(&rest, self.line));
        }
        Ok(rows)
    }

    fn csv_rows(&mut self, records: Vec<Record>) -> Result<Vec<Row>, StreamError> {
        let mut rows = Vec::with_capacity(records.len());
        for record in records {
            if record.is_blank() {
                continue;
            }
            match &self.header {
                None => {
                    let header = csv::header(&record, &CSV_COLUMNS, &REQUIRED_CSV_COLUMNS)
                        .map_err(|message| StreamError::BadHeader {
                            line: record.line,
                            message,
                        })?;
                    self.header = Some(header);
                }
                Some(header) => rows.push(csv_row(header, &record)),
            }
        }
        Ok(rows)
    }
}

fn ndjson_row(bytes: &[u8], line: u64) -> Option<Row> {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let fact = match std::str::from_utf8(bytes).map(serde_json::from_str::<serde_json::Value>) {
        Err(_) => Err(vec![(
            String::new(),
            format!("line {line} is not valid UTF-8"),
        )]),
        Ok(Ok(value @ serde_json::Value::Object(_))) => {
            parse_fact(value).map_err(|e| e.into_problems())
        }
        Ok(Ok(_)) => Err(vec![(
            String::new(),
            "the line is JSON but not a fact object".to_owned(),
        )]),
        Ok(Err(e)) => Err(vec![(String::new(), format!("the line is not JSON: {e}"))]),
    };
    Some(Row { line, fact })
}

fn csv_row(header: &[&'static str], record: &Record) -> Row {
    let line = record.line;
    let mut fact = NewFact::default();
    let mut problems = Vec::new();
    problems.extend(csv::cell_count_problem(record.len(), header.len()));
    for (column, cell) in header.iter().zip(record.cells()) {
        match csv::cell_text(cell) {
            Ok(text) => {
                if let Err(message) = set_csv_field(&mut fact, column, text) {
                    problems.push(((*column).to_owned(), message));
                }
            }
            Err(message) => problems.push(((*column).to_owned(), message)),
        }
    }
    if !problems.is_empty() {
        return Row {
            line,
            fact: Err(problems),
        };
    }
    let fact = fact.validate().map_err(|problems| {
        problems
            .into_iter()
            .map(|p| (p.field.to_owned(), p.message))
            .collect()
    });
    Row { line, fact }
}

fn set_csv_field(fact: &mut NewFact, column: &str, text: &str) -> Result<(), String> {
    let optional = || (!text.is_empty()).then(|| text.to_owned());
    let number = || -> Result<Option<f64>, String> {
        if text.is_empty() {
            return Ok(None);
        }
        text.parse::<f64>()
            .map(Some)
            .map_err(|_| format!("`{text}` is not a number"))
    };
    match column {
        "product" => fact.product = optional(),
        "country" => fact.country = optional(),
        "buyer" => fact.buyer = optional(),
        "facility" => fact.facility = optional(),
        "metric" => fact.metric = text.to_owned(),
        "value" => fact.value = number()?,
        "unit" => fact.unit = optional(),
        "period" => fact.period = text.to_owned(),
        "status" => fact.status = text.to_owned(),
        "controlled_by" => fact.controlled_by = optional(),
        "expected_online" => {
            fact.expected_online = match text {
                "" => None,
                year => Some(
                    year.parse()
                        .map_err(|_| format!("`{year}` is not a year"))?,
                ),
            }
        }
        "source_id" => fact.source_id = text.to_owned(),
        "confidence" => fact.confidence = number()?,
        "published_on" => fact.published_on = optional(),
        "quote" => fact.quote = optional(),
        "locator" => fact.locator = optional(),
        "note" => fact.note = optional(),
        _ => unreachable!("the header was checked against CSV_COLUMNS"),
    }
    Ok(())
}
