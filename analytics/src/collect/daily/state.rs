//! Where day parts are kept: anything that implements [`PartStore`]. A [`StateDir`] keeps them
//! as `DIR/v1/<experiment>/<window and columns>/day=YYYY-MM-DD/*.parquet`; [`PartsInMemory`]
//! holds them as Parquet bytes for a caller that keeps them elsewhere (the server's database).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use polars::prelude::*;

use super::part::{DayPart, PART_FRAMES};
use crate::report::date_of_day;

/// A state directory (`--state DIR`). It is only ever written below `v1/`.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn day_folder(&self, key: &PartKey, day: i64) -> PathBuf {
        self.root
            .join("v1")
            .join(&key.experiment)
            .join(key.series())
            .join(format!("day={}", date_of_day(day)))
    }
}

/// Kept day parts, by key and day.
pub trait PartStore {
    /// The kept part of `day`, if there is one.
    fn read(&self, key: &PartKey, day: i64) -> PolarsResult<Option<DayPart>>;
    /// Keeps `part` as `day`'s. A part already kept for that day is the same and may stay.
    fn write(&self, key: &PartKey, day: i64, part: &mut DayPart) -> PolarsResult<()>;
}

/// A day is written to a temporary folder and renamed into place, so a crash leaves either the
/// whole part or none of it.
impl PartStore for StateDir {
    fn read(&self, key: &PartKey, day: i64) -> PolarsResult<Option<DayPart>> {
        let folder = self.day_folder(key, day);
        if !folder.is_dir() {
            return Ok(None);
        }
        let mut frames = Vec::with_capacity(DayPart::NAMES.len());
        for name in DayPart::NAMES {
            let file = fs::File::open(folder.join(format!("{name}.parquet")))?;
            frames.push(ParquetReader::new(file).finish()?);
        }
        let frames: [DataFrame; PART_FRAMES] = frames.try_into().expect("one frame per name");
        Ok(Some(DayPart::from_frames(frames)))
    }

    fn write(&self, key: &PartKey, day: i64, part: &mut DayPart) -> PolarsResult<()> {
        let folder = self.day_folder(key, day);
        let parent = folder.parent().expect("a day folder has a parent");
        fs::create_dir_all(parent)?;
        let temporary = parent.join(format!(
            ".{}.tmp-{}",
            folder.file_name().unwrap_or_default().to_string_lossy(),
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&temporary);
        fs::create_dir_all(&temporary)?;
        for (name, frame) in DayPart::NAMES.iter().zip(part.frames_mut()) {
            let file = fs::File::create(temporary.join(format!("{name}.parquet")))?;
            ParquetWriter::new(file).finish(frame)?;
        }
        if fs::rename(&temporary, &folder).is_err() {
            // Another run kept the same day first; its part is the same.
            let _ = fs::remove_dir_all(&temporary);
        }
        Ok(())
    }
}

impl StateDir {
    /// Forgets every kept part (after a user's data is erased, say).
    pub fn clear(&self) -> std::io::Result<()> {
        match fs::remove_dir_all(self.root.join("v1")) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Day parts as Parquet bytes (one blob per day: the frames in [`DayPart::NAMES`] order, each
/// prefixed by its length), loaded from somewhere before a run and saved after it.
#[derive(Default)]
pub struct PartsInMemory {
    kept: Mutex<BTreeMap<i64, Vec<u8>>>,
    added: Mutex<Vec<(i64, Vec<u8>)>>,
}

impl PartsInMemory {
    /// Parts kept earlier, by day number, as [`Self::added`] gave them.
    pub fn new(kept: BTreeMap<i64, Vec<u8>>) -> Self {
        Self {
            kept: Mutex::new(kept),
            added: Mutex::default(),
        }
    }

    /// The parts a run computed and kept, to be saved.
    pub fn added(self) -> Vec<(i64, Vec<u8>)> {
        self.added.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

impl PartStore for PartsInMemory {
    fn read(&self, _key: &PartKey, day: i64) -> PolarsResult<Option<DayPart>> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.get(&day).map(|bytes| decode(bytes)).transpose()
    }

    fn write(&self, _key: &PartKey, day: i64, part: &mut DayPart) -> PolarsResult<()> {
        let bytes = encode(part)?;
        self.kept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(day, bytes.clone());
        self.added
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((day, bytes));
        Ok(())
    }
}

fn encode(part: &mut DayPart) -> PolarsResult<Vec<u8>> {
    let mut blob = Vec::new();
    for frame in part.frames_mut() {
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes).finish(frame)?;
        blob.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        blob.extend_from_slice(&bytes);
    }
    Ok(blob)
}

fn decode(mut blob: &[u8]) -> PolarsResult<DayPart> {
    let mut frames = Vec::with_capacity(DayPart::NAMES.len());
    for _ in DayPart::NAMES {
        let truncated = || polars_err!(ComputeError: "a kept day part is truncated");
        let (length, rest) = blob.split_first_chunk::<8>().ok_or_else(truncated)?;
        let length = u64::from_le_bytes(*length) as usize;
        let bytes = rest.get(..length).ok_or_else(truncated)?;
        frames.push(ParquetReader::new(std::io::Cursor::new(bytes)).finish()?);
        blob = &rest[length..];
    }
    let frames: [DataFrame; PART_FRAMES] = frames.try_into().expect("one frame per name");
    Ok(DayPart::from_frames(frames))
}

/// The layout of a kept part; parts of another layout are not read back but recomputed.
const PART_FORMAT: u32 = 5;

/// What a part depends on besides its day.
pub struct PartKey {
    pub experiment: String,
    pub window_days: u32,
    /// The log's optional message columns, then `events.<column>` for the optional columns of
    /// its events, if it has events (a part's turn cells carry the outcomes events give).
    pub columns: Vec<String>,
}

impl PartKey {
    pub fn of(frames: &crate::LogFrames, request: &crate::ReportRequest) -> Self {
        let mut columns = frames.message_extras.clone();
        if frames.events.is_some() {
            columns.extend(frames.event_extras.iter().map(|c| format!("events.{c}")));
        }
        Self {
            experiment: request.experiment.clone(),
            window_days: request.window_days,
            columns,
        }
    }

    /// Names the parts of one experiment that fit together: they depend on the window (which
    /// messages count) and on the optional columns the log has.
    pub fn series(&self) -> String {
        // FNV-1a: stable across Rust versions, unlike the standard library's hasher.
        let fingerprint = self
            .columns
            .join(",")
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
            });
        format!(
            "v{PART_FORMAT}-window-{}-columns-{fingerprint:016x}",
            self.window_days
        )
    }
}
