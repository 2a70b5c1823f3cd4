//! No notification lost: retries, dead letters, several replicas, killed replicas,
//! a lost database, and the heartbeat watchdog.

use crate::common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::process::ServerProcess;
use common::sink::Sink;
use common::webhook::with_webhook;
use common::*;
use emu_oncall::model::Role;
use emu_oncall::model::Status;
use emu_oncall::store::notifications::NotificationFilter;
use emu_oncall::store::Store;
use serde_json::json;

const PHONE: &str = "+4915112345678";

async fn notifications(store: &Store) -> Vec<emu_oncall::store::notifications::Notification> {
    store
        .list_notifications(&NotificationFilter {
            limit: 10_000,
            ..Default::default()
        })
        .await
        .unwrap()
}

/// Polls the database until every notification is delivered, for at most `limit`.
async fn all_delivered(store: &Store, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(all) = store
            .list_notifications(&NotificationFilter {
                limit: 100_000,
                ..Default::default()
            })
            .await
        {
            if !all.is_empty() && all.iter().all(|n| n.status == Status::Delivered) {
                return true;
            }
        }
        if Instant::now() >= deadline {
            if let Ok(all) = store
                .list_notifications(&NotificationFilter {
                    limit: 100_000,
                    ..Default::default()
                })
                .await
            {
                for stuck in all.iter().filter(|n| n.status != Status::Delivered) {
                    eprintln!(
                        "undelivered: {} {:?} attempts {} error {:?}",
                        stuck.message, stuck.status, stuck.attempts, stuck.last_error
                    );
                }
            }
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_provider_that_fails_twice_then_recovers_gets_the_page_on_the_third_attempt() {
    let setup = with_webhook(None, &[]).await;
    add_user(
        &setup.server.store,
        "alice@example.com",
        "alice",
        Some(PHONE),
        Role::User,
    )
    .await;
    setup.sink.fail_next(2, 503);
    let (status, _) = send_sms(&setup.server, "alice@example.com", "page").await;
    assert_eq!(status, 200, "a retryable failure is still accepted");
    let requests = setup.sink.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(requests.len(), 3);
    assert!(all_delivered(&setup.server.store, Duration::from_secs(10)).await);
    let key = requests[0].header("idempotency-key").unwrap().to_owned();
    assert!(
        requests
            .iter()
            .all(|r| r.header("idempotency-key") == Some(key.as_str())),
        "one idempotency key for every attempt"
    );
    assert_eq!(
        requests
            .iter()
            .map(|r| r.json()["attempt"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let id = notifications(&setup.server.store).await[0].id;
    let attempts = setup.server.store.attempts(id).await.unwrap();
    let recorded: Vec<(i32, &str)> = attempts
        .iter()
        .map(|a| (a.attempt, a.outcome.as_str()))
        .collect();
    assert_eq!(
        recorded,
        [(1, "retryable"), (2, "retryable"), (3, "delivered")]
    );
    assert!(attempts[0].error.as_deref().unwrap().contains("HTTP 503"));

    let metrics = scrape_metrics(&setup.server).await;
    for expected in [
        r#"emu_oncall_delivery_attempts_total{plugin="webhook",outcome="retryable"} 2"#,
        r#"emu_oncall_delivery_attempts_total{plugin="webhook",outcome="delivered"} 1"#,
        r#"emu_oncall_delivery_latency_seconds_count{channel="sms"} 1"#,
        r#"emu_oncall_notifications_stored{status="pending"} 0"#,
        r#"emu_oncall_notifications_stored{status="failed"} 0"#,
        "emu_oncall_oldest_undelivered_age_seconds 0",
    ] {
        assert!(
            metrics.contains(expected),
            "missing {expected} in\n{metrics}"
        );
    }
}

#[tokio::test]
async fn a_notification_out_of_attempts_is_dead_and_can_be_retried_by_hand() {
    let setup = with_webhook(None, &[("delivery.max_attempts", "2")]).await;
    add_user(
        &setup.server.store,
        "alice@example.com",
        "alice",
        Some(PHONE),
        Role::User,
    )
    .await;
    setup.sink.fail_next(2, 503);
    send_sms(&setup.server, "alice@example.com", "page").await;
    let store = &setup.server.store;
    let deadline = Instant::now() + Duration::from_secs(10);
    let dead = loop {
        let all = notifications(store).await;
        if all[0].status == Status::Dead {
            break all[0].clone();
        }
        assert!(Instant::now() < deadline, "never dead: {:?}", all[0].status);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        dead.last_error
            .as_deref()
            .unwrap()
            .contains("gave up after 2 attempts"),
        "{:?}",
        dead.last_error
    );
    let listed = store
        .list_notifications(&NotificationFilter {
            status: Some(Status::Dead),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "dead ones are listed by status");

    let response = client()
        .post(format!(
            "{}/admin/api/v1/notifications/{}/retry",
            setup.server.base, dead.id
        ))
        .header("Authorization", format!("Bearer {ADMIN_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    assert!(
        all_delivered(store, Duration::from_secs(10)).await,
        "a retry by hand delivers it"
    );
    assert_eq!(setup.sink.requests().len(), 3);
    let again = client()
        .post(format!(
            "{}/admin/api/v1/notifications/{}/retry",
            setup.server.base, dead.id
        ))
        .header("Authorization", format!("Bearer {ADMIN_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status().as_u16(),
        409,
        "a delivered notification is not sent again"
    );
}

fn replica_config(db_url: &str, plugins: &std::path::Path, sink: &Sink) -> String {
    format!(
        r#"
[app]
auth_token = "{ENGINE_TOKEN}"
admin_token = "{ADMIN_TOKEN}"
log_level = "warn"
plugins_dir = {plugins:?}
plugin_cache_dir = ""
[db]
url = {db_url:?}
[limits]
sms_per_day = 0
[sandbox]
timeout_ms = 1000
[delivery]
lease = "2s"
poll_interval = "100ms"
retry_initial = "100ms"
retry_max = "500ms"
[plugin.webhook]
url = "{}/hook"
allowed_hosts = ["127.0.0.1"]
"#,
        sink.url
    )
}

/// Sends `count` pages round-robin over `bases` with `parallel` clients; returns the
/// messages that were answered 200 (accepted). `on_progress` runs after each answer.
async fn send_pages(
    bases: Vec<String>,
    count: usize,
    parallel: usize,
    mut on_progress: impl FnMut(usize) + Send + 'static,
) -> Vec<String> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(String, bool)>(64);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..parallel {
        let tx = tx.clone();
        let bases = bases.clone();
        let next = next.clone();
        tokio::spawn(async move {
            let client = client();
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if n >= count {
                    return;
                }
                let message = format!("page-{n:05}");
                let base = &bases[n % bases.len()];
                let accepted = match client
                    .post(format!("{base}/api/v1/send_sms"))
                    .header("Authorization", ENGINE_TOKEN)
                    .form(&[
                        ("email", "alice@example.com"),
                        ("message", message.as_str()),
                    ])
                    .send()
                    .await
                {
                    Ok(response) => response.status().as_u16() == 200,
                    Err(_) => false,
                };
                if tx.send((message, accepted)).await.is_err() {
                    return;
                }
            }
        });
    }
    drop(tx);
    let mut accepted = Vec::new();
    let mut answered = 0;
    while let Some((message, ok)) = rx.recv().await {
        answered += 1;
        if ok {
            accepted.push(message);
        }
        on_progress(answered);
    }
    accepted
}

/// How many times each message reached the sink.
fn deliveries_by_message(sink: &Sink) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for request in sink.requests() {
        *counts
            .entry(request.json()["message"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
    }
    counts
}

async fn prepared_database() -> (String, Store) {
    let db_url = fresh_database().await;
    let store = emu_oncall::app::connect_and_migrate(&test_config(&db_url, &[]))
        .await
        .unwrap();
    add_user(
        &store,
        "alice@example.com",
        "alice",
        Some(PHONE),
        Role::User,
    )
    .await;
    (db_url, store)
}

#[tokio::test]
async fn three_replicas_deliver_a_thousand_pages_once_each() {
    let (db_url, store) = prepared_database().await;
    let sink = Sink::start().await;
    let plugins = plugins_dir_with(&[("webhook.wasm", "webhook.wasm")]);
    let logs = tempfile::tempdir().unwrap();
    let config = replica_config(&db_url, plugins.path(), &sink);
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(ServerProcess::start(&config, logs.path()).await);
    }
    let bases = replicas.iter().map(|r| r.base.clone()).collect();
    let accepted = send_pages(bases, 1000, 12, |_| {}).await;
    assert_eq!(accepted.len(), 1000, "every page accepted");
    assert!(
        all_delivered(&store, Duration::from_secs(60)).await,
        "not all delivered"
    );
    let counts = deliveries_by_message(&sink);
    assert_eq!(counts.len(), 1000);
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    let mut keys: Vec<String> = sink
        .requests()
        .iter()
        .map(|r| r.header("idempotency-key").unwrap().to_owned())
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 1000, "one idempotency key per notification");
}

#[tokio::test]
async fn a_replica_killed_mid_burst_loses_nothing() {
    let (db_url, store) = prepared_database().await;
    let sink = Sink::start().await;
    // A slow provider keeps plenty of plugin calls in flight when the kill lands.
    sink.delay(Duration::from_millis(20));
    let plugins = plugins_dir_with(&[("webhook.wasm", "webhook.wasm")]);
    let logs = tempfile::tempdir().unwrap();
    let config = replica_config(&db_url, plugins.path(), &sink);
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(ServerProcess::start(&config, logs.path()).await);
    }
    let bases: Vec<String> = replicas.iter().map(|r| r.base.clone()).collect();
    let victim = replicas[0].child.id();
    let accepted = send_pages(bases, 1000, 12, move |answered| {
        if answered == 300 {
            let status = std::process::Command::new("kill")
                .args(["-KILL", &victim.to_string()])
                .status()
                .unwrap();
            assert!(status.success());
        }
    })
    .await;
    assert!(
        accepted.len() >= 600,
        "the two survivors kept accepting: {}",
        accepted.len()
    );
    assert!(
        all_delivered(&store, Duration::from_secs(60)).await,
        "a notification stayed undelivered after the kill"
    );
    let counts = deliveries_by_message(&sink);
    for message in &accepted {
        assert!(
            counts.contains_key(message),
            "{message} was accepted but never delivered"
        );
    }
    let stored = notifications(&store).await.len();
    assert_eq!(
        counts.len(),
        stored,
        "every stored notification reached the sink"
    );
    let duplicates = counts.values().filter(|n| **n > 1).count();
    // Only a call in flight at the kill can be repeated: at most the killed replica's
    // concurrent requests and workers.
    assert!(duplicates <= 12 + 16, "{duplicates} duplicates");
    println!(
        "replica kill: {} accepted, {stored} stored, {duplicates} delivered twice",
        accepted.len()
    );
}

#[tokio::test]
async fn losing_postgresql_under_load_loses_no_accepted_page_and_recovers_without_restart() {
    let pg_dir = tempfile::Builder::new()
        .prefix("emu-oncall-outage-pg")
        .tempdir_in("/tmp")
        .unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/dev-postgres");
    let pg = |command: &str| {
        let output = std::process::Command::new(&script)
            .arg(command)
            .arg(pg_dir.path())
            .arg("--fast")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "dev-postgres {command}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    let admin_url = pg("start");
    let (admin, connection) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    admin.batch_execute("CREATE DATABASE emu").await.unwrap();
    drop(admin);
    let db_url = format!("{}/emu", admin_url.rsplit_once('/').unwrap().0);
    let setup = with_webhook(Some(&db_url), &[("delivery.lease", "15s")]).await;
    add_user(
        &setup.server.store,
        "alice@example.com",
        "alice",
        Some(PHONE),
        Role::User,
    )
    .await;

    let base = setup.server.base.clone();
    let stop_flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_load = stop_flag.clone();
    let refusals = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let refusals_seen = refusals.clone();
    let load = tokio::spawn(async move {
        let client = client();
        let mut accepted = Vec::new();
        let mut refused = 0;
        let mut n = 0;
        while !stop_load.load(std::sync::atomic::Ordering::SeqCst) {
            let message = format!("page-{n:05}");
            n += 1;
            match client
                .post(format!("{base}/api/v1/send_sms"))
                .header("Authorization", ENGINE_TOKEN)
                .form(&[
                    ("email", "alice@example.com"),
                    ("message", message.as_str()),
                ])
                .send()
                .await
            {
                Ok(response) if response.status().as_u16() == 200 => accepted.push(message),
                Ok(response) => {
                    assert_eq!(response.status().as_u16(), 503, "an outage is a 503");
                    let body: serde_json::Value = response.json().await.unwrap();
                    assert_eq!(body["error"], "database-unavailable");
                    refused += 1;
                    refusals_seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                Err(err) => panic!("the server stopped answering: {err}"),
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (accepted, refused)
    });
    let accepted_before = setup.sink.wait_for(20, Duration::from_secs(20)).await.len();
    assert!(accepted_before >= 20);
    pg("stop");
    // The outage lasts until readiness has reported it.
    let ready = |expect: u16| {
        let base = setup.server.base.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let status = client()
                    .get(format!("{base}/readyz"))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                if status == expect {
                    return true;
                }
                if Instant::now() >= deadline {
                    return false;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert!(
        ready(503).await,
        "readyz kept saying ready without a database"
    );
    // Keep the database down until the engine's side has seen the outage too.
    let seen = wait_for(Duration::from_secs(20), async || {
        refusals.load(std::sync::atomic::Ordering::SeqCst) > 0
    })
    .await;
    assert!(seen, "no request was refused while the database was down");
    pg("start");
    assert!(ready(200).await, "the server did not reconnect by itself");
    let before = setup.sink.requests().len();
    assert!(
        setup
            .sink
            .wait_for(before + 20, Duration::from_secs(20))
            .await
            .len()
            >= before + 20,
        "delivery did not resume"
    );
    stop_flag.store(true, std::sync::atomic::Ordering::SeqCst);
    let (accepted, refused) = load.await.unwrap();
    assert!(refused > 0, "the outage was not seen");
    assert!(
        all_delivered(&setup.server.store, Duration::from_secs(30)).await,
        "an accepted page was lost"
    );
    let counts = deliveries_by_message(&setup.sink);
    for message in &accepted {
        assert!(
            counts.contains_key(message),
            "{message} accepted but never delivered"
        );
    }
    drop(setup);
    pg("stop");
}

#[tokio::test]
async fn heartbeat_down_and_recovery_are_announced_once_across_two_replicas() {
    let db_url = fresh_database().await;
    let watchdog: &[(&str, &str)] = &[
        ("heartbeat.timeout", "2s"),
        ("heartbeat.check_interval", "100ms"),
        ("heartbeat.notify", "oncall-lead@example.com"),
    ];
    let first = with_webhook(Some(&db_url), watchdog).await;
    let second = with_webhook(Some(&db_url), watchdog).await;
    add_user(
        &first.server.store,
        "oncall-lead@example.com",
        "lead",
        Some(PHONE),
        Role::Admin,
    )
    .await;
    let response = client()
        .post(format!("{}/api/v1/integrations/", first.server.base))
        .header("Authorization", ENGINE_TOKEN)
        .form(&[
            ("type", "formatted_webhook"),
            ("name", "OnCall Cloud Heartbeat http://oncall.local"),
        ])
        .send()
        .await
        .unwrap();
    let integration: serde_json::Value = response.json().await.unwrap();
    let link = integration["heartbeat"]["link"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        client().get(&link).send().await.unwrap().status().as_u16(),
        200
    );

    let messages = |event: &str| {
        let needle = if event == "down" {
            "stopped sending heartbeats"
        } else {
            "sending heartbeats again"
        };
        first
            .sink
            .requests()
            .iter()
            .chain(second.sink.requests().iter())
            .filter(|r| r.json()["message"].as_str().unwrap().contains(needle))
            .count()
    };
    assert!(
        wait_for(Duration::from_secs(10), async || messages("down") >= 1).await,
        "no down notification"
    );
    let announced = first
        .sink
        .requests()
        .iter()
        .chain(second.sink.requests().iter())
        .find(|r| r.json()["message"].as_str().unwrap().contains("stopped"))
        .unwrap()
        .json();
    assert_eq!(announced["recipient"]["email"], "oncall-lead@example.com");
    assert!(announced["message"]
        .as_str()
        .unwrap()
        .contains("http://oncall.local"));
    // Both watchdogs keep checking (every 100 ms) for a while, well inside the 2 s
    // timeout: still only one announcement.
    assert!(
        !wait_for(Duration::from_millis(700), async || messages("down") > 1).await,
        "down announced twice"
    );

    assert_eq!(
        client().get(&link).send().await.unwrap().status().as_u16(),
        200
    );
    assert!(
        wait_for(Duration::from_secs(10), async || messages("recovered") >= 1).await,
        "no recovery notification"
    );
    assert_eq!(
        client().get(&link).send().await.unwrap().status().as_u16(),
        200
    );
    assert!(
        !wait_for(Duration::from_millis(700), async || messages("recovered")
            > 1
            || messages("down") > 1)
        .await,
        "announced twice"
    );
    let _ = json!(null);
}

#[tokio::test]
async fn sigterm_finishes_or_hands_back_the_rounds_in_hand_and_exits_cleanly() {
    let (db_url, store) = prepared_database().await;
    let sink = Sink::start().await;
    sink.delay(Duration::from_millis(500));
    let plugins = plugins_dir_with(&[("webhook.wasm", "webhook.wasm")]);
    let logs = tempfile::tempdir().unwrap();
    let config = replica_config(&db_url, plugins.path(), &sink);
    let mut first = ServerProcess::start(&config, logs.path()).await;
    let pages = tokio::spawn(send_pages(vec![first.base.clone()], 20, 10, |_| {}));
    assert!(
        sink.wait_for(5, Duration::from_secs(10)).await.len() >= 5,
        "no calls in flight"
    );
    first.signal("-TERM");
    let exit = first.wait_exit(Duration::from_secs(20)).await;
    assert!(exit.success(), "SIGTERM must exit 0: {exit:?}");
    let accepted = pages.await.unwrap();
    let held = notifications(&store)
        .await
        .into_iter()
        .filter(|n| n.status == Status::Delivering)
        .count();
    assert_eq!(held, 0, "a clean stop leaves nothing under its lease");
    // Whatever it could not finish, another replica delivers.
    let _second = ServerProcess::start(&config, logs.path()).await;
    assert!(all_delivered(&store, Duration::from_secs(30)).await);
    let counts = deliveries_by_message(&sink);
    for message in &accepted {
        assert!(
            counts.contains_key(message),
            "{message} accepted but never delivered"
        );
    }
}

#[tokio::test]
async fn a_provider_that_hangs_costs_the_engine_nothing_and_the_page_is_retried() {
    let setup = with_webhook(None, &[("sandbox.timeout_ms", "400")]).await;
    add_user(
        &setup.server.store,
        "alice@example.com",
        "alice",
        Some(PHONE),
        Role::User,
    )
    .await;
    // The provider takes the request and answers only after 30 s.
    setup.sink.delay(Duration::from_secs(30));
    let started = Instant::now();
    let (status, _) = send_sms(&setup.server, "alice@example.com", "while it hangs").await;
    let waited = started.elapsed();
    assert_eq!(status, 200, "a hung provider is a retryable failure");
    assert!(
        waited < Duration::from_secs(3),
        "the engine waited {waited:?} on a hung provider"
    );
    let stored = notifications(&setup.server.store).await;
    assert_eq!(stored.len(), 1);
    // The provider recovers; the retry delivers.
    setup.sink.delay(Duration::ZERO);
    assert!(all_delivered(&setup.server.store, Duration::from_secs(20)).await);
    let attempts = setup.server.store.attempts(stored[0].id).await.unwrap();
    assert!(attempts.len() >= 2, "{attempts:?}");
    assert_eq!(attempts[0].outcome, "retryable");
    assert!(
        attempts[0]
            .error
            .as_deref()
            .is_some_and(|error| error.contains("400")),
        "{attempts:?}"
    );
    assert_eq!(
        attempts.last().map(|a| a.outcome.as_str()),
        Some("delivered")
    );
}

/// Rounds end in batches: one `write_back` settles each claim as its round decided,
/// writes every attempt row, and refuses (false) only the settlement of a claim whose
/// lease another holder took meanwhile.
#[tokio::test]
async fn a_batch_of_rounds_is_written_back_at_once_and_a_stale_claim_settles_nothing() {
    use emu_oncall::model::Channel;
    use emu_oncall::store::attempts::{NewAttempt, Settlement};
    use emu_oncall::store::claims::RetryBudget;
    use emu_oncall::store::notifications::NewNotification;
    use emu_oncall::store::write_back::WriteBack;

    let db = fresh_database().await;
    let store = emu_oncall::app::connect_and_migrate(&test_config(&db, &[]))
        .await
        .unwrap();
    let alice = add_user(
        &store,
        "alice@example.com",
        "alice",
        Some(PHONE),
        Role::User,
    )
    .await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let id = store
            .accept_notification(NewNotification {
                channel: Channel::Sms,
                user_id: Some(alice.id.clone()),
                recipient_email: Some(alice.email.clone()),
                message: format!("page {n}"),
                payload: serde_json::json!({}),
            })
            .await
            .unwrap();
        ids.push(id);
    }
    let budget = RetryBudget {
        max_attempts: 10,
        max_age: Duration::from_secs(3600),
    };
    let lease = Duration::from_secs(60);
    let mut claimed = store
        .claim_due("replica-a", lease, 10, budget)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 5, "one statement claims every due page");
    claimed.sort_by_key(|c| ids.iter().position(|id| *id == c.claim.id));
    for (page, id) in claimed.iter().zip(&ids) {
        assert_eq!(page.claim.id, *id);
        assert_eq!(page.claim.attempt, 1);
        assert_eq!(
            page.user.as_ref().map(|user| user.id.as_str()),
            Some(alice.id.as_str()),
            "the claim carries the user"
        );
    }
    // The last one's lease runs out and replica B takes it: A's settlement must not land.
    execute_sql(
        &db,
        "UPDATE notifications SET lease_until = now() - interval '1 second' WHERE id = $1",
        &[&ids[4]],
    )
    .await;
    let taken = store
        .claim_notification(ids[4], "replica-b", lease, budget)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.claim.attempt, 2);

    let attempt = |id: uuid::Uuid, outcome: &'static str| NewAttempt {
        notification_id: id,
        attempt: 1,
        plugin: "webhook".into(),
        plugin_version: "1.0.0".into(),
        outcome,
        error: (outcome != "delivered").then(|| "HTTP 503".to_owned()),
        receipt: None,
        provider_id: None,
        duration_ms: 3,
    };
    let retry_at = chrono::Utc::now() + chrono::Duration::minutes(5);
    let settlements = [
        Settlement::Delivered {
            by: "webhook".into(),
        },
        Settlement::Retry {
            error: "sms: HTTP 503".into(),
            retry_at,
            delivered_by: Some("chat".into()),
        },
        Settlement::Dead {
            error: "bad number".into(),
        },
        Settlement::Unclaim {
            reason: "no plugin".into(),
            retry_at,
        },
        Settlement::Delivered {
            by: "webhook".into(),
        },
    ];
    let batch: Vec<WriteBack> = claimed
        .iter()
        .zip(settlements)
        .map(|(page, settlement)| {
            let outcome = if matches!(settlement, Settlement::Delivered { .. }) {
                "delivered"
            } else {
                "retryable"
            };
            WriteBack {
                claim: page.claim,
                settlement: Some(settlement),
                attempts: vec![attempt(page.claim.id, outcome)],
            }
        })
        .collect();
    let settled = store.write_back("replica-a", &batch).await.unwrap();
    assert_eq!(settled, vec![true, true, true, true, false]);

    let get = |n: usize| {
        let store = store.clone();
        let id = ids[n];
        async move { store.get_notification(id).await.unwrap().unwrap() }
    };
    let delivered = get(0).await;
    assert_eq!(
        (delivered.status, delivered.delivered_by.as_deref()),
        (Status::Delivered, Some("webhook"))
    );
    let retrying = get(1).await;
    assert_eq!(retrying.status, Status::Failed);
    assert_eq!(retrying.last_error.as_deref(), Some("sms: HTTP 503"));
    assert_eq!(
        retrying.delivered_by.as_deref(),
        Some("chat"),
        "a fan-out retry keeps who delivered"
    );
    assert_eq!(get(2).await.status, Status::Dead);
    let handed_back = get(3).await;
    assert_eq!(
        (handed_back.status, handed_back.attempts),
        (Status::Pending, 0),
        "an unclaim takes its attempt back"
    );
    let stale = get(4).await;
    assert_eq!(
        (stale.status, stale.attempts),
        (Status::Delivering, 2),
        "replica B's claim stands"
    );
    // Every round's attempt row is history, written whether or not its settlement took.
    for id in &ids {
        assert_eq!(
            store.attempts(*id).await.unwrap().len(),
            1,
            "attempt row of {id}"
        );
    }
    // A batch with no settlement (a lost lease) writes only its rows.
    let rows_only = WriteBack {
        claim: claimed[0].claim,
        settlement: None,
        attempts: vec![attempt(ids[0], "retryable")],
    };
    assert_eq!(
        store.write_back("replica-a", &[rows_only]).await.unwrap(),
        vec![true]
    );
    assert_eq!(store.attempts(ids[0]).await.unwrap().len(), 2);
    assert_eq!(get(0).await.status, Status::Delivered);
}
