//! The domain types of a validated experiment, [`Experiment`] and [`Arm`], and the validation that
//! turns a raw [`ExperimentDefinition`] into one, naming every problem at once so a person can fix
//! a definition in one pass.

use std::{collections::HashSet, fmt};

use crate::{
    decision::DecisionRules,
    definition::{ArmDefinition, ExperimentDefinition},
    hashing::bucket_ranges,
    names::{ArmName, ExperimentKey},
    policy::{choose_by, turn_entropy, BlendPolicy, TurnDraw},
};

/// Weights are compared to 1 with this tolerance, so that `0.1 + 0.2 + 0.7` passes.
const WEIGHT_SUM_TOLERANCE: f64 = 1e-6;
const MAX_WINDOW_DAYS: u32 = 365;
const MAX_ARMS: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors(pub Vec<String>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("; "))
    }
}

#[derive(Debug, Clone)]
pub struct Arm {
    pub name: ArmName,
    pub weight: f64,
    pub models: Vec<String>,
    pub policy: BlendPolicy,
}

#[derive(Debug, Clone)]
pub struct Experiment {
    key: ExperimentKey,
    definition: ExperimentDefinition,
    arms: Vec<Arm>,
    control: usize,
    ranges: Vec<(f64, f64)>,
    decision: DecisionRules,
}

impl Experiment {
    /// Validates `definition`; `is_known_model` says which model ids the server config declares.
    pub fn parse(
        mut definition: ExperimentDefinition,
        is_known_model: impl Fn(&str) -> bool,
    ) -> Result<Self, ValidationErrors> {
        let mut problems = Vec::new();
        let key = ExperimentKey::parse(&definition.key).map_err(|e| problems.push(e.to_string()));
        if definition.name.trim().is_empty() || definition.name.len() > 200 {
            problems.push("name must be 1 to 200 characters".to_owned());
        }
        if definition.salt.as_deref().is_some_and(str::is_empty) {
            problems.push("salt must not be empty (leave it out to use the key)".to_owned());
        }
        if !(definition.coverage.is_finite() && (0.0..=1.0).contains(&definition.coverage)) {
            problems.push(format!(
                "coverage {} must be between 0 and 1",
                definition.coverage
            ));
        }
        if !(1..=MAX_WINDOW_DAYS).contains(&definition.window_days) {
            problems.push(format!(
                "window_days {} must be between 1 and {MAX_WINDOW_DAYS}",
                definition.window_days
            ));
        }
        let arms = parse_arms(&definition.arms, &is_known_model, &mut problems);
        let decision = DecisionRules::parse(
            definition.primary_metric.as_deref(),
            &definition.guardrails,
            definition.window_days,
        )
        .map_err(|found| problems.extend(found))
        .ok();
        let control = definition
            .arms
            .iter()
            .position(|a| a.name == definition.control);
        if control.is_none() {
            problems.push(format!(
                "control {:?} is not one of the arms",
                definition.control
            ));
        }
        match (key, arms, control, decision) {
            (Ok(key), Some(arms), Some(control), Some(decision)) if problems.is_empty() => {
                definition.salt = Some(definition.salt_or_key().to_owned());
                let weights: Vec<f64> = arms.iter().map(|a| a.weight).collect();
                let ranges = bucket_ranges(&weights, definition.coverage);
                Ok(Self {
                    key,
                    definition,
                    arms,
                    control,
                    ranges,
                    decision,
                })
            }
            _ => Err(ValidationErrors(problems)),
        }
    }

    pub fn key(&self) -> &ExperimentKey {
        &self.key
    }

    /// The definition with defaults filled in (the salt is always present).
    pub fn definition(&self) -> &ExperimentDefinition {
        &self.definition
    }

    pub fn salt(&self) -> &str {
        self.definition.salt_or_key()
    }

    pub fn arms(&self) -> &[Arm] {
        &self.arms
    }

    pub fn arm(&self, name: &str) -> Option<&Arm> {
        self.arms.iter().find(|a| a.name.as_str() == name)
    }

    /// The primary metric and guardrails the verdict rests on.
    pub fn decision_rules(&self) -> &DecisionRules {
        &self.decision
    }

    pub fn control(&self) -> &Arm {
        &self.arms[self.control]
    }

    pub(crate) fn ranges(&self) -> &[(f64, f64)] {
        &self.ranges
    }

    /// Every model id any arm uses, without repeats, in order of first use.
    pub fn model_ids(&self) -> Vec<&str> {
        let mut seen = HashSet::new();
        self.arms
            .iter()
            .flat_map(|a| a.models.iter().map(String::as_str))
            .filter(|m| seen.insert(*m))
            .collect()
    }
}

fn parse_arms(
    arms: &[ArmDefinition],
    is_known_model: &impl Fn(&str) -> bool,
    problems: &mut Vec<String>,
) -> Option<Vec<Arm>> {
    let before = problems.len();
    if arms.len() < 2 {
        problems.push("an experiment needs at least two arms: the control and one more".to_owned());
    }
    if arms.len() > MAX_ARMS {
        problems.push(format!("an experiment has at most {MAX_ARMS} arms"));
    }
    let mut names = HashSet::new();
    for arm in arms {
        if !names.insert(arm.name.as_str()) {
            problems.push(format!("arm {:?} appears more than once", arm.name));
        }
    }
    check_weights("arm weights", arms.iter().map(|a| a.weight), problems);
    let parsed: Vec<Arm> = arms
        .iter()
        .filter_map(|arm| parse_arm(arm, is_known_model, problems))
        .collect();
    (problems.len() == before).then_some(parsed)
}

fn parse_arm(
    arm: &ArmDefinition,
    is_known_model: &impl Fn(&str) -> bool,
    problems: &mut Vec<String>,
) -> Option<Arm> {
    let before = problems.len();
    let name = ArmName::parse(&arm.name)
        .map_err(|e| problems.push(e.to_string()))
        .ok();
    let label = &arm.name;
    if arm.models.is_empty() {
        problems.push(format!(
            "arm {label:?} has no models: a blend needs at least one"
        ));
    }
    let mut seen = HashSet::new();
    for model in &arm.models {
        if !is_known_model(model) {
            problems.push(format!("arm {label:?} uses unknown model {model:?}"));
        }
        if !seen.insert(model) {
            problems.push(format!("arm {label:?} lists model {model:?} twice"));
        }
    }
    let policy = crate::arm_policy::parse_policy(arm, problems, |what, weights, problems| {
        check_weights(what, weights.iter().copied(), problems)
    });
    match (name, policy) {
        (Some(name), Some(policy)) if problems.len() == before => Some(Arm {
            name,
            weight: arm.weight,
            models: arm.models.clone(),
            policy,
        }),
        _ => None,
    }
}

fn check_weights(what: &str, weights: impl Iterator<Item = f64>, problems: &mut Vec<String>) {
    let weights: Vec<f64> = weights.collect();
    if weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
        problems.push(format!("{what} must be finite and not negative"));
        return;
    }
    let sum: f64 = weights.iter().sum();
    if !weights.is_empty() && (sum - 1.0).abs() > WEIGHT_SUM_TOLERANCE {
        problems.push(format!("{what} sum to {sum}, not 1"));
    }
}

/// The blend component of one turn, drawn by the arm's policy from the turn's entropy.
impl Arm {
    pub fn draw_component(&self, salt: &str, conversation_id: &str, turn: u32) -> TurnDraw {
        let (u, sampling_seed) = turn_entropy(salt, conversation_id, turn);
        let (model_index, probability) = self.policy.choose(u, self.models.len());
        TurnDraw {
            model_index,
            probability,
            sampling_seed,
        }
    }

    /// The same draw (the same entropy), against `probabilities`, one per model: an adaptive
    /// arm's snapshot. A replay with the same snapshot reproduces the component.
    pub fn draw_component_from(
        &self,
        probabilities: &[f64],
        salt: &str,
        conversation_id: &str,
        turn: u32,
    ) -> TurnDraw {
        debug_assert_eq!(probabilities.len(), self.models.len());
        let (u, sampling_seed) = turn_entropy(salt, conversation_id, turn);
        let (model_index, probability) = choose_by(probabilities, u);
        TurnDraw {
            model_index,
            probability,
            sampling_seed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PolicyName;

    fn definition() -> ExperimentDefinition {
        ExperimentDefinition::from_toml(include_str!("../definitions/chai-blend.toml")).unwrap()
    }

    fn known(model: &str) -> bool {
        ["large", "small-a", "small-b", "small-c"].contains(&model)
    }

    fn problems_of(definition: ExperimentDefinition) -> Vec<String> {
        Experiment::parse(definition, known).unwrap_err().0
    }

    fn assert_single_problem(definition: ExperimentDefinition, fragment: &str) {
        let problems = problems_of(definition);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains(fragment),
            "{problems:?} lacks {fragment:?}"
        );
    }

    #[test]
    fn the_example_is_valid_and_its_salt_defaults_to_the_key() {
        let mut d = definition();
        d.salt = None;
        let experiment = Experiment::parse(d, known).unwrap();
        assert_eq!(experiment.salt(), "chai-blend");
        assert_eq!(experiment.control().name.as_str(), "control");
        assert_eq!(
            experiment.model_ids(),
            ["large", "small-a", "small-b", "small-c"]
        );
    }

    #[test]
    fn weights_not_summing_to_one_are_refused() {
        let mut d = definition();
        d.arms[1].weight = 0.6;
        assert_single_problem(d, "sum to 1.1");
    }

    #[test]
    fn negative_or_non_finite_weights_are_refused() {
        let mut d = definition();
        d.arms[0].weight = f64::NAN;
        assert_single_problem(d, "finite and not negative");
        let mut d = definition();
        d.arms[0].weight = -0.5;
        d.arms[1].weight = 1.5;
        assert_single_problem(d, "finite and not negative");
    }

    #[test]
    fn an_unknown_model_is_refused() {
        let mut d = definition();
        d.arms[1].models[2] = "gpt-9".into();
        assert_single_problem(d, "unknown model \"gpt-9\"");
    }

    #[test]
    fn a_duplicate_arm_is_refused() {
        let mut d = definition();
        d.arms[1].name = "control".into();
        assert_single_problem(d, "appears more than once");
    }

    #[test]
    fn an_empty_blend_is_refused() {
        let mut d = definition();
        d.arms[1].models.clear();
        assert_single_problem(d, "has no models");
    }

    #[test]
    fn a_control_that_is_not_an_arm_is_refused() {
        let mut d = definition();
        d.control = "baseline".into();
        assert_single_problem(d, "control \"baseline\" is not one of the arms");
    }

    #[test]
    fn a_bad_key_is_refused() {
        let mut d = definition();
        d.key = "Chai Blend".into();
        assert_single_problem(d, "[a-z0-9-]{1,64}");
    }

    #[test]
    fn coverage_outside_zero_to_one_is_refused() {
        let mut d = definition();
        d.coverage = 1.5;
        assert_single_problem(d, "coverage");
    }

    #[test]
    fn a_model_listed_twice_in_an_arm_is_refused() {
        let mut d = definition();
        d.arms[1].models[1] = "small-a".into();
        assert_single_problem(d, "twice");
    }

    #[test]
    fn weighted_policies_need_matching_model_weights() {
        let mut d = definition();
        d.arms[1].policy = PolicyName::Weighted;
        assert_single_problem(d.clone(), "without model_weights");
        d.arms[1].model_weights = Some(vec![0.5, 0.5]);
        let problems = problems_of(d.clone());
        assert!(
            problems
                .iter()
                .any(|p| p.contains("2 model_weights for 3 models")),
            "{problems:?}"
        );
        d.arms[1].model_weights = Some(vec![0.5, 0.25, 0.25]);
        assert!(Experiment::parse(d, known).is_ok());
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let mut d = definition();
        d.key = "BAD KEY".into();
        d.control = "nobody".into();
        d.arms[1].weight = 0.7;
        d.arms[1].models = vec!["nope".into()];
        let problems = problems_of(d);
        assert_eq!(problems.len(), 4, "{problems:?}");
    }
}
