use hyper::header::HOST;
use hyper::HeaderMap;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::Store;

/// What every request handler shares.
pub struct AppState {
    pub config: Config,
    pub store: Store,
    pub metrics: Metrics,
}

impl AppState {
    pub fn new(config: Config, store: Store) -> Self {
        AppState {
            config,
            store,
            metrics: Metrics::new(),
        }
    }

    /// The public base URL, ending in `/`: `app.hostname`, or else the request's Host.
    pub fn public_base(&self, headers: &HeaderMap) -> String {
        if !self.config.app.hostname.is_empty() {
            return self.config.app.hostname.clone();
        }
        let host = headers
            .get(HOST)
            .and_then(|value| value.to_str().ok())
            .filter(|host| !host.is_empty() && !host.contains(['/', ' ', '?', '#']))
            .unwrap_or("localhost");
        format!("http://{host}/")
    }
}
