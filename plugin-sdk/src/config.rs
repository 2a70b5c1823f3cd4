//! Reading the plugin's `[plugin.<name>]` settings with errors that say what is wrong.

use crate::Config;

/// A view of the plugin's configuration.
pub struct Settings<'a> {
    entries: &'a Config,
}

impl<'a> Settings<'a> {
    pub fn new(entries: &'a Config) -> Self {
        Settings { entries }
    }

    /// The value of `key`, if set and not blank.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.entries
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
    }

    /// The value of `key`, or an error naming it.
    pub fn require(&self, key: &str) -> Result<&'a str, String> {
        self.get(key).ok_or_else(|| format!("`{key}` is required"))
    }

    /// The value of `key`, or `default` when unset.
    pub fn get_or(&self, key: &str, default: &'a str) -> &'a str {
        self.get(key).unwrap_or(default)
    }

    /// `true`/`false` (also `yes`/`no`, `1`/`0`), or `default` when unset.
    pub fn flag(&self, key: &str, default: bool) -> Result<bool, String> {
        match self.get(key).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true" | "yes" | "1" | "on") => Ok(true),
            Some("false" | "no" | "0" | "off") => Ok(false),
            Some(other) => Err(format!("`{key}` must be true or false, not {other:?}")),
        }
    }

    /// An absolute http(s) URL.
    pub fn url(&self, key: &str) -> Result<&'a str, String> {
        let value = self.require(key)?;
        if value.starts_with("http://") || value.starts_with("https://") {
            Ok(value)
        } else {
            Err(format!("`{key}` must start with http:// or https://"))
        }
    }

    /// Every entry whose key starts with `prefix`, with the prefix removed, e.g. the
    /// `header.X-Token` entries for extra headers.
    pub fn with_prefix(&self, prefix: &str) -> Vec<(&'a str, &'a str)> {
        self.entries
            .iter()
            .filter_map(|(name, value)| Some((name.strip_prefix(prefix)?, value.as_str())))
            .collect()
    }
}
