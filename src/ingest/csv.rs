//! CSV uploads (the fact import and the bill of materials): records read
//! from a body that arrives in chunks of any size, and the header row
//! checked against a route's column set.

use crate::domain::text;

/// Longest record accepted, unescaped (its cells together).
pub const MAX_RECORD_BYTES: usize = 1 << 20;
/// Most cells a record may have.
pub const MAX_CELLS: usize = 1024;

/// One record: its cells and the line it starts on (1-based; a record
/// with quoted line breaks spans several lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub line: u64,
    data: Vec<u8>,
    ends: Vec<usize>,
}

impl Record {
    pub fn cells(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .map(|(start, end)| &self.data[start..*end])
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// A line with no content at all (`,,,` counts as blank).
    pub fn is_blank(&self) -> bool {
        self.data.is_empty()
    }
}

/// Why the body cannot be read as CSV at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FramingError {
    RecordTooLong { line: u64 },
    TooManyCells { line: u64 },
}

impl std::fmt::Display for FramingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FramingError::RecordTooLong { line } => {
                write!(
                    f,
                    "the record on line {line} is longer than {MAX_RECORD_BYTES} bytes"
                )
            }
            FramingError::TooManyCells { line } => {
                write!(
                    f,
                    "the record on line {line} has more than {MAX_CELLS} cells"
                )
            }
        }
    }
}

/// Reads CSV records from chunks, keeping a record that spans chunks
/// whole: `csv_core` is resumable, so its output and cell ends must survive
/// between calls. Lines are counted the same for LF and CRLF files.
pub struct Reader {
    parser: csv_core::Reader,
    output: Vec<u8>,
    written: usize,
    ends: Vec<usize>,
    ended: usize,
    /// The line the next unread byte is on.
    line: u64,
    /// Where the record being read started, once it has started.
    record_line: Option<u64>,
}

impl Default for Reader {
    fn default() -> Reader {
        Reader {
            parser: csv_core::Reader::new(),
            output: vec![0; 4096],
            written: 0,
            ends: vec![0; 32],
            ended: 0,
            line: 1,
            record_line: None,
        }
    }
}

impl Reader {
    /// The records completed by `chunk`.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<Record>, FramingError> {
        self.read(chunk, false)
    }

    /// The last record, if the body did not end with a line break.
    pub fn finish(&mut self) -> Result<Vec<Record>, FramingError> {
        self.read(&[], true)
    }

    fn read(&mut self, mut input: &[u8], at_end: bool) -> Result<Vec<Record>, FramingError> {
        let mut records = Vec::new();
        loop {
            if self.record_line.is_none() {
                // Line breaks between records (the LF of a CRLF, blank
                // lines) are counted here, so a record's line is where its
                // first cell starts.
                let skipped = input
                    .iter()
                    .take_while(|b| matches!(b, b'\n' | b'\r'))
                    .count();
                self.line += newlines(&input[..skipped]);
                input = &input[skipped..];
                if input.is_empty() {
                    return Ok(records);
                }
                self.record_line = Some(self.line);
            }
            let line = self.record_line.unwrap_or(self.line);
            let (result, read, out, end) = self.parser.read_record(
                input,
                &mut self.output[self.written..],
                &mut self.ends[self.ended..],
            );
            self.line += newlines(&input[..read]);
            input = &input[read..];
            self.written += out;
            self.ended += end;
            match result {
                // At the end the parser is called with no input until it
                // hands over the last record.
                csv_core::ReadRecordResult::InputEmpty if !at_end => return Ok(records),
                csv_core::ReadRecordResult::InputEmpty => {}
                csv_core::ReadRecordResult::OutputFull => {
                    if self.output.len() >= MAX_RECORD_BYTES {
                        return Err(FramingError::RecordTooLong { line });
                    }
                    let grown = (self.output.len() * 2).min(MAX_RECORD_BYTES);
                    self.output.resize(grown, 0);
                }
                csv_core::ReadRecordResult::OutputEndsFull => {
                    if self.ends.len() >= MAX_CELLS {
                        return Err(FramingError::TooManyCells { line });
                    }
                    let grown = (self.ends.len() * 2).min(MAX_CELLS);
                    self.ends.resize(grown, 0);
                }
                csv_core::ReadRecordResult::Record => {
                    records.push(Record {
                        line,
                        data: self.output[..self.written].to_vec(),
                        ends: self.ends[..self.ended].to_vec(),
                    });
                    self.written = 0;
                    self.ended = 0;
                    self.record_line = None;
                }
                csv_core::ReadRecordResult::End => return Ok(records),
            }
        }
    }
}

fn newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|b| **b == b'\n').count() as u64
}

/// The columns a header row names, checked against `columns` (any order,
/// each at most once, `required` all present). Errors are messages.
pub fn header(
    record: &Record,
    columns: &'static [&'static str],
    required: &[&str],
) -> Result<Vec<&'static str>, String> {
    let mut header = Vec::with_capacity(record.len());
    for cell in record.cells() {
        let name = std::str::from_utf8(cell)
            .map_err(|_| "the header is not valid UTF-8".to_owned())?
            .trim()
            .trim_start_matches('\u{feff}');
        let column = columns.iter().find(|c| **c == name).ok_or_else(|| {
            format!(
                "unknown column `{name}`; the columns are {}",
                columns.join(", ")
            )
        })?;
        if header.contains(column) {
            return Err(format!("column `{name}` appears twice"));
        }
        header.push(*column);
    }
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|c| !header.contains(c))
        .collect();
    if !missing.is_empty() {
        return Err(format!("missing column(s) {}", missing.join(", ")));
    }
    Ok(header)
}

/// A cell as text: UTF-8 without U+0000 (which PostgreSQL cannot store).
pub fn cell_text(cell: &[u8]) -> Result<&str, String> {
    let text = std::str::from_utf8(cell).map_err(|_| "not valid UTF-8".to_owned())?;
    if text.contains('\0') {
        return Err(text::NUL_MESSAGE.to_owned());
    }
    Ok(text)
}

/// The problem with a row whose cell count differs from the header's, as
/// (field, message) with an empty field: it concerns the whole row.
pub fn cell_count_problem(cells: usize, columns: usize) -> Option<(String, String)> {
    (cells != columns).then(|| {
        (
            String::new(),
            format!("{cells} cells where the header names {columns}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const COLUMNS: &[&str] = &["ref", "product", "note"];

    /// Records as their first line and cells.
    type Lines = Vec<(u64, Vec<Vec<u8>>)>;

    /// Every record of `body` fed in chunks of `sizes` (cycled), as lines and cells.
    fn read_in_chunks(body: &[u8], sizes: &[usize]) -> Result<Lines, FramingError> {
        let mut reader = Reader::default();
        let mut records = Vec::new();
        let mut rest = body;
        for size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at((*size).clamp(1, rest.len()));
            records.extend(reader.feed(chunk)?);
            rest = tail;
        }
        records.extend(reader.finish()?);
        Ok(records
            .into_iter()
            .map(|r| (r.line, r.cells().map(<[u8]>::to_vec).collect()))
            .collect())
    }

    /// A CSV body of `records` with the given terminator, and what a reader
    /// must find in it: each record's first line and cells.
    fn write_csv(records: &[Vec<(String, bool)>], crlf: bool) -> (Vec<u8>, Lines) {
        let terminator = if crlf { "\r\n" } else { "\n" };
        let mut body = String::new();
        let mut expected = Vec::new();
        let mut line = 1;
        for record in records {
            let cells: Vec<String> = record
                .iter()
                .map(|(cell, quoted)| {
                    let needs_quotes = cell.is_empty() || cell.contains([',', '"', '\n', '\r']);
                    if *quoted || needs_quotes {
                        format!("\"{}\"", cell.replace('"', "\"\""))
                    } else {
                        cell.clone()
                    }
                })
                .collect();
            let text = cells.join(",");
            body.push_str(&text);
            body.push_str(terminator);
            expected.push((
                line,
                record.iter().map(|(c, _)| c.as_bytes().to_vec()).collect(),
            ));
            line += 1 + text.matches('\n').count() as u64;
        }
        (body.into_bytes(), expected)
    }

    fn records() -> impl Strategy<Value = Vec<Vec<(String, bool)>>> {
        let cell = ("[a-z0-9 ,\"\n\u{e9}\u{4e2d}.-]{0,12}", any::<bool>());
        // A first cell that is not blank keeps every record visible.
        let record = (
            ("[a-z0-9]{1,6}", any::<bool>()),
            prop::collection::vec(cell, 0..6),
        )
            .prop_map(|(first, mut rest)| {
                rest.insert(0, first);
                rest
            });
        prop::collection::vec(record, 1..40)
    }

    proptest! {
        #[test]
        fn any_chunking_reads_the_same_records(
            records in records(),
            crlf in any::<bool>(),
            sizes in prop::collection::vec(1usize..64, 1..8),
        ) {
            let (body, expected) = write_csv(&records, crlf);
            prop_assert_eq!(read_in_chunks(&body, &sizes).unwrap(), expected.clone());
            prop_assert_eq!(read_in_chunks(&body, &[body.len()]).unwrap(), expected);
        }
    }

    #[test]
    fn a_body_of_megabytes_reads_the_same_at_every_chunk_size() {
        let records: Vec<Vec<(String, bool)>> = (0..40_000)
            .map(|i| {
                vec![
                    (format!("ref-{i}"), false),
                    (format!("a \"quoted\", multi\nline note {i}"), true),
                    (format!("{}", i as f64 * 0.25), i % 3 == 0),
                ]
            })
            .collect();
        let (body, expected) = write_csv(&records, true);
        assert!(body.len() > 2 << 20, "several MiB: {}", body.len());
        for sizes in [&[4093, 8191][..], &[1 << 20], &[3 << 20], &[body.len()]] {
            assert_eq!(
                read_in_chunks(&body, sizes).unwrap(),
                expected,
                "chunks of {sizes:?}"
            );
        }
        // Byte by byte, on a prefix (the parser's state crosses every byte).
        let (body, expected) = write_csv(&records[..2000], true);
        for sizes in [&[1][..], &[2, 3, 5]] {
            assert_eq!(
                read_in_chunks(&body, sizes).unwrap(),
                expected,
                "chunks of {sizes:?}"
            );
        }
    }

    #[test]
    fn crlf_and_lf_files_report_the_same_lines() {
        let lf = read_in_chunks(b"a,b\n1,2\n\n3,\"x\ny\"\n4,5", &[3]).unwrap();
        let crlf = read_in_chunks(b"a,b\r\n1,2\r\n\r\n3,\"x\ny\"\r\n4,5", &[3]).unwrap();
        let lines: Vec<u64> = lf.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, vec![1, 2, 4, 6]);
        assert_eq!(
            crlf.iter().map(|(line, _)| *line).collect::<Vec<_>>(),
            lines
        );
    }

    #[test]
    fn oversized_records_are_refused_with_their_line() {
        let mut body = b"a,b\n1,2\n".to_vec();
        body.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 10));
        body.extend(b",3\n");
        assert_eq!(
            read_in_chunks(&body, &[65536]),
            Err(FramingError::RecordTooLong { line: 3 })
        );
        let wide = ",".repeat(MAX_CELLS + 1);
        assert_eq!(
            read_in_chunks(format!("a\n{wide}\n").as_bytes(), &[100]),
            Err(FramingError::TooManyCells { line: 2 })
        );
    }

    fn header_of(line: &[u8]) -> Result<Vec<&'static str>, String> {
        let mut reader = Reader::default();
        let mut records = reader.feed(line).unwrap();
        records.extend(reader.finish().unwrap());
        header(&records[0], COLUMNS, &["ref"])
    }

    #[test]
    fn a_header_names_known_columns_once_and_all_required_ones() {
        assert_eq!(
            header_of(b"\xef\xbb\xbfproduct, ref"),
            Ok(vec!["product", "ref"])
        );
        assert!(header_of(b"ref,colour").unwrap_err().contains("colour"));
        assert!(header_of(b"ref,ref").unwrap_err().contains("twice"));
        assert!(header_of(b"note").unwrap_err().contains("ref"));
    }
}
