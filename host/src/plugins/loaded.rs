//! A plugin compiled, checked and ready to be called.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::cache::ArtifactCache;
use super::compile::{compile, content_hash};
use super::contract::Contract;
use super::{PluginEngine, PluginError, PluginSettings};
use crate::model::Channel;

/// What the plugin says about itself.
#[derive(Debug, Clone, Serialize)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    pub channels: Vec<Channel>,
}

pub struct LoadedPlugin {
    /// The name it is configured and routed under (may differ from `info.name`).
    pub name: String,
    pub info: PluginInfo,
    /// The channels it is routed for: `channels` from its table, else what it serves.
    pub channels: Vec<Channel>,
    pub file: PathBuf,
    pub hash: String,
    pub loaded_at: DateTime<Utc>,
    pub(super) contract: Contract,
    pub(super) settings: PluginSettings,
    pub(super) allowed_hosts: Arc<[String]>,
    /// Values of its config that are secrets, kept out of what it logs and returns.
    pub(super) secrets: Arc<[String]>,
    pub(super) label: Arc<str>,
    pub(super) engine: PluginEngine,
}

impl LoadedPlugin {
    /// Reads, compiles, links, describes and validates `settings.file`. Any failure
    /// leaves whatever is live untouched.
    pub async fn load(
        engine: &PluginEngine,
        settings: PluginSettings,
        bytes: Vec<u8>,
        cache: Option<Arc<ArtifactCache>>,
    ) -> Result<LoadedPlugin, PluginError> {
        let hash = content_hash(&bytes);
        let component = compile(&engine.engine, bytes, hash.clone(), cache).await?;
        let instance_pre = engine
            .linker
            .instantiate_pre(&component)
            .map_err(|err| PluginError::Invalid(format!("{err:#}")))?;
        let contract = Contract::of(instance_pre)?;
        Self::ready(engine, settings, hash, contract).await
    }

    /// The same compiled component with other settings (a reloaded configuration):
    /// described and validated again, not recompiled.
    pub async fn with_settings(
        &self,
        settings: PluginSettings,
    ) -> Result<LoadedPlugin, PluginError> {
        Self::ready(
            &self.engine,
            settings,
            self.hash.clone(),
            self.contract.clone(),
        )
        .await
    }

    async fn ready(
        engine: &PluginEngine,
        settings: PluginSettings,
        hash: String,
        contract: Contract,
    ) -> Result<LoadedPlugin, PluginError> {
        let label: Arc<str> = Arc::from(settings.name.as_str());
        let mut plugin = LoadedPlugin {
            name: settings.name.clone(),
            info: PluginInfo {
                name: String::new(),
                version: String::new(),
                channels: Vec::new(),
            },
            channels: Vec::new(),
            file: settings.file.clone(),
            hash,
            loaded_at: Utc::now(),
            contract,
            allowed_hosts: Arc::from(settings.allowed_hosts.clone()),
            secrets: super::redact::secret_values(&settings.config),
            settings,
            label,
            engine: engine.clone(),
        };
        let described = plugin.describe().await?;
        plugin.info = PluginInfo {
            name: described.name,
            version: described.version,
            channels: described.channels,
        };
        plugin.channels = plugin
            .settings
            .channels
            .clone()
            .unwrap_or_else(|| plugin.info.channels.clone());
        plugin
            .validate_config()
            .await?
            .map_err(PluginError::Config)?;
        Ok(plugin)
    }

    pub fn serves(&self, channel: Channel) -> bool {
        self.channels.contains(&channel)
    }

    /// The notifier contract version it was built against, e.g. "0.2.0".
    pub fn contract_version(&self) -> &'static str {
        self.contract.version()
    }

    /// Whether it takes providers' calls at `/hooks/<name>/…` (contract 0.2.0 on).
    pub fn takes_inbound(&self) -> bool {
        self.contract.takes_inbound()
    }
}
