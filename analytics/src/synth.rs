//! Synthetic logs in the DESIGN schema with a known structure: for tests, the DuckDB
//! cross-check and `blendlab bench analytics`. Deterministic for a seed.
//!
//! Each user is exposed on a uniform day of `exposure_days`, is active on day 0 and on day k >= 1
//! with probability `min(1, 0.45 k^-0.55 (1 + lift))` (DESIGN's simulator default), and on an
//! active day has one or more sittings of user messages each answered by one of the arm's models,
//! picked uniformly per turn.

use std::fs::File;
use std::path::Path;

use chrono::NaiveDate;
use polars::prelude::*;

use crate::pipeline::DAY_MICROS;
use crate::report::day_number;
use crate::schema::datetime_column;
use crate::AnalyticsError;

#[derive(Debug, Clone)]
pub struct SynthArm {
    pub name: String,
    pub weight: f64,
    pub models: Vec<String>,
    /// Relative change of the daily return probability: 0.10 means x 1.10.
    pub lift: f64,
}

#[derive(Debug, Clone)]
pub struct SynthSpec {
    pub experiment: String,
    pub arms: Vec<SynthArm>,
    pub users: u64,
    pub start: NaiveDate,
    pub exposure_days: u32,
    pub horizon_days: u32,
    pub seed: u64,
    /// Mean user messages per sitting (geometric).
    pub messages_per_sitting: f64,
}

impl SynthSpec {
    /// Two arms, control with one model and a blend of three, as in the paper.
    pub fn chai(users: u64, seed: u64) -> Self {
        let arm = |name: &str, models: &[&str], lift| SynthArm {
            name: name.into(),
            weight: 0.5,
            models: models.iter().map(|m| m.to_string()).collect(),
            lift,
        };
        SynthSpec {
            experiment: "chai-blend".into(),
            arms: vec![
                arm("control", &["large"], 0.0),
                arm("blend", &["small-a", "small-b", "small-c"], 0.10),
            ],
            users,
            start: NaiveDate::from_ymd_opt(2026, 10, 1).expect("a valid date"),
            exposure_days: 30,
            horizon_days: 30,
            seed,
            messages_per_sitting: 4.0,
        }
    }
}

/// xorshift64*: tiny, fast and good enough for synthetic traffic (not for cryptography).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() >> 32) * n) >> 32
    }

    /// Geometric number of trials >= 1 with the given mean.
    pub fn geometric(&mut self, mean: f64) -> u32 {
        let p = 1.0 / mean.max(1.0);
        let mut n = 1;
        while self.uniform() > p && n < 1000 {
            n += 1;
        }
        n
    }
}

/// Column buffers of one batch of messages.
#[derive(Default)]
struct MessageBuffers {
    user_id: Vec<String>,
    conversation_id: Vec<String>,
    role: Vec<&'static str>,
    model: Vec<Option<String>>,
    created_at: Vec<i64>,
    message_id: Vec<String>,
    latency_ms: Vec<Option<f64>>,
    prompt_tokens: Vec<Option<i64>>,
    completion_tokens: Vec<Option<i64>>,
    content_chars: Vec<i64>,
}

impl MessageBuffers {
    fn len(&self) -> usize {
        self.role.len()
    }

    fn into_frame(self) -> PolarsResult<DataFrame> {
        let timestamps = datetime_column("created_at", self.created_at);
        DataFrame::new_infer_height(vec![
            Column::new("user_id".into(), self.user_id),
            Column::new("conversation_id".into(), self.conversation_id),
            Column::new("role".into(), self.role),
            Column::new("model".into(), self.model),
            timestamps,
            Column::new("message_id".into(), self.message_id),
            Column::new("latency_ms".into(), self.latency_ms),
            Column::new("prompt_tokens".into(), self.prompt_tokens),
            Column::new("completion_tokens".into(), self.completion_tokens),
            Column::new("content_chars".into(), self.content_chars),
        ])
    }
}

/// What `write_parquet` wrote.
#[derive(Debug, Clone, Copy, Default)]
pub struct SynthSummary {
    pub users: u64,
    pub messages: u64,
}

/// Writes `assignments.parquet` and `messages.parquet` under `dir`, messages in batches so that
/// memory stays bounded whatever the size.
pub fn write_parquet(spec: &SynthSpec, dir: &Path) -> Result<SynthSummary, AnalyticsError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| AnalyticsError::InvalidArgument(format!("{}: {e}", dir.display())))?;
    let create = |name: &str| {
        File::create(dir.join(name))
            .map_err(|e| AnalyticsError::InvalidArgument(format!("{}: {e}", dir.display())))
    };
    let mut rng = Rng::new(spec.seed);
    let mut assignments = (Vec::new(), Vec::new(), Vec::new());
    let mut writer: Option<polars::io::parquet::write::BatchedWriter<File>> = None;
    let messages_file = create("messages.parquet")?;
    let mut pending = Some(messages_file);
    let mut buffers = MessageBuffers::default();
    let mut summary = SynthSummary::default();
    let total_weight: f64 = spec.arms.iter().map(|a| a.weight).sum();
    let start_micros = day_number(spec.start) * DAY_MICROS;
    for user in 0..spec.users {
        let user_id = format!("u{user:08}");
        let mut pick = rng.uniform() * total_weight;
        let arm = spec.arms.iter().find(|a| {
            pick -= a.weight;
            pick < 0.0
        });
        let arm = arm.unwrap_or_else(|| spec.arms.last().expect("at least one arm"));
        let d0 = rng.below(spec.exposure_days.max(1) as u64) as i64;
        let exposed_at = start_micros + d0 * DAY_MICROS + rng.below(20 * 3600) as i64 * 1_000_000;
        assignments.0.push(user_id.clone());
        assignments.1.push(arm.name.clone());
        assignments.2.push(exposed_at);
        summary.users += 1;
        for k in 0..=spec.horizon_days as i64 {
            let returns = k == 0
                || rng.uniform() < (0.45 * (k as f64).powf(-0.55) * (1.0 + arm.lift)).min(1.0);
            if !returns {
                continue;
            }
            let day_start = start_micros + (d0 + k) * DAY_MICROS;
            let mut clock = if k == 0 {
                exposed_at
            } else {
                day_start + rng.below(20 * 3600) as i64 * 1_000_000
            };
            let sittings = 1 + (rng.uniform() < 0.35) as u32;
            for sitting in 0..sittings {
                let conversation_id = format!("{user_id}-{k}-{sitting}");
                for turn in 0..rng.geometric(spec.messages_per_sitting) {
                    let id = format!("{conversation_id}-{turn}");
                    buffers.user_id.push(user_id.clone());
                    buffers.conversation_id.push(conversation_id.clone());
                    buffers.role.push("user");
                    buffers.model.push(None);
                    buffers.created_at.push(clock);
                    buffers.message_id.push(format!("{id}u"));
                    buffers.latency_ms.push(None);
                    buffers.prompt_tokens.push(None);
                    buffers.completion_tokens.push(None);
                    buffers.content_chars.push(5 + rng.below(200) as i64);
                    // Now and then the user leaves before the reply arrives: replies != user messages.
                    if rng.uniform() < 0.08 {
                        clock += (5 + rng.below(120) as i64) * 1_000_000;
                        continue;
                    }
                    let latency = 200 + rng.below(2500) as i64;
                    clock += latency * 1000;
                    let model = &arm.models[rng.below(arm.models.len() as u64) as usize];
                    buffers.user_id.push(user_id.clone());
                    buffers.conversation_id.push(conversation_id.clone());
                    buffers.role.push("assistant");
                    buffers.model.push(Some(model.clone()));
                    buffers.created_at.push(clock);
                    buffers.message_id.push(format!("{id}a"));
                    buffers.latency_ms.push(Some(latency as f64));
                    buffers.prompt_tokens.push(Some(40 + rng.below(600) as i64));
                    buffers
                        .completion_tokens
                        .push(Some(10 + rng.below(60) as i64));
                    buffers.content_chars.push(20 + rng.below(300) as i64);
                    // Reading and typing; now and then a pause longer than the 1800 s gap rule.
                    clock += if rng.uniform() < 0.05 {
                        1_900 + rng.below(3600) as i64
                    } else {
                        5 + rng.below(240) as i64
                    } * 1_000_000;
                }
                clock += (1_800 + rng.below(4 * 3600)) as i64 * 1_000_000;
            }
            // Stay inside the day: a sitting that would cross midnight stops at 23:59.
            let day_end = day_start + DAY_MICROS - 1;
            for ts in buffers
                .created_at
                .iter_mut()
                .rev()
                .take_while(|ts| **ts > day_end)
            {
                *ts = day_end;
            }
        }
        if buffers.len() >= 1_000_000 {
            summary.messages += buffers.len() as u64;
            write_batch(&mut writer, &mut pending, std::mem::take(&mut buffers))?;
        }
    }
    summary.messages += buffers.len() as u64;
    write_batch(&mut writer, &mut pending, buffers)?;
    if let Some(writer) = writer {
        writer.finish()?;
    }
    let timestamps = datetime_column("assigned_at", assignments.2);
    let mut frame = DataFrame::new_infer_height(vec![
        Column::new("user_id".into(), assignments.0),
        Column::new(
            "experiment".into(),
            vec![spec.experiment.as_str(); summary.users as usize],
        ),
        Column::new("arm".into(), assignments.1),
        timestamps,
    ])?;
    ParquetWriter::new(create("assignments.parquet")?).finish(&mut frame)?;
    Ok(summary)
}

fn write_batch(
    writer: &mut Option<polars::io::parquet::write::BatchedWriter<File>>,
    pending: &mut Option<File>,
    buffers: MessageBuffers,
) -> Result<(), AnalyticsError> {
    let frame = buffers.into_frame()?;
    if writer.is_none() {
        let file = pending.take().expect("the file is taken once");
        *writer = Some(ParquetWriter::new(file).batched(frame.schema())?);
    }
    writer.as_mut().expect("just created").write_batch(&frame)?;
    Ok(())
}
