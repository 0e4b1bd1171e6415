//! The leaderboard: every arm of every experiment against its control, from the experiment's
//! latest stored daily report, or from today's computed now while it has none yet. Computed
//! reports are reused for `server.live_report_ttl_s`: a report over a large log takes seconds,
//! and the dashboard asks for the leaderboard on every page load.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use blendlab_analytics::{
    report::{ArmDecision, ArmReport, RetentionVsControl},
    stats::PowerLawFit,
    AnalyticsError, Report,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::source::{report_from_store, StoreReportError};
use blendlab_store::{ExperimentRow, ExperimentStatus, Store};

/// The days the leaderboard quotes, as in the paper's headline.
const HEADLINE_DAYS: [u32; 3] = [1, 7, 30];

#[derive(Debug, Serialize)]
pub struct Leaderboard {
    pub experiments: Vec<ExperimentStanding>,
}

#[derive(Debug, Serialize)]
pub struct ExperimentStanding {
    pub experiment: String,
    pub name: String,
    pub status: ExperimentStatus,
    pub control: String,
    /// Users exposed so far, counted now (the report's arms count up to its `as_of`).
    pub exposed_users: i64,
    /// The report's day; null while no user has been exposed.
    pub as_of: Option<NaiveDate>,
    /// `stored` (a daily report) or `live` (computed today, reused for a while).
    pub source: Option<&'static str>,
    /// When the report was computed.
    pub computed_at: Option<DateTime<Utc>>,
    pub srm: Option<SrmSummary>,
    pub arms: Vec<ArmStanding>,
}

#[derive(Debug, Serialize)]
pub struct SrmSummary {
    pub p_value: f64,
    pub warning: bool,
}

#[derive(Debug, Serialize)]
pub struct ArmStanding {
    pub arm: String,
    pub models: Vec<String>,
    pub is_control: bool,
    pub is_blend: bool,
    pub users: u64,
    pub d1: Option<DayStanding>,
    pub d7: Option<DayStanding>,
    pub d30: Option<DayStanding>,
    /// Mean time spent on day 1 by the users active then.
    pub d1_time_spent_s: Option<f64>,
    pub retention_power_law: Option<PowerLawFit>,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub error_rate: Option<f64>,
    pub tokens_per_user: Option<f64>,
    pub compute_s_per_returned_user: Option<f64>,
    /// The verdict against control (ship, no_ship, keep_running) with its reasons; absent on
    /// control and in reports stored before verdicts existed.
    pub decision: Option<ArmDecision>,
}

/// Day-k retention with its comparison to control flattened in (absent on the control arm).
#[derive(Debug, Serialize)]
pub struct DayStanding {
    pub day: u32,
    pub eligible: u64,
    pub rate: Option<f64>,
    #[serde(flatten)]
    pub vs_control: Option<RetentionVsControl>,
}

/// Today's reports computed for the leaderboard, each reused until it is `ttl` old.
pub struct LiveReports {
    ttl: Duration,
    computed: Mutex<HashMap<(String, NaiveDate), LiveReport>>,
}

type LiveReport = (Instant, DateTime<Utc>, Arc<Report>);

impl LiveReports {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            computed: Mutex::default(),
        }
    }

    async fn get(
        &self,
        store: &Store,
        key: &str,
        today: NaiveDate,
    ) -> Result<(DateTime<Utc>, Arc<Report>), StoreReportError> {
        let slot = (key.to_owned(), today);
        if let Some((at, computed_at, report)) = self.computed.lock().unwrap().get(&slot) {
            if at.elapsed() < self.ttl {
                return Ok((*computed_at, report.clone()));
            }
        }
        // Two requests may both compute; the later one's report is kept. Better than holding
        // every leaderboard request behind one report.
        let report = Arc::new(report_from_store(store, key, today).await?);
        let computed_at = Utc::now();
        let mut computed = self.computed.lock().unwrap();
        computed.retain(|(_, day), _| *day == today);
        computed.insert(slot, (Instant::now(), computed_at, report.clone()));
        Ok((computed_at, report))
    }
}

pub async fn leaderboard(
    store: &Store,
    live: &LiveReports,
    today: NaiveDate,
) -> Result<Leaderboard, StoreReportError> {
    let mut experiments = Vec::new();
    for row in store.experiments().await? {
        experiments.push(standing(store, live, row, today).await?);
    }
    Ok(Leaderboard { experiments })
}

async fn standing(
    store: &Store,
    live: &LiveReports,
    row: ExperimentRow,
    today: NaiveDate,
) -> Result<ExperimentStanding, StoreReportError> {
    let key = row.definition.key.clone();
    let stored = store
        .latest_report(&key)
        .await?
        // A report stored by an older version that no longer parses is computed afresh.
        .and_then(|stored| {
            let report = serde_json::from_value::<Report>(stored.report).ok()?;
            Some((stored.computed_at, Arc::new(report)))
        });
    let (report, computed_at, source) = match stored {
        Some((at, report)) => (Some(report), Some(at), Some("stored")),
        None => match live.get(store, &key, today).await {
            Ok((at, report)) => (Some(report), Some(at), Some("live")),
            Err(StoreReportError::Analytics(AnalyticsError::UnknownExperiment(_))) => {
                (None, None, None)
            }
            Err(error) => return Err(error),
        },
    };
    let exposed_users = store.exposed_users(&key).await?;
    Ok(ExperimentStanding {
        experiment: key,
        name: row.definition.name.clone(),
        status: row.status,
        control: row.definition.control.clone(),
        exposed_users,
        as_of: report.as_ref().map(|r| r.as_of),
        source,
        computed_at,
        srm: report.as_ref().map(|r| SrmSummary {
            p_value: r.srm.p_value,
            warning: r.srm.warning,
        }),
        arms: report
            .as_ref()
            .map(|r| r.arms.iter().map(|arm| arm_standing(r, arm)).collect())
            .unwrap_or_default(),
    })
}

fn arm_standing(report: &Report, arm: &ArmReport) -> ArmStanding {
    let [d1, d7, d30] = HEADLINE_DAYS.map(|k| {
        arm.retention
            .iter()
            .find(|r| r.day == k)
            .map(|r| DayStanding {
                day: r.day,
                eligible: r.eligible,
                rate: r.rate,
                vs_control: r.vs_control.clone(),
            })
    });
    let guardrails = &arm.guardrails;
    ArmStanding {
        arm: arm.arm.clone(),
        models: arm.models.clone(),
        is_control: arm.arm == report.control,
        is_blend: arm.models.len() > 1,
        users: arm.users,
        d1,
        d7,
        d30,
        d1_time_spent_s: arm
            .engagement
            .iter()
            .find(|e| e.day == 1)
            .and_then(|e| e.mean_time_spent_s),
        retention_power_law: arm.power_law.retention,
        latency_p50_ms: guardrails.latency_p50_ms,
        latency_p95_ms: guardrails.latency_p95_ms,
        error_rate: guardrails.error_rate,
        tokens_per_user: guardrails.tokens_per_user,
        compute_s_per_returned_user: guardrails.compute_s_per_returned_user,
        decision: arm.decision.clone(),
    }
}
