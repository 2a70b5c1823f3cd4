//! The provider presets of `examples/providers/`, carried in the binary so
//! `plugin test --preset` works without the repository: each is one
//! `[plugin.<name>]` table for `http.wasm`, its operator's values marked `YOUR_…`.

use thiserror::Error;

use super::settings::PLACEHOLDER;

const PRESETS: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/presets.rs"));

#[derive(Debug, Error)]
pub enum PresetError {
    #[error("no preset {0:?}; there are: {known}", known = names().collect::<Vec<_>>().join(", "))]
    Unknown(String),
    #[error("preset {0:?} is not one [plugin.<name>] table: {1}")]
    Malformed(String, String),
    #[error("preset {preset:?} has no `{key}`, nor `secret.{key}` or `vars.{key}`")]
    NoSuchKey { preset: String, key: String },
    #[error("preset {preset:?} still has placeholders in {}: fill each with --set KEY=VALUE", keys.join(", "))]
    Unfilled { preset: String, keys: Vec<String> },
}

/// Fails naming every key that still holds a `YOUR_…` placeholder, so one try shows all
/// that is missing rather than one at a time.
pub fn check_filled(preset: &str, table: &toml::Table) -> Result<(), PresetError> {
    let mut keys = Vec::new();
    placeholders("", table, &mut keys);
    if keys.is_empty() {
        Ok(())
    } else {
        Err(PresetError::Unfilled {
            preset: preset.to_owned(),
            keys,
        })
    }
}

fn placeholders(prefix: &str, table: &toml::Table, found: &mut Vec<String>) {
    for (key, value) in table {
        let dotted = format!("{prefix}{key}");
        match value {
            toml::Value::Table(inner) => placeholders(&format!("{dotted}."), inner, found),
            toml::Value::String(text) if text.contains(PLACEHOLDER) => found.push(dotted),
            toml::Value::Array(items)
                if items
                    .iter()
                    .any(|item| item.as_str().is_some_and(|text| text.contains(PLACEHOLDER))) =>
            {
                found.push(dotted)
            }
            _ => {}
        }
    }
}

/// Every preset's name (its file name without `.toml`).
pub fn names() -> impl Iterator<Item = &'static str> {
    PRESETS.iter().map(|(name, _)| *name)
}

/// A preset's plugin name and table, as its file has them.
pub fn load(preset: &str) -> Result<(String, toml::Table), PresetError> {
    let (_, text) = PRESETS
        .iter()
        .find(|(name, _)| *name == preset)
        .ok_or_else(|| PresetError::Unknown(preset.to_owned()))?;
    let malformed = |why: &str| PresetError::Malformed(preset.to_owned(), why.to_owned());
    let whole: toml::Table = toml::from_str(text).map_err(|err| malformed(&err.to_string()))?;
    let plugins = whole
        .get("plugin")
        .and_then(toml::Value::as_table)
        .filter(|plugins| whole.len() == 1 && plugins.len() == 1)
        .ok_or_else(|| malformed("expected exactly one [plugin.<name>] table"))?;
    let (name, table) = plugins
        .iter()
        .next()
        .ok_or_else(|| malformed("no plugin table"))?;
    let table = table
        .as_table()
        .ok_or_else(|| malformed("the plugin entry is not a table"))?;
    Ok((name.clone(), table.clone()))
}

/// Sets `key` in a preset's table: where the preset has `secret.<key>` or
/// `vars.<key>` (what `--set api_key=…` means), else at the dotted path `key` itself
/// when that exists.
pub fn fill(
    preset: &str,
    table: &mut toml::Table,
    key: &str,
    value: &str,
) -> Result<(), PresetError> {
    let mut candidates = vec![key.to_owned()];
    if !key.contains('.') {
        candidates.insert(0, format!("secret.{key}"));
        candidates.insert(1, format!("vars.{key}"));
    }
    for candidate in &candidates {
        if let Some(slot) = slot(table, candidate) {
            *slot = toml::Value::String(value.to_owned());
            return Ok(());
        }
    }
    Err(PresetError::NoSuchKey {
        preset: preset.to_owned(),
        key: key.to_owned(),
    })
}

/// The existing value at a dotted path (`secret.api_key`).
pub fn slot<'a>(table: &'a mut toml::Table, dotted: &str) -> Option<&'a mut toml::Value> {
    let mut parts = dotted.split('.');
    let mut value = table.get_mut(parts.next()?)?;
    for part in parts {
        value = value.as_table_mut()?.get_mut(part)?;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_one_plugin_table_for_http_wasm() {
        assert!(names().count() >= 30, "{}", names().count());
        for name in names() {
            let (_, table) = load(name).unwrap();
            assert_eq!(
                table.get("file").and_then(toml::Value::as_str),
                Some("http.wasm"),
                "{name}"
            );
        }
    }

    #[test]
    fn every_placeholder_left_is_named_at_once() {
        let (_, mut table) = load("kannel-sms").unwrap();
        let err = check_filled("kannel-sms", &table).unwrap_err().to_string();
        for key in [
            "allowed_hosts",
            "secret.password",
            "vars.server",
            "vars.from",
        ] {
            assert!(err.contains(key), "{key} in {err}");
        }
        for (key, value) in [
            ("allowed_hosts", "10.0.0.7:13013"),
            ("server", "http://10.0.0.7:13013"),
            ("username", "u"),
            ("password", "p"),
            ("from", "OnCall"),
        ] {
            fill("kannel-sms", &mut table, key, value).unwrap();
        }
        check_filled("kannel-sms", &table).unwrap();
    }

    #[test]
    fn set_fills_secrets_and_vars_by_their_short_name() {
        let (_, mut table) = load("vonage-sms").unwrap();
        fill("vonage-sms", &mut table, "api_key", "k").unwrap();
        fill("vonage-sms", &mut table, "from", "OnCall").unwrap();
        fill("vonage-sms", &mut table, "check.equals", "0").unwrap();
        assert_eq!(table["secret"]["api_key"].as_str(), Some("k"));
        assert_eq!(table["vars"]["from"].as_str(), Some("OnCall"));
        assert!(matches!(
            fill("vonage-sms", &mut table, "colour", "red"),
            Err(PresetError::NoSuchKey { .. })
        ));
        assert!(matches!(load("fax-machine"), Err(PresetError::Unknown(_))));
    }
}
