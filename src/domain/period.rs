use serde::{Deserialize, Serialize};
use time::{Date, Month};
use utoipa::ToSchema;

/// The time a fact describes: a year (`2024`), a day (`2025-10-09`), a
/// closed range (`2025-11-10/2026-11-10`) or an open one (`2025-04-04/..`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Period {
    pub start: Date,
    /// Inclusive; `None` is open-ended.
    pub end: Option<Date>,
}

const DATE_FORMAT: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

impl Period {
    pub fn year(year: i32) -> Option<Period> {
        let start = Date::from_calendar_date(year, Month::January, 1).ok()?;
        let end = Date::from_calendar_date(year, Month::December, 31).ok()?;
        Some(Period {
            start,
            end: Some(end),
        })
    }

    pub fn parse(s: &str) -> Result<Period, String> {
        let bad = || {
            format!("`{s}` is not a period: use a year (2024), a date (2024-05-01) or a range (2024-01-01/2024-06-30, 2025-04-04/..)")
        };
        if let Some((from, to)) = s.split_once('/') {
            let start = parse_date(from).ok_or_else(bad)?;
            let end = if to == ".." {
                None
            } else {
                Some(parse_date(to).ok_or_else(bad)?)
            };
            if end.is_some_and(|end| end < start) {
                return Err(format!("period `{s}` ends before it starts"));
            }
            return Ok(Period { start, end });
        }
        if s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()) {
            return Period::year(s.parse().map_err(|_| bad())?).ok_or_else(bad);
        }
        let day = parse_date(s).ok_or_else(bad)?;
        Ok(Period {
            start: day,
            end: Some(day),
        })
    }

    /// Whether `day` falls inside the period.
    pub fn contains(&self, day: Date) -> bool {
        self.start <= day && self.end.is_none_or(|end| day <= end)
    }

    fn is_whole_year(&self) -> bool {
        self.start.month() == Month::January
            && self.start.day() == 1
            && self.end.is_some_and(|end| {
                end.year() == self.start.year() && end.month() == Month::December && end.day() == 31
            })
    }
}

fn parse_date(s: &str) -> Option<Date> {
    Date::parse(s, DATE_FORMAT).ok()
}

fn format_date(date: Date) -> String {
    date.format(DATE_FORMAT).expect("dates format")
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_whole_year() {
            return write!(f, "{}", self.start.year());
        }
        match self.end {
            Some(end) if end == self.start => f.write_str(&format_date(self.start)),
            Some(end) => write!(f, "{}/{}", format_date(self.start), format_date(end)),
            None => write!(f, "{}/..", format_date(self.start)),
        }
    }
}

impl utoipa::PartialSchema for Period {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "A year (`2024`), a date (`2025-10-09`), a closed range \
                 (`2025-11-10/2026-11-10`) or an open one (`2025-04-04/..`)",
            ))
            .examples([serde_json::json!("2024")])
            .into()
    }
}

impl ToSchema for Period {}

impl TryFrom<String> for Period {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Period::parse(&value)
    }
}

impl From<Period> for String {
    fn from(value: Period) -> Self {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_each_form() {
        for text in [
            "2024",
            "2025-10-09",
            "2025-11-10/2026-11-10",
            "2025-04-04/..",
        ] {
            assert_eq!(Period::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(
            Period::parse("2024-01-01/2024-12-31").unwrap().to_string(),
            "2024"
        );
    }

    #[test]
    fn rejects_non_dates_and_reversed_ranges() {
        for text in [
            "last year",
            "2024-13-01",
            "2024-02-30",
            "2025-01-01/2024-01-01",
            "",
        ] {
            assert!(Period::parse(text).is_err(), "{text}");
        }
    }
}
