//! CEPII's country code table (`country_code,country_name,country_iso2,
//! country_iso3`): BACI's numeric codes and the ISO alpha-3 codes of the
//! other datasets, each to the service's alpha-2 code. Rows without an
//! alpha-2 code the service knows are areas, not countries ("Other Asia,
//! nes", customs unions of the past): their trade counts in totals, but no
//! fact names them.

use std::collections::HashMap;
use std::path::Path;

use super::table::{self, TableFile};
use super::SourceProblem;
use crate::domain::CountryCode;

/// The table shipped with the service, as CEPII distributes it with BACI
/// release V202401b.
const SHIPPED: &str = include_str!("../../data/public/baci/country_codes_V202401b.csv");
const SHIPPED_NAME: &str = "country_codes_V202401b.csv";

/// ISO 3166-1 alpha-3 codes the other datasets use and CEPII's table
/// lacks: BACI reports these territories with another country or in an
/// "nes" area (Taiwan in "Other Asia, nes").
const ISO3_BEYOND_BACI: [(&str, &str); 8] = [
    ("GUF", "GF"),
    ("JEY", "JE"),
    ("LIE", "LI"),
    ("MCO", "MC"),
    ("MTQ", "MQ"),
    ("PRI", "PR"),
    ("REU", "RE"),
    ("TWN", "TW"),
];

const COLUMNS: [&str; 4] = [
    "country_code",
    "country_name",
    "country_iso2",
    "country_iso3",
];

/// What a code stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Country(CountryCode),
    /// A listed area the service has no country code for.
    Other,
}

#[derive(Debug, Default)]
pub struct CountryTable {
    by_number: HashMap<u32, Area>,
    by_iso3: HashMap<String, Area>,
    names: HashMap<u32, String>,
}

impl CountryTable {
    /// The table shipped with the service.
    pub fn shipped() -> CountryTable {
        let mut table = CountryTable::default();
        let mut problems = Vec::new();
        let mut reader = crate::ingest::csv::Reader::default();
        let mut records = reader.feed(SHIPPED.as_bytes()).unwrap_or_default();
        records.extend(reader.finish().unwrap_or_default());
        table.read(SHIPPED_NAME, &records, &mut problems);
        assert!(
            problems.is_empty(),
            "the shipped country table reads: {problems:?}"
        );
        table
    }

    /// A country code file, as CEPII distributes it.
    pub fn from_file(path: &Path) -> Result<CountryTable, Vec<SourceProblem>> {
        let file = TableFile::open(path).map_err(|p| vec![p])?;
        let name = file.name.clone();
        let mut records = Vec::new();
        file.records(|r| records.push(r.clone()), |_| {})
            .map_err(|p| vec![p])?;
        let mut table = CountryTable::default();
        let mut problems = Vec::new();
        table.read(&name, &records, &mut problems);
        if problems.is_empty() {
            Ok(table)
        } else {
            Err(problems)
        }
    }

    fn read(
        &mut self,
        file: &str,
        records: &[crate::ingest::csv::Record],
        problems: &mut Vec<SourceProblem>,
    ) {
        let problem = |line, column: Option<&str>, message: String| SourceProblem {
            file: file.to_owned(),
            line,
            column: column.map(str::to_owned),
            message,
        };
        let Some((header, rows)) = records.split_first() else {
            problems.push(problem(0, None, "the file is empty".into()));
            return;
        };
        let header = match table::cells(header).and_then(|h| table::locate(&h, &COLUMNS, false)) {
            Ok(positions) => positions,
            Err(message) => {
                problems.push(problem(1, None, message));
                return;
            }
        };
        for record in rows {
            let cells = match table::cells(record) {
                Ok(cells) if cells.len() == COLUMNS.len() => cells,
                Ok(cells) => {
                    problems.push(problem(
                        record.line,
                        None,
                        format!(
                            "{} cells where the header names {}",
                            cells.len(),
                            COLUMNS.len()
                        ),
                    ));
                    continue;
                }
                Err(message) => {
                    problems.push(problem(record.line, None, message));
                    continue;
                }
            };
            let [number, name, iso2, iso3] = [0, 1, 2, 3].map(|i| cells[header[i]].trim());
            let Ok(number) = number.parse::<u32>() else {
                problems.push(problem(
                    record.line,
                    Some("country_code"),
                    format!("`{number}` is not a numeric code"),
                ));
                continue;
            };
            let area = CountryCode::parse(iso2).map_or(Area::Other, Area::Country);
            if self.by_number.insert(number, area).is_some() {
                problems.push(problem(
                    record.line,
                    Some("country_code"),
                    format!("code {number} is listed twice"),
                ));
            }
            self.names.insert(number, name.to_owned());
            if !iso3.is_empty() {
                self.by_iso3.insert(iso3.to_owned(), area);
            }
        }
        for (iso3, iso2) in ISO3_BEYOND_BACI {
            if let Some(country) = CountryCode::parse(iso2) {
                self.by_iso3
                    .entry(iso3.to_owned())
                    .or_insert(Area::Country(country));
            }
        }
    }

    /// A BACI numeric code: `None` when the table does not list it.
    pub fn number(&self, code: u32) -> Option<Area> {
        self.by_number.get(&code).copied()
    }

    /// An ISO 3166-1 alpha-3 code: `None` when the table does not list it.
    pub fn iso3(&self, code: &str) -> Option<Area> {
        self.by_iso3.get(code).copied()
    }

    pub fn name(&self, code: u32) -> Option<&str> {
        self.names.get(&code).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_maps_baci_and_iso3_codes() {
        let table = CountryTable::shipped();
        let us = Area::Country(CountryCode::US);
        assert_eq!(table.number(842), Some(us));
        assert_eq!(table.iso3("USA"), Some(us));
        assert_eq!(table.number(156), Some(Area::Country(CountryCode::CN)));
        assert_eq!(table.number(699), table.iso3("IND"));
        assert_eq!(table.number(490), Some(Area::Other));
        assert_eq!(table.number(1), None);
        assert_eq!(
            table.iso3("NAM"),
            CountryCode::parse("NA").map(Area::Country)
        );
        assert_eq!(
            table.iso3("TWN"),
            CountryCode::parse("TW").map(Area::Country)
        );
    }
}
