//! From the collected frames to the report: counts per day, then statistics against control.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::columns::{counts, floats, strings};
use super::comparisons::{adjust, arm_counts, compare, ArmCounts, DayRow};
use super::{
    attribution, cuped, decision, guardrail_tests, guardrails, power_laws, segments, ArmReport,
    Report, ReportRequest, Srm, SrmArm, SRM_WARNING_P,
};
use crate::collect::Collected;
use crate::pipeline::{out, Horizon};
use crate::schema::{assignments as a, messages as m};
use crate::stats::{self, MeanSummary};
use crate::timing::timed;
use crate::AnalyticsError;

pub fn assemble(
    request: &ReportRequest,
    start: NaiveDate,
    horizon: Horizon,
    collected: Collected,
) -> Result<Report, AnalyticsError> {
    let sizes = cohort_sizes(&collected)?;
    let per_day = arm_days(&collected)?;
    let observed_models = arm_models(&collected)?;
    let arm_list = arm_list(request, &sizes, &observed_models)?;
    let mut arms: Vec<ArmCounts> = arm_list
        .into_iter()
        .map(|(name, weight, models)| arm_counts(name, weight, models, horizon, &sizes, &per_day))
        .collect();
    let control_index = arms
        .iter()
        .position(|arm| arm.name == request.control)
        .expect("arm_list checks control");
    arms.swap(0, control_index);

    let users_of = |arm: &str| arms.iter().find(|a| a.name == arm).map_or(0, |a| a.users);
    let mut guardrails: BTreeMap<String, _> =
        guardrails::read(&guardrail_frame(&collected)?, users_of)?
            .into_iter()
            .collect();
    let blended: BTreeMap<String, Vec<String>> = arms
        .iter()
        .filter(|arm| arm.models.len() > 1)
        .map(|arm| (arm.name.clone(), arm.models.clone()))
        .collect();
    let mut components = timed("attribution_read", || {
        attribution::read(&collected.attribution, &blended, &request.evaluate_policies)
    })?;

    let srm = srm(&arms);
    let adjusted = timed("cuped_read", || {
        cuped::CupedReader::read(&collected.cuped, horizon.as_of_day)
    })?;
    let control_report = arm_report_without_comparison(&arms[0], &mut guardrails, &mut components);
    let mut reports = vec![control_report.clone()];
    for arm in &arms[1..] {
        let mut report = arm_report_without_comparison(arm, &mut guardrails, &mut components);
        compare(&mut report, arm, &control_report, &arms[0]);
        adjust(&mut report, &control_report.arm, &adjusted);
        report.power_law = power_laws(&report.retention, &report.engagement, &control_report);
        reports.push(report);
    }
    timed("decide", || decide(request, &collected, &srm, &mut reports))?;
    let segment_arms: Vec<(String, Vec<String>)> = arms
        .iter()
        .map(|arm| (arm.name.clone(), arm.models.clone()))
        .collect();
    let segments = timed("segments", || {
        segments::segments(request, horizon, &collected.cuped, &segment_arms)
    })?;
    Ok(Report {
        experiment: request.experiment.clone(),
        as_of: request.as_of,
        control: request.control.clone(),
        window_days: horizon.window_days,
        start,
        srm,
        arms: reports,
        segments,
    })
}

/// Tests the definition's guardrails and gives the verdict of every arm but control (first).
fn decide(
    request: &ReportRequest,
    collected: &Collected,
    srm: &Srm,
    reports: &mut [ArmReport],
) -> Result<(), AnalyticsError> {
    let inputs = guardrail_tests::TestInputs {
        costs: guardrail_tests::read_cost_moments(collected.cost_moments.as_ref())?,
        latency: guardrail_tests::read_latency_quantiles(collected.latency_quantiles.as_ref())?,
        has_latency: collected
            .guardrails
            .column(crate::pipeline::guard::LATENCY_P95)
            .is_ok(),
    };
    let Some((control, arms)) = reports.split_first_mut() else {
        return Ok(());
    };
    for arm in arms {
        arm.guardrail_tests = request
            .decision
            .guardrails
            .iter()
            .map(|guardrail| guardrail_tests::test(guardrail, arm, control, &inputs))
            .collect();
        arm.decision = Some(decision::decide(&request.decision, arm, srm));
    }
    Ok(())
}

/// The guardrails frame with its per-arm conversation and returned-user counts joined on.
fn guardrail_frame(collected: &Collected) -> Result<polars::prelude::DataFrame, AnalyticsError> {
    use polars::prelude::*;
    let by_arm = |other: &DataFrame| {
        (
            other.clone().lazy(),
            [col(a::ARM)],
            [col(a::ARM)],
            JoinArgs::new(JoinType::Left),
        )
    };
    let (conversations, left, right, args) = by_arm(&collected.conversations);
    let joined = collected
        .guardrails
        .clone()
        .lazy()
        .join(conversations, left, right, args);
    let (returned, left, right, args) = by_arm(&collected.returned_users);
    Ok(joined.join(returned, left, right, args).collect()?)
}

/// (arm, d0) -> users.
fn cohort_sizes(collected: &Collected) -> Result<Vec<(String, i64, u64)>, AnalyticsError> {
    let df = &collected.cohort_sizes;
    let arms = strings(df, a::ARM)?;
    let d0 = floats(df, out::D0)?;
    let users = counts(df, out::USERS)?;
    Ok(arms
        .into_iter()
        .zip(d0)
        .zip(users)
        .map(|((arm, d0), n)| (arm, d0.unwrap_or(0.0) as i64, n))
        .collect())
}

/// (arm, k) -> active users' counts and moments.
fn arm_days(collected: &Collected) -> Result<BTreeMap<(String, u32), DayRow>, AnalyticsError> {
    let df = &collected.arm_days;
    let arms = strings(df, a::ARM)?;
    let k = counts(df, out::K)?;
    let retained = counts(df, out::RETAINED)?;
    let (time_mean, time_var) = (floats(df, out::TIME_MEAN)?, floats(df, out::TIME_VAR)?);
    let (messages_mean, messages_var) = (
        floats(df, out::MESSAGES_MEAN)?,
        floats(df, out::MESSAGES_VAR)?,
    );
    let summary = |mean: Option<f64>, var: Option<f64>, n: u64| MeanSummary {
        mean: mean.unwrap_or(0.0),
        variance: var.unwrap_or(0.0),
        n,
    };
    Ok((0..df.height())
        .map(|i| {
            let row = DayRow {
                retained: retained[i],
                time: summary(time_mean[i], time_var[i], retained[i]),
                user_messages: summary(messages_mean[i], messages_var[i], retained[i]),
            };
            ((arms[i].clone(), k[i] as u32), row)
        })
        .collect())
}

fn arm_models(collected: &Collected) -> Result<BTreeMap<String, Vec<String>>, AnalyticsError> {
    let df = &collected.arm_models;
    let mut models: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (arm, model) in strings(df, a::ARM)?.into_iter().zip(strings(df, m::MODEL)?) {
        models.entry(arm).or_default().push(model);
    }
    Ok(models)
}

/// The arms to report, with weights and models: the definition's when given; otherwise the arms
/// seen in the data at equal weights. Control must be one of them.
fn arm_list(
    request: &ReportRequest,
    sizes: &[(String, i64, u64)],
    observed_models: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<(String, f64, Vec<String>)>, AnalyticsError> {
    let arms: Vec<(String, f64, Vec<String>)> = match &request.arms {
        Some(specs) => specs
            .iter()
            .map(|s| (s.name.clone(), s.weight, s.models.clone()))
            .collect(),
        None => {
            let mut names: Vec<String> = sizes.iter().map(|(arm, _, _)| arm.clone()).collect();
            names.dedup();
            let weight = 1.0 / names.len().max(1) as f64;
            names
                .into_iter()
                .map(|name| {
                    let models = observed_models.get(&name).cloned().unwrap_or_default();
                    (name, weight, models)
                })
                .collect()
        }
    };
    if !arms.iter().any(|(name, _, _)| *name == request.control) {
        let names: Vec<&str> = arms.iter().map(|(name, _, _)| name.as_str()).collect();
        return Err(AnalyticsError::UnknownControl {
            control: request.control.clone(),
            arms: names.join(", "),
        });
    }
    Ok(arms)
}

fn arm_report_without_comparison(
    arm: &ArmCounts,
    guardrails: &mut BTreeMap<String, guardrails::Guardrails>,
    components: &mut BTreeMap<String, attribution::ArmComponents>,
) -> ArmReport {
    let mut blend = components.remove(&arm.name).unwrap_or_default();
    if arm.models.len() < 2 {
        blend.policy_values_reason = Some("a single model: no blend policy to evaluate".into());
    }
    ArmReport {
        guardrails: guardrails.remove(&arm.name).unwrap_or_default(),
        attribution: blend.attribution,
        policy_values: blend.policy_values,
        policy_values_reason: blend.policy_values_reason,
        ..arm.bare_report()
    }
}

fn srm(arms: &[ArmCounts]) -> Srm {
    let observed: Vec<u64> = arms.iter().map(|a| a.users).collect();
    let weights: Vec<f64> = arms.iter().map(|a| a.weight).collect();
    let total: u64 = observed.iter().sum();
    let weight_sum: f64 = weights.iter().sum();
    let test = stats::srm_p_value(&observed, &weights);
    let p_value = test.map_or(1.0, |(_, p)| p);
    Srm {
        chi2: test.map(|(chi2, _)| chi2),
        p_value,
        warning: p_value < SRM_WARNING_P,
        arms: arms
            .iter()
            .map(|arm| SrmArm {
                arm: arm.name.clone(),
                users: arm.users,
                expected_share: if weight_sum > 0.0 {
                    arm.weight / weight_sum
                } else {
                    0.0
                },
                observed_share: if total > 0 {
                    arm.users as f64 / total as f64
                } else {
                    0.0
                },
            })
            .collect(),
    }
}
