//! The notification as the plugin contract carries it.

use serde_json::Value;

use crate::incidents::AlertGroupDetails;
use crate::plugins::{Notification as PluginNotification, Recipient};
use crate::store::notifications::Notification;
use crate::store::users::User;

fn attribute_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn push_severity(kind: &str) -> &'static str {
    match kind {
        "oncall.critical_message" => "critical",
        "oncall.info" => "info",
        _ => "normal",
    }
}

/// Where a push notification's payload keeps the engine's firebase message.
pub const PUSH_PAYLOAD_KEY: &str = "push";

/// The engine's firebase message inside a push notification's payload. Rows stored
/// before it moved under `push` hold the message itself.
pub fn engine_push(payload: &Value) -> &Value {
    payload.get(PUSH_PAYLOAD_KEY).unwrap_or(payload)
}

/// The alert group of a relayed push: its id and title from the firebase message, its
/// severity as the `severity` label. `None` for pushes about no alert group (info
/// pushes, test pushes).
pub fn push_alert_group(message: &Value) -> Option<AlertGroupDetails> {
    let data = message.get("data")?;
    let text = |key: &str| {
        data.get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|text| !text.is_empty())
    };
    let id = text("alertGroupId").or_else(|| text("alert_group_id"))?;
    let title = message
        .pointer("/apns/payload/aps/alert/title")
        .and_then(Value::as_str)
        .or_else(|| text("title"))
        .unwrap_or_default();
    let severity = push_severity(text("type").unwrap_or_default());
    Some(AlertGroupDetails {
        id: id.to_owned(),
        number: None,
        title: title.to_owned(),
        state: String::new(),
        integration: String::new(),
        permalink: String::new(),
        labels: vec![("severity".to_owned(), severity.to_owned())],
        started_at: None,
    })
}

pub fn recipient(user: &User) -> Recipient {
    Recipient {
        id: user.id.clone(),
        email: user.email.clone(),
        username: user.username.clone(),
        name: user.name.clone(),
        phone_number: user
            .phone_number
            .as_ref()
            .map(|number| number.e164().to_owned()),
        role: user.role.as_str().to_owned(),
        attributes: user
            .attributes
            .iter()
            .map(|(key, value)| (key.clone(), attribute_text(value)))
            .collect(),
    }
}

pub fn for_plugin(
    notification: &Notification,
    user: Option<&User>,
    attempt: i32,
    alert_group: Option<AlertGroupDetails>,
) -> PluginNotification {
    let recipient = match user {
        Some(user) => recipient(user),
        None => Recipient {
            email: notification.recipient_email.clone().unwrap_or_default(),
            ..Recipient::default()
        },
    };
    PluginNotification {
        id: notification.id.to_string(),
        channel: notification.channel,
        recipient,
        message: notification.message.clone(),
        alert_group,
        attempt: u32::try_from(attempt).unwrap_or(1).max(1),
        created_at: notification.created_at.to_rfc3339(),
        // Signed per plugin, just before each plugin's call.
        reply_url: None,
        reply_code: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_critical_push_carries_its_group_title_and_severity() {
        let message = serde_json::json!({
            "token": "device",
            "data": {"type": "oncall.critical_message", "alertGroupId": "IABC", "title": "data title"},
            "apns": {"payload": {"aps": {"alert": {"title": "Disk full", "body": "web-1"}}}}
        });
        let group = push_alert_group(&message).unwrap();
        assert_eq!(group.id, "IABC");
        assert_eq!(group.title, "Disk full");
        assert_eq!(
            group.labels,
            vec![("severity".to_owned(), "critical".to_owned())]
        );
    }

    #[test]
    fn the_recorded_test_push_and_info_pushes() {
        let recorded = serde_json::json!({"android": {"priority": "high"}, "data": {"alert_group_id": "1", "title": "Test push"}, "token": "registration-id"});
        let group = push_alert_group(&recorded).unwrap();
        assert_eq!(
            (group.id.as_str(), group.title.as_str()),
            ("1", "Test push")
        );
        assert_eq!(group.labels[0].1, "normal");
        let info = serde_json::json!({"token": "t", "data": {"type": "oncall.info", "title": "You are on call"}});
        assert_eq!(push_alert_group(&info), None);
    }
}
