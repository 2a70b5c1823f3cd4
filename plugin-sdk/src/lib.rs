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
//!
//! The SDK builds plugins against `emu-oncall:notifier@0.2.0`. A plugin that takes
//! providers' calls (key presses, replies, buttons, delivery receipts) also implements
//! [`Plugin::handle_inbound`]; see [`inbound`] for the helpers.

mod alert_group;
pub mod config;
pub mod http;
pub mod inbound;
mod json;
pub mod log;

/// Generated from `wit/v0.2.0/notifier.wit`.
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit/v0.2.0",
        world: "notifier",
        pub_export_macro: true,
        default_bindings_module: "emu_oncall_plugin_sdk::bindings",
        export_macro_name: "export",
        generate_all,
    });
}

pub use bindings::emu_oncall::notifier::types::{
    Action, AlertGroup, Channel, Config, EventKind, Failure, InboundEvent, InboundReply,
    InboundRequest, Notification, Outcome, PluginInfo, Receipt, Recipient, ReplyFrom, Target,
};
pub use bindings::export;

/// The trait a plugin implements; `export!(MyPlugin)` makes it the component's exports.
pub trait Plugin {
    fn describe() -> PluginInfo;
    fn validate_config(config: Config) -> Result<(), String>;
    fn notify(config: Config, notification: Notification) -> Result<Receipt, Failure>;

    /// A provider's call to this plugin's reply URL or to `/hooks/<plugin>/…`. The host
    /// calls it once with no `outcomes`; when the answer names events, it carries them
    /// out and calls again with how each went, and the second answer is the one the
    /// provider gets. A plugin that takes no calls keeps this default: 404.
    fn handle_inbound(
        config: Config,
        request: InboundRequest,
        outcomes: Vec<Outcome>,
    ) -> Result<InboundReply, String> {
        let _ = (config, request, outcomes);
        Ok(InboundReply::text(404, "this plugin takes no calls"))
    }
}

impl<T: Plugin> bindings::Guest for T {
    fn describe() -> PluginInfo {
        <T as Plugin>::describe()
    }

    fn validate_config(config: Config) -> Result<(), String> {
        <T as Plugin>::validate_config(config)
    }

    fn notify(config: Config, notification: Notification) -> Result<Receipt, Failure> {
        <T as Plugin>::notify(config, notification)
    }

    fn handle_inbound(
        config: Config,
        request: InboundRequest,
        outcomes: Vec<Outcome>,
    ) -> Result<InboundReply, String> {
        <T as Plugin>::handle_inbound(config, request, outcomes)
    }
}

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
