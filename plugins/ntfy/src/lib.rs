//! ntfy (ntfy.sh or a self-hosted server) through its JSON publishing endpoint. The
//! topic is the recipient's `ntfy_topic` attribute, else the configured `topic`. Given a
//! reply URL, pages carry `http` action buttons (https://docs.ntfy.sh/publish/#action-buttons)
//! that the person's ntfy app POSTs to it.

use emu_oncall_plugin_sdk::config::Settings;
use emu_oncall_plugin_sdk::http::Request;
use emu_oncall_plugin_sdk::inbound::{button_action, outcome_text, BUTTONS};
use emu_oncall_plugin_sdk::{
    export, permanent, Channel, Config, Failure, InboundEvent, InboundReply, InboundRequest,
    Notification, Outcome, Plugin, PluginInfo, Receipt,
};
use serde_json::{json, Value};

pub struct Ntfy;

const DEFAULT_SERVER: &str = "https://ntfy.sh";

/// Pages wake people up (5 = urgent); the rest stay quieter.
fn priority(channel: &Channel) -> u8 {
    match channel {
        Channel::Sms | Channel::Call => 5,
        Channel::Push => 4,
        Channel::Shift | Channel::Test => 3,
    }
}

fn title(channel: &Channel) -> &'static str {
    match channel {
        Channel::Sms | Channel::Call | Channel::Push => "Grafana OnCall alert",
        Channel::Shift => "Grafana OnCall shift",
        Channel::Test => "Grafana OnCall test",
    }
}

pub fn message(topic: &str, notification: &Notification) -> Value {
    let mut message = json!({
        "topic": topic,
        "title": title(&notification.channel),
        "message": notification.message,
        "priority": priority(&notification.channel),
        "tags": [notification.channel.as_str()],
    });
    let page = matches!(
        notification.channel,
        Channel::Sms | Channel::Call | Channel::Push
    );
    if let (Some(reply_url), true) = (&notification.reply_url, page) {
        // `clear`: the notification goes away once a button is pressed.
        message["actions"] = BUTTONS
            .iter()
            .map(|(path, label)| {
                json!({"action": "http", "label": label, "url": format!("{reply_url}/{path}"),
                       "method": "POST", "clear": true})
            })
            .collect();
    }
    message
}

impl Plugin for Ntfy {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "ntfy".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            channels: Channel::all(),
        }
    }

    fn validate_config(config: Config) -> Result<(), String> {
        let settings = Settings::new(&config);
        if settings.get("server").is_some() {
            settings.url("server")?;
        }
        if settings.get("token").is_some() && settings.get("user").is_some() {
            return Err("set either `token` or `user`/`password`, not both".to_owned());
        }
        if settings.get("user").is_some() {
            settings.require("password")?;
        }
        Ok(())
    }

    fn notify(config: Config, notification: Notification) -> Result<Receipt, Failure> {
        let settings = Settings::new(&config);
        let server = settings
            .get_or("server", DEFAULT_SERVER)
            .trim_end_matches('/');
        let attribute = settings.get_or("topic_attribute", "ntfy_topic");
        let topic = notification
            .recipient
            .attribute(attribute)
            .or_else(|| settings.get("topic"))
            .ok_or_else(|| {
                permanent(format!(
                    "{} has no `{attribute}` attribute and no default `topic` is set",
                    notification.recipient.email
                ))
            })?;
        let mut request = Request::post(format!("{server}/")).json(&message(topic, &notification));
        if let Some(token) = settings.get("token") {
            request = request.header("Authorization", format!("Bearer {token}"));
        } else if let (Some(user), Some(password)) =
            (settings.get("user"), settings.get("password"))
        {
            request = request.basic_auth(user, password);
        }
        let response = request.send()?;
        response.check()?;
        let answer: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        Ok(Receipt {
            provider_id: answer["id"].as_str().map(str::to_owned),
            detail: Some(format!("HTTP {}", response.status)),
        })
    }

    /// A button press from the person's ntfy app. ntfy does not sign it: the host has
    /// checked the reply URL's own signature, which only the page's buttons carry.
    fn handle_inbound(
        _config: Config,
        request: InboundRequest,
        outcomes: Vec<Outcome>,
    ) -> Result<InboundReply, String> {
        if let Some(text) = outcome_text(&outcomes) {
            return Ok(InboundReply::text(200, &text));
        }
        let (Some(action), Some(_)) = (button_action(&request.path), &request.notification) else {
            return Ok(InboundReply::text(404, "not an ntfy button"));
        };
        Ok(InboundReply::text(200, "One moment.")
            .with_events(vec![InboundEvent::act(action, "ntfy button")]))
    }
}

export!(Ntfy);
