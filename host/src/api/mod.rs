//! The HTTP side: the Cloud API the engine calls, the admin API, health and metrics.

mod admin;
mod auth;
mod cloud;
mod health;
mod request;
mod response;
mod router;
mod server;
mod state;

pub use server::Server;
pub use state::AppState;
