//! The World Bank's Worldwide Governance Indicators: one indicator's
//! estimates by country (ISO alpha-3 `Code`) and year, one column a year
//! (`Country/Territory,Code,<years>…`). The copy at hand carries the
//! Political Stability and Absence of Violence/Terrorism estimate only, so
//! it is recorded as `wgi_political_stability`, not as the six-indicator
//! mean `governance_wgi` the method reads (data/README.md).

use std::collections::HashMap;
use std::path::Path;

use time::{Date, Month};

use super::countries::{Area, CountryTable};

use super::{Derived, OnInvalid, Problems, Release};
use crate::domain::{NewFact, NewSource};

pub const FAMILY: &str = "world-bank-wgi-pv-";
const NAMED: [&str; 2] = ["Country/Territory", "Code"];

/// The WGI update of a year (published each September: dated the month's
/// last day, never too early).
pub fn release(update: i32, today: Date) -> Result<Release, String> {
    let published_on = Date::from_calendar_date(update, Month::September, 30)
        .map_err(|_| format!("{update} is not an update year"))?;
    if !(1999..=today.year()).contains(&update) || published_on > today {
        return Err(format!("the WGI {update} update is not published by today"));
    }
    Ok(Release {
        source: NewSource {
            id: format!("{FAMILY}{update}"),
            title: format!("Worldwide Governance Indicators, {update} update: Political Stability and Absence of Violence/Terrorism, estimate"),
            publisher: "The World Bank".into(),
            kind: "intergovernmental_agency".into(),
            url: Some("https://www.worldbank.org/en/publication/worldwide-governance-indicators".into()),
            published_on: Some(published_on.to_string()),
            accessed_on: Some(today.to_string()),
            notes: Some("Kaufmann, D. and Kraay, A., Worldwide Governance Indicators. CC BY 4.0. Each year's estimates are dated by the update of the following year, the first to carry them (data/README.md).".into()),
            reliability: None,
        },
        family: FAMILY,
        published_on,
    })
}

/// When estimates for `year` first became public (data/README.md): the
/// September update of the following year, except the early years, whose
/// dates come from the reports that first published them. Where only the
/// month is known, its last day, never too early.
pub fn first_published(year: i32) -> Date {
    let (y, month, day) = match year {
        ..=2002 => (2003, Month::June, 30),
        2003 | 2005 => (2006, Month::September, 15),
        2004 => (2005, Month::June, 30),
        2006 => (2007, Month::July, 31),
        2007 => (2008, Month::June, 30),
        2008 => (2009, Month::June, 30),
        2009 => (2010, Month::September, 30),
        2022 => (2023, Month::September, 29),
        2023 => (2024, Month::November, 7),
        _ => (year + 1, Month::September, 30),
    };
    Date::from_calendar_date(y, month, day).expect("a valid date")
}

pub fn derive(
    path: &Path,
    countries: &CountryTable,
    release: Release,
    on_invalid: OnInvalid,
    today: Date,
) -> Result<Derived, Problems> {
    let mut facts = Vec::new();
    let mut rows_not_covered = 0;
    let mut seen: HashMap<String, u64> = HashMap::new();
    let source_id = release.source.id.clone();
    let (rows_read, problems) = super::read_wide(path, &NAMED, |header, line, cells, report| {
        let super::WideHeader {
            named: at, years, ..
        } = header;
        let iso3 = cells[at[1]].trim();
        let country = match countries.iso3(iso3) {
            Some(Area::Country(country)) => country,
            Some(Area::Other) => {
                rows_not_covered += 1;
                return;
            }
            None => {
                report.push(
                    line,
                    Some("Code"),
                    format!("`{iso3}` is not an ISO 3166-1 alpha-3 code of the country table"),
                );
                return;
            }
        };
        if let Some(first) = seen.insert(iso3.to_owned(), line) {
            report.push(
                line,
                Some("Code"),
                format!("repeats the row of line {first} ({iso3})"),
            );
            return;
        }
        for (column, year) in years {
            let text = cells[*column].trim();
            // The source file marks a missing estimate either way.
            if text.is_empty() || text == "nan" || text == "None" {
                continue;
            }
            let value = match text.parse::<f64>() {
                Ok(value) if value.is_finite() => value,
                _ => {
                    report.push(
                        line,
                        Some(&year.to_string()),
                        format!("`{text}` is not a number"),
                    );
                    continue;
                }
            };
            facts.push(NewFact {
                country: Some(country.to_string()),
                metric: "wgi_political_stability".into(),
                value: Some(value),
                unit: Some("index".into()),
                period: year.to_string(),
                status: "actual".into(),
                source_id: source_id.clone(),
                published_on: Some(first_published(*year).min(today).to_string()),
                locator: Some(format!("row {iso3}, column {year}")),
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
