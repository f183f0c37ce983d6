use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A stage of the value chain, ordered from upstream to downstream.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Extraction of ore and concentrate.
    Mining,
    /// Midstream: beneficiation, cracking, separation, refining, metal and alloy making.
    Smelting,
    /// Magnets, alloys, powders, anodes, wafers.
    Materials,
    /// EV traction motors, wind-turbine generators, electronics, defence systems.
    Applications,
}

impl Stage {
    pub const ALL: [Stage; 4] = [
        Stage::Mining,
        Stage::Smelting,
        Stage::Materials,
        Stage::Applications,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Mining => "mining",
            Stage::Smelting => "smelting",
            Stage::Materials => "materials",
            Stage::Applications => "applications",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|stage| stage.as_str() == s)
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
