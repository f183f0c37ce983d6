use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What kind of claim a fact makes: measured, estimated, aspired to, or the
/// state of a project or a control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FactStatus {
    Actual,
    Estimate,
    Target,
    Operating,
    UnderConstruction,
    Planned,
    Announced,
    InForce,
    Suspended,
}

impl FactStatus {
    pub const ALL: [FactStatus; 9] = [
        FactStatus::Actual,
        FactStatus::Estimate,
        FactStatus::Target,
        FactStatus::Operating,
        FactStatus::UnderConstruction,
        FactStatus::Planned,
        FactStatus::Announced,
        FactStatus::InForce,
        FactStatus::Suspended,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FactStatus::Actual => "actual",
            FactStatus::Estimate => "estimate",
            FactStatus::Target => "target",
            FactStatus::Operating => "operating",
            FactStatus::UnderConstruction => "under_construction",
            FactStatus::Planned => "planned",
            FactStatus::Announced => "announced",
            FactStatus::InForce => "in_force",
            FactStatus::Suspended => "suspended",
        }
    }

    pub fn parse(s: &str) -> Option<FactStatus> {
        FactStatus::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Capacity that is not yet producing: it only counts towards the
    /// pipeline, discounted by how likely it is to arrive.
    pub fn is_pipeline(self) -> bool {
        matches!(
            self,
            FactStatus::UnderConstruction | FactStatus::Planned | FactStatus::Announced
        )
    }
}
