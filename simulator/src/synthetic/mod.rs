//! A synthetic user population for an experiment: who returns on which day, how long they stay,
//! which component answers and whether the user carries on. It feeds `blendlab simulate` (Parquet
//! or the store), the DuckDB cross-check, `blendlab bench analytics` and the calibration suite, so
//! that all of them share one behavioural model. Deterministic for a seed.
//!
//! The model, per enrolled user:
//! - exposure on a uniform day of `exposure_days` from `start`, between 00:00 and 20:00 UTC;
//! - active on day 0, and on day k >= 1 with probability `min(1, initial k^-decay (1 + lift))`
//!   (the contract's default: 0.45 k^-0.55, so D1 = 45%, D7 = 15%, D30 = 7%);
//! - on an active day, one sitting, or two with probability `second_sitting`, each a conversation;
//! - in a sitting, a user message, a reply from the component the allocation picks, and another
//!   user message with that component's `continuation` probability: the per-component propensity
//!   that a learned blend policy would exploit, shifted on the logit scale by the user's own
//!   propensity (`continuation_spread`), so that replies cluster within users;
//! - now and then a message left unanswered, a pause longer than the 1800 s gap rule, feedback
//!   (more often positive for components users continue with) and retries.

mod adaptive;
mod buffer;
mod generate;
mod parquet;
mod rng;

use chrono::NaiveDate;

pub use adaptive::{simulate_adaptive, AdaptiveArm, AdaptiveRun, SimSnapshot};
pub use generate::simulate;
pub use parquet::{write_parquet, ParquetSink};
pub use rng::Rng;

/// How simulated users behave, whatever their arm.
#[derive(Debug, Clone, PartialEq)]
pub struct Behaviour {
    /// Day-1 return probability of a control user.
    pub return_initial: f64,
    /// Decay exponent of the return probability in days since exposure.
    pub return_decay: f64,
    /// Probability of a second sitting on an active day.
    pub second_sitting: f64,
    /// Probability that the user leaves before the reply arrives.
    pub unanswered: f64,
    /// Probability that a pause between turns is longer than the 1800 s gap rule.
    pub long_pause: f64,
    /// Probability that a reply gets a feedback event.
    pub feedback_rate: f64,
    /// Probability that a reply the user does not continue after is retried.
    pub retry_rate: f64,
    /// Users differ: each has a propensity to continue, `spread * z` with z standard normal,
    /// added to the logit of every component's continuation probability. 0 makes users alike
    /// (and draws nothing, so seeded logs stay as they were).
    pub continuation_spread: f64,
    /// Users differ in habit: each has `h ~ U(0, 1)`, sent a message on each of the 14 days
    /// before exposure with probability `h` (one short sitting outside the experiment's
    /// traffic), and returns on day k >= 1 with the arm's probability times `2h` (the same on
    /// average). What CUPED's pre-exposure covariate adjusts for. `false` draws nothing (seeded
    /// logs stay as they were).
    pub habitual_users: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            return_initial: 0.45,
            return_decay: 0.55,
            second_sitting: 0.35,
            unanswered: 0.08,
            long_pause: 0.05,
            feedback_rate: 0.05,
            retry_rate: 0.10,
            continuation_spread: 0.0,
            habitual_users: false,
        }
    }
}

impl Behaviour {
    /// Probability that a user of an arm with `lift` is active on day `k` after exposure.
    pub fn return_probability(&self, k: u32, lift: f64) -> f64 {
        self.habitual_return_probability(k, lift, 0.5)
    }

    /// [`Self::return_probability`] of a user whose habit is `habit` (0.5 is the average user).
    pub fn habitual_return_probability(&self, k: u32, lift: f64, habit: f64) -> f64 {
        if k == 0 {
            return 1.0;
        }
        let typical = self.return_initial * f64::from(k).powf(-self.return_decay) * (1.0 + lift);
        (typical * 2.0 * habit).clamp(0.0, 1.0)
    }

    /// A user's continuation probability after a component whose probability is `p` for a
    /// typical user, given the user's propensity (`spread * z`) on the logit scale.
    pub fn continuation(p: f64, propensity: f64) -> f64 {
        if propensity == 0.0 || p <= 0.0 || p >= 1.0 {
            return p;
        }
        1.0 / (1.0 + (-((p / (1.0 - p)).ln() + propensity)).exp())
    }
}

/// One arm of the simulated experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct SimArm {
    pub name: String,
    pub weight: f64,
    pub models: Vec<String>,
    /// Relative change of the daily return probability: 0.10 means x 1.10.
    pub lift: f64,
    /// Per model (same order as `models`): probability that the user writes again after a reply.
    pub continuation: Vec<f64>,
}

impl SimArm {
    /// An arm whose components all keep users for `messages_per_sitting` messages on average.
    pub fn new(
        name: &str,
        weight: f64,
        models: &[&str],
        lift: f64,
        messages_per_sitting: f64,
    ) -> Self {
        let continuation = continuation_for(messages_per_sitting);
        SimArm {
            name: name.into(),
            weight,
            models: models.iter().map(|m| m.to_string()).collect(),
            lift,
            continuation: vec![continuation; models.len()],
        }
    }
}

/// The continuation probability that gives a geometric mean of `messages_per_sitting` messages.
pub fn continuation_for(messages_per_sitting: f64) -> f64 {
    1.0 - 1.0 / messages_per_sitting.max(1.0)
}

/// The experiment, its population and its time frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Population {
    pub experiment: String,
    pub arms: Vec<SimArm>,
    /// Enrolled users over all arms.
    pub users: u64,
    pub start: NaiveDate,
    /// Users are first exposed uniformly over this many days from `start`.
    pub exposure_days: u32,
    /// Each user is followed for this many days after exposure.
    pub horizon_days: u32,
    pub seed: u64,
    pub behaviour: Behaviour,
}

impl Population {
    /// Two arms, control with one model and a blend of three (+10% return lift), as in the paper.
    pub fn chai(users: u64, seed: u64) -> Self {
        Population {
            experiment: "chai-blend".into(),
            arms: vec![
                SimArm::new("control", 0.5, &["large"], 0.0, 4.0),
                SimArm::new("blend", 0.5, &["small-a", "small-b", "small-c"], 0.10, 4.0),
            ],
            users,
            start: NaiveDate::from_ymd_opt(2026, 10, 1).expect("a valid date"),
            exposure_days: 30,
            horizon_days: 30,
            seed,
            behaviour: Behaviour::default(),
        }
    }

    /// The first simulated day's midnight (UTC), in µs since the epoch.
    pub fn start_micros(&self) -> i64 {
        self.start
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
            .timestamp_micros()
    }

    /// `sim<seed>-`: simulated user ids never collide with real ones or another seed's.
    pub fn user_prefix(&self) -> String {
        format!("sim{}-", self.seed)
    }
}

/// Who is in which arm and which component writes a turn. `RandomAllocation` draws from the
/// weights; the server plugs in the experiment's own hashing and blend policy so that simulated
/// users get the arm and components a live request would.
pub trait Allocation {
    /// The arm index of a user, or `None` when the user is not enrolled.
    fn arm(&self, user_id: &str, rng: &mut Rng) -> Option<usize>;
    /// The component index that writes assistant turn `turn` (0-based) of a conversation, and the
    /// probability with which it was chosen.
    fn component(
        &self,
        arm: usize,
        conversation_id: &str,
        turn: u32,
        rng: &mut Rng,
    ) -> (usize, f64);

    /// The same draw against `probabilities` (an adaptive arm's snapshot, one per model). By
    /// default from the simulation's random stream.
    /// The version of the snapshot `arm` draws from now: `None` unless the arm is adaptive.
    fn policy_version(&self, _arm: usize) -> Option<i64> {
        None
    }

    fn component_from(
        &self,
        _arm: usize,
        _conversation_id: &str,
        _turn: u32,
        probabilities: &[f64],
        rng: &mut Rng,
    ) -> (usize, f64) {
        let u = rng.uniform();
        let mut cumulative = 0.0;
        for (i, p) in probabilities.iter().enumerate() {
            cumulative += p;
            if u < cumulative {
                return (i, *p);
            }
        }
        let last = probabilities.len() - 1;
        (last, probabilities[last])
    }
}

/// Arms by weight and components uniformly, from the simulation's random stream.
pub struct RandomAllocation {
    cumulative: Vec<f64>,
    components: Vec<usize>,
}

impl RandomAllocation {
    pub fn new(arms: &[SimArm]) -> Self {
        let total: f64 = arms.iter().map(|a| a.weight).sum();
        let mut sum = 0.0;
        let cumulative = arms
            .iter()
            .map(|a| {
                sum += a.weight / total;
                sum
            })
            .collect();
        RandomAllocation {
            cumulative,
            components: arms.iter().map(|a| a.models.len()).collect(),
        }
    }
}

impl Allocation for RandomAllocation {
    fn arm(&self, _user_id: &str, rng: &mut Rng) -> Option<usize> {
        let draw = rng.uniform();
        let index = self.cumulative.iter().position(|c| draw < *c);
        Some(index.unwrap_or(self.cumulative.len().saturating_sub(1)))
    }

    fn component(
        &self,
        arm: usize,
        _conversation: &str,
        _turn: u32,
        rng: &mut Rng,
    ) -> (usize, f64) {
        let n = self.components[arm].max(1);
        (rng.below(n as u64) as usize, 1.0 / n as f64)
    }
}

/// The rows a simulation produces, borrowed for the length of one sink call.
#[derive(Debug, Clone, Copy)]
pub struct SimAssignment<'a> {
    pub user_id: &'a str,
    pub arm: &'a str,
    pub assigned_at: i64,
    /// The user's one simulated attribute (`attr_platform`): ios, android or web.
    pub platform: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub struct SimConversation<'a> {
    pub conversation_id: &'a str,
    pub user_id: &'a str,
    pub arm: &'a str,
    pub created_at: i64,
}

#[derive(Debug, Clone, Copy)]
pub struct SimMessage<'a> {
    pub message_id: &'a str,
    pub conversation_id: &'a str,
    pub user_id: &'a str,
    pub arm: &'a str,
    /// 0-based place in the conversation.
    pub position: u32,
    /// `None` for a user message, else the component and its choice probability.
    pub reply: Option<SimReply<'a>>,
    pub created_at: i64,
    pub content_chars: u32,
}

#[derive(Debug, Clone, Copy)]
pub struct SimReply<'a> {
    pub model: &'a str,
    pub choice_prob: f64,
    pub latency_ms: f64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// The snapshot an adaptive arm drew the component from; `None` for fixed policies.
    pub policy_version: Option<i64>,
}

#[derive(Debug, Clone, Copy)]
pub struct SimEvent<'a> {
    pub user_id: &'a str,
    pub conversation_id: &'a str,
    pub message_id: &'a str,
    pub kind: &'static str,
    pub value: f64,
    pub created_at: i64,
}

/// Where simulated rows go. Calls arrive user by user, each user's rows in time order.
pub trait LogSink {
    type Error;
    fn assignment(&mut self, row: SimAssignment<'_>) -> Result<(), Self::Error>;
    fn conversation(&mut self, row: SimConversation<'_>) -> Result<(), Self::Error>;
    fn message(&mut self, row: SimMessage<'_>) -> Result<(), Self::Error>;
    fn event(&mut self, row: SimEvent<'_>) -> Result<(), Self::Error>;
    /// After each user: a sink may flush a full batch here.
    fn user_done(&mut self, summary: &SimSummary) -> Result<(), Self::Error>;
}

/// What a simulation produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimSummary {
    pub users: u64,
    pub conversations: u64,
    pub messages: u64,
    pub events: u64,
}
