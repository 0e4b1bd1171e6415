//! The simulator's behavioural model, checked on what it produces.

use std::collections::{BTreeMap, HashMap, HashSet};

use blendlab_simulator::synthetic::{
    simulate, LogSink, Population, RandomAllocation, SimAssignment, SimConversation, SimEvent,
    SimMessage, SimSummary,
};

const DAY: i64 = 86_400_000_000;

/// (message_id, conversation_id, user_id, position, model, created_at)
type MessageRow = (String, String, String, u32, Option<String>, i64);

#[derive(Default)]
struct Collected {
    assignments: Vec<(String, String, i64)>,
    conversations: Vec<(String, String)>,
    messages: Vec<MessageRow>,
    events: Vec<(String, &'static str, f64)>,
    users_done: u64,
}

impl LogSink for Collected {
    type Error = std::convert::Infallible;

    fn assignment(&mut self, row: SimAssignment<'_>) -> Result<(), Self::Error> {
        self.assignments
            .push((row.user_id.into(), row.arm.into(), row.assigned_at));
        Ok(())
    }

    fn conversation(&mut self, row: SimConversation<'_>) -> Result<(), Self::Error> {
        self.conversations
            .push((row.conversation_id.into(), row.user_id.into()));
        Ok(())
    }

    fn message(&mut self, row: SimMessage<'_>) -> Result<(), Self::Error> {
        self.messages.push((
            row.message_id.into(),
            row.conversation_id.into(),
            row.user_id.into(),
            row.position,
            row.reply.map(|r| r.model.to_owned()),
            row.created_at,
        ));
        Ok(())
    }

    fn event(&mut self, row: SimEvent<'_>) -> Result<(), Self::Error> {
        self.events
            .push((row.message_id.into(), row.kind, row.value));
        Ok(())
    }

    fn user_done(&mut self, summary: &SimSummary) -> Result<(), Self::Error> {
        self.users_done += 1;
        assert_eq!(summary.users, self.users_done);
        Ok(())
    }
}

fn run(population: &Population) -> (Collected, SimSummary) {
    let mut sink = Collected::default();
    let summary = simulate(
        population,
        &RandomAllocation::new(&population.arms),
        &mut sink,
    )
    .unwrap();
    (sink, summary)
}

#[test]
fn rows_are_consistent_and_deterministic_for_a_seed() {
    let population = Population::chai(2_000, 5);
    let (rows, summary) = run(&population);
    assert_eq!(summary.users, 2_000);
    assert_eq!(rows.assignments.len(), 2_000);
    assert_eq!(summary.messages as usize, rows.messages.len());
    assert_eq!(summary.events as usize, rows.events.len());
    let ids: HashSet<&String> = rows.messages.iter().map(|m| &m.0).collect();
    assert_eq!(ids.len(), rows.messages.len(), "message ids are unique");
    let conversations: HashSet<&String> = rows.conversations.iter().map(|c| &c.0).collect();
    assert_eq!(conversations.len(), rows.conversations.len());

    // Positions run 0, 1, 2, ... in time order within each conversation, which stays within one
    // UTC day, and every conversation starts with a user message.
    let mut by_conversation: HashMap<&String, Vec<&MessageRow>> = HashMap::new();
    for m in &rows.messages {
        by_conversation.entry(&m.1).or_default().push(m);
    }
    for messages in by_conversation.values() {
        assert!(messages[0].4.is_none());
        for (i, m) in messages.iter().enumerate() {
            assert_eq!(m.3 as usize, i);
            assert_eq!(m.5.div_euclid(DAY), messages[0].5.div_euclid(DAY));
            if i > 0 {
                assert!(m.5 >= messages[i - 1].5);
            }
        }
    }
    // Replies come from the arm's own models; users exposed before their first message.
    let arm_of: HashMap<&String, (&String, i64)> = rows
        .assignments
        .iter()
        .map(|(u, a, t)| (u, (a, *t)))
        .collect();
    for (_, _, user, _, model, at) in &rows.messages {
        let (arm, exposed) = arm_of[user];
        assert!(*at >= exposed);
        if let Some(model) = model {
            let spec = population.arms.iter().find(|a| &a.name == arm).unwrap();
            assert!(spec.models.contains(model), "{model} in {arm}");
        }
    }
    // Events point at replies.
    let replies: HashSet<&String> = rows
        .messages
        .iter()
        .filter(|m| m.4.is_some())
        .map(|m| &m.0)
        .collect();
    assert!(rows.events.iter().all(|(id, _, _)| replies.contains(id)));

    let (again, _) = run(&population);
    assert_eq!(again.messages, rows.messages);
    let (other, _) = run(&Population::chai(2_000, 6));
    assert_ne!(other.messages, rows.messages);
}

/// Share of users active on day k, per arm, against the model's probability.
#[test]
fn return_rates_follow_the_power_law_and_the_lift() {
    let population = Population::chai(40_000, 8);
    let (rows, _) = run(&population);
    let exposed: HashMap<&String, (&String, i64)> = rows
        .assignments
        .iter()
        .map(|(u, a, t)| (u, (a, t.div_euclid(DAY))))
        .collect();
    let mut active: HashSet<(&String, i64)> = HashSet::new();
    for (_, _, user, _, model, at) in &rows.messages {
        if model.is_none() {
            active.insert((user, at.div_euclid(DAY) - exposed[user].1));
        }
    }
    for arm in &population.arms {
        let users: Vec<&String> = exposed
            .iter()
            .filter(|(_, (a, _))| **a == arm.name)
            .map(|(u, _)| *u)
            .collect();
        for k in [0i64, 1, 7, 30] {
            let returned = users.iter().filter(|u| active.contains(&(**u, k))).count() as f64;
            let rate = returned / users.len() as f64;
            let want = population.behaviour.return_probability(k as u32, arm.lift);
            let standard_error = (want * (1.0 - want) / users.len() as f64).sqrt();
            assert!(
                (rate - want).abs() <= 4.0 * standard_error + 1e-12,
                "{} day {k}: {rate} vs {want}",
                arm.name
            );
        }
    }
}

/// A component with a higher continuation keeps users writing: more messages after its replies.
#[test]
fn per_component_continuation_shows_in_what_follows_a_reply() {
    let mut population = Population::chai(6_000, 9);
    population.arms[1].continuation = vec![0.9, 0.75, 0.5];
    let (rows, _) = run(&population);
    let mut followed: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for pair in rows.messages.windows(2) {
        let (reply, next) = (&pair[0], &pair[1]);
        if let Some(model) = &reply.4 {
            let entry = followed.entry(model.clone()).or_default();
            entry.0 += 1;
            entry.1 += u64::from(next.1 == reply.1);
        }
    }
    let rate = |m: &str| {
        let (replies, continued) = followed[m];
        continued as f64 / replies as f64
    };
    // A reply is followed in its conversation exactly when the user continues (and the day has
    // not ended), so the rates sit at the configured propensities.
    for (model, want) in [("small-a", 0.9), ("small-b", 0.75), ("small-c", 0.5)] {
        assert!(
            (rate(model) - want).abs() < 0.02,
            "{model}: {} vs {want}",
            rate(model)
        );
    }
    assert!(
        (rate("large") - 0.75).abs() < 0.02,
        "large: {}",
        rate("large")
    );
}
