//! A plugin as authors built them against `emu-oncall:notifier@0.1.0`, without the SDK
//! (which now builds 0.2.0 plugins): it logs each notification and reports whether it
//! was given anything 0.1.0 does not have. The host must keep loading such plugins.

// The generated bindings are the component ABI's glue: `export_name` functions and raw
// pointers, as the SDK's bindings are. This crate has nothing else that is unsafe.
#![allow(unsafe_code)]

wit_bindgen::generate!({
    path: "../../wit",
    world: "notifier",
    generate_all,
});

use emu_oncall::notifier::log::{log, Level};
use emu_oncall::notifier::types::Channel;

struct Legacy;

impl Guest for Legacy {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "legacy-v0-1".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            channels: vec![Channel::Sms, Channel::Call, Channel::Test],
        }
    }

    fn validate_config(_config: Config) -> Result<(), String> {
        Ok(())
    }

    fn notify(_config: Config, notification: Notification) -> Result<Receipt, Failure> {
        log(
            Level::Info,
            &format!("legacy plugin delivered {}", notification.id),
        );
        Ok(Receipt {
            provider_id: Some(format!("legacy-{}", notification.id)),
            detail: Some(notification.message),
        })
    }
}

export!(Legacy);
