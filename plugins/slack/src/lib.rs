//! Slack (or Mattermost) through an incoming webhook: one message per notification.

use emu_oncall_plugin_sdk::config::Settings;
use emu_oncall_plugin_sdk::http::Request;
use emu_oncall_plugin_sdk::{
    export, permanent, Channel, Config, Failure, Notification, Plugin, PluginInfo, Receipt,
};
use serde_json::{json, Map, Value};

pub struct Slack;

/// Slack's mrkdwn treats these three characters as markup.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn payload(
    notification: &Notification,
    channel: Option<&str>,
    username: Option<&str>,
    icon: Option<&str>,
) -> Value {
    let recipient = &notification.recipient;
    let who = notification
        .recipient
        .attribute("slack_user_id")
        .map(|id| format!("<@{id}>"))
        .unwrap_or_else(|| {
            escape(if recipient.name.is_empty() {
                &recipient.username
            } else {
                &recipient.name
            })
        });
    let kind = match notification.channel {
        Channel::Sms => "SMS",
        Channel::Call => "Call",
        Channel::Push => "Push",
        Channel::Shift => "Shift",
        Channel::Test => "Test",
    };
    let mut text = format!("*[{kind}]* for {who}: {}", escape(&notification.message));
    if let Some(group) = &notification.alert_group {
        // The headline links to the alert group when its permalink is known.
        let headline = escape(&group.headline());
        if group.permalink.is_empty() {
            text.push_str(&format!("\n*{headline}*"));
        } else {
            text.push_str(&format!("\n*<{}|{headline}>*", group.permalink));
        }
        if !group.integration.is_empty() {
            text.push_str(&format!(" via {}", escape(&group.integration)));
        }
        if !group.labels.is_empty() {
            text.push_str(&format!("\n{}", escape(&group.labels_text())));
        }
    }
    let mut body = Map::new();
    body.insert("text".to_owned(), json!(text));
    if let Some(channel) = channel {
        body.insert("channel".to_owned(), json!(channel));
    }
    if let Some(username) = username {
        body.insert("username".to_owned(), json!(username));
    }
    if let Some(icon) = icon {
        body.insert("icon_emoji".to_owned(), json!(icon));
    }
    Value::Object(body)
}

impl Plugin for Slack {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "slack".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            channels: Channel::all(),
        }
    }

    fn validate_config(config: Config) -> Result<(), String> {
        Settings::new(&config).url("webhook_url").map(|_| ())
    }

    fn notify(config: Config, notification: Notification) -> Result<Receipt, Failure> {
        let settings = Settings::new(&config);
        let url = settings.url("webhook_url").map_err(permanent)?;
        let body = payload(
            &notification,
            settings.get("channel"),
            settings.get("username"),
            settings.get("icon_emoji"),
        );
        let response = Request::post(url).json(&body).send()?;
        response.check()?;
        Ok(Receipt {
            provider_id: None,
            detail: Some(format!("HTTP {}", response.status)),
        })
    }
}

export!(Slack);
