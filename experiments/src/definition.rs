//! The experiment definition as written by people: a TOML file or the same keys as a JSON body.
//! It is the raw shape; [`crate::Experiment::parse`] turns it into a validated experiment.

use serde::{Deserialize, Serialize};

use crate::decision::GuardrailDefinition;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"key": "blend-test", "name": "Blend vs one model", "control": "control",
    "arms": [{"name": "control", "weight": 0.5, "models": ["large"]},
             {"name": "blend", "weight": 0.5, "models": ["small-a", "small-b", "small-c"]}]}))]
pub struct ExperimentDefinition {
    #[schema(pattern = "^[a-z0-9-]{1,64}$")]
    pub key: String,
    pub name: String,
    /// Hashing salt; defaults to the key. Changing it reshuffles every user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    pub control: String,
    #[serde(default = "full_coverage")]
    pub coverage: f64,
    #[serde(default = "default_window_days")]
    pub window_days: u32,
    #[serde(default)]
    pub audience: Audience,
    /// The metric the verdict rests on: `retention_dK`, `time_spent_dK` or `user_messages_dK`;
    /// day-7 retention when absent (the window's last day when it is shorter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_metric: Option<String>,
    /// One-sided non-inferiority margins the arm must be shown to stay within to ship.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guardrails: Vec<GuardrailDefinition>,
    pub arms: Vec<ArmDefinition>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArmDefinition {
    pub name: String,
    pub weight: f64,
    pub models: Vec<String>,
    #[serde(default)]
    pub policy: PolicyName,
    /// Only with `policy = "weighted"`: one weight per model, summing to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_weights: Option<Vec<f64>>,
    /// Only with `policy = "thompson"`: the per-reply outcome it learns from, `"continuation"`
    /// (the default) or `"feedback"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reward: Option<String>,
    /// Only with `policy = "thompson"`: each component's least probability (default 0.05, at
    /// most 1 / the number of models), so every component stays observed and evaluable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_probability: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    #[default]
    All,
    /// Only users first seen after the experiment started: the cohort of the paper.
    NewUsers,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PolicyName {
    /// Each turn picks a component uniformly at random, as in the paper.
    #[default]
    Uniform,
    /// Each turn picks a component with the arm's `model_weights`.
    Weighted,
    /// Thompson sampling over each component's reward in this arm, from the arm's current policy
    /// snapshot, with a floor per component.
    Thompson,
}

fn full_coverage() -> f64 {
    1.0
}

fn default_window_days() -> u32 {
    30
}

impl ExperimentDefinition {
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn salt_or_key(&self) -> &str {
        self.salt.as_deref().unwrap_or(&self.key)
    }
}

/// Reads a definition file: JSON when the name ends in `.json`, TOML otherwise.
pub fn read_definition(path: &std::path::Path) -> anyhow::Result<ExperimentDefinition> {
    use anyhow::Context as _;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let parsed = if path.extension().is_some_and(|e| e == "json") {
        ExperimentDefinition::from_json(&text).map_err(anyhow::Error::from)
    } else {
        ExperimentDefinition::from_toml(&text).map_err(anyhow::Error::from)
    };
    parsed.with_context(|| format!("parsing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../definitions/chai-blend.toml");

    #[test]
    fn the_example_definition_parses_with_the_documented_shape() {
        let definition = ExperimentDefinition::from_toml(EXAMPLE).unwrap();
        assert_eq!(definition.key, "chai-blend");
        assert_eq!(definition.control, "control");
        assert_eq!(definition.coverage, 1.0);
        let arms: Vec<_> = definition
            .arms
            .iter()
            .map(|a| (a.name.as_str(), a.weight, a.models.len()))
            .collect();
        assert_eq!(arms, [("control", 0.5, 1), ("blend", 0.5, 3)]);
    }

    #[test]
    fn toml_and_json_are_the_same_schema_key_for_key() {
        let from_toml = ExperimentDefinition::from_toml(EXAMPLE).unwrap();
        let json = serde_json::to_string(&from_toml).unwrap();
        assert_eq!(ExperimentDefinition::from_json(&json).unwrap(), from_toml);
    }

    #[test]
    fn status_and_dates_belong_to_the_server_not_the_file() {
        let with_status = format!("status = \"running\"\n{EXAMPLE}");
        let error = ExperimentDefinition::from_toml(&with_status).unwrap_err();
        assert!(error.to_string().contains("status"), "{error}");
    }
}
