//! The first-party notifiers, each against a local server standing in for its provider,
//! checking the exact request the provider would get.

use crate::common;

use std::time::Duration;

use common::sink::{Recorded, Sink};
use emu_oncall::config::SandboxConfig;
use emu_oncall::model::AttemptOutcome;
use emu_oncall::model::Channel;
use emu_oncall::plugins::{LoadedPlugin, Notification, PluginEngine, PluginSettings, Recipient};

const NOTIFICATION_ID: &str = "0b9f6c1e-3f55-4a7e-9d0e-6a1b2c3d4e5f";

fn notification(channel: Channel, message: &str, attributes: &[(&str, &str)]) -> Notification {
    Notification {
        id: NOTIFICATION_ID.to_owned(),
        channel,
        recipient: Recipient {
            id: "UALICE".to_owned(),
            email: "alice@example.com".to_owned(),
            username: "alice".to_owned(),
            name: "Alice Doe".to_owned(),
            phone_number: Some("+4915112345678".to_owned()),
            role: "admin".to_owned(),
            attributes: attributes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        },
        message: message.to_owned(),
        alert_group: None,
        attempt: 1,
        created_at: "2026-11-24T10:00:00+00:00".to_owned(),
        reply_url: None,
        reply_code: None,
    }
}

fn plugin_settings(name: &str, settings: &[(&str, &str)]) -> PluginSettings {
    let mut table = toml::Table::new();
    for (key, value) in settings {
        table.insert((*key).to_owned(), toml::Value::String((*value).to_owned()));
    }
    PluginSettings::from_table(name, &table, std::path::Path::new(".")).unwrap()
}

async fn load(file: &str, settings: &[(&str, &str)]) -> Result<LoadedPlugin, String> {
    let engine = PluginEngine::new(&SandboxConfig::default()).unwrap();
    let settings = plugin_settings(file.trim_end_matches(".wasm"), settings);
    let bytes = std::fs::read(common::built_plugin(file)).unwrap();
    LoadedPlugin::load(&engine, settings, bytes, None)
        .await
        .map_err(|err| err.to_string())
}

async fn deliver(
    plugin: &LoadedPlugin,
    sink: &Sink,
    message: &Notification,
) -> (AttemptOutcome, Recorded) {
    let before = sink.requests().len();
    let outcome = plugin.notify(message).await;
    let requests = sink.wait_for(before + 1, Duration::from_secs(5)).await;
    let request = requests
        .get(before)
        .cloned()
        .unwrap_or_else(|| panic!("no request reached the sink; outcome {outcome:?}"));
    (outcome, request)
}

fn form(request: &Recorded) -> Vec<(String, String)> {
    form_urlencoded::parse(&request.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[tokio::test]
async fn webhook_posts_the_notification_with_an_idempotency_key_and_extra_headers() {
    let sink = Sink::start().await;
    let url = format!("{}/hooks/oncall", sink.url);
    let plugin = load(
        "webhook.wasm",
        &[
            ("url", &url),
            ("allowed_hosts", "127.0.0.1"),
            ("header.X-Api-Key", "k-123"),
        ],
    )
    .await
    .unwrap();
    let (outcome, request) = deliver(
        &plugin,
        &sink,
        &notification(Channel::Call, "Wake up", &[("team", "db")]),
    )
    .await;
    assert!(
        matches!(outcome, AttemptOutcome::Delivered(_)),
        "{outcome:?}"
    );
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/hooks/oncall")
    );
    assert_eq!(request.header("idempotency-key"), Some(NOTIFICATION_ID));
    assert_eq!(request.header("x-api-key"), Some("k-123"));
    assert_eq!(
        request.json(),
        serde_json::json!({
            "id": NOTIFICATION_ID,
            "channel": "call",
            "message": "Wake up",
            "recipient": {
                "id": "UALICE", "email": "alice@example.com", "username": "alice", "name": "Alice Doe",
                "phone_number": "+4915112345678", "role": "admin", "attributes": {"team": "db"}
            },
            "alert_group": null,
            "attempt": 1,
            "created_at": "2026-11-24T10:00:00+00:00"
        })
    );
    sink.fail_next(1, 502);
    assert!(matches!(
        plugin.notify(&notification(Channel::Sms, "x", &[])).await,
        AttemptOutcome::Retryable(_)
    ));
    sink.fail_next(1, 410);
    assert!(matches!(
        plugin.notify(&notification(Channel::Sms, "x", &[])).await,
        AttemptOutcome::Permanent(_)
    ));
}

#[tokio::test]
async fn telegram_sends_to_the_users_chat() {
    let sink = Sink::start().await;
    sink.respond_with(r#"{"ok":true,"result":{"message_id":4711}}"#);
    let plugin = load(
        "telegram.wasm",
        &[
            ("bot_token", "123456:ABC-secret"),
            ("api_url", &sink.url),
            ("allowed_hosts", "127.0.0.1"),
        ],
    )
    .await
    .unwrap();
    let (outcome, request) = deliver(
        &plugin,
        &sink,
        &notification(
            Channel::Sms,
            "Alert group #7 firing",
            &[("telegram_chat_id", "-100200")],
        ),
    )
    .await;
    let AttemptOutcome::Delivered(receipt) = outcome else {
        panic!("{outcome:?}")
    };
    // Message ids are unique per chat only: the receipt names both.
    assert_eq!(receipt.provider_id.as_deref(), Some("-100200:4711"));
    assert_eq!(request.path, "/bot123456:ABC-secret/sendMessage");
    assert_eq!(
        request.json(),
        serde_json::json!({"chat_id": "-100200", "text": "🚨 Alert group #7 firing", "disable_web_page_preview": true})
    );

    sink.respond_with(
        r#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#,
    );
    sink.fail_next(1, 403);
    match plugin
        .notify(&notification(
            Channel::Sms,
            "x",
            &[("telegram_chat_id", "1")],
        ))
        .await
    {
        AttemptOutcome::Permanent(failure) => {
            assert!(failure.reason.contains("bot was blocked"), "{failure}")
        }
        other => panic!("{other:?}"),
    }
    match plugin.notify(&notification(Channel::Sms, "x", &[])).await {
        AttemptOutcome::Permanent(failure) => {
            assert!(failure.reason.contains("telegram_chat_id"), "{failure}")
        }
        other => panic!("{other:?}"),
    }
    let err = load("telegram.wasm", &[("bot_token", "nocolon")])
        .await
        .err()
        .unwrap();
    assert!(err.contains("bot_token"), "{err}");
}

#[tokio::test]
async fn twilio_sends_sms_and_calls_with_twiml() {
    let sink = Sink::start().await;
    sink.respond_with(r#"{"sid":"SM0123","status":"queued"}"#);
    let plugin = load(
        "twilio.wasm",
        &[
            ("account_sid", "AC0000000000"),
            ("auth_token", "tok3n"),
            ("from", "+15005550006"),
            ("api_url", &sink.url),
            ("allowed_hosts", "127.0.0.1"),
        ],
    )
    .await
    .unwrap();
    let (outcome, request) = deliver(
        &plugin,
        &sink,
        &notification(Channel::Sms, "Disk <90% & rising", &[]),
    )
    .await;
    let AttemptOutcome::Delivered(receipt) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(receipt.provider_id.as_deref(), Some("SM0123"));
    assert_eq!(
        request.path,
        "/2010-04-01/Accounts/AC0000000000/Messages.json"
    );
    assert_eq!(
        request.header("authorization"),
        Some("Basic QUMwMDAwMDAwMDAwOnRvazNu")
    );
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let fields = form(&request);
    assert_eq!(
        fields,
        [
            ("To", "+4915112345678"),
            ("From", "+15005550006"),
            ("Body", "Disk <90% & rising")
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );

    let (outcome, request) = deliver(
        &plugin,
        &sink,
        &notification(Channel::Call, "Disk <90% & rising", &[]),
    )
    .await;
    assert!(
        matches!(outcome, AttemptOutcome::Delivered(_)),
        "{outcome:?}"
    );
    assert_eq!(request.path, "/2010-04-01/Accounts/AC0000000000/Calls.json");
    let fields = form(&request);
    assert_eq!(fields[2].0, "Twiml");
    assert_eq!(
        fields[2].1,
        "<Response><Say loop=\"2\">Disk &lt;90% &amp; rising</Say></Response>"
    );

    sink.respond_with(r#"{"code":21211,"message":"The 'To' number is not a valid phone number."}"#);
    sink.fail_next(1, 400);
    match plugin.notify(&notification(Channel::Sms, "x", &[])).await {
        AttemptOutcome::Permanent(failure) => {
            assert!(failure.reason.contains("21211"), "{failure}")
        }
        other => panic!("{other:?}"),
    }
    let err = load(
        "twilio.wasm",
        &[("account_sid", "AC1"), ("auth_token", "t")],
    )
    .await
    .err()
    .unwrap();
    assert!(err.contains("from"), "{err}");
}

#[tokio::test]
async fn ntfy_publishes_to_the_users_topic_with_a_priority() {
    let sink = Sink::start().await;
    sink.respond_with(r#"{"id":"nt1"}"#);
    let plugin = load(
        "ntfy.wasm",
        &[
            ("server", &sink.url),
            ("topic", "oncall-fallback"),
            ("token", "tk_abc"),
            ("allowed_hosts", "127.0.0.1"),
        ],
    )
    .await
    .unwrap();
    let (outcome, request) = deliver(
        &plugin,
        &sink,
        &notification(Channel::Call, "Wake up", &[("ntfy_topic", "alice-pager")]),
    )
    .await;
    assert!(
        matches!(outcome, AttemptOutcome::Delivered(_)),
        "{outcome:?}"
    );
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/")
    );
    assert_eq!(request.header("authorization"), Some("Bearer tk_abc"));
    assert_eq!(
        request.json(),
        serde_json::json!({"topic": "alice-pager", "title": "Grafana OnCall alert", "message": "Wake up", "priority": 5, "tags": ["call"]})
    );
    let (_, request) = deliver(
        &plugin,
        &sink,
        &notification(Channel::Shift, "You are on call", &[]),
    )
    .await;
    assert_eq!(request.json()["topic"], "oncall-fallback");
    assert_eq!(request.json()["priority"], 3);
}

#[tokio::test]
async fn slack_posts_to_the_incoming_webhook() {
    let sink = Sink::start().await;
    sink.respond_with("ok");
    let url = format!("{}/services/T000/B000/XXXX", sink.url);
    let plugin = load(
        "slack.wasm",
        &[
            ("webhook_url", &url),
            ("channel", "#oncall"),
            ("allowed_hosts", "127.0.0.1"),
        ],
    )
    .await
    .unwrap();
    let (outcome, request) = deliver(
        &plugin,
        &sink,
        &notification(
            Channel::Sms,
            "CPU <high> & rising",
            &[("slack_user_id", "U123")],
        ),
    )
    .await;
    assert!(
        matches!(outcome, AttemptOutcome::Delivered(_)),
        "{outcome:?}"
    );
    assert_eq!(request.path, "/services/T000/B000/XXXX");
    assert_eq!(
        request.json(),
        serde_json::json!({"text": "*[SMS]* for <@U123>: CPU &lt;high&gt; &amp; rising", "channel": "#oncall"})
    );
    sink.fail_next(1, 404);
    assert!(matches!(
        plugin.notify(&notification(Channel::Sms, "x", &[])).await,
        AttemptOutcome::Permanent(_)
    ));
}

#[tokio::test]
async fn plugin_test_command_delivers_through_a_file() {
    let sink = Sink::start().await;
    let url = format!("{}/cli", sink.url);
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_emu-oncall"))
        .arg("plugin")
        .arg("test")
        .arg(common::built_plugin("webhook.wasm"))
        .args([
            "--channel",
            "sms",
            "--to",
            "+49 151 12345678",
            "--message",
            "hello from the CLI",
        ])
        .args([
            "--set",
            &format!("url={url}"),
            "--set",
            "allowed_hosts=127.0.0.1",
        ])
        .env_remove("EMU_ONCALL_CONFIG")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("delivered"), "{stdout}");
    let request = &sink.requests()[0];
    assert_eq!(request.json()["message"], "hello from the CLI");
    assert_eq!(
        request.json()["recipient"]["phone_number"],
        "+4915112345678"
    );

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_emu-oncall"))
        .arg("plugin")
        .arg("test")
        .arg(common::built_plugin("webhook.wasm"))
        .args(["--set", &format!("url={url}")])
        .env_remove("EMU_ONCALL_CONFIG")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("denied"));
}

/// The same webhook written in Python (componentize-py): the contract is language-neutral.
#[tokio::test]
async fn a_python_plugin_delivers_exactly_like_the_rust_one() {
    let sink = Sink::start().await;
    let python = delivers_like_the_rust_webhook("python-webhook", &sink).await;
    assert_failures_keep_their_kind(&python, &sink).await;
}

/// The same webhook written in JavaScript (componentize-js): the body is the Rust one's,
/// byte for byte, and failures keep their kind, because app.js calls wasi:http itself.
#[tokio::test]
async fn a_javascript_plugin_delivers_exactly_like_the_rust_one() {
    let sink = Sink::start().await;
    let js = delivers_like_the_rust_webhook("js-webhook", &sink).await;
    assert_failures_keep_their_kind(&js, &sink).await;

    // Compiling the 13 MB component once is enough: the same code, other settings.
    let url = format!("{}/hook", sink.url);
    let elsewhere = js
        .with_settings(plugin_settings(
            "js-webhook",
            &[("url", &url), ("allowed_hosts", "example.org")],
        ))
        .await
        .unwrap();
    match elsewhere.notify(&twin_page()).await {
        AttemptOutcome::Permanent(detail) => {
            assert!(detail.reason.contains("allowed_hosts"), "{detail:?}")
        }
        other => panic!("a host outside allowed_hosts is permanent, not {other:?}"),
    }
    let error = js
        .with_settings(plugin_settings(
            "js-webhook",
            &[("url", "ftp://example.org")],
        ))
        .await
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(error.contains("must start with http"), "{error}");
}

/// A page whose JSON is easy to get subtly wrong: escapes, non-ASCII, a u64, and
/// attribute keys that JavaScript or Python would order differently from serde_json
/// (integer-like ones, and one past U+FFFF against one below it).
fn twin_page() -> Notification {
    with_alert_group(notification(
        Channel::Call,
        "Ünïcode \"quoted\"\n\u{1F6A8} second line",
        &[
            ("telegram_chat_id", "42"),
            ("10", "ten"),
            ("9", "nine"),
            ("\u{1F600}", "a"),
            ("\u{FF5E}", "b"),
        ],
    ))
}

/// Loads `plugins/<name>` (a webhook in another language) next to the Rust webhook and
/// checks it sends the very same request: body bytes, idempotency key, a declared length.
async fn delivers_like_the_rust_webhook(name: &str, sink: &Sink) -> LoadedPlugin {
    let url = format!("{}/hook", sink.url);
    let settings = [("url", url.as_str()), ("allowed_hosts", "127.0.0.1")];
    let rust = load("webhook.wasm", &settings).await.unwrap();
    let twin = load(&format!("{name}.wasm"), &settings).await.unwrap();
    assert_eq!(twin.info.name, name);
    assert_eq!(
        twin.contract_version(),
        "0.2.0",
        "built against the current contract"
    );
    let page = twin_page();
    let (rust_outcome, rust_request) = deliver(&rust, sink, &page).await;
    let (twin_outcome, twin_request) = deliver(&twin, sink, &page).await;
    assert!(
        matches!(rust_outcome, AttemptOutcome::Delivered(_)),
        "{rust_outcome:?}"
    );
    assert!(
        matches!(twin_outcome, AttemptOutcome::Delivered(_)),
        "{twin_outcome:?}"
    );
    assert_eq!(
        String::from_utf8_lossy(&twin_request.body),
        String::from_utf8_lossy(&rust_request.body),
        "{name} sends other bytes than the Rust webhook"
    );
    assert_eq!(twin_request.json()["alert_group"]["number"], 13);
    assert_eq!(
        twin_request.header("idempotency-key"),
        Some(NOTIFICATION_ID)
    );
    assert_eq!(
        twin_request.header("content-length"),
        Some(twin_request.body.len().to_string().as_str())
    );
    twin
}

/// A 5xx is worth another try; a 4xx is permanent and names the status.
async fn assert_failures_keep_their_kind(plugin: &LoadedPlugin, sink: &Sink) {
    sink.fail_next(1, 503);
    assert!(matches!(
        plugin.notify(&twin_page()).await,
        AttemptOutcome::Retryable(_)
    ));
    sink.fail_next(1, 400);
    match plugin.notify(&twin_page()).await {
        AttemptOutcome::Permanent(detail) => {
            assert!(detail.reason.starts_with("HTTP 400"), "{detail:?}")
        }
        other => panic!("a 400 is permanent, not {other:?}"),
    }
}

fn with_alert_group(mut notification: Notification) -> Notification {
    notification.alert_group = Some(emu_oncall::model::AlertGroup {
        id: "IABC".to_owned(),
        number: Some(13),
        title: "Disk <full>".to_owned(),
        state: "firing".to_owned(),
        integration: "Grafana Alerting".to_owned(),
        permalink: "https://grafana.example.com/a/grafana-oncall-app/alert-groups/IABC".to_owned(),
        labels: vec![("severity".to_owned(), "critical".to_owned())],
        started_at: Some("2026-11-24T09:58:00Z".to_owned()),
    });
    notification
}

#[tokio::test]
async fn telegram_and_slack_show_the_alert_groups_details() {
    let telegram_sink = Sink::start().await;
    telegram_sink.respond_with(r#"{"ok":true,"result":{"message_id":1}}"#);
    let telegram = load(
        "telegram.wasm",
        &[
            ("bot_token", "123456:ABC-secret"),
            ("api_url", &telegram_sink.url),
            ("allowed_hosts", "127.0.0.1"),
        ],
    )
    .await
    .unwrap();
    let page = with_alert_group(notification(
        Channel::Sms,
        "Grafana OnCall: Alert group #13",
        &[("telegram_chat_id", "42"), ("slack_user_id", "U1")],
    ));
    let (outcome, request) = deliver(&telegram, &telegram_sink, &page).await;
    assert!(
        matches!(outcome, AttemptOutcome::Delivered(_)),
        "{outcome:?}"
    );
    assert_eq!(
        request.json()["text"],
        "🚨 Grafana OnCall: Alert group #13\n\n#13 Disk <full> (firing)\nvia Grafana Alerting\nseverity=critical\nhttps://grafana.example.com/a/grafana-oncall-app/alert-groups/IABC"
    );

    let slack_sink = Sink::start().await;
    slack_sink.respond_with("ok");
    let slack = load(
        "slack.wasm",
        &[
            ("webhook_url", &format!("{}/hook", slack_sink.url)),
            ("allowed_hosts", "127.0.0.1"),
        ],
    )
    .await
    .unwrap();
    let (outcome, request) = deliver(&slack, &slack_sink, &page).await;
    assert!(
        matches!(outcome, AttemptOutcome::Delivered(_)),
        "{outcome:?}"
    );
    assert_eq!(
        request.json()["text"],
        "*[SMS]* for <@U1>: Grafana OnCall: Alert group #13\n*<https://grafana.example.com/a/grafana-oncall-app/alert-groups/IABC|#13 Disk &lt;full&gt; (firing)>* via Grafana Alerting\nseverity=critical"
    );
}
