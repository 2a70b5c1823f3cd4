//! The running configuration, replaceable while the server runs (SIGHUP, or the file
//! changing). Readers take a snapshot per use, so one request or delivery round sees
//! one consistent configuration.

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::{load, Config, ConfigError, LiveConfig, Overrides};

#[derive(Clone)]
pub struct SharedConfig(Arc<ArcSwap<LiveConfig>>);

impl SharedConfig {
    pub fn new(config: LiveConfig) -> Self {
        SharedConfig(Arc::new(ArcSwap::from_pointee(config)))
    }

    /// The configuration now. Start-up keys are not in it: they are
    /// [`super::StartupConfig`], given to each part when it is built.
    pub fn get(&self) -> Arc<LiveConfig> {
        self.0.load_full()
    }

    pub fn replace(&self, config: LiveConfig) {
        self.0.store(Arc::new(config));
    }
}

/// Where the configuration came from, to read it again the same way.
#[derive(Debug, Clone, Default)]
pub struct ConfigSource {
    pub file: Option<PathBuf>,
    /// The `EMU_ONCALL_*` variables the process started with.
    pub env: Vec<(String, String)>,
    pub overrides: Overrides,
}

impl ConfigSource {
    pub fn load(&self) -> Result<Config, ConfigError> {
        load(self.file.as_deref(), self.env.clone(), &self.overrides)
    }
}
