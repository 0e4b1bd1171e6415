//! Experiment definitions and everything decided without state: validation, GrowthBook-compatible
//! assignment of users to arms, and the per-turn choice of a blend component.

mod arm_policy;
mod assignment;
mod attributes;
mod decision;
mod definition;
mod experiment;
mod hashing;
mod names;
mod policy;
mod thompson;

pub use attributes::UserAttributes;
pub use decision::{
    DecisionRules, Guardrail, GuardrailDefinition, GuardrailMetric, Harm, PrimaryMetric,
    MAX_GUARDRAILS,
};
pub use definition::{read_definition, ArmDefinition, Audience, ExperimentDefinition, PolicyName};
pub use experiment::{Arm, Experiment, ValidationErrors};
pub use hashing::{bucket_ranges, choose_bucket, fnv1a32, growthbook_hash_v2};
pub use names::{ArmName, ExperimentKey, NameError};
pub use policy::{
    turn_entropy, BlendPolicy, Reward, ThompsonPolicy, TurnDraw, DEFAULT_MIN_PROBABILITY,
};
pub use thompson::{probability_best, thompson_probabilities, with_floor, RewardCounts};
