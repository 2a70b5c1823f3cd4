//! What a plugin instance may see and use: the per-call store data.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::ResourceLimiter;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::outbound::OutboundPolicy;

/// Longest log line kept; plugins cannot fill the host's disk one huge line at a time.
const MAX_LOG_LINE: usize = 2048;

/// Why the host stopped a call, recorded so the error can say so plainly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    Cpu,
}

pub struct PluginState {
    pub(super) plugin: Arc<str>,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    outbound: OutboundPolicy,
    pub(super) limits: MemoryLimit,
    log_lines: u32,
    max_log_lines: u32,
    /// Taken out of every log line: the plugin's secret config values, and what the
    /// caller marked hidden (a verification code).
    secrets: Arc<[String]>,
    hidden: Arc<[String]>,
    pub(super) cpu_ticks: u64,
    pub(super) stop: Option<Stop>,
}

impl PluginState {
    pub(super) fn new(
        plugin: Arc<str>,
        allowed_hosts: Arc<[String]>,
        memory_bytes: usize,
        max_log_lines: u32,
        max_response_bytes: u64,
        secrets: Arc<[String]>,
        hidden: Arc<[String]>,
    ) -> Self {
        let wasi = WasiCtxBuilder::new()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        PluginState {
            outbound: OutboundPolicy::new(plugin.clone(), allowed_hosts, max_response_bytes),
            plugin,
            wasi,
            http: WasiHttpCtx::new(),
            table: {
                let mut table = ResourceTable::new();
                table.set_max_capacity(MAX_RESOURCES);
                table
            },
            limits: MemoryLimit::new(memory_bytes),
            log_lines: 0,
            max_log_lines,
            secrets,
            hidden,
            cpu_ticks: 0,
            stop: None,
        }
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for PluginState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

/// A plugin log line's level, whichever contract version's `log` it came through.
#[derive(Debug, Clone, Copy)]
pub(super) enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl PluginState {
    /// A line the plugin logged (through whichever contract version's `log` import),
    /// with its secrets and hidden parts taken out, cut to length, within its budget.
    pub(super) fn log_line(&mut self, level: LogLevel, message: String) {
        self.log_lines = self.log_lines.saturating_add(1);
        if self.log_lines > self.max_log_lines {
            if self.log_lines == self.max_log_lines + 1 {
                tracing::warn!(plugin = %self.plugin, limit = self.max_log_lines, "plugin log limit reached for this call; further lines dropped");
            }
            return;
        }
        let mut message = super::redact::redact(&message, &self.secrets, &self.hidden);
        if message.len() > MAX_LOG_LINE {
            let mut cut = MAX_LOG_LINE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let plugin = &*self.plugin;
        match level {
            LogLevel::Trace => tracing::trace!(plugin, "{message}"),
            LogLevel::Debug => tracing::debug!(plugin, "{message}"),
            LogLevel::Info => tracing::info!(plugin, "{message}"),
            LogLevel::Warn => tracing::warn!(plugin, "{message}"),
            LogLevel::Error => tracing::error!(plugin, "{message}"),
        }
    }
}

/// Memories one plugin instance may have: a Rust or Python component has a handful
/// (the program, the WASI adapter, shims), each with one.
pub(super) const MAX_MEMORIES: usize = 8;
/// Tables one plugin instance may have, and core instances.
pub(super) const MAX_TABLES: usize = 16;
pub(super) const MAX_INSTANCES: usize = 32;
/// Elements all of an instance's tables may hold together.
const MAX_TABLE_ELEMENTS: usize = 100_000;
/// Handles (HTTP requests, headers, streams…) a plugin may hold at once.
pub(super) const MAX_RESOURCES: usize = 10_000;

/// Caps the memory of a plugin instance, all its linear memories and tables counted
/// together (a component can hold several), and remembers whether the cap was what
/// stopped the plugin.
pub(super) struct MemoryLimit {
    max_bytes: usize,
    /// Bytes of every linear memory of the instance, as grown so far.
    memory_bytes: usize,
    table_elements: usize,
    pub(super) hit: bool,
}

impl MemoryLimit {
    pub(super) fn new(max_bytes: usize) -> Self {
        MemoryLimit {
            max_bytes,
            memory_bytes: 0,
            table_elements: 0,
            hit: false,
        }
    }
}

impl ResourceLimiter for MemoryLimit {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = (self.memory_bytes - current.min(self.memory_bytes)).saturating_add(desired);
        if total > self.max_bytes {
            self.hit = true;
            return Ok(false);
        }
        self.memory_bytes = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total =
            (self.table_elements - current.min(self.table_elements)).saturating_add(desired);
        if total > MAX_TABLE_ELEMENTS {
            return Ok(false);
        }
        self.table_elements = total;
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use wasmtime::component::Component;
    use wasmtime::Store;

    use super::*;
    use crate::config::SandboxConfig;
    use crate::plugins::PluginEngine;

    /// Instantiates the component text `wat` under the plugin sandbox's store limits.
    async fn instantiate(wat: &str) -> (Result<(), String>, bool) {
        let sandbox = SandboxConfig {
            memory_mb: 64,
            ..SandboxConfig::default()
        };
        let engine = PluginEngine::new(&sandbox).expect("plugin engine");
        let component = match Component::new(&engine.engine, wat) {
            Ok(component) => component,
            Err(err) => return (Err(format!("refused at compile: {err:#}")), false),
        };
        let state = PluginState::new(
            Arc::from("hostile"),
            Arc::from([]),
            64 << 20,
            10,
            1 << 20,
            Arc::from([]),
            Arc::from([]),
        );
        let mut store = Store::new(&engine.engine, state);
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(1_000);
        let result = engine
            .linker
            .instantiate_async(&mut store, &component)
            .await
            .map(|_| ())
            .map_err(|err| format!("{err:#}"));
        (result, store.data().limits.hit)
    }

    /// `count` core instances of a module with a memory of `pages` 64 KiB pages.
    fn memories(count: usize, pages: u32) -> String {
        let instances = "(core instance (instantiate $m))\n".repeat(count);
        format!("(component (core module $m (memory {pages})) {instances})")
    }

    #[tokio::test]
    async fn memories_of_one_instance_count_together() {
        // 3 × 16 MiB fits 64 MiB; 4 × 20 MiB does not, though each alone would.
        let (fits, _) = instantiate(&memories(3, 256)).await;
        assert!(fits.is_ok(), "{fits:?}");
        let (refused, hit) = instantiate(&memories(4, 320)).await;
        assert!(refused.is_err() && hit, "{refused:?}");
    }

    #[tokio::test]
    async fn the_number_of_memories_is_capped() {
        let (fits, _) = instantiate(&memories(MAX_MEMORIES, 1)).await;
        assert!(fits.is_ok(), "{fits:?}");
        let (refused, _) = instantiate(&memories(MAX_MEMORIES + 1, 1)).await;
        assert!(refused.is_err(), "{refused:?}");
    }

    #[tokio::test]
    async fn a_module_with_two_memories_is_refused() {
        let (refused, _) = instantiate("(component (core module (memory 1) (memory 1)))").await;
        let error = refused.expect_err("multi-memory is off");
        assert!(error.contains("refused at compile"), "{error}");
    }
}
