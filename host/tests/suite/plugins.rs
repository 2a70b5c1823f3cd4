//! Delivery through real WebAssembly plugins built from this repository, to a local sink.

use crate::common;

use std::time::Duration;

use common::sink::Sink;
use common::*;
use emu_oncall::model::Role;
use emu_oncall::model::Status;
use emu_oncall::store::notifications::NotificationFilter;
use emu_oncall::store::users::UserUpdate;
use serde_json::json;

const PHONE: &str = "+4915112345678";

struct Setup {
    server: TestServer,
    sink: Sink,
    dir: tempfile::TempDir,
    _cache: tempfile::TempDir,
}

/// A server whose plugin directory holds `files`, with `settings` on top; `webhook`
/// (when present) points at the sink.
async fn setup(files: &[(&str, &str)], settings: &[(&str, &str)]) -> Setup {
    let sink = Sink::start().await;
    let dir = plugins_dir_with(files);
    let cache = tempfile::tempdir().unwrap();
    let url = format!("{}/hook", sink.url);
    let dir_text = dir.path().display().to_string();
    let cache_text = cache.path().display().to_string();
    let mut all: Vec<(&str, &str)> = vec![
        ("app.plugins_dir", &dir_text),
        ("app.plugin_cache_dir", &cache_text),
        ("plugin.webhook.url", &url),
        ("plugin.webhook.allowed_hosts", "127.0.0.1"),
        ("sandbox.cpu_ms", "300"),
        ("sandbox.timeout_ms", "3000"),
        ("sandbox.memory_mb", "32"),
    ];
    all.extend_from_slice(settings);
    let server = start_server(&all).await;
    Setup {
        server,
        sink,
        dir,
        _cache: cache,
    }
}

#[tokio::test]
async fn an_engine_sms_reaches_the_webhook_with_the_users_details() {
    let setup = setup(&[("webhook.wasm", "webhook.wasm")], &[]).await;
    let alice = add_user(
        &setup.server.store,
        "alice@example.com",
        "alice",
        Some(PHONE),
        Role::Admin,
    )
    .await;
    let message = "Grafana OnCall: Alert group #1\"Test alert\" from stack: \"stack\", integration: Test, alerts registered: 1.";
    let (status, body) = send_sms(&setup.server, "alice@example.com", message).await;
    assert_eq!((status, body), (200, json!({})));

    let requests = setup.sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/hook");
    assert_eq!(request.header("content-type"), Some("application/json"));
    let body = request.json();
    assert_eq!(body["channel"], "sms");
    assert_eq!(body["message"], message);
    assert_eq!(body["recipient"]["email"], "alice@example.com");
    assert_eq!(body["recipient"]["phone_number"], PHONE);
    assert_eq!(body["recipient"]["id"], json!(alice.id));
    assert_eq!(body["attempt"], 1);
    assert_eq!(body["alert_group"], serde_json::Value::Null);
    assert_eq!(request.header("idempotency-key"), body["id"].as_str());

    let stored = all_notifications(&setup.server).await;
    assert_eq!(
        stored[0].status,
        Status::Delivered,
        "the first round finished before the answer"
    );
    assert_eq!(stored[0].delivered_by.as_deref(), Some("webhook"));
    let attempts = setup.server.store.attempts(stored[0].id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        (attempts[0].plugin.as_str(), attempts[0].outcome.as_str()),
        ("webhook", "delivered")
    );
    assert_eq!(attempts[0].plugin_version, "0.1.0");
}

#[tokio::test]
async fn a_failover_route_moves_past_a_permanent_failure() {
    let setup = setup(
        &[
            ("webhook.wasm", "webhook.wasm"),
            ("broken.wasm", "test-plugin.wasm"),
        ],
        &[
            ("plugin.broken.behaviour", "fail-permanent"),
            ("routes.sms.plugins", "broken,webhook"),
            ("routes.sms.mode", "failover"),
        ],
    )
    .await;
    add_user(
        &setup.server.store,
        "alice@example.com",
        "alice",
        Some(PHONE),
        Role::User,
    )
    .await;
    let (status, _) = send_sms(&setup.server, "alice@example.com", "page").await;
    assert_eq!(status, 200);
    assert_eq!(
        setup.sink.wait_for(1, Duration::from_secs(10)).await.len(),
        1
    );
    let stored = all_notifications(&setup.server).await;
    assert_eq!(stored[0].delivered_by.as_deref(), Some("webhook"));
    let attempts = setup.server.store.attempts(stored[0].id).await.unwrap();
    let outcomes: Vec<(&str, &str)> = attempts
        .iter()
        .map(|a| (a.plugin.as_str(), a.outcome.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [("broken", "permanent"), ("webhook", "delivered")]
    );
}

#[tokio::test]
async fn when_every_plugin_fails_for_good_the_engine_hears_failed() {
    let setup = setup(
        &[("broken.wasm", "test-plugin.wasm")],
        &[("plugin.broken.behaviour", "fail-permanent")],
    )
    .await;
    add_user(
        &setup.server.store,
        "alice@example.com",
        "alice",
        Some(PHONE),
        Role::User,
    )
    .await;
    let (status, body) = send_sms(&setup.server, "alice@example.com", "page").await;
    assert_eq!((status, body), (503, json!({"error": "failed"})));
    let stored = all_notifications(&setup.server).await;
    assert_eq!(stored[0].status, Status::Dead);
    assert!(
        stored[0]
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("failing permanently"),
        "{:?}",
        stored[0].last_error
    );
}

#[tokio::test]
async fn a_retryable_failure_answers_200_and_keeps_the_notification_for_retry() {
    let setup = setup(&[("webhook.wasm", "webhook.wasm")], &[]).await;
    add_user(
        &setup.server.store,
        "alice@example.com",
        "alice",
        Some(PHONE),
        Role::User,
    )
    .await;
    setup.sink.fail_next(1, 503);
    let (status, _) = send_sms(&setup.server, "alice@example.com", "page").await;
    assert_eq!(status, 200);
    let stored = all_notifications(&setup.server).await;
    assert_eq!(stored[0].status, Status::Failed);
    assert!(
        stored[0]
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("HTTP 503"),
        "{:?}",
        stored[0].last_error
    );
}

#[tokio::test]
async fn with_no_plugin_loaded_a_notification_waits_instead_of_vanishing() {
    let setup = setup(&[], &[]).await;
    add_user(
        &setup.server.store,
        "alice@example.com",
        "alice",
        Some(PHONE),
        Role::User,
    )
    .await;
    let (status, _) = send_sms(&setup.server, "alice@example.com", "page").await;
    assert_eq!(status, 200);
    let stored = all_notifications(&setup.server).await;
    assert_eq!(stored[0].status, Status::Pending);
    assert!(
        stored[0]
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("no loaded plugin"),
        "{:?}",
        stored[0].last_error
    );
}

#[tokio::test]
async fn hostile_plugins_are_cut_off_and_the_others_keep_delivering() {
    let hostile = ["loop", "memory", "trap", "forbidden", "log-flood"];
    let mut files: Vec<(String, &str)> = hostile
        .iter()
        .map(|name| (format!("{name}.wasm"), "test-plugin.wasm"))
        .collect();
    files.push(("webhook.wasm".to_owned(), "webhook.wasm"));
    let file_refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(name, built)| (name.as_str(), *built))
        .collect();
    let sink_for_forbidden = Sink::start().await;
    let forbidden_url = format!("{}/steal", sink_for_forbidden.url);
    let setup = setup(
        &file_refs,
        &[
            ("plugin.loop.behaviour", "loop"),
            ("plugin.memory.behaviour", "memory"),
            ("plugin.trap.behaviour", "trap"),
            ("plugin.forbidden.behaviour", "forbidden"),
            ("plugin.forbidden.url", &forbidden_url),
            ("plugin.log-flood.behaviour", "log-flood"),
            ("sandbox.max_log_lines", "50"),
        ],
    )
    .await;
    let store = &setup.server.store;
    for name in hostile {
        let user = add_user(
            store,
            &format!("{name}@example.com"),
            name,
            Some(PHONE),
            Role::User,
        )
        .await;
        store
            .update_user(
                &user.id,
                UserUpdate {
                    attributes: [("route.sms".to_owned(), json!(name))]
                        .into_iter()
                        .collect(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    add_user(store, "alice@example.com", "alice", Some(PHONE), Role::User).await;
    store
        .update_user(
            "alice@example.com",
            UserUpdate {
                attributes: [("route.sms".to_owned(), json!("webhook"))]
                    .into_iter()
                    .collect(),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    // All at once: the hostile ones must not hold up alice's page.
    let mut pages = Vec::new();
    for name in hostile {
        let server = &setup.server;
        pages.push(async move { send_sms(server, &format!("{name}@example.com"), name).await });
    }
    let started = std::time::Instant::now();
    let (hostile_answers, alice_answer) = tokio::join!(
        futures::future::join_all(pages),
        send_sms(&setup.server, "alice@example.com", "still paged")
    );
    assert_eq!(alice_answer.0, 200);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the engine waited {:?}",
        started.elapsed()
    );
    for (name, (status, _)) in hostile.iter().zip(&hostile_answers) {
        assert!([200, 503].contains(status), "{name}: {status}");
    }
    assert_eq!(
        setup.sink.wait_for(1, Duration::from_secs(10)).await.len(),
        1,
        "alice's page was delivered"
    );
    assert!(
        sink_for_forbidden.requests().is_empty(),
        "a host outside allowed_hosts was reached"
    );

    let expected = [
        ("loop", "CPU limit"),
        ("memory", "memory limit"),
        ("trap", "trapped"),
        ("forbidden", "denied"),
        // A million host calls take longer than the CPU bound allows, or finish with
        // every line past the log limit dropped; either way the call ends.
        ("log-flood", "flooded|CPU limit"),
    ];
    for (name, needle) in expected {
        let user = store
            .find_user(&format!("{name}@example.com"))
            .await
            .unwrap()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let (settled, error) = loop {
            let list = store
                .list_notifications(&NotificationFilter {
                    user_email: Some(user.email.clone()),
                    limit: 1,
                    ..Default::default()
                })
                .await
                .unwrap();
            match list.first() {
                Some(n) if n.status != Status::Delivering && n.status != Status::Pending => {
                    break (true, n.last_error.clone().unwrap_or_default());
                }
                _ if std::time::Instant::now() >= deadline => break (false, String::new()),
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        assert!(settled, "{name} never settled");
        assert!(
            needle.split('|').any(|n| error.contains(n)),
            "{name}: expected {needle:?} in {error:?}"
        );
    }

    // The server is still healthy and still delivers.
    let (status, _) = send_sms(&setup.server, "alice@example.com", "after the storm").await;
    assert_eq!(status, 200);
    assert_eq!(
        setup.sink.wait_for(2, Duration::from_secs(10)).await.len(),
        2
    );
    let _ = &setup.dir;
}
