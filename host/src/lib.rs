//! Emu-OnCall: the Cloud that self-hosted Grafana OnCall engines page through.
//!
//! The public modules are what the `emu-oncall` binary (its CLI) and the benchmarks
//! build on; the rest are the server's own. The `test-support` feature opens the two
//! the suite reaches into (the server's shared state and the reloader). ARCHITECTURE.md
//! is the map.

pub mod app;
pub mod config;
pub mod delivery;
pub mod hooks;
pub mod http_client;
pub mod incidents;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod plugins;
pub mod schedules;
pub mod store;

#[cfg(feature = "test-support")]
pub mod api;
#[cfg(not(feature = "test-support"))]
mod api;
#[cfg(feature = "test-support")]
pub mod reload;
#[cfg(not(feature = "test-support"))]
mod reload;

mod crypto;
mod folder_watch;
mod heartbeat;
mod http;
mod ids;
mod verification;
mod web;
