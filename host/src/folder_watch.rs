//! Watching one folder (not its subfolders) for changes, debounced: what the plugin
//! directory and the configuration file's folder both need. Files replaced by rename
//! (editors, `kubectl` ConfigMap updates) lose a watch on themselves, so the folder is
//! watched, and the caller decides what a change means.

use std::path::Path;
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{new_debouncer, DebounceEventResult, Debouncer, RecommendedCache};

/// Keeps the watch alive; dropping it stops the events.
pub type FolderWatch = Debouncer<RecommendedWatcher, RecommendedCache>;

/// Sends `()` on `changed` after each burst of changes in `folder` settles for
/// `debounce`. An error says why the folder cannot be watched.
pub fn watch_folder(
    folder: &Path,
    debounce: Duration,
    changed: tokio::sync::mpsc::Sender<()>,
) -> Result<FolderWatch, notify::Error> {
    let shown = folder.display().to_string();
    let mut debouncer =
        new_debouncer(
            debounce,
            None,
            move |result: DebounceEventResult| match result {
                Ok(batch) if !batch.is_empty() => {
                    // A full channel already holds a pending change: nothing is lost.
                    let _ = changed.try_send(());
                }
                Ok(_) => {}
                Err(errors) => tracing::warn!(folder = %shown, ?errors, "folder watch errors"),
            },
        )?;
    debouncer.watch(folder, RecursiveMode::NonRecursive)?;
    Ok(debouncer)
}
