//! How a route's plugins share a round: failover (one after another until one
//! delivers) or fan-out (all at once). Each returns what the calls came to and the
//! attempt rows; `settle` and `record` do the rest.

use std::sync::Arc;

use chrono::Utc;

use super::record::Sender;
use super::route::Plan;
use super::settle::{Awaiting, RoundEnd};
use super::Deliverer;
use crate::model::{AttemptOutcome, Channel};
use crate::plugins::{LoadedPlugin, Notification as PluginNotification};
use crate::store::attempts::NewAttempt;
use crate::store::claims::Claim;
use crate::store::notifications::Notification;
use crate::store::StoreError;

impl Deliverer {
    /// The first plugin that delivers wins; a permanent failure moves on to the next, a
    /// retryable one ends the round (the same route is tried again later). With
    /// `confirm_within`, a plugin that takes providers' calls and delivered leaves the
    /// page awaiting a receipt or an action; if none comes in time (or a receipt says it
    /// did not get through), the next round starts at the next plugin.
    pub(super) async fn failover(
        &self,
        notification: &Notification,
        claim: Claim,
        plan: &Plan,
        message: &PluginNotification,
    ) -> Result<(RoundEnd, Vec<NewAttempt>), StoreError> {
        let plugins = &plan.plugins;
        let start = usize::try_from(notification.route_position)
            .unwrap_or(0)
            .min(plugins.len().saturating_sub(1));
        let mut failures = Vec::new();
        let mut attempts = Vec::new();
        for (index, plugin) in plugins.iter().enumerate().skip(start) {
            let as_channel = plan.as_channel.get(index).copied().unwrap_or(plan.channel);
            let Some((outcome, started)) = self
                .call(claim, plugin, message, as_channel, index > start)
                .await?
            else {
                return Ok((RoundEnd::LeaseLost, attempts));
            };
            attempts.push(self.note_attempt(
                notification,
                &Sender::of(plugin),
                claim.attempt,
                &outcome,
                started,
            ));
            match outcome {
                AttemptOutcome::Delivered(_) => {
                    // Wait for confirmation only where it can come, and where there is
                    // a next plugin to move on to.
                    let awaiting = plan
                        .confirm_within
                        .filter(|_| index + 1 < plugins.len() && self.reply_base(plugin).is_some())
                        .map(|wait| Awaiting {
                            until: Utc::now()
                                + chrono::Duration::from_std(wait)
                                    .unwrap_or_else(|_| chrono::Duration::minutes(1)),
                            next_position: i32::try_from(index + 1).unwrap_or(i32::MAX),
                        });
                    let by = plugin.name.clone();
                    return Ok((RoundEnd::Delivered { by, awaiting }, attempts));
                }
                AttemptOutcome::Retryable(error) => {
                    let end = RoundEnd::Retryable {
                        error: format!("{}: {error}", plugin.name),
                        delivered_by: None,
                    };
                    return Ok((end, attempts));
                }
                AttemptOutcome::Permanent(error) => {
                    failures.push(format!("{}: {error}", plugin.name))
                }
            }
        }
        Ok((RoundEnd::Dead(failures.join("; ")), attempts))
    }

    /// Every plugin gets it; those that already delivered in an earlier round are
    /// skipped, so a retry reaches only the ones that failed.
    pub(super) async fn fanout(
        &self,
        notification: &Notification,
        claim: Claim,
        plan: &Plan,
        message: &PluginNotification,
    ) -> Result<(RoundEnd, Vec<NewAttempt>), StoreError> {
        let mut delivered = self.delivered_before(notification, claim).await?;
        let pending: Vec<(&Arc<LoadedPlugin>, Channel)> = plan
            .plugins
            .iter()
            .zip(plan.as_channel.iter().copied())
            .filter(|(plugin, _)| !delivered.contains(&plugin.name))
            .collect();
        // Each plugin has its own deadline; running them together keeps one slow channel
        // from delaying the others.
        let calls = futures::future::join_all(
            pending
                .iter()
                .map(|(plugin, as_channel)| self.call(claim, plugin, message, *as_channel, false)),
        )
        .await;
        let mut attempts = Vec::new();
        let mut retryable = Vec::new();
        let mut permanent = Vec::new();
        let mut lease_lost = false;
        // Every outcome is looked at: one plugin's trouble must not lose what the
        // others delivered.
        for ((plugin, _), call) in pending.iter().zip(calls) {
            let (outcome, started) = match call {
                Ok(Some(called)) => called,
                Ok(None) => {
                    lease_lost = true;
                    continue;
                }
                Err(err) => {
                    retryable.push(format!("{}: not tried: {err}", plugin.name));
                    continue;
                }
            };
            attempts.push(self.note_attempt(
                notification,
                &Sender::of(plugin),
                claim.attempt,
                &outcome,
                started,
            ));
            match outcome {
                AttemptOutcome::Delivered(_) => delivered.push(plugin.name.clone()),
                AttemptOutcome::Retryable(error) => {
                    retryable.push(format!("{}: {error}", plugin.name))
                }
                AttemptOutcome::Permanent(error) => {
                    permanent.push(format!("{}: {error}", plugin.name))
                }
            }
        }
        let end = if lease_lost {
            RoundEnd::LeaseLost
        } else if !retryable.is_empty() {
            RoundEnd::Retryable {
                error: retryable.join("; "),
                delivered_by: (!delivered.is_empty()).then(|| delivered.join(",")),
            }
        } else if delivered.is_empty() {
            RoundEnd::Dead(permanent.join("; "))
        } else {
            RoundEnd::Delivered {
                by: delivered.join(","),
                awaiting: None,
            }
        };
        Ok((end, attempts))
    }

    /// Who delivered in earlier rounds: their attempt rows, and the names the last
    /// round kept on the notification in case a row could not be written. Nothing can
    /// have been delivered before the first round.
    async fn delivered_before(
        &self,
        notification: &Notification,
        claim: Claim,
    ) -> Result<Vec<String>, StoreError> {
        let mut done = if claim.attempt > 1 {
            self.store.delivered_by_plugins(notification.id).await?
        } else {
            Vec::new()
        };
        for kept in notification
            .delivered_by
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .filter(|name| !name.is_empty())
        {
            if !done.iter().any(|name| name == kept) {
                done.push(kept.to_owned());
            }
        }
        Ok(done)
    }
}
