use serde_json::Value;

use super::*;

const VECTORS: &str = include_str!("../../vectors/thompson.json");

fn counts(value: &Value) -> Vec<RewardCounts> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| RewardCounts {
            successes: pair[0].as_u64().unwrap(),
            failures: pair[1].as_u64().unwrap(),
        })
        .collect()
}

fn floats(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

/// Relative 1e-9 where a probability matters; below 1e-6 (always under any floor) 1e-12 absolute.
fn assert_close(got: &[f64], want: &[f64], context: &str) {
    assert_eq!(got.len(), want.len(), "{context}");
    for (g, w) in got.iter().zip(want) {
        let tolerance = if *w > 1e-6 { 1e-9 * w } else { 1e-12 };
        assert!(
            (g - w).abs() <= tolerance,
            "{context}: got {got:?}, want {want:?}"
        );
    }
}

#[test]
fn probabilities_match_scipy_quadrature() {
    let vectors: Value = serde_json::from_str(VECTORS).unwrap();
    let cases = vectors["cases"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for case in cases {
        let counts = counts(&case["counts"]);
        let context = format!("{:?}", case["counts"]);
        assert_close(
            &probability_best(&counts),
            &floats(&case["probability_best"]),
            &context,
        );
        let floor = case["min_probability"].as_f64().unwrap();
        assert_close(
            &thompson_probabilities(&counts, floor),
            &floats(&case["floored"]),
            &context,
        );
    }
}

#[test]
fn equal_evidence_gives_equal_probabilities() {
    for n in 2..=6 {
        let same = vec![
            RewardCounts {
                successes: 40,
                failures: 60
            };
            n
        ];
        let probabilities = probability_best(&same);
        for p in &probabilities {
            assert!((p - 1.0 / n as f64).abs() < 1e-12, "{probabilities:?}");
        }
    }
}

#[test]
fn more_successes_never_lower_a_components_probability() {
    let mut previous = 0.0;
    for successes in [0, 5, 10, 20, 40, 80] {
        let counts = [
            RewardCounts {
                successes,
                failures: 50,
            },
            RewardCounts {
                successes: 20,
                failures: 50,
            },
            RewardCounts {
                successes: 25,
                failures: 45,
            },
        ];
        let p = probability_best(&counts)[0];
        assert!(p > previous, "{successes} successes: {p} after {previous}");
        previous = p;
    }
}

#[test]
fn the_same_counts_give_the_same_bits() {
    let counts = [
        RewardCounts {
            successes: 123,
            failures: 456,
        },
        RewardCounts {
            successes: 130,
            failures: 440,
        },
        RewardCounts {
            successes: 99,
            failures: 500,
        },
    ];
    let first = thompson_probabilities(&counts, 0.05);
    for _ in 0..3 {
        let again = thompson_probabilities(&counts, 0.05);
        let bits = |v: &[f64]| v.iter().map(|p| p.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&again), bits(&first));
    }
}

#[test]
fn the_floor_holds_and_the_sum_stays_one() {
    for (raw, floor) in [
        (vec![0.98, 0.01, 0.01], 0.05),
        (vec![0.5, 0.3, 0.2], 0.05),
        (vec![1.0, 0.0, 0.0, 0.0], 0.25),
        (vec![0.9, 0.06, 0.04], 0.05),
        (vec![0.7, 0.3], 0.0),
    ] {
        let floored = with_floor(&raw, floor);
        let sum: f64 = floored.iter().sum();
        assert!((sum - 1.0).abs() < 1e-12, "{raw:?}: {floored:?}");
        assert!(
            floored.iter().all(|p| *p >= floor - 1e-15),
            "{raw:?}: {floored:?}"
        );
        let pairs: Vec<(f64, f64)> = raw.iter().copied().zip(floored.iter().copied()).collect();
        for (raw_i, floored_i) in &pairs {
            for (raw_j, floored_j) in &pairs {
                if raw_i > raw_j {
                    assert!(floored_i >= floored_j, "{raw:?}: order lost in {floored:?}");
                }
            }
        }
    }
    // 0.9, 0.06, 0.04 under 0.05: 0.04 is floored, the others share 0.95 as 0.9 : 0.06.
    let floored = with_floor(&[0.9, 0.06, 0.04], 0.05);
    assert!(
        (floored[1] - 0.95 * 0.06 / 0.96).abs() < 1e-15,
        "{floored:?}"
    );
}

#[test]
fn a_million_replies_per_component_still_rank_and_sum_to_one() {
    let counts: Vec<RewardCounts> = (0..8)
        .map(|i| RewardCounts {
            successes: 400_000 + 1_000 * i,
            failures: 600_000,
        })
        .collect();
    let probabilities = probability_best(&counts);
    let sum: f64 = probabilities.iter().sum();
    assert!((sum - 1.0).abs() < 1e-12, "{probabilities:?}");
    assert!(
        probabilities.windows(2).all(|w| w[0] < w[1]),
        "more successes, more often best: {probabilities:?}"
    );
}
