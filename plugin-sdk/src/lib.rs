//! The crate notifier plugin authors depend on.
//!
//! ```ignore
//! use emu_oncall_plugin_sdk::{export, Channel, Config, Failure, Notification, Plugin, PluginInfo, Receipt};
//!
//! struct Hello;
//!
//! impl Plugin for Hello {
//!     fn describe() -> PluginInfo {
//!         PluginInfo { name: "hello".into(), version: env!("CARGO_PKG_VERSION").into(), channels: vec![Channel::Sms] }
//!     }
//!     fn validate_config(config: Config) -> Result<(), String> {
//!         emu_oncall_plugin_sdk::config::Settings::new(&config).require("url").map(|_| ())
//!     }
//!     fn notify(config: Config, notification: Notification) -> Result<Receipt, Failure> {
//!         Ok(Receipt { provider_id: None, detail: Some(notification.message) })
//!     }
//! }
//!
//! export!(Hello);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2` as a `cdylib`.

mod alert_group;
pub mod config;
pub mod http;
pub mod log;

/// Generated from `wit/notifier.wit`.
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "notifier",
        pub_export_macro: true,
        default_bindings_module: "emu_oncall_plugin_sdk::bindings",
        export_macro_name: "export",
        generate_all,
    });
}

pub use bindings::emu_oncall::notifier::types::{
    AlertGroup, Channel, Config, Failure, Notification, PluginInfo, Receipt, Recipient,
};
pub use bindings::export;
/// The trait a plugin implements; `export!(MyPlugin)` makes it the component's exports.
pub use bindings::Guest as Plugin;

/// A failure worth trying again later (timeouts, 5xx, rate limits).
pub fn retryable(reason: impl Into<String>) -> Failure {
    Failure::Retryable(reason.into())
}

/// A failure that will not go away by itself (bad credentials, rejected recipient).
pub fn permanent(reason: impl Into<String>) -> Failure {
    Failure::Permanent(reason.into())
}

impl Channel {
    /// Every channel, for plugins that serve them all.
    pub fn all() -> Vec<Channel> {
        vec![
            Channel::Sms,
            Channel::Call,
            Channel::Push,
            Channel::Shift,
            Channel::Test,
        ]
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Call => "call",
            Channel::Push => "push",
            Channel::Shift => "shift",
            Channel::Test => "test",
        }
    }
}

impl Recipient {
    /// A user attribute, e.g. `telegram_chat_id`.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }
}
