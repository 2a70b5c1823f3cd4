//! The integration tests, in one binary.
//!
//! Each test binary links all of wasmtime; one binary instead of a dozen keeps the
//! build's disk use and link time small enough for CI.

mod common;

mod admin_api;
mod browser;
mod cli;
mod cloud_api;
mod config;
mod deployment;
mod durable_delivery;
mod examples;
mod first_party_plugins;
mod hot_swap;
mod incident_details;
mod migrations;
mod plugins;
mod presets;
mod process;
mod reload;
mod robustness;
mod schedule_fixtures;
mod schedule_tracking;
mod security;
mod status_pages;
mod two_way_paging;
mod verification;
