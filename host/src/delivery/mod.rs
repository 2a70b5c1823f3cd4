//! Delivering committed notifications through the plugins their route names: one round
//! at a time, under a lease in PostgreSQL, so replicas never deliver the same one twice
//! and a crashed replica's work is taken over.

mod backoff;
mod callback;
mod direct;
mod message;
mod route;
mod worker;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use uuid::Uuid;

use crate::config::{Config, RouteMode, SharedConfig};
use crate::incidents::{AlertGroupDetails, IncidentDetails};
use crate::metrics::Metrics;
use crate::phone::mask_in_text;
use crate::plugins::{LoadedPlugin, Outcome, PluginRegistry, WitNotification};
use crate::store::attempts::{Claim, NewAttempt, Settlement};
use crate::store::notifications::{Channel, Notification};
use crate::store::{Store, StoreError};

pub use direct::NotSent;
pub use route::{plan, Plan};
pub use worker::Workers;

/// When no plugin can take a channel, look again after this long.
const WAITING_RETRY: Duration = Duration::from_secs(30);

/// Where a notification stands after a delivery round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoundResult {
    Delivered,
    /// Every plugin of the route failed permanently, or the retry budget ran out.
    Dead(String),
    /// A retryable failure: tried again later.
    Retrying(String),
    /// No plugin could take it now, or another replica holds it.
    Waiting(String),
}

#[derive(Clone)]
pub struct Deliverer {
    store: Store,
    registry: Arc<PluginRegistry>,
    metrics: Arc<Metrics>,
    config: SharedConfig,
    owner: Arc<str>,
    /// For `callback` schedules' POSTs.
    http: reqwest::Client,
    /// Set when `grafana.oncall.incident_details` is on.
    details: Option<Arc<IncidentDetails>>,
}

/// Who made an attempt, as recorded with it.
struct Sender<'a> {
    name: &'a str,
    version: &'a str,
}

impl Deliverer {
    pub fn new(
        store: Store,
        registry: Arc<PluginRegistry>,
        metrics: Arc<Metrics>,
        config: SharedConfig,
    ) -> anyhow::Result<Self> {
        let current = config.get();
        let http = crate::schedules::fetch::client(current.schedules.callback_timeout.0)?;
        let details = IncidentDetails::from_config(&current.grafana.oncall)?.map(Arc::new);
        let owner = format!(
            "{}-{}-{}",
            hostname(),
            std::process::id(),
            crate::ids::short_random()
        );
        Ok(Deliverer {
            store,
            registry,
            metrics,
            config,
            owner: Arc::from(owner),
            http,
            details,
        })
    }

    fn config(&self) -> Arc<Config> {
        self.config.get()
    }

    pub fn registry(&self) -> &Arc<PluginRegistry> {
        &self.registry
    }

    /// Who this replica is in the `lease_owner` column.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    fn lease(&self) -> Duration {
        self.config().delivery.lease.0
    }

    /// Claims the notification `id` and runs one round, if nobody else holds it.
    pub async fn deliver_now(&self, id: Uuid) -> Result<RoundResult, StoreError> {
        match self
            .store
            .claim_notification(id, &self.owner, self.lease())
            .await?
        {
            Some(claim) => self.round(claim).await,
            None => Ok(RoundResult::Waiting(
                "another delivery round holds it".to_owned(),
            )),
        }
    }

    /// One delivery round for a notification this replica has claimed.
    pub async fn round(&self, claim: Claim) -> Result<RoundResult, StoreError> {
        let Some(notification) = self.store.get_notification(claim.id).await? else {
            return Ok(RoundResult::Waiting(format!(
                "notification {} not found",
                claim.id
            )));
        };
        if let Some(callback) = callback::Callback::of(&notification) {
            return self
                .callback_round(&notification, &callback, claim.attempt)
                .await;
        }
        let user = match &notification.user_id {
            Some(user_id) => self.store.find_user(user_id).await?,
            None => None,
        };
        let plan = route::plan(
            &self.config(),
            &self.registry,
            notification.channel,
            user.as_ref(),
        );
        if plan.plugins.is_empty() {
            let reason = plan.waiting_reason();
            if let Some(expired) = self.past_max_age(&notification) {
                let error = format!("gave up after {expired}: {reason}");
                self.settle(claim.id, Settlement::Dead { error: &error })
                    .await?;
                return Ok(RoundResult::Dead(error));
            }
            tracing::warn!(notification = %claim.id, channel = %notification.channel, %reason, "notification waits: no plugin can deliver it");
            self.settle(
                claim.id,
                Settlement::Unclaim {
                    reason: &reason,
                    retry_at: Utc::now() + WAITING_RETRY,
                },
            )
            .await?;
            return Ok(RoundResult::Waiting(reason));
        }
        let alert_group = self.alert_group_for(&notification).await;
        let message = message::to_wit(&notification, user.as_ref(), claim.attempt, alert_group);
        let result = match plan.mode {
            RouteMode::Failover => {
                self.failover(&notification, &plan.plugins, &message, claim.attempt)
                    .await?
            }
            RouteMode::Fanout => {
                self.fanout(&notification, &plan.plugins, &message, claim.attempt)
                    .await?
            }
        };
        self.conclude(&notification, claim.attempt, result).await
    }

    /// Records how a round ended: a retryable failure is retried or given up, a dead
    /// one settled as dead. Delivered rounds settle where they succeed, with the
    /// sender's name; a lost lease is someone else's to settle.
    async fn conclude(
        &self,
        notification: &Notification,
        attempt: i32,
        result: RoundResult,
    ) -> Result<RoundResult, StoreError> {
        let result = match result {
            RoundResult::Retrying(error) => {
                self.retry_or_give_up(notification, attempt, error).await?
            }
            RoundResult::Dead(error) => {
                self.settle(notification.id, Settlement::Dead { error: &error })
                    .await?;
                RoundResult::Dead(error)
            }
            other => other,
        };
        if let RoundResult::Dead(error) = &result {
            // Provider errors quote the number they refused; logs keep numbers masked.
            let error = mask_in_text(error);
            tracing::error!(notification = %notification.id, attempt, %error, "notification is dead: nothing more will be tried unless retried by hand");
        }
        Ok(result)
    }

    /// The alert group a notification is about: from the OnCall API for the engine's
    /// texts (when incident details are on), from the message itself for pushes.
    async fn alert_group_for(&self, notification: &Notification) -> Option<AlertGroupDetails> {
        match notification.channel {
            Channel::Sms | Channel::Call => {
                self.details.as_ref()?.lookup(&notification.message).await
            }
            Channel::Push => message::push_alert_group(&notification.payload),
            Channel::Shift | Channel::Test => None,
        }
    }

    /// A round for a `callback` schedule's shift change: one POST, with the same
    /// retries, dead letters and attempt records as a plugin delivery.
    async fn callback_round(
        &self,
        notification: &Notification,
        callback: &callback::Callback<'_>,
        attempt: i32,
    ) -> Result<RoundResult, StoreError> {
        let config = self.config();
        let url = match callback.url(&config) {
            Ok(url) => url,
            Err(error) => {
                return self
                    .conclude(notification, attempt, RoundResult::Dead(error))
                    .await
            }
        };
        let started = Instant::now();
        let outcome = callback::post(&self.http, url, callback.body).await;
        let sender = Sender {
            name: callback::SENDER,
            version: env!("CARGO_PKG_VERSION"),
        };
        self.record(notification, &sender, attempt, &outcome, started)
            .await?;
        let result = match outcome {
            Outcome::Delivered(_) => {
                self.settle(
                    notification.id,
                    Settlement::Delivered {
                        by: callback::SENDER,
                    },
                )
                .await?;
                RoundResult::Delivered
            }
            Outcome::Retryable(error) => RoundResult::Retrying(error),
            Outcome::Permanent(error) => RoundResult::Dead(error),
        };
        self.conclude(notification, attempt, result).await
    }

    fn past_max_age(&self, notification: &Notification) -> Option<String> {
        let age = (Utc::now() - notification.age_base)
            .to_std()
            .unwrap_or_default();
        (age >= self.config().delivery.max_age.0).then(|| format!("{}s", age.as_secs()))
    }

    async fn retry_or_give_up(
        &self,
        notification: &Notification,
        attempt: i32,
        error: String,
    ) -> Result<RoundResult, StoreError> {
        let config = self.config();
        let delivery = &config.delivery;
        let used = attempt - notification.retry_base_attempts;
        let give_up = if used >= i32::try_from(delivery.max_attempts).unwrap_or(i32::MAX) {
            Some(format!("gave up after {used} attempts: {error}"))
        } else {
            self.past_max_age(notification)
                .map(|age| format!("gave up after {age}: {error}"))
        };
        if let Some(reason) = give_up {
            self.settle(notification.id, Settlement::Dead { error: &reason })
                .await?;
            return Ok(RoundResult::Dead(reason));
        }
        let wait = backoff::delay(used, delivery.retry_initial.0, delivery.retry_max.0);
        let retry_at = Utc::now() + wait;
        self.settle(
            notification.id,
            Settlement::Retry {
                error: &error,
                retry_at,
            },
        )
        .await?;
        tracing::info!(notification = %notification.id, attempt, retry_in_ms = wait.as_millis() as u64, "will retry");
        Ok(RoundResult::Retrying(error))
    }

    /// Settles a round, retrying through a database hiccup for as long as the lease
    /// lasts: giving up early would make another replica deliver it again.
    async fn settle(&self, id: Uuid, settlement: Settlement<'_>) -> Result<(), StoreError> {
        let deadline = Instant::now() + self.lease();
        let mut pause = Duration::from_millis(100);
        loop {
            match self
                .store
                .settle_notification(id, &self.owner, settlement)
                .await
            {
                Ok(true) => return Ok(()),
                Ok(false) => {
                    tracing::warn!(notification = %id, "lease lost before the round was recorded; another replica has it");
                    return Ok(());
                }
                Err(err) if err.is_unavailable() && Instant::now() + pause < deadline => {
                    tracing::warn!(notification = %id, error = %err, "cannot record the round yet; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// One plugin call. `renew` extends the lease first: a failover round's later
    /// plugins need it; the first call of a round starts right after the claim, and a
    /// call never outlasts a lease (the config requires it to exceed the plugin timeout).
    async fn attempt(
        &self,
        notification: &Notification,
        plugin: &LoadedPlugin,
        message: &WitNotification,
        attempt: i32,
        renew: bool,
    ) -> Result<Option<Outcome>, StoreError> {
        if renew
            && !self
                .store
                .renew_lease(notification.id, &self.owner, self.lease())
                .await?
        {
            tracing::warn!(notification = %notification.id, "lease lost; leaving the round to its new holder");
            return Ok(None);
        }
        let started = Instant::now();
        let outcome = plugin.notify(message).await;
        let sender = Sender {
            name: &plugin.name,
            version: &plugin.info.version,
        };
        self.record(notification, &sender, attempt, &outcome, started)
            .await?;
        Ok(Some(outcome))
    }

    /// Counts, logs and records one attempt.
    async fn record(
        &self,
        notification: &Notification,
        sender: &Sender<'_>,
        attempt: i32,
        outcome: &Outcome,
        started: Instant,
    ) -> Result<(), StoreError> {
        let duration_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        let (label, error, receipt) = match outcome {
            Outcome::Delivered(receipt) => (
                "delivered",
                None,
                receipt.detail.clone().or(receipt.provider_id.clone()),
            ),
            Outcome::Retryable(error) => ("retryable", Some(error.as_str()), None),
            Outcome::Permanent(error) => ("permanent", Some(error.as_str()), None),
        };
        self.metrics.attempt(sender.name, label);
        match outcome {
            Outcome::Delivered(_) => {
                let latency =
                    (Utc::now() - notification.created_at).num_milliseconds() as f64 / 1000.0;
                self.metrics
                    .delivered(notification.channel.as_str(), latency);
                tracing::info!(notification = %notification.id, plugin = sender.name, attempt, duration_ms, "delivered");
            }
            _ => {
                let shown = mask_in_text(error.unwrap_or(""));
                tracing::warn!(notification = %notification.id, plugin = sender.name, attempt, duration_ms, outcome = label, error = %shown, "delivery attempt failed")
            }
        }
        self.store
            .record_attempt(NewAttempt {
                notification_id: notification.id,
                attempt,
                plugin: sender.name,
                plugin_version: sender.version,
                outcome: label,
                error,
                receipt: receipt.as_deref(),
                duration_ms,
            })
            .await
    }

    /// The first plugin that delivers wins; a permanent failure moves on to the next, a
    /// retryable one ends the round (the same route is tried again later).
    async fn failover(
        &self,
        notification: &Notification,
        plugins: &[Arc<LoadedPlugin>],
        message: &WitNotification,
        attempt: i32,
    ) -> Result<RoundResult, StoreError> {
        let mut failures = Vec::new();
        for (index, plugin) in plugins.iter().enumerate() {
            match self
                .attempt(notification, plugin, message, attempt, index > 0)
                .await?
            {
                None => return Ok(RoundResult::Waiting("lease lost".to_owned())),
                Some(Outcome::Delivered(_)) => {
                    self.settle(notification.id, Settlement::Delivered { by: &plugin.name })
                        .await?;
                    return Ok(RoundResult::Delivered);
                }
                Some(Outcome::Retryable(error)) => {
                    return Ok(RoundResult::Retrying(format!("{}: {error}", plugin.name)))
                }
                Some(Outcome::Permanent(error)) => {
                    failures.push(format!("{}: {error}", plugin.name))
                }
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
        message: &WitNotification,
        attempt: i32,
    ) -> Result<RoundResult, StoreError> {
        // Nothing can have been delivered before the first round.
        let done = if attempt > 1 {
            self.store.delivered_by_plugins(notification.id).await?
        } else {
            Vec::new()
        };
        let pending: Vec<&Arc<LoadedPlugin>> = plugins
            .iter()
            .filter(|plugin| !done.contains(&plugin.name))
            .collect();
        // Each plugin has its own deadline; running them together keeps one slow channel
        // from delaying the others.
        let outcomes = futures::future::join_all(
            pending
                .iter()
                .map(|plugin| self.attempt(notification, plugin, message, attempt, false)),
        )
        .await;
        let mut delivered: Vec<String> = done;
        let mut retryable = Vec::new();
        let mut permanent = Vec::new();
        for (plugin, outcome) in pending.iter().zip(outcomes) {
            match outcome? {
                None => return Ok(RoundResult::Waiting("lease lost".to_owned())),
                Some(Outcome::Delivered(_)) => delivered.push(plugin.name.clone()),
                Some(Outcome::Retryable(error)) => {
                    retryable.push(format!("{}: {error}", plugin.name))
                }
                Some(Outcome::Permanent(error)) => {
                    permanent.push(format!("{}: {error}", plugin.name))
                }
            }
        }
        if !retryable.is_empty() {
            return Ok(RoundResult::Retrying(retryable.join("; ")));
        }
        if delivered.is_empty() {
            return Ok(RoundResult::Dead(permanent.join("; ")));
        }
        self.settle(
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
