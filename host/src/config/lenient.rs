//! Deserializers that accept either a native TOML value or its text form.
//!
//! Environment variables can only carry text, so `EMU_ONCALL_APP__ALLOW_ANY_TOKEN=true`
//! must mean the same as `allow_any_token = true` in the file.

use std::fmt::Display;
use std::str::FromStr;

use serde::de::{Deserialize, Deserializer, Error};

/// A value of type `T`, given natively or as a string that parses into it.
pub fn from_str_or_native<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr + Deserialize<'de>,
    <T as FromStr>::Err: Display,
{
    match toml::Value::deserialize(deserializer)? {
        toml::Value::String(text) => text
            .trim()
            .parse::<T>()
            .map_err(|err| D::Error::custom(format!("{text:?}: {err}"))),
        native => T::deserialize(native).map_err(D::Error::custom),
    }
}

/// One string or a list of strings; a string may hold several items separated by commas.
/// Blank items are dropped, so `""` is an empty list.
pub fn string_list<'de, D>(deserializer: D) -> Result<Vec<String>, D::Error>
where
    D: Deserializer<'de>,
{
    let items = match toml::Value::deserialize(deserializer)? {
        toml::Value::String(text) => text.split(',').map(str::to_owned).collect(),
        toml::Value::Array(values) => values
            .into_iter()
            .map(|value| match value {
                toml::Value::String(text) => Ok(text),
                other => Err(D::Error::custom(format!(
                    "expected a string in the list, found {}",
                    other.type_str()
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?,
        other => {
            return Err(D::Error::custom(format!(
                "expected a string or a list of strings, found {}",
                other.type_str()
            )))
        }
    };
    Ok(items
        .into_iter()
        .map(|item| item.trim().to_owned())
        .filter(|item| !item.is_empty())
        .collect())
}

/// A region code (`DE`), or none when blank.
pub fn optional_region<'de, D>(deserializer: D) -> Result<Option<crate::model::Region>, D::Error>
where
    D: Deserializer<'de>,
{
    let text = String::deserialize(deserializer)?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(D::Error::custom)
}
