//! Reading a dataset's CSV file (plain, or gzip-compressed when its name
//! ends in `.gz`) record by record, with the line each record starts on:
//! the one reader of every connector, built on the upload reader so a
//! quoted cell may hold commas and line breaks.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::SourceProblem;
use crate::ingest::csv::{self, Record};

const CHUNK_BYTES: usize = 256 * 1024;

/// A file being read: its name for messages and its (decompressed) bytes.
pub struct TableFile {
    pub name: String,
    reader: Box<dyn Read>,
    /// Size on disk, for progress.
    pub size: u64,
}

impl TableFile {
    pub fn open(path: &Path) -> Result<TableFile, SourceProblem> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|e| whole_file(&name, format!("cannot open: {e}")))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let reader: Box<dyn Read> = if name.ends_with(".gz") {
            Box::new(MultiGzDecoder::new(BufReader::new(file)))
        } else {
            Box::new(file)
        };
        Ok(TableFile { name, reader, size })
    }

    /// Calls `each` with every record, the header first; `read` is told
    /// how many bytes of the (decompressed) file have been read.
    pub fn records(
        mut self,
        mut each: impl FnMut(&Record),
        mut read: impl FnMut(u64),
    ) -> Result<(), SourceProblem> {
        let mut framing = csv::Reader::default();
        let mut buffer = vec![0; CHUNK_BYTES];
        loop {
            let n = self.reader.read(&mut buffer).map_err(|e| {
                whole_file(
                    &self.name,
                    format!("cannot be read to its end (truncated or corrupt?): {e}"),
                )
            })?;
            let records = if n == 0 {
                framing.finish()
            } else {
                framing.feed(&buffer[..n])
            }
            .map_err(|e| whole_file(&self.name, e.to_string()))?;
            records.iter().filter(|r| !r.is_blank()).for_each(&mut each);
            read(n as u64);
            if n == 0 {
                return Ok(());
            }
        }
    }
}

fn whole_file(name: &str, message: String) -> SourceProblem {
    SourceProblem {
        file: name.to_owned(),
        line: 0,
        column: None,
        message,
    }
}

/// A record's cells as text (UTF-8, no NUL).
pub fn cells(record: &Record) -> Result<Vec<&str>, String> {
    record.cells().map(csv::cell_text).collect()
}

/// The positions of `wanted` columns in a header, or a problem naming
/// what is missing or unknown. `extra` says whether other columns may follow.
pub fn locate(header: &[&str], wanted: &[&str], extra: bool) -> Result<Vec<usize>, String> {
    let found: Vec<Option<usize>> = wanted
        .iter()
        .map(|w| {
            header
                .iter()
                .position(|h| h.trim_start_matches('\u{feff}') == *w)
        })
        .collect();
    let missing: Vec<&str> = wanted
        .iter()
        .zip(&found)
        .filter(|(_, f)| f.is_none())
        .map(|(w, _)| *w)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the header lacks column(s) {}; expected {}",
            missing.join(", "),
            wanted.join(",")
        ));
    }
    if !extra && header.len() != wanted.len() {
        return Err(format!(
            "the header has {} columns where {} are expected: {}",
            header.len(),
            wanted.len(),
            wanted.join(",")
        ));
    }
    Ok(found.into_iter().flatten().collect())
}
