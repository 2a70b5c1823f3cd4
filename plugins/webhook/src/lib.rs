//! POSTs every notification as JSON to `url`, with an `Idempotency-Key` header carrying
//! the notification id, so a receiver can drop the duplicates a retry may cause.

use emu_oncall_plugin_sdk::config::Settings;
use emu_oncall_plugin_sdk::http::Request;
use emu_oncall_plugin_sdk::{
    export, Channel, Config, Failure, Notification, Plugin, PluginInfo, Receipt,
};

pub struct Webhook;

/// Extra headers come from `header.<Name> = "value"` settings.
const HEADER_PREFIX: &str = "header.";

fn timeout(settings: &Settings) -> Result<std::time::Duration, String> {
    let text = settings.get_or("timeout_secs", "10");
    match text.parse::<u64>() {
        Ok(secs) if (1..=120).contains(&secs) => Ok(std::time::Duration::from_secs(secs)),
        _ => Err(format!("`timeout_secs` must be 1 to 120, not {text:?}")),
    }
}

impl Plugin for Webhook {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "webhook".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            channels: Channel::all(),
        }
    }

    fn validate_config(config: Config) -> Result<(), String> {
        let settings = Settings::new(&config);
        settings.url("url")?;
        timeout(&settings)?;
        Ok(())
    }

    fn notify(config: Config, notification: Notification) -> Result<Receipt, Failure> {
        let settings = Settings::new(&config);
        let url = settings
            .url("url")
            .map_err(emu_oncall_plugin_sdk::permanent)?;
        let mut request = Request::post(url)
            .timeout(timeout(&settings).map_err(emu_oncall_plugin_sdk::permanent)?)
            .header("Idempotency-Key", notification.id.clone())
            .json(&notification.to_json());
        for (name, value) in settings.with_prefix(HEADER_PREFIX) {
            request = request.header(name, value);
        }
        let response = request.send()?;
        response.check()?;
        Ok(Receipt {
            provider_id: None,
            detail: Some(format!("HTTP {}", response.status)),
        })
    }
}

export!(Webhook);
