//! Slack (or Mattermost) through an incoming webhook: one message per notification.
//! With `mattermost_buttons = true` and a reply URL, Mattermost pages carry interactive
//! buttons (https://developers.mattermost.com/integrate/plugins/interactive-messages/)
//! that Mattermost posts to the page's reply URL.

use emu_oncall_plugin_sdk::config::Settings;
use emu_oncall_plugin_sdk::http::Request;
use emu_oncall_plugin_sdk::inbound::{button_action, outcome_text, BUTTONS};
use emu_oncall_plugin_sdk::{
    export, permanent, Channel, Config, Failure, InboundEvent, InboundReply, InboundRequest,
    Notification, Outcome, Plugin, PluginInfo, Receipt,
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

/// The attachment holding the buttons, each posting to `reply_url`/<path>.
pub fn mattermost_buttons(reply_url: &str) -> Value {
    let actions: Vec<Value> = BUTTONS
        .iter()
        .map(|(path, label)| {
            json!({"id": path, "name": label, "type": "button",
                   "integration": {"url": format!("{reply_url}/{path}"), "context": {"action": path}}})
        })
        .collect();
    json!([{"text": "", "actions": actions}])
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
        let settings = Settings::new(&config);
        settings.flag("mattermost_buttons", false)?;
        settings.url("webhook_url").map(|_| ())
    }

    fn notify(config: Config, notification: Notification) -> Result<Receipt, Failure> {
        let settings = Settings::new(&config);
        let url = settings.url("webhook_url").map_err(permanent)?;
        let mut body = payload(
            &notification,
            settings.get("channel"),
            settings.get("username"),
            settings.get("icon_emoji"),
        );
        let page = matches!(
            notification.channel,
            Channel::Sms | Channel::Call | Channel::Push
        );
        if let (Some(reply_url), true, Ok(true)) = (
            &notification.reply_url,
            page,
            settings.flag("mattermost_buttons", false),
        ) {
            body["attachments"] = mattermost_buttons(reply_url);
        }
        let response = Request::post(url).json(&body).send()?;
        response.check()?;
        Ok(Receipt {
            provider_id: None,
            detail: Some(format!("HTTP {}", response.status)),
        })
    }

    /// A Mattermost button press: Mattermost's server posts `{user_name, context, …}` to
    /// the reply URL (it signs nothing; the reply URL's signature authenticates it). The
    /// answer replaces the post with what happened, buttons gone, and tells the presser.
    fn handle_inbound(
        config: Config,
        request: InboundRequest,
        outcomes: Vec<Outcome>,
    ) -> Result<InboundReply, String> {
        let (Some(action), Some(notification)) =
            (button_action(&request.path), &request.notification)
        else {
            return Ok(InboundReply::text(404, "not a Mattermost button"));
        };
        let press: Value = serde_json::from_slice(&request.body)
            .map_err(|err| format!("not a Mattermost action request: {err}"))?;
        let who = press["user_name"].as_str().unwrap_or("someone").to_owned();
        let Some(outcome) = outcome_text(&outcomes) else {
            return Ok(
                InboundReply::with_type(200, "application/json", "{}").with_events(vec![
                    InboundEvent::act(action, format!("Mattermost button ({who})")),
                ]),
            );
        };
        let done = outcomes.iter().any(|outcome| outcome.ok);
        let answer = if done {
            let settings = Settings::new(&config);
            let text = payload(notification, None, settings.get("username"), None)["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            json!({
                "update": {"message": format!("{text}\n\n✅ {} by {who}", outcome.trim_end_matches('.')),
                           "props": {}},
                "ephemeral_text": outcome,
            })
        } else {
            json!({"ephemeral_text": outcome})
        };
        Ok(InboundReply::with_type(
            200,
            "application/json",
            answer.to_string(),
        ))
    }
}

export!(Slack);
