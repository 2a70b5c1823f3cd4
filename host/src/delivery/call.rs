//! One plugin call inside a round: made only while the lease is ours, with the reply
//! URL (and, for an SMS, the reply code) a plugin that takes providers' calls hands its
//! provider.

use std::time::Instant;

use chrono::Utc;
use uuid::Uuid;

use super::Deliverer;
use crate::model::{AttemptOutcome, Channel};
use crate::plugins::{LoadedPlugin, Notification as PluginNotification};
use crate::store::claims::Claim;
use crate::store::StoreError;

impl Deliverer {
    /// One plugin call, made only while the claim is still ours: `None` when the lease
    /// was lost first. Waiting for a sandbox slot has no bound, so the lease is renewed
    /// while waiting and, unless it is still fresh, once the slot is ours: the call
    /// (bounded by `sandbox.timeout_ms`, shorter than the lease) then runs inside it.
    /// `renew` asks for that last renewal whatever the lease's age (a failover round's
    /// later plugins).
    pub(super) async fn call(
        &self,
        claim: Claim,
        plugin: &LoadedPlugin,
        message: &PluginNotification,
        as_channel: Channel,
        renew: bool,
    ) -> Result<Option<(AttemptOutcome, Instant)>, StoreError> {
        let slot = match self.slot_keeping_lease(claim, plugin).await? {
            None => return Ok(None),
            Some(Err(failure)) => {
                return Ok(Some((AttemptOutcome::Retryable(failure), Instant::now())))
            }
            Some(Ok(slot)) => slot,
        };
        let held = if renew {
            self.renew(claim).await?
        } else {
            self.renew_unless_fresh(claim, self.plugin_timeout).await?
        };
        if !held {
            return Ok(None);
        }
        let message = self.message_for(plugin, message, as_channel).await;
        let started = Instant::now();
        Ok(Some((plugin.notify_in(slot, &message).await, started)))
    }

    /// The message for `plugin`, with a reply URL signed for it when the plugin takes
    /// providers' calls and the server knows its public URL.
    async fn message_for(
        &self,
        plugin: &LoadedPlugin,
        message: &PluginNotification,
        as_channel: Channel,
    ) -> PluginNotification {
        let mut message = message.clone();
        message.channel = as_channel;
        let Some(base) = self.reply_base(plugin) else {
            return message;
        };
        let Ok(id) = Uuid::parse_str(&message.id) else {
            return message;
        };
        if as_channel == Channel::Sms {
            message.reply_code = self.reply_code(plugin, &message).await;
        }
        match self.reply_urls.signer().await {
            Ok(signer) => {
                let expiry = chrono::Duration::from_std(self.config().delivery.reply_url_expiry.0)
                    .unwrap_or_else(|_| chrono::Duration::hours(24));
                message.reply_url = Some(signer.url(&base, &plugin.name, id, Utc::now() + expiry));
            }
            Err(err) => {
                tracing::warn!(notification = %id, error = %err, "cannot sign a reply URL; the page goes without one");
            }
        }
        message
    }

    /// The code an SMS reply names this page's group by, when its recipient has other
    /// groups open through `plugin`; `None` when this is the only one (a bare "1" is
    /// then enough) or it cannot be told.
    async fn reply_code(
        &self,
        plugin: &LoadedPlugin,
        message: &PluginNotification,
    ) -> Option<String> {
        let group = &message.alert_group.as_ref()?.id;
        let user = &message.recipient.id;
        if user.is_empty() {
            return None;
        }
        let window = self.config().delivery.reply_url_expiry.0;
        let coded = async {
            let open = self.store.open_pages(user, &plugin.name, window).await?;
            let mut groups: Vec<String> = open
                .into_iter()
                .map(|page| page.alert_group_id)
                .filter(|open_group| open_group != group)
                .collect();
            if groups.is_empty() {
                return Ok(None);
            }
            groups.push(group.clone());
            self.store.reply_code(user, group, &groups).await.map(Some)
        };
        match coded.await {
            Ok(code) => code,
            Err(err) => {
                tracing::warn!(notification = %message.id, error = %err, "cannot give the page a reply code; it goes without one");
                None
            }
        }
    }

    /// The base of `plugin`'s reply URLs: `None` when it takes no providers' calls
    /// (contract 0.1.0) or the server has no public URL to build them on.
    pub(super) fn reply_base(&self, plugin: &LoadedPlugin) -> Option<String> {
        if !plugin.takes_inbound() {
            return None;
        }
        let config = self.config();
        let base = if config.app.public_url.is_empty() {
            &config.app.hostname
        } else {
            &config.app.public_url
        };
        (!base.is_empty()).then(|| base.clone())
    }
}
