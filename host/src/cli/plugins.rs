//! `plugins list` and `plugin test`: the plugin host without a server or a database.
//! (`plugins setup` is in `plugin_setup.rs`.)

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use emu_oncall::config::Config;
use emu_oncall::metrics::Metrics;
use emu_oncall::model::AttemptOutcome;
use emu_oncall::model::Channel;
use emu_oncall::plugins::{
    presets, LoadedPlugin, Notification, PluginRegistry, PluginSettings, Recipient,
};

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// Load every plugin the configuration would load and show how each fared.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Register a plugin's webhook with its provider. `telegram`: tells the bot to post
    /// button presses to `<public URL>hooks/telegram` with `webhook_secret`.
    Setup {
        /// The plugin's name (its `[plugin.<name>]` table).
        plugin: String,
    },
}

/// Run one notification through a plugin file and print the outcome.
#[derive(Debug, Args)]
pub struct PluginTest {
    /// The plugin's .wasm file (with --preset: http.wasm in the plugins directory when
    /// not given).
    #[arg(required_unless_present = "preset")]
    pub file: Option<PathBuf>,
    /// A provider preset from examples/providers/ (built in), e.g. vonage-sms; --set
    /// fills its YOUR_ values by their short name (--set api_key=...).
    #[arg(long)]
    pub preset: Option<String>,
    /// sms, call, push, shift or test (default: the preset's first channel, or test).
    #[arg(long)]
    pub channel: Option<String>,
    /// The recipient's phone number.
    #[arg(long)]
    pub to: Option<String>,
    #[arg(long, default_value = "Test notification from emu-oncall")]
    pub message: String,
    #[arg(long, default_value = "test@example.com")]
    pub email: String,
    /// A plugin setting, e.g. --set url=http://127.0.0.1:9000/hook (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub settings: Vec<String>,
    /// A recipient attribute, e.g. --attr telegram_chat_id=42 (repeatable).
    #[arg(long = "attr", value_name = "KEY=VALUE")]
    pub attributes: Vec<String>,
}

pub async fn run(config: &Config, command: PluginsCommand) -> anyhow::Result<()> {
    match command {
        PluginsCommand::List { json } => list(config, json).await,
        PluginsCommand::Setup { plugin } => super::plugin_setup::setup(config, &plugin).await,
    }
}

async fn list(config: &Config, json: bool) -> anyhow::Result<()> {
    let registry = PluginRegistry::new(config, Arc::new(Metrics::new()), None)?;
    registry.scan().await;
    let statuses = registry.statuses();
    if json {
        println!("{}", serde_json::to_string_pretty(&statuses)?);
        return Ok(());
    }
    if statuses.is_empty() {
        println!(
            "no plugins in {} and none configured",
            registry.plugins_dir().display()
        );
        return Ok(());
    }
    println!(
        "{:<14} {:<9} {:<8} {:<8} {:<28} {:<14} STATUS",
        "NAME", "VERSION", "CONTRACT", "LOADED", "CHANNELS", "HASH"
    );
    for status in statuses {
        let channels: Vec<&str> = status
            .channels
            .iter()
            .map(|channel| channel.as_str())
            .collect();
        println!(
            "{:<14} {:<9} {:<8} {:<8} {:<28} {:<14} {}",
            status.name,
            status.version.as_deref().unwrap_or("-"),
            status.contract.unwrap_or("-"),
            if status.loaded { "yes" } else { "no" },
            channels.join(","),
            status
                .hash
                .as_deref()
                .map(|hash| &hash[..12])
                .unwrap_or("-"),
            if status.enabled {
                status.last_error.as_deref().unwrap_or("ok")
            } else {
                "disabled"
            }
        );
    }
    Ok(())
}

fn pairs(items: &[String], flag: &str) -> anyhow::Result<toml::Table> {
    let mut table = toml::Table::new();
    for item in items {
        let Some((key, value)) = item.split_once('=') else {
            bail!("{flag} {item:?}: expected KEY=VALUE");
        };
        table.insert(key.trim().to_owned(), toml::Value::String(value.to_owned()));
    }
    Ok(table)
}

/// The plugin's name, file and settings table: from a preset (its placeholders filled
/// by `--set`) or from the file's name and `--set`.
fn plugin_table(
    config: &Config,
    test: &PluginTest,
) -> anyhow::Result<(String, PathBuf, toml::Table)> {
    let Some(preset) = test.preset.as_deref() else {
        let file = test.file.clone().context("a plugin file is required")?;
        let name = file
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or("plugin")
            .to_ascii_lowercase()
            .replace(
                |ch: char| !(ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'),
                "-",
            );
        return Ok((name, file, pairs(&test.settings, "--set")?));
    };
    let (name, mut table) = presets::load(preset)?;
    for (key, value) in pairs(&test.settings, "--set")? {
        let value = value.as_str().unwrap_or_default();
        presets::fill(preset, &mut table, &key, value)?;
    }
    presets::check_filled(preset, &table)?;
    let file = match &test.file {
        Some(file) => file.clone(),
        None => {
            let named = table
                .get("file")
                .and_then(toml::Value::as_str)
                .unwrap_or("http.wasm");
            std::path::Path::new(config.startup.plugins_dir.trim()).join(named)
        }
    };
    Ok((name, file, table))
}

pub async fn test(config: &Config, test: PluginTest) -> anyhow::Result<()> {
    let (name, file, mut table) = plugin_table(config, &test)?;
    let channel: Channel = match &test.channel {
        Some(channel) => channel.parse()?,
        None => table
            .get("channels")
            .and_then(toml::Value::as_array)
            .and_then(|channels| channels.first())
            .and_then(toml::Value::as_str)
            .unwrap_or("test")
            .parse()?,
    };
    let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    table.insert(
        "file".to_owned(),
        toml::Value::String(file.display().to_string()),
    );
    let settings = PluginSettings::from_table(&name, &table, std::path::Path::new("."))
        .map_err(|reason| anyhow::anyhow!("plugin settings: {reason}"))?;
    let registry = PluginRegistry::new(config, Arc::new(Metrics::new()), None)?;
    let plugin = LoadedPlugin::load(registry.engine(), settings, bytes, None)
        .await
        .with_context(|| format!("{} did not load", file.display()))?;
    println!(
        "loaded {} {} (serves {})",
        plugin.info.name,
        plugin.info.version,
        plugin
            .channels
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let attributes = pairs(&test.attributes, "--attr")?
        .into_iter()
        .map(|(key, value)| (key, value.as_str().unwrap_or_default().to_owned()))
        .collect();
    let phone_number = match test.to.as_deref() {
        Some(number) => Some(
            emu_oncall::model::PhoneNumber::parse(number, config.users.default_region)?
                .e164()
                .to_owned(),
        ),
        None => None,
    };
    let notification = Notification {
        id: uuid::Uuid::new_v4().to_string(),
        channel,
        recipient: Recipient {
            id: "UTEST".to_owned(),
            email: test.email.clone(),
            username: test.email.split('@').next().unwrap_or("test").to_owned(),
            name: "Test Recipient".to_owned(),
            phone_number,
            role: "user".to_owned(),
            attributes,
        },
        message: test.message.clone(),
        alert_group: None,
        attempt: 1,
        created_at: chrono::Utc::now().to_rfc3339(),
        reply_url: None,
        reply_code: None,
    };
    match plugin.notify(&notification).await {
        AttemptOutcome::Delivered(receipt) => {
            println!(
                "delivered{}{}",
                receipt
                    .provider_id
                    .map(|id| format!(" (provider id {id})"))
                    .unwrap_or_default(),
                receipt
                    .detail
                    .map(|detail| format!(": {detail}"))
                    .unwrap_or_default()
            );
            Ok(())
        }
        AttemptOutcome::Retryable(failure) => bail!("failed, retryable: {failure}"),
        AttemptOutcome::Permanent(failure) => bail!("failed, permanent: {failure}"),
    }
}
