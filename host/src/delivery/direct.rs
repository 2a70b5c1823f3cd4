//! Sending a message that is not stored: a verification code, or the notice to a number
//! that was replaced. A code's text must not be kept (it is stored only hashed), and a
//! code that arrives late is useless, so there is one failover pass through the channel's
//! route and the person sees the outcome at once.

use chrono::Utc;
use uuid::Uuid;

use super::{message, route, Deliverer};
use crate::model::AttemptOutcome;
use crate::model::Channel;
use crate::plugins::Notification as PluginNotification;
use crate::store::users::User;

/// Why an unstored message did not go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotSent {
    /// Every plugin refused it for good (a number the provider rejects, say), rather
    /// than no plugin being there or one failing for now.
    pub permanent: bool,
    /// The sandbox cut a plugin's call off (its time ran out, say) before it said how it
    /// went: the provider may have taken the message. A failure the plugin reports (the
    /// provider answered 503, the connection was refused) is taken at its word.
    pub maybe_sent: bool,
    /// What the plugins said, with phone numbers masked and the hidden parts removed
    /// (`LoadedPlugin::notify_hiding` cleans every error it returns).
    pub reason: String,
}

impl Deliverer {
    /// Sends `text` to `recipient` (whose phone number is the one to reach) through the
    /// plugins of `channel`'s route, first success wins. Returns the plugin that took it.
    /// `hide` lists parts of `text` that must not reach the logs through an error.
    pub async fn send_unstored(
        &self,
        channel: Channel,
        recipient: &User,
        text: &str,
        hide: &[&str],
    ) -> Result<String, NotSent> {
        let plan = route::plan(&self.config(), &self.registry, channel, Some(recipient));
        if plan.plugins.is_empty() {
            return Err(NotSent {
                permanent: false,
                maybe_sent: false,
                reason: plan.waiting_reason(),
            });
        }
        let id = Uuid::new_v4();
        let message = PluginNotification {
            id: id.to_string(),
            channel,
            recipient: message::recipient(recipient),
            message: text.to_owned(),
            alert_group: None,
            attempt: 1,
            created_at: Utc::now().to_rfc3339(),
            // Unstored: nothing a provider's call back could be matched to.
            reply_url: None,
            reply_code: None,
        };
        let mut failures = Vec::new();
        let mut permanent = true;
        let mut maybe_sent = false;
        for plugin in &plan.plugins {
            let attempted = plugin.notify_hiding(&message, hide).await;
            let outcome = attempted.outcome;
            self.metrics.attempt(&plugin.name, &outcome);
            match &outcome {
                AttemptOutcome::Delivered(_) => {
                    tracing::info!(unstored = %id, plugin = %plugin.name, %channel, "unstored message delivered");
                    return Ok(plugin.name.clone());
                }
                AttemptOutcome::Retryable(error) | AttemptOutcome::Permanent(error) => {
                    maybe_sent |= attempted.cut_off;
                    if matches!(outcome, AttemptOutcome::Retryable(_)) {
                        permanent = false;
                    }
                    tracing::warn!(unstored = %id, plugin = %plugin.name, %channel, %error, "unstored message not delivered");
                    failures.push(format!("{}: {error}", plugin.name));
                }
            }
        }
        Err(NotSent {
            permanent,
            maybe_sent,
            reason: failures.join("; "),
        })
    }
}
