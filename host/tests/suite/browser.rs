//! The pages in a real headless Chromium on a phone-sized screen, as a person uses them:
//! the link as the engine builds it, the code read from the local sink behind the
//! webhook plugin, the engine's users API afterwards. Every page is saved as a
//! screenshot under `target/screenshots/`.

use crate::common;
use crate::verification::{code_from, engine_link, engine_sees_verified, expire_codes};

use common::browser::{Browser, PHONE_WIDTH};
use common::webhook::with_webhook;
use common::*;
use emu_oncall::model::Role;

/// Saves the page and checks it fits the phone's width (no sideways scrolling).
async fn snap(browser: &Browser, name: &str) {
    browser.screenshot(name).await;
    let width = browser.scroll_width().await;
    assert!(
        width <= u64::from(PHONE_WIDTH),
        "{name}: the page is {width}px wide on a {PHONE_WIDTH}px screen"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_verifies_their_number_and_the_engine_sees_it() {
    let fixture = with_webhook(None, &[]).await;
    let server = &fixture.server;
    let user = add_user(&server.store, "ivy@example.com", "ivy", None, Role::User).await;
    let browser = Browser::start().await;

    browser
        .open(&format!("{}{}", server.base, engine_link(&user)))
        .await;
    assert_eq!(browser.title().await, "Your phone number · Emu-OnCall");
    let text = browser.text().await;
    assert!(
        text.contains("ivy@example.com") && text.contains("none"),
        "{text}"
    );
    snap(&browser, "verify-1-start").await;

    browser.fill("#phone", "+44 7911 123123").await;
    browser.submit("form:has(#phone) button").await;
    let text = browser.text().await;
    assert!(
        text.contains("We sent a 6-digit code by SMS to +44*******123"),
        "{text}"
    );
    snap(&browser, "verify-2-enter-code").await;

    let code = code_from(&fixture.sink, 1).await;
    browser.fill("#code", &code).await;
    browser.submit("form:has(#code) button").await;
    let text = browser.text().await;
    assert!(
        text.contains("Your number +44*******123 is verified."),
        "{text}"
    );
    assert!(text.contains("press Sync"), "{text}");
    snap(&browser, "verify-3-verified").await;

    // "Sync" in OnCall reads the users API.
    assert!(engine_sees_verified(server, "ivy@example.com").await);
    browser
        .open(&format!("{}{}", server.base, engine_link(&user)))
        .await;
    assert!(browser.text().await.contains("+44*******123 verified"));
    snap(&browser, "verify-4-page-after").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_codes_an_expired_code_and_removing_the_number() {
    let fixture = with_webhook(None, &[]).await;
    let server = &fixture.server;
    let user = add_user(&server.store, "jo@example.com", "jo", None, Role::User).await;
    let browser = Browser::start().await;
    let link = format!("{}{}", server.base, engine_link(&user));

    browser.open(&link).await;
    browser.fill("#phone", "+4915166666666").await;
    browser.click("input[value=call]").await;
    browser.submit("form:has(#phone) button").await;
    assert!(browser.text().await.contains("by a phone call"));
    let right = {
        let requests = fixture
            .sink
            .wait_for(1, std::time::Duration::from_secs(10))
            .await;
        assert_eq!(requests[0].json()["channel"], "call");
        requests[0].json()["message"]
            .as_str()
            .unwrap()
            .split("code is: ")
            .nth(1)
            .and_then(|rest| rest.split(". Again").next())
            .unwrap()
            .replace(", ", "")
    };
    let wrong = if right == "999999" {
        "888888"
    } else {
        "999999"
    };
    for left in ["4 tries left", "3 tries left", "2 tries left", "1 try left"] {
        browser.fill("#code", wrong).await;
        browser.submit("form:has(#code) button").await;
        assert!(browser.text().await.contains(left), "{left}");
    }
    snap(&browser, "verify-5-wrong-code").await;
    browser.fill("#code", wrong).await;
    browser.submit("form:has(#code) button").await;
    assert!(browser.text().await.contains("Too many wrong codes"));
    snap(&browser, "verify-6-too-many-tries").await;
    assert!(!engine_sees_verified(server, "jo@example.com").await);

    // A new code, left for more than ten minutes.
    browser.fill("#phone", "+4915166666666").await;
    browser.submit("form:has(#phone) button").await;
    let code = code_from(&fixture.sink, 2).await;
    expire_codes(&server.db_url).await;
    browser.fill("#code", &code).await;
    browser.submit("form:has(#code) button").await;
    assert!(browser.text().await.contains("That code has expired"));
    snap(&browser, "verify-7-expired").await;
    assert!(!engine_sees_verified(server, "jo@example.com").await);

    // The third code of the hour works.
    browser.fill("#phone", "+4915166666666").await;
    browser.submit("form:has(#phone) button").await;
    let code = code_from(&fixture.sink, 3).await;
    browser.fill("#code", &code).await;
    browser.submit("form:has(#code) button").await;
    assert!(browser.text().await.contains("is verified"));
    assert!(engine_sees_verified(server, "jo@example.com").await);

    browser.open(&link).await;
    browser.submit("button.secondary").await;
    let text = browser.text().await;
    assert!(text.contains("Your phone number was removed"), "{text}");
    snap(&browser, "verify-8-removed").await;
    assert!(!engine_sees_verified(server, "jo@example.com").await);
    assert_eq!(
        server
            .store
            .find_user(&user.id)
            .await
            .unwrap()
            .unwrap()
            .phone_number,
        None
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_form_without_its_csrf_token_and_an_unknown_link_are_refused() {
    let fixture = with_webhook(None, &[]).await;
    let server = &fixture.server;
    let user = add_user(&server.store, "kim@example.com", "kim", None, Role::User).await;
    let browser = Browser::start().await;

    browser
        .open(&format!("{}{}", server.base, engine_link(&user)))
        .await;
    browser.fill("#phone", "+4915177777777").await;
    // What a replayed or forged form looks like: everything but the token.
    browser
        .client
        .execute(
            "document.querySelectorAll('input[name=csrf]').forEach(function (field) { field.remove(); });",
            vec![],
        )
        .await
        .expect("strip the token");
    browser.submit("form:has(#phone) button").await;
    let text = browser.text().await;
    assert!(text.contains("This form has expired"), "{text}");
    snap(&browser, "verify-9-csrf-refused").await;
    assert!(fixture.sink.requests().is_empty(), "no code was sent");

    browser
        .open(&format!(
            "{}/a/grafana-oncall-app/users?p=1&id=U0000000000000",
            server.base
        ))
        .await;
    assert!(browser.text().await.contains("This link is not valid"));
    snap(&browser, "verify-10-not-found").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operator_signs_in_to_the_status_page_and_opens_a_heartbeat() {
    let fixture = with_webhook(None, &[]).await;
    let server = &fixture.server;
    add_user(
        &server.store,
        "lee@example.com",
        "lee",
        Some("+4915188888888"),
        Role::Admin,
    )
    .await;
    let (status, _) = post_form(
        server,
        "/api/v1/make_call",
        Some(ENGINE_TOKEN),
        "email=lee%40example.com&message=You+are+invited+to+check+an+Alert+Group",
    )
    .await;
    assert_eq!(status, 200);
    let heartbeat = server
        .store
        .ensure_integration("oncall-engine", "heartbeat")
        .await
        .unwrap();
    server
        .store
        .record_heartbeat(&heartbeat.token)
        .await
        .unwrap();
    let browser = Browser::start().await;

    browser.open(&format!("{}/", server.base)).await;
    snap(&browser, "status-1-sign-in").await;
    browser.fill("#token", "not-the-token").await;
    browser.submit("button").await;
    assert!(browser.text().await.contains("That is not the admin token"));
    browser.fill("#token", ADMIN_TOKEN).await;
    browser.submit("button").await;
    let text = browser.text().await;
    for part in [
        "Database",
        "Plugins",
        "webhook",
        "Recent notifications",
        "lee@example.com",
        "oncall-engine",
    ] {
        assert!(text.contains(part), "{part} in {text}");
    }
    browser.screenshot("status-2-signed-in").await;

    browser.submit("a[href*='/integrations/']").await;
    let text = browser.text().await;
    assert!(
        text.contains("Engine heartbeat") && text.contains("up"),
        "{text}"
    );
    snap(&browser, "heartbeat-1").await;
    browser.close().await;
}
