//! Comparing two reports' JSON, for the tests that check one way of computing a report against
//! another (store against Parquet, PostgreSQL against SQLite, user groups against one pass).

use serde_json::Value;

/// Two reports of the same log agree: counts and strings exactly, floats to 1e-9 relative. Floats
/// may differ in the last bits because a database returns rows in no fixed order and sums are
/// taken in that order.
pub fn assert_reports_match(left: &Value, right: &Value) {
    fn walk(path: &str, left: &Value, right: &Value) {
        match (left, right) {
            (Value::Object(l), Value::Object(r)) => {
                assert_eq!(
                    l.keys().collect::<Vec<_>>(),
                    r.keys().collect::<Vec<_>>(),
                    "{path}"
                );
                for (key, value) in l {
                    walk(&format!("{path}.{key}"), value, &r[key]);
                }
            }
            (Value::Array(l), Value::Array(r)) => {
                assert_eq!(l.len(), r.len(), "{path}: lengths");
                for (i, (a, b)) in l.iter().zip(r).enumerate() {
                    walk(&format!("{path}[{i}]"), a, b);
                }
            }
            (Value::Number(l), Value::Number(r)) if l.is_f64() || r.is_f64() => {
                let (a, b) = (l.as_f64().unwrap(), r.as_f64().unwrap());
                let scale = a.abs().max(b.abs()).max(1e-300);
                assert!((a - b).abs() / scale <= 1e-9, "{path}: {a} vs {b}");
            }
            _ => assert_eq!(left, right, "{path}"),
        }
    }
    walk("report", left, right);
}
