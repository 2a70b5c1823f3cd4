//! A plugin's `[plugin.<name>]` table: the keys the host reads, and the plugin's own map.

use std::path::{Path, PathBuf};

use crate::model::Channel;

/// Keys the host reads itself; every other key goes to the plugin.
const RESERVED: &[&str] = &["file", "channels", "allowed_hosts", "enabled"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSettings {
    pub name: String,
    pub file: PathBuf,
    /// Overrides what the plugin's `describe` says it serves.
    pub channels: Option<Vec<Channel>>,
    pub allowed_hosts: Vec<String>,
    pub enabled: bool,
    /// The plugin's own settings, as strings; nested tables become dotted keys.
    pub config: Vec<(String, String)>,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '_')
}

/// How the example presets mark what the operator must fill in (`YOUR_API_KEY`).
pub(crate) const PLACEHOLDER: &str = "YOUR_";

fn list(value: &toml::Value, key: &str) -> Result<Vec<String>, String> {
    let items: Vec<String> = match value {
        toml::Value::String(text) => text.split(',').map(str::to_owned).collect(),
        toml::Value::Array(values) => values
            .iter()
            .map(|value| {
                value
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("`{key}` must list strings"))
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(format!("`{key}` must be a list of strings")),
    };
    Ok(items
        .into_iter()
        .map(|item| item.trim().to_owned())
        .filter(|item| !item.is_empty())
        .collect())
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut Vec<(String, String)>) {
    for (key, value) in table {
        let key = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten(&key, inner, out),
            toml::Value::String(text) => out.push((key, text.clone())),
            toml::Value::Array(items) => {
                let joined: Vec<String> = items
                    .iter()
                    .map(|item| {
                        item.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| item.to_string())
                    })
                    .collect();
                out.push((key, joined.join(",")));
            }
            other => out.push((key, other.to_string())),
        }
    }
}

impl PluginSettings {
    /// Settings for a plugin named `name`, from its table (empty when it has none).
    pub fn from_table(name: &str, table: &toml::Table, plugins_dir: &Path) -> Result<Self, String> {
        if !valid_name(name) {
            return Err(format!(
                "plugin name {name:?} may only use a-z, 0-9, - and _"
            ));
        }
        let file = match table.get("file") {
            None => PathBuf::from(format!("{name}.wasm")),
            Some(toml::Value::String(file)) if !file.trim().is_empty() => {
                PathBuf::from(file.trim())
            }
            Some(_) => return Err("`file` must be a file name".to_owned()),
        };
        let file = if file.is_absolute() {
            file
        } else {
            plugins_dir.join(file)
        };
        let channels = match table.get("channels") {
            None => None,
            Some(value) => Some(
                list(value, "channels")?
                    .iter()
                    .map(|channel| {
                        channel
                            .parse::<Channel>()
                            .map_err(|err| format!("`channels`: {err}"))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let allowed_hosts = match table.get("allowed_hosts") {
            None => Vec::new(),
            Some(value) => list(value, "allowed_hosts")?,
        };
        // A preset copied without its host filled in would only fail at the first page,
        // as a host "not in allowed_hosts"; say so when it loads.
        if let Some(placeholder) = allowed_hosts.iter().find(|host| host.contains(PLACEHOLDER)) {
            return Err(format!(
                "`allowed_hosts`: {placeholder:?} is a placeholder: put your provider's host there"
            ));
        }
        let enabled = match table.get("enabled") {
            None => true,
            Some(toml::Value::Boolean(flag)) => *flag,
            Some(toml::Value::String(text)) => match text.trim() {
                "true" => true,
                "false" => false,
                other => return Err(format!("`enabled` must be true or false, not {other:?}")),
            },
            Some(_) => return Err("`enabled` must be true or false".to_owned()),
        };
        let own: toml::Table = table
            .iter()
            .filter(|(key, _)| !RESERVED.contains(&key.as_str()))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        let mut config = Vec::new();
        flatten("", &own, &mut config);
        Ok(PluginSettings {
            name: name.to_owned(),
            file,
            channels,
            allowed_hosts,
            enabled,
            config,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_keys_are_read_and_the_rest_passed_on_as_strings() {
        let table: toml::Table = r#"
            file = "hook-v2.wasm"
            channels = ["sms", "call"]
            allowed_hosts = "hooks.example.com, 127.0.0.1:8080"
            url = "https://hooks.example.com/page"
            timeout_secs = 5
            [header]
            X-Token = "secret"
        "#
        .parse()
        .unwrap();
        let settings =
            PluginSettings::from_table("webhook", &table, Path::new("/plugins")).unwrap();
        assert_eq!(settings.file, PathBuf::from("/plugins/hook-v2.wasm"));
        assert_eq!(settings.channels, Some(vec![Channel::Sms, Channel::Call]));
        assert_eq!(
            settings.allowed_hosts,
            vec!["hooks.example.com", "127.0.0.1:8080"]
        );
        assert!(settings.enabled);
        assert!(settings.config.contains(&(
            "url".to_owned(),
            "https://hooks.example.com/page".to_owned()
        )));
        assert!(settings
            .config
            .contains(&("timeout_secs".to_owned(), "5".to_owned())));
        assert!(settings
            .config
            .contains(&("header.X-Token".to_owned(), "secret".to_owned())));
        assert!(!settings
            .config
            .iter()
            .any(|(key, _)| RESERVED.contains(&key.as_str())));
    }

    #[test]
    fn bad_tables_say_what_is_wrong() {
        let table: toml::Table = "channels = [\"fax\"]".parse().unwrap();
        let err = PluginSettings::from_table("x", &table, Path::new("p")).unwrap_err();
        assert!(err.contains("channels"), "{err}");
        assert!(
            PluginSettings::from_table("Bad Name", &toml::Table::new(), Path::new("p")).is_err()
        );
        let table: toml::Table = r#"allowed_hosts = ["api.example.com", "YOUR_KANNEL_HOST"]"#
            .parse()
            .unwrap();
        let err = PluginSettings::from_table("kannel", &table, Path::new("p")).unwrap_err();
        assert!(
            err.contains("allowed_hosts") && err.contains("YOUR_KANNEL_HOST"),
            "{err}"
        );
    }
}
