//! The live set of plugins, swapped atomically: a call holds the `Arc` of the version it
//! started on, so a swap never cuts a delivery short.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::cache::ArtifactCache;
use super::{LoadedPlugin, PluginEngine, PluginSettings};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::model::Channel;

/// What `plugins list` and the admin API show for one plugin.
#[derive(Debug, Clone, Serialize)]
pub struct PluginStatus {
    pub name: String,
    pub file: String,
    pub enabled: bool,
    pub loaded: bool,
    pub version: Option<String>,
    /// The notifier contract it was built against ("0.1.0", "0.2.0").
    pub contract: Option<&'static str>,
    pub channels: Vec<Channel>,
    pub hash: Option<String>,
    pub loaded_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// The file's content hash and settings that last failed together, so an unchanged
    /// bad file is not recompiled and re-reported on every rescan (new settings from a
    /// reload try again).
    #[serde(skip)]
    failed_hash: Option<String>,
    /// Set when that failure was one of the moment (a timeout, the CPU limit on a busy
    /// host): the same file is tried again then, backing off.
    #[serde(skip)]
    retry: Option<LoadRetry>,
}

/// When a load that failed for now is tried again, and how many times it failed.
#[derive(Debug, Clone, Copy)]
struct LoadRetry {
    failures: u32,
    at: std::time::Instant,
}

impl LoadRetry {
    /// 1 s after the first failure, doubling, at most a minute apart.
    fn after(failures: u32) -> Self {
        let wait = Duration::from_secs(1)
            .saturating_mul(1 << failures.saturating_sub(1).min(6))
            .min(Duration::from_secs(60));
        LoadRetry {
            failures,
            at: std::time::Instant::now() + wait,
        }
    }
}

impl PluginStatus {
    fn new(name: &str, file: &str, enabled: bool) -> Self {
        PluginStatus {
            name: name.to_owned(),
            file: file.to_owned(),
            enabled,
            loaded: false,
            version: None,
            contract: None,
            channels: Vec::new(),
            hash: None,
            loaded_at: None,
            last_error: None,
            last_error_at: None,
            failed_hash: None,
            retry: None,
        }
    }
}

type LiveSet = BTreeMap<String, Arc<LoadedPlugin>>;

pub struct PluginRegistry {
    engine: PluginEngine,
    plugins_dir: PathBuf,
    /// Compiled artifacts; `None` when no usable cache directory or key was given.
    cache: Option<Arc<ArtifactCache>>,
    /// The `[plugin.<name>]` tables; replaced when the configuration is reloaded.
    tables: Mutex<Arc<BTreeMap<String, toml::Table>>>,
    live: ArcSwap<LiveSet>,
    status: Mutex<BTreeMap<String, PluginStatus>>,
    /// One scan at a time: a burst of file events must not compile the same file twice.
    scanning: tokio::sync::Mutex<()>,
    metrics: Arc<Metrics>,
}

impl PluginRegistry {
    /// `cache_key` signs the compiled artifacts in `app.plugin_cache_dir`; without one
    /// (the CLI's one-off commands) every plugin is compiled afresh.
    pub fn new(
        config: &Config,
        metrics: Arc<Metrics>,
        cache_key: Option<Vec<u8>>,
    ) -> anyhow::Result<Self> {
        let cache_dir = config.startup.plugin_cache_dir.trim();
        let cache = match cache_key {
            Some(key) if !cache_dir.is_empty() => {
                match ArtifactCache::open(std::path::Path::new(cache_dir), key) {
                    Ok(cache) => Some(Arc::new(cache)),
                    Err(reason) => {
                        tracing::warn!(%reason, "app.plugin_cache_dir is not used: plugins are compiled at every start");
                        None
                    }
                }
            }
            _ => None,
        };
        Ok(PluginRegistry {
            engine: PluginEngine::new(&config.startup.sandbox)?,
            plugins_dir: PathBuf::from(config.startup.plugins_dir.trim()),
            cache,
            tables: Mutex::new(Arc::new(config.plugin.clone())),
            live: ArcSwap::from_pointee(LiveSet::new()),
            status: Mutex::new(BTreeMap::new()),
            scanning: tokio::sync::Mutex::new(()),
            metrics,
        })
    }

    fn tables(&self) -> Arc<BTreeMap<String, toml::Table>> {
        // Replacing the Arc is a single store, so a poisoned lock holds a whole value.
        self.tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// New plugin maps from a reloaded configuration; the next scan applies them (a
    /// plugin whose map changed is reloaded with it).
    pub fn set_tables(&self, tables: BTreeMap<String, toml::Table>) {
        *self
            .tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(tables);
    }

    pub fn plugins_dir(&self) -> &Path {
        &self.plugins_dir
    }

    pub fn engine(&self) -> &PluginEngine {
        &self.engine
    }

    pub fn get(&self, name: &str) -> Option<Arc<LoadedPlugin>> {
        self.live.load().get(name).cloned()
    }

    /// Loaded plugins routed for `channel`, by name.
    pub fn serving(&self, channel: Channel) -> Vec<Arc<LoadedPlugin>> {
        self.live
            .load()
            .values()
            .filter(|plugin| plugin.serves(channel))
            .cloned()
            .collect()
    }

    /// Whether a load that failed for now is due to be tried again.
    pub fn retry_due(&self) -> bool {
        let now = std::time::Instant::now();
        self.lock_status()
            .values()
            .any(|status| status.retry.is_some_and(|retry| retry.at <= now))
    }

    pub fn statuses(&self) -> Vec<PluginStatus> {
        self.lock_status().values().cloned().collect()
    }

    fn lock_status(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, PluginStatus>> {
        // A panic while holding this lock cannot leave the map half-written (each
        // update is a single insert), so a poisoned lock is safe to keep using.
        self.status
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The plugins the configuration and the directory ask for: every `[plugin.<name>]`
    /// table, and every other `*.wasm` file in the directory under its file name.
    fn wanted(&self) -> BTreeMap<String, Result<PluginSettings, String>> {
        let mut wanted = BTreeMap::new();
        let mut claimed_files = BTreeSet::new();
        let tables = self.tables();
        for (name, table) in tables.iter() {
            let settings = PluginSettings::from_table(name, table, &self.plugins_dir);
            if let Ok(settings) = &settings {
                claimed_files.insert(settings.file.clone());
            }
            wanted.insert(name.clone(), settings);
        }
        if let Ok(entries) = std::fs::read_dir(&self.plugins_dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_none_or(|ext| ext != "wasm") || claimed_files.contains(&path)
                {
                    continue;
                }
                let Some(name) = path.file_stem().and_then(|stem| stem.to_str()) else {
                    continue;
                };
                if !wanted.contains_key(name) {
                    wanted.insert(
                        name.to_owned(),
                        PluginSettings::from_table(name, &toml::Table::new(), &self.plugins_dir),
                    );
                }
            }
        }
        wanted
    }

    /// Brings the live set in line with the directory: loads new and changed files,
    /// unloads removed ones. A file that fails to load never replaces a working one.
    pub async fn scan(&self) {
        let _one_at_a_time = self.scanning.lock().await;
        let live: Vec<String> = self.live.load().keys().cloned().collect();
        self.apply(plan_scan(self.wanted(), &live)).await;
    }

    /// Carries out a scan's plan: loads and swaps, disables, refusals and removals.
    async fn apply(&self, plan: ScanPlan) {
        for settings in plan.refresh {
            self.refresh(settings).await;
        }
        for settings in plan.disable {
            self.unload(&settings.name, "disabled in the configuration");
            self.set_status(&settings.name, &settings, |status| status.enabled = false);
        }
        for (name, reason) in plan.refuse {
            self.record_failure(&name, "", reason);
        }
        for name in plan.remove {
            self.unload(&name, "its file was removed");
            self.lock_status().remove(&name);
        }
    }

    async fn refresh(&self, settings: PluginSettings) {
        let name = settings.name.clone();
        let Some(bytes) = read_settled(&settings.file).await else {
            if self.get(&name).is_some() {
                self.unload(&name, "its file was removed");
            }
            self.record_failure(
                &name,
                &settings.file.display().to_string(),
                format!("{} not found", settings.file.display()),
            );
            return;
        };
        let hash = super::compile::content_hash(&bytes);
        let attempt_key = super::compile::content_hash(format!("{hash}/{settings:?}").as_bytes());
        let failed_before = self.lock_status().get(&name).and_then(|status| {
            (status.failed_hash.as_deref() == Some(attempt_key.as_str())).then_some(status.retry)
        });
        let earlier_failures = match failed_before {
            // It failed for good with this file and these settings: wait for a change.
            Some(None) => return,
            Some(Some(retry)) if std::time::Instant::now() < retry.at => return,
            Some(Some(retry)) => retry.failures,
            None => 0,
        };
        if self
            .get(&name)
            .is_some_and(|live| live.hash == hash && live.settings == settings)
        {
            // The file on disk is the live version (again): nothing stands in error.
            if let Some(status) = self.lock_status().get_mut(&name) {
                status.last_error = None;
                status.last_error_at = None;
            }
            return;
        }
        let file = settings.file.display().to_string();
        let same_file = self.get(&name).filter(|live| live.hash == hash);
        let loaded = match same_file {
            Some(live) => live.with_settings(settings.clone()).await,
            None => {
                LoadedPlugin::load(&self.engine, settings.clone(), bytes, self.cache.clone()).await
            }
        };
        match loaded {
            Ok(plugin) => {
                let plugin = Arc::new(plugin);
                let previous = self.get(&name).map(|old| old.info.version.clone());
                self.live.rcu(|live| {
                    let mut next = LiveSet::clone(live);
                    next.insert(name.clone(), plugin.clone());
                    next
                });
                tracing::info!(
                    plugin = %name,
                    version = %plugin.info.version,
                    previous = previous.as_deref().unwrap_or("-"),
                    hash = %&plugin.hash[..12],
                    channels = ?plugin.channels,
                    "plugin loaded"
                );
                self.metrics.plugin_event(
                    &name,
                    if previous.is_some() {
                        "swapped"
                    } else {
                        "loaded"
                    },
                );
                let mut status = self.lock_status();
                status.insert(
                    name.clone(),
                    PluginStatus {
                        name: name.clone(),
                        file,
                        enabled: true,
                        loaded: true,
                        version: Some(plugin.info.version.clone()),
                        contract: Some(plugin.contract_version()),
                        channels: plugin.channels.clone(),
                        hash: Some(plugin.hash.clone()),
                        loaded_at: Some(plugin.loaded_at),
                        last_error: None,
                        last_error_at: None,
                        failed_hash: None,
                        retry: None,
                    },
                );
            }
            Err(err) => {
                let kept = if self.get(&name).is_some() {
                    "; the running version stays live"
                } else {
                    ""
                };
                let retry = err
                    .is_transient()
                    .then(|| LoadRetry::after(earlier_failures + 1));
                let again = match &retry {
                    Some(retry) => format!(
                        "; tried again in {} s",
                        retry
                            .at
                            .saturating_duration_since(std::time::Instant::now())
                            .as_secs()
                            .max(1)
                    ),
                    None => String::new(),
                };
                self.record_failure(&name, &file, format!("{err}{kept}{again}"));
                if let Some(status) = self.lock_status().get_mut(&name) {
                    status.failed_hash = Some(attempt_key);
                    status.retry = retry;
                }
            }
        }
    }

    fn record_failure(&self, name: &str, file: &str, reason: String) {
        tracing::error!(plugin = %name, error = %reason, "plugin not loaded");
        self.metrics.plugin_event(name, "failed");
        let live = self.get(name);
        let mut status = self.lock_status();
        let entry = status
            .entry(name.to_owned())
            .or_insert_with(|| PluginStatus::new(name, file, true));
        entry.loaded = live.is_some();
        entry.last_error = Some(reason);
        entry.last_error_at = Some(Utc::now());
    }

    fn set_status(
        &self,
        name: &str,
        settings: &PluginSettings,
        change: impl FnOnce(&mut PluginStatus),
    ) {
        let mut status = self.lock_status();
        let entry = status.entry(name.to_owned()).or_insert_with(|| {
            PluginStatus::new(name, &settings.file.display().to_string(), settings.enabled)
        });
        change(entry);
    }

    fn unload(&self, name: &str, why: &str) {
        if self.get(name).is_none() {
            return;
        }
        self.live.rcu(|live| {
            let mut next = LiveSet::clone(live);
            next.remove(name);
            next
        });
        if let Some(status) = self.lock_status().get_mut(name) {
            status.loaded = false;
        }
        self.metrics.plugin_event(name, "unloaded");
        tracing::warn!(plugin = %name, reason = why, "plugin unloaded");
    }
}

/// Reads a file once its size and modification time stop changing, so a copy still in
/// progress is not compiled half-written. `None` when it is missing.
async fn read_settled(path: &Path) -> Option<Vec<u8>> {
    let stamp = |meta: &std::fs::Metadata| (meta.len(), meta.modified().ok());
    let mut last = stamp(&tokio::fs::metadata(path).await.ok()?);
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = stamp(&tokio::fs::metadata(path).await.ok()?);
        if now == last {
            break;
        }
        last = now;
    }
    tokio::fs::read(path).await.ok()
}

/// What one scan of the plugin directory does, decided from what the directory and
/// the configuration want and what is live, without touching either.
#[derive(Debug, Default, PartialEq)]
struct ScanPlan {
    /// Enabled plugins: loaded, swapped or left as they are by `refresh`.
    refresh: Vec<PluginSettings>,
    /// Disabled in the configuration: unloaded if live.
    disable: Vec<PluginSettings>,
    /// Refused by their settings (a bad name, a bad table), with why.
    refuse: Vec<(String, String)>,
    /// Live, but neither in the directory nor in the configuration any more.
    remove: Vec<String>,
}

fn plan_scan(
    wanted: BTreeMap<String, Result<PluginSettings, String>>,
    live: &[String],
) -> ScanPlan {
    let mut plan = ScanPlan {
        remove: live
            .iter()
            .filter(|name| !wanted.contains_key(*name))
            .cloned()
            .collect(),
        ..ScanPlan::default()
    };
    for (name, settings) in wanted {
        match settings {
            Ok(settings) if settings.enabled => plan.refresh.push(settings),
            Ok(settings) => plan.disable.push(settings),
            Err(reason) => plan.refuse.push((name, reason)),
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(name: &str, enabled: bool) -> PluginSettings {
        PluginSettings {
            name: name.to_owned(),
            file: PathBuf::from(format!("/plugins/{name}.wasm")),
            channels: None,
            allowed_hosts: Vec::new(),
            enabled,
            config: Vec::new(),
        }
    }

    #[test]
    fn a_scan_refreshes_enabled_disables_the_rest_and_removes_the_gone() {
        let wanted = BTreeMap::from([
            ("slack".to_owned(), Ok(settings("slack", true))),
            ("twilio".to_owned(), Ok(settings("twilio", false))),
            ("Bad Name".to_owned(), Err("not a plugin name".to_owned())),
        ]);
        let live = ["slack".to_owned(), "stdout".to_owned(), "twilio".to_owned()];
        assert_eq!(
            plan_scan(wanted, &live),
            ScanPlan {
                refresh: vec![settings("slack", true)],
                disable: vec![settings("twilio", false)],
                refuse: vec![("Bad Name".to_owned(), "not a plugin name".to_owned())],
                remove: vec!["stdout".to_owned()],
            }
        );
    }

    #[test]
    fn an_empty_directory_removes_everything_live() {
        let live = ["slack".to_owned()];
        let plan = plan_scan(BTreeMap::new(), &live);
        assert_eq!(plan.remove, vec!["slack".to_owned()]);
        assert!(plan.refresh.is_empty() && plan.disable.is_empty() && plan.refuse.is_empty());
    }
}
