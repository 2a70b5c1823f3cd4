//! The composition root: builds every part (database, plugins, delivery, the HTTP
//! server), starts every background loop on one `TaskTracker`, and stops them all with
//! one `CancellationToken`. Nothing else in the crate spawns a long-lived task.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::TaskTracker;

use crate::api::{AppState, Server};
use crate::config::{Config, ConfigSource, SharedConfig};
use crate::delivery::{Deliverer, Workers};
use crate::metrics::Metrics;
use crate::plugins::{PluginRegistry, PluginWatcher};
use crate::reload::Reloader;
use crate::schedules::Poller;
use crate::store::{migrations, Store};

/// A server built and bound, its background loops running.
pub struct App {
    server: Server,
    state: Arc<AppState>,
    stop: CancellationToken,
    /// Cancels `stop` when the app is dropped without running, so its loops end too.
    _stop_on_drop: DropGuard,
}

impl App {
    #[cfg(feature = "test-support")]
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        self.server.local_addr()
    }

    /// Serves until `shutdown` completes. Then, in order: no new connections; open
    /// requests finish (bounded), while the polling loop still delivers what they
    /// accept; then the token stops every loop, every background task and delivery
    /// round finishes within `delivery.shutdown_grace`, and what is still held is
    /// handed back to the other replicas.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let App {
            server,
            state,
            stop,
            _stop_on_drop,
        } = self;
        // A child of the one token: the listener stops first, the loops once it drained.
        let stop_http = stop.child_token();
        let serving = server.run(stop_http.clone());
        tokio::pin!(serving);
        tokio::select! {
            () = &mut serving => {}
            () = shutdown => {
                stop_http.cancel();
                serving.await;
            }
        }
        stop.cancel();
        state.workers.finish().await;
        Ok(())
    }
}

/// Connects, migrates, binds and starts the background loops; the returned app is
/// serving once [`App::run`] is awaited.
pub async fn prepare(config: Config) -> anyhow::Result<App> {
    prepare_reloadable(config, None).await
}

/// As `prepare`, and with `source` the configuration is read again on SIGHUP and when
/// its file changes.
pub async fn prepare_reloadable(
    config: Config,
    source: Option<ConfigSource>,
) -> anyhow::Result<App> {
    config.check_can_serve()?;
    warn_about_unsafe_settings(&config);
    let store = connect_and_migrate(&config).await?;
    let metrics = Arc::new(Metrics::new());
    let registry = load_plugins(&config, &store, &metrics).await?;
    let Config { startup, live } = config;
    let shared = SharedConfig::new(live);

    let stop = CancellationToken::new();
    // From here on, leaving early (an error) stops whatever was started.
    let stop_on_drop = stop.clone().drop_guard();
    let tasks = TaskTracker::new();
    let deliverer = Deliverer::new(
        store.clone(),
        registry.clone(),
        metrics.clone(),
        shared.clone(),
        &startup,
    )?;
    let workers = Workers::new(
        deliverer,
        shared.clone(),
        tasks.clone(),
        startup.delivery_workers,
    );
    let state = Arc::new(AppState::new(
        shared.clone(),
        store.clone(),
        metrics.clone(),
        workers.clone(),
    ));
    let poller = Poller::new(
        store.clone(),
        shared.clone(),
        metrics,
        workers.clone(),
        startup.fetch_timeout.0,
    )
    .context("schedule poller")?;
    // Bound before any loop starts: a port in use fails start-up with nothing to stop.
    let server = Server::bind(state.clone(), startup.port).await?;

    tasks.spawn(PluginWatcher::start(registry.clone()).run(stop.clone()));
    tasks.spawn(workers.clone().poll(stop.clone()));
    tasks.spawn(crate::heartbeat::watchdog(
        store,
        shared.clone(),
        workers,
        stop.clone(),
    ));
    tasks.spawn(poller.run(stop.clone()));
    if let Some(source) = source {
        tasks.spawn(Reloader::start(source, startup, shared, registry).run(stop.clone()));
    }
    tracing::info!(
        addr = %server.local_addr()?,
        version = env!("CARGO_PKG_VERSION"),
        "emu-oncall listening"
    );
    Ok(App {
        server,
        state,
        _stop_on_drop: stop_on_drop,
        stop,
    })
}

fn warn_about_unsafe_settings(config: &Config) {
    if config.app.allow_any_token {
        tracing::warn!(
            "app.allow_any_token = true: ANY token is accepted from the engine; do not run this in production"
        );
    }
    for key in crate::config::tokens::weak_but_allowed(&config.app) {
        tracing::warn!(
            key,
            min_len = crate::config::tokens::MIN_TOKEN_LEN,
            "app.allow_weak_tokens = true: a short token guards this server; set a long random one"
        );
    }
    if config.app.admin_token.is_empty() {
        tracing::info!("app.admin_token is blank: the admin API is disabled");
    }
}

/// The plugin registry, with `app.plugins_dir` scanned once and every known series
/// of the metrics at zero.
async fn load_plugins(
    config: &Config,
    store: &Store,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<Arc<PluginRegistry>> {
    // The key lives in PostgreSQL, not beside the artifacts: whoever can write the cache
    // directory still cannot make the server load native code of their own.
    let cache_key = match store.web_secret("plugin-cache").await {
        Ok(key) => Some(key),
        Err(err) => {
            tracing::warn!(error = %err, "no plugin cache key: plugins are compiled at every start");
            None
        }
    };
    let registry =
        Arc::new(PluginRegistry::new(config, metrics.clone(), cache_key).context("plugin engine")?);
    registry.scan().await;
    let plugins: Vec<String> = registry
        .statuses()
        .into_iter()
        .map(|status| status.name)
        .collect();
    metrics.start_at_zero(
        plugins.iter().map(String::as_str),
        config.grafana.oncall.schedules.keys().map(String::as_str),
    );
    if config
        .grafana
        .oncall
        .schedules
        .values()
        .any(|schedule| schedule.transport == crate::config::ScheduleTransport::Callback)
    {
        metrics.plugin_known(crate::delivery::CALLBACK_SENDER);
    }
    Ok(registry)
}

/// Waits for the database (bounded by `db.connect_timeout_secs`) and applies migrations.
pub async fn connect_and_migrate(config: &Config) -> anyhow::Result<Store> {
    let store = Store::new(&config.startup.db).context("db")?;
    store
        .wait_until_reachable(Duration::from_secs(config.startup.db.connect_timeout_secs))
        .await
        .context("cannot reach PostgreSQL (check db.url or db.addr/db.port/db.user/db.dbname)")?;
    let applied = migrations::migrate(&store)
        .await
        .context("migrating the database")?;
    if !applied.is_empty() {
        tracing::info!(applied = ?applied, "database schema updated");
    }
    Ok(store)
}

/// Completes on the first SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {},
                    _ = terminate.recv() => {},
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot watch SIGTERM; only Ctrl-C stops the server");
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("stop signal received");
}
