//! Shift changes from a changing export: announced once, by the right replica, across
//! restarts, and never from a broken download.

use crate::common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::sink::Sink;
use common::*;
use emu_oncall::model::Role;
use emu_oncall::store::notifications::NotificationFilter;
use emu_oncall::store::Store;

/// An export shaped like OnCall's: one VEVENT per piece of final shift.
fn export(shifts: &[(DateTime<Utc>, DateTime<Utc>, &str)]) -> String {
    let mut text = String::from(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID://Grafana Labs//Grafana On-Call//\r\nCALSCALE:GREGORIAN\r\nX-WR-CALNAME:Primary\r\nX-WR-TIMEZONE:UTC\r\n",
    );
    for (n, (start, end, who)) in shifts.iter().enumerate() {
        text.push_str(&format!(
            "BEGIN:VEVENT\r\nSUMMARY:{who}\r\nDTSTART;VALUE=DATE-TIME:{}\r\nDTEND;VALUE=DATE-TIME:{}\r\nDTSTAMP;VALUE=DATE-TIME:20260323T001500Z\r\nUID:OSHIFT{n}-{}\r\nPRIORITY:0\r\nEND:VEVENT\r\n",
            start.format("%Y%m%dT%H%M%SZ"),
            end.format("%Y%m%dT%H%M%SZ"),
            start.format("%Y%m%d%H%S"),
        ));
    }
    text.push_str("END:VCALENDAR\r\n");
    text
}

struct Tracking {
    export: Sink,
    pages: Sink,
    _plugins: tempfile::TempDir,
    settings: Vec<(String, String)>,
}

async fn tracking() -> Tracking {
    let export = Sink::start().await;
    let pages = Sink::start().await;
    let plugins = plugins_dir_with(&[("webhook.wasm", "webhook.wasm")]);
    let settings = vec![
        (
            "app.plugins_dir".to_owned(),
            plugins.path().display().to_string(),
        ),
        (
            "plugin.webhook.url".to_owned(),
            format!("{}/pages", pages.url),
        ),
        (
            "plugin.webhook.allowed_hosts".to_owned(),
            "127.0.0.1".to_owned(),
        ),
        ("grafana.oncall.url".to_owned(), export.url.clone()),
        (
            "grafana.oncall.schedules.primary.name".to_owned(),
            "Primary".to_owned(),
        ),
        (
            "grafana.oncall.schedules.primary.ical_url".to_owned(),
            "api/v1/schedules/SPRIMARY/export?token=export-token".to_owned(),
        ),
        ("schedules.poll_interval".to_owned(), "200ms".to_owned()),
        ("delivery.poll_interval".to_owned(), "50ms".to_owned()),
    ];
    Tracking {
        export,
        pages,
        _plugins: plugins,
        settings,
    }
}

impl Tracking {
    async fn server_on(&self, db_url: &str) -> TestServer {
        let settings: Vec<(&str, &str)> = self
            .settings
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        start_server_on(db_url, &settings).await
    }

    /// (recipient email, message) of every page sent so far.
    fn pages(&self) -> Vec<(String, String)> {
        self.pages
            .requests()
            .iter()
            .map(|r| {
                let body = r.json();
                (
                    body["recipient"]["email"].as_str().unwrap().to_owned(),
                    body["message"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

async fn polls_done(store: &Store, limit: Duration) -> bool {
    let deadline = std::time::Instant::now() + limit;
    let start = store
        .list_schedules()
        .await
        .ok()
        .and_then(|s| s.first().and_then(|s| s.last_polled_at.or(s.last_error_at)));
    while std::time::Instant::now() < deadline {
        if let Ok(states) = store.list_schedules().await {
            if let Some(state) = states.first() {
                let latest = state.last_polled_at.max(state.last_error_at);
                if latest.is_some() && latest > start {
                    return true;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

async fn on_call(store: &Store) -> Option<Vec<String>> {
    store
        .list_schedules()
        .await
        .unwrap()
        .first()
        .and_then(|state| state.on_call.clone())
}

async fn people(store: &Store) {
    add_user(
        store,
        "alice@example.com",
        "alice",
        Some("+4915100000001"),
        Role::User,
    )
    .await;
    add_user(
        store,
        "bob@example.com",
        "bob",
        Some("+4915100000002"),
        Role::User,
    )
    .await;
}

#[tokio::test]
async fn handovers_gaps_and_broken_downloads() {
    let tracking = tracking().await;
    let now = Utc::now();
    let hour = chrono::Duration::hours(1);
    tracking
        .export
        .respond_with(&export(&[(now - hour, now + hour, "alice")]));
    let db = fresh_database().await;
    let server = tracking.server_on(&db).await;
    let store = &server.store;
    people(store).await;
    assert!(
        wait_for(Duration::from_secs(10), async || {
            on_call(store).await == Some(vec!["alice".to_owned()])
        })
        .await,
        "first poll never stored"
    );
    assert!(polls_done(store, Duration::from_secs(5)).await);
    assert!(
        tracking.pages().is_empty(),
        "the first poll must not announce: {:?}",
        tracking.pages()
    );
    let request = &tracking.export.requests()[0];
    assert_eq!(
        request.path, "/api/v1/schedules/SPRIMARY/export?token=export-token",
        "relative to grafana.oncall.url"
    );

    // An override hands the shift to bob.
    tracking
        .export
        .respond_with(&export(&[(now - hour, now + hour, "bob")]));
    assert!(
        tracking
            .pages
            .wait_for(2, Duration::from_secs(10))
            .await
            .len()
            >= 2,
        "no handover announced"
    );
    let mut pages = tracking.pages();
    pages.sort();
    assert_eq!(pages[0].0, "alice@example.com");
    assert!(
        pages[0].1.contains("shift for Primary is over"),
        "{pages:?}"
    );
    assert_eq!(pages[1].0, "bob@example.com");
    assert!(
        pages[1].1.contains("You are on call for Primary now"),
        "{pages:?}"
    );
    assert!(
        polls_done(store, Duration::from_secs(5)).await
            && polls_done(store, Duration::from_secs(5)).await
    );
    assert_eq!(tracking.pages().len(), 2, "announced twice");

    // A broken download changes nothing: no false "off duty".
    tracking.export.respond_with("<html>502 Bad Gateway</html>");
    assert!(
        wait_for(Duration::from_secs(10), async || {
            store.list_schedules().await.unwrap()[0]
                .last_error
                .is_some()
        })
        .await
    );
    tracking.export.fail_next(3, 503);
    assert!(polls_done(store, Duration::from_secs(5)).await);
    assert_eq!(on_call(store).await, Some(vec!["bob".to_owned()]));
    assert_eq!(tracking.pages().len(), 2);
    let metrics = scrape_metrics(&server).await;
    assert!(
        metrics.contains(
            r#"emu_oncall_schedule_polls_total{schedule="primary",outcome="parse_error"}"#
        ),
        "{metrics}"
    );

    // A gap: nobody on call; bob is told, nobody else.
    tracking
        .export
        .respond_with(&export(&[(now - hour * 3, now - hour * 2, "bob")]));
    assert!(
        tracking
            .pages
            .wait_for(3, Duration::from_secs(10))
            .await
            .len()
            >= 3
    );
    let last = tracking.pages().pop().unwrap();
    assert_eq!(last.0, "bob@example.com");
    assert!(last.1.contains("is over"));
    assert!(
        polls_done(store, Duration::from_secs(5)).await
            && polls_done(store, Duration::from_secs(5)).await
    );
    assert_eq!(tracking.pages().len(), 3);
    assert_eq!(on_call(store).await, Some(vec![]));

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_emu-oncall"))
        .args(["--db-url", &db, "schedules", "list", "--json"])
        .envs(
            tracking
                .settings
                .iter()
                .map(|(key, value)| (common::env_name(key), value.as_str())),
        )
        .env("EMU_ONCALL_APP__AUTH_TOKEN", ENGINE_TOKEN)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(listed[0]["schedule"], "primary");
    assert_eq!(listed[0]["on_call"], serde_json::json!([]));
    assert!(listed[0]["last_polled_at"].is_string());
    assert!(
        !stdout.contains("export-token"),
        "the export token leaked: {stdout}"
    );
}

#[tokio::test]
async fn a_handover_during_downtime_is_announced_once_after_restart() {
    let tracking = tracking().await;
    let now = Utc::now();
    let hour = chrono::Duration::hours(1);
    tracking
        .export
        .respond_with(&export(&[(now - hour, now + hour, "alice")]));
    let db = fresh_database().await;
    let first = tracking.server_on(&db).await;
    people(&first.store).await;
    assert!(
        wait_for(Duration::from_secs(10), async || {
            on_call(&first.store).await == Some(vec!["alice".to_owned()])
        })
        .await
    );
    first.stop().await;

    tracking
        .export
        .respond_with(&export(&[(now - hour, now + hour, "bob")]));
    let second = tracking.server_on(&db).await;
    assert!(
        tracking
            .pages
            .wait_for(2, Duration::from_secs(10))
            .await
            .len()
            >= 2,
        "the handover was not announced after the restart"
    );
    assert!(
        polls_done(&second.store, Duration::from_secs(5)).await
            && polls_done(&second.store, Duration::from_secs(5)).await
    );
    second.stop().await;
    let third = tracking.server_on(&db).await;
    assert!(
        polls_done(&third.store, Duration::from_secs(5)).await
            && polls_done(&third.store, Duration::from_secs(5)).await
    );
    assert_eq!(
        tracking.pages().len(),
        2,
        "announced again after another restart"
    );
}

#[tokio::test]
async fn two_replicas_announce_each_change_once_and_share_the_polling() {
    let tracking = tracking().await;
    let now = Utc::now();
    let hour = chrono::Duration::hours(1);
    tracking
        .export
        .respond_with(&export(&[(now - hour, now + hour, "alice")]));
    let db = fresh_database().await;
    let first = tracking.server_on(&db).await;
    let second = tracking.server_on(&db).await;
    people(&first.store).await;
    assert!(
        wait_for(Duration::from_secs(10), async || {
            on_call(&first.store).await == Some(vec!["alice".to_owned()])
        })
        .await
    );
    let polled_before = tracking.export.requests().len();
    assert!(polls_done(&first.store, Duration::from_secs(5)).await);
    assert!(polls_done(&first.store, Duration::from_secs(5)).await);
    let polls = tracking.export.requests().len() - polled_before;
    assert!(
        polls <= 3,
        "both replicas polled every interval: {polls} polls"
    );

    // Two handovers in a row: each change once.
    tracking
        .export
        .respond_with(&export(&[(now - hour, now + hour, "bob")]));
    assert!(
        tracking
            .pages
            .wait_for(2, Duration::from_secs(10))
            .await
            .len()
            >= 2
    );
    tracking.export.respond_with(&export(&[
        (now - hour, now + hour, "alice"),
        (now - hour, now + hour, "bob"),
    ]));
    assert!(
        tracking
            .pages
            .wait_for(3, Duration::from_secs(10))
            .await
            .len()
            >= 3
    );
    for _ in 0..3 {
        assert!(polls_done(&first.store, Duration::from_secs(5)).await);
    }
    let pages = tracking.pages();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert_eq!(
        pages
            .iter()
            .filter(|(email, m)| email == "alice@example.com" && m.contains("on call"))
            .count(),
        1
    );
    drop(second);
}

/// Appends `STATUS:CANCELLED` events after the live ones, as the engine does when a
/// rebuild drops an event (same UID, `DTEND = DTSTART` for the engine's own; `full`
/// keeps the original length, as other producers may).
fn with_cancelled(export: &str, cancelled: &[(DateTime<Utc>, DateTime<Utc>, &str)]) -> String {
    let mut text = export.trim_end_matches("END:VCALENDAR\r\n").to_owned();
    for (n, (start, end, who)) in cancelled.iter().enumerate() {
        text.push_str(&format!(
            "BEGIN:VEVENT\r\nSUMMARY:{who}\r\nDTSTART;VALUE=DATE-TIME:{}\r\nDTEND;VALUE=DATE-TIME:{}\r\nDTSTAMP;VALUE=DATE-TIME:20260323T001500Z\r\nUID:OCANCELLED{n}\r\nPRIORITY:1\r\nSTATUS:CANCELLED\r\nLAST-MODIFIED;VALUE=DATE-TIME:20260320T140000Z\r\nEND:VEVENT\r\n",
            start.format("%Y%m%dT%H%M%SZ"),
            end.format("%Y%m%dT%H%M%SZ"),
        ));
    }
    text.push_str("END:VCALENDAR\r\n");
    text
}

#[tokio::test]
async fn a_deleted_override_hands_back_once_and_cancelled_events_never_count() {
    let tracking = tracking().await;
    let now = Utc::now();
    let hour = chrono::Duration::hours(1);
    let half = chrono::Duration::minutes(30);
    // dave's override splits alice's shift; eve's event was cancelled long ago and keeps
    // its length, which must not put her on call.
    tracking.export.respond_with(&with_cancelled(
        &export(&[
            (now - hour, now - half, "alice"),
            (now - half, now + half, "dave"),
            (now + half, now + hour, "alice"),
        ]),
        &[(now - hour, now + hour, "eve")],
    ));
    let db = fresh_database().await;
    let server = tracking.server_on(&db).await;
    let store = &server.store;
    people(store).await;
    add_user(store, "dave@example.com", "dave", None, Role::User).await;
    add_user(store, "eve@example.com", "eve", None, Role::User).await;
    assert!(
        wait_for(Duration::from_secs(10), async || {
            on_call(store).await == Some(vec!["dave".to_owned()])
        })
        .await,
        "the override was not seen"
    );

    // The override is deleted: the engine rebuilds alice's shift whole and keeps dave's
    // override and alice's former piece as zero-length cancelled events.
    tracking.export.respond_with(&with_cancelled(
        &export(&[(now - hour, now + hour, "alice")]),
        &[
            (now - half, now - half, "dave"),
            (now + half, now + half, "alice"),
            (now - hour, now + hour, "eve"),
        ],
    ));
    assert!(
        tracking
            .pages
            .wait_for(2, Duration::from_secs(10))
            .await
            .len()
            >= 2,
        "the hand-back was not announced"
    );
    for _ in 0..3 {
        assert!(polls_done(store, Duration::from_secs(5)).await);
    }
    let mut pages = tracking.pages();
    pages.sort();
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert_eq!(pages[0].0, "alice@example.com");
    assert!(pages[0].1.contains("You are on call"), "{pages:?}");
    assert_eq!(pages[1].0, "dave@example.com");
    assert!(pages[1].1.contains("is over"), "{pages:?}");
    assert_eq!(on_call(store).await, Some(vec!["alice".to_owned()]));
}

#[tokio::test]
async fn callback_schedules_open_and_resolve_one_alert_group_per_shift() {
    let mut tracking = tracking().await;
    let hooks = Sink::start().await;
    let hook_url = format!("{}/integrations/v1/formatted_webhook/HOOKTOKEN/", hooks.url);
    tracking.settings.extend([
        (
            "grafana.oncall.schedules.primary.transport".to_owned(),
            "callback".to_owned(),
        ),
        (
            "grafana.oncall.schedules.primary.callback_url".to_owned(),
            hook_url,
        ),
        ("delivery.retry_initial".to_owned(), "100ms".to_owned()),
    ]);
    let began = Utc::now() - chrono::Duration::hours(1);
    tracking.export.respond_with(&export(&[(
        began,
        Utc::now() + chrono::Duration::hours(1),
        "alice",
    )]));
    let db = fresh_database().await;
    let server = tracking.server_on(&db).await;
    let store = &server.store;
    people(store).await;
    assert!(
        wait_for(Duration::from_secs(10), async || {
            on_call(store).await == Some(vec!["alice".to_owned()])
        })
        .await
    );

    // alice hands over to carol, whom Emu-OnCall does not know: the callback still
    // names her. The receiver's first answer is a 503, so one POST is retried.
    hooks.fail_next(1, 503);
    let handover = Utc::now();
    tracking.export.respond_with(&export(&[
        (began, handover, "alice"),
        (handover, handover + chrono::Duration::hours(1), "carol"),
    ]));
    let posted = hooks.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(posted.len(), 3, "two callbacks, one of them retried");
    for _ in 0..2 {
        assert!(polls_done(store, Duration::from_secs(5)).await);
    }

    // carol's shift ends into a gap.
    let gap = Utc::now();
    tracking.export.respond_with(&export(&[
        (began, handover, "alice"),
        (handover, gap, "carol"),
    ]));
    assert!(hooks.wait_for(4, Duration::from_secs(10)).await.len() >= 4);
    for _ in 0..3 {
        assert!(polls_done(store, Duration::from_secs(5)).await);
    }
    let posted = hooks.requests();
    assert_eq!(posted.len(), 4, "each change once, plus one retry");
    for request in &posted {
        assert_eq!(request.method, "POST");
        assert_eq!(
            request.path,
            "/integrations/v1/formatted_webhook/HOOKTOKEN/"
        );
        assert_eq!(request.header("content-type"), Some("application/json"));
    }
    let bodies: Vec<serde_json::Value> = posted.iter().map(|r| r.json()).collect();
    let find = |who: &str, state: &str| {
        let matching: Vec<&serde_json::Value> = bodies
            .iter()
            .filter(|b| b["user"]["username"] == who && b["state"] == state)
            .collect();
        assert!(!matching.is_empty(), "no {state} for {who}: {bodies:#?}");
        assert!(
            matching.iter().all(|b| *b == matching[0]),
            "a retry must repeat the same body"
        );
        matching[0].clone()
    };
    let alice_off = find("alice", "ok");
    assert_eq!(alice_off["title"], "alice is off call for Primary");
    assert_eq!(alice_off["user"]["email"], "alice@example.com");
    assert_eq!(alice_off["schedule"]["key"], "primary");
    let carol_on = find("carol", "alerting");
    assert_eq!(carol_on["title"], "carol is on call for Primary");
    assert!(
        carol_on["message"]
            .as_str()
            .unwrap()
            .starts_with("carol is on call for Primary from "),
        "{carol_on}"
    );
    assert!(carol_on["user"]["email"].is_null());
    let carol_off = find("carol", "ok");
    assert_eq!(
        carol_on["alert_uid"], carol_off["alert_uid"],
        "the end of a shift must resolve the alert group its start opened"
    );
    assert_ne!(carol_on["alert_uid"], alice_off["alert_uid"]);
    // The receiver was told alice's shift began an hour before the first poll.
    assert_eq!(
        alice_off["shift"]["start"].as_str().unwrap()[..16],
        began.to_rfc3339()[..16]
    );

    let delivered = store
        .list_notifications(&NotificationFilter {
            status: None,
            user_email: None,
            limit: 50,
        })
        .await
        .unwrap();
    assert_eq!(delivered.len(), 3, "{delivered:?}");
    assert!(delivered
        .iter()
        .all(|n| n.delivered_by.as_deref() == Some("callback")));
}

/// A polled export with a zone nothing resolves fails its poll, the zone and the event
/// named on the schedule's state (the status page and `schedules list` show it), and the
/// last known on-call set stays.
#[tokio::test]
async fn an_export_with_an_unknown_zone_fails_its_poll_and_says_why() {
    let tracking = tracking().await;
    let feed = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/zones/outlook-unknown-rules.ics"),
    )
    .unwrap();
    tracking.export.respond_with(&feed);
    let db = fresh_database().await;
    let server = tracking.server_on(&db).await;
    let store = &server.store;
    let failed = wait_for(Duration::from_secs(10), async || {
        store
            .list_schedules()
            .await
            .ok()
            .and_then(|states| states.first().and_then(|state| state.last_error.clone()))
            .is_some_and(|error| {
                error.contains("Nowhere Standard Time") && error.contains("unknown-rules-shift")
            })
    })
    .await;
    assert!(failed, "{:?}", store.list_schedules().await);
    assert_eq!(on_call(store).await, None, "no on-call set was made up");
    let metrics = scrape_metrics(&server).await;
    assert!(
        metrics.contains("outcome=\"zone_error\"} 1")
            || metrics.contains("outcome=\"zone_error\"} 2"),
        "{metrics}"
    );
}
