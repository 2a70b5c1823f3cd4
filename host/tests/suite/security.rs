//! The attacks and faults SECURITY.md lists, each shown failing against the server.

use std::time::Duration;

use crate::common;

use common::sink::Sink;
use common::*;
use serde_json::json;

/// A push whose JSON carries the fields of a schedule callback is a push: it reaches no
/// schedule's callback URL (whose token would make the body a forged alert).
#[tokio::test]
async fn a_push_cannot_pose_as_a_schedule_callback() {
    let hooks = Sink::start().await;
    let callback_url = format!("{}/integrations/v1/formatted_webhook/HOOKTOKEN/", hooks.url);
    let feed = Sink::start().await;
    let server = start_server(&[
        (
            "grafana.oncall.schedules.primary.ical_url",
            &format!("{}/export.ics", feed.url),
        ),
        ("grafana.oncall.schedules.primary.transport", "callback"),
        (
            "grafana.oncall.schedules.primary.callback_url",
            &callback_url,
        ),
    ])
    .await;
    let forged = json!({
        "token": "device",
        "data": {"title": "pwned"},
        "source": "schedule",
        "transport": "callback",
        "schedule": "primary",
        "callback": {"alert_uid": "forged", "title": "Forged alert", "state": "alerting"},
    });
    let response = client()
        .post(format!("{}/mobile_app/v1/fcm_relay", server.base))
        .header("Authorization", ENGINE_TOKEN)
        .json(&forged)
        .send()
        .await
        .expect("push relay answers");
    assert_eq!(response.status().as_u16(), 200);
    // The first round runs before the answer; with no push plugin it can only wait.
    let settled = wait_for(Duration::from_secs(10), async || {
        let listed = all_notifications(&server).await;
        listed.len() == 1 && (listed[0].last_error.is_some() || listed[0].delivered_by.is_some())
    })
    .await;
    assert!(settled, "the push's first round ended");
    let listed = all_notifications(&server).await;
    assert_ne!(listed[0].delivered_by.as_deref(), Some("callback"));
    assert!(
        hooks.requests().is_empty(),
        "the forged body reached the callback URL: {:?}",
        hooks
            .requests()
            .iter()
            .map(|r| r.text())
            .collect::<Vec<_>>()
    );
}

/// `serve` starts with no token from the examples, and no short one unless told to.
#[tokio::test]
async fn serve_refuses_published_and_short_tokens() {
    let db = fresh_database().await;
    for (key, token) in [
        ("app.auth_token", "example-token-change-me"),
        ("app.admin_token", "example-admin-token-change-me"),
        ("app.auth_token", "compose-cloud-token"),
        ("app.admin_token", "compose-admin-token"),
        ("app.auth_token", "short-but-secret"),
    ] {
        let config = test_config(&db, &[(key, token)]);
        let refused = match emu_oncall::app::prepare(config).await {
            Ok(_) => panic!("{key}={token} was accepted"),
            Err(err) => format!("{err:#}"),
        };
        assert!(refused.contains(key), "{refused}");
    }
    // Published tokens stay refused with the switch; short ones are then accepted.
    let config = test_config(
        &db,
        &[
            ("app.allow_weak_tokens", "true"),
            ("app.auth_token", "example-token-change-me"),
        ],
    );
    assert!(emu_oncall::app::prepare(config).await.is_err());
    let server = start_server_on(
        &db,
        &[
            ("app.allow_weak_tokens", "true"),
            ("app.auth_token", "short-but-secret"),
        ],
    )
    .await;
    let (status, _) = post_form(&server, "/api/v1/send_sms", Some("short-but-secret"), "").await;
    assert_eq!(status, 400, "the short token is accepted (the form is not)");
}

/// Every token the examples and docs spell out is one `serve` refuses.
#[test]
fn every_token_in_the_examples_is_refused() {
    let mut files = vec![
        repository().join("README.md"),
        repository().join("Dockerfile"),
    ];
    let mut folders = vec![repository().join("examples")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("examples folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    let assignment = token_values(&["auth_token", "admin_token", "AUTH_TOKEN", "ADMIN_TOKEN"]);
    let mut seen = 0;
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for line in text.lines() {
            for value in assignment(line) {
                seen += 1;
                let refused = emu_oncall::config::tokens::EXAMPLE_TOKENS
                    .iter()
                    .any(|known| known.eq_ignore_ascii_case(&value));
                assert!(
                    refused,
                    "{}: token {value:?} is published but not in config::tokens::EXAMPLE_TOKENS",
                    file.display()
                );
            }
        }
    }
    // The scan reads something: plugin settings also name their tokens `auth_token`.
    assert!(seen > 0, "no token assignment found in the examples");
}

/// The literal values given to any of `keys` on a line: `key = "v"`, `key: v`,
/// `KEY=v`, `${KEY:-v}`. Placeholders (`…`, `...`, `$(…)`, `${…:?…}`) are not values.
fn token_values(keys: &[&'static str]) -> impl Fn(&str) -> Vec<String> {
    let keys = keys.to_vec();
    move |line: &str| {
        let mut values = Vec::new();
        for key in &keys {
            let mut rest = line;
            while let Some(at) = rest.find(key) {
                rest = &rest[at + key.len()..];
                let after = rest.trim_start_matches([' ', '"']);
                let Some(after) = after.strip_prefix('=').or_else(|| after.strip_prefix(':'))
                else {
                    continue;
                };
                let mut value = after.trim_start();
                // ${VAR:-default} in compose files: the default is the published value.
                if let Some(inner) = value.strip_prefix("${") {
                    match inner.split_once(":-") {
                        Some((_, default)) => value = default,
                        None => continue,
                    }
                }
                let value: String = value
                    .trim_start_matches(['"', '\''])
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || "-_".contains(*c))
                    .collect();
                if !value.is_empty() {
                    values.push(value);
                }
            }
        }
        values
    }
}

/// A user with an admin-set (so confirmed) number, who can be paged.
async fn add_paged_user(
    store: &emu_oncall::store::Store,
    email: &str,
    username: &str,
) -> emu_oncall::store::users::User {
    add_user(
        store,
        email,
        username,
        Some("+4915112345678"),
        emu_oncall::model::Role::User,
    )
    .await
}

/// Runs `sql` on the test's database, as a fault injector would.
async fn execute(db_url: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(db_url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test database");
    tokio::spawn(connection);
    client
        .batch_execute(sql)
        .await
        .expect("fault injection SQL");
}

async fn notification_status(server: &TestServer, id: uuid::Uuid) -> Option<String> {
    server
        .store
        .get_notification(id)
        .await
        .expect("read notification")
        .map(|found| found.status.as_str().to_owned())
}

/// Three rounds queue for one sandbox slot behind a provider that takes 2 s, under a
/// 3 s lease: the third waits 4 s. Its lease is kept while it waits, and the claim's
/// attempt number fences it, so no round is taken over and sent again.
#[tokio::test]
async fn rounds_waiting_for_a_sandbox_slot_are_delivered_exactly_once() {
    let hooks = common::webhook::with_webhook(
        None,
        &[
            ("sandbox.max_concurrent", "1"),
            ("sandbox.timeout_ms", "2500"),
            ("delivery.lease", "3s"),
        ],
    )
    .await;
    let server = &hooks.server;
    hooks.sink.delay(Duration::from_secs(2));
    add_paged_user(&server.store, "alice@example.com", "alice").await;
    let pages: Vec<String> = (0..3).map(|i| format!("page {i}")).collect();
    let answers = futures::future::join_all(
        pages
            .iter()
            .map(|page| send_sms(server, "alice@example.com", page)),
    )
    .await;
    assert!(
        answers.iter().all(|(status, _)| *status == 200),
        "{answers:?}"
    );
    let delivered = wait_for(Duration::from_secs(30), async || {
        let listed = all_notifications(server).await;
        listed.len() == 3 && listed.iter().all(|n| n.status.as_str() == "delivered")
    })
    .await;
    assert!(delivered, "{:?}", all_notifications(server).await);
    let mut texts: Vec<String> = hooks
        .sink
        .requests()
        .iter()
        .map(|request| {
            request.json()["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    texts.sort();
    assert_eq!(texts, vec!["page 0", "page 1", "page 2"], "each page once");
    for notification in all_notifications(server).await {
        let attempts = server
            .store
            .attempts(notification.id)
            .await
            .expect("attempts");
        let delivered = attempts.iter().filter(|a| a.outcome == "delivered").count();
        assert_eq!(delivered, 1, "{attempts:?}");
    }
}

/// The provider took the page; writing its attempt row fails. The notification is
/// delivered all the same and never sent again.
#[tokio::test]
async fn a_failure_to_record_the_attempt_does_not_send_the_page_again() {
    let hooks = common::webhook::with_webhook(None, &[]).await;
    let server = &hooks.server;
    execute(
        &server.db_url,
        "CREATE SEQUENCE attempt_row_failures;
         CREATE FUNCTION fail_first_attempt_row() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF nextval('attempt_row_failures') = 1 THEN
             RAISE EXCEPTION 'injected: cannot write the attempt row';
           END IF;
           RETURN NEW;
         END $$;
         CREATE TRIGGER fail_first_attempt_row BEFORE INSERT ON delivery_attempts
           FOR EACH ROW EXECUTE FUNCTION fail_first_attempt_row();",
    )
    .await;
    add_paged_user(&server.store, "alice@example.com", "alice").await;
    let (status, _) = send_sms(server, "alice@example.com", "disk full").await;
    assert_eq!(status, 200);
    let id = all_notifications(server).await[0].id;
    let delivered = wait_for(Duration::from_secs(10), async || {
        notification_status(server, id).await.as_deref() == Some("delivered")
    })
    .await;
    assert!(delivered, "{:?}", all_notifications(server).await);
    assert_eq!(hooks.sink.requests().len(), 1);
}

/// A round that never settles (its replica died mid-call) is claimed again only while
/// the retry budget lasts: a notification that kills every replica that takes it ends
/// dead, not claimed forever.
#[tokio::test]
async fn a_round_that_never_settles_is_not_claimed_past_its_budget() {
    let hooks = common::webhook::with_webhook(None, &[("delivery.max_attempts", "3")]).await;
    let server = &hooks.server;
    let spent = uuid::Uuid::new_v4();
    let too_old = uuid::Uuid::new_v4();
    let within = uuid::Uuid::new_v4();
    execute(
        &server.db_url,
        &format!(
            "INSERT INTO notifications (id, channel, recipient_email, message, status, attempts,
                                        lease_owner, lease_until, created_at)
             VALUES ('{spent}', 'test', 'a@example.com', 'poison', 'delivering', 3,
                     'crashed-replica', now() - interval '1 second', now()),
                    ('{too_old}', 'test', 'a@example.com', 'old poison', 'delivering', 1,
                     'crashed-replica', now() - interval '1 second', now() - interval '2 hours'),
                    ('{within}', 'test', 'a@example.com', 'retried', 'delivering', 2,
                     'crashed-replica', now() - interval '1 second', now());"
        ),
    )
    .await;
    let ended = wait_for(Duration::from_secs(10), async || {
        notification_status(server, spent).await.as_deref() == Some("dead")
            && notification_status(server, too_old).await.as_deref() == Some("dead")
            && notification_status(server, within).await.as_deref() == Some("delivered")
    })
    .await;
    assert!(ended, "{:?}", all_notifications(server).await);
    let poison = server.store.get_notification(spent).await.unwrap().unwrap();
    assert!(
        poison
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("never finished"),
        "{poison:?}"
    );
    let sent: Vec<String> = hooks
        .sink
        .requests()
        .iter()
        .map(|request| {
            request.json()["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(sent, vec!["retried"]);
}

/// A reload whose new live keys break a rule together with the start-up keys the server
/// keeps running with is refused: here a lease no longer longer than the plugin timeout.
#[tokio::test]
async fn a_reload_is_checked_with_the_start_up_keys_it_keeps() {
    use emu_oncall::config::{ConfigSource, Overrides, SharedConfig};
    let folder = tempfile::tempdir().expect("config folder");
    let file = folder.path().join("emu-oncall.toml");
    let write = |sandbox_timeout_ms: u64, lease: &str| {
        std::fs::write(
            &file,
            format!(
                "[app]\nauth_token = \"{ENGINE_TOKEN}\"\nplugins_dir = \"\"\nplugin_cache_dir = \"\"\n\
                 [sandbox]\ntimeout_ms = {sandbox_timeout_ms}\n[delivery]\nlease = \"{lease}\"\n"
            ),
        )
        .expect("write config");
    };
    write(10_000, "60s");
    let source = ConfigSource {
        file: Some(file.clone()),
        env: Vec::new(),
        overrides: Overrides::default(),
    };
    let running = source.load().expect("the first file is valid");
    let metrics = std::sync::Arc::new(emu_oncall::metrics::Metrics::new());
    let registry = std::sync::Arc::new(
        emu_oncall::plugins::PluginRegistry::new(&running, metrics, None).expect("plugin engine"),
    );
    let shared = SharedConfig::new(running.live.clone());
    let reloader =
        emu_oncall::reload::Reloader::start(source, running.startup, shared.clone(), registry);

    // Valid on its own (5 s > 2 s), but sandbox.timeout_ms is read only at start-up: the
    // server would go on with 10 s calls under a 5 s lease.
    write(2_000, "5s");
    let refused = match reloader.reload().await {
        Ok(_) => panic!("a lease shorter than the running plugin timeout was taken"),
        Err(reason) => reason,
    };
    assert!(refused.contains("delivery.lease"), "{refused}");
    assert_eq!(shared.get().delivery.lease.0, Duration::from_secs(60));

    write(10_000, "20s");
    reloader.reload().await.expect("a lease that fits is taken");
    assert_eq!(shared.get().delivery.lease.0, Duration::from_secs(20));
}

/// `/metrics` answers only a scrape with `app.metrics_token`, when one is set.
#[tokio::test]
async fn metrics_take_a_bearer_token_when_one_is_set() {
    let token = "metrics-token-0123456789abcdef";
    let server = start_server(&[("app.metrics_token", token)]).await;
    let url = format!("{}/metrics", server.base);
    let without = client().get(&url).send().await.expect("answer");
    assert_eq!(without.status().as_u16(), 403);
    let engine = client()
        .get(&url)
        .header("Authorization", format!("Bearer {ENGINE_TOKEN}"))
        .send()
        .await
        .expect("answer");
    assert_eq!(engine.status().as_u16(), 403);
    let scraped = client()
        .get(&url)
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .expect("answer");
    assert_eq!(scraped.status().as_u16(), 200);
    assert!(scraped
        .text()
        .await
        .unwrap()
        .contains("emu_oncall_http_requests"));
}

/// `/readyz` says ready or not, and nothing about why.
#[tokio::test]
async fn readiness_tells_no_database_error() {
    let server = start_server(&[]).await;
    let (status, body) = raw_request(
        server.addr,
        "GET /readyz HTTP/1.1\r\nHost: emu\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        json!({"status": "ready"})
    );
    // The schema goes missing: not ready, and the database's words stay in the log.
    execute(&server.db_url, "DROP TABLE schema_migrations CASCADE").await;
    let (status, body) = raw_request(
        server.addr,
        "GET /readyz HTTP/1.1\r\nHost: emu\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 503);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        json!({"status": "not-ready"})
    );
}

/// Wrong admin tokens from one address: after 10 the address is refused, the right
/// token included, on the admin API and the sign-in form alike; other addresses are not.
#[tokio::test]
async fn failed_admin_tokens_are_rate_limited_per_address() {
    let server = start_server(&[]).await;
    let users = format!("{}/admin/api/v1/users", server.base);
    let admin_call = |token: String| {
        let users = users.clone();
        async move {
            client()
                .get(&users)
                .header("Authorization", format!("Bearer {token}"))
                .send()
                .await
                .expect("admin API answers")
                .status()
                .as_u16()
        }
    };
    for guess in 0..10 {
        assert_eq!(admin_call(format!("guess-{guess}")).await, 403);
    }
    assert_eq!(admin_call("guess-10".to_owned()).await, 429);
    assert_eq!(
        admin_call(ADMIN_TOKEN.to_owned()).await,
        429,
        "the limit holds for the right token too"
    );

    let mut browser = common::pages::PageClient::new(&server.base);
    for guess in 0..10 {
        let csrf = browser.get("/").await.csrf();
        let answer = browser
            .post(
                "/login",
                &[("csrf", &csrf), ("token", &format!("guess-{guess}"))],
            )
            .await;
        assert_eq!(answer.status, 403);
    }
    let csrf = browser.get("/").await.csrf();
    let refused = browser
        .post("/login", &[("csrf", &csrf), ("token", ADMIN_TOKEN)])
        .await;
    assert_eq!(refused.status, 429);
    assert!(
        refused.body.contains("Too many failed sign-ins"),
        "{}",
        refused.body
    );

    // Another replica, sharing the database, refuses the same address.
    let replica = start_server_on(&server.db_url, &[]).await;
    let status = client()
        .get(format!("{}/admin/api/v1/users", replica.base))
        .header("Authorization", format!("Bearer {ADMIN_TOKEN}"))
        .send()
        .await
        .expect("answer")
        .status()
        .as_u16();
    assert_eq!(status, 429);
    // The count is per address: a client elsewhere is unaffected.
    execute(
        &server.db_url,
        "UPDATE auth_failures SET client = '192.0.2.1'",
    )
    .await;
    assert_eq!(admin_call(ADMIN_TOKEN.to_owned()).await, 200);
}

/// A request body that trickles in is cut off, not waited for forever.
#[tokio::test]
async fn a_body_that_never_arrives_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = start_server(&[("app.body_timeout", "1s")]).await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(
            format!(
                "POST /api/v1/send_sms HTTP/1.1\r\nHost: emu\r\nAuthorization: {ENGINE_TOKEN}\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nemail="
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    assert!(
        read.is_ok(),
        "the server still waits for the body after 10 s"
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
}

/// A page number past any that can exist is an empty page, not an overflow.
#[tokio::test]
async fn a_huge_users_page_is_an_empty_page() {
    let server = start_server(&[]).await;
    add_user(
        &server.store,
        "alice@example.com",
        "alice",
        None,
        emu_oncall::model::Role::User,
    )
    .await;
    for page in [
        "9223372036854775807",
        "9223372036854775806",
        "4611686018427387904",
    ] {
        let response = client()
            .get(format!("{}/api/v1/users?page={page}", server.base))
            .header("Authorization", ENGINE_TOKEN)
            .send()
            .await
            .expect("answer");
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.expect("JSON");
        assert!(
            status == 200 || status == 400,
            "page {page}: {status} {body}"
        );
        if status == 200 {
            assert_eq!(body["results"], json!([]), "page {page}");
            assert_eq!(body["next"], serde_json::Value::Null, "page {page}");
        }
    }
}

/// An export or an OnCall API answer larger than `limits.max_response_bytes` is an
/// error that says so, read no further.
#[tokio::test]
async fn oversized_answers_from_oncall_are_refused() {
    let feed = Sink::start().await;
    let huge = format!(
        "BEGIN:VCALENDAR\r\n{}END:VCALENDAR\r\n",
        "X-FILLER:0123456789012345678901234567890123456789\r\n".repeat(2_000)
    );
    feed.respond_with(&huge);
    emu_oncall::http_client::install_crypto_provider();
    let http = emu_oncall::http_client::client(Duration::from_secs(5)).unwrap();
    let url = format!("{}/export.ics?token=SECRET", feed.url);
    let refused = emu_oncall::schedules::fetch::read(&url, &http, 64 * 1024)
        .await
        .expect_err("a 100 kB export over a 64 kB limit");
    let text = refused.to_string();
    assert!(text.contains("larger than 65536 bytes"), "{text}");
    assert!(!text.contains("SECRET"), "{text}");
    let read = emu_oncall::schedules::fetch::read(&url, &http, 1 << 20)
        .await
        .expect("under the limit");
    assert_eq!(read.len(), huge.len());

    let api = Sink::start().await;
    api.respond_with(&format!(
        "{{\"results\": [{}]}}",
        vec!["{\"id\": \"I1\"}"; 10_000].join(",")
    ));
    let oncall = emu_oncall::incidents::OnCallApi::new(
        &format!("{}/", api.url),
        "api-token",
        Duration::from_secs(5),
        64 * 1024,
    )
    .unwrap();
    let refused = oncall
        .integration_names()
        .await
        .expect_err("over the limit");
    assert!(refused.to_string().contains("larger than"), "{refused}");
}

/// A server that has done nothing yet exports the series its dashboard reads, at 0.
#[tokio::test]
async fn a_fresh_server_exports_its_series_at_zero() {
    let hooks = common::webhook::with_webhook(None, &[]).await;
    let metrics = scrape_metrics(&hooks.server).await;
    for series in [
        "emu_oncall_notifications_total{channel=\"sms\",outcome=\"accepted\"} 0",
        "emu_oncall_notifications_total{channel=\"call\",outcome=\"limit_exceeded\"} 0",
        "emu_oncall_notifications_total{channel=\"push\",outcome=\"delivery_failed\"} 0",
        "emu_oncall_delivery_attempts_total{plugin=\"webhook\",outcome=\"delivered\"} 0",
        "emu_oncall_delivery_attempts_total{plugin=\"webhook\",outcome=\"permanent\"} 0",
        "emu_oncall_plugin_events_total{plugin=\"webhook\",event=\"failed\"} 0",
        "emu_oncall_notifications_stored{status=\"pending\"} 0",
        "emu_oncall_notifications_stored{status=\"dead\"} 0",
        "emu_oncall_delivery_latency_seconds_count{channel=\"sms\"} 0",
    ] {
        assert!(metrics.contains(series), "no {series:?} in:\n{metrics}");
    }
}

/// A whole verification flow against a server process, then its log read back: no code,
/// no token and no full number in any line, nor on the status page. The code by call
/// goes through the `stdout` plugin, which prints every message it is given.
#[tokio::test]
async fn no_code_token_or_number_reaches_the_logs_or_pages() {
    use common::pages::PageClient;
    const NUMBER: &str = "+4915199988877";
    let db = fresh_database().await;
    let sink = Sink::start().await;
    let plugins = plugins_dir_with(&[
        ("webhook.wasm", "webhook.wasm"),
        ("stdout.wasm", "stdout.wasm"),
    ]);
    let logs = tempfile::tempdir().expect("log folder");
    let server = common::process::ServerProcess::start(
        &format!(
            "debug = true\n[app]\nauth_token = \"{ENGINE_TOKEN}\"\nadmin_token = \"{ADMIN_TOKEN}\"\n\
             plugins_dir = {:?}\nplugin_cache_dir = \"\"\n[db]\nurl = {db:?}\n\
             [plugin.webhook]\nurl = \"{}/hook\"\nallowed_hosts = [\"127.0.0.1\"]\n\
             [routes.sms]\nplugins = [\"webhook\"]\n[routes.call]\nplugins = [\"stdout\"]\n",
            plugins.path().display(),
            sink.url
        ),
        logs.path(),
    )
    .await;
    let store = emu_oncall::app::connect_and_migrate(&test_config(&db, &[]))
        .await
        .expect("database");
    let user = add_user(
        &store,
        "dana@example.com",
        "dana",
        None,
        emu_oncall::model::Role::User,
    )
    .await;

    // By SMS: the code reaches the sink, is typed back, the number is confirmed.
    let mut browser = PageClient::new(&server.base);
    let link = format!("/a/grafana-oncall-app/users?p=1&id={}", user.link_id);
    let csrf = browser.get(&link).await.csrf();
    let sent = browser
        .post(
            &format!("/verify/{}", user.link_id),
            &[
                ("csrf", &csrf),
                ("step", "send"),
                ("phone", NUMBER),
                ("channel", "sms"),
            ],
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    let code = crate::verification::code_from(&sink, 1).await;
    let confirmed = browser
        .post(
            &format!("/verify/{}", user.link_id),
            &[("csrf", &csrf), ("step", "confirm"), ("code", &code)],
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);

    // By call to the number just confirmed, through `stdout`: its log line carries the
    // message, code hidden.
    let csrf = browser.get(&link).await.csrf();
    let called = browser
        .post(
            &format!("/verify/{}", user.link_id),
            &[
                ("csrf", &csrf),
                ("step", "send-current"),
                ("channel", "call"),
            ],
        )
        .await;
    assert_eq!(called.status, 200, "{}", called.body);

    // The operator looks at the status page.
    let csrf = browser.get("/").await.csrf();
    let signed_in = browser
        .post("/login", &[("csrf", &csrf), ("token", ADMIN_TOKEN)])
        .await;
    assert_eq!(signed_in.status, 303);
    let status = browser.get("/").await;
    assert_eq!(status.status, 200);

    let log_text = || {
        std::fs::read_dir(logs.path())
            .expect("logs")
            .flatten()
            .map(|entry| std::fs::read_to_string(entry.path()).unwrap_or_default())
            .collect::<String>()
    };
    // The line of the call itself: the plugin's load is logged under its name too,
    // and may be all there is when the call has not run yet.
    let is_call_line =
        |line: &str| line.contains("\"plugin\":\"stdout\"") && line.contains("[call]");
    let printed = wait_for(Duration::from_secs(10), async || {
        log_text().lines().any(is_call_line)
    })
    .await;
    assert!(
        printed,
        "the stdout plugin printed nothing:\n{}",
        log_text()
    );
    let log = log_text();
    let stdout_lines: Vec<&str> = log.lines().filter(|line| is_call_line(line)).collect();
    assert!(!stdout_lines.is_empty(), "{log}");
    for line in &stdout_lines {
        assert!(line.contains("[hidden]"), "{line}");
        let digits: String = line.chars().filter(char::is_ascii_digit).collect();
        assert!(!digits.contains("15199988877"), "{line}");
    }
    for secret in [
        code.as_str(),
        ENGINE_TOKEN,
        ADMIN_TOKEN,
        NUMBER,
        &NUMBER[1..],
        &user.link_id,
    ] {
        assert!(
            !reveals(&without_clock_fields(&log), secret),
            "{secret} in the log:\n{log}"
        );
        assert!(
            !reveals(&status.body, secret),
            "{secret} on the status page"
        );
    }
}

/// The log with each line's `timestamp` and `elapsed_ms` dropped: their fractions are
/// runs of random digits, and a 6-digit code turns up in them now and then by chance.
fn without_clock_fields(log: &str) -> String {
    log.lines()
        .map(
            |line| match serde_json::from_str::<serde_json::Value>(line) {
                Ok(serde_json::Value::Object(mut fields)) => {
                    fields.remove("timestamp");
                    fields.remove("elapsed_ms");
                    serde_json::Value::Object(fields).to_string()
                }
                _ => line.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether `text` shows `secret`. An all-digit secret (the one-time code) counts only as
/// a whole run of digits, so it is not found inside some longer, unrelated number.
fn reveals(text: &str, secret: &str) -> bool {
    if !secret.bytes().all(|byte| byte.is_ascii_digit()) {
        return text.contains(secret);
    }
    text.split(|ch: char| !ch.is_ascii_digit())
        .any(|run| run == secret)
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The cached artifact of one plugin, by its `.wasm`'s hash.
fn artifact_of(cache: &std::path::Path, wasm: &str) -> std::path::PathBuf {
    let hash = sha256_hex(&std::fs::read(built_plugin(wasm)).expect("built plugin"));
    std::fs::read_dir(cache)
        .expect("cache folder")
        .flatten()
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(&hash) && name.ends_with(".cwasm"))
        })
        .unwrap_or_else(|| panic!("no cached artifact for {wasm}"))
}

/// Native code from the cache runs only if this server signed it for that `.wasm`: a
/// valid artifact of another plugin moved into place, or a tampered one, is compiled
/// afresh; a cache directory others can write is not used at all.
#[tokio::test]
async fn a_swapped_or_tampered_plugin_artifact_is_recompiled_never_loaded() {
    use std::os::unix::fs::PermissionsExt;
    let db = fresh_database().await;
    let cache = tempfile::tempdir().expect("cache");
    let plugins = plugins_dir_with(&[
        ("webhook.wasm", "webhook.wasm"),
        ("stdout.wasm", "stdout.wasm"),
    ]);
    let settings = |cache: &std::path::Path| {
        vec![
            (
                "app.plugins_dir".to_owned(),
                plugins.path().display().to_string(),
            ),
            (
                "app.plugin_cache_dir".to_owned(),
                cache.display().to_string(),
            ),
            (
                "plugin.webhook.url".to_owned(),
                "http://127.0.0.1:9/hook".to_owned(),
            ),
            (
                "plugin.webhook.allowed_hosts".to_owned(),
                "127.0.0.1".to_owned(),
            ),
        ]
    };
    let start = |cache: std::path::PathBuf| {
        let settings = settings(&cache);
        let db = db.clone();
        async move {
            let pairs: Vec<(&str, &str)> = settings
                .iter()
                .map(|(key, value)| (key.as_str(), value.as_str()))
                .collect();
            start_server_on(&db, &pairs).await
        }
    };
    let plugin_name = |server: &TestServer| {
        server
            .state
            .registry()
            .get("webhook")
            .map(|plugin| plugin.info.name.clone())
    };

    let first = start(cache.path().to_owned()).await;
    assert_eq!(plugin_name(&first).as_deref(), Some("webhook"));
    first.stop().await;
    let webhook = artifact_of(cache.path(), "webhook.wasm");
    let stdout = artifact_of(cache.path(), "stdout.wasm");

    // stdout's valid, signed artifact put in webhook's place.
    std::fs::copy(&stdout, &webhook).expect("swap artifacts");
    let swapped = std::fs::read(&webhook).unwrap();
    let second = start(cache.path().to_owned()).await;
    assert_eq!(
        plugin_name(&second).as_deref(),
        Some("webhook"),
        "the swapped artifact was loaded"
    );
    second.stop().await;
    assert_ne!(
        std::fs::read(&webhook).unwrap(),
        swapped,
        "recompiled and stored again"
    );

    // One byte of the code flipped.
    let mut tampered = std::fs::read(&webhook).unwrap();
    let last = tampered.len() - 1;
    tampered[last] ^= 0xff;
    std::fs::write(&webhook, &tampered).unwrap();
    let third = start(cache.path().to_owned()).await;
    assert_eq!(plugin_name(&third).as_deref(), Some("webhook"));
    third.stop().await;
    assert_ne!(std::fs::read(&webhook).unwrap(), tampered);

    // A directory anyone can write holds nothing the server would run.
    let shared = tempfile::tempdir().expect("shared");
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let fourth = start(shared.path().to_owned()).await;
    assert_eq!(plugin_name(&fourth).as_deref(), Some("webhook"));
    fourth.stop().await;
    assert_eq!(
        std::fs::read_dir(shared.path()).unwrap().count(),
        0,
        "the shared cache was used"
    );
}

/// A load that runs into the CPU limit (a host busy for a moment) is tried again, backing
/// off, without waiting for the file to change.
#[tokio::test]
async fn a_plugin_load_that_failed_for_now_is_tried_again() {
    let dir = plugins_dir_with(&[("slow.wasm", "test-plugin.wasm")]);
    // Busy long enough that a start-up slowed by a loaded machine still meets it; the
    // retries (1, 3, 7, 15 s after) then find it free well within the 30 s bound.
    let busy_until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        + Duration::from_secs(10);
    let server = start_server(&[
        ("app.plugins_dir", &dir.path().display().to_string()),
        ("app.plugin_cache_dir", ""),
        ("sandbox.cpu_ms", "100"),
        (
            "plugin.slow.busy_until_ms",
            &busy_until.as_millis().to_string(),
        ),
    ])
    .await;
    let registry = server.state.registry().clone();
    let status = registry
        .statuses()
        .into_iter()
        .find(|status| status.name == "slow")
        .expect("slow has a status");
    assert!(!status.loaded, "the first load ran into the CPU limit");
    let error = status.last_error.unwrap_or_default();
    assert!(
        error.contains("CPU limit") && error.contains("tried again"),
        "{error}"
    );
    let loaded = wait_for(Duration::from_secs(30), async || {
        registry.get("slow").is_some()
    })
    .await;
    assert!(loaded, "{:?}", registry.statuses());
    assert!(registry
        .statuses()
        .iter()
        .all(|status| status.last_error.is_none()));
}

/// Posts the verification page's "send a code" form for `user`, as a fresh browser tab.
async fn send_code_from_new_tab(
    base: &str,
    user: &emu_oncall::store::users::User,
    number: &str,
) -> common::pages::Answer {
    let mut tab = common::pages::PageClient::new(base);
    let link = format!("/a/grafana-oncall-app/users?p=1&id={}", user.link_id);
    let csrf = tab.get(&link).await.csrf();
    tab.post(
        &format!("/verify/{}", user.link_id),
        &[
            ("csrf", &csrf),
            ("step", "send"),
            ("phone", number),
            ("channel", "sms"),
        ],
    )
    .await
}

async fn codes_issued(db_url: &str) -> i64 {
    let (client, connection) = tokio_postgres::connect(db_url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
        .query_one("SELECT count(*) FROM phone_codes", &[])
        .await
        .expect("count codes")
        .get(0)
}

/// Two "send a code" posts at once (two tabs, a double click): one code goes out and
/// works; the other is refused without being counted.
#[tokio::test]
async fn overlapping_code_requests_leave_one_working_code() {
    let hooks = common::webhook::with_webhook(None, &[]).await;
    hooks.sink.delay(Duration::from_millis(800));
    let user = add_user(
        &hooks.server.store,
        "dana@example.com",
        "dana",
        None,
        emu_oncall::model::Role::User,
    )
    .await;
    let base = hooks.server.base.clone();
    let (first, second) = tokio::join!(
        send_code_from_new_tab(&base, &user, "+4915112345678"),
        send_code_from_new_tab(&base, &user, "+4915112345678"),
    );
    let mut statuses = [first.status, second.status];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{}\n{}", first.body, second.body);
    assert_eq!(
        codes_issued(&hooks.server.db_url).await,
        1,
        "only one counted"
    );
    let code = crate::verification::code_from(&hooks.sink, 1).await;
    let confirmed = hooks
        .server
        .store
        .check_phone_code(&user.id, &code, emu_oncall::store::phone_codes::CODE_RULES)
        .await
        .expect("check");
    assert!(
        matches!(
            confirmed,
            emu_oncall::store::phone_codes::Checked::Confirmed { .. }
        ),
        "{confirmed:?}"
    );
}

/// A send that timed out may have reached the provider (and rung a phone): it counts
/// against the hour's three, so failing sends cannot make calls without end.
#[tokio::test]
async fn a_send_that_timed_out_still_counts() {
    let hooks = common::webhook::with_webhook(None, &[("sandbox.timeout_ms", "300")]).await;
    hooks.sink.delay(Duration::from_millis(1000));
    let user = add_user(
        &hooks.server.store,
        "dana@example.com",
        "dana",
        None,
        emu_oncall::model::Role::User,
    )
    .await;
    for _ in 0..3 {
        let sent = send_code_from_new_tab(&hooks.server.base, &user, "+4915112345678").await;
        assert_eq!(sent.status, 503, "{}", sent.body);
    }
    let fourth = send_code_from_new_tab(&hooks.server.base, &user, "+4915112345678").await;
    assert_eq!(fourth.status, 429, "{}", fourth.body);
    assert_eq!(hooks.sink.requests().len(), 3, "no fourth message went out");
}

/// The verification link's secret is a 20-character id of its own, what the engine's
/// users sync reads as `id`: the user id (in logs, the admin API, plugin payloads) opens
/// nothing, and a rotated link stops working.
#[tokio::test]
async fn the_verification_link_is_a_secret_apart_from_the_user_id() {
    let hooks = common::webhook::with_webhook(None, &[]).await;
    let server = &hooks.server;
    let user = add_paged_user(&server.store, "erin@example.com", "erin").await;
    let synced: serde_json::Value = client()
        .get(format!(
            "{}/api/v1/users/?email=erin@example.com",
            server.base
        ))
        .header("Authorization", ENGINE_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let link = synced["results"][0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    assert_eq!(link, user.link_id);
    assert_eq!(link.len(), 20, "fits the engine's cloud_id column");
    assert!(link.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_ne!(link, user.id);

    let mut browser = common::pages::PageClient::new(&server.base);
    assert_eq!(
        browser.get(&format!("/verify/{}", user.id)).await.status,
        404
    );
    assert_eq!(
        browser
            .get(&format!("/a/grafana-oncall-app/users?p=1&id={}", user.id))
            .await
            .status,
        404
    );
    assert_eq!(browser.get(&format!("/verify/{link}")).await.status, 200);

    // Neither the admin API nor a plugin ever sees it.
    let admin = client()
        .get(format!("{}/admin/api/v1/users/{}", server.base, user.id))
        .header("Authorization", format!("Bearer {ADMIN_TOKEN}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        admin.contains(&user.id) && !admin.contains(&link),
        "{admin}"
    );
    let (status, _) = send_sms(server, "erin@example.com", "disk full").await;
    assert_eq!(status, 200);
    let delivered = hooks.sink.wait_for(1, Duration::from_secs(10)).await;
    assert!(
        !delivered[0].text().contains(&link),
        "{}",
        delivered[0].text()
    );

    // Rotated: the old link is gone, the engine's next sync gets the new one.
    let rotated = server.store.rotate_link("erin@example.com").await.unwrap();
    assert_ne!(rotated.link_id, link);
    assert_eq!(browser.get(&format!("/verify/{link}")).await.status, 404);
    assert_eq!(
        browser
            .get(&format!("/verify/{}", rotated.link_id))
            .await
            .status,
        200
    );
}

/// A confirmed number is changed or removed only from a browser that has just typed
/// back a code sent to it: a leaked link cannot stop or move someone's pages.
#[tokio::test]
async fn a_confirmed_number_changes_only_after_a_code_to_it() {
    let hooks = common::webhook::with_webhook(None, &[]).await;
    let server = &hooks.server;
    let user = add_paged_user(&server.store, "erin@example.com", "erin").await;
    let path = format!("/verify/{}", user.link_id);
    let mut browser = common::pages::PageClient::new(&server.base);
    let page = browser.get(&path).await;
    assert!(
        page.body.contains("Send a code to my number"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Remove my number"), "{}", page.body);
    let csrf = page.csrf();

    let removed = browser
        .post(&path, &[("csrf", &csrf), ("step", "remove")])
        .await;
    assert_eq!(removed.status, 403, "{}", removed.body);
    let moved = browser
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("step", "send"),
                ("phone", "+4915199999999"),
                ("channel", "sms"),
            ],
        )
        .await;
    assert_eq!(moved.status, 403, "{}", moved.body);
    assert!(
        hooks.sink.requests().is_empty(),
        "no code went to the new number"
    );
    let kept = server.store.find_user(&user.id).await.unwrap().unwrap();
    assert_eq!(
        kept.phone_number
            .as_ref()
            .map(emu_oncall::model::PhoneNumber::e164),
        Some("+4915112345678")
    );

    // The code goes to the saved number; typed back, it unlocks this browser.
    let sent = browser
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("step", "send-current"),
                ("channel", "sms"),
            ],
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    let message = hooks.sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(
        message[0].json()["recipient"]["phone_number"],
        json!("+4915112345678")
    );
    let code = crate::verification::code_from(&hooks.sink, 1).await;
    let unlocked = browser
        .post(
            &path,
            &[("csrf", &csrf), ("step", "confirm"), ("code", &code)],
        )
        .await;
    assert_eq!(unlocked.status, 200, "{}", unlocked.body);
    assert!(
        unlocked.body.contains("Remove my number"),
        "{}",
        unlocked.body
    );
    // Another browser holding the same link is still locked out.
    let mut stranger = common::pages::PageClient::new(&server.base);
    let stranger_csrf = stranger.get(&path).await.csrf();
    let refused = stranger
        .post(&path, &[("csrf", &stranger_csrf), ("step", "remove")])
        .await;
    assert_eq!(refused.status, 403);
    let removed = browser
        .post(&path, &[("csrf", &csrf), ("step", "remove")])
        .await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    let gone = server.store.find_user(&user.id).await.unwrap().unwrap();
    assert_eq!(gone.phone_number, None);
}

/// `allowed_hosts` naming a host lets a plugin reach it only at a public address: a
/// name that resolves to loopback (as a rebinding or internal name would) is refused,
/// while the same address written as an IP literal is the operator's explicit choice.
#[tokio::test]
async fn a_name_in_allowed_hosts_never_leads_a_plugin_inside() {
    let sink = Sink::start().await;
    let port = sink.addr.port().to_string();
    let dir = plugins_dir_with(&[("webhook.wasm", "webhook.wasm")]);
    let dir_text = dir.path().display().to_string();
    let by_name = format!("http://localhost:{port}/hook");
    let allowed = format!("localhost:{port}");
    let server = start_server(&[
        ("app.plugins_dir", &dir_text),
        ("plugin.webhook.url", &by_name),
        ("plugin.webhook.allowed_hosts", &allowed),
        ("delivery.max_attempts", "1"),
    ])
    .await;
    add_paged_user(&server.store, "alice@example.com", "alice").await;
    let _ = send_sms(&server, "alice@example.com", "by name").await;
    let refused = wait_for(Duration::from_secs(10), async || {
        all_notifications(&server)
            .await
            .first()
            .is_some_and(|n| n.status.as_str() == "dead")
    })
    .await;
    assert!(refused, "{:?}", all_notifications(&server).await);
    assert!(
        sink.requests().is_empty(),
        "the plugin reached a loopback address by name"
    );
    let attempts = server
        .store
        .attempts(all_notifications(&server).await[0].id)
        .await
        .unwrap();
    assert!(
        attempts[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("IpProhibited"),
        "{attempts:?}"
    );
}

/// A provider's answer larger than `sandbox.max_response_bytes` is an error the plugin
/// sees, not memory the host spends.
#[tokio::test]
async fn a_plugin_reads_no_answer_past_its_cap() {
    let hooks = common::webhook::with_webhook(
        None,
        &[
            ("sandbox.max_response_bytes", "16384"),
            ("delivery.max_attempts", "1"),
        ],
    )
    .await;
    hooks.sink.respond_with(&"x".repeat(64 * 1024));
    let server = &hooks.server;
    add_paged_user(&server.store, "alice@example.com", "alice").await;
    let _ = send_sms(server, "alice@example.com", "big answer").await;
    let dead = wait_for(Duration::from_secs(10), async || {
        all_notifications(server)
            .await
            .first()
            .is_some_and(|n| n.status.as_str() == "dead")
    })
    .await;
    assert!(dead, "{:?}", all_notifications(server).await);
    let id = all_notifications(server).await[0].id;
    let attempts = server.store.attempts(id).await.unwrap();
    assert!(
        attempts[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("BodySize"),
        "{attempts:?}"
    );
}
