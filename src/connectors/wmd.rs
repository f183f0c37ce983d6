//! World Mining Data (Austrian Federal Ministry of Finance): production by
//! country and year for each commodity, one table per commodity, here
//! stacked in one file with the commodity in the first column
//! (`commodity,Country,Country_Code,Country_ISO,<years>…,unit,data_source`).
//!
//! A mapping file names the catalogue product each commodity's production
//! counts for and the factor from the table's basis to the product's (oxide
//! to element, say); a commodity mapped to no product is read and left out.
//! The data-quality flag sets status and confidence: reported figures are
//! `actual`, estimated and provisional ones `estimate`.

use std::collections::HashMap;
use std::path::Path;

use time::{Date, Month};

use super::countries::{Area, CountryTable};
use super::table::{self, TableFile};
use super::{Derived, OnInvalid, Problems, Release, SourceProblem};
use crate::domain::{NewFact, NewSource, ProductId};

pub const FAMILY: &str = "bmf-world-mining-data-";
const LEADING: [&str; 4] = ["commodity", "Country", "Country_Code", "Country_ISO"];
const TRAILING: [&str; 2] = ["unit", "data_source"];
const MAP_COLUMNS: [&str; 4] = ["commodity", "product", "factor", "note"];

/// Confidence of a figure by the table's data-quality flag.
const REPORTED: f64 = 0.9;
const PROVISIONAL: f64 = 0.8;
const ESTIMATED: f64 = 0.7;

/// What a commodity's production counts for.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub product: Option<ProductId>,
    pub factor: f64,
}

/// The edition of World Mining Data a file comes from (published in May:
/// dated the month's last day, never too early).
pub fn release(edition: i32, today: Date) -> Result<Release, String> {
    let published_on = Date::from_calendar_date(edition, Month::May, 31)
        .map_err(|_| format!("{edition} is not an edition year"))?;
    if !(1985..=today.year()).contains(&edition) || published_on > today {
        return Err(format!(
            "World Mining Data {edition} is not published by today"
        ));
    }
    Ok(Release {
        source: NewSource {
            id: format!("{FAMILY}{edition}"),
            title: format!("World Mining Data {edition}: production of mineral raw materials of individual countries by minerals"),
            publisher: "Austrian Federal Ministry of Finance (BMF)".into(),
            kind: "government_statistics".into(),
            url: Some("https://www.world-mining-data.info/".into()),
            published_on: Some(published_on.to_string()),
            accessed_on: Some(today.to_string()),
            notes: Some("Reichl, C. and Schatz, M., World Mining Data. Each year's figures are dated by the edition two years later, the first to carry them (data/README.md).".into()),
            reliability: None,
        },
        family: FAMILY,
        published_on,
    })
}

/// When figures for `year` first became public: the edition of year Y+2
/// first carries year Y (data/README.md).
pub fn first_published(year: i32) -> Date {
    Date::from_calendar_date(year + 2, Month::May, 31).expect("a valid date")
}

/// Reads the commodity-to-product mapping (`commodity,product,factor,note`).
pub fn read_mapping(
    path: &Path,
    products: &std::collections::HashSet<String>,
) -> Result<HashMap<String, Mapping>, Problems> {
    let file = TableFile::open(path).map_err(Problems::one)?;
    let name = file.name.clone();
    let mut records = Vec::new();
    file.records(|r| records.push(r.clone()), |_| {})
        .map_err(Problems::one)?;
    let mut problems = Problems::default();
    let problem = |line, column: Option<&str>, message: String| SourceProblem {
        file: name.clone(),
        line,
        column: column.map(str::to_owned),
        message,
    };
    let mut mapping = HashMap::new();
    let Some((header, rows)) = records.split_first() else {
        return Err(Problems::one(problem(0, None, "the file is empty".into())));
    };
    let at = table::cells(header)
        .and_then(|h| table::locate(&h, &MAP_COLUMNS, false))
        .map_err(|m| Problems::one(problem(1, None, m)))?;
    for record in rows {
        let Ok(cells) = table::cells(record) else {
            problems.push(problem(record.line, None, "not valid UTF-8".into()));
            continue;
        };
        if cells.len() != MAP_COLUMNS.len() {
            problems.push(problem(
                record.line,
                None,
                format!("{} cells where the header names 4", cells.len()),
            ));
            continue;
        }
        let [commodity, product, factor] = [0, 1, 2].map(|i| cells[at[i]].trim());
        let product = if product.is_empty() {
            None
        } else if products.contains(product) {
            ProductId::parse(product).ok()
        } else {
            problems.push(problem(
                record.line,
                Some("product"),
                format!("product `{product}` does not exist"),
            ));
            continue;
        };
        let factor = match super::non_negative(factor) {
            Ok(f) if f > 0.0 => f,
            _ if product.is_none() => 1.0,
            _ => {
                problems.push(problem(
                    record.line,
                    Some("factor"),
                    format!("`{factor}` is not a positive number"),
                ));
                continue;
            }
        };
        if mapping
            .insert(commodity.to_owned(), Mapping { product, factor })
            .is_some()
        {
            problems.push(problem(
                record.line,
                Some("commodity"),
                format!("`{commodity}` is mapped twice"),
            ));
        }
    }
    if problems.is_empty() {
        Ok(mapping)
    } else {
        Err(problems)
    }
}

/// Tonnes per unit of the table's `unit` column, for masses; for volumes
/// (natural gas in million cubic metres) the mapping's factor gives the
/// tonnes per unit, so the unit counts as 1; `None` for an unknown unit.
fn tonnes_per(unit: &str) -> Option<f64> {
    match unit {
        "metr. t" | "t" => Some(1.0),
        "kg" => Some(0.001),
        // A metric carat is 0.2 g.
        "ct" => Some(2.0e-7),
        "Mio m3" => Some(1.0),
        _ => None,
    }
}

pub fn derive(
    path: &Path,
    countries: &CountryTable,
    mapping: &HashMap<String, Mapping>,
    release: Release,
    on_invalid: OnInvalid,
    today: Date,
) -> Result<Derived, Problems> {
    let mut facts = Vec::new();
    let mut rows_not_covered = 0;
    let mut seen: HashMap<(String, String), u64> = HashMap::new();
    let source_id = release.source.id.clone();
    let named: Vec<&str> = LEADING.iter().chain(&TRAILING).copied().collect();
    let (rows_read, problems) = super::read_wide(path, &named, |header, line, cells, report| {
        let super::WideHeader {
            named: at, years, ..
        } = header;
        let cell = |i: usize| cells[i].trim();
        let commodity = cell(at[0]);
        let iso3 = cell(at[3]);
        let Some(mapped) = mapping.get(commodity) else {
            report.push(
                line,
                Some("commodity"),
                format!("`{commodity}` is not in the commodity mapping"),
            );
            return;
        };
        // The table's own total row.
        if iso3 == "DELETE" || cell(at[1]) == "Total" {
            rows_not_covered += 1;
            return;
        }
        let country = match countries.iso3(iso3) {
            Some(Area::Country(country)) => country,
            Some(Area::Other) => {
                rows_not_covered += 1;
                return;
            }
            None => {
                report.push(
                    line,
                    Some("Country_ISO"),
                    format!("`{iso3}` is not an ISO 3166-1 alpha-3 code of the country table"),
                );
                return;
            }
        };
        if let Some(first) = seen.insert((commodity.to_owned(), iso3.to_owned()), line) {
            report.push(
                line,
                None,
                format!("repeats the row of line {first} ({commodity}, {iso3})"),
            );
            return;
        }
        let unit = cell(at[4]);
        let flag = cell(at[5]);
        let (status, confidence) = match flag {
            "r" => ("actual", REPORTED),
            "p" => ("estimate", PROVISIONAL),
            "e" => ("estimate", ESTIMATED),
            "" | "nan" => ("actual", REPORTED),
            other => {
                report.push(
                    line,
                    Some("data_source"),
                    format!("`{other}` is not a data-quality flag: use r, p or e"),
                );
                return;
            }
        };
        let Some(product) = &mapped.product else {
            rows_not_covered += 1;
            return;
        };
        let Some(per_unit) = tonnes_per(unit) else {
            report.push(
                line,
                Some("unit"),
                format!("`{unit}` is not a unit of the tables: use metr. t, kg, ct or Mio m3"),
            );
            return;
        };
        for (column, year) in years {
            let text = cell(*column);
            if text.is_empty() || text == "nan" {
                continue;
            }
            let value = match super::non_negative(text) {
                Ok(value) => value,
                Err(message) => {
                    report.push(line, Some(&year.to_string()), message);
                    continue;
                }
            };
            let factor_note = if mapped.factor == 1.0 {
                String::new()
            } else {
                format!(" × {} to the product's basis", mapped.factor)
            };
            facts.push(NewFact {
                product: Some(product.to_string()),
                country: Some(country.to_string()),
                metric: "production".into(),
                value: Some(value * per_unit * mapped.factor),
                unit: Some("t".into()),
                period: year.to_string(),
                status: status.into(),
                source_id: source_id.clone(),
                confidence: Some(confidence),
                published_on: Some(first_published(*year).min(today).to_string()),
                locator: Some(format!("sheet {commodity}, row {iso3}, column {year}")),
                note: Some(format!(
                    "{text} {unit}{factor_note}; data-quality flag `{flag}`"
                )),
                ..NewFact::default()
            });
        }
    })?;
    Derived {
        release,
        facts,
        rows_read,
        rows_not_covered,
        problems,
    }
    .unless_aborted(on_invalid)
}
