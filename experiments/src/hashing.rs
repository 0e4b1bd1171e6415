//! GrowthBook-compatible bucketing (hash version 2), so that a user lands in the same arm here as in
//! any GrowthBook SDK given the same salt, and on every replica without shared state.

/// FNV-1a, 32-bit, over the string's UTF-16 code units (what JavaScript's `charCodeAt` yields),
/// which equal its bytes for ASCII.
pub fn fnv1a32(text: &str) -> u32 {
    const OFFSET_BASIS: u32 = 0x811c_9dc5;
    const PRIME: u32 = 0x0100_0193;
    text.encode_utf16().fold(OFFSET_BASIS, |hash, unit| {
        (hash ^ u32::from(unit)).wrapping_mul(PRIME)
    })
}

/// GrowthBook's hash v2: `fnv1a32(decimal(fnv1a32(seed + value))) % 10000 / 10000`, in `[0, 1)`.
/// The double hash removes the bias v1 showed for sequential ids.
pub fn growthbook_hash_v2(seed: &str, value: &str) -> f64 {
    let inner = fnv1a32(&format!("{seed}{value}"));
    f64::from(fnv1a32(&inner.to_string()) % 10_000) / 10_000.0
}

/// Bucket `i` owns `[cum_i, cum_i + coverage * w_i)`, as in GrowthBook's `getBucketRanges`.
/// The weights are assumed validated (they sum to 1).
pub fn bucket_ranges(weights: &[f64], coverage: f64) -> Vec<(f64, f64)> {
    let coverage = coverage.clamp(0.0, 1.0);
    let mut cumulative = 0.0;
    weights
        .iter()
        .map(|weight| {
            let start = cumulative;
            cumulative += weight;
            (start, start + coverage * weight)
        })
        .collect()
}

/// The bucket whose range holds `n`, or `None` when `n` falls outside coverage.
pub fn choose_bucket(n: f64, ranges: &[(f64, f64)]) -> Option<usize> {
    ranges
        .iter()
        .position(|&(start, end)| n >= start && n < end)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Produced by `experiments/vectors/growthbook_vectors.py` with the official `growthbook` SDK.
    const VECTORS: &str = include_str!("../vectors/growthbook.json");

    fn vectors() -> serde_json::Value {
        serde_json::from_str(VECTORS).unwrap()
    }

    #[test]
    fn fnv1a32_matches_the_reference_values() {
        // Published FNV-1a 32-bit test values.
        assert_eq!(fnv1a32(""), 0x811c_9dc5);
        assert_eq!(fnv1a32("a"), 0xe40c_292c);
        assert_eq!(fnv1a32("foobar"), 0xbf9c_f968);
    }

    #[test]
    fn hash_v2_matches_the_growthbook_sdk() {
        let cases = vectors()["hash_v2"].as_array().unwrap().clone();
        assert!(cases.len() >= 1000);
        for case in cases {
            let (seed, value) = (
                case["seed"].as_str().unwrap(),
                case["value"].as_str().unwrap(),
            );
            let expected = case["n"].as_f64().unwrap();
            assert_eq!(
                growthbook_hash_v2(seed, value),
                expected,
                "seed={seed:?} value={value:?}"
            );
        }
    }

    #[test]
    fn bucket_ranges_and_choice_match_the_growthbook_sdk() {
        let cases = vectors()["assignment"].as_array().unwrap().clone();
        assert!(cases.len() >= 500);
        for case in cases {
            let weights: Vec<f64> = serde_json::from_value(case["weights"].clone()).unwrap();
            let coverage = case["coverage"].as_f64().unwrap();
            let expected_ranges: Vec<(f64, f64)> =
                serde_json::from_value(case["ranges"].clone()).unwrap();
            let ranges = bucket_ranges(&weights, coverage);
            assert_eq!(ranges.len(), expected_ranges.len(), "{case}");
            for (got, want) in ranges.iter().zip(&expected_ranges) {
                assert!(
                    (got.0 - want.0).abs() < 1e-12 && (got.1 - want.1).abs() < 1e-12,
                    "{case}"
                );
            }
            let n = growthbook_hash_v2(
                case["seed"].as_str().unwrap(),
                case["user"].as_str().unwrap(),
            );
            let expected = case["variation"].as_i64().unwrap();
            let got = choose_bucket(n, &ranges).map_or(-1, |i| i as i64);
            assert_eq!(got, expected, "{case}");
        }
    }
}
