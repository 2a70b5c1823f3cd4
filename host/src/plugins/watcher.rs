//! Watches `app.plugins_dir` and rescans when files are added, replaced, renamed or
//! removed; also rescans now and then, for file systems that send no events.

use std::sync::Arc;
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_full::{new_debouncer, DebounceEventResult};

use super::PluginRegistry;

const DEBOUNCE: Duration = Duration::from_millis(150);
const SAFETY_RESCAN: Duration = Duration::from_secs(30);

/// Runs until `shutdown` fires. Returns at once (after logging why) if the directory
/// cannot be watched; periodic rescans still happen.
pub async fn watch(
    registry: Arc<PluginRegistry>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let (events, mut changes) = tokio::sync::mpsc::channel::<()>(16);
    let debouncer = new_debouncer(
        DEBOUNCE,
        None,
        move |result: DebounceEventResult| match result {
            Ok(batch) if !batch.is_empty() => {
                let _ = events.try_send(());
            }
            Ok(_) => {}
            Err(errors) => tracing::warn!(?errors, "plugin directory watch errors"),
        },
    );
    let _debouncer = match debouncer {
        Ok(mut debouncer) => {
            let dir = registry.plugins_dir().to_owned();
            match debouncer.watch(&dir, RecursiveMode::NonRecursive) {
                Ok(()) => tracing::info!(dir = %dir.display(), "watching the plugin directory"),
                Err(err) => {
                    tracing::warn!(dir = %dir.display(), error = %err, "cannot watch the plugin directory; rescanning every {}s", SAFETY_RESCAN.as_secs())
                }
            }
            Some(debouncer)
        }
        Err(err) => {
            tracing::warn!(error = %err, "no file watcher available");
            None
        }
    };
    let mut ticker = tokio::time::interval(SAFETY_RESCAN);
    ticker.tick().await;
    loop {
        tokio::select! {
            changed = changes.recv() => {
                if changed.is_none() { break; }
                registry.scan().await;
            }
            _ = ticker.tick() => registry.scan().await,
            _ = shutdown.changed() => break,
        }
    }
}
