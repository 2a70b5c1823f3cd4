//! The server with the webhook plugin posting to a local sink: the shortest real path
//! from a notification to something a test can read.

use super::sink::Sink;
use super::TestServer;

/// Settings for fast retries in tests.
pub const FAST: &[(&str, &str)] = &[
    ("delivery.retry_initial", "50ms"),
    ("delivery.retry_max", "200ms"),
    ("delivery.poll_interval", "50ms"),
    ("limits.sms_per_day", "0"),
];

pub struct WithWebhook {
    pub server: TestServer,
    pub sink: Sink,
}

/// The server with the webhook plugin posting to a fresh sink, fast retries, and
/// `extra` settings (dotted keys).
pub async fn with_webhook(db_url: Option<&str>, extra: &[(&str, &str)]) -> WithWebhook {
    let sink = Sink::start().await;
    let mut builder = TestServer::builder()
        .webhook(&sink)
        .fast_retries()
        .settings(extra);
    if let Some(db_url) = db_url {
        builder = builder.database(db_url);
    }
    WithWebhook {
        server: builder.start().await,
        sink,
    }
}
