use std::sync::Arc;

use hyper::header::HOST;
use hyper::HeaderMap;
use uuid::Uuid;

use crate::config::{Config, SharedConfig};
use crate::delivery::{Deliverer, RoundResult, Workers};
use crate::metrics::Metrics;
use crate::plugins::PluginRegistry;
use crate::store::{Store, StoreError};

/// What every request handler shares.
pub struct AppState {
    config: SharedConfig,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub workers: Arc<Workers>,
    /// The key pages sign cookies and forms with, read from the database once.
    web_secret: tokio::sync::OnceCell<Vec<u8>>,
}

impl AppState {
    pub fn new(
        config: SharedConfig,
        store: Store,
        metrics: Arc<Metrics>,
        registry: Arc<PluginRegistry>,
    ) -> anyhow::Result<Self> {
        let deliverer = Deliverer::new(store.clone(), registry, metrics.clone(), config.clone())?;
        let workers = Workers::start(deliverer, config.clone());
        Ok(AppState {
            config,
            store,
            metrics,
            workers,
            web_secret: tokio::sync::OnceCell::new(),
        })
    }

    /// The configuration now (it may be reloaded while the server runs).
    pub fn config(&self) -> Arc<Config> {
        self.config.get()
    }

    pub fn shared_config(&self) -> &SharedConfig {
        &self.config
    }

    pub fn registry(&self) -> &Arc<PluginRegistry> {
        self.workers.deliverer().registry()
    }

    /// The key every replica signs page cookies and forms with.
    pub async fn web_secret(&self) -> Result<&[u8], StoreError> {
        self.web_secret
            .get_or_try_init(|| self.store.web_secret("pages"))
            .await
            .map(Vec::as_slice)
    }

    /// Starts the first delivery round and waits for it up to
    /// `delivery.answer_within`; `None` when it is still running (it goes on).
    /// The round takes a place among `delivery.workers` like any other; when none frees
    /// up in time the polling loop is woken to deliver it.
    pub async fn deliver_within_answer_time(&self, id: Uuid) -> Option<RoundResult> {
        let wait = self.config().delivery.answer_within.0;
        let answer_by = tokio::time::Instant::now() + wait;
        let Some(slot) = self.workers.round_slot(wait).await else {
            tracing::info!(notification = %id, "every delivery worker is busy; the notification waits for the next free one");
            self.workers.wake();
            return None;
        };
        let deliverer = self.workers.deliverer().clone();
        let round = self.workers.spawn(async move {
            let _slot = slot;
            deliverer.deliver_now(id).await
        });
        match tokio::time::timeout_at(answer_by, round).await {
            Ok(Ok(Ok(result))) => Some(result),
            Ok(Ok(Err(err))) => {
                tracing::warn!(notification = %id, error = %err, "delivery round could not finish; the notification stays stored");
                None
            }
            Ok(Err(err)) => {
                tracing::error!(notification = %id, error = %err, "delivery task failed");
                None
            }
            Err(_) => {
                tracing::info!(notification = %id, "delivery still running at answer time; answering the engine now");
                None
            }
        }
    }

    /// The base of the links people open in a browser (`/api/v1/info/`'s `url`):
    /// `app.public_url`, else the same as [`Self::public_base`].
    pub fn pages_base(&self, headers: &HeaderMap) -> String {
        let public_url = self.config().app.public_url.clone();
        if public_url.is_empty() {
            self.public_base(headers)
        } else {
            public_url
        }
    }

    /// The public base URL, ending in `/`: `app.hostname`, or else the request's Host.
    pub fn public_base(&self, headers: &HeaderMap) -> String {
        if !self.config().app.hostname.is_empty() {
            return self.config().app.hostname.clone();
        }
        let host = headers
            .get(HOST)
            .and_then(|value| value.to_str().ok())
            .filter(|host| !host.is_empty() && !host.contains(['/', ' ', '?', '#']))
            .unwrap_or("localhost");
        format!("http://{host}/")
    }
}
