//! The one wasmtime engine, its linker and the epoch ticker behind every deadline.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::sandbox::PluginState;
use super::{v0_1, v0_2};
use crate::config::SandboxConfig;

/// How often the epoch advances: the resolution of the CPU and wall-clock limits.
pub(super) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Shared by every plugin: compiling and instantiating are per plugin, the engine and the
/// linker (what a plugin may import) are per process.
#[derive(Clone)]
pub struct PluginEngine {
    pub(super) engine: Engine,
    pub(super) linker: Arc<Linker<PluginState>>,
    pub(super) sandbox: SandboxConfig,
    pub(super) slots: Arc<tokio::sync::Semaphore>,
}

impl PluginEngine {
    pub fn new(sandbox: &SandboxConfig) -> anyhow::Result<Self> {
        let engine = match Engine::new(&wasm_config(sandbox, true)) {
            Ok(engine) => engine,
            Err(err) => {
                // Some hosts restrict virtual memory; instances then cost a little more.
                tracing::warn!(error = %err, "pooling allocator unavailable, using on-demand allocation");
                Engine::new(&wasm_config(sandbox, false))?
            }
        };
        let mut linker = Linker::<PluginState>::new(&engine);
        // Every WASI interface is linked so std-built components instantiate, but the
        // context grants nothing: no files, no environment, no sockets, no stdio.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        // Each contract version imports its own `log`; both are linked, so one linker
        // instantiates plugins of either version.
        v0_1::emu_oncall::notifier::log::add_to_linker::<_, HasSelf<PluginState>>(
            &mut linker,
            |state| state,
        )?;
        v0_2::emu_oncall::notifier::log::add_to_linker::<_, HasSelf<PluginState>>(
            &mut linker,
            |state| state,
        )?;
        start_epoch_ticker(&engine);
        Ok(PluginEngine {
            engine,
            linker: Arc::new(linker),
            sandbox: sandbox.clone(),
            slots: Arc::new(tokio::sync::Semaphore::new(sandbox.max_concurrent as usize)),
        })
    }
}

fn wasm_config(sandbox: &SandboxConfig, pooling: bool) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    // A plugin's exports are called one at a time, never concurrently within a store:
    // without this, wasmtime sets up a concurrent task (`GuestTask`) on every call.
    config.concurrency_support(false);
    // One memory per module: several would only let a plugin take more than its share
    // (they are still counted together, see `sandbox::MemoryLimit`).
    config.wasm_multi_memory(false);
    // Reserve only what a plugin may use, not the default 4 GiB per memory: with many
    // pooled slots the default reserves terabytes of address space.
    config.memory_reservation(sandbox.memory_mb << 20);
    if pooling {
        let slots = sandbox.max_concurrent.saturating_add(8);
        let mut pool = PoolingAllocationConfig::default();
        // A Rust component built for wasip2 has a handful of core instances (the
        // program, the WASI adapter, shims), each with at most one memory and table.
        pool.total_component_instances(slots)
            .total_core_instances(slots.saturating_mul(8))
            .total_memories(slots.saturating_mul(4))
            .total_tables(slots.saturating_mul(4))
            .total_stacks(slots)
            .max_memories_per_component(super::sandbox::MAX_MEMORIES as u32)
            .max_tables_per_component(super::sandbox::MAX_TABLES as u32)
            .max_memory_size((sandbox.memory_mb as usize) << 20)
            .pagemap_scan(Enabled::Auto)
            .linear_memory_keep_resident(keep_resident())
            .table_keep_resident(64 * 1024)
            .async_stack_keep_resident(128 * 1024);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

/// How much of each linear memory stays resident between instances. Where the kernel
/// can list dirty pages (PAGEMAP_SCAN, Linux 6.7+) only the pages an instance wrote are
/// reset, so keeping a Rust plugin's whole stack and data resident saves the madvise
/// and the page faults of every call (fresh-instance dispatch: about 40 µs down to
/// 16 µs, see BENCHMARKS.md). Elsewhere everything kept resident is zeroed on every
/// reuse, so only a little is kept.
fn keep_resident() -> usize {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|part| part.parse::<u32>().ok());
    let version = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    if version >= (6, 7) {
        2 << 20
    } else {
        64 * 1024
    }
}

/// Advances the epoch forever from a plain thread: it must tick even when every tokio
/// worker is busy, or a runaway plugin could never be stopped.
fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("wasm-epoch".to_owned())
        .spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            match weak.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => return,
            }
        });
    if let Err(err) = spawned {
        tracing::error!(error = %err, "cannot start the epoch ticker: plugin time limits fall back to the call timeout");
    }
}
