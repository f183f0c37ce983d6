use serde::Deserialize;
use time::{Date, OffsetDateTime, Time};

/// The instant a read is made as of: an RFC 3339 date-time, or a
/// `YYYY-MM-DD` date meaning the end of that day (UTC). Every route that
/// takes `as_of` accepts exactly these forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct AsOf(pub OffsetDateTime);

impl AsOf {
    pub fn parse(text: &str) -> Option<AsOf> {
        if let Ok(instant) =
            OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        {
            return Some(AsOf(instant));
        }
        let format = time::macros::format_description!("[year]-[month]-[day]");
        Date::parse(text, format).ok().map(AsOf::end_of)
    }

    /// The end of `day` (UTC), as a bare date reads.
    pub fn end_of(day: Date) -> AsOf {
        AsOf(
            day.with_time(Time::from_hms(23, 59, 59).expect("valid time"))
                .assume_utc(),
        )
    }

    /// [`AsOf::parse`], or the message naming the accepted forms.
    pub fn read(text: &str) -> Result<AsOf, String> {
        AsOf::parse(text)
            .ok_or_else(|| format!("`{text}` is not an RFC 3339 date-time or a YYYY-MM-DD date"))
    }
}

impl TryFrom<String> for AsOf {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        AsOf::read(&value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_date_means_the_end_of_that_day_utc() {
        assert_eq!(
            AsOf::parse("2025-06-30"),
            Some(AsOf(datetime!(2025-06-30 23:59:59 UTC)))
        );
        assert_eq!(
            AsOf::parse("2025-06-30T12:00:00+02:00"),
            Some(AsOf(datetime!(2025-06-30 10:00:00 UTC)))
        );
        assert!(AsOf::read("June 2025").unwrap_err().contains("RFC 3339"));
    }
}
