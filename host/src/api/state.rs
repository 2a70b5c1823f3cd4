use std::sync::Arc;

use hyper::header::HOST;
use hyper::HeaderMap;

use crate::config::{LiveConfig, SharedConfig};
use crate::delivery::Workers;
use crate::metrics::Metrics;
use crate::plugins::PluginRegistry;
use crate::store::{Store, StoreError};

/// What every request handler shares. Built by `app`, which also starts every
/// background loop; this spawns nothing.
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
        workers: Arc<Workers>,
    ) -> Self {
        AppState {
            config,
            store,
            metrics,
            workers,
            web_secret: tokio::sync::OnceCell::new(),
        }
    }

    /// The configuration now (it may be reloaded while the server runs).
    pub fn config(&self) -> Arc<LiveConfig> {
        self.config.get()
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
