//! CEPII's BACI: bilateral trade flows by HS 1992 six-digit code, as CEPII
//! distributes them (`t,i,j,k,v,q`: year, exporter, importer, product,
//! value in thousand USD, quantity in tonnes) with its country code file.
//!
//! Derived, per catalogued product (the flows of every HS code it lists)
//! and year: each importing country's `import_share` by origin; the EU's,
//! as the extra-EU imports of its 27 members together; and each country's
//! `export_share` of world exports, for stages with no production
//! statistics. Shares are by value: quantities are not recorded for every
//! flow, and tonnes of different codes are not alike.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use time::{Date, Month};

use super::countries::{Area, CountryTable};
use super::progress::Progress;
use super::table::{self, TableFile};
use super::{Derived, OnInvalid, Problems, Release, SourceProblem};
use crate::domain::{Buyer, CountryCode, HsCode, NewFact, NewSource, ProductId, EU_MEMBERS};

pub const FAMILY: &str = "cepii-baci-hs92-";
const COLUMNS: [&str; 6] = ["t", "i", "j", "k", "v", "q"];

/// One trade flow, as read.
#[derive(Debug, Clone, Copy)]
struct Flow {
    year: i32,
    exporter: u32,
    importer: u32,
    code: HsCode,
    /// Thousand USD.
    value: f64,
    /// Tonnes, where recorded.
    quantity: Option<f64>,
}

/// The release a file belongs to, from CEPII's name for it (`V202401b`:
/// published in January 2024, revision b).
pub fn release(name: &str, today: Date) -> Result<Release, String> {
    let published_on = release_date(name).ok_or_else(|| {
        format!("`{name}` is not a BACI release name: use CEPII's, such as `V202401b`")
    })?;
    if published_on > today {
        return Err(format!("release `{name}` would be published after today"));
    }
    let id = format!("{FAMILY}{}", name.to_ascii_lowercase());
    Ok(Release {
        source: NewSource {
            id,
            title: format!("BACI: international trade database at the product level, HS 1992, release {name}"),
            publisher: "CEPII (Centre d'études prospectives et d'informations internationales)".into(),
            kind: "academic".into(),
            url: Some("https://www.cepii.fr/CEPII/en/bdd_modele/bdd_modele_item.asp?id=37".into()),
            published_on: Some(published_on.to_string()),
            accessed_on: Some(today.to_string()),
            notes: Some("Gaulier, G. and Zignago, S. (2010), BACI: International Trade Database at the Product-Level. The 1994-2007 Version, CEPII Working Paper 2010-23. Etalab Open Licence 2.0. Each year's figures are dated by the release that first carried them (data/README.md).".into()),
            reliability: None,
        },
        family: FAMILY,
        published_on,
    })
}

/// `VYYYYMM` with an optional revision letter: the last day of that month
/// (CEPII announces the day only on its news page; the month's end is never
/// too early).
fn release_date(name: &str) -> Option<Date> {
    let digits = name.strip_prefix('V')?;
    let (year, rest) = (digits.get(..4)?, digits.get(4..)?);
    let month = rest.get(..2)?;
    let revision = &rest[2..];
    if !revision.chars().all(|c| c.is_ascii_lowercase()) || revision.len() > 1 {
        return None;
    }
    let year: i32 = year.parse().ok()?;
    let month = Month::try_from(month.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(year, month, month.length(year)).ok()
}

/// When figures for `year` first became public (data/README.md): year Y
/// in the January release of Y+2, and no year before BACI's first public
/// version (October 2010, years to 2007; 2008 first in January 2011). Days
/// are not published: the month's last day is never too early.
pub fn first_published(year: i32) -> Date {
    if year <= 2007 {
        Date::from_calendar_date(2010, Month::October, 31)
    } else {
        Date::from_calendar_date((year + 2).max(2011), Month::January, 31)
    }
    .expect("a valid date")
}

/// Reads a trade file and derives the facts of the products listing its
/// codes (`products`: each HS code's products).
pub fn derive(
    trade: &Path,
    countries: &CountryTable,
    products: &HashMap<HsCode, Vec<ProductId>>,
    release: Release,
    on_invalid: OnInvalid,
    today: Date,
) -> Result<Derived, Problems> {
    let (flows, rows_read, problems) = read(trade, countries)?;
    if on_invalid == OnInvalid::Abort && !problems.is_empty() {
        return Err(problems);
    }
    let covered: Vec<&Flow> = flows
        .iter()
        .filter(|f| products.contains_key(&f.code))
        .collect();
    let rows_not_covered = flows.len() as u64 - covered.len() as u64;
    let facts = facts(&covered, countries, products, &release, today);
    Ok(Derived {
        release,
        facts,
        rows_read,
        rows_not_covered,
        problems,
    })
}

/// Every valid flow, the rows read, and the problems of the others.
fn read(trade: &Path, countries: &CountryTable) -> Result<(Vec<Flow>, u64, Problems), Problems> {
    let file = TableFile::open(trade).map_err(Problems::one)?;
    let name = file.name.clone();
    let mut progress = Progress::new("reading BACI", file.size.max(1) * 5);
    let mut problems = Problems::default();
    let mut positions: Option<Vec<usize>> = None;
    let mut header_failed = false;
    let mut flows = Vec::new();
    let mut lines: HashMap<(i32, u32, u32, HsCode), u64> = HashMap::new();
    let mut rows_read = 0;
    let problem = |line, column: Option<&str>, message: String| SourceProblem {
        file: name.clone(),
        line,
        column: column.map(str::to_owned),
        message,
    };
    file.records(
        |record| {
            if header_failed {
                return;
            }
            let cells = match table::cells(record) {
                Ok(cells) => cells,
                Err(message) => {
                    problems.push(problem(record.line, None, message));
                    return;
                }
            };
            let Some(at) = &positions else {
                match table::locate(&cells, &COLUMNS, false) {
                    Ok(found) => positions = Some(found),
                    Err(message) => {
                        problems.push(problem(record.line, None, message));
                        header_failed = true;
                    }
                }
                return;
            };
            rows_read += 1;
            if cells.len() != COLUMNS.len() {
                problems.push(problem(
                    record.line,
                    None,
                    format!("{} cells where the header names {}", cells.len(), COLUMNS.len()),
                ));
                return;
            }
            let cell = |c: usize| cells[at[c]].trim();
            let mut bad = |column: &str, message: String| {
                problems.push(problem(record.line, Some(column), message));
            };
            let year = cell(0).parse::<i32>().ok().filter(|y| (1988..=2100).contains(y));
            if year.is_none() {
                bad("t", format!("`{}` is not a year", cell(0)));
            }
            let mut country = |c: usize, column: &str| {
                let code = cell(c).parse::<u32>().ok();
                match code.map(|code| (code, countries.number(code))) {
                    Some((code, Some(_))) => Some(code),
                    Some((code, None)) => {
                        bad(column, format!("country code {code} is not in the country code file"));
                        None
                    }
                    None => {
                        bad(column, format!("`{}` is not a numeric country code", cell(c)));
                        None
                    }
                }
            };
            let exporter = country(1, "i");
            let importer = country(2, "j");
            let code = match cell(3).parse::<u32>() {
                Ok(k) => HsCode::from_number(k).or_else(|| {
                    bad("k", format!("`{}` is not in the HS 1992 code table", cell(3)));
                    None
                }),
                Err(_) => {
                    bad("k", format!("`{}` is not an HS code", cell(3)));
                    None
                }
            };
            let value = super::non_negative(cell(4))
                .map_err(|message| bad("v", message))
                .ok();
            let quantity = match cell(5) {
                "" | "NA" => Ok(None),
                text => super::non_negative(text).map(Some),
            }
            .map_err(|message| bad("q", message));
            if let (Some(year), Some(exporter), Some(importer), Some(code), Some(value), Ok(quantity)) =
                (year, exporter, importer, code, value, quantity)
            {
                if let Some(first) = lines.insert((year, exporter, importer, code), record.line) {
                    problems.push(problem(
                        record.line,
                        None,
                        format!("repeats the flow of line {first} (t={year}, i={exporter}, j={importer}, k={code})"),
                    ));
                    return;
                }
                flows.push(Flow {
                    year,
                    exporter,
                    importer,
                    code,
                    value,
                    quantity,
                });
            }
        },
        // Decompressed bytes are about five times the file's.
        |bytes| progress.advance(bytes),
    )
    .map_err(Problems::one)?;
    progress.finish();
    if positions.is_none() && problems.is_empty() {
        problems.push(problem(0, None, "the file is empty: no header".into()));
    }
    if header_failed || (positions.is_some() && rows_read == 0) {
        if problems.is_empty() {
            problems.push(problem(0, None, "the file holds no flows".into()));
        }
        return Err(problems);
    }
    if positions.is_none() {
        return Err(problems);
    }
    Ok((flows, rows_read, problems))
}

/// Value and quantity summed over a product's codes, with the codes and
/// the parties' numeric codes seen (a country may have several: Belgium's
/// and Belgium-Luxembourg's, say).
#[derive(Debug, Default, Clone)]
struct Sum {
    value: f64,
    quantity: f64,
    /// Flows whose quantity is not recorded.
    quantity_missing: bool,
    codes: Vec<HsCode>,
    exporters: Vec<u32>,
    importers: Vec<u32>,
}

fn add_once<T: Ord + Copy>(list: &mut Vec<T>, item: T) {
    if let Err(at) = list.binary_search(&item) {
        list.insert(at, item);
    }
}

impl Sum {
    fn add(&mut self, flow: &Flow) {
        self.value += flow.value;
        match flow.quantity {
            Some(q) => self.quantity += q,
            None => self.quantity_missing = true,
        }
        add_once(&mut self.codes, flow.code);
        add_once(&mut self.exporters, flow.exporter);
        add_once(&mut self.importers, flow.importer);
    }

    fn codes(&self) -> String {
        let codes: Vec<&str> = self.codes.iter().map(HsCode::as_str).collect();
        codes.join("+")
    }

    fn quantity_note(&self) -> String {
        if self.quantity_missing {
            String::new()
        } else {
            format!("; {} t", round3(self.quantity))
        }
    }
}

fn joined(codes: &[u32]) -> String {
    let codes: Vec<String> = codes.iter().map(u32::to_string).collect();
    codes.join("+")
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A trading party: a country, or an area without a country code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Party {
    Country(CountryCode),
    Area(u32),
}

fn facts(
    flows: &[&Flow],
    countries: &CountryTable,
    products: &HashMap<HsCode, Vec<ProductId>>,
    release: &Release,
    today: Date,
) -> Vec<NewFact> {
    let eu: Vec<CountryCode> = EU_MEMBERS
        .iter()
        .filter_map(|c| CountryCode::parse(c))
        .collect();
    let party = |code: u32| match countries.number(code) {
        Some(Area::Country(country)) => Party::Country(country),
        _ => Party::Area(code),
    };
    let in_eu = |p: Party| matches!(p, Party::Country(c) if eu.contains(&c));
    // (product, year, buyer) → origin → sum; (product, year) → exporter → sum.
    let mut imports: BTreeMap<(&ProductId, i32, Buyer), BTreeMap<Party, Sum>> = BTreeMap::new();
    let mut exports: BTreeMap<(&ProductId, i32), BTreeMap<Party, Sum>> = BTreeMap::new();
    for flow in flows {
        let importer = party(flow.importer);
        let exporter = party(flow.exporter);
        let mut buyers = Vec::with_capacity(2);
        if let Party::Country(country) = importer {
            buyers.push(Buyer::Country(country));
        }
        if in_eu(importer) && !in_eu(exporter) {
            buyers.push(Buyer::Eu);
        }
        for product in &products[&flow.code] {
            exports
                .entry((product, flow.year))
                .or_default()
                .entry(exporter)
                .or_default()
                .add(flow);
            for buyer in &buyers {
                imports
                    .entry((product, flow.year, *buyer))
                    .or_default()
                    .entry(exporter)
                    .or_default()
                    .add(flow);
            }
        }
    }
    let source_id = release.source.id.clone();
    let published = |year: i32| first_published(year).min(today).to_string();
    let mut facts = Vec::new();
    for ((product, year, buyer), origins) in &imports {
        let total: f64 = origins.values().map(|s| s.value).sum();
        if total <= 0.0 {
            continue;
        }
        for (origin, sum) in origins {
            let Party::Country(country) = origin else {
                continue;
            };
            let importers = match buyer {
                Buyer::Eu => "EU27 extra-EU".to_owned(),
                Buyer::Country(_) => joined(&sum.importers),
            };
            facts.push(NewFact {
                product: Some(product.to_string()),
                country: Some(country.to_string()),
                buyer: Some(buyer.as_str().to_owned()),
                metric: "import_share".into(),
                value: Some(sum.value / total),
                unit: Some("fraction".into()),
                period: year.to_string(),
                status: "actual".into(),
                source_id: source_id.clone(),
                published_on: Some(published(*year)),
                locator: Some(format!(
                    "t={year} i={} j={importers} k={}",
                    joined(&sum.exporters),
                    sum.codes()
                )),
                note: Some(format!(
                    "{} of {} thousand USD imported{}",
                    round3(sum.value),
                    round3(total),
                    sum.quantity_note()
                )),
                ..NewFact::default()
            });
        }
    }
    for ((product, year), exporters) in &exports {
        let world: f64 = exporters.values().map(|s| s.value).sum();
        if world <= 0.0 {
            continue;
        }
        for (exporter, sum) in exporters {
            let Party::Country(country) = exporter else {
                continue;
            };
            facts.push(NewFact {
                product: Some(product.to_string()),
                country: Some(country.to_string()),
                metric: "export_share".into(),
                value: Some(sum.value / world),
                unit: Some("fraction".into()),
                period: year.to_string(),
                status: "actual".into(),
                source_id: source_id.clone(),
                published_on: Some(published(*year)),
                locator: Some(format!(
                    "t={year} i={} k={}, every importer",
                    joined(&sum.exporters),
                    sum.codes()
                )),
                note: Some(format!(
                    "{} of {} thousand USD of world exports{}",
                    round3(sum.value),
                    round3(world),
                    sum.quantity_note()
                )),
                ..NewFact::default()
            });
        }
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_are_dated_by_their_name() {
        let today = Date::from_calendar_date(2026, Month::December, 2).unwrap();
        let release = release("V202401b", today).unwrap();
        assert_eq!(release.published_on.to_string(), "2024-01-31");
        assert_eq!(release.source.id, "cepii-baci-hs92-v202401b");
        for bad in ["202401", "V2024", "V202413", "V202401bb", "V202401B"] {
            assert!(super::release(bad, today).is_err(), "{bad}");
        }
        assert!(super::release("V202701", today).is_err());
        assert_eq!(first_published(2022).to_string(), "2024-01-31");
        assert_eq!(first_published(2008).to_string(), "2011-01-31");
        assert_eq!(first_published(1995).to_string(), "2010-10-31");
    }
}
