//! Serde's words turned into the caller's: which field (as a JSON path), what was expected in
//! JSON terms, and what came instead.
//!
//! serde_json says `invalid type: integer `5`, expected a string at line 1 column 16`, and a
//! derived Rust type names itself (`u32`, `struct ChatRequest`). The caller wrote JSON, so the
//! answer reads `` `user_id`: expected a string, got the number 5 ``, with `param = "user_id"`.

use serde_path_to_error::{Path, Segment};

/// What was wrong with a body that parsed as far as serde could take it.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct BodyProblem {
    /// The field at fault as a JSON path (`messages[0].content`); `None` for the body itself.
    pub param: Option<String>,
    pub message: String,
}

/// Describes a failed deserialization of a JSON body.
pub(super) fn body_problem(error: serde_path_to_error::Error<serde_json::Error>) -> BodyProblem {
    let mut param = json_path(error.path());
    let inner = error.into_inner();
    let raw = inner.to_string();
    let detail = without_position(&raw);
    if !inner.is_data() {
        // Broken JSON: no field is at fault, and the position says where it broke.
        let message = match &param {
            Some(path) => format!("the body is not valid JSON (in `{path}`): {raw}"),
            None => format!("the body is not valid JSON: {raw}"),
        };
        return BodyProblem {
            param: None,
            message,
        };
    }
    let problem = if let Some(field) = quoted_after(detail, "missing field ") {
        param = Some(joined(param.as_deref(), field));
        "is required".to_owned()
    } else if let Some(field) = quoted_after(detail, "unknown field ") {
        param = Some(with_field(param, field));
        let expected = detail.split_once(", expected ").map(|(_, e)| e);
        match expected {
            Some(fields) if !fields.starts_with("nothing") => {
                format!("is not a field here; expected {fields}")
            }
            _ => "is not a field here".to_owned(),
        }
    } else if let Some(field) = quoted_after(detail, "duplicate field ") {
        param = Some(with_field(param, field));
        "appears more than once".to_owned()
    } else if let Some(variant) = quoted_after(detail, "unknown variant ") {
        let expected = detail.split_once(", expected ").map_or("", |(_, e)| e);
        format!("`{variant}` is not allowed; expected {expected}")
    } else if let Some(problem) = mismatch(detail) {
        problem
    } else {
        detail.to_owned()
    };
    let message = match &param {
        Some(path) => format!("`{path}`: {problem}"),
        None => format!("the body: {problem}"),
    };
    BodyProblem { param, message }
}

/// `invalid type|value: UNEXPECTED, expected EXPECTED` as `expected …, got …`.
fn mismatch(detail: &str) -> Option<String> {
    let rest = detail
        .strip_prefix("invalid type: ")
        .or_else(|| detail.strip_prefix("invalid value: "))?;
    let (unexpected, expected) = rest.rsplit_once(", expected ")?;
    Some(format!(
        "expected {}, got {}",
        expected_in_json(expected),
        unexpected_in_json(unexpected)
    ))
}

/// The `expecting` text of serde's and std's visitors, in JSON's vocabulary.
fn expected_in_json(expected: &str) -> String {
    let unsigned = |max: &str| format!("an integer from 0 to {max}");
    match expected {
        "u8" => unsigned("255"),
        "u16" => unsigned("65535"),
        "u32" => unsigned("4294967295"),
        "u64" | "usize" => unsigned("18446744073709551615"),
        "i8" | "i16" | "i32" | "i64" | "isize" => "an integer".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a sequence" => "an array".to_owned(),
        "a map" => "an object".to_owned(),
        "a boolean" | "bool" => "true or false".to_owned(),
        "option" => "a value or null".to_owned(),
        other if other.starts_with("struct ") => "an object".to_owned(),
        other if other.starts_with("enum ") || other == "variant identifier" => {
            "one of the allowed strings".to_owned()
        }
        other => other.to_owned(),
    }
}

/// serde's `Unexpected` as the JSON the caller sent.
fn unexpected_in_json(unexpected: &str) -> String {
    let backticked = |prefix: &str| {
        unexpected
            .strip_prefix(prefix)
            .map(|v| v.trim_matches('`').to_owned())
    };
    if let Some(number) = backticked("integer ").or_else(|| backticked("floating point ")) {
        return format!("the number {number}");
    }
    if let Some(boolean) = backticked("boolean ") {
        return boolean;
    }
    if let Some(text) = unexpected.strip_prefix("string ") {
        return format!("the string {text}");
    }
    match unexpected {
        "unit value" | "null" => "null".to_owned(),
        "map" => "an object".to_owned(),
        "sequence" => "an array".to_owned(),
        other => other.to_owned(),
    }
}

/// `a.b[2].c` from serde_path_to_error's segments; `None` at the top of the body.
fn json_path(path: &Path) -> Option<String> {
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            // Variant names and opaque steps are Rust's, not the caller's.
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    (!out.is_empty()).then_some(out)
}

fn joined(parent: Option<&str>, field: &str) -> String {
    match parent {
        Some(parent) => format!("{parent}.{field}"),
        None => field.to_owned(),
    }
}

/// The field's path, where the error's path may already end with it (an unknown key is tracked
/// as it is read; a duplicate is found by the object that holds it).
fn with_field(path: Option<String>, field: &str) -> String {
    match path {
        Some(path) if path == field || path.ends_with(&format!(".{field}")) => path,
        path => joined(path.as_deref(), field),
    }
}

/// The backquoted word after `prefix`: `missing field `role`` gives `role`.
fn quoted_after<'a>(detail: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = detail.strip_prefix(prefix)?.strip_prefix('`')?;
    rest.split_once('`').map(|(word, _)| word)
}

/// serde_json appends ` at line L column C`; a field path says more for data errors.
fn without_position(message: &str) -> &str {
    match message.rsplit_once(" at line ") {
        Some((head, tail))
            if tail
                .split_once(" column ")
                .is_some_and(|(l, c)| is_number(l) && is_number(c)) =>
        {
            head
        }
        _ => message,
    }
}

fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Request {
        name: String,
        #[serde(default)]
        limit: Option<u32>,
        #[serde(default)]
        items: Vec<Item>,
        #[serde(default)]
        colour: Option<Colour>,
        #[serde(default)]
        tags: HashMap<String, String>,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        kind: String,
        #[serde(default)]
        weight: Option<f64>,
    }

    #[derive(Deserialize, Debug)]
    #[serde(rename_all = "snake_case")]
    enum Colour {
        Red,
        Blue,
    }

    fn problem(body: &str) -> BodyProblem {
        let mut json = serde_json::Deserializer::from_str(body);
        body_problem(serde_path_to_error::deserialize::<_, Request>(&mut json).unwrap_err())
    }

    fn case(body: &str, param: Option<&str>, message: &str) {
        let got = problem(body);
        assert_eq!(got.param.as_deref(), param, "{body}: {got:?}");
        assert_eq!(got.message, message, "{body}");
    }

    #[test]
    fn type_errors_name_the_field_and_the_json_types() {
        case(
            r#"{"name": 5}"#,
            Some("name"),
            "`name`: expected a string, got the number 5",
        );
        case(
            r#"{"name": "a", "limit": -3}"#,
            Some("limit"),
            "`limit`: expected an integer from 0 to 4294967295, got the number -3",
        );
        case(
            r#"{"name": "a", "limit": 1.5}"#,
            Some("limit"),
            "`limit`: expected an integer from 0 to 4294967295, got the number 1.5",
        );
        case(
            r#"{"name": "a", "items": {}}"#,
            Some("items"),
            "`items`: expected an array, got an object",
        );
        case(
            r#"{"name": "a", "tags": {"x": true}}"#,
            Some("tags.x"),
            "`tags.x`: expected a string, got true",
        );
        case(
            r#"{"name": null}"#,
            Some("name"),
            "`name`: expected a string, got null",
        );
    }

    #[test]
    fn nested_fields_get_a_json_path() {
        case(
            r#"{"name": "a", "items": [{"kind": "x"}, {"kind": "y", "weight": "heavy"}]}"#,
            Some("items[1].weight"),
            "`items[1].weight`: expected a number, got the string \"heavy\"",
        );
        case(
            r#"{"name": "a", "items": [{"kind": 1}]}"#,
            Some("items[0].kind"),
            "`items[0].kind`: expected a string, got the number 1",
        );
    }

    #[test]
    fn missing_unknown_and_duplicate_fields_are_named() {
        case(r#"{}"#, Some("name"), "`name`: is required");
        case(
            r#"{"name": "a", "items": [{}]}"#,
            Some("items[0].kind"),
            "`items[0].kind`: is required",
        );
        let unknown = problem(r#"{"name": "a", "surprise": 1}"#);
        assert_eq!(unknown.param.as_deref(), Some("surprise"));
        assert!(
            unknown
                .message
                .starts_with("`surprise`: is not a field here; expected one of `name`"),
            "{unknown:?}"
        );
        case(
            r#"{"name": "a", "name": "b"}"#,
            Some("name"),
            "`name`: appears more than once",
        );
    }

    #[test]
    fn enums_list_the_allowed_values() {
        case(
            r#"{"name": "a", "colour": "green"}"#,
            Some("colour"),
            "`colour`: `green` is not allowed; expected `red` or `blue`",
        );
    }

    #[test]
    fn the_body_itself_and_broken_json() {
        case(
            r#""just text""#,
            None,
            "the body: expected an object, got the string \"just text\"",
        );
        let broken = problem(r#"{"name": "a", "#);
        assert_eq!(broken.param, None);
        assert!(
            broken
                .message
                .starts_with("the body is not valid JSON: EOF"),
            "{broken:?}"
        );
        assert!(broken.message.contains("line 1 column"), "{broken:?}");
        let inside = problem(r#"{"name": tru"#);
        assert_eq!(inside.param, None, "broken JSON blames no field");
        assert!(inside.message.contains("(in `name`)"), "{inside:?}");
    }

    #[test]
    fn positions_are_cut_only_when_they_are_positions() {
        assert_eq!(without_position("bad at line 1 column 16"), "bad");
        assert_eq!(without_position("bad at line one"), "bad at line one");
        assert_eq!(without_position("plain"), "plain");
    }
}
