//! Sending a message that is not stored: a verification code. Its text must not be kept
//! (the code is stored only hashed), and a code that arrives late is useless, so there is
//! one failover pass through the channel's route and the person sees the outcome at once.

use chrono::Utc;
use uuid::Uuid;

use super::{message, route, Deliverer};
use crate::plugins::{loaded_channel, Outcome, WitNotification};
use crate::store::notifications::Channel;
use crate::store::users::User;

impl Deliverer {
    /// Sends `text` to `recipient` (whose phone number is the one to reach) through the
    /// plugins of `channel`'s route, first success wins. Returns the plugin that took it.
    pub async fn send_unstored(
        &self,
        channel: Channel,
        recipient: &User,
        text: &str,
    ) -> Result<String, String> {
        let plan = route::plan(&self.config(), &self.registry, channel, Some(recipient));
        if plan.plugins.is_empty() {
            return Err(plan.waiting_reason());
        }
        let id = Uuid::new_v4();
        let wit = WitNotification {
            id: id.to_string(),
            channel: loaded_channel(channel),
            recipient: message::recipient(recipient),
            message: text.to_owned(),
            alert_group: None,
            attempt: 1,
            created_at: Utc::now().to_rfc3339(),
        };
        let mut failures = Vec::new();
        for plugin in &plan.plugins {
            let outcome = plugin.notify(&wit).await;
            match &outcome {
                Outcome::Delivered(_) => {
                    self.metrics.attempt(&plugin.name, "delivered");
                    tracing::info!(unstored = %id, plugin = %plugin.name, %channel, "unstored message delivered");
                    return Ok(plugin.name.clone());
                }
                Outcome::Retryable(error) | Outcome::Permanent(error) => {
                    let label = if matches!(outcome, Outcome::Retryable(_)) {
                        "retryable"
                    } else {
                        "permanent"
                    };
                    self.metrics.attempt(&plugin.name, label);
                    tracing::warn!(unstored = %id, plugin = %plugin.name, %channel, %error, "unstored message not delivered");
                    failures.push(format!("{}: {error}", plugin.name));
                }
            }
        }
        Err(failures.join("; "))
    }
}
