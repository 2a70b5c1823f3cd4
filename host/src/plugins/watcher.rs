//! Watches `app.plugins_dir` and rescans when files are added, replaced, renamed or
//! removed; also rescans now and then, for file systems that send no events.

use std::sync::Arc;
use std::time::Duration;

use super::PluginRegistry;
use crate::folder_watch::{watch_folder, FolderWatch};

const DEBOUNCE: Duration = Duration::from_millis(150);
const SAFETY_RESCAN: Duration = Duration::from_secs(30);
/// How often loads that failed for now are looked at (each has its own backoff).
const RETRY_CHECK: Duration = Duration::from_millis(250);

/// The directory watch, registered before the server starts answering, so a file
/// dropped at any moment after start-up is seen.
pub struct PluginWatcher {
    registry: Arc<PluginRegistry>,
    changes: tokio::sync::mpsc::Receiver<()>,
    _debouncer: Option<FolderWatch>,
}

impl PluginWatcher {
    /// Starts watching `app.plugins_dir`. If it cannot be watched (logged), periodic
    /// rescans still happen.
    pub fn start(registry: Arc<PluginRegistry>) -> Self {
        let (events, changes) = tokio::sync::mpsc::channel::<()>(16);
        let dir = registry.plugins_dir().to_owned();
        let debouncer = match watch_folder(&dir, DEBOUNCE, events) {
            Ok(watch) => {
                tracing::info!(dir = %dir.display(), "watching the plugin directory");
                Some(watch)
            }
            Err(err) => {
                tracing::warn!(dir = %dir.display(), error = %err, "cannot watch the plugin directory; rescanning every {}s", SAFETY_RESCAN.as_secs());
                None
            }
        };
        PluginWatcher {
            registry,
            changes,
            _debouncer: debouncer,
        }
    }

    /// Rescans on every change, and every 30 s anyway, until `stop` is cancelled.
    pub async fn run(mut self, stop: tokio_util::sync::CancellationToken) {
        let mut ticker = tokio::time::interval(SAFETY_RESCAN);
        ticker.tick().await;
        let mut retries = tokio::time::interval(RETRY_CHECK);
        retries.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                changed = self.changes.recv() => {
                    if changed.is_none() { break; }
                    self.registry.scan().await;
                }
                _ = ticker.tick() => self.registry.scan().await,
                _ = retries.tick() => {
                    if self.registry.retry_due() {
                        self.registry.scan().await;
                    }
                }
                () = stop.cancelled() => break,
            }
        }
    }
}
