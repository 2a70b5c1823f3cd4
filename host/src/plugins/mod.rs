//! Notifier plugins: WebAssembly components run in a sandbox, one fresh instance per
//! call, loaded from `app.plugins_dir` and swapped while the server runs.

mod bindings_v0_2;
pub mod cache;
mod call;
mod compile;
mod engine;
mod error;
mod loaded;
mod outbound;
pub mod redact;
mod registry;
mod sandbox;
mod settings;
mod types;
mod v0_1;
mod watcher;

pub use call::{Attempted, SandboxSlot};
pub use engine::PluginEngine;
pub use error::PluginError;
pub use loaded::{LoadedPlugin, PluginInfo};
pub use registry::{PluginRegistry, PluginStatus};
pub use settings::PluginSettings;
pub use types::{Notification, Recipient};
pub use watcher::PluginWatcher;
