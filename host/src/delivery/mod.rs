//! Delivering committed notifications through the plugins their route names, under a
//! lease in PostgreSQL, so replicas never deliver the same one twice and a crashed
//! replica's work is taken over.
//!
//! A page's way through, one file each:
//! - [`claim`]: rounds are claimed in batches with everything they read (the polling
//!   loop), by id, or already at accept (the engine's request path, [`handoff`]);
//! - [`round`]: one notification through its plan (route, alert group, message);
//! - [`strategy`]: failover and fan-out, the plugin calls ([`call`]);
//! - [`settle`]: how the round ends, decided without a database (retry, dead, await);
//! - [`record`]: many rounds' attempt rows and settlements written back in one statement.
//!
//! [`worker`] runs the polling loop and the drain at shutdown.

mod backoff;
mod call;
mod callback;
mod claim;
mod direct;
mod handoff;
mod message;
mod record;
mod round;
mod route;
mod settle;
mod strategy;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use crate::config::{LiveConfig, SharedConfig, StartupConfig};
use crate::hooks::ReplyUrls;
use crate::incidents::IncidentDetails;
use crate::metrics::Metrics;
use crate::plugins::PluginRegistry;
use crate::store::claims::RetryBudget;
use crate::store::Store;

pub use callback::{SENDER as CALLBACK_SENDER, SOURCE as CALLBACK_SOURCE};
pub use direct::NotSent;
pub use handoff::{FirstRound, Reservation};
pub use message::PUSH_PAYLOAD_KEY;
pub use route::{plan, Plan};
pub use worker::Workers;

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
    /// Writes rounds' ends back in batches.
    recorder: record::Recorder,
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

impl Deliverer {
    /// Starts the write-back task, so it must run inside the server's runtime.
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
        let owner: Arc<str> = Arc::from(format!(
            "{}-{}-{}",
            hostname(),
            std::process::id(),
            crate::ids::short_random()
        ));
        let reply_urls = Arc::new(ReplyUrls::new(store.clone()));
        let recorder = record::Recorder::start(store.clone(), owner.clone());
        Ok(Deliverer {
            store,
            registry,
            metrics,
            config,
            owner,
            recorder,
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
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "emu-oncall".to_owned())
}
