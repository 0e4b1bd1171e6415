//! User attributes: what a chat product knows of a user (platform, locale, channel, plan) at their
//! first exposure. They are stored with that exposure, never changed by later requests, and
//! become the `attr_<name>` columns of the `assignments` table: segments and covariates.

use std::collections::BTreeMap;

use crate::NameError;

/// At most this many attributes per user: segments multiply comparisons, so a wide map is a
/// mistake, not a feature.
const MAX_ATTRIBUTES: usize = 20;
/// Longest attribute name: it becomes a column name, `attr_<name>`.
const MAX_ATTRIBUTE_NAME: usize = 40;
/// Longest attribute value, in characters.
const MAX_ATTRIBUTE_VALUE: usize = 128;

/// A validated flat map of attribute names to string values, in name order. Serializes as that
/// JSON object (the store's form); reading one back goes through [`UserAttributes::parse`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct UserAttributes(BTreeMap<String, String>);

impl UserAttributes {
    /// Names are `[a-z][a-z0-9_]*` (at most 40), so `attr_<name>` is a column name in every SQL
    /// dialect without quoting; values are 1..=128 characters with no control characters.
    pub fn parse(raw: BTreeMap<String, String>) -> Result<Self, NameError> {
        if raw.len() > MAX_ATTRIBUTES {
            return Err(NameError::new(format!(
                "attributes has {} keys; the limit is {MAX_ATTRIBUTES}",
                raw.len()
            )));
        }
        for (name, value) in &raw {
            validate_name(name)?;
            validate_value(name, value)?;
        }
        Ok(Self(raw))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

fn validate_name(name: &str) -> Result<(), NameError> {
    let mut bytes = name.bytes();
    let starts_with_letter = bytes.next().is_some_and(|b| b.is_ascii_lowercase());
    let rest_valid = bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !starts_with_letter || !rest_valid || name.len() > MAX_ATTRIBUTE_NAME {
        return Err(NameError::new(format!(
            "attribute name {name:?} must match [a-z][a-z0-9_]{{0,{}}}",
            MAX_ATTRIBUTE_NAME - 1
        )));
    }
    Ok(())
}

fn validate_value(name: &str, value: &str) -> Result<(), NameError> {
    let chars = value.chars().count();
    if chars == 0 || chars > MAX_ATTRIBUTE_VALUE {
        return Err(NameError::new(format!(
            "attribute {name:?} has {chars} characters; it needs 1 to {MAX_ATTRIBUTE_VALUE}"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(NameError::new(format!(
            "attribute {name:?} contains a control character"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_flat_map_of_short_names_and_values_is_accepted() {
        let parsed =
            UserAttributes::parse(map(&[("platform", "ios"), ("locale_2", "pt-BR")])).unwrap();
        assert_eq!(parsed.get("platform"), Some("ios"));
        assert_eq!(
            parsed.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            ["locale_2", "platform"]
        );
        assert!(UserAttributes::parse(BTreeMap::new()).unwrap().is_empty());
    }

    #[test]
    fn each_broken_rule_is_named() {
        let too_many: BTreeMap<String, String> = (0..21)
            .map(|i| (format!("a{i}"), "x".to_string()))
            .collect();
        let cases = [
            (too_many, "21 keys; the limit is 20"),
            (map(&[("Platform", "ios")]), "attribute name \"Platform\""),
            (map(&[("1st", "ios")]), "attribute name \"1st\""),
            (map(&[("plat-form", "ios")]), "attribute name \"plat-form\""),
            (map(&[(&"a".repeat(41), "x")]), "must match"),
            (map(&[("platform", "")]), "\"platform\" has 0 characters"),
            (map(&[("platform", &"x".repeat(129))]), "has 129 characters"),
            (map(&[("platform", "i\nos")]), "control character"),
        ];
        for (raw, message) in cases {
            let error = UserAttributes::parse(raw).unwrap_err().to_string();
            assert!(error.contains(message), "{error:?} names {message:?}");
        }
        assert!(UserAttributes::parse(map(&[(&"a".repeat(40), &"x".repeat(128))])).is_ok());
    }
}
