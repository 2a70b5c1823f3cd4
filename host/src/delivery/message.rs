//! The notification as the plugin contract carries it.

use crate::plugins::{loaded_channel, WitNotification, WitRecipient};
use crate::store::notifications::Notification;
use crate::store::users::User;

fn attribute_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

pub fn to_wit(notification: &Notification, user: Option<&User>, attempt: i32) -> WitNotification {
    let recipient = match user {
        Some(user) => WitRecipient {
            id: user.id.clone(),
            email: user.email.clone(),
            username: user.username.clone(),
            name: user.name.clone(),
            phone_number: user.phone_number.clone(),
            role: user.role.as_str().to_owned(),
            attributes: user
                .attributes
                .iter()
                .map(|(key, value)| (key.clone(), attribute_text(value)))
                .collect(),
        },
        None => WitRecipient {
            id: String::new(),
            email: notification.recipient_email.clone().unwrap_or_default(),
            username: String::new(),
            name: String::new(),
            phone_number: None,
            role: String::new(),
            attributes: Vec::new(),
        },
    };
    WitNotification {
        id: notification.id.to_string(),
        channel: loaded_channel(notification.channel),
        recipient,
        message: notification.message.clone(),
        alert_group: None,
        attempt: u32::try_from(attempt).unwrap_or(1).max(1),
        created_at: notification.created_at.to_rfc3339(),
    }
}
