//! JSON logs through tracing, to stdout or appended to `app.log_path`.

use std::fs::OpenOptions;
use std::sync::Mutex;

use anyhow::Context;
use tracing_subscriber::EnvFilter;

use crate::config::Config;

/// For `serve`: JSON lines at `app.log_level` (`debug` when `debug = true`).
pub fn init_server(config: &Config) -> anyhow::Result<()> {
    let level = if config.startup.debug {
        "debug"
    } else {
        config.startup.log_level.as_str()
    };
    let filter = EnvFilter::try_new(format!("{level},hyper=info,tokio_postgres=info"))
        .context("app.log_level")?;
    let builder = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_env_filter(filter);
    let path = config.startup.log_path.trim();
    let result = if path.is_empty() {
        builder.with_writer(std::io::stdout).try_init()
    } else {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("app.log_path: cannot open {path} for appending"))?;
        builder.with_writer(Mutex::new(file)).try_init()
    };
    result.map_err(|err| anyhow::anyhow!("cannot install the logger: {err}"))
}

/// For the other commands: readable lines on stderr, at `level` (`warn` keeps them quiet).
pub fn init_cli(level: &str) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("warn")))
        .with_writer(std::io::stderr)
        .try_init();
}
