//! Delivering a committed notification through the plugins its route names.

mod message;
mod route;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use uuid::Uuid;

use crate::config::{Config, RouteMode};
use crate::metrics::Metrics;
use crate::plugins::{LoadedPlugin, Outcome, PluginRegistry};
use crate::store::attempts::{NewAttempt, Settlement};
use crate::store::notifications::Notification;
use crate::store::{Store, StoreError};

pub use route::Plan;

/// How long a replica may hold a notification for one round before another may take it.
const LEASE_SECS: i32 = 120;
/// When no plugin can take a channel, look again after this long.
const WAITING_RETRY: Duration = Duration::from_secs(30);

/// Where a notification stands after a delivery round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoundResult {
    Delivered,
    /// Every plugin of the route failed permanently.
    Dead(String),
    /// A retryable failure: tried again later.
    Retrying(String),
    /// No plugin could take it now (none loaded, or another replica holds it).
    Waiting(String),
}

#[derive(Clone)]
pub struct Deliverer {
    store: Store,
    registry: Arc<PluginRegistry>,
    metrics: Arc<Metrics>,
    config: Arc<Config>,
    owner: Arc<str>,
}

fn backoff(attempt: i32) -> Duration {
    let exponent = u32::try_from(attempt.saturating_sub(1)).unwrap_or(0).min(7);
    Duration::from_secs(30 * 2u64.pow(exponent)).min(Duration::from_secs(3600))
}

impl Deliverer {
    pub fn new(
        store: Store,
        registry: Arc<PluginRegistry>,
        metrics: Arc<Metrics>,
        config: Arc<Config>,
    ) -> Self {
        let owner = format!("{}-{}", hostname(), std::process::id());
        Deliverer {
            store,
            registry,
            metrics,
            config,
            owner: Arc::from(owner),
        }
    }

    pub fn registry(&self) -> &Arc<PluginRegistry> {
        &self.registry
    }

    /// Runs one delivery round for the notification `id`.
    pub async fn deliver(&self, id: Uuid) -> Result<RoundResult, StoreError> {
        let Some(notification) = self.store.get_notification(id).await? else {
            return Ok(RoundResult::Waiting(format!("notification {id} not found")));
        };
        let user = match &notification.user_id {
            Some(user_id) => self.store.find_user(user_id).await?,
            None => None,
        };
        let plan = route::plan(
            &self.config,
            &self.registry,
            notification.channel,
            user.as_ref(),
        );
        if plan.plugins.is_empty() {
            let reason = plan.waiting_reason();
            self.store
                .settle_notification(
                    id,
                    Settlement::Waiting {
                        reason: &reason,
                        retry_at: Utc::now() + WAITING_RETRY,
                    },
                )
                .await?;
            tracing::warn!(notification = %id, channel = %notification.channel, %reason, "notification waits: no plugin can deliver it");
            return Ok(RoundResult::Waiting(reason));
        }
        let Some(attempt) = self
            .store
            .claim_notification(id, &self.owner, LEASE_SECS)
            .await?
        else {
            return Ok(RoundResult::Waiting(
                "another delivery round holds it".to_owned(),
            ));
        };
        let message = message::to_wit(&notification, user.as_ref(), attempt);
        let result = match plan.mode {
            RouteMode::Failover => {
                self.failover(&notification, &plan.plugins, &message, attempt)
                    .await?
            }
            RouteMode::Fanout => {
                self.fanout(&notification, &plan.plugins, &message, attempt)
                    .await?
            }
        };
        // A delivered round was settled where it succeeded, with the plugin's name.
        let settlement = match &result {
            RoundResult::Delivered => None,
            RoundResult::Dead(error) => Some(Settlement::Dead { error }),
            RoundResult::Retrying(error) | RoundResult::Waiting(error) => Some(Settlement::Retry {
                error,
                retry_at: Utc::now() + backoff(attempt),
            }),
        };
        if let Some(settlement) = settlement {
            self.store.settle_notification(id, settlement).await?;
        }
        Ok(result)
    }

    async fn attempt(
        &self,
        notification: &Notification,
        plugin: &LoadedPlugin,
        message: &crate::plugins::WitNotification,
        attempt: i32,
    ) -> Result<Outcome, StoreError> {
        let started = Instant::now();
        let outcome = plugin.notify(message).await;
        let duration_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        let (label, error, receipt) = match &outcome {
            Outcome::Delivered(receipt) => (
                "delivered",
                None,
                receipt.detail.clone().or(receipt.provider_id.clone()),
            ),
            Outcome::Retryable(error) => ("retryable", Some(error.as_str()), None),
            Outcome::Permanent(error) => ("permanent", Some(error.as_str()), None),
        };
        self.metrics.attempt(&plugin.name, label);
        match &outcome {
            Outcome::Delivered(_) => {
                tracing::info!(notification = %notification.id, plugin = %plugin.name, attempt, duration_ms, "delivered")
            }
            _ => {
                tracing::warn!(notification = %notification.id, plugin = %plugin.name, attempt, duration_ms, outcome = label, error = error.unwrap_or(""), "delivery attempt failed")
            }
        }
        self.store
            .record_attempt(NewAttempt {
                notification_id: notification.id,
                attempt,
                plugin: &plugin.name,
                plugin_version: &plugin.info.version,
                outcome: label,
                error,
                receipt: receipt.as_deref(),
                duration_ms,
            })
            .await?;
        Ok(outcome)
    }

    /// The first plugin that delivers wins; a permanent failure moves on to the next, a
    /// retryable one ends the round (the same plugin is tried again later).
    async fn failover(
        &self,
        notification: &Notification,
        plugins: &[Arc<LoadedPlugin>],
        message: &crate::plugins::WitNotification,
        attempt: i32,
    ) -> Result<RoundResult, StoreError> {
        let mut failures = Vec::new();
        for plugin in plugins {
            match self.attempt(notification, plugin, message, attempt).await? {
                Outcome::Delivered(_) => {
                    self.store
                        .settle_notification(
                            notification.id,
                            Settlement::Delivered { by: &plugin.name },
                        )
                        .await?;
                    return Ok(RoundResult::Delivered);
                }
                Outcome::Retryable(error) => {
                    return Ok(RoundResult::Retrying(format!("{}: {error}", plugin.name)));
                }
                Outcome::Permanent(error) => failures.push(format!("{}: {error}", plugin.name)),
            }
        }
        Ok(RoundResult::Dead(failures.join("; ")))
    }

    /// Every plugin gets it; those that already delivered in an earlier round are
    /// skipped, so a retry reaches only the ones that failed.
    async fn fanout(
        &self,
        notification: &Notification,
        plugins: &[Arc<LoadedPlugin>],
        message: &crate::plugins::WitNotification,
        attempt: i32,
    ) -> Result<RoundResult, StoreError> {
        let done = self.store.delivered_by_plugins(notification.id).await?;
        let pending: Vec<&Arc<LoadedPlugin>> = plugins
            .iter()
            .filter(|plugin| !done.contains(&plugin.name))
            .collect();
        // Each plugin has its own deadline; running them together keeps one slow channel
        // from delaying the others.
        let outcomes = futures::future::join_all(
            pending
                .iter()
                .map(|plugin| self.attempt(notification, plugin, message, attempt)),
        )
        .await;
        let mut delivered: Vec<String> = done;
        let mut retryable = Vec::new();
        let mut permanent = Vec::new();
        for (plugin, outcome) in pending.iter().zip(outcomes) {
            match outcome? {
                Outcome::Delivered(_) => delivered.push(plugin.name.clone()),
                Outcome::Retryable(error) => retryable.push(format!("{}: {error}", plugin.name)),
                Outcome::Permanent(error) => permanent.push(format!("{}: {error}", plugin.name)),
            }
        }
        if !retryable.is_empty() {
            return Ok(RoundResult::Retrying(retryable.join("; ")));
        }
        if delivered.is_empty() {
            return Ok(RoundResult::Dead(permanent.join("; ")));
        }
        self.store
            .settle_notification(
                notification.id,
                Settlement::Delivered {
                    by: &delivered.join(","),
                },
            )
            .await?;
        Ok(RoundResult::Delivered)
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "emu-oncall".to_owned())
}
