use std::sync::Arc;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::product::parse_slug;

/// A source's id: a lowercase slug such as `usgs-mcs-2025`.
// Clones share the text, so the many facts citing one source hold it once.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, ToSchema)]
#[serde(try_from = "String")]
#[schema(value_type = String, example = "usgs-mcs-2025-rare-earths", pattern = "^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$")]
pub struct SourceId(Arc<str>);

impl SourceId {
    pub fn parse(s: &str) -> Result<SourceId, String> {
        parse_slug(s).map(|slug| SourceId(Arc::from(slug)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for SourceId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl std::fmt::Display for SourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for SourceId {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        SourceId::parse(&value)
    }
}

impl From<SourceId> for String {
    fn from(value: SourceId) -> Self {
        value.0.as_ref().to_owned()
    }
}

/// What kind of publisher a source is; decides its default reliability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    IntergovernmentalAgency,
    GovernmentStatistics,
    CompanyDisclosure,
    IndustryAnalyst,
    Academic,
    News,
    StateAffiliatedMedia,
    Other,
}

impl SourceKind {
    pub const ALL: [SourceKind; 8] = [
        SourceKind::IntergovernmentalAgency,
        SourceKind::GovernmentStatistics,
        SourceKind::CompanyDisclosure,
        SourceKind::IndustryAnalyst,
        SourceKind::Academic,
        SourceKind::News,
        SourceKind::StateAffiliatedMedia,
        SourceKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::IntergovernmentalAgency => "intergovernmental_agency",
            SourceKind::GovernmentStatistics => "government_statistics",
            SourceKind::CompanyDisclosure => "company_disclosure",
            SourceKind::IndustryAnalyst => "industry_analyst",
            SourceKind::Academic => "academic",
            SourceKind::News => "news",
            SourceKind::StateAffiliatedMedia => "state_affiliated_media",
            SourceKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<SourceKind> {
        SourceKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Default reliability prior (0..1), used as a fact's confidence when
    /// the fact gives none. Statistical agencies and audited disclosures rank
    /// high; state-affiliated media, whose figures are unverifiable, low.
    /// Published in docs/methodology.md.
    pub fn default_reliability(self) -> f64 {
        match self {
            SourceKind::IntergovernmentalAgency => 0.9,
            SourceKind::GovernmentStatistics => 0.9,
            SourceKind::CompanyDisclosure => 0.8,
            SourceKind::Academic => 0.75,
            SourceKind::IndustryAnalyst => 0.7,
            SourceKind::News => 0.5,
            SourceKind::Other => 0.4,
            SourceKind::StateAffiliatedMedia => 0.3,
        }
    }
}

/// A source as clients submit it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "id": "usgs-mcs-2025-tellurium",
    "title": "Mineral Commodity Summaries 2025: Tellurium",
    "publisher": "U.S. Geological Survey, National Minerals Information Center",
    "kind": "government_statistics",
    "url": "https://pubs.usgs.gov/periodicals/mcs2025/mcs2025-tellurium.pdf",
    "published_on": "2025-01-31",
    "accessed_on": "2026-11-28",
    "notes": "Tellurium is among the metals China put under export licensing in February 2025."
}))]
pub struct NewSource {
    /// 2 to 64 lower-case letters, digits and inner hyphens.
    #[schema(value_type = String, example = "usgs-mcs-2025-rare-earths", pattern = "^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$")]
    pub id: String,
    /// 1 to 500 characters, not all blank.
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub title: String,
    /// 1 to 500 characters, not all blank.
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub publisher: String,
    #[schema(value_type = SourceKind)]
    pub kind: String,
    /// An http(s) URL of at most 2000 characters.
    #[schema(max_length = 2000, pattern = "^https?://")]
    pub url: Option<String>,
    /// Publication date, `YYYY-MM-DD`, from 1900 to today; the facts that
    /// cite the source are published then unless they say otherwise.
    #[schema(value_type = Option<String>, format = Date, example = "2025-01-31", pattern = "^(19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}$")]
    pub published_on: Option<String>,
    /// When the source was consulted, `YYYY-MM-DD`.
    #[schema(value_type = Option<String>, format = Date, example = "2026-11-20")]
    pub accessed_on: Option<String>,
    /// At most 4000 characters.
    #[schema(max_length = 4000)]
    pub notes: Option<String>,
    /// Overrides the kind's default reliability (0..1).
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub reliability: Option<f64>,
}

/// A validated source.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub id: SourceId,
    pub title: String,
    pub publisher: String,
    pub kind: SourceKind,
    pub url: Option<String>,
    pub published_on: Option<time::Date>,
    pub accessed_on: Option<time::Date>,
    pub notes: Option<String>,
    pub reliability: f64,
    pub reliability_overridden: bool,
}

const DATE_FORMAT: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

pub(super) fn parse_date(value: &str) -> Option<time::Date> {
    time::Date::parse(value, DATE_FORMAT).ok()
}

impl NewSource {
    /// Validates every field, returning all problems as (field, message).
    /// `today` bounds the publication date: facts inherit it, and nothing
    /// can have been published in the future.
    pub fn validate(self, today: time::Date) -> Result<Source, Vec<(&'static str, String)>> {
        let mut errors = Vec::new();
        let id = SourceId::parse(&self.id)
            .map_err(|e| errors.push(("id", e)))
            .ok();
        let kind = SourceKind::parse(&self.kind);
        if kind.is_none() {
            let kinds: Vec<&str> = SourceKind::ALL.iter().map(|k| k.as_str()).collect();
            errors.push((
                "kind",
                format!(
                    "`{}` is not a source kind: use one of {}",
                    self.kind,
                    kinds.join(", ")
                ),
            ));
        }
        for (field, text, max) in [
            ("title", &self.title, 500),
            ("publisher", &self.publisher, 500),
        ] {
            if text.trim().is_empty() || text.chars().count() > max {
                errors.push((field, format!("must be 1 to {max} characters")));
            }
        }
        if let Some(url) = &self.url {
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2000 {
                errors.push((
                    "url",
                    "must be an http(s) URL of at most 2000 characters".into(),
                ));
            }
        }
        if self
            .notes
            .as_ref()
            .is_some_and(|n| n.chars().count() > 4000)
        {
            errors.push(("notes", "must be at most 4000 characters".into()));
        }
        let mut date = |field: &'static str, value: &Option<String>| match value {
            None => None,
            Some(text) => {
                let parsed = parse_date(text);
                if parsed.is_none() {
                    errors.push((field, format!("`{text}` is not a date (YYYY-MM-DD)")));
                }
                parsed
            }
        };
        let published_on = date("published_on", &self.published_on);
        let accessed_on = date("accessed_on", &self.accessed_on);
        if let Some(day) = published_on {
            if day < super::fact::EARLIEST_PUBLICATION {
                errors.push(("published_on", "must not be before 1900-01-01".into()));
            } else if day > today {
                errors.push(("published_on", format!("must not be after today ({today})")));
            }
        }
        if let Some(r) = self.reliability {
            if !(0.0..=1.0).contains(&r) {
                errors.push(("reliability", "must be between 0 and 1".into()));
            }
        }
        match (id, kind, errors.is_empty()) {
            (Some(id), Some(kind), true) => Ok(Source {
                id,
                title: self.title,
                publisher: self.publisher,
                kind,
                url: self.url,
                published_on,
                accessed_on,
                notes: self.notes,
                reliability: self.reliability.unwrap_or(kind.default_reliability()),
                reliability_overridden: self.reliability.is_some(),
            }),
            _ => Err(errors),
        }
    }
}
