//! The headline figures of a score, as listings, scenarios and histories
//! report them, and how far they move between two scores.

use std::sync::Arc;

use serde::Serialize;
use time::{Date, Duration, Month, OffsetDateTime, Time};
use utoipa::ToSchema;

use super::{score_product, Params, ProductScore, ScoreRange, Snapshot, METHODOLOGY_VERSION};
use crate::domain::{Buyer, ProductId, Stage, View};

/// A product's headline scores, as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScoreSummary {
    /// The product scored.
    pub product: ProductId,
    /// Its stage.
    pub stage: Stage,
    /// Points 0–100 under the requested chain aggregation: the share of the
    /// buyer's supply passing through Chinese-controlled capacity here or
    /// upstream. The method defines no low or high bands. `null` when no
    /// stage of the chain has supply facts (unknown, not 0); such products
    /// sort last.
    #[schema(example = 96.4)]
    pub dependency: Option<f64>,
    /// Points 0–100: from the chosen aggregation to the other; `null` with
    /// `dependency`.
    pub dependency_range: Option<ScoreRange>,
    /// Points 0–100: displacement difficulty, how hard replacing that
    /// supply would be. The method defines no low or high bands.
    #[schema(example = 71.5)]
    pub difficulty: f64,
    /// Fraction 0–1 of the difficulty weight backed by facts.
    pub coverage: f64,
    /// The product whose own stage binds the dependency (possibly this one);
    /// absent at dependency 0.
    pub chokepoint: Option<ProductId>,
    /// The chokepoint's stage; absent with it.
    pub chokepoint_stage: Option<Stage>,
    /// The stage whose difficulty binds.
    pub binding_stage: Stage,
    /// Years: the longest lead time (fact or stage default) of the product
    /// and its material inputs at any depth.
    pub years_to_displace: f64,
    /// Count of export controls in force or suspended on the product or
    /// upstream.
    pub export_controls: usize,
    /// The method that produced the scores.
    #[schema(example = "2026.6")]
    pub methodology_version: &'static str,
}

impl From<&ProductScore> for ScoreSummary {
    fn from(score: &ProductScore) -> ScoreSummary {
        ScoreSummary {
            product: score.product.clone(),
            stage: score.stage,
            dependency: score.dependency.score,
            dependency_range: score.dependency.dependency_range,
            difficulty: score.difficulty.score,
            coverage: score.difficulty.coverage,
            chokepoint: score
                .dependency
                .chokepoint
                .as_ref()
                .map(|c| c.product.clone()),
            chokepoint_stage: score.dependency.chokepoint.as_ref().map(|c| c.stage),
            binding_stage: score.difficulty.binding.stage,
            years_to_displace: score.difficulty.years_to_displace,
            export_controls: in_force_or_suspended(score),
            methodology_version: METHODOLOGY_VERSION,
        }
    }
}

/// Export controls in force or suspended on the product or upstream (not
/// those only announced).
fn in_force_or_suspended(score: &ProductScore) -> usize {
    score
        .pressure
        .iter()
        .filter(|p| p.takes_effect_on.is_none())
        .count()
}

/// How far each headline figure moved: scenario minus baseline.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScoreDelta {
    /// Points on the 0–100 scale, −100 to 100: negative when the scenario
    /// lowers the dependency; `null` when either side has no dependency.
    pub dependency: Option<f64>,
    /// Points on the 0–100 scale, −100 to 100: negative when the scenario
    /// makes displacement easier.
    pub difficulty: f64,
    /// Years.
    pub years_to_displace: f64,
    /// Change in the count of export controls.
    pub export_controls: i64,
}

impl ScoreDelta {
    /// `after` minus `before`.
    pub fn between(before: &ScoreSummary, after: &ScoreSummary) -> ScoreDelta {
        ScoreDelta {
            dependency: after.dependency.zip(before.dependency).map(|(a, b)| a - b),
            difficulty: after.difficulty - before.difficulty,
            years_to_displace: after.years_to_displace - before.years_to_displace,
            export_controls: after.export_controls as i64 - before.export_controls as i64,
        }
    }
}

// The spacing of a history's points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Year,
    Quarter,
    Month,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Year => "year",
            Step::Quarter => "quarter",
            Step::Month => "month",
        }
    }

    fn months(self) -> i32 {
        match self {
            Step::Year => 12,
            Step::Quarter => 3,
            Step::Month => 1,
        }
    }
}

/// One point of a product's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPoint {
    /// The instant scored: 23:59:59 UTC on the step's last day (on `to` for
    /// the last point).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub as_of: OffsetDateTime,
    /// Points 0–100 under the requested chain; `null` while no stage of the
    /// chain had supply facts.
    pub dependency: Option<f64>,
    /// Points 0–100: from the chosen aggregation to the other; `null` with
    /// `dependency`.
    pub dependency_range: Option<ScoreRange>,
    /// Points 0–100.
    pub difficulty: f64,
    /// Fraction 0–1 of the difficulty weight backed by facts.
    pub coverage: f64,
    /// Count of export controls in force or suspended then.
    pub export_controls: usize,
}

/// A product's scores history.
#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    /// The product scored.
    pub product: ProductId,
    /// Whom for.
    pub buyer: Buyer,
    /// Which facts each point counts as known at its instant.
    pub view: View,
    /// The spacing of the points: `year`, `quarter` or `month`.
    pub step: String,
    /// The method every point was scored with (today's, also for past
    /// instants).
    #[schema(example = "2026.6")]
    pub methodology_version: String,
    /// Oldest first.
    pub points: Vec<HistoryPoint>,
}

/// The product scored at each of `instants` with otherwise the same
/// parameters, on the snapshot `snapshot_at` gives for that instant (the
/// product graph of a `recorded` read can differ from one instant to the
/// next). Instants whose snapshot lacks the product have no point; `None`
/// when none has it.
pub fn history(
    product: &ProductId,
    params: &Params,
    step: Step,
    instants: &[OffsetDateTime],
    snapshot_at: impl Fn(OffsetDateTime) -> Option<Arc<Snapshot>>,
) -> Option<History> {
    let mut points = Vec::with_capacity(instants.len());
    for &as_of in instants {
        let Some(score) = snapshot_at(as_of)
            .and_then(|snapshot| score_product(&snapshot, product, &Params { as_of, ..*params }))
        else {
            continue;
        };
        points.push(HistoryPoint {
            as_of,
            dependency: score.dependency.score,
            dependency_range: score.dependency.dependency_range,
            difficulty: score.difficulty.score,
            coverage: score.difficulty.coverage,
            export_controls: in_force_or_suspended(&score),
        });
    }
    if points.is_empty() {
        return None;
    }
    Some(History {
        product: product.clone(),
        buyer: params.buyer,
        view: params.view,
        step: step.as_str().to_owned(),
        methodology_version: METHODOLOGY_VERSION.to_owned(),
        points,
    })
}

/// The end of each step from `from` to `to`, the last clipped to `to`;
/// steps are aligned to calendar years, quarters and months.
pub fn steps(from: Date, to: Date, step: Step) -> Vec<OffsetDateTime> {
    let months = step.months();
    let end_of_day = |day: Date| {
        day.with_time(Time::from_hms(23, 59, 59).expect("valid"))
            .assume_utc()
    };
    let mut points = Vec::new();
    let mut month_index = from.year() * 12 + (u8::from(from.month()) as i32 - 1);
    month_index -= month_index.rem_euclid(months);
    loop {
        let next = month_index + months;
        let (year, month) = (next.div_euclid(12), (next.rem_euclid(12) + 1) as u8);
        let first_of_next =
            Date::from_calendar_date(year, Month::try_from(month).expect("1..=12"), 1)
                .expect("valid date");
        let end = first_of_next - Duration::days(1);
        if end >= to {
            points.push(end_of_day(to));
            break;
        }
        points.push(end_of_day(end));
        month_index = next;
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn steps_end_each_period_and_clip_to_the_last_day() {
        let years = steps(date!(2023 - 03 - 01), date!(2025 - 06 - 30), Step::Year);
        let days: Vec<Date> = years.iter().map(|t| t.date()).collect();
        assert_eq!(
            days,
            [
                date!(2023 - 12 - 31),
                date!(2024 - 12 - 31),
                date!(2025 - 06 - 30)
            ]
        );
        let quarters = steps(date!(2025 - 01 - 15), date!(2025 - 12 - 31), Step::Quarter);
        assert_eq!(quarters.len(), 4);
        assert_eq!(
            steps(date!(2025 - 02 - 10), date!(2025 - 02 - 10), Step::Month).len(),
            1
        );
    }
}
