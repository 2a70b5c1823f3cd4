//! The HTTP side: the Cloud API the engine calls, providers' calls to plugins
//! (`/hooks`), the admin API, health and metrics.

mod admin;
pub(crate) mod auth;
mod cloud;
mod health;
mod hooks;
pub(crate) mod response;
mod router;
mod server;
pub(crate) mod state;
pub(crate) mod throttle;

pub use server::Server;
pub use state::AppState;
