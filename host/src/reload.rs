//! Reloading the configuration while the server runs, on SIGHUP and when the config
//! file changes: plugin maps, routes, schedules, limits, delivery and heartbeat
//! settings and tokens take effect; a broken file is refused with the reason logged
//! and the running configuration kept. Keys only read at start-up keep their running
//! value until the next restart, with a warning naming them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};

use crate::config::{changed_sections, Config, ConfigSource, SharedConfig, StartupConfig};
use crate::folder_watch::{watch_folder, FolderWatch};
use crate::plugins::PluginRegistry;

const DEBOUNCE: Duration = Duration::from_millis(200);

/// What a reload did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reloaded {
    /// Top-level sections whose values changed and now apply.
    pub applied: Vec<&'static str>,
    /// Keys that changed but are read only at start-up.
    pub needs_restart: Vec<&'static str>,
}

pub struct Reloader {
    source: ConfigSource,
    /// What the server started with; a reload never changes these.
    startup: StartupConfig,
    shared: SharedConfig,
    registry: Arc<PluginRegistry>,
    hangups: Option<tokio::signal::unix::Signal>,
    file_changed: tokio::sync::mpsc::Receiver<()>,
    _watch: Option<FolderWatch>,
}

impl Reloader {
    /// Listens for SIGHUP and watches the file at once, so a signal or an edit right
    /// after start-up is not missed (and SIGHUP no longer ends the process).
    /// `startup`: what the server started with; a reload never changes it.
    pub fn start(
        source: ConfigSource,
        startup: StartupConfig,
        shared: SharedConfig,
        registry: Arc<PluginRegistry>,
    ) -> Self {
        let hangups = match signal(SignalKind::hangup()) {
            Ok(stream) => Some(stream),
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGHUP; reload by editing the file");
                None
            }
        };
        let (file_events, file_changed) = tokio::sync::mpsc::channel::<()>(4);
        let watch = source
            .file
            .as_deref()
            .and_then(|file| watch_file(file, file_events));
        Reloader {
            source,
            startup,
            shared,
            registry,
            hangups,
            file_changed,
            _watch: watch,
        }
    }

    /// Reads the configuration again; on success it is live when this returns.
    pub async fn reload(&self) -> Result<Reloaded, String> {
        let read = self.source.load().map_err(|err| err.to_string())?;
        let old = self.shared.get();
        let needs_restart = self.startup.changed_in(&read.startup);
        // The rules that span keys (a lease longer than the plugin timeout, say) must
        // hold for what will run: the new live keys with the running start-up ones.
        let merged = Config {
            startup: self.startup.clone(),
            live: read.live,
        };
        let merged = merged
            .validated()
            .map_err(|err| format!("{err} (with the start-up keys the server runs with)"))?;
        merged.check_can_serve().map_err(|err| err.to_string())?;
        let new = merged.live;
        let applied = changed_sections(&old, &new);
        // Plugins first: by the time routes and tokens change, the plugin maps they
        // rely on are live.
        if applied.contains(&"plugin") {
            self.registry.set_tables(new.plugin.clone());
            self.registry.scan().await;
        }
        self.shared.replace(new);
        Ok(Reloaded {
            applied,
            needs_restart,
        })
    }

    async fn reload_and_log(&self, trigger: &'static str) {
        match self.reload().await {
            Ok(reloaded) if reloaded.applied.is_empty() && reloaded.needs_restart.is_empty() => {
                tracing::info!(trigger, "configuration reloaded: nothing changed")
            }
            Ok(reloaded) => {
                tracing::info!(trigger, changed = ?reloaded.applied, "configuration reloaded");
                if !reloaded.needs_restart.is_empty() {
                    tracing::warn!(keys = ?reloaded.needs_restart, "these keys changed but are read only at start-up: the running values stay until the next restart");
                }
            }
            Err(reason) => tracing::error!(
                trigger,
                error = %reason,
                "configuration reload refused; the running configuration stays"
            ),
        }
    }

    /// Reloads on SIGHUP and when the config file's content changes, until `stop` is
    /// cancelled.
    pub async fn run(mut self, stop: tokio_util::sync::CancellationToken) {
        let mut last_content = self.file_content();
        loop {
            let hangup = async {
                match self.hangups.as_mut() {
                    Some(hangups) => hangups.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some(()) = hangup => {
                    last_content = self.file_content();
                    self.reload_and_log("SIGHUP").await;
                }
                Some(()) = self.file_changed.recv() => {
                    // Editors and Kubernetes replace files by renaming; only a change of
                    // what the file says counts.
                    let content = self.file_content();
                    if content.is_some() && content != last_content {
                        last_content = content;
                        self.reload_and_log("file changed").await;
                    }
                }
                () = stop.cancelled() => return,
            }
        }
    }

    fn file_content(&self) -> Option<Vec<u8>> {
        self.source
            .file
            .as_deref()
            .and_then(|file| std::fs::read(file).ok())
    }
}

/// Watches the folder holding `file` (a file replaced by rename loses a watch on
/// itself) and signals every change there.
fn watch_file(file: &Path, changed: tokio::sync::mpsc::Sender<()>) -> Option<FolderWatch> {
    let folder: PathBuf = match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    match watch_folder(&folder, DEBOUNCE, changed) {
        Ok(watch) => {
            tracing::info!(file = %file.display(), "watching the configuration file");
            Some(watch)
        }
        Err(err) => {
            tracing::warn!(folder = %folder.display(), error = %err, "cannot watch the configuration file; reload with SIGHUP");
            None
        }
    }
}
