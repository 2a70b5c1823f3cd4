//! Notifier plugins: WebAssembly components run in a sandbox, one fresh instance per
//! call, loaded from `app.plugins_dir` and swapped while the server runs.

pub mod cache;
mod call;
mod compile;
mod contract;
mod engine;
mod error;
mod loaded;
mod outbound;
pub mod presets;
pub mod redact;
mod registry;
mod sandbox;
mod settings;
mod types;
mod v0_1;
mod v0_2;
mod watcher;
mod wit_common;

pub use call::{Attempted, SandboxSlot};
pub use engine::PluginEngine;
pub use error::PluginError;
pub use loaded::{LoadedPlugin, PluginInfo};
pub use registry::{PluginRegistry, PluginStatus};
pub use settings::PluginSettings;
pub use types::{
    Action, Description, EventKind, EventTarget, InboundEvent, InboundReply, InboundRequest,
    Notification, Outcome, Recipient, Refusal,
};
pub use watcher::PluginWatcher;
