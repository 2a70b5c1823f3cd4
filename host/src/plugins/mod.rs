//! Notifier plugins: WebAssembly components run in a sandbox, one fresh instance per
//! call, loaded from `app.plugins_dir` and swapped while the server runs.

mod bindings;
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
mod watcher;

pub use bindings::emu_oncall::notifier::types::{
    AlertGroup as WitAlertGroup, Channel as WitChannel, Notification as WitNotification,
    Recipient as WitRecipient,
};
pub use call::{Attempted, SandboxSlot};
pub use engine::PluginEngine;
pub use error::PluginError;
pub use loaded::{to_wit_channel as loaded_channel, LoadedPlugin, PluginInfo};
pub use registry::{PluginRegistry, PluginStatus};
pub use settings::PluginSettings;
pub use watcher::PluginWatcher;
