//! Telegram through the Bot API's `sendMessage`. The chat comes from the recipient's
//! `telegram_chat_id` attribute (the name is configurable with `chat_id_attribute`).
//! With `webhook_secret` set and a public server URL, pages carry Acknowledge / Resolve
//! / Silence buttons; a press is answered and the message edited to say who did what.

mod buttons;

use emu_oncall_plugin_sdk::config::Settings;
use emu_oncall_plugin_sdk::http::Request;
use emu_oncall_plugin_sdk::inbound::outcome_text;
use emu_oncall_plugin_sdk::{
    export, log, permanent, retryable, Channel, Config, EventKind, Failure, InboundEvent,
    InboundReply, InboundRequest, Notification, Outcome, Plugin, PluginInfo, Receipt, Target,
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
        // Telegram takes 1-256 characters of A-Z, a-z, 0-9, _ and - as a secret token.
        if let Some(secret) = settings.get("webhook_secret") {
            let fits = (1..=256).contains(&secret.len())
                && secret
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
            if !fits {
                return Err("`webhook_secret` must be 1-256 of A-Z, a-z, 0-9, _ and -".to_owned());
            }
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
        let mut body = json!({
            "chat_id": chat_id,
            "text": text(&notification),
            "disable_web_page_preview": true,
        });
        // Buttons only where a press can come back: a webhook secret to check it by, a
        // server reachable from outside (the host gave a reply URL) and a page about an
        // alert group.
        let buttons = settings.get("webhook_secret").is_some()
            && notification.reply_url.is_some()
            && matches!(
                notification.channel,
                Channel::Sms | Channel::Call | Channel::Push
            );
        if buttons {
            body["reply_markup"] = buttons::keyboard();
        }
        let response = Request::post(format!("{api}/bot{token}/sendMessage"))
            .json(&body)
            .send()?;
        if !(200..300).contains(&response.status) {
            return Err(failure(response.status, &response.text()));
        }
        let answer: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        let message_id = answer["result"]["message_id"]
            .as_i64()
            .map(|id| buttons::provider_id(chat_id, id));
        Ok(Receipt {
            provider_id: message_id,
            detail: Some("sent".to_owned()),
        })
    }

    fn handle_inbound(
        config: Config,
        request: InboundRequest,
        outcomes: Vec<Outcome>,
    ) -> Result<InboundReply, String> {
        let settings = Settings::new(&config);
        // setWebhook's secret_token comes back in this header on every update.
        let expected = settings.get("webhook_secret").unwrap_or_default();
        let given = request
            .header("x-telegram-bot-api-secret-token")
            .unwrap_or_default();
        if expected.is_empty() || !same(expected, given) {
            return Ok(InboundReply::forbidden());
        }
        let update: Value = serde_json::from_slice(&request.body)
            .map_err(|err| format!("not a Telegram update: {err}"))?;
        let Some(press) = buttons::press(&update) else {
            // Other updates (messages to the bot) are not for us; Telegram wants a 200.
            return Ok(InboundReply::text(200, ""));
        };
        if let Some(text) = outcome_text(&outcomes) {
            answer_press(
                &settings,
                &press,
                &text,
                outcomes.iter().any(|outcome| outcome.ok),
            );
            return Ok(InboundReply::text(200, ""));
        }
        let Some(action) = buttons::action(&press.data) else {
            return Ok(InboundReply::text(200, ""));
        };
        let event = InboundEvent {
            target: Target::ProviderId(buttons::provider_id(&press.chat_id, press.message_id)),
            kind: EventKind::Act(action),
            via: format!("Telegram button ({})", press.who),
        };
        Ok(InboundReply::text(200, "").with_events(vec![event]))
    }
}

/// Compares without an early exit.
fn same(expected: &str, given: &str) -> bool {
    expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Tells the presser how it went (`answerCallbackQuery`) and, when it was done, edits
/// the page to say who did what, buttons removed (`editMessageText`). Failures are
/// logged: the action itself stands.
fn answer_press(settings: &Settings, press: &buttons::Press, outcome: &str, done: bool) {
    let Ok(token) = settings.require("bot_token") else {
        return;
    };
    let api = settings
        .get_or("api_url", DEFAULT_API)
        .trim_end_matches('/');
    let answered = Request::post(format!("{api}/bot{token}/answerCallbackQuery"))
        .json(&json!({"callback_query_id": press.query_id, "text": outcome}))
        .send();
    if let Err(err) = answered {
        log::warn(&format!("answerCallbackQuery failed: {err}"));
    }
    if !done {
        return;
    }
    let marker = outcome.trim_end_matches('.');
    let edited = Request::post(format!("{api}/bot{token}/editMessageText"))
        .json(&json!({
            "chat_id": press.chat_id,
            "message_id": press.message_id,
            "text": format!("{}\n\n✅ {marker} by {}", press.text, press.who),
            "disable_web_page_preview": true,
        }))
        .send();
    if let Err(err) = edited {
        log::warn(&format!("editMessageText failed: {err}"));
    }
}

export!(Telegram);
