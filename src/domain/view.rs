use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime, UtcOffset};
use utoipa::ToSchema;

/// Which facts a read of the past sees. A fact's `period` (when it applies)
/// is read the same way in every view; the views differ in what counts as
/// known at `as_of`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum View {
    /// What had been published by `as_of`: facts published on or before
    /// its day, a retraction counting only from the day it was published.
    #[default]
    Public,
    /// Exactly what this database held at `as_of`: recorded by then and
    /// not retracted then. Reproduces any earlier answer number for number.
    Recorded,
    /// Today's knowledge of the situation at `as_of`: every fact recorded
    /// and not retracted now.
    Current,
}

/// When a fact was published, recorded and (perhaps) retracted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Knowledge {
    pub published_on: Date,
    pub recorded_at: OffsetDateTime,
    pub retracted_at: Option<OffsetDateTime>,
    pub retraction_published_on: Option<Date>,
}

impl View {
    pub fn as_str(self) -> &'static str {
        match self {
            View::Public => "public",
            View::Recorded => "recorded",
            View::Current => "current",
        }
    }

    /// Whether a fact with this history counts as known at `as_of`. The
    /// fact listing's SQL (`store::facts::list`) states the same rule.
    pub fn knows(self, fact: &Knowledge, as_of: OffsetDateTime) -> bool {
        let day = as_of.to_offset(UtcOffset::UTC).date();
        match self {
            View::Public => {
                fact.published_on <= day && fact.retraction_published_on.is_none_or(|d| d > day)
            }
            View::Recorded => {
                fact.recorded_at <= as_of && fact.retracted_at.is_none_or(|t| t > as_of)
            }
            View::Current => fact.retracted_at.is_none(),
        }
    }

    /// Whether an answer of this view at a past `as_of` can never change:
    /// only what was recorded is fixed; what was published, or is known
    /// now, about the past grows as facts about it are recorded.
    pub fn is_fixed_in_the_past(self) -> bool {
        self == View::Recorded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    /// One fact, published 2024-05-01, recorded 2025-03-01, retracted on
    /// 2025-09-01 with a correction published 2025-08-15, read at four dates.
    #[test]
    fn the_three_views_of_one_fact_at_four_dates() {
        let fact = Knowledge {
            published_on: date!(2024 - 05 - 01),
            recorded_at: datetime!(2025-03-01 00:00 UTC),
            retracted_at: Some(datetime!(2025-09-01 00:00 UTC)),
            retraction_published_on: Some(date!(2025 - 08 - 15)),
        };
        let read = |as_of| {
            [View::Public, View::Recorded, View::Current].map(|view| view.knows(&fact, as_of))
        };
        assert_eq!(read(datetime!(2024-01-01 12:00 UTC)), [false, false, false]);
        assert_eq!(read(datetime!(2024-12-31 12:00 UTC)), [true, false, false]);
        assert_eq!(read(datetime!(2025-08-20 12:00 UTC)), [false, true, false]);
        assert_eq!(read(datetime!(2025-10-01 12:00 UTC)), [false, false, false]);
        let standing = Knowledge {
            retracted_at: None,
            retraction_published_on: None,
            ..fact
        };
        assert!(View::Current.knows(&standing, datetime!(2020-01-01 00:00 UTC)));
        assert!(!View::Public.knows(&standing, datetime!(2020-01-01 00:00 UTC)));
    }
}
