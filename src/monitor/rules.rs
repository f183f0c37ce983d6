//! Alert rules, pure: what a rule last saw of a product and what it sees
//! now give its next state and the alerts to raise. No IO, no clock (the
//! caller passes the instant): the same inputs give the same result, so a
//! repeated evaluation raises nothing twice.
//!
//! A rule's first look at a product only records what it sees (the state
//! of the world when the rule was made is not news). Inside a quiet period
//! after an alert nothing is raised and the state is not advanced, so a
//! change that persists is raised once the period ends and one that
//! reverts is never raised.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::domain::{Buyer, Condition, ControlChange, EventType, WatchedScore};

/// An export control's status as a rule tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlStatus {
    /// Announced, not in force yet.
    Announced,
    InForce,
    Suspended,
}

impl ControlStatus {
    fn change(self) -> ControlChange {
        match self {
            ControlStatus::Announced => ControlChange::Announced,
            ControlStatus::InForce => ControlChange::InForce,
            ControlStatus::Suspended => ControlChange::Suspended,
        }
    }
}

/// A control seen on the product or upstream, with what an event says of it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedControl {
    pub status: ControlStatus,
    pub detail: Value,
}

/// What the evaluator read of one watched product for a rule's buyer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    pub dependency: Option<f64>,
    pub difficulty: Option<f64>,
    pub eu_crm_supply_risk: Option<f64>,
    /// Export controls on the product or upstream, by a key naming the
    /// control (product, country, level, facility).
    pub controls: BTreeMap<String, ObservedControl>,
    /// Conflicts among the facts the score combines, by a key naming
    /// the facts.
    pub conflicts: BTreeMap<String, Value>,
}

impl Observation {
    pub fn value(&self, score: WatchedScore) -> Option<f64> {
        match score {
            WatchedScore::Dependency => self.dependency,
            WatchedScore::Difficulty => self.difficulty,
            WatchedScore::EuCrmSupplyRisk => self.eu_crm_supply_risk,
        }
    }
}

/// What a rule remembers of one product between evaluations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleState {
    /// Whom the values were read for; set by the caller. A state read for
    /// another buyer than the watchlist's now is no state at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer: Option<Buyer>,
    /// The value last seen, for an alert's `before`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_value: Option<f64>,
    /// Threshold rules: whether the value is on the upper side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub above: Option<bool>,
    /// Movement rules: the value moves are measured from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// Export-control rules: the controls seen, once the rule has looked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controls: Option<BTreeMap<String, ControlStatus>>,
    /// Conflict rules: the conflicts seen, once the rule has looked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflicts: Option<BTreeSet<String>>,
    /// Unix seconds of the last alert, for the quiet period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_alert_at: Option<i64>,
}

/// An alert to raise: its type and what the event says beyond the rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub event_type: EventType,
    pub detail: Value,
}

/// The rule's next state and its alerts, given what it saw last
/// (`previous`, `None` on its first look) and sees now, at `now` (Unix
/// seconds), with a quiet period of `quiet` seconds after each alert.
pub fn evaluate(
    condition: &Condition,
    quiet: i64,
    previous: Option<&RuleState>,
    observed: &Observation,
    now: i64,
) -> (RuleState, Vec<Alert>) {
    let mut state = previous.cloned().unwrap_or_default();
    let quiet_now = state
        .last_alert_at
        .is_some_and(|at| now < at.saturating_add(quiet));
    let mut alerts = Vec::new();
    match condition {
        Condition::Threshold {
            score,
            threshold,
            direction,
            hysteresis,
        } => {
            if let Some(value) = observed.value(*score) {
                let crossed = match state.above {
                    None => {
                        state.above = Some(value >= *threshold);
                        None
                    }
                    Some(false) if value >= *threshold => Some(true),
                    Some(true) if value < threshold - hysteresis => Some(false),
                    Some(_) => None,
                };
                if let Some(up) = crossed {
                    if !direction.includes(up) {
                        state.above = Some(up);
                    } else if !quiet_now {
                        state.above = Some(up);
                        alerts.push(Alert {
                            event_type: EventType::ThresholdCrossed,
                            detail: json!({
                                "score": score.as_str(),
                                "direction": if up { "up" } else { "down" },
                                "threshold": threshold,
                                "before": state.last_value,
                                "after": value,
                            }),
                        });
                    }
                }
                state.last_value = Some(value);
            }
        }
        Condition::Movement { score, points } => {
            if let Some(value) = observed.value(*score) {
                match state.baseline {
                    None => state.baseline = Some(value),
                    Some(baseline) if (value - baseline).abs() >= *points && !quiet_now => {
                        state.baseline = Some(value);
                        alerts.push(Alert {
                            event_type: EventType::ScoreMoved,
                            detail: json!({
                                "score": score.as_str(),
                                "points": points,
                                "since": baseline,
                                "before": state.last_value,
                                "after": value,
                                "change": value - baseline,
                            }),
                        });
                    }
                    Some(_) => {}
                }
                state.last_value = Some(value);
            }
        }
        Condition::ExportControl { changes } => {
            let now_seen: BTreeMap<String, ControlStatus> = observed
                .controls
                .iter()
                .map(|(key, control)| (key.clone(), control.status))
                .collect();
            match &state.controls {
                None => state.controls = Some(now_seen),
                Some(seen) if *seen != now_seen && !quiet_now => {
                    for (key, control) in &observed.controls {
                        if seen.get(key) != Some(&control.status)
                            && changes.contains(&control.status.change())
                        {
                            alerts.push(Alert {
                                event_type: EventType::of_control(control.status.change()),
                                detail: json!({ "export_control": control.detail, "key": key }),
                            });
                        }
                    }
                    for key in seen.keys().filter(|key| !now_seen.contains_key(*key)) {
                        if changes.contains(&ControlChange::Lifted) {
                            alerts.push(Alert {
                                event_type: EventType::ControlLifted,
                                detail: json!({ "key": key }),
                            });
                        }
                    }
                    state.controls = Some(now_seen);
                }
                Some(_) => {}
            }
        }
        Condition::FactConflict => {
            let now_seen: BTreeSet<String> = observed.conflicts.keys().cloned().collect();
            match &state.conflicts {
                None => state.conflicts = Some(now_seen),
                Some(seen) if *seen != now_seen && !quiet_now => {
                    for (key, conflict) in &observed.conflicts {
                        if !seen.contains(key) {
                            alerts.push(Alert {
                                event_type: EventType::FactConflict,
                                detail: json!({ "conflict": conflict, "key": key }),
                            });
                        }
                    }
                    state.conflicts = Some(now_seen);
                }
                Some(_) => {}
            }
        }
    }
    if !alerts.is_empty() {
        state.last_alert_at = Some(now);
    }
    (state, alerts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Crossing;
    use proptest::prelude::*;

    fn threshold(threshold: f64, hysteresis: f64, direction: Crossing) -> Condition {
        Condition::Threshold {
            score: WatchedScore::Dependency,
            threshold,
            direction,
            hysteresis,
        }
    }

    fn dependency(value: f64) -> Observation {
        Observation {
            dependency: Some(value),
            ..Observation::default()
        }
    }

    /// Runs a rule over values one second apart; the alerts' directions.
    fn run(condition: &Condition, quiet: i64, values: &[f64]) -> Vec<Alert> {
        let mut state = None;
        let mut alerts = Vec::new();
        for (second, value) in values.iter().enumerate() {
            let (next, raised) = evaluate(
                condition,
                quiet,
                state.as_ref(),
                &dependency(*value),
                second as i64,
            );
            state = Some(next);
            alerts.extend(raised);
        }
        alerts
    }

    fn directions(alerts: &[Alert]) -> Vec<&str> {
        alerts
            .iter()
            .map(|a| a.detail["direction"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn the_first_look_only_arms() {
        assert!(run(&threshold(50.0, 1.0, Crossing::Both), 0, &[80.0]).is_empty());
        let movement = Condition::Movement {
            score: WatchedScore::Dependency,
            points: 5.0,
        };
        assert!(run(&movement, 0, &[80.0]).is_empty());
    }

    #[test]
    fn a_value_hovering_at_the_line_raises_once() {
        // 49.5 is above 50 − 1: no way back down until below 49.
        let values = [45.0, 50.0, 49.5, 50.2, 49.1, 50.0, 52.0];
        let alerts = run(&threshold(50.0, 1.0, Crossing::Both), 0, &values);
        assert_eq!(directions(&alerts), ["up"]);
        assert_eq!(alerts[0].detail["before"], json!(45.0));
        assert_eq!(alerts[0].detail["after"], json!(50.0));
        let alerts = run(
            &threshold(50.0, 1.0, Crossing::Both),
            0,
            &[45.0, 51.0, 48.9],
        );
        assert_eq!(directions(&alerts), ["up", "down"]);
    }

    #[test]
    fn a_direction_filters_crossings_but_the_side_still_moves() {
        let values = [60.0, 40.0, 60.0, 40.0];
        let up = run(&threshold(50.0, 1.0, Crossing::Up), 0, &values);
        assert_eq!(directions(&up), ["up"]);
        let down = run(&threshold(50.0, 1.0, Crossing::Down), 0, &values);
        assert_eq!(directions(&down), ["down", "down"]);
    }

    #[test]
    fn a_quiet_period_defers_a_lasting_change_and_drops_a_reverted_one() {
        let rule = threshold(50.0, 1.0, Crossing::Both);
        // Up at second 1; down at 2 (quiet until 11); still down at 12.
        let mut values = vec![40.0, 60.0, 40.0];
        values.extend(std::iter::repeat_n(40.0, 10));
        let alerts = run(&rule, 10, &values);
        assert_eq!(directions(&alerts), ["up", "down"]);
        // Up at 1, down at 2 and back up at 3: nothing after the quiet period.
        let mut values = vec![40.0, 60.0, 40.0, 60.0];
        values.extend(std::iter::repeat_n(60.0, 12));
        assert_eq!(directions(&run(&rule, 10, &values)), ["up"]);
    }

    #[test]
    fn movement_is_measured_from_the_last_alert() {
        let rule = Condition::Movement {
            score: WatchedScore::Dependency,
            points: 5.0,
        };
        let alerts = run(&rule, 0, &[50.0, 53.0, 54.9, 55.0, 57.0, 50.0]);
        let changes: Vec<f64> = alerts
            .iter()
            .map(|a| a.detail["change"].as_f64().unwrap())
            .collect();
        assert_eq!(changes, [5.0, -5.0]);
    }

    #[test]
    fn an_unknown_value_moves_nothing() {
        let rule = threshold(50.0, 1.0, Crossing::Both);
        let (armed, _) = evaluate(&rule, 0, None, &dependency(40.0), 0);
        let (after, alerts) = evaluate(&rule, 0, Some(&armed), &Observation::default(), 1);
        assert!(alerts.is_empty());
        assert_eq!(after, armed);
    }

    fn controls(entries: &[(&str, ControlStatus)]) -> Observation {
        Observation {
            controls: entries
                .iter()
                .map(|(key, status)| {
                    (
                        key.to_string(),
                        ObservedControl {
                            status: *status,
                            detail: json!({ "product": key }),
                        },
                    )
                })
                .collect(),
            ..Observation::default()
        }
    }

    #[test]
    fn export_controls_raise_each_change_of_status() {
        let rule = Condition::ExportControl {
            changes: ControlChange::ALL.to_vec(),
        };
        let steps = [
            controls(&[("gallium", ControlStatus::InForce)]),
            controls(&[
                ("gallium", ControlStatus::InForce),
                ("graphite", ControlStatus::Announced),
            ]),
            controls(&[
                ("gallium", ControlStatus::Suspended),
                ("graphite", ControlStatus::InForce),
            ]),
            controls(&[("graphite", ControlStatus::InForce)]),
        ];
        let mut state = None;
        let mut raised = Vec::new();
        for (second, step) in steps.iter().enumerate() {
            let (next, alerts) = evaluate(&rule, 0, state.as_ref(), step, second as i64);
            state = Some(next);
            raised.extend(alerts.into_iter().map(|a| a.event_type));
        }
        assert_eq!(
            raised,
            [
                EventType::ControlAnnounced,
                EventType::ControlSuspended,
                EventType::ControlInForce,
                EventType::ControlLifted,
            ]
        );
        let only_lifted = Condition::ExportControl {
            changes: vec![ControlChange::Lifted],
        };
        let (armed, _) = evaluate(&only_lifted, 0, None, &steps[2], 0);
        let (_, alerts) = evaluate(&only_lifted, 0, Some(&armed), &steps[3], 1);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].event_type, EventType::ControlLifted);
    }

    #[test]
    fn a_new_conflict_is_raised_once() {
        let conflicts = |keys: &[&str]| Observation {
            conflicts: keys.iter().map(|k| (k.to_string(), json!(k))).collect(),
            ..Observation::default()
        };
        let (armed, alerts) = evaluate(&Condition::FactConflict, 0, None, &conflicts(&["a"]), 0);
        assert!(alerts.is_empty());
        let (next, alerts) = evaluate(
            &Condition::FactConflict,
            0,
            Some(&armed),
            &conflicts(&["a", "b"]),
            1,
        );
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].detail["key"], json!("b"));
        let (_, again) = evaluate(
            &Condition::FactConflict,
            0,
            Some(&next),
            &conflicts(&["a", "b"]),
            2,
        );
        assert!(again.is_empty());
    }

    #[test]
    fn the_state_survives_being_stored() {
        let rule = threshold(50.0, 1.0, Crossing::Both);
        let (state, _) = evaluate(&rule, 0, None, &dependency(40.0), 0);
        let stored: RuleState =
            serde_json::from_value(serde_json::to_value(&state).unwrap()).unwrap();
        assert_eq!(stored, state);
    }

    proptest! {
        /// Evaluating the same observation again raises nothing and
        /// changes nothing.
        #[test]
        fn evaluation_is_idempotent(
            values in prop::collection::vec(0.0..100.0f64, 1..20),
            threshold_at in 0.0..100.0f64,
            hysteresis in 0.0..10.0f64,
            quiet in 0i64..5,
        ) {
            let rule = threshold(threshold_at, hysteresis, Crossing::Both);
            let mut state = None;
            for (second, value) in values.iter().enumerate() {
                let observed = dependency(*value);
                let now = second as i64 * 10;
                let (next, _) = evaluate(&rule, quiet, state.as_ref(), &observed, now);
                let (again, alerts) = evaluate(&rule, quiet, Some(&next), &observed, now);
                prop_assert!(alerts.is_empty());
                prop_assert_eq!(&again, &next);
                state = Some(next);
            }
        }

        /// Crossings alternate, and values that stay within a band
        /// narrower than the hysteresis raise at most one.
        #[test]
        fn crossings_alternate_and_a_narrow_band_raises_at_most_one(
            values in prop::collection::vec(0.0..100.0f64, 1..40),
            band in prop::collection::vec(0.0..1.0f64, 1..40),
            threshold_at in 10.0..90.0f64,
            hysteresis in 0.5..10.0f64,
        ) {
            let rule = threshold(threshold_at, hysteresis, Crossing::Both);
            let alerts = run(&rule, 0, &values);
            let seen = directions(&alerts);
            prop_assert!(seen.windows(2).all(|pair| pair[0] != pair[1]));
            let hovering: Vec<f64> = band
                .iter()
                .map(|u| threshold_at - hysteresis * 0.5 + u * hysteresis * 0.999)
                .collect();
            prop_assert!(run(&rule, 0, &hovering).len() <= 1);
        }
    }
}
