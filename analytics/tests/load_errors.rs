//! Bad input gets an error naming the file and the column.

mod common;

use std::fs::File;

use blendlab_analytics::{AnalyticsError, DataDir};
use polars::prelude::*;

fn write(dir: &std::path::Path, name: &str, mut frame: DataFrame) {
    ParquetWriter::new(File::create(dir.join(name)).unwrap())
        .finish(&mut frame)
        .unwrap();
}

fn fresh_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("blendlab-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_missing_column_is_named_with_its_file() {
    let dir = fresh_dir("missing-column");
    write(
        &dir,
        "assignments.parquet",
        common::assignments("e", &[("a", "control", "2026-11-01T00:00:00Z")]),
    );
    let messages = common::messages(&[("a", "c", "user", "", "2026-11-01T00:00:00Z")])
        .drop("role")
        .unwrap();
    write(&dir, "messages.parquet", messages);
    let error = DataDir::scan(&dir).err().unwrap();
    assert!(
        matches!(&error, AnalyticsError::MissingColumn { column, .. } if column == "role"),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("messages.parquet: missing column `role`"),
        "{error}"
    );
}

#[test]
fn a_wrong_type_is_named_with_its_file_and_column() {
    let dir = fresh_dir("wrong-type");
    let mut assignments = common::assignments("e", &[("a", "control", "2026-11-01T00:00:00Z")]);
    assignments
        .with_column(Column::new("assigned_at".into(), ["2026-11-01"]))
        .unwrap();
    write(&dir, "assignments.parquet", assignments);
    write(
        &dir,
        "messages.parquet",
        common::messages(&[("a", "c", "user", "", "2026-11-01T00:00:00Z")]),
    );
    let error = DataDir::scan(&dir).err().unwrap().to_string();
    assert!(
        error.contains(
            "assignments.parquet: column `assigned_at` has type str, expected Datetime(us, UTC)"
        ),
        "{error}"
    );
}

#[test]
fn a_missing_file_is_named() {
    let dir = fresh_dir("missing-file");
    write(
        &dir,
        "assignments.parquet",
        common::assignments("e", &[("a", "control", "2026-11-01T00:00:00Z")]),
    );
    let error = DataDir::scan(&dir).err().unwrap().to_string();
    assert!(error.contains("messages.parquet: not found"), "{error}");
}

#[test]
fn a_hive_partitioned_messages_folder_reads_like_one_file() {
    let dir = fresh_dir("hive");
    write(
        &dir,
        "assignments.parquet",
        common::assignments("e", &[("a", "control", "2026-11-01T00:00:00Z")]),
    );
    for (date, ts) in [
        ("2026-11-01", "2026-11-01T10:00:00Z"),
        ("2026-11-02", "2026-11-02T10:00:00Z"),
    ] {
        let part = dir.join("messages").join(format!("date={date}"));
        std::fs::create_dir_all(&part).unwrap();
        write(
            &part,
            "part-0.parquet",
            common::messages(&[("a", "c", "user", "", ts)]),
        );
    }
    let frames = DataDir::scan(&dir).unwrap();
    let request = blendlab_analytics::ReportRequest {
        experiment: "e".into(),
        as_of: common::date("2026-11-03"),
        control: "control".into(),
        window_days: 30,
        arms: None,
        evaluate_policies: Vec::new(),
        decision: blendlab_experiments::DecisionRules::default_for(30),
    };
    let report = blendlab_analytics::compute_report(&frames, &request).unwrap();
    let control = report.arm("control").unwrap();
    assert_eq!(
        (control.retention[0].retained, control.retention[1].retained),
        (1, 1)
    );
}
