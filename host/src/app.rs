//! Start-up: database, schema, listener, in that order, each failure said plainly.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::api::{AppState, Server};
use crate::config::{Config, ConfigSource, SharedConfig};
use crate::metrics::Metrics;
use crate::plugins::PluginRegistry;
use crate::reload::Reloader;
use crate::store::{migrations, Store};

/// Connects, migrates and binds; the returned server is ready to run.
pub async fn prepare(config: Config) -> anyhow::Result<Server> {
    prepare_reloadable(config, None).await
}

/// As `prepare`, and with `source` the configuration is read again on SIGHUP and when
/// its file changes.
pub async fn prepare_reloadable(
    config: Config,
    source: Option<ConfigSource>,
) -> anyhow::Result<Server> {
    config.check_can_serve()?;
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
    let store = connect_and_migrate(&config).await?;
    let shared = SharedConfig::new(config);
    let config = shared.get();
    let metrics = Arc::new(Metrics::new());
    // The key lives in PostgreSQL, not beside the artifacts: whoever can write the cache
    // directory still cannot make the server load native code of their own.
    let cache_key = match store.web_secret("plugin-cache").await {
        Ok(key) => Some(key),
        Err(err) => {
            tracing::warn!(error = %err, "no plugin cache key: plugins are compiled at every start");
            None
        }
    };
    let registry = Arc::new(
        PluginRegistry::new(&config, metrics.clone(), cache_key).context("plugin engine")?,
    );
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
    let (stop_background, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(crate::plugins::PluginWatcher::start(registry.clone()).run(stopped));
    let state = Arc::new(AppState::new(
        shared.clone(),
        store.clone(),
        metrics,
        registry,
    )?);
    tokio::spawn(crate::heartbeat::watchdog(
        store,
        shared.clone(),
        state.workers.clone(),
        stop_background.subscribe(),
    ));
    let poller = crate::schedules::Poller::new(
        state.store.clone(),
        shared.clone(),
        state.metrics.clone(),
        state.workers.clone(),
    )
    .context("schedule poller")?;
    tokio::spawn(poller.run(stop_background.subscribe()));
    if let Some(source) = source {
        let reloader = Reloader::start(source, shared, state.registry().clone());
        tokio::spawn(reloader.run(stop_background.subscribe()));
    }
    let server = Server::bind(state, stop_background).await?;
    tracing::info!(
        addr = %server.local_addr()?,
        version = env!("CARGO_PKG_VERSION"),
        "emu-oncall listening"
    );
    Ok(server)
}

/// Waits for the database (bounded by `db.connect_timeout_secs`) and applies migrations.
pub async fn connect_and_migrate(config: &Config) -> anyhow::Result<Store> {
    let store = Store::new(&config.db).context("db")?;
    store
        .wait_until_reachable(Duration::from_secs(config.db.connect_timeout_secs))
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
