//! `plugins setup <name>`: registering a plugin's webhook with its provider, from the
//! plugin's own settings. Telegram: `setWebhook` with the bot's `webhook_secret`
//! (https://core.telegram.org/bots/api#setwebhook), so button presses reach
//! `/hooks/<name>` carrying `X-Telegram-Bot-Api-Secret-Token`.

use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::{json, Value};

use emu_oncall::config::Config;

const TELEGRAM_API: &str = "https://api.telegram.org";

pub async fn setup(config: &Config, name: &str) -> anyhow::Result<()> {
    let table = config
        .plugin
        .get(name)
        .with_context(|| format!("there is no [plugin.{name}] table"))?;
    let setting = |key: &str| -> Option<String> {
        table
            .get(key)
            .and_then(|value| value.as_str())
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    };
    let file = setting("file").unwrap_or_else(|| format!("{name}.wasm"));
    if !file.trim_end_matches(".wasm").ends_with("telegram") {
        bail!("plugin {name:?} has nothing to set up (only the Telegram plugin does)");
    }
    let token =
        setting("bot_token").with_context(|| format!("plugin.{name}.bot_token is not set"))?;
    let secret = setting("webhook_secret").with_context(|| {
        format!("plugin.{name}.webhook_secret is not set: set a random one (e.g. `openssl rand -hex 24`)")
    })?;
    let base = if config.app.public_url.is_empty() {
        config.app.hostname.clone()
    } else {
        config.app.public_url.clone()
    };
    if base.is_empty() {
        bail!("set app.public_url (or app.hostname): Telegram must reach this server from outside");
    }
    let api = setting("api_url").unwrap_or_else(|| TELEGRAM_API.to_owned());
    let hook = format!("{base}hooks/{name}");
    emu_oncall::http_client::install_crypto_provider();
    let client = emu_oncall::http_client::client(Duration::from_secs(15))?;
    let response = client
        .post(format!(
            "{}/bot{token}/setWebhook",
            api.trim_end_matches('/')
        ))
        .json(&json!({
            "url": hook,
            "secret_token": secret,
            "allowed_updates": ["callback_query"],
        }))
        .send()
        .await
        .map_err(|err| anyhow::anyhow!("cannot reach Telegram: {}", err.without_url()))?;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() || answer["ok"] != Value::Bool(true) {
        bail!(
            "Telegram refused setWebhook (HTTP {status}): {}",
            answer["description"].as_str().unwrap_or("no description")
        );
    }
    println!("Telegram will post button presses for plugin {name} to {hook}");
    Ok(())
}
