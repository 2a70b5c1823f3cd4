//! Calling into a plugin: a fresh instance per call, under a memory cap, a CPU bound and
//! a wall-clock deadline. Whatever the plugin does, the call ends and the error says why.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::{Store, UpdateDeadline};

use super::contract::Contract;
use super::engine::EPOCH_TICK;
use super::sandbox::{PluginState, Stop};
use super::types::{Description, InboundReply, InboundRequest, Notification, Outcome, Refusal};
use super::{LoadedPlugin, PluginError};
use crate::model::{AttemptOutcome, Failure, Receipt};

/// A delivery attempt, and whether the sandbox ended it (time, CPU, memory, a trap)
/// rather than the plugin answering: then whether the provider took the message is
/// unknown.
#[derive(Debug, Clone)]
pub struct Attempted {
    pub outcome: AttemptOutcome,
    pub cut_off: bool,
}

impl LoadedPlugin {
    fn new_store(&self, hidden: Arc<[String]>) -> Store<PluginState> {
        let sandbox = &self.engine.sandbox;
        let state = PluginState::new(
            self.label.clone(),
            self.allowed_hosts.clone(),
            (sandbox.memory_mb as usize) << 20,
            sandbox.max_log_lines,
            sandbox.max_response_bytes,
            self.secrets.clone(),
            hidden,
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

/// A place in the sandbox's `max_concurrent` limit, held for one plugin call. Taken
/// apart from the call so a delivery can renew its lease between the wait for a place
/// (unbounded) and the call (bounded by the timeout).
pub struct SandboxSlot(#[allow(dead_code)] tokio::sync::OwnedSemaphorePermit);

/// Runs `$work` with a fresh store for `$plugin` under every limit, in `$slot`.
macro_rules! in_store {
    ($plugin:expr, $slot:expr, $hidden:expr, |$store:ident| $work:expr) => {{
        let plugin: &LoadedPlugin = $plugin;
        let _slot: SandboxSlot = $slot;
        let mut store = plugin.new_store($hidden);
        let work = async {
            let $store = &mut store;
            $work.await
        };
        match tokio::time::timeout(plugin.deadline(), work).await {
            Err(_) => Err(PluginError::Timeout(plugin.engine.sandbox.timeout_ms)),
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(plugin.explain(&store, err)),
        }
    }};
}

/// Runs `$call` on a fresh instance of `$plugin` under every limit, in `$slot`, with
/// `$version` naming the bindings module of the contract the plugin was built against:
/// a call every version has is written once and expanded for each.
macro_rules! sandboxed_in {
    ($plugin:expr, $slot:expr, $hidden:expr, |$version:ident, $instance:ident, $store:ident| $call:expr) => {{
        let plugin: &LoadedPlugin = $plugin;
        in_store!(plugin, $slot, $hidden, |$store| async {
            match &plugin.contract {
                Contract::V0_1(pre) => {
                    #[allow(unused_imports)]
                    use super::v0_1 as $version;
                    let $instance = pre.instantiate_async(&mut *$store).await?;
                    $call.await
                }
                Contract::V0_2(pre) => {
                    #[allow(unused_imports)]
                    use super::v0_2 as $version;
                    let $instance = pre.instantiate_async(&mut *$store).await?;
                    $call.await
                }
            }
        })
    }};
}

/// Runs `$call` on a fresh instance of `$plugin` under every limit, once a slot is free.
macro_rules! sandboxed {
    ($plugin:expr, |$version:ident, $instance:ident, $store:ident| $call:expr) => {{
        let plugin: &LoadedPlugin = $plugin;
        match plugin.sandbox_slot().await {
            Err(err) => Err(err),
            Ok(slot) => sandboxed_in!(
                plugin,
                slot,
                Arc::from([]),
                |$version, $instance, $store| $call
            ),
        }
    }};
}

impl LoadedPlugin {
    /// Waits for a place among the sandbox's `max_concurrent` calls.
    pub async fn sandbox_slot(&self) -> Result<SandboxSlot, PluginError> {
        self.engine
            .slots
            .clone()
            .acquire_owned()
            .await
            .map(SandboxSlot)
            .map_err(|_| PluginError::Sandbox("the plugin host is shutting down".to_owned()))
    }
}

impl LoadedPlugin {
    pub(super) async fn describe(&self) -> Result<Description, PluginError> {
        sandboxed!(self, |version, instance, store| async {
            Ok(version::description_from_wit(
                instance.call_describe(store).await?,
            ))
        })
    }

    pub(super) async fn validate_config(&self) -> Result<Result<(), String>, PluginError> {
        let config = self.settings.config.clone();
        sandboxed!(self, |version, instance, store| instance
            .call_validate_config(store, &config))
    }

    /// A provider's call to `/hooks/<name>/…`, with what the host made of its events
    /// when it asks the second time (`outcomes`). `None` for a plugin whose contract has
    /// no inbound calls (0.1.0). What the plugin answers is cleaned of its secrets.
    pub async fn handle_inbound(
        &self,
        request: &InboundRequest,
        outcomes: &[Outcome],
    ) -> Option<Result<Result<InboundReply, String>, PluginError>> {
        let Contract::V0_2(pre) = &self.contract else {
            return None;
        };
        let config = self.settings.config.clone();
        let request = super::v0_2::request_to_wit(request);
        let outcomes = super::v0_2::outcomes_to_wit(outcomes);
        let slot = match self.sandbox_slot().await {
            Ok(slot) => slot,
            Err(err) => return Some(Err(err)),
        };
        let result = in_store!(self, slot, Arc::from([]), |store| async {
            let instance = pre.instantiate_async(&mut *store).await?;
            instance
                .call_handle_inbound(store, &config, &request, &outcomes)
                .await
        });
        let clean = |text: &str| super::redact::redact(text, &self.secrets, &[]);
        Some(result.map(|answer| {
            answer
                .map(super::v0_2::reply_from_wit)
                .map_err(|reason| clean(&reason))
        }))
    }

    /// One delivery attempt.
    pub async fn notify(&self, notification: &Notification) -> AttemptOutcome {
        self.notify_hiding(notification, &[]).await.outcome
    }

    /// One delivery attempt of a message with parts that must never be logged
    /// (`hidden`: a verification code, its spoken form).
    pub async fn notify_hiding(&self, notification: &Notification, hidden: &[&str]) -> Attempted {
        let hidden: Arc<[String]> = hidden.iter().map(|part| (*part).to_owned()).collect();
        match self.sandbox_slot().await {
            Ok(slot) => self.notify_in_hiding(slot, notification, hidden).await,
            Err(err) => Attempted {
                outcome: AttemptOutcome::Retryable(Failure {
                    kind: err.kind(),
                    reason: err.to_string(),
                }),
                cut_off: false,
            },
        }
    }

    /// One delivery attempt in a slot already taken.
    pub async fn notify_in(
        &self,
        slot: SandboxSlot,
        notification: &Notification,
    ) -> AttemptOutcome {
        self.notify_in_hiding(slot, notification, Arc::from([]))
            .await
            .outcome
    }

    /// The attempt; whatever the plugin says goes out with its secrets, the hidden
    /// parts and phone numbers taken out (errors are logged, stored and shown).
    async fn notify_in_hiding(
        &self,
        slot: SandboxSlot,
        notification: &Notification,
        hidden: Arc<[String]>,
    ) -> Attempted {
        let config = self.settings.config.clone();
        let result: Result<Result<Receipt, Refusal>, PluginError> = sandboxed_in!(
            self,
            slot,
            hidden.clone(),
            |version, instance, store| async {
                let notification = version::notification_to_wit(notification);
                Ok(version::delivery_from_wit(
                    instance.call_notify(store, &config, &notification).await?,
                ))
            }
        );
        let clean = |text: &str| super::redact::redact(text, &self.secrets, &hidden);
        let cut_off = result.is_err();
        let outcome = match result {
            Ok(Ok(receipt)) => AttemptOutcome::Delivered(Receipt {
                provider_id: receipt
                    .provider_id
                    .map(|id| super::redact::without_secrets(&id, &self.secrets, &hidden)),
                detail: receipt.detail.map(|detail| clean(&detail)),
            }),
            Ok(Err(Refusal::Retryable(reason))) => {
                AttemptOutcome::Retryable(Failure::provider(clean(&reason)))
            }
            Ok(Err(Refusal::Permanent(reason))) => {
                AttemptOutcome::Permanent(Failure::provider(clean(&reason)))
            }
            Err(err) => AttemptOutcome::Retryable(Failure {
                kind: err.kind(),
                reason: clean(&err.to_string()),
            }),
        };
        Attempted { outcome, cut_off }
    }
}

impl LoadedPlugin {
    /// For the benchmarks only: `times` notify calls into one instance, each timed, to
    /// show what the fresh instance of every real delivery costs. Deliveries never
    /// reuse an instance.
    #[doc(hidden)]
    pub async fn time_calls_in_one_instance(
        &self,
        notification: &Notification,
        times: usize,
    ) -> Result<Vec<Duration>, PluginError> {
        let config = self.settings.config.clone();
        sandboxed!(self, |version, instance, store| async {
            let notification = version::notification_to_wit(notification);
            let mut timings = Vec::with_capacity(times);
            for _ in 0..times {
                let started = std::time::Instant::now();
                version::delivery_from_wit(
                    instance
                        .call_notify(&mut *store, &config, &notification)
                        .await?,
                )
                .map_err(|failure| wasmtime::format_err!("{failure:?}"))?;
                timings.push(started.elapsed());
            }
            Ok(timings)
        })
    }
}
