//! Validation of an arm's per-turn policy: `uniform`, `weighted` with its `model_weights`, or
//! `thompson` with its `reward` and `min_probability`. Every problem is named.

use crate::{
    definition::{ArmDefinition, PolicyName},
    policy::{BlendPolicy, Reward, ThompsonPolicy, DEFAULT_MIN_PROBABILITY},
};

/// Floors are compared to 1/N with this tolerance, so that `min_probability = 0.333333` passes
/// for three models.
const FLOOR_TOLERANCE: f64 = 1e-6;

/// The arm's policy, or `None` with the problems pushed. `check_weights` validates a weight list.
pub(crate) fn parse_policy(
    arm: &ArmDefinition,
    problems: &mut Vec<String>,
    check_weights: impl Fn(&str, &[f64], &mut Vec<String>),
) -> Option<BlendPolicy> {
    let label = &arm.name;
    if arm.policy != PolicyName::Thompson {
        for (field, set) in [
            ("reward", arm.reward.is_some()),
            ("min_probability", arm.min_probability.is_some()),
        ] {
            if set {
                problems.push(format!(
                    "arm {label:?} sets {field}, which only the \"thompson\" policy uses"
                ));
            }
        }
    }
    match (arm.policy, &arm.model_weights) {
        (PolicyName::Uniform, None) => Some(BlendPolicy::Uniform),
        (PolicyName::Weighted, Some(weights)) => {
            if weights.len() != arm.models.len() {
                problems.push(format!(
                    "arm {label:?} has {} model_weights for {} models",
                    weights.len(),
                    arm.models.len()
                ));
            }
            check_weights(
                &format!("model_weights of arm {label:?}"),
                weights,
                problems,
            );
            Some(BlendPolicy::Weighted(weights.clone()))
        }
        (PolicyName::Weighted, None) => {
            problems.push(format!(
                "arm {label:?} uses policy \"weighted\" without model_weights"
            ));
            None
        }
        (PolicyName::Thompson, None) => thompson(arm, problems).map(BlendPolicy::Thompson),
        (PolicyName::Uniform | PolicyName::Thompson, Some(_)) => {
            problems.push(format!(
                "arm {label:?} sets model_weights, which only the \"weighted\" policy uses"
            ));
            None
        }
    }
}

fn thompson(arm: &ArmDefinition, problems: &mut Vec<String>) -> Option<ThompsonPolicy> {
    let label = &arm.name;
    let before = problems.len();
    let models = arm.models.len();
    if models < 2 {
        problems.push(format!(
            "arm {label:?} uses policy \"thompson\" with {models} model(s): an adaptive blend \
             needs at least two"
        ));
    }
    let reward = match arm.reward.as_deref() {
        None => Reward::Continuation,
        Some(name) => Reward::parse(name).unwrap_or_else(|| {
            problems.push(format!(
                "arm {label:?} has unknown reward {name:?}: use one of {:?}",
                Reward::NAMES
            ));
            Reward::Continuation
        }),
    };
    let min_probability = arm.min_probability.unwrap_or(DEFAULT_MIN_PROBABILITY);
    if !(min_probability.is_finite() && min_probability > 0.0) {
        problems.push(format!(
            "min_probability of arm {label:?} must be above 0, not {min_probability}: every \
             component must stay observed"
        ));
    } else if models >= 2 && min_probability > 1.0 / models as f64 + FLOOR_TOLERANCE {
        problems.push(format!(
            "min_probability of arm {label:?} is {min_probability}, above 1/{models} = {:.4}: \
             {models} floors that high do not fit in a probability of 1",
            1.0 / models as f64
        ));
    }
    (problems.len() == before).then_some(ThompsonPolicy {
        reward,
        min_probability,
    })
}

#[cfg(test)]
mod tests {
    use crate::{BlendPolicy, Experiment, ExperimentDefinition, Reward};

    fn with_blend(edit: &str) -> ExperimentDefinition {
        let text = format!(
            "key = \"adaptive\"\nname = \"Adaptive\"\ncontrol = \"control\"\n\
             [[arms]]\nname = \"control\"\nweight = 0.5\nmodels = [\"large\"]\n\
             [[arms]]\nname = \"blend\"\nweight = 0.5\n{edit}\n"
        );
        ExperimentDefinition::from_toml(&text).unwrap()
    }

    fn problems(edit: &str) -> Vec<String> {
        Experiment::parse(with_blend(edit), |_| true).unwrap_err().0
    }

    #[test]
    fn a_thompson_arm_defaults_to_continuation_and_a_floor_of_five_percent() {
        let experiment = Experiment::parse(
            with_blend("models = [\"a\", \"b\", \"c\"]\npolicy = \"thompson\""),
            |_| true,
        )
        .unwrap();
        match &experiment.arm("blend").unwrap().policy {
            BlendPolicy::Thompson(policy) => {
                assert_eq!(policy.reward, Reward::Continuation);
                assert_eq!(policy.min_probability, 0.05);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_problem_of_a_bad_thompson_arm_is_named() {
        let found = problems(
            "models = [\"a\"]\npolicy = \"thompson\"\nreward = \"clicks\"\nmin_probability = 0",
        );
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].contains("with 1 model(s)"), "{found:?}");
        assert!(found[1].contains("unknown reward \"clicks\""), "{found:?}");
        assert!(found[2].contains("must be above 0"), "{found:?}");
    }

    #[test]
    fn a_floor_above_one_over_n_is_refused_and_one_over_n_is_not() {
        let found = problems(
            "models = [\"a\", \"b\", \"c\"]\npolicy = \"thompson\"\nmin_probability = 0.34",
        );
        assert!(found[0].contains("above 1/3 = 0.3333"), "{found:?}");
        let exactly = with_blend(
            "models = [\"a\", \"b\", \"c\"]\npolicy = \"thompson\"\nmin_probability = 0.333333",
        );
        assert!(Experiment::parse(exactly, |_| true).is_ok());
    }

    #[test]
    fn thompson_settings_on_other_policies_are_refused() {
        let found =
            problems("models = [\"a\", \"b\"]\nreward = \"feedback\"\nmin_probability = 0.1");
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("sets reward, which only the \"thompson\""));
        let found =
            problems("models = [\"a\", \"b\"]\npolicy = \"thompson\"\nmodel_weights = [0.5, 0.5]");
        assert!(found[0].contains("sets model_weights"), "{found:?}");
    }
}
