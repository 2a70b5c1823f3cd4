//! Calling into a plugin: a fresh instance per call, under a memory cap, a CPU bound and
//! a wall-clock deadline. Whatever the plugin does, the call ends and the error says why.

use std::time::Duration;

use wasmtime::{Store, UpdateDeadline};

use super::bindings::emu_oncall::notifier::types as wit;
use super::engine::EPOCH_TICK;
use super::sandbox::{PluginState, Stop};
use super::{LoadedPlugin, PluginError};

/// What a delivery attempt through one plugin came to.
#[derive(Debug, Clone)]
pub enum Outcome {
    Delivered(wit::Receipt),
    /// The plugin said so, or it was cut off (time, CPU, memory, trap): try again later.
    Retryable(String),
    /// The plugin said trying again will not help.
    Permanent(String),
}

impl LoadedPlugin {
    fn new_store(&self) -> Store<PluginState> {
        let sandbox = &self.engine.sandbox;
        let state = PluginState::new(
            self.label.clone(),
            self.allowed_hosts.clone(),
            (sandbox.memory_mb as usize) << 20,
            sandbox.max_log_lines,
        );
        let mut store = Store::new(&self.engine.engine, state);
        store.limiter(|state| &mut state.limits);
        let max_ticks = (sandbox.cpu_ms / EPOCH_TICK.as_millis() as u64).max(1);
        store.set_epoch_deadline(1);
        // Called each tick the guest spends running its own code: count it, and yield
        // so a busy plugin never holds a runtime thread for more than a tick.
        store.epoch_deadline_callback(move |mut context| {
            let state = context.data_mut();
            state.cpu_ticks += 1;
            if state.cpu_ticks > max_ticks {
                state.stop = Some(Stop::Cpu);
                return Ok(UpdateDeadline::Interrupt);
            }
            Ok(UpdateDeadline::Yield(1))
        });
        store
    }

    fn explain(&self, store: &Store<PluginState>, err: wasmtime::Error) -> PluginError {
        let state = store.data();
        if state.stop == Some(Stop::Cpu) {
            PluginError::CpuLimit(self.engine.sandbox.cpu_ms)
        } else if state.limits.hit {
            PluginError::MemoryLimit(self.engine.sandbox.memory_mb)
        } else {
            // The first line says what happened; the wasm backtrace below it is noise
            // in an error shown to operators.
            let mut text = match err.downcast_ref::<wasmtime::Trap>() {
                Some(trap) => trap.to_string(),
                None => format!("{err:#}")
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            };
            text.truncate(500);
            PluginError::Trap(text)
        }
    }

    fn deadline(&self) -> Duration {
        Duration::from_millis(self.engine.sandbox.timeout_ms)
    }
}

/// Runs `$call` on a fresh instance of `$plugin` under every limit.
macro_rules! sandboxed {
    ($plugin:expr, |$instance:ident, $store:ident| $call:expr) => {{
        let plugin: &LoadedPlugin = $plugin;
        match plugin.engine.slots.acquire().await {
            Err(_) => Err(PluginError::Sandbox(
                "the plugin host is shutting down".to_owned(),
            )),
            Ok(_permit) => {
                let mut store = plugin.new_store();
                let work = async {
                    let $store = &mut store;
                    let $instance = plugin.pre.instantiate_async(&mut *$store).await?;
                    $call.await
                };
                match tokio::time::timeout(plugin.deadline(), work).await {
                    Err(_) => Err(PluginError::Timeout(plugin.engine.sandbox.timeout_ms)),
                    Ok(Ok(value)) => Ok(value),
                    Ok(Err(err)) => Err(plugin.explain(&store, err)),
                }
            }
        }
    }};
}

impl LoadedPlugin {
    pub(super) async fn describe(&self) -> Result<wit::PluginInfo, PluginError> {
        sandboxed!(self, |instance, store| instance.call_describe(store))
    }

    pub(super) async fn validate_config(&self) -> Result<Result<(), String>, PluginError> {
        let config = self.settings.config.clone();
        sandboxed!(self, |instance, store| instance
            .call_validate_config(store, &config))
    }

    /// One delivery attempt.
    pub async fn notify(&self, notification: &wit::Notification) -> Outcome {
        let config = self.settings.config.clone();
        let result: Result<Result<wit::Receipt, wit::Failure>, PluginError> = sandboxed!(
            self,
            |instance, store| instance.call_notify(store, &config, notification)
        );
        match result {
            Ok(Ok(receipt)) => Outcome::Delivered(receipt),
            Ok(Err(wit::Failure::Retryable(reason))) => Outcome::Retryable(reason),
            Ok(Err(wit::Failure::Permanent(reason))) => Outcome::Permanent(reason),
            Err(err) => Outcome::Retryable(err.to_string()),
        }
    }
}

impl LoadedPlugin {
    /// For the benchmarks only: `times` notify calls into one instance, each timed, to
    /// show what the fresh instance of every real delivery costs. Deliveries never
    /// reuse an instance.
    #[doc(hidden)]
    pub async fn time_calls_in_one_instance(
        &self,
        notification: &wit::Notification,
        times: usize,
    ) -> Result<Vec<Duration>, PluginError> {
        let config = self.settings.config.clone();
        sandboxed!(self, |instance, store| async {
            let mut timings = Vec::with_capacity(times);
            for _ in 0..times {
                let started = std::time::Instant::now();
                instance
                    .call_notify(&mut *store, &config, notification)
                    .await?
                    .map_err(|failure| wasmtime::format_err!("{failure:?}"))?;
                timings.push(started.elapsed());
            }
            Ok(timings)
        })
    }
}
