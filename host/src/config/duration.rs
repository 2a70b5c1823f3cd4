//! Durations in the configuration: `"500ms"`, `"30s"`, `"10m"`, `"1h"`, `"2d"`, or a bare
//! number of seconds.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigDuration(pub Duration);

impl ConfigDuration {
    pub const fn secs(secs: u64) -> Self {
        ConfigDuration(Duration::from_secs(secs))
    }

    pub const fn millis(millis: u64) -> Self {
        ConfigDuration(Duration::from_millis(millis))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not a duration: write e.g. 500ms, 30s, 10m, 1h or 2d")]
pub struct BadDuration(String);

impl FromStr for ConfigDuration {
    type Err = BadDuration;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let bad = || BadDuration(text.to_owned());
        let split = trimmed
            .find(|ch: char| !ch.is_ascii_digit())
            .unwrap_or(trimmed.len());
        let (digits, unit) = trimmed.split_at(split);
        let value: u64 = digits.parse().map_err(|_| bad())?;
        let millis = match unit.trim() {
            "ms" => Some(value),
            "" | "s" => value.checked_mul(1_000),
            "m" => value.checked_mul(60_000),
            "h" => value.checked_mul(3_600_000),
            "d" => value.checked_mul(86_400_000),
            _ => None,
        }
        .ok_or_else(bad)?;
        Ok(ConfigDuration(Duration::from_millis(millis)))
    }
}

impl fmt::Display for ConfigDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0.as_millis())
    }
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match toml::Value::deserialize(deserializer)? {
            toml::Value::String(text) => text.parse().map_err(D::Error::custom),
            toml::Value::Integer(secs) => u64::try_from(secs)
                .map(ConfigDuration::secs)
                .map_err(|_| D::Error::custom("a duration cannot be negative")),
            other => Err(D::Error::custom(format!(
                "expected a duration such as \"30s\", found {}",
                other.type_str()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_parses() {
        for (text, millis) in [
            ("500ms", 500),
            ("30s", 30_000),
            ("30", 30_000),
            ("10m", 600_000),
            ("1h", 3_600_000),
            ("2d", 172_800_000),
        ] {
            assert_eq!(
                text.parse::<ConfigDuration>().unwrap().0,
                Duration::from_millis(millis),
                "{text}"
            );
        }
        for text in ["", "ten", "5 minutes", "-1s", "1.5s"] {
            assert!(text.parse::<ConfigDuration>().is_err(), "{text}");
        }
    }
}
