//! Emu-OnCall: the Cloud that self-hosted Grafana OnCall engines page through.

pub mod api;
pub mod app;
pub mod config;
pub mod crypto;
pub mod delivery;
pub mod folder_watch;
pub mod heartbeat;
pub mod http;
pub mod http_client;
pub mod ids;
pub mod incidents;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod plugins;
pub mod reload;
pub mod schedules;
pub mod store;
pub mod verification;
pub mod web;
