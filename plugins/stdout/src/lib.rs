//! Prints each notification to the host's log: the default of the example configuration,
//! for trying Emu-OnCall out before wiring a real channel.

use emu_oncall_plugin_sdk::{
    export, log, Channel, Config, Failure, Notification, Plugin, PluginInfo, Receipt,
};

pub struct Stdout;

/// `+4915112345678` → `+49********678`: even a test channel keeps numbers out of logs.
fn mask(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 6 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 6))
}

pub fn render(notification: &Notification) -> String {
    let recipient = &notification.recipient;
    let phone = recipient
        .phone_number
        .as_deref()
        .map(mask)
        .unwrap_or_else(|| "no phone".to_owned());
    format!(
        "[{}] to {} <{}> ({phone}), attempt {}: {}",
        notification.channel.as_str(),
        recipient.username,
        recipient.email,
        notification.attempt,
        notification.message
    )
}

impl Plugin for Stdout {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "stdout".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            channels: Channel::all(),
        }
    }

    fn validate_config(_config: Config) -> Result<(), String> {
        Ok(())
    }

    fn notify(_config: Config, notification: Notification) -> Result<Receipt, Failure> {
        log::info(&render(&notification));
        Ok(Receipt {
            provider_id: None,
            detail: Some("printed".to_owned()),
        })
    }
}

export!(Stdout);
