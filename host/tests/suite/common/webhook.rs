//! The server with the webhook plugin posting to a local sink: the shortest real path
//! from a notification to something a test can read.

use super::sink::Sink;
use super::{plugins_dir_with, start_server, start_server_on, TestServer};

/// Settings for fast retries in tests.
pub const FAST: &[(&str, &str)] = &[
    ("EMU_ONCALL_DELIVERY__RETRY_INITIAL", "50ms"),
    ("EMU_ONCALL_DELIVERY__RETRY_MAX", "200ms"),
    ("EMU_ONCALL_DELIVERY__POLL_INTERVAL", "50ms"),
    ("EMU_ONCALL_LIMITS__SMS_PER_DAY", "0"),
];

pub struct WithWebhook {
    pub server: TestServer,
    pub sink: Sink,
    _dir: tempfile::TempDir,
}

pub async fn with_webhook(db_url: Option<&str>, extra: &[(&str, &str)]) -> WithWebhook {
    let sink = Sink::start().await;
    let dir = plugins_dir_with(&[("webhook.wasm", "webhook.wasm")]);
    let dir_text = dir.path().display().to_string();
    let url = format!("{}/hook", sink.url);
    let mut settings: Vec<(&str, &str)> = vec![
        ("EMU_ONCALL_APP__PLUGINS_DIR", &dir_text),
        ("EMU_ONCALL_PLUGIN__WEBHOOK__URL", &url),
        ("EMU_ONCALL_PLUGIN__WEBHOOK__ALLOWED_HOSTS", "127.0.0.1"),
    ];
    settings.extend_from_slice(FAST);
    settings.extend_from_slice(extra);
    let server = match db_url {
        Some(db_url) => start_server_on(db_url, &settings).await,
        None => start_server(&settings).await,
    };
    WithWebhook {
        server,
        sink,
        _dir: dir,
    }
}
