use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::product::parse_slug;

/// A source's id: a lowercase slug such as `usgs-mcs-2025`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "usgs-mcs-2025", pattern = "^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$")]
pub struct SourceId(String);

impl SourceId {
    pub fn parse(s: &str) -> Result<SourceId, String> {
        parse_slug(s).map(SourceId)
    }

    pub fn as_str(&self) -> &str {
        &self.0
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
        value.0
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
