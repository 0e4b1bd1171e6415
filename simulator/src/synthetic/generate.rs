//! The generator: one pass over the users, rows straight into a sink, no per-row allocation.

use std::fmt::Write as _;

use super::{
    Allocation, LogSink, Population, Rng, SimAssignment, SimConversation, SimEvent, SimMessage,
    SimReply, SimSummary,
};
use blendlab_analytics::pipeline::DAY_MICROS;

const SECOND: i64 = 1_000_000;
/// Exposures and first sittings happen between 00:00 and 20:00 UTC.
const ACTIVE_HOURS: u64 = 20 * 3600;
/// Candidates drawn per wanted user before giving up on a tiny coverage.
const MAX_CANDIDATES_PER_USER: u64 = 1_000;

/// Simulates `population.users` enrolled users into `sink`. Fewer are produced only when the
/// allocation enrols almost nobody (coverage near 0); the summary says how many.
pub fn simulate<S: LogSink>(
    population: &Population,
    allocation: &dyn Allocation,
    sink: &mut S,
) -> Result<SimSummary, S::Error> {
    let mut rng = Rng::new(population.seed);
    let mut summary = SimSummary::default();
    let mut users = Enrolment::new(population);
    while let Some(user) = users.next(allocation, &mut rng) {
        emit_assignment(population, &user, sink)?;
        summary.users += 1;
        let days = user_days(
            population,
            allocation,
            &Clock::Free,
            &mut rng,
            &user,
            sink,
            &mut summary,
        );
        run_now(days)?;
        sink.user_done(&summary)?;
    }
    Ok(summary)
}

/// One enrolled user before their days are lived: who, which arm, when first exposed, and how
/// keen to continue.
#[derive(Debug, Clone)]
pub(crate) struct EnrolledUser {
    pub id: String,
    pub arm: usize,
    pub d0: i64,
    pub exposed_at: i64,
    pub propensity: f64,
    /// How habitual the user is (`Behaviour::habitual_users`); 0.5 when users are alike.
    pub habit: f64,
}

/// Draws the enrolled users one after another from the candidates `<prefix><n>`.
pub(crate) struct Enrolment<'p> {
    population: &'p Population,
    /// The first simulated day's midnight, in µs.
    start: i64,
    prefix: String,
    candidate: u64,
    max_candidates: u64,
    enrolled: u64,
}

impl<'p> Enrolment<'p> {
    pub fn new(population: &'p Population) -> Self {
        Self {
            population,
            start: population.start_micros(),
            prefix: population.user_prefix(),
            candidate: 0,
            max_candidates: population
                .users
                .saturating_mul(MAX_CANDIDATES_PER_USER)
                .max(1_000),
            enrolled: 0,
        }
    }

    pub fn next(&mut self, allocation: &dyn Allocation, rng: &mut Rng) -> Option<EnrolledUser> {
        let population = self.population;
        while self.enrolled < population.users && self.candidate < self.max_candidates {
            let id = format!("{}{:07}", self.prefix, self.candidate);
            self.candidate += 1;
            let Some(arm) = allocation.arm(&id, rng) else {
                continue;
            };
            let d0 = rng.below(u64::from(population.exposure_days.max(1))) as i64;
            let exposed_at = self.start + d0 * DAY_MICROS + rng.below(ACTIVE_HOURS) as i64 * SECOND;
            let spread = population.behaviour.continuation_spread;
            let propensity = if spread > 0.0 {
                spread * rng.normal()
            } else {
                0.0
            };
            let habit = if population.behaviour.habitual_users {
                rng.uniform()
            } else {
                0.5
            };
            self.enrolled += 1;
            return Some(EnrolledUser {
                id,
                arm,
                d0,
                exposed_at,
                propensity,
                habit,
            });
        }
        None
    }
}

pub(crate) fn emit_assignment<S: LogSink>(
    population: &Population,
    user: &EnrolledUser,
    sink: &mut S,
) -> Result<(), S::Error> {
    sink.assignment(SimAssignment {
        user_id: &user.id,
        arm: &population.arms[user.arm].name,
        assigned_at: user.exposed_at,
        platform: platform_of(&user.id),
    })
}

/// The simulated user's `platform` attribute: ios 45%, android 40%, web 15%. A hash of the id
/// rather than a draw, so that adding the attribute left every simulated log as it was.
pub fn platform_of(user_id: &str) -> &'static str {
    match blendlab_experiments::fnv1a32(&format!("platform:{user_id}")) % 100 {
        0..=44 => "ios",
        45..=84 => "android",
        _ => "web",
    }
}

/// Simulated time, as a user's replies see it. `Free`: every reply is drawn at once (users one
/// after another). `Shared`: a reply at time t waits until every other user's replies before t
/// have been drawn, so that an adaptive arm's snapshots hold exactly the outcomes before their
/// cut-off (see `super::adaptive`).
pub(crate) enum Clock {
    Free,
    Shared(std::rc::Rc<std::cell::Cell<SharedClock>>),
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SharedClock {
    /// The time the driver has reached.
    pub now: i64,
    /// Set by a user that must wait: the time it waits for.
    pub wake_at: Option<i64>,
}

impl Clock {
    /// Resolves once simulated time has reached `time`.
    fn reach(&self, time: i64) -> Reach<'_> {
        Reach { clock: self, time }
    }
}

struct Reach<'c> {
    clock: &'c Clock,
    time: i64,
}

impl std::future::Future for Reach<'_> {
    type Output = ();

    fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        match self.clock {
            Clock::Free => std::task::Poll::Ready(()),
            Clock::Shared(shared) => {
                let mut state = shared.get();
                if state.now >= self.time {
                    return std::task::Poll::Ready(());
                }
                state.wake_at = Some(self.time);
                shared.set(state);
                std::task::Poll::Pending
            }
        }
    }
}

/// Runs a user's days to the end: with [`Clock::Free`] they never wait.
fn run_now<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => unreachable!("a free clock never waits"),
    }
}

/// A user's active days, from exposure to the horizon.
pub(crate) async fn user_days<S: LogSink>(
    population: &Population,
    allocation: &dyn Allocation,
    timeline: &Clock,
    rng: &mut Rng,
    user: &EnrolledUser,
    sink: &mut S,
    summary: &mut SimSummary,
) -> Result<(), S::Error> {
    let start = population.start_micros();
    let arm_spec = &population.arms[user.arm];
    let mut ids = Ids {
        user: user.id.clone(),
        ..Ids::default()
    };
    if population.behaviour.habitual_users {
        pre_exposure_days(population, rng, &mut ids, user, sink, summary)?;
    }
    for k in 0..=population.horizon_days {
        let p = population
            .behaviour
            .habitual_return_probability(k, arm_spec.lift, user.habit);
        if !rng.chance(p) {
            continue;
        }
        let day_start = start + (user.d0 + i64::from(k)) * DAY_MICROS;
        let first = if k == 0 {
            user.exposed_at
        } else {
            day_start + rng.below(ACTIVE_HOURS) as i64 * SECOND
        };
        let day = Day {
            k,
            arm: user.arm,
            propensity: user.propensity,
            first,
            end: day_start + DAY_MICROS - 1,
        };
        active_day(
            population, allocation, timeline, rng, &mut ids, day, sink, summary,
        )
        .await?;
    }
    Ok(())
}

/// A habitual user's activity before exposure: on each of the 14 days before d0, with
/// probability `habit`, one user message in a conversation of its own.
fn pre_exposure_days<S: LogSink>(
    population: &Population,
    rng: &mut Rng,
    ids: &mut Ids,
    user: &EnrolledUser,
    sink: &mut S,
    summary: &mut SimSummary,
) -> Result<(), S::Error> {
    let arm = &population.arms[user.arm].name;
    for back in (1..=blendlab_analytics::pipeline::cuped::PRE_EXPOSURE_DAYS).rev() {
        if !rng.chance(user.habit) {
            continue;
        }
        let at = population.start_micros()
            + (user.d0 - back) * DAY_MICROS
            + rng.below(ACTIVE_HOURS) as i64 * SECOND;
        ids.conversation.clear();
        let _ = write!(ids.conversation, "{}-pre{back}", ids.user);
        sink.conversation(SimConversation {
            conversation_id: &ids.conversation,
            user_id: &ids.user,
            arm,
            created_at: at,
        })?;
        ids.set_message(0);
        sink.message(SimMessage {
            message_id: &ids.message,
            conversation_id: &ids.conversation,
            user_id: &ids.user,
            arm,
            position: 0,
            reply: None,
            created_at: at,
            content_chars: 5 + rng.below(200) as u32,
        })?;
        summary.conversations += 1;
        summary.messages += 1;
    }
    Ok(())
}

/// Reused buffers for the ids of the current user, conversation and message.
#[derive(Default)]
struct Ids {
    user: String,
    conversation: String,
    message: String,
}

impl Ids {
    /// `<conversation>-<position>`.
    fn set_message(&mut self, position: u32) {
        self.message.clear();
        let _ = write!(self.message, "{}-{position}", self.conversation);
    }
}

#[derive(Clone, Copy)]
struct Day {
    k: u32,
    arm: usize,
    /// The user's propensity to continue, on the logit scale.
    propensity: f64,
    /// When the first sitting starts.
    first: i64,
    /// The last microsecond of the day: a sitting that would cross midnight stops there.
    end: i64,
}

#[allow(clippy::too_many_arguments)]
async fn active_day<S: LogSink>(
    population: &Population,
    allocation: &dyn Allocation,
    timeline: &Clock,
    rng: &mut Rng,
    ids: &mut Ids,
    day: Day,
    sink: &mut S,
    summary: &mut SimSummary,
) -> Result<(), S::Error> {
    let behaviour = &population.behaviour;
    let arm = &population.arms[day.arm];
    let sittings = 1 + u32::from(rng.chance(behaviour.second_sitting));
    let mut clock = day.first;
    for sitting in 0..sittings {
        if clock > day.end {
            break;
        }
        ids.conversation.clear();
        let _ = write!(ids.conversation, "{}-{}-{sitting}", ids.user, day.k);
        sink.conversation(SimConversation {
            conversation_id: &ids.conversation,
            user_id: &ids.user,
            arm: &arm.name,
            created_at: clock,
        })?;
        summary.conversations += 1;
        let mut position = 0u32;
        let mut turn = 0u32;
        while clock <= day.end {
            ids.set_message(position);
            sink.message(SimMessage {
                message_id: &ids.message,
                conversation_id: &ids.conversation,
                user_id: &ids.user,
                arm: &arm.name,
                position,
                reply: None,
                created_at: clock,
                content_chars: 5 + rng.below(200) as u32,
            })?;
            summary.messages += 1;
            position += 1;
            if rng.chance(behaviour.unanswered) {
                clock += (5 + rng.below(120) as i64) * SECOND;
                if rng.chance(0.5) {
                    continue;
                }
                break;
            }
            let latency_ms = 200 + rng.below(2500) as i64;
            clock += latency_ms * 1000;
            if clock > day.end {
                break;
            }
            // An adaptive arm draws from the snapshot of this moment: every earlier reply first.
            timeline.reach(clock).await;
            let (component, choice_prob) =
                allocation.component(day.arm, &ids.conversation, turn, rng);
            turn += 1;
            let reply = SimReply {
                model: &arm.models[component],
                choice_prob,
                latency_ms: latency_ms as f64,
                prompt_tokens: 40 + rng.below(600) as i64,
                completion_tokens: 10 + rng.below(60) as i64,
                policy_version: allocation.policy_version(day.arm),
            };
            let content_chars = 20 + rng.below(300) as u32;
            ids.set_message(position);
            sink.message(SimMessage {
                message_id: &ids.message,
                conversation_id: &ids.conversation,
                user_id: &ids.user,
                arm: &arm.name,
                position,
                reply: Some(reply),
                created_at: clock,
                content_chars,
            })?;
            summary.messages += 1;
            position += 1;
            let continuation =
                super::Behaviour::continuation(arm.continuation[component], day.propensity);
            let continues = rng.chance(continuation);
            reactions(
                behaviour,
                continuation,
                continues,
                rng,
                ids,
                clock,
                sink,
                summary,
            )?;
            if !continues {
                break;
            }
            clock += if rng.chance(behaviour.long_pause) {
                1_900 + rng.below(3_600) as i64
            } else {
                5 + rng.below(240) as i64
            } * SECOND;
        }
        clock += (1_800 + rng.below(4 * 3600) as i64) * SECOND;
    }
    Ok(())
}

/// Feedback on the reply just written (positive as often as users continue after this component)
/// and a retry now and then when the user does not continue.
#[allow(clippy::too_many_arguments)]
fn reactions<S: LogSink>(
    behaviour: &super::Behaviour,
    continuation: f64,
    continues: bool,
    rng: &mut Rng,
    ids: &Ids,
    replied_at: i64,
    sink: &mut S,
    summary: &mut SimSummary,
) -> Result<(), S::Error> {
    let mut event = |kind: &'static str, value: f64, delay_s: i64| {
        summary.events += 1;
        sink.event(SimEvent {
            user_id: &ids.user,
            conversation_id: &ids.conversation,
            message_id: &ids.message,
            kind,
            value,
            created_at: replied_at + delay_s * SECOND,
        })
    };
    if rng.chance(behaviour.feedback_rate) {
        let liked = rng.chance(continuation);
        event("feedback", if liked { 1.0 } else { 0.0 }, 2)?;
    }
    if !continues && rng.chance(behaviour.retry_rate) {
        event("retry", 1.0, 3)?;
    }
    Ok(())
}
