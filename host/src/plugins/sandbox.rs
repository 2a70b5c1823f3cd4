//! What a plugin instance may see and use: the per-call store data.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::ResourceLimiter;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::bindings::emu_oncall::notifier::log::{self, Level};
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
        secrets: Arc<[String]>,
        hidden: Arc<[String]>,
    ) -> Self {
        let wasi = WasiCtxBuilder::new()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        PluginState {
            outbound: OutboundPolicy::new(plugin.clone(), allowed_hosts),
            plugin,
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            limits: MemoryLimit {
                max_bytes: memory_bytes,
                hit: false,
            },
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

impl log::Host for PluginState {
    fn log(&mut self, level: Level, message: String) {
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
            Level::Trace => tracing::trace!(plugin, "{message}"),
            Level::Debug => tracing::debug!(plugin, "{message}"),
            Level::Info => tracing::info!(plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin, "{message}"),
            Level::Error => tracing::error!(plugin, "{message}"),
        }
    }
}

/// Caps linear memory and remembers whether the cap was what stopped the plugin.
pub(super) struct MemoryLimit {
    max_bytes: usize,
    pub(super) hit: bool,
}

impl ResourceLimiter for MemoryLimit {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}
