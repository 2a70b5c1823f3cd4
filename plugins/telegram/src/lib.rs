//! Telegram through the Bot API's `sendMessage`. The chat comes from the recipient's
//! `telegram_chat_id` attribute (the name is configurable with `chat_id_attribute`).

use emu_oncall_plugin_sdk::config::Settings;
use emu_oncall_plugin_sdk::http::Request;
use emu_oncall_plugin_sdk::{
    export, permanent, retryable, Channel, Config, Failure, Notification, Plugin, PluginInfo,
    Receipt,
};
use serde_json::{json, Value};

pub struct Telegram;

const DEFAULT_API: &str = "https://api.telegram.org";

/// The message as sent: a short marker of what kind of page it is, the text, then the
/// alert group's details when the host has them.
pub fn text(notification: &Notification) -> String {
    let marker = match notification.channel {
        Channel::Sms | Channel::Call => "🚨",
        Channel::Push => "📱",
        Channel::Shift => "🗓",
        Channel::Test => "✅",
    };
    let mut text = format!("{marker} {}", notification.message);
    if let Some(group) = &notification.alert_group {
        text.push_str("\n\n");
        text.push_str(&group.summary_lines().join("\n"));
    }
    text
}

/// The Bot API answers `{"ok": false, "error_code": N, "description": "..."}` on errors;
/// 429 and 5xx are worth retrying, the rest (blocked bot, unknown chat) are not.
fn failure(status: u16, body: &str) -> Failure {
    let description = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|value| value["description"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(200).collect());
    let reason = format!("Telegram answered {status}: {description}");
    if status == 429 || status >= 500 {
        retryable(reason)
    } else {
        permanent(reason)
    }
}

impl Plugin for Telegram {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "telegram".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            channels: Channel::all(),
        }
    }

    fn validate_config(config: Config) -> Result<(), String> {
        let settings = Settings::new(&config);
        let token = settings.require("bot_token")?;
        if !token.contains(':') {
            return Err("`bot_token` does not look like a bot token (<id>:<secret>)".to_owned());
        }
        if settings.get("api_url").is_some() {
            settings.url("api_url")?;
        }
        Ok(())
    }

    fn notify(config: Config, notification: Notification) -> Result<Receipt, Failure> {
        let settings = Settings::new(&config);
        let token = settings.require("bot_token").map_err(permanent)?;
        let api = settings
            .get_or("api_url", DEFAULT_API)
            .trim_end_matches('/');
        let attribute = settings.get_or("chat_id_attribute", "telegram_chat_id");
        let chat_id = notification.recipient.attribute(attribute).ok_or_else(|| {
            permanent(format!(
                "{} has no `{attribute}` attribute to send to",
                notification.recipient.email
            ))
        })?;
        let body = json!({
            "chat_id": chat_id,
            "text": text(&notification),
            "disable_web_page_preview": true,
        });
        let response = Request::post(format!("{api}/bot{token}/sendMessage"))
            .json(&body)
            .send()?;
        if !(200..300).contains(&response.status) {
            return Err(failure(response.status, &response.text()));
        }
        let answer: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        let message_id = answer["result"]["message_id"]
            .as_i64()
            .map(|id| id.to_string());
        Ok(Receipt {
            provider_id: message_id,
            detail: Some("sent".to_owned()),
        })
    }
}

export!(Telegram);
