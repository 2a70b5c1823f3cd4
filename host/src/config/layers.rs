//! Builds one TOML tree from the file, the environment and the flags, then reads it
//! into [`Config`] so every layer is checked by the same rules.

use std::path::{Path, PathBuf};

use super::Config;

/// Environment variables with this prefix set configuration keys; `__` separates levels.
pub const ENV_PREFIX: &str = "EMU_ONCALL_";

/// Variables under the prefix that are not configuration keys.
const ENV_NOT_KEYS: &[&str] = &["EMU_ONCALL_CONFIG"];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    ParseFile { path: PathBuf, message: String },
    #[error("environment variable {var}: {reason}")]
    Env { var: String, reason: String },
    #[error("config key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

impl ConfigError {
    pub(super) fn invalid(key: &str, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

/// The command-line flags that may override the common keys.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub port: Option<String>,
    pub hostname: Option<String>,
    pub log_level: Option<String>,
    pub db_url: Option<String>,
}

impl Overrides {
    fn entries(&self) -> impl Iterator<Item = (&'static str, &String)> {
        [
            ("app.port", self.port.as_ref()),
            ("app.hostname", self.hostname.as_ref()),
            ("app.log_level", self.log_level.as_ref()),
            ("db.url", self.db_url.as_ref()),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.map(|value| (key, value)))
    }
}

/// Reads and checks the configuration. `env` is passed in so tests need not touch the
/// process environment.
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
    overrides: &Overrides,
) -> Result<Config, ConfigError> {
    let mut tree = match file {
        Some(path) => read_file(path)?,
        None => toml::Table::new(),
    };
    for (var, value) in env {
        let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if ENV_NOT_KEYS.contains(&var.as_str()) {
            continue;
        }
        let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        if path.iter().any(String::is_empty) {
            return Err(ConfigError::Env {
                var,
                reason: "empty key segment (use `__` only between levels)".to_owned(),
            });
        }
        set_path(&mut tree, &path, toml::Value::String(value))
            .map_err(|reason| ConfigError::Env { var, reason })?;
    }
    for (key, value) in overrides.entries() {
        let path: Vec<String> = key.split('.').map(str::to_owned).collect();
        set_path(&mut tree, &path, toml::Value::String(value.clone()))
            .map_err(|message| ConfigError::invalid(key, message))?;
    }
    let split = super::startup::split_tree(tree);
    let config: Config =
        serde_path_to_error::deserialize(toml::Value::Table(split)).map_err(|err| {
            let path = err.path().to_string();
            let key = super::startup::file_key(&path);
            ConfigError::Invalid {
                key: if key == "." || key == "live" || key == "startup" {
                    "(top level)".to_owned()
                } else {
                    key.to_owned()
                },
                message: err.into_inner().to_string(),
            }
        })?;
    config.validated()
}

fn read_file(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: path.to_owned(),
        source,
    })?;
    text.parse::<toml::Table>()
        .map_err(|err| ConfigError::ParseFile {
            path: path.to_owned(),
            message: err.to_string(),
        })
}

/// Sets `path` in `tree`, creating tables on the way; a later layer replaces a leaf.
fn set_path(tree: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let Some((leaf, parents)) = path.split_last() else {
        return Err("empty key".to_owned());
    };
    let mut table = tree;
    for (depth, segment) in parents.iter().enumerate() {
        let entry = table
            .entry(segment.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = match entry {
            toml::Value::Table(inner) => inner,
            _ => {
                return Err(format!(
                    "`{}` is a value, not a table, so it has no key `{}`",
                    path[..=depth].join("."),
                    path[depth + 1]
                ))
            }
        };
    }
    if matches!(table.get(leaf), Some(toml::Value::Table(_))) {
        return Err(format!(
            "`{}` is a table; set its keys one by one",
            path.join(".")
        ));
    }
    table.insert(leaf.clone(), value);
    Ok(())
}
