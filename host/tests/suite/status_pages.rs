//! The operator status page behind the admin token, and the heartbeat page behind the
//! link OnCall shows for its heartbeat integration.

use crate::common;

use std::time::Duration;

use common::pages::PageClient;
use common::webhook::with_webhook;
use common::*;
use emu_oncall::model::Role;

#[tokio::test]
async fn the_heartbeat_link_shows_when_the_engine_last_checked_in() {
    let server = start_server(&[("heartbeat.timeout", "10m")]).await;
    let live = server
        .store
        .ensure_integration("engine-a", "heartbeat")
        .await
        .unwrap();
    server.store.record_heartbeat(&live.token).await.unwrap();
    let silent = server
        .store
        .ensure_integration("engine-b", "heartbeat")
        .await
        .unwrap();
    let mut browser = PageClient::new(&server.base);

    for path in [
        format!("/a/grafana-oncall-app/integrations/{}", live.id),
        format!("/a/grafana-irm-app/integrations/{}/", live.id),
        format!("/a/grafana-oncall-app/?page=integrations&id={}", live.id),
    ] {
        let page = browser.get(&path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(
            page.body.contains("engine-a") && page.body.contains(">up<"),
            "{}",
            page.body
        );
        assert!(
            !page.body.contains(&live.token),
            "the heartbeat secret is never shown"
        );
    }
    let waiting = browser
        .get(&format!("/a/grafana-oncall-app/integrations/{}", silent.id))
        .await;
    assert!(
        waiting.body.contains("waiting for the first heartbeat"),
        "{}",
        waiting.body
    );

    let announced = server
        .store
        .mark_silent_integrations_down(Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(announced.len(), 2);
    let down = browser
        .get(&format!("/a/grafana-oncall-app/integrations/{}", live.id))
        .await;
    assert!(
        down.body.contains(">down<") && down.body.contains("Announced down"),
        "{}",
        down.body
    );

    let unknown = browser
        .get("/a/grafana-oncall-app/integrations/CNOSUCHTHING00")
        .await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn the_status_page_needs_the_admin_token_and_shows_every_part() {
    let fixture = with_webhook(None, &[]).await;
    let server = &fixture.server;
    add_user(
        &server.store,
        "hal@example.com",
        "hal",
        Some("+4915155555555"),
        Role::User,
    )
    .await;
    let (status, _) = post_form(
        server,
        "/api/v1/send_sms",
        Some(ENGINE_TOKEN),
        "email=hal%40example.com&message=Grafana+OnCall%3A+Alert+group+%237",
    )
    .await;
    assert_eq!(status, 200);
    fixture.sink.wait_for(1, Duration::from_secs(10)).await;
    // A provider's error that quotes the number must not show it in full.
    let (db, connection) = tokio_postgres::connect(&server.db_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    db.execute(
        "INSERT INTO notifications (id, channel, recipient_email, message, status, last_error)
         VALUES (gen_random_uuid(), 'sms', 'hal@example.com', 'x', 'dead',
                 'provider: the number +4915155555555 is not reachable')",
        &[],
    )
    .await
    .unwrap();
    let heartbeat = server
        .store
        .ensure_integration("engine-a", "heartbeat")
        .await
        .unwrap();
    server
        .store
        .record_heartbeat(&heartbeat.token)
        .await
        .unwrap();
    server
        .store
        .ensure_schedules(&["primary".to_owned()])
        .await
        .unwrap();

    let mut browser = PageClient::new(&server.base);
    let login = browser.get("/").await;
    assert_eq!(login.status, 200);
    assert!(login.body.contains("Admin token"), "{}", login.body);
    assert!(login.body.contains("Looking for your phone number?"));
    let csrf = login.csrf();

    let wrong = browser
        .post("/login", &[("csrf", &csrf), ("token", ENGINE_TOKEN)])
        .await;
    assert_eq!(wrong.status, 403);
    assert!(wrong.body.contains("not the admin token"));
    assert!(wrong.cookie_named("emu_session").is_none());

    let signed_in = browser
        .post("/login", &[("csrf", &csrf), ("token", ADMIN_TOKEN)])
        .await;
    assert_eq!(signed_in.status, 303);
    assert_eq!(signed_in.location.as_deref(), Some("/"));
    let cookie = signed_in
        .cookie_named("emu_session")
        .expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );

    let status = browser.get("/").await;
    assert_eq!(status.status, 200);
    let schema = format!(
        "Schema version {}",
        emu_oncall::store::migrations::latest_version()
    );
    for part in [
        "Database",
        "reachable",
        &schema,
        "Notifications by status",
        "webhook",
        "loaded",
        "hal@example.com",
        "delivered",
        "+49********555",
        "primary",
        "not polled yet",
        "engine-a",
        ">up<",
    ] {
        assert!(status.body.contains(part), "{part} in {}", status.body);
    }
    assert!(!status.body.contains("+4915155555555"), "no number in full");
    assert!(!status.body.contains(&heartbeat.token));

    let logout_csrf = status.csrf();
    let out = browser.post("/logout", &[("csrf", &logout_csrf)]).await;
    assert_eq!(out.status, 303);
    assert!(
        browser.get("/").await.body.contains("Admin token"),
        "signed out"
    );

    // Behind a TLS proxy, the cookies are Secure.
    let mut proxied = PageClient::new(&server.base);
    proxied.extra_headers.push(("x-forwarded-proto", "https"));
    let page = proxied.get("/").await;
    assert!(page.cookie_named("emu_csrf").unwrap().contains("; Secure"));
    let signed_in = proxied
        .post("/login", &[("csrf", &page.csrf()), ("token", ADMIN_TOKEN)])
        .await;
    assert!(signed_in
        .cookie_named("emu_session")
        .unwrap()
        .contains("; Secure"));
}

#[tokio::test]
async fn sessions_end_when_the_admin_token_changes_and_the_page_is_off_without_one() {
    let server = start_server(&[]).await;
    let mut browser = PageClient::new(&server.base);
    let csrf = browser.get("/").await.csrf();
    let signed_in = browser
        .post("/login", &[("csrf", &csrf), ("token", ADMIN_TOKEN)])
        .await;
    assert_eq!(signed_in.status, 303);
    assert!(browser.get("/").await.body.contains("Recent notifications"));
    let db_url = server.db_url.clone();
    server.stop().await;

    let rotated = start_server_on(
        &db_url,
        &[
            ("app.admin_token", "a-new-admin-token-0123456789"),
            ("app.public_url", "https://oncall-phones.example.com"),
        ],
    )
    .await;
    // Browsers reach it over HTTPS now, so a new cookie is Secure.
    let fresh = PageClient::new(&rotated.base).get("/").await;
    assert!(fresh.cookie_named("emu_csrf").unwrap().contains("; Secure"));
    browser.base = rotated.base.clone();
    assert!(
        browser.get("/").await.body.contains("Admin token"),
        "the old session is over"
    );
    rotated.stop().await;

    let without = start_server_on(&db_url, &[("app.admin_token", "")]).await;
    let off = PageClient::new(&without.base).get("/").await;
    assert_eq!(off.status, 200);
    assert!(off.body.contains("status page is off"), "{}", off.body);
    let css = client()
        .get(format!("{}/static/emu-oncall.css", without.base))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert!(css.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
}
