//! The vocabulary of monitoring: what an alert rule watches for, the
//! events it raises, and where webhooks may be sent.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A score a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WatchedScore {
    /// Dependency, 0–100 points.
    Dependency,
    /// Displacement difficulty, 0–100 points.
    Difficulty,
    /// The EU CRM methodology's supply risk (`GET /v1/scores/{product}/eu-crm`).
    EuCrmSupplyRisk,
}

impl WatchedScore {
    pub fn as_str(self) -> &'static str {
        match self {
            WatchedScore::Dependency => "dependency",
            WatchedScore::Difficulty => "difficulty",
            WatchedScore::EuCrmSupplyRisk => "eu_crm_supply_risk",
        }
    }

    /// The largest value the score takes (the EU CRM SR has no fixed top;
    /// the EC's threshold for criticality is 1).
    fn maximum(self) -> Option<f64> {
        match self {
            WatchedScore::Dependency | WatchedScore::Difficulty => Some(100.0),
            WatchedScore::EuCrmSupplyRisk => None,
        }
    }
}

/// Which crossings of a threshold raise an event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Crossing {
    /// Rising to the threshold or above.
    Up,
    /// Falling below `threshold − hysteresis`.
    Down,
    /// Either (the default).
    #[default]
    Both,
}

impl Crossing {
    pub fn includes(self, up: bool) -> bool {
        matches!(
            (self, up),
            (Crossing::Both, _) | (Crossing::Up, true) | (Crossing::Down, false)
        )
    }
}

/// A change of an export control on a watched product or upstream of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ControlChange {
    /// A control was announced that is not in force yet.
    Announced,
    /// A control came into force (announced earlier, or at once).
    InForce,
    /// A control was suspended.
    Suspended,
    /// A control no longer applies (lifted, expired or retracted).
    Lifted,
}

impl ControlChange {
    pub const ALL: [ControlChange; 4] = [
        ControlChange::Announced,
        ControlChange::InForce,
        ControlChange::Suspended,
        ControlChange::Lifted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ControlChange::Announced => "announced",
            ControlChange::InForce => "in_force",
            ControlChange::Suspended => "suspended",
            ControlChange::Lifted => "lifted",
        }
    }
}

/// What a rule watches for, given as an object whose `kind` names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// The score crosses `threshold`: upwards when it reaches it, downwards
    /// when it falls below `threshold − hysteresis`, so a value hovering
    /// at the line raises one event, not one per wobble.
    Threshold {
        /// The score watched.
        score: WatchedScore,
        /// In the score's units (points for dependency and difficulty).
        #[schema(example = 90)]
        threshold: f64,
        /// Which crossings raise an event: `up`, `down` or `both` (the
        /// default).
        #[serde(default)]
        direction: Crossing,
        /// In the score's units, at least 0 (default 1).
        #[serde(default = "default_hysteresis")]
        #[schema(example = 2)]
        hysteresis: f64,
    },
    /// The score has moved by at least `points` since the rule last raised
    /// an event (or since it first saw the product).
    Movement {
        /// The score watched.
        score: WatchedScore,
        /// More than 0, in the score's units.
        #[schema(example = 5)]
        points: f64,
    },
    /// An export control on a watched product or anywhere upstream of it
    /// is announced, comes into force, is suspended or lifted.
    ExportControl {
        /// The changes that raise an event (default all four).
        #[serde(default = "all_control_changes")]
        changes: Vec<ControlChange>,
    },
    /// Facts a watched score combines disagree by more than 20% (a new
    /// conflict among them).
    FactConflict,
}

fn default_hysteresis() -> f64 {
    1.0
}

fn all_control_changes() -> Vec<ControlChange> {
    ControlChange::ALL.to_vec()
}

impl Condition {
    /// Every problem, as (field under the condition, message).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        let mut in_range = |field, value: f64, least: f64, score: WatchedScore| {
            let top = score.maximum();
            if !value.is_finite() || value < least || top.is_some_and(|top| value > top) {
                let range = match top {
                    Some(top) => format!("{least} to {top}"),
                    None => format!("at least {least}"),
                };
                problems.push((field, format!("must be {range} for `{}`", score.as_str())));
            }
        };
        match *self {
            Condition::Threshold {
                score,
                threshold,
                hysteresis,
                ..
            } => {
                in_range("threshold", threshold, 0.0, score);
                in_range("hysteresis", hysteresis, 0.0, score);
            }
            Condition::Movement { score, points } => {
                in_range("points", points, f64::MIN_POSITIVE, score);
            }
            Condition::ExportControl { ref changes } if changes.is_empty() => {
                problems.push(("changes", "name at least one change".to_owned()));
            }
            Condition::ExportControl { .. } | Condition::FactConflict => {}
        }
        problems
    }

    /// The score it reads, if any.
    pub fn score(&self) -> Option<WatchedScore> {
        match *self {
            Condition::Threshold { score, .. } | Condition::Movement { score, .. } => Some(score),
            Condition::ExportControl { .. } | Condition::FactConflict => None,
        }
    }
}

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    #[serde(rename = "score.threshold_crossed")]
    ThresholdCrossed,
    #[serde(rename = "score.moved")]
    ScoreMoved,
    #[serde(rename = "export_control.announced")]
    ControlAnnounced,
    #[serde(rename = "export_control.in_force")]
    ControlInForce,
    #[serde(rename = "export_control.suspended")]
    ControlSuspended,
    #[serde(rename = "export_control.lifted")]
    ControlLifted,
    #[serde(rename = "fact.conflict")]
    FactConflict,
    /// An endpoint that failed for too long was disabled.
    #[serde(rename = "webhook.disabled")]
    WebhookDisabled,
    /// A test delivery asked for with `POST /v1/webhooks/{id}/ping`.
    #[serde(rename = "ping")]
    Ping,
}

impl EventType {
    pub const ALL: [EventType; 9] = [
        EventType::ThresholdCrossed,
        EventType::ScoreMoved,
        EventType::ControlAnnounced,
        EventType::ControlInForce,
        EventType::ControlSuspended,
        EventType::ControlLifted,
        EventType::FactConflict,
        EventType::WebhookDisabled,
        EventType::Ping,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ThresholdCrossed => "score.threshold_crossed",
            EventType::ScoreMoved => "score.moved",
            EventType::ControlAnnounced => "export_control.announced",
            EventType::ControlInForce => "export_control.in_force",
            EventType::ControlSuspended => "export_control.suspended",
            EventType::ControlLifted => "export_control.lifted",
            EventType::FactConflict => "fact.conflict",
            EventType::WebhookDisabled => "webhook.disabled",
            EventType::Ping => "ping",
        }
    }

    pub fn parse(text: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == text)
    }

    pub fn of_control(change: ControlChange) -> EventType {
        match change {
            ControlChange::Announced => EventType::ControlAnnounced,
            ControlChange::InForce => EventType::ControlInForce,
            ControlChange::Suspended => EventType::ControlSuspended,
            ControlChange::Lifted => EventType::ControlLifted,
        }
    }
}

/// A webhook endpoint's URL, checked: `http` or `https`, a host, no
/// credentials, no fragment; and unless private targets are allowed, no
/// loopback, private, link-local or unspecified address, nor `localhost`.
/// Names are checked again when a delivery resolves them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(url::Url);

/// Most characters of a webhook URL.
pub const MAX_URL_CHARS: usize = 2000;

impl WebhookUrl {
    pub fn parse(text: &str, allow_private: bool) -> Result<WebhookUrl, String> {
        if text.chars().count() > MAX_URL_CHARS {
            return Err(format!("must be at most {MAX_URL_CHARS} characters"));
        }
        let url = url::Url::parse(text).map_err(|e| format!("is not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "scheme `{}` is not allowed: use http or https",
                url.scheme()
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials: the signature authenticates us".to_owned());
        }
        if url.fragment().is_some() {
            return Err("must not have a fragment".to_owned());
        }
        let host = match url.host() {
            Some(url::Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if !allow_private && (name == "localhost" || name.ends_with(".localhost")) {
                    return Err(private_refused("localhost"));
                }
                None
            }
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            None => return Err("must name a host".to_owned()),
        };
        if let Some(ip) = host {
            if !allow_private && !is_public(ip) {
                return Err(private_refused(&ip.to_string()));
            }
        }
        Ok(WebhookUrl(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

fn private_refused(target: &str) -> String {
    format!(
        "`{target}` is a loopback, private or link-local target, refused unless the operator \
         allows private webhook targets"
    )
}

/// Whether an address is one a webhook may reach without the operator's
/// leave: not loopback, private, link-local, shared, documentation,
/// multicast or unspecified.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (18..20).contains(&b))
                || (a == 192 && b == 0 && c == 0))
        }
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            // Forms that carry an IPv4 address: mapped, compatible, NAT64
            // (64:ff9b::/96) and 6to4 (2002::/16).
            let embedded = |high: u16, low: u16| {
                IpAddr::V4(std::net::Ipv4Addr::from(
                    (u32::from(high) << 16) | u32::from(low),
                ))
            };
            if let Some(v4) = v6.to_ipv4() {
                if !v6.is_loopback() && !v6.is_unspecified() {
                    return is_public(IpAddr::V4(v4));
                }
            }
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_public(embedded(segments[6], segments[7]));
            }
            if segments[0] == 0x2002 {
                return is_public(embedded(segments[1], segments[2]));
            }
            let first = segments[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first & 0xffc0) == 0xfec0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_are_checked() {
        assert!(WebhookUrl::parse("https://hooks.example.com/chokepoint", false).is_ok());
        for (url, why) in [
            ("ftp://example.com/", "scheme"),
            ("https://user:pw@example.com/", "credentials"),
            ("http://127.0.0.1:9000/", "loopback"),
            ("http://10.1.2.3/", "loopback"),
            ("http://[::1]/", "loopback"),
            ("http://169.254.169.254/latest", "loopback"),
            ("http://localhost:8080/", "loopback"),
            ("http://[::ffff:192.168.0.1]/", "loopback"),
            ("http://[::127.0.0.1]/", "loopback"),
            ("http://[64:ff9b::10.0.0.1]/", "loopback"),
            ("http://[2002:7f00:1::]/", "loopback"),
            ("http://[fec0::1]/", "loopback"),
            ("http://198.18.0.1/", "loopback"),
            ("http://240.0.0.1/", "loopback"),
            ("http://2130706433/", "loopback"),
            ("http://0x7f.1/", "loopback"),
            ("https://example.com/#x", "fragment"),
            ("not a url", "URL"),
        ] {
            let error = WebhookUrl::parse(url, false).unwrap_err();
            assert!(error.contains(why), "{url}: {error}");
        }
        assert!(WebhookUrl::parse("http://[2606:4700::1111]/", false).is_ok());
        assert!(WebhookUrl::parse("http://[64:ff9b::808:808]/", false).is_ok());
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(WebhookUrl::parse("http://localhost:9000/hook", true).is_ok());
    }

    #[test]
    fn conditions_are_range_checked() {
        let threshold = |threshold, hysteresis| Condition::Threshold {
            score: WatchedScore::Dependency,
            threshold,
            direction: Crossing::Both,
            hysteresis,
        };
        assert!(threshold(90.0, 2.0).problems().is_empty());
        assert_eq!(threshold(120.0, 2.0).problems()[0].0, "threshold");
        assert_eq!(threshold(50.0, -1.0).problems()[0].0, "hysteresis");
        assert_eq!(threshold(f64::NAN, 0.0).problems()[0].0, "threshold");
        let movement = Condition::Movement {
            score: WatchedScore::EuCrmSupplyRisk,
            points: 0.0,
        };
        assert_eq!(movement.problems()[0].0, "points");
        let controls = Condition::ExportControl { changes: vec![] };
        assert_eq!(controls.problems()[0].0, "changes");
    }

    #[test]
    fn event_types_round_trip() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert_eq!(
                serde_json::to_value(t).unwrap(),
                serde_json::json!(t.as_str())
            );
        }
    }
}
