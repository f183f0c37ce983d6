//! A streamed import: rows framed from NDJSON or CSV chunks, each checked
//! against references loaded once, valid ones streamed to PostgreSQL's
//! COPY in bounded memory, and a summary of what was read, written and
//! rejected. The caller owns the transaction and commits it.

use deadpool_postgres::Transaction;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::rows::{FactRows, Format, Row, StreamError};
use super::References;
use crate::store::audit::Actor;
use crate::store::facts::FactCopy;
use crate::store::StoreError;

/// At most this many rejected rows are listed in a summary.
pub const MAX_LISTED_REJECTIONS: usize = 1000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Any invalid row rejects the whole stream; nothing is written.
    #[default]
    Abort,
    /// Valid rows are written; invalid ones are reported with their line.
    Skip,
}

/// A rejected row: its line number and what is wrong with it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RejectedRow {
    /// 1-based line of the stream (for CSV the header is line 1).
    pub line: u64,
    /// Everything wrong with the row.
    pub errors: Vec<RowError>,
}

/// One problem with a rejected row.
#[derive(Debug, Serialize, ToSchema)]
pub struct RowError {
    /// The field at fault, empty for the row as a whole.
    pub field: String,
    /// What is wrong and what is accepted.
    pub message: String,
}

/// What an import did.
#[derive(Debug, Default, Serialize, ToSchema)]
#[schema(example = json!({
    "rows_read": 3, "rows_written": 2, "rows_rejected": 1,
    "rejected": [{"line": 2, "errors": [{"field": "unit", "message": "unit `%` does not fit `production`: use one of `t/yr`, `t`, `kt/yr`, `kt`, `Mt/yr`, `Mt`"}]}],
    "rejected_truncated": false
}))]
pub struct ImportSummary {
    /// Data rows read from the stream (for CSV, not counting the header).
    pub rows_read: u64,
    /// Facts written by the import.
    pub rows_written: u64,
    /// Rows found invalid.
    pub rows_rejected: u64,
    /// The first 1000 rejected rows.
    pub rejected: Vec<RejectedRow>,
    /// More rows were rejected than are listed.
    pub rejected_truncated: bool,
}

/// Why an import wrote nothing.
#[derive(Debug)]
pub enum ImportFailed {
    /// The stream itself is broken (not one row): reading stopped there.
    Stream(StreamError),
    /// The stream holds no rows.
    Empty,
    /// `on_error=abort` and some rows are invalid.
    Invalid(ImportSummary),
    Store(StoreError),
}

impl From<StoreError> for ImportFailed {
    fn from(error: StoreError) -> ImportFailed {
        ImportFailed::Store(error)
    }
}

/// One import in progress, inside its transaction.
pub struct Import {
    on_error: OnError,
    references: References,
    rows: FactRows,
    /// `None` once an invalid row has doomed an aborting import.
    copy: Option<FactCopy>,
    summary: ImportSummary,
    /// No more rows are needed: an aborting import has listed all it lists.
    done: bool,
}

impl Import {
    pub async fn start(
        tx: &Transaction<'_>,
        format: Format,
        on_error: OnError,
    ) -> Result<Import, StoreError> {
        Ok(Import {
            on_error,
            references: References::load(tx).await?,
            rows: FactRows::new(format),
            copy: Some(FactCopy::start(tx).await?),
            summary: ImportSummary::default(),
            done: false,
        })
    }

    /// Reads the rows `chunk` completes; returns whether more input is of use.
    pub async fn feed(&mut self, chunk: &[u8]) -> Result<bool, ImportFailed> {
        let rows = self.rows.feed(chunk).map_err(ImportFailed::Stream)?;
        self.take(rows).await?;
        Ok(!self.done)
    }

    /// Reads the last row, writes the audit row and returns the summary; the
    /// caller commits.
    pub async fn finish(
        mut self,
        tx: &Transaction<'_>,
        actor: &Actor,
    ) -> Result<ImportSummary, ImportFailed> {
        if !self.done {
            let rows = self.rows.finish().map_err(ImportFailed::Stream)?;
            self.take(rows).await?;
        }
        if self.summary.rows_read == 0 {
            return Err(ImportFailed::Empty);
        }
        let Some(copy) = self.copy else {
            return Err(ImportFailed::Invalid(self.summary));
        };
        self.summary.rows_written = copy.finish().await?;
        actor
            .record(
                tx,
                serde_json::json!({ "facts_imported": self.summary.rows_written }),
            )
            .await?;
        Ok(self.summary)
    }

    async fn take(&mut self, rows: Vec<Row>) -> Result<(), StoreError> {
        for row in rows {
            if self.done {
                break;
            }
            self.summary.rows_read += 1;
            let checked = row
                .fact
                .and_then(|fact| match self.references.check(&fact) {
                    Ok(confidence) => Ok((fact, confidence)),
                    Err(problems) => Err(problems
                        .into_iter()
                        .map(|(field, message)| (field.to_owned(), message))
                        .collect()),
                });
            match checked {
                Ok((fact, confidence)) => {
                    if let Some(copy) = self.copy.as_mut() {
                        copy.push(&fact, confidence).await?;
                    }
                }
                Err(problems) => self.reject(row.line, problems),
            }
        }
        Ok(())
    }

    fn reject(&mut self, line: u64, problems: Vec<(String, String)>) {
        let aborting = self.on_error == OnError::Abort;
        self.summary.rows_rejected += 1;
        if aborting {
            // Nothing will be written: stop copying, keep reporting.
            self.copy = None;
        }
        if self.summary.rejected.len() < MAX_LISTED_REJECTIONS {
            self.summary.rejected.push(RejectedRow {
                line,
                errors: problems
                    .into_iter()
                    .map(|(field, message)| RowError { field, message })
                    .collect(),
            });
        } else {
            self.summary.rejected_truncated = true;
            self.done = aborting;
        }
    }
}
