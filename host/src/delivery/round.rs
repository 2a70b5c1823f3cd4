//! One delivery round of a claimed notification: its plan (the route, or the plugin an
//! announcement is pinned to), the alert group it is about, the message, the strategy
//! that calls the plugins, and the settlement written back.

use chrono::Utc;

use super::settle::{self, RetryPolicy, RoundEnd, Standing};
use super::{backoff, message, route, Deliverer, RoundResult};
use crate::config::RouteMode;
use crate::incidents::AlertGroupDetails;
use crate::model::phone::mask_in_text;
use crate::model::Channel;
use crate::plugins::Notification as PluginNotification;
use crate::store::attempts::NewAttempt;
use crate::store::claims::{Claim, Claimed};
use crate::store::notifications::Notification;
use crate::store::StoreError;

impl Deliverer {
    /// One delivery round for a notification this replica has claimed.
    pub async fn round(&self, claimed: Claimed) -> Result<RoundResult, StoreError> {
        let Claimed {
            claim,
            notification,
            user,
        } = claimed;
        if let Some(callback) = super::callback::Callback::of(&notification) {
            return self.callback_round(&notification, &callback, claim).await;
        }
        let plan = match crate::hooks::outcome::pinned_plugin(&notification.payload) {
            Some(plugin) => route::pinned(&self.registry, plugin, notification.channel),
            None => route::plan(
                &self.config(),
                &self.registry,
                notification.channel,
                user.as_ref(),
            ),
        };
        if plan.plugins.is_empty() {
            let reason = plan.waiting_reason();
            tracing::warn!(notification = %claim.id, channel = %notification.channel, %reason, "notification waits: no plugin can deliver it");
            let end = RoundEnd::NothingToTry(reason);
            return self.conclude(&notification, claim, end, Vec::new()).await;
        }
        let alert_group = self.alert_group_for(&notification).await;
        if let Some(group) = &alert_group {
            self.remember_alert_group(&notification, group).await;
        }
        let message = message::for_plugin(&notification, user.as_ref(), claim.attempt, alert_group);
        let (end, attempts) = match plan.mode {
            RouteMode::Failover => self.failover(&notification, claim, &plan, &message).await?,
            RouteMode::Fanout => self.fanout(&notification, claim, &plan, &message).await?,
        };
        self.conclude(&notification, claim, end, attempts).await
    }

    /// Settles the round as its end and the retry policy say, and writes it back with
    /// its attempt rows.
    pub(super) async fn conclude(
        &self,
        notification: &Notification,
        claim: Claim,
        end: RoundEnd,
        attempts: Vec<NewAttempt>,
    ) -> Result<RoundResult, StoreError> {
        let config = self.config();
        let delivery = &config.delivery;
        let policy = RetryPolicy {
            max_attempts: delivery.max_attempts,
            max_age: delivery.max_age.0,
            retry_initial: delivery.retry_initial.0,
            retry_max: delivery.retry_max.0,
        };
        let now = Utc::now();
        let standing = Standing {
            used: claim.attempt - notification.retry_base_attempts,
            age: (now - notification.age_base).to_std().unwrap_or_default(),
            now,
        };
        let (settlement, result) = settle::settle(end, &policy, standing, backoff::scattered);
        self.write_back(claim, settlement, attempts).await?;
        match &result {
            RoundResult::Dead(error) => {
                // Provider errors quote the number they refused; logs keep numbers masked.
                let error = mask_in_text(error);
                tracing::error!(notification = %notification.id, attempt = claim.attempt, %error, "notification is dead: nothing more will be tried unless retried by hand");
            }
            RoundResult::Retrying(_) => {
                tracing::info!(notification = %notification.id, attempt = claim.attempt, "will retry");
            }
            _ => {}
        }
        Ok(result)
    }

    /// The alert group a notification is about: from the OnCall API for the engine's
    /// texts (when incident details are on), from the message itself for pushes.
    async fn alert_group_for(&self, notification: &Notification) -> Option<AlertGroupDetails> {
        match notification.channel {
            Channel::Sms | Channel::Call => {
                let base = self.config().grafana.oncall.url.clone();
                self.details
                    .as_ref()?
                    .lookup(&base, &notification.message)
                    .await
            }
            Channel::Push => message::push_alert_group(message::engine_push(&notification.payload)),
            Channel::Shift | Channel::Test => None,
        }
    }

    /// Stores the group the page is about, for actions on it and the outcome everyone
    /// paged hears. Failing to is logged: the page still goes out.
    async fn remember_alert_group(&self, notification: &Notification, group: &AlertGroupDetails) {
        if notification.alert_group_id.as_deref() == Some(group.id.as_str()) {
            return;
        }
        if let Err(err) = self.store.set_alert_group(notification.id, &group.id).await {
            tracing::warn!(notification = %notification.id, error = %err, "cannot note the page's alert group; actions on this page will not find it");
        }
    }

    /// The notification as its plugin was handed it (without the reply URL), for a
    /// provider's call about it.
    pub async fn page_for_plugin(
        &self,
        notification: &Notification,
    ) -> Result<PluginNotification, StoreError> {
        let user = match &notification.user_id {
            Some(user_id) => self.store.find_user(user_id).await?,
            None => None,
        };
        Ok(message::for_plugin(
            notification,
            user.as_ref(),
            notification.attempts.max(1),
            None,
        ))
    }
}
