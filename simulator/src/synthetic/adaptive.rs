//! Simulated history with adaptive (thompson) arms, in time order. An adaptive arm's snapshot of
//! version `v` counts the rewards known at `v x interval`, as the server's does; so a reply at
//! time t may be drawn only once every user's replies before t have been drawn and their
//! outcomes recorded. Each user's days run as a future that waits on the shared clock before each
//! reply; the driver wakes the users in time order, refreshing the snapshots as each interval
//! begins. Rows are kept per user and written at the end, user by user.
//!
//! Rewards are the server's: `continuation` counts a reply 1 when the conversation's next message
//! is the user's within 1800 s, and 0 once that time has passed without one; `feedback` counts a
//! reply's feedback event, 1 when positive, and replies without one not at all.

use std::{
    cell::{Cell, RefCell},
    cmp::Reverse,
    collections::BinaryHeap,
    future::Future,
    pin::Pin,
    rc::Rc,
    task::{Context, Waker},
};

use blendlab_experiments::{thompson_probabilities, Reward, RewardCounts};
use blendlab_store::CONTINUATION_WINDOW_S;

use super::{
    buffer::Buffer,
    generate::{emit_assignment, user_days, Clock, Enrolment, SharedClock},
    Allocation, LogSink, Population, Rng, SimAssignment, SimConversation, SimEvent, SimMessage,
    SimSummary,
};

const WINDOW: i64 = CONTINUATION_WINDOW_S * 1_000_000;

/// An arm whose components are drawn from snapshots, with its floor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptiveArm {
    pub arm: usize,
    pub min_probability: f64,
    pub reward: Reward,
}

/// A snapshot an adaptive arm served: the probabilities from the counts known at `cutoff` (µs).
#[derive(Debug, Clone, PartialEq)]
pub struct SimSnapshot {
    pub arm: usize,
    pub version: i64,
    pub cutoff: i64,
    pub probabilities: Vec<f64>,
    pub counts: Vec<RewardCounts>,
}

pub struct AdaptiveRun {
    pub summary: SimSummary,
    /// Every snapshot served, in time order.
    pub snapshots: Vec<SimSnapshot>,
}

/// Simulates `population` with the arms in `adaptive` drawing from snapshots refreshed every
/// `refresh_s` seconds, into `sink`.
pub fn simulate_adaptive<S: LogSink>(
    population: &Population,
    allocation: &dyn Allocation,
    adaptive: &[AdaptiveArm],
    refresh_s: u64,
    sink: &mut S,
) -> Result<AdaptiveRun, S::Error> {
    let policies = RefCell::new(Policies::new(population, adaptive, refresh_s));
    let allocation = SnapshotAllocation {
        inner: allocation,
        policies: &policies,
    };
    let mut rng = Rng::new(population.seed);
    let mut enrolment = Enrolment::new(population);
    let mut users = Vec::new();
    while let Some(user) = enrolment.next(&allocation, &mut rng) {
        users.push(user);
    }
    let shared = Rc::new(Cell::new(SharedClock::default()));
    let clock = Clock::Shared(shared.clone());
    let mut lanes: Vec<Lane> = (0..users.len())
        .map(|i| Lane {
            // Each user draws from a stream of its own, so the order users are woken in does not
            // change what any of them does.
            rng: Rng::new(population.seed ^ (0x9e37_79b9_7f4a_7c15u64.wrapping_mul(i as u64 + 1))),
            buffer: Buffer::default(),
            summary: SimSummary::default(),
        })
        .collect();
    {
        let mut days: Vec<Pin<Box<dyn Future<Output = ()> + '_>>> = lanes
            .iter_mut()
            .zip(&users)
            .map(|(lane, user)| {
                let (allocation, clock, policies) = (&allocation, &clock, &policies);
                Box::pin(async move {
                    let mut observed = Observed {
                        inner: &mut lane.buffer,
                        population,
                        policies,
                        last_reply: None,
                        last_feedback_reply: None,
                    };
                    let Ok(()) = user_days(
                        population,
                        allocation,
                        clock,
                        &mut lane.rng,
                        user,
                        &mut observed,
                        &mut lane.summary,
                    )
                    .await;
                    observed.settle_last_reply();
                }) as Pin<Box<dyn Future<Output = ()>>>
            })
            .collect();
        let mut context = Context::from_waker(Waker::noop());
        let mut waiting = BinaryHeap::new();
        let mut poll = |user: usize, now: i64, waiting: &mut BinaryHeap<Reverse<(i64, usize)>>| {
            shared.set(SharedClock { now, wake_at: None });
            if days[user].as_mut().poll(&mut context).is_pending() {
                let wake_at = shared
                    .get()
                    .wake_at
                    .expect("a waiting user says until when");
                waiting.push(Reverse((wake_at, user)));
            }
        };
        // Everyone runs up to their first reply; then replies are drawn in time order.
        for user in 0..users.len() {
            poll(user, i64::MIN, &mut waiting);
        }
        while let Some(Reverse((now, user))) = waiting.pop() {
            policies.borrow_mut().advance_to(now);
            poll(user, now, &mut waiting);
        }
    }
    let mut summary = SimSummary::default();
    for (user, lane) in users.iter().zip(lanes) {
        emit_assignment(population, user, sink)?;
        lane.buffer.replay(sink)?;
        summary.users += 1;
        summary.conversations += lane.summary.conversations;
        summary.messages += lane.summary.messages;
        summary.events += lane.summary.events;
        sink.user_done(&summary)?;
    }
    Ok(AdaptiveRun {
        summary,
        snapshots: policies.into_inner().snapshots,
    })
}

struct Lane {
    rng: Rng,
    buffer: Buffer,
    summary: SimSummary,
}

/// The adaptive arms' snapshots, and the outcomes that feed them.
struct Policies {
    interval: i64,
    arms: Vec<Option<ArmPolicy>>,
    version: i64,
    /// (when it is known, arm, component, continued), the earliest first.
    outcomes: BinaryHeap<Reverse<(i64, usize, usize, bool)>>,
    snapshots: Vec<SimSnapshot>,
}

struct ArmPolicy {
    min_probability: f64,
    reward: Reward,
    counts: Vec<RewardCounts>,
    probabilities: Vec<f64>,
}

impl Policies {
    fn new(population: &Population, adaptive: &[AdaptiveArm], refresh_s: u64) -> Self {
        let mut arms: Vec<Option<ArmPolicy>> = (0..population.arms.len()).map(|_| None).collect();
        for spec in adaptive {
            let models = population.arms[spec.arm].models.len();
            arms[spec.arm] = Some(ArmPolicy {
                min_probability: spec.min_probability,
                reward: spec.reward,
                counts: vec![RewardCounts::default(); models],
                probabilities: vec![1.0 / models as f64; models],
            });
        }
        Self {
            interval: refresh_s.max(1) as i64 * 1_000_000,
            arms,
            version: i64::MIN,
            outcomes: BinaryHeap::new(),
            snapshots: Vec::new(),
        }
    }

    /// Moves to the snapshot of the interval holding `now`: the outcomes known at its start.
    fn advance_to(&mut self, now: i64) {
        let version = now.div_euclid(self.interval);
        if version <= self.version {
            return;
        }
        // The first snapshot is the prior's, served whether or not any outcome is known yet.
        let first = self.version == i64::MIN;
        self.version = version;
        let cutoff = version * self.interval;
        let mut changed = vec![false; self.arms.len()];
        while let Some(&Reverse((known_at, arm, component, continued))) = self.outcomes.peek() {
            if known_at > cutoff {
                break;
            }
            self.outcomes.pop();
            let policy = self.arms[arm]
                .as_mut()
                .expect("outcomes only of adaptive arms");
            let counts = &mut policy.counts[component];
            if continued {
                counts.successes += 1;
            } else {
                counts.failures += 1;
            }
            changed[arm] = true;
        }
        for (arm, policy) in self.arms.iter_mut().enumerate() {
            let Some(policy) = policy else { continue };
            if changed[arm] || first {
                policy.probabilities =
                    thompson_probabilities(&policy.counts, policy.min_probability);
                self.snapshots.push(SimSnapshot {
                    arm,
                    version,
                    cutoff,
                    probabilities: policy.probabilities.clone(),
                    counts: policy.counts.clone(),
                });
            }
        }
    }

    fn record(&mut self, known_at: i64, arm: usize, component: usize, continued: bool) {
        self.outcomes
            .push(Reverse((known_at, arm, component, continued)));
    }
}

/// The experiment's allocation, with adaptive arms drawn from their current snapshot.
struct SnapshotAllocation<'a> {
    inner: &'a dyn Allocation,
    policies: &'a RefCell<Policies>,
}

impl Allocation for SnapshotAllocation<'_> {
    fn arm(&self, user_id: &str, rng: &mut Rng) -> Option<usize> {
        self.inner.arm(user_id, rng)
    }

    fn policy_version(&self, arm: usize) -> Option<i64> {
        let policies = self.policies.borrow();
        policies.arms[arm].as_ref().map(|_| policies.version)
    }

    fn component(
        &self,
        arm: usize,
        conversation_id: &str,
        turn: u32,
        rng: &mut Rng,
    ) -> (usize, f64) {
        match &self.policies.borrow().arms[arm] {
            Some(policy) => {
                self.inner
                    .component_from(arm, conversation_id, turn, &policy.probabilities, rng)
            }
            None => self.inner.component(arm, conversation_id, turn, rng),
        }
    }
}

/// A user's rows on their way to the buffer, noting each adaptive reply's outcome.
struct Observed<'a> {
    inner: &'a mut Buffer,
    population: &'a Population,
    policies: &'a RefCell<Policies>,
    /// (arm, component, at, conversation) of the last adaptive reply not yet answered.
    last_reply: Option<(usize, usize, i64, String)>,
    /// (arm, component, message id) of the last reply of a feedback-rewarded arm.
    last_feedback_reply: Option<(usize, usize, String)>,
}

impl Observed<'_> {
    /// The last reply went unanswered: a 0, known once the window has passed.
    fn settle_last_reply(&mut self) {
        if let Some((arm, component, at, _)) = self.last_reply.take() {
            self.policies
                .borrow_mut()
                .record(at + WINDOW, arm, component, false);
        }
    }
}

impl LogSink for Observed<'_> {
    type Error = std::convert::Infallible;

    fn assignment(&mut self, row: SimAssignment<'_>) -> Result<(), Self::Error> {
        self.inner.assignment(row)
    }

    fn conversation(&mut self, row: SimConversation<'_>) -> Result<(), Self::Error> {
        self.settle_last_reply();
        self.inner.conversation(row)
    }

    fn message(&mut self, row: SimMessage<'_>) -> Result<(), Self::Error> {
        match &row.reply {
            None => {
                if let Some((arm, component, at, conversation)) = self.last_reply.take() {
                    let continued =
                        conversation == row.conversation_id && row.created_at - at <= WINDOW;
                    let known_at = if continued {
                        row.created_at
                    } else {
                        at + WINDOW
                    };
                    self.policies
                        .borrow_mut()
                        .record(known_at, arm, component, continued);
                }
            }
            Some(reply) => {
                self.settle_last_reply();
                let arm = self
                    .population
                    .arms
                    .iter()
                    .position(|a| a.name == row.arm)
                    .expect("a simulated arm");
                let reward = self.policies.borrow().arms[arm].as_ref().map(|p| p.reward);
                if let Some(reward) = reward {
                    let component = self.population.arms[arm]
                        .models
                        .iter()
                        .position(|m| m == reply.model)
                        .expect("a model of the arm");
                    match reward {
                        Reward::Continuation => {
                            self.last_reply = Some((
                                arm,
                                component,
                                row.created_at,
                                row.conversation_id.to_owned(),
                            ))
                        }
                        Reward::Feedback => {
                            self.last_feedback_reply =
                                Some((arm, component, row.message_id.to_owned()))
                        }
                    }
                }
            }
        }
        self.inner.message(row)
    }

    fn event(&mut self, row: SimEvent<'_>) -> Result<(), Self::Error> {
        if let Some((arm, component, message)) = &self.last_feedback_reply {
            if row.kind == "feedback" && row.message_id == message {
                self.policies.borrow_mut().record(
                    row.created_at,
                    *arm,
                    *component,
                    row.value > 0.0,
                );
            }
        }
        self.inner.event(row)
    }

    fn user_done(&mut self, summary: &SimSummary) -> Result<(), Self::Error> {
        self.inner.user_done(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{Behaviour, RandomAllocation, SimArm};

    /// Each reply: (arm, model, created_at, choice_prob, policy_version).
    #[derive(Default)]
    struct Replies(Vec<(String, String, i64, f64, Option<i64>)>);

    impl LogSink for Replies {
        type Error = std::convert::Infallible;
        fn assignment(&mut self, _: SimAssignment<'_>) -> Result<(), Self::Error> {
            Ok(())
        }
        fn conversation(&mut self, _: SimConversation<'_>) -> Result<(), Self::Error> {
            Ok(())
        }
        fn message(&mut self, row: SimMessage<'_>) -> Result<(), Self::Error> {
            if let Some(reply) = row.reply {
                self.0.push((
                    row.arm.to_owned(),
                    reply.model.to_owned(),
                    row.created_at,
                    reply.choice_prob,
                    reply.policy_version,
                ));
            }
            Ok(())
        }
        fn event(&mut self, _: SimEvent<'_>) -> Result<(), Self::Error> {
            Ok(())
        }
        fn user_done(&mut self, _: &SimSummary) -> Result<(), Self::Error> {
            Ok(())
        }
    }

    /// A uniform and an adaptive blend of one better component (0.8 against 0.6), 300 users.
    fn population() -> Population {
        let arm = |name: &str| SimArm {
            continuation: vec![0.8, 0.6, 0.6],
            ..SimArm::new(name, 0.5, &["best", "other-1", "other-2"], 0.0, 4.0)
        };
        Population {
            experiment: "adaptive".into(),
            arms: vec![arm("uniform"), arm("adaptive")],
            users: 300,
            start: chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
            exposure_days: 30,
            horizon_days: 30,
            seed: 7,
            behaviour: Behaviour::default(),
        }
    }

    fn run(population: &Population) -> (Replies, Vec<SimSnapshot>) {
        let adaptive = [AdaptiveArm {
            arm: 1,
            min_probability: 0.05,
            reward: Reward::Continuation,
        }];
        let mut replies = Replies::default();
        let snapshots = simulate_adaptive(
            population,
            &RandomAllocation::new(&population.arms),
            &adaptive,
            60,
            &mut replies,
        )
        .unwrap()
        .snapshots;
        (replies, snapshots)
    }

    #[test]
    fn the_same_seed_gives_the_same_adaptive_history() {
        let (first, first_snapshots) = run(&population());
        let (again, again_snapshots) = run(&population());
        assert_eq!(first.0, again.0);
        assert_eq!(first_snapshots, again_snapshots);
    }

    /// As the server logs them: each adaptive reply's version is the interval it was drawn in,
    /// and its `choice_prob` the probability of its model in the snapshot in force then (the
    /// latest one stored at or before that version: versions whose counts did not change are not
    /// stored again). Fixed arms log no version.
    #[test]
    fn each_adaptive_reply_logs_the_snapshot_it_was_drawn_from() {
        let population = population();
        let (replies, snapshots) = run(&population);
        let models = &population.arms[1].models;
        let mut adaptive_replies = 0;
        for (arm, model, created_at, choice_prob, version) in &replies.0 {
            if arm == "uniform" {
                assert_eq!(*version, None);
                assert!((choice_prob - 1.0 / 3.0).abs() < 1e-12);
                continue;
            }
            adaptive_replies += 1;
            let version = version.expect("an adaptive reply logs its version");
            assert_eq!(version, created_at.div_euclid(60_000_000));
            let in_force = snapshots
                .iter()
                .rev()
                .find(|s| s.version <= version)
                .expect("a snapshot is in force from the first reply on");
            let component = models.iter().position(|m| m == model).unwrap();
            assert_eq!(*choice_prob, in_force.probabilities[component]);
        }
        assert!(
            adaptive_replies > 500,
            "{adaptive_replies} adaptive replies"
        );
    }
}
