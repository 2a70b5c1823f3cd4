//! A notification as JSON: what the webhook plugin posts, and what the templated
//! notifier's templates see (with a few names of their own added).

use serde_json::{json, Map, Value};

use crate::Notification;

fn object(pairs: &[(String, String)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(key, value)| (key.clone(), Value::String(value.clone())))
        .collect()
}

impl Notification {
    /// The notification with its recipient and alert group; attributes and labels as
    /// objects.
    pub fn to_json(&self) -> Value {
        let recipient = &self.recipient;
        let alert_group = self.alert_group.as_ref().map(|group| {
            json!({
                "id": group.id,
                "number": group.number,
                "title": group.title,
                "state": group.state,
                "integration": group.integration,
                "permalink": group.permalink,
                "labels": object(&group.labels),
                "started_at": group.started_at,
            })
        });
        json!({
            "id": self.id,
            "channel": self.channel.as_str(),
            "message": self.message,
            "recipient": {
                "id": recipient.id,
                "email": recipient.email,
                "username": recipient.username,
                "name": recipient.name,
                "phone_number": recipient.phone_number,
                "role": recipient.role,
                "attributes": object(&recipient.attributes),
            },
            "alert_group": alert_group,
            "attempt": self.attempt,
            "created_at": self.created_at,
        })
    }
}
