//! What a ship decision rests on, as the definition states it: the primary metric, whose
//! always-valid result says whether the arm is better, and the guardrails, each a one-sided
//! non-inferiority margin the arm must be shown to stay within (docs/architecture.md, Deciding).

use std::fmt;

use serde::{Deserialize, Serialize};

/// An experiment checks at most this many guardrails.
pub const MAX_GUARDRAILS: usize = 20;

/// The primary metric when the definition names none: day-7 retention, or the window's last day
/// when the window is shorter.
pub const DEFAULT_PRIMARY_DAY: u32 = 7;

/// One `[[guardrails]]` table as written: a metric and one margin, relative to control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardrailDefinition {
    /// `error_rate`, `compute_s_per_returned_user`, `latency_p95_ms` or `retention_dK`.
    pub metric: String,
    /// For metrics where higher is worse: the arm may exceed control by at most this share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_relative_increase: Option<f64>,
    /// For metrics where higher is better: the arm may fall short of control by at most this share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_relative_decrease: Option<f64>,
}

/// The metric a verdict rests on, on day k after exposure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrimaryMetric {
    Retention(u32),
    TimeSpent(u32),
    UserMessages(u32),
}

/// A metric a guardrail protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardrailMetric {
    /// Replies that ended in an error, over replies (a ratio of per-user sums).
    ErrorRate,
    /// Reply compute seconds over users who came back (a ratio of per-user sums).
    ComputeSPerReturnedUser,
    /// Reply latency p95 in milliseconds (a quantile of replies clustered by user).
    LatencyP95Ms,
    /// Retention on day k.
    Retention(u32),
}

/// Which way a guardrail metric gets worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Harm {
    Increase,
    Decrease,
}

/// A validated guardrail: the arm's relative change against control must be shown to stay
/// within `margin` in the harmful direction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Guardrail {
    pub metric: GuardrailMetric,
    pub margin: f64,
}

/// The validated rules of the verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRules {
    pub primary: PrimaryMetric,
    pub guardrails: Vec<Guardrail>,
}

/// `prefix` followed by a day number: `retention_d7` -> 7.
fn day_of(name: &str, prefix: &str) -> Option<u32> {
    let digits = name.strip_prefix(prefix)?;
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

impl PrimaryMetric {
    pub fn parse(name: &str, window_days: u32) -> Result<Self, String> {
        let parsed = if let Some(k) = day_of(name, "retention_d") {
            Some((Self::Retention(k), 1))
        } else if let Some(k) = day_of(name, "time_spent_d") {
            Some((Self::TimeSpent(k), 0))
        } else {
            day_of(name, "user_messages_d").map(|k| (Self::UserMessages(k), 0))
        };
        let Some((metric, first_day)) = parsed else {
            return Err(format!(
                "primary_metric {name:?} is not one of retention_dK, time_spent_dK, user_messages_dK"
            ));
        };
        let k = metric.day();
        if k < first_day || k > window_days {
            return Err(format!(
                "primary_metric {name:?} is on day {k}, outside the window's days {first_day}..={window_days}"
            ));
        }
        Ok(metric)
    }

    pub fn day(&self) -> u32 {
        match self {
            Self::Retention(k) | Self::TimeSpent(k) | Self::UserMessages(k) => *k,
        }
    }
}

impl fmt::Display for PrimaryMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Retention(k) => write!(f, "retention_d{k}"),
            Self::TimeSpent(k) => write!(f, "time_spent_d{k}"),
            Self::UserMessages(k) => write!(f, "user_messages_d{k}"),
        }
    }
}

impl Harm {
    /// `margin` as a signed relative change: positive for an increase, negative for a decrease.
    pub fn signed(&self, margin: f64) -> f64 {
        match self {
            Self::Increase => margin,
            Self::Decrease => -margin,
        }
    }
}

impl GuardrailMetric {
    pub fn parse(name: &str, window_days: u32) -> Result<Self, String> {
        match name {
            "error_rate" => Ok(Self::ErrorRate),
            "compute_s_per_returned_user" => Ok(Self::ComputeSPerReturnedUser),
            "latency_p95_ms" => Ok(Self::LatencyP95Ms),
            // Named by the contract, but not measured yet: say why rather than ignore it.
            "catch_up_s" => Err(
                "guardrail metric \"catch_up_s\" cannot be used yet: the report does not \
                 measure catch-up time"
                    .to_owned(),
            ),
            _ => match day_of(name, "retention_d") {
                Some(k) if (1..=window_days).contains(&k) => Ok(Self::Retention(k)),
                Some(k) => Err(format!(
                    "guardrail metric {name:?} is on day {k}, outside the window's days 1..={window_days}"
                )),
                None => Err(format!(
                    "guardrail metric {name:?} is not one of error_rate, \
                     compute_s_per_returned_user, latency_p95_ms, retention_dK"
                )),
            },
        }
    }

    pub fn harm(&self) -> Harm {
        match self {
            Self::ErrorRate | Self::ComputeSPerReturnedUser | Self::LatencyP95Ms => Harm::Increase,
            Self::Retention(_) => Harm::Decrease,
        }
    }
}

impl fmt::Display for GuardrailMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ErrorRate => f.write_str("error_rate"),
            Self::ComputeSPerReturnedUser => f.write_str("compute_s_per_returned_user"),
            Self::LatencyP95Ms => f.write_str("latency_p95_ms"),
            Self::Retention(k) => write!(f, "retention_d{k}"),
        }
    }
}

impl Guardrail {
    fn parse(definition: &GuardrailDefinition, window_days: u32) -> Result<Self, String> {
        let metric = GuardrailMetric::parse(&definition.metric, window_days)?;
        let name = &definition.metric;
        let (margin, key, other) = match metric.harm() {
            Harm::Increase => (
                definition.max_relative_increase,
                "max_relative_increase",
                definition
                    .max_relative_decrease
                    .map(|_| "max_relative_decrease"),
            ),
            Harm::Decrease => (
                definition.max_relative_decrease,
                "max_relative_decrease",
                definition
                    .max_relative_increase
                    .map(|_| "max_relative_increase"),
            ),
        };
        if let Some(other) = other {
            return Err(format!(
                "guardrail {name:?} takes {key}, not {other}: it gets worse as it {}",
                match metric.harm() {
                    Harm::Increase => "rises",
                    Harm::Decrease => "falls",
                }
            ));
        }
        let margin = margin.ok_or_else(|| format!("guardrail {name:?} needs {key}"))?;
        // A decrease beyond 100% is no bound at all; an increase may be several-fold.
        let most = match metric.harm() {
            Harm::Increase => 10.0,
            Harm::Decrease => 1.0,
        };
        if !(margin.is_finite() && margin > 0.0 && margin <= most) {
            return Err(format!(
                "guardrail {name:?}: {key} {margin} must be above 0 and at most {most}"
            ));
        }
        Ok(Self { metric, margin })
    }
}

impl DecisionRules {
    /// The rules with the default primary metric and no guardrails.
    pub fn default_for(window_days: u32) -> Self {
        Self {
            primary: PrimaryMetric::Retention(DEFAULT_PRIMARY_DAY.min(window_days.max(1))),
            guardrails: Vec::new(),
        }
    }

    /// Whether a guardrail tests the latency quantile (the report then collects per-user latency
    /// counts).
    pub fn tests_latency_quantile(&self) -> bool {
        self.guardrails
            .iter()
            .any(|g| g.metric == GuardrailMetric::LatencyP95Ms)
    }

    /// Whether a guardrail tests a ratio of per-user cost sums (the report then collects them).
    pub fn tests_cost_ratio(&self) -> bool {
        self.guardrails.iter().any(|g| {
            matches!(
                g.metric,
                GuardrailMetric::ErrorRate | GuardrailMetric::ComputeSPerReturnedUser
            )
        })
    }

    /// Validates the definition's `primary_metric` and `guardrails`, naming every problem.
    pub fn parse(
        primary: Option<&str>,
        guardrails: &[GuardrailDefinition],
        window_days: u32,
    ) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let primary = match primary {
            None => Some(Self::default_for(window_days).primary),
            Some(name) => PrimaryMetric::parse(name, window_days)
                .map_err(|e| problems.push(e))
                .ok(),
        };
        if guardrails.len() > MAX_GUARDRAILS {
            problems.push(format!(
                "an experiment has at most {MAX_GUARDRAILS} guardrails, got {}",
                guardrails.len()
            ));
        }
        let mut parsed: Vec<Guardrail> = Vec::new();
        for definition in guardrails {
            match Guardrail::parse(definition, window_days) {
                Ok(guardrail) if parsed.iter().any(|g| g.metric == guardrail.metric) => problems
                    .push(format!(
                        "guardrail {:?} appears more than once",
                        definition.metric
                    )),
                Ok(guardrail) => parsed.push(guardrail),
                Err(problem) => problems.push(problem),
            }
        }
        match primary {
            Some(primary) if problems.is_empty() => Ok(Self {
                primary,
                guardrails: parsed,
            }),
            _ => Err(problems),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guardrail(
        metric: &str,
        increase: Option<f64>,
        decrease: Option<f64>,
    ) -> GuardrailDefinition {
        GuardrailDefinition {
            metric: metric.to_owned(),
            max_relative_increase: increase,
            max_relative_decrease: decrease,
        }
    }

    #[test]
    fn the_default_primary_is_day_seven_retention_or_the_last_day_of_a_short_window() {
        assert_eq!(
            DecisionRules::default_for(30).primary,
            PrimaryMetric::Retention(7)
        );
        assert_eq!(
            DecisionRules::default_for(3).primary,
            PrimaryMetric::Retention(3)
        );
    }

    #[test]
    fn metrics_parse_and_print_as_written() {
        for name in ["retention_d1", "time_spent_d0", "user_messages_d30"] {
            assert_eq!(PrimaryMetric::parse(name, 30).unwrap().to_string(), name);
        }
        for name in [
            "error_rate",
            "compute_s_per_returned_user",
            "latency_p95_ms",
            "retention_d14",
        ] {
            assert_eq!(GuardrailMetric::parse(name, 30).unwrap().to_string(), name);
        }
    }

    #[test]
    fn days_outside_the_window_and_malformed_names_are_refused() {
        for bad in [
            "retention_d0",
            "retention_d31",
            "retention_dx",
            "retention_d",
            "ctr",
        ] {
            assert!(PrimaryMetric::parse(bad, 30).is_err(), "{bad}");
        }
        assert!(GuardrailMetric::parse("retention_d40", 30)
            .unwrap_err()
            .contains("outside the window"));
    }

    #[test]
    fn a_metric_not_measured_yet_is_refused_with_the_reason() {
        let error = GuardrailMetric::parse("catch_up_s", 30).unwrap_err();
        assert!(error.contains("cannot be used yet"), "{error}");
    }

    #[test]
    fn the_margin_must_point_the_way_the_metric_gets_worse() {
        let rules = DecisionRules::parse(
            Some("retention_d7"),
            &[
                guardrail("error_rate", Some(0.1), None),
                guardrail("retention_d1", None, Some(0.05)),
            ],
            30,
        )
        .unwrap();
        assert_eq!(rules.guardrails.len(), 2);
        assert_eq!(rules.guardrails[1].metric.harm(), Harm::Decrease);

        let problems = DecisionRules::parse(
            Some("ctr"),
            &[
                guardrail("error_rate", None, Some(0.1)),
                guardrail("retention_d1", None, None),
                guardrail("compute_s_per_returned_user", Some(0.0), None),
                guardrail("retention_d2", None, Some(1.5)),
            ],
            30,
        )
        .unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(
            problems[1].contains("takes max_relative_increase"),
            "{problems:?}"
        );
        assert!(
            problems[2].contains("needs max_relative_decrease"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_guardrail_appears_once_and_there_are_at_most_twenty() {
        let twice = [
            guardrail("error_rate", Some(0.1), None),
            guardrail("error_rate", Some(0.2), None),
        ];
        let problems = DecisionRules::parse(None, &twice, 30).unwrap_err();
        assert!(problems[0].contains("more than once"), "{problems:?}");
        let many: Vec<_> = (1..=21)
            .map(|k| guardrail(&format!("retention_d{k}"), None, Some(0.1)))
            .collect();
        let problems = DecisionRules::parse(None, &many, 30).unwrap_err();
        assert!(problems[0].contains("at most 20"), "{problems:?}");
    }
}
