//! Blend attribution on a log small enough to check by hand.

mod common;

use blendlab_analytics::load::SourceNames;
use blendlab_analytics::report::ReportRequest;
use blendlab_analytics::{compute_report, LogFrames};
use polars::prelude::*;

fn with_ids(mut messages: DataFrame, ids: &[&str], chars: &[i64]) -> DataFrame {
    messages
        .with_column(Column::new("message_id".into(), ids))
        .unwrap();
    messages
        .with_column(Column::new("content_chars".into(), chars))
        .unwrap();
    messages
}

/// The log of a blend user `u` and a control user `c`, both exposed at 2026-11-01T08:00Z, with
/// `u`'s events: `(message_id, kind, value, created_at)`.
fn blend_log(messages: DataFrame, events: &[(Option<&str>, &str, f64, &str)]) -> LogFrames {
    let assignments = common::assignments(
        "exp",
        &[
            ("u", "blend", "2026-11-01T08:00:00Z"),
            ("c", "control", "2026-11-01T08:00:00Z"),
        ],
    );
    let events = DataFrame::new_infer_height(vec![
        Column::new("user_id".into(), vec!["u"; events.len()]),
        Column::new(
            "message_id".into(),
            events.iter().map(|e| e.0).collect::<Vec<_>>(),
        ),
        Column::new(
            "kind".into(),
            events.iter().map(|e| e.1).collect::<Vec<_>>(),
        ),
        Column::new(
            "value".into(),
            events.iter().map(|e| e.2).collect::<Vec<_>>(),
        ),
        Int64Chunked::from_vec(
            "created_at".into(),
            events.iter().map(|e| common::micros(e.3)).collect(),
        )
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        .into_column(),
    ])
    .unwrap();
    LogFrames::new(
        assignments.lazy(),
        messages.lazy(),
        Some(events.lazy()),
        &SourceNames::default(),
    )
    .unwrap()
}

/// The report of [`blend_log`]'s experiment as of `as_of`, with control `control`.
fn request_as_of(as_of: &str) -> ReportRequest {
    ReportRequest {
        experiment: "exp".into(),
        as_of: common::date(as_of),
        control: "control".into(),
        window_days: 30,
        arms: None,
        evaluate_policies: Vec::new(),
        decision: blendlab_experiments::DecisionRules::default_for(30),
    }
}

#[test]
fn continuation_next_length_retries_and_feedback_are_attributed_to_the_component() {
    let messages = with_ids(
        common::messages(&[
            ("u", "k1", "user", "", "2026-11-01T09:00:00Z"),
            ("u", "k1", "assistant", "a", "2026-11-01T09:00:02Z"),
            // Continued 10 minutes later with a 40-character message.
            ("u", "k1", "user", "", "2026-11-01T09:10:02Z"),
            ("u", "k1", "assistant", "b", "2026-11-01T09:10:04Z"),
            // Another conversation in between does not break k1's continuation rule...
            ("u", "k2", "user", "", "2026-11-01T09:20:00Z"),
            ("u", "k2", "assistant", "a", "2026-11-01T09:20:02Z"),
            // ...but k1's next user message comes 50 minutes after b's reply: not a continuation.
            ("u", "k1", "user", "", "2026-11-01T10:00:04Z"),
            ("c", "k3", "user", "", "2026-11-01T09:00:00Z"),
            ("c", "k3", "assistant", "large", "2026-11-01T09:00:01Z"),
        ]),
        &["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9"],
        &[10, 100, 40, 100, 20, 100, 7, 5, 50],
    );
    let at = "2026-11-01T09:05:00Z";
    let frames = blend_log(
        messages,
        &[
            (Some("m2"), "feedback", 1.0, at),
            (Some("m2"), "retry", 0.0, at),
            (Some("m4"), "feedback", -1.0, at),
            (None, "app_open", 0.0, at),
        ],
    );
    let request = request_as_of("2026-11-02");
    let report = compute_report(&frames, &request).unwrap();
    let blend = report.arm("blend").unwrap();
    assert_eq!(blend.models, vec!["a", "b"]);
    let component = |model: &str| blend.attribution.iter().find(|c| c.model == model).unwrap();
    let (a, b) = (component("a"), component("b"));
    assert_eq!((a.replies, b.replies), (2, 1));
    assert!((a.share - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(a.continuation.mean, 0.5, "m2 was continued, m6 was not");
    assert_eq!(
        b.continuation.mean, 0.0,
        "m4's next k1 message came after 50 minutes"
    );
    assert_eq!(a.next_user_message_chars.as_ref().unwrap().mean, 40.0);
    assert_eq!(a.retry.as_ref().unwrap().mean, 0.5);
    assert_eq!(
        (
            a.feedback.as_ref().unwrap().mean,
            b.feedback.as_ref().unwrap().mean
        ),
        (1.0, -1.0)
    );
    assert!(
        report.arm("control").unwrap().attribution.is_empty(),
        "a single-model arm has nothing to attribute"
    );
    assert_eq!(blend.guardrails.conversations, 2);
    assert_eq!(blend.guardrails.replies, 3);
}

/// A reply's events count until the end of the day after the reply's, as its continuation does,
/// and never after `as_of`: a report as of a day reads the same whenever it runs, and a kept day
/// part (final once its next day is over) holds every event that will ever count.
#[test]
fn an_event_counts_until_the_end_of_the_day_after_its_reply() {
    use blendlab_analytics::collect::daily::{compute_report_incremental, PartsInMemory};
    let messages = with_ids(
        common::messages(&[
            ("u", "k1", "user", "", "2026-11-01T09:00:00Z"),
            ("u", "k1", "assistant", "a", "2026-11-01T09:00:02Z"),
            ("u", "k2", "user", "", "2026-11-01T20:00:00Z"),
            ("u", "k2", "assistant", "b", "2026-11-01T20:00:02Z"),
            ("c", "k3", "user", "", "2026-11-01T09:00:00Z"),
            ("c", "k3", "assistant", "large", "2026-11-01T09:00:01Z"),
        ]),
        &["m1", "m2", "m3", "m4", "m5", "m6"],
        &[10, 100, 10, 100, 10, 100],
    );
    // m2: a retry on its own day, feedback the next day. m4: feedback two days later, too late.
    let frames = blend_log(
        messages,
        &[
            (Some("m2"), "retry", 1.0, "2026-11-01T09:01:00Z"),
            (Some("m2"), "feedback", 1.0, "2026-11-02T23:59:00Z"),
            (Some("m4"), "feedback", -1.0, "2026-11-03T00:01:00Z"),
        ],
    );
    let parts = PartsInMemory::default();
    for (as_of, a_feedback) in [("2026-11-01", 0), ("2026-11-02", 1), ("2026-11-05", 1)] {
        let request = request_as_of(as_of);
        let report = compute_report(&frames, &request).unwrap();
        let final_through = common::date("2026-11-30");
        let (incremental, _) =
            compute_report_incremental(&frames, &request, &parts, final_through).unwrap();
        blendlab_analytics::compare::assert_reports_match(
            &serde_json::to_value(&incremental).unwrap(),
            &serde_json::to_value(&report).unwrap(),
        );
        let blend = report.arm("blend").unwrap();
        let component = |model: &str| blend.attribution.iter().find(|c| c.model == model).unwrap();
        let feedback_n = |model: &str| component(model).feedback.as_ref().map_or(0, |f| f.n);
        assert_eq!(component("a").retry.as_ref().unwrap().mean, 1.0, "{as_of}");
        assert_eq!(feedback_n("a"), a_feedback, "as of {as_of}");
        assert_eq!(
            feedback_n("b"),
            0,
            "as of {as_of}: m4's feedback came too late"
        );
    }
}

/// The replies of one vector case as a log: a user message before every reply and after every
/// continued one (10 s apart), conversations 10 minutes apart from 2026-11-01, two control
/// users; feedback and retry events on the replies.
fn vector_case_log(case: &serde_json::Value) -> LogFrames {
    let r = &case["replies"];
    let column = |name: &str| r[name].as_array().expect("an array").clone();
    let (users, conversations, models) = (column("user"), column("conversation"), column("model"));
    let (probs, continued, next_chars) = (
        column("choice_prob"),
        column("continued"),
        column("next_chars"),
    );
    let (feedback, retried) = (column("feedback"), column("retried"));
    let names: Vec<String> = case["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect();
    let start = common::micros("2026-11-01T00:58:30Z");
    let mut log = LogRows::default();
    let mut clock = start;
    let mut last_conversation = None;
    for i in 0..users.len() {
        let conversation = conversations[i].as_u64().unwrap();
        let user = format!("u{}", users[i].as_u64().unwrap());
        let conversation_id = format!("k{conversation}");
        if last_conversation != Some(conversation) {
            clock = start + conversation as i64 * 600_000_000;
            log.message(&user, &conversation_id, None, None, clock, 30);
            last_conversation = Some(conversation);
        }
        let model = &names[models[i].as_u64().unwrap() as usize];
        let reply = log.message(
            &user,
            &conversation_id,
            Some(model),
            probs[i].as_f64(),
            clock + 1_000_000,
            100,
        );
        clock += 10_000_000;
        if continued[i].as_bool().unwrap() {
            let chars = next_chars[i].as_i64().unwrap();
            log.message(&user, &conversation_id, None, None, clock, chars);
        }
        if let Some(value) = feedback[i].as_f64() {
            log.event(&user, &reply, "feedback", value, clock);
        }
        if retried[i].as_bool().unwrap() {
            log.event(&user, &reply, "retry", 1.0, clock);
        }
    }
    let mut assigned: Vec<(String, &str)> = users
        .iter()
        .map(|u| (format!("u{}", u.as_u64().unwrap()), "blend"))
        .collect();
    assigned.dedup();
    for control in ["c0", "c1"] {
        assigned.push((control.to_owned(), "control"));
        let conversation = format!("{control}-k");
        log.message(control, &conversation, None, None, start, 10);
        log.message(
            control,
            &conversation,
            Some("large"),
            Some(1.0),
            start + 1,
            10,
        );
    }
    let rows: Vec<(&str, &str, &str)> = assigned
        .iter()
        .map(|(u, arm)| (u.as_str(), *arm, "2026-11-01T00:00:00Z"))
        .collect();
    LogFrames::new(
        common::assignments("mrt", &rows).lazy(),
        log.messages().lazy(),
        Some(log.events().lazy()),
        &SourceNames::default(),
    )
    .unwrap()
}

/// user, conversation, model (a reply) or none (a user message), choice_prob, created_at (µs),
/// content_chars.
type LogMessage = (String, String, Option<String>, Option<f64>, i64, i64);

#[derive(Default)]
struct LogRows {
    messages: Vec<LogMessage>,
    events: Vec<(String, String, &'static str, f64, i64)>,
}

impl LogRows {
    /// Appends a message (a reply when `model` is given) and returns its id.
    fn message(
        &mut self,
        user: &str,
        conversation: &str,
        model: Option<&str>,
        choice_prob: Option<f64>,
        at: i64,
        chars: i64,
    ) -> String {
        self.messages.push((
            user.into(),
            conversation.into(),
            model.map(str::to_owned),
            choice_prob,
            at,
            chars,
        ));
        format!("m{}", self.messages.len() - 1)
    }

    fn event(&mut self, user: &str, message: &str, kind: &'static str, value: f64, at: i64) {
        self.events
            .push((user.into(), message.into(), kind, value, at));
    }

    fn messages(&self) -> DataFrame {
        let m = &self.messages;
        let micros = |values: Vec<i64>, name: &str| {
            Int64Chunked::from_vec(name.into(), values)
                .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
                .into_column()
        };
        DataFrame::new_infer_height(vec![
            Column::new(
                "user_id".into(),
                m.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "conversation_id".into(),
                m.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "role".into(),
                m.iter()
                    .map(|r| if r.2.is_some() { "assistant" } else { "user" })
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "model".into(),
                m.iter().map(|r| r.2.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "choice_prob".into(),
                m.iter().map(|r| r.3).collect::<Vec<_>>(),
            ),
            micros(m.iter().map(|r| r.4).collect(), "created_at"),
            Column::new(
                "message_id".into(),
                (0..m.len()).map(|i| format!("m{i}")).collect::<Vec<_>>(),
            ),
            Column::new(
                "content_chars".into(),
                m.iter().map(|r| r.5).collect::<Vec<_>>(),
            ),
        ])
        .unwrap()
    }

    fn events(&self) -> DataFrame {
        let e = &self.events;
        DataFrame::new_infer_height(vec![
            Column::new(
                "user_id".into(),
                e.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "message_id".into(),
                e.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
            ),
            Column::new("kind".into(), e.iter().map(|r| r.2).collect::<Vec<_>>()),
            Column::new("value".into(), e.iter().map(|r| r.3).collect::<Vec<_>>()),
            Int64Chunked::from_vec("created_at".into(), e.iter().map(|r| r.4).collect())
                .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
                .into_column(),
        ])
        .unwrap()
    }
}

/// Relative 1e-9, no absolute floor (as the statistics' own vectors).
fn assert_close(label: &str, got: f64, want: f64) {
    let tolerance = if want == 0.0 {
        1e-15
    } else {
        want.abs() * 1e-9
    };
    assert!(
        (got - want).abs() <= tolerance,
        "{label}: got {got}, want {want}"
    );
}

fn assert_optional(label: &str, got: Option<f64>, want: &serde_json::Value) {
    match (got, want.as_f64()) {
        (Some(got), Some(want)) => assert_close(label, got, want),
        (None, None) => {}
        (got, _) => panic!("{label}: got {got:?}, want {want}"),
    }
}

fn vector_cases() -> serde_json::Value {
    serde_json::from_str(include_str!("../vectors/components.json")).unwrap()
}

fn vector_request(case: &serde_json::Value) -> ReportRequest {
    ReportRequest {
        experiment: "mrt".into(),
        as_of: common::date("2026-11-10"),
        control: "control".into(),
        window_days: 30,
        arms: None,
        evaluate_policies: case["evaluate"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect(),
        decision: blendlab_experiments::DecisionRules::default_for(30),
    }
}

/// Component effects and policy values equal statsmodels' clustered OLS and a plain numpy
/// IPS/SNIPS/DR (analytics/vectors/component_vectors.py).
#[test]
fn component_effects_and_policy_values_match_statsmodels_and_numpy() {
    let vectors = vector_cases();
    for case in vectors["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let report = compute_report(&vector_case_log(case), &vector_request(case)).unwrap();
        let blend = report.arm("blend").unwrap();
        let expected = case["components"].as_object().unwrap();
        assert_eq!(blend.attribution.len(), expected.len(), "{name}");
        for c in &blend.attribution {
            let want = &expected[&c.model];
            let label = format!("{name} {}", c.model);
            assert_eq!(c.replies, want["replies"].as_u64().unwrap(), "{label}");
            assert_eq!(c.users, want["users"].as_u64().unwrap(), "{label}");
            let outcomes = [
                ("continuation", Some(&c.continuation)),
                (
                    "next_user_message_chars",
                    c.next_user_message_chars.as_ref(),
                ),
                ("retry", c.retry.as_ref()),
                ("feedback", c.feedback.as_ref()),
            ];
            for (outcome, got) in outcomes {
                let want = &want[outcome];
                let label = format!("{label} {outcome}");
                let Some(got) = got else {
                    assert!(want.is_null(), "{label}: missing");
                    continue;
                };
                assert_close(
                    &format!("{label} mean"),
                    got.mean,
                    want["mean"].as_f64().unwrap(),
                );
                assert_optional(&format!("{label} ci_low"), got.ci_low, &want["ci_low"]);
                assert_optional(&format!("{label} ci_high"), got.ci_high, &want["ci_high"]);
                match (&got.vs_rest, want["vs_rest"].is_null()) {
                    (None, true) => {}
                    (Some(v), false) => {
                        let w = &want["vs_rest"];
                        for (field, value) in [
                            ("diff", v.diff),
                            ("ci_low", v.ci_low),
                            ("ci_high", v.ci_high),
                            ("p_value", v.p_value),
                            ("p_value_adjusted", v.p_value_adjusted),
                        ] {
                            assert_close(
                                &format!("{label} vs_rest.{field}"),
                                value,
                                w[field].as_f64().unwrap(),
                            );
                        }
                    }
                    (got, _) => panic!("{label}: vs_rest {got:?} against {}", want["vs_rest"]),
                }
            }
        }
        let values = blend
            .policy_values
            .as_ref()
            .expect("the log has choice_prob");
        let expected = case["policy_values"].as_array().unwrap();
        assert_eq!(values.len(), expected.len(), "{name}: policy values");
        for want in expected {
            let (policy, estimator) = (
                want["policy"].as_str().unwrap(),
                want["estimator"].as_str().unwrap(),
            );
            let got = values
                .iter()
                .find(|v| v.policy == policy && v.estimator == estimator)
                .unwrap_or_else(|| panic!("{name}: no {policy} {estimator}"));
            let label = format!("{name} {policy} {estimator}");
            for (field, value) in [
                ("value", got.value),
                ("ci_low", got.ci_low),
                ("ci_high", got.ci_high),
                ("ess", got.ess),
            ] {
                assert_close(
                    &format!("{label} {field}"),
                    value,
                    want[field].as_f64().unwrap(),
                );
            }
        }
    }
}

/// The daily runs' kept parts give the same components and policy values as the one pass, also
/// when a conversation runs over midnight (its context is taken over the whole window).
#[test]
fn kept_day_parts_give_the_one_pass_components() {
    use blendlab_analytics::collect::daily::{compute_report_incremental, PartsInMemory};
    let vectors = vector_cases();
    let case = &vectors["cases"][0];
    let frames = vector_case_log(case);
    let request = vector_request(case);
    let state = PartsInMemory::default();
    let final_through = common::date("2026-11-09");
    let (first, run) =
        compute_report_incremental(&frames, &request, &state, final_through).unwrap();
    assert!(run.days_kept > 1, "{run:?}");
    let (again, run) =
        compute_report_incremental(&frames, &request, &state, final_through).unwrap();
    assert_eq!(run.days_kept, 0, "{run:?}");
    let one_pass = compute_report(&frames, &request).unwrap();
    for report in [first, again] {
        blendlab_analytics::compare::assert_reports_match(
            &serde_json::to_value(&report).unwrap(),
            &serde_json::to_value(&one_pass).unwrap(),
        );
    }
}

#[test]
fn a_log_without_choice_prob_says_why_it_has_no_policy_values() {
    let vectors = vector_cases();
    let case = &vectors["cases"][1];
    let frames = vector_case_log(case);
    let frames = LogFrames::new(
        frames.assignments.clone(),
        frames
            .messages
            .clone()
            .collect()
            .unwrap()
            .drop("choice_prob")
            .unwrap()
            .lazy(),
        frames.events.clone(),
        &SourceNames::default(),
    )
    .unwrap();
    let report = compute_report(&frames, &vector_request(case)).unwrap();
    let blend = report.arm("blend").unwrap();
    assert!(blend.policy_values.is_none());
    let reason = blend.policy_values_reason.as_deref().unwrap();
    assert!(reason.contains("choice_prob"), "{reason}");
    assert!(
        !blend.attribution.is_empty(),
        "effects need no probabilities"
    );
}

/// Users who differ in their propensity to continue make replies cluster: the user-clustered
/// interval of a component's continuation is wider than a per-reply (Wilson) one would be, and
/// equal to it when users are alike.
#[test]
fn clustered_intervals_widen_when_users_differ() {
    use blendlab_simulator::synthetic::{write_parquet, Population, RandomAllocation};
    let widening = |spread: f64| {
        let dir = std::env::temp_dir().join(format!(
            "blendlab-clustering-{spread}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let mut spec = Population::chai(2_000, 5);
        spec.behaviour.continuation_spread = spread;
        write_parquet(&spec, &RandomAllocation::new(&spec.arms), &dir).unwrap();
        let request = ReportRequest {
            experiment: spec.experiment.clone(),
            as_of: common::date("2026-11-20"),
            control: "control".into(),
            window_days: 30,
            arms: None,
            evaluate_policies: Vec::new(),
            decision: blendlab_experiments::DecisionRules::default_for(30),
        };
        let report =
            compute_report(&blendlab_analytics::DataDir::scan(&dir).unwrap(), &request).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let c = &report.arm("blend").unwrap().attribution[0].continuation;
        let naive_half = 1.96 * (c.mean * (1.0 - c.mean) / c.n as f64).sqrt();
        (c.ci_high.unwrap() - c.ci_low.unwrap()) / 2.0 / naive_half
    };
    let (alike, differ) = (widening(0.0), widening(0.9));
    assert!((0.9..1.1).contains(&alike), "users alike: {alike}");
    assert!(
        differ > 1.15,
        "users differ: the clustered interval is only {differ} x the naive one"
    );
}
