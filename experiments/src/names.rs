//! Names that travel in URLs, hashes and database keys, validated once at the edge.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NameError(String);

impl NameError {
    pub(crate) fn new(message: String) -> Self {
        Self(message)
    }
}

/// An experiment key: `[a-z0-9-]{1,64}`. It appears in URLs and doubles as an OpenAI `model`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExperimentKey(String);

impl ExperimentKey {
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let valid_chars = raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if raw.is_empty() || raw.len() > 64 || !valid_chars {
            return Err(NameError(format!(
                "experiment key {raw:?} must match [a-z0-9-]{{1,64}}"
            )));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ExperimentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An arm name: 1..=64 characters of `[A-Za-z0-9_-]`, so it is safe in headers, files and charts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArmName(String);

impl ArmName {
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let valid_chars = raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if raw.is_empty() || raw.len() > 64 || !valid_chars {
            return Err(NameError(format!(
                "arm name {raw:?} must be 1 to 64 characters of [A-Za-z0-9_-]"
            )));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ArmName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn experiment_keys_follow_the_design_pattern() {
        assert!(ExperimentKey::parse("chai-blend").is_ok());
        assert!(ExperimentKey::parse(&"a".repeat(64)).is_ok());
        for bad in ["", "Chai", "chai_blend", "chai blend", "é", &"a".repeat(65)] {
            assert!(ExperimentKey::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn arm_names_reject_characters_unsafe_in_headers() {
        assert!(ArmName::parse("blend_v2").is_ok());
        for bad in ["", "a b", "a\nb", "a/b", &"x".repeat(65)] {
            assert!(ArmName::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
