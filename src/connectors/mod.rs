//! Connectors for the public datasets of this field: each reads a
//! dataset's files as their publisher distributes them, checks every row
//! (naming file, line and column), and derives facts that cite the
//! dataset's release and name their row as locator. Writing is the write
//! layer's (`ingest::release`): the derived facts go through the streamed
//! import, so they pass the checks and the COPY any upload does.
//!
//! `baci` reads CEPII's bilateral trade flows, `wmd` the World Mining Data
//! production tables, `wgi` the World Bank's governance estimates.

pub mod baci;
pub mod countries;
pub mod progress;
pub mod table;
pub mod wgi;
pub mod wmd;

use std::fmt;

use time::Date;

use crate::domain::NewSource;

/// One thing wrong with a dataset file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceProblem {
    pub file: String,
    /// 1-based line (the header is line 1); 0 for the file as a whole.
    pub line: u64,
    /// The column at fault, if one is.
    pub column: Option<String>,
    pub message: String,
}

impl fmt::Display for SourceProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ", line {}", self.line)?;
        }
        if let Some(column) = &self.column {
            write!(f, ", column `{column}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Most problems kept; a file with more is broken enough.
pub const MAX_PROBLEMS: usize = 100;

/// The problems found in a dataset's files, at most [`MAX_PROBLEMS`].
#[derive(Debug, Default)]
pub struct Problems {
    pub list: Vec<SourceProblem>,
    /// Problems beyond the ones listed.
    pub more: u64,
}

impl Problems {
    pub fn push(&mut self, problem: SourceProblem) {
        if self.list.len() < MAX_PROBLEMS {
            self.list.push(problem);
        } else {
            self.more += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn one(problem: SourceProblem) -> Problems {
        let mut problems = Problems::default();
        problems.push(problem);
        problems
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for problem in &self.list {
            writeln!(f, "{problem}")?;
        }
        if self.more > 0 {
            writeln!(f, "… and {} more", self.more)?;
        }
        Ok(())
    }
}

/// What to do with invalid rows of a dataset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OnInvalid {
    /// Any invalid row stops the import; nothing is written.
    #[default]
    Abort,
    /// Invalid rows are reported and left out; the rest is derived and written.
    Skip,
}

/// A dataset release as the facts derived from it cite it.
#[derive(Debug, Clone)]
pub struct Release {
    /// The source every derived fact cites.
    pub source: NewSource,
    /// The id prefix shared by every release of the dataset: facts of an
    /// earlier release with this prefix are the ones a later one revises.
    pub family: &'static str,
    /// When the release was published.
    pub published_on: Date,
}

impl Release {
    /// A release described by its source record (its `published_on` is
    /// the release's date).
    pub fn of_source(source: NewSource, family: &'static str) -> Result<Release, String> {
        if !source.id.starts_with(family) {
            return Err(format!(
                "source `{}` is not of the `{family}` releases",
                source.id
            ));
        }
        let published_on = source
            .published_on
            .as_deref()
            .and_then(|day| {
                Date::parse(
                    day,
                    time::macros::format_description!("[year]-[month]-[day]"),
                )
                .ok()
            })
            .ok_or_else(|| format!("source `{}` needs its publication date", source.id))?;
        Ok(Release {
            source,
            family,
            published_on,
        })
    }
}

/// The facts derived from a dataset, with what was read.
#[derive(Debug)]
pub struct Derived {
    pub release: Release,
    /// The facts, as a client would submit them.
    pub facts: Vec<crate::domain::NewFact>,
    /// Data rows read from the files.
    pub rows_read: u64,
    /// Rows that carry nothing the catalogue covers (an HS code no product
    /// lists, a commodity mapped to no product, a regional aggregate).
    pub rows_not_covered: u64,
    /// Invalid rows left out (skip mode only).
    pub problems: Problems,
}

/// The year a wide table's column stands for: four digits, 1900–2100.
pub(crate) fn year_of_column(name: &str) -> Option<i32> {
    (name.len() == 4 && name.bytes().all(|b| b.is_ascii_digit()))
        .then(|| name.parse::<i32>().ok())
        .flatten()
        .filter(|year| (1900..=2100).contains(year))
}

/// A non-negative finite number, or why not.
pub(crate) fn non_negative(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if !value.is_finite() {
        return Err(format!("`{text}` is not a finite number"));
    }
    if value < 0.0 {
        return Err(format!("`{text}` is negative"));
    }
    Ok(value)
}

/// The header of a table with one column a year: where its named columns
/// are, which columns are years, and how many cells a row has.
pub(crate) struct WideHeader {
    pub named: Vec<usize>,
    pub years: Vec<(usize, i32)>,
    pub width: usize,
}

/// The problems of one file, each naming it.
pub(crate) struct Report {
    file: String,
    pub problems: Problems,
}

impl Report {
    pub fn push(&mut self, line: u64, column: Option<&str>, message: String) {
        self.problems.push(SourceProblem {
            file: self.file.clone(),
            line,
            column: column.map(str::to_owned),
            message,
        });
    }
}

/// Reads a table with one column a year: the header checked against
/// `named`, then each data row of the header's width handed to `row` with
/// its line. Returns the data rows read and the problems found, or the
/// problems alone when the file is not such a table (unreadable, no header,
/// a bad header, no rows).
pub(crate) fn read_wide(
    path: &std::path::Path,
    named: &[&str],
    mut row: impl FnMut(&WideHeader, u64, &[&str], &mut Report),
) -> Result<(u64, Problems), Problems> {
    let file = table::TableFile::open(path).map_err(Problems::one)?;
    let mut report = Report {
        file: file.name.clone(),
        problems: Problems::default(),
    };
    let mut header: Option<WideHeader> = None;
    let mut header_failed = false;
    let mut rows_read = 0;
    file.records(
        |record| {
            if header_failed {
                return;
            }
            let cells = match table::cells(record) {
                Ok(cells) => cells,
                Err(message) => return report.push(record.line, None, message),
            };
            let Some(found) = &header else {
                match wide_header(&cells, named) {
                    Ok(found) => header = Some(found),
                    Err(message) => {
                        report.push(record.line, None, message);
                        header_failed = true;
                    }
                }
                return;
            };
            rows_read += 1;
            if cells.len() != found.width {
                let message = format!(
                    "{} cells where the header names {}",
                    cells.len(),
                    found.width
                );
                return report.push(record.line, None, message);
            }
            row(found, record.line, &cells, &mut report);
        },
        |_| {},
    )
    .map_err(Problems::one)?;
    if header_failed || header.is_none() || rows_read == 0 {
        if report.problems.is_empty() {
            report.push(0, None, "the file holds no rows".into());
        }
        return Err(report.problems);
    }
    Ok((rows_read, report.problems))
}

impl Derived {
    /// What a connector derived, unless invalid rows abort it.
    pub(crate) fn unless_aborted(self, on_invalid: OnInvalid) -> Result<Derived, Problems> {
        if on_invalid == OnInvalid::Abort && !self.problems.is_empty() {
            Err(self.problems)
        } else {
            Ok(self)
        }
    }
}

pub(crate) fn wide_header(cells: &[&str], named: &[&str]) -> Result<WideHeader, String> {
    let at = table::locate(cells, named, true)?;
    let years: Vec<(usize, i32)> = cells
        .iter()
        .enumerate()
        .filter_map(|(i, c)| year_of_column(c.trim()).map(|y| (i, y)))
        .collect();
    let unknown: Vec<&str> = cells
        .iter()
        .enumerate()
        .filter(|(i, _)| !at.contains(i) && !years.iter().any(|(y, _)| y == i))
        .map(|(_, c)| *c)
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "unknown column(s) {}; expected {} and year columns",
            unknown.join(", "),
            named.join(",")
        ));
    }
    if years.is_empty() {
        return Err("the header names no year column (such as 2022)".into());
    }
    Ok(WideHeader {
        named: at,
        years,
        width: cells.len(),
    })
}
