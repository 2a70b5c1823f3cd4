//! Delivering committed notifications through the plugins their route names: one round
//! at a time, under a lease in PostgreSQL, so replicas never deliver the same one twice
//! and a crashed replica's work is taken over.

mod backoff;
mod callback;
mod direct;
mod message;
mod retry;
mod route;
mod worker;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use uuid::Uuid;

use crate::config::{LiveConfig, RouteMode, SharedConfig, StartupConfig};
use crate::hooks::ReplyUrls;
use crate::incidents::{AlertGroupDetails, IncidentDetails};
use crate::metrics::Metrics;
use crate::model::phone::mask_in_text;
use crate::model::Channel;
use crate::model::{AttemptOutcome, Failure};
use crate::plugins::{
    LoadedPlugin, Notification as PluginNotification, PluginRegistry, SandboxSlot,
};
use crate::store::attempts::{Claim, NewAttempt, RetryBudget, Settlement};
use crate::store::notifications::Notification;
use crate::store::{Store, StoreError};

pub use callback::{SENDER as CALLBACK_SENDER, SOURCE as CALLBACK_SOURCE};
pub use direct::NotSent;
pub use message::PUSH_PAYLOAD_KEY;
pub use route::{plan, Plan};
pub use worker::Workers;

/// How often writing an attempt row is tried through a database hiccup.
const RECORD_TRIES: u32 = 3;

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
    /// Signs the reply URLs 0.2.0 plugins hand their providers.
    reply_urls: Arc<ReplyUrls>,
    /// `sandbox.timeout_ms` and `schedules.callback_timeout`, read at start-up.
    plugin_timeout: Duration,
    callback_timeout: Duration,
}

/// How long since the notification was accepted, or last queued by hand: what
/// `delivery.max_age` is held against.
fn age(notification: &Notification) -> Duration {
    (Utc::now() - notification.age_base)
        .to_std()
        .unwrap_or_default()
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
        startup: &StartupConfig,
    ) -> anyhow::Result<Self> {
        let current = config.get();
        let http = crate::http_client::client(startup.callback_timeout.0)?;
        let details = IncidentDetails::from_config(
            startup,
            &current.grafana.oncall.url,
            current.limits.max_response_bytes,
        )?
        .map(Arc::new);
        let owner = format!(
            "{}-{}-{}",
            hostname(),
            std::process::id(),
            crate::ids::short_random()
        );
        let reply_urls = Arc::new(ReplyUrls::new(store.clone()));
        Ok(Deliverer {
            store,
            registry,
            metrics,
            config,
            owner: Arc::from(owner),
            http,
            details,
            reply_urls,
            plugin_timeout: Duration::from_millis(startup.sandbox.timeout_ms),
            callback_timeout: startup.callback_timeout.0,
        })
    }

    fn config(&self) -> Arc<LiveConfig> {
        self.config.get()
    }

    pub fn registry(&self) -> &Arc<PluginRegistry> {
        &self.registry
    }

    pub fn reply_urls(&self) -> &Arc<ReplyUrls> {
        &self.reply_urls
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The OnCall API client of incident details, when the URL and token are set.
    pub fn oncall_api(&self) -> Option<crate::incidents::OnCallApi> {
        let base = self.config().grafana.oncall.url.clone();
        self.details.as_ref().map(|details| details.api_at(&base))
    }

    /// Who this replica is in the `lease_owner` column.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    fn lease(&self) -> Duration {
        self.config().delivery.lease.0
    }

    /// `delivery.max_attempts` and `delivery.max_age`, as the store applies them.
    pub fn budget(&self) -> RetryBudget {
        let config = self.config();
        RetryBudget {
            max_attempts: i32::try_from(config.delivery.max_attempts).unwrap_or(i32::MAX),
            max_age: config.delivery.max_age.0,
        }
    }

    /// Claims the notification `id` and runs one round, if nobody else holds it.
    pub async fn deliver_now(&self, id: Uuid) -> Result<RoundResult, StoreError> {
        match self
            .store
            .claim_notification(id, &self.owner, self.lease(), self.budget())
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
            return self.callback_round(&notification, &callback, claim).await;
        }
        let user = match &notification.user_id {
            Some(user_id) => self.store.find_user(user_id).await?,
            None => None,
        };
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
            if let Some(expired) = self.past_max_age(&notification) {
                let error = format!("gave up after {expired}: {reason}");
                self.settle(claim, Settlement::Dead { error: &error })
                    .await?;
                return Ok(RoundResult::Dead(error));
            }
            tracing::warn!(notification = %claim.id, channel = %notification.channel, %reason, "notification waits: no plugin can deliver it");
            self.settle(
                claim,
                Settlement::Unclaim {
                    reason: &reason,
                    retry_at: Utc::now() + WAITING_RETRY,
                },
            )
            .await?;
            return Ok(RoundResult::Waiting(reason));
        }
        let alert_group = self.alert_group_for(&notification).await;
        if let Some(group) = &alert_group {
            self.remember_alert_group(&notification, group).await;
        }
        let message = message::for_plugin(&notification, user.as_ref(), claim.attempt, alert_group);
        let result = match plan.mode {
            RouteMode::Failover => self.failover(&notification, claim, &plan, &message).await?,
            RouteMode::Fanout => self.fanout(&notification, claim, &plan, &message).await?,
        };
        self.conclude(&notification, claim, result).await
    }

    /// Records how a round ended: a retryable failure is retried or given up, a dead
    /// one settled as dead. Delivered rounds settle where they succeed, with the
    /// sender's name; a lost lease is someone else's to settle.
    async fn conclude(
        &self,
        notification: &Notification,
        claim: Claim,
        result: RoundResult,
    ) -> Result<RoundResult, StoreError> {
        let attempt = claim.attempt;
        let result = match result {
            RoundResult::Retrying(error) => {
                self.retry_or_give_up(notification, claim, error).await?
            }
            RoundResult::Dead(error) => {
                self.settle(claim, Settlement::Dead { error: &error })
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
    fn reply_base(&self, plugin: &LoadedPlugin) -> Option<String> {
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

    /// A round for a `callback` schedule's shift change: one POST, with the same
    /// retries, dead letters and attempt records as a plugin delivery.
    async fn callback_round(
        &self,
        notification: &Notification,
        callback: &callback::Callback<'_>,
        claim: Claim,
    ) -> Result<RoundResult, StoreError> {
        let config = self.config();
        let url = match callback.url(&config) {
            Ok(url) => url,
            Err(error) => {
                return self
                    .conclude(notification, claim, RoundResult::Dead(error))
                    .await
            }
        };
        // As for a plugin call: the POST runs inside a lease that is still ours.
        let fresh =
            claim.leased_at.elapsed() < self.lease().saturating_sub(self.callback_timeout) / 2;
        if !fresh && !self.renew(claim).await? {
            return Ok(RoundResult::Waiting("lease lost".to_owned()));
        }
        let started = Instant::now();
        let outcome = callback::post(&self.http, url, callback.body).await;
        let sender = Sender {
            name: callback::SENDER,
            version: env!("CARGO_PKG_VERSION"),
        };
        let result = match &outcome {
            AttemptOutcome::Delivered(_) => {
                self.settle(
                    claim,
                    Settlement::Delivered {
                        by: callback::SENDER,
                    },
                )
                .await?;
                RoundResult::Delivered
            }
            AttemptOutcome::Retryable(error) => RoundResult::Retrying(error.reason.clone()),
            AttemptOutcome::Permanent(error) => RoundResult::Dead(error.reason.clone()),
        };
        self.record(notification, &sender, claim.attempt, &outcome, started)
            .await;
        self.conclude(notification, claim, result).await
    }

    fn past_max_age(&self, notification: &Notification) -> Option<String> {
        let age = age(notification);
        (age >= self.config().delivery.max_age.0).then(|| format!("{}s", age.as_secs()))
    }

    async fn retry_or_give_up(
        &self,
        notification: &Notification,
        claim: Claim,
        error: String,
    ) -> Result<RoundResult, StoreError> {
        let attempt = claim.attempt;
        let config = self.config();
        let delivery = &config.delivery;
        let policy = retry::RetryPolicy {
            max_attempts: delivery.max_attempts,
            max_age: delivery.max_age.0,
            retry_initial: delivery.retry_initial.0,
            retry_max: delivery.retry_max.0,
        };
        let used = attempt - notification.retry_base_attempts;
        let wait = match retry::next_step(&policy, used, age(notification), &error) {
            retry::NextStep::GiveUp { reason } => {
                self.settle(claim, Settlement::Dead { error: &reason })
                    .await?;
                return Ok(RoundResult::Dead(reason));
            }
            retry::NextStep::Retry { base_delay } => backoff::scattered(base_delay),
        };
        let retry_at = Utc::now() + wait;
        self.settle(
            claim,
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
    async fn settle(&self, claim: Claim, settlement: Settlement<'_>) -> Result<(), StoreError> {
        let id = claim.id;
        let deadline = Instant::now() + self.lease();
        let mut pause = Duration::from_millis(100);
        loop {
            match self
                .store
                .settle_notification(claim, &self.owner, settlement)
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

    /// One plugin call, made only while the claim is still ours: `None` when the lease
    /// was lost first. Waiting for a sandbox slot has no bound, so the lease is renewed
    /// while waiting and, unless it is still fresh, once the slot is ours: the call
    /// (bounded by `sandbox.timeout_ms`, shorter than the lease) then runs inside it.
    /// `renew` asks for that last renewal whatever the lease's age (a failover round's
    /// later plugins).
    async fn call(
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
        let lease = self.lease();
        let timeout = self.plugin_timeout;
        // Fresh enough: what is left of it still covers the call with half the spare.
        let fresh = claim.leased_at.elapsed() < lease.saturating_sub(timeout) / 2;
        if (renew || !fresh) && !self.renew(claim).await? {
            return Ok(None);
        }
        let message = self.message_for(plugin, message, as_channel).await;
        let started = Instant::now();
        Ok(Some((plugin.notify_in(slot, &message).await, started)))
    }

    /// Waits for a place in the sandbox, renewing the lease every third of it meanwhile.
    /// `None` when the lease was lost while waiting.
    async fn slot_keeping_lease(
        &self,
        claim: Claim,
        plugin: &LoadedPlugin,
    ) -> Result<Option<Result<SandboxSlot, Failure>>, StoreError> {
        let waiting = plugin.sandbox_slot();
        tokio::pin!(waiting);
        loop {
            tokio::select! {
                slot = &mut waiting => {
                    return Ok(Some(slot.map_err(|err| Failure {
                        kind: err.kind(),
                        reason: err.to_string(),
                    })))
                }
                () = tokio::time::sleep(self.lease() / 3) => {
                    if !self.renew(claim).await? {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Extends the lease of `claim`; false, and logged, when it is no longer ours.
    async fn renew(&self, claim: Claim) -> Result<bool, StoreError> {
        let renewed = self
            .store
            .renew_lease(claim, &self.owner, self.lease())
            .await?;
        if !renewed {
            tracing::warn!(notification = %claim.id, attempt = claim.attempt, "lease lost; leaving the round to its new holder");
        }
        Ok(renewed)
    }

    /// Counts, logs and records one attempt. The attempt row is the round's history,
    /// not its outcome: failing to write it (after a few tries through a database
    /// hiccup) is logged and never undoes or repeats a delivery.
    async fn record(
        &self,
        notification: &Notification,
        sender: &Sender<'_>,
        attempt: i32,
        outcome: &AttemptOutcome,
        started: Instant,
    ) {
        let duration_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        let label = outcome.label();
        let error = outcome.failure().map(|failure| failure.reason.as_str());
        let (receipt, provider_id) = match outcome {
            AttemptOutcome::Delivered(receipt) => (
                receipt.detail.clone().or(receipt.provider_id.clone()),
                receipt.provider_id.clone(),
            ),
            _ => (None, None),
        };
        self.metrics.attempt(sender.name, outcome);
        match outcome {
            AttemptOutcome::Delivered(_) => {
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
        let row = NewAttempt {
            notification_id: notification.id,
            attempt,
            plugin: sender.name,
            plugin_version: sender.version,
            outcome: label,
            error,
            receipt: receipt.as_deref(),
            provider_id: provider_id.as_deref(),
            duration_ms,
        };
        let mut pause = Duration::from_millis(100);
        for tries_left in (0..RECORD_TRIES).rev() {
            match self.store.record_attempt(&row).await {
                Ok(()) => return,
                Err(err) if err.is_unavailable() && tries_left > 0 => {
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
                Err(err) => {
                    tracing::error!(notification = %notification.id, plugin = sender.name, attempt, outcome = label, error = %err, "cannot record the delivery attempt; its outcome stands");
                    return;
                }
            }
        }
    }

    /// The first plugin that delivers wins; a permanent failure moves on to the next, a
    /// retryable one ends the round (the same route is tried again later). With
    /// `confirm_within`, a plugin that takes providers' calls and delivered leaves the
    /// page awaiting a receipt or an action; if none comes in time (or a receipt says it
    /// did not get through), the next round starts at the next plugin.
    async fn failover(
        &self,
        notification: &Notification,
        claim: Claim,
        plan: &Plan,
        message: &PluginNotification,
    ) -> Result<RoundResult, StoreError> {
        let plugins = &plan.plugins;
        let start = usize::try_from(notification.route_position)
            .unwrap_or(0)
            .min(plugins.len().saturating_sub(1));
        let mut failures = Vec::new();
        for (index, plugin) in plugins.iter().enumerate().skip(start) {
            let as_channel = plan.as_channel.get(index).copied().unwrap_or(plan.channel);
            let Some((outcome, started)) = self
                .call(claim, plugin, message, as_channel, index > start)
                .await?
            else {
                return Ok(RoundResult::Waiting("lease lost".to_owned()));
            };
            // Wait for confirmation only where it can come, and where there is a next
            // plugin to move on to.
            let wait = plan
                .confirm_within
                .filter(|_| index + 1 < plugins.len() && self.reply_base(plugin).is_some());
            // A delivery is settled before its attempt row is written: nothing that
            // goes wrong with the bookkeeping may send the page again.
            let settled = match (&outcome, wait) {
                (AttemptOutcome::Delivered(_), None) => Some(
                    self.settle(claim, Settlement::Delivered { by: &plugin.name })
                        .await,
                ),
                (AttemptOutcome::Delivered(_), Some(wait)) => Some(
                    self.settle(
                        claim,
                        Settlement::Await {
                            by: &plugin.name,
                            until: Utc::now()
                                + chrono::Duration::from_std(wait)
                                    .unwrap_or_else(|_| chrono::Duration::minutes(1)),
                            next_position: i32::try_from(index + 1).unwrap_or(i32::MAX),
                        },
                    )
                    .await,
                ),
                _ => None,
            };
            self.record(
                notification,
                &Sender::of(plugin),
                claim.attempt,
                &outcome,
                started,
            )
            .await;
            match outcome {
                AttemptOutcome::Delivered(_) => {
                    settled.transpose()?;
                    return Ok(RoundResult::Delivered);
                }
                AttemptOutcome::Retryable(error) => {
                    return Ok(RoundResult::Retrying(format!("{}: {error}", plugin.name)))
                }
                AttemptOutcome::Permanent(error) => {
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
        claim: Claim,
        plan: &Plan,
        message: &PluginNotification,
    ) -> Result<RoundResult, StoreError> {
        // Nothing can have been delivered before the first round.
        // Who delivered in earlier rounds: their attempt rows, and the names the last
        // round kept on the notification in case a row could not be written.
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
        let pending: Vec<(&Arc<LoadedPlugin>, Channel)> = plan
            .plugins
            .iter()
            .zip(plan.as_channel.iter().copied())
            .filter(|(plugin, _)| !done.contains(&plugin.name))
            .collect();
        // Each plugin has its own deadline; running them together keeps one slow channel
        // from delaying the others.
        let calls = futures::future::join_all(
            pending
                .iter()
                .map(|(plugin, as_channel)| self.call(claim, plugin, message, *as_channel, false)),
        )
        .await;
        let mut delivered: Vec<String> = done;
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
            self.record(
                notification,
                &Sender::of(plugin),
                claim.attempt,
                &outcome,
                started,
            )
            .await;
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
        if lease_lost {
            return Ok(RoundResult::Waiting("lease lost".to_owned()));
        }
        if !retryable.is_empty() {
            if !delivered.is_empty() {
                self.store
                    .keep_delivered_by(claim, &self.owner, &delivered.join(","))
                    .await?;
            }
            return Ok(RoundResult::Retrying(retryable.join("; ")));
        }
        if delivered.is_empty() {
            return Ok(RoundResult::Dead(permanent.join("; ")));
        }
        self.settle(
            claim,
            Settlement::Delivered {
                by: &delivered.join(","),
            },
        )
        .await?;
        Ok(RoundResult::Delivered)
    }
}

impl<'a> Sender<'a> {
    fn of(plugin: &'a LoadedPlugin) -> Self {
        Sender {
            name: &plugin.name,
            version: &plugin.info.version,
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "emu-oncall".to_owned())
}
