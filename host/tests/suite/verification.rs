//! Phone verification over HTTP: the page behind OnCall's "Verify in Cloud" link, its
//! rules (hashed codes, tries, hourly limit, CSRF, unknown ids), what the engine's users
//! API then reports, and the heartbeat and status pages. The same flows run in a real
//! browser in `browser.rs`.

use crate::common;

use std::time::Duration;

use common::pages::{Answer, PageClient};
use common::sink::Sink;
use common::webhook::{with_webhook, WithWebhook};
use common::*;
use emu_oncall::model::Role;
use emu_oncall::store::users::User;
use emu_oncall::store::Store;

const NEW_NUMBER: &str = "+49 151 2345 6789";
const NEW_NUMBER_E164: &str = "+4915123456789";

/// The engine's link, as v1.10.4 and later build it.
pub fn engine_link(user: &User) -> String {
    format!("/a/grafana-oncall-app/users?p=1&id={}", user.link_id)
}

/// The six digits of the `count`-th message the sink received.
pub async fn code_from(sink: &Sink, count: usize) -> String {
    let requests = sink.wait_for(count, Duration::from_secs(10)).await;
    assert!(requests.len() >= count, "the code message arrived");
    let message = requests[count - 1].json()["message"]
        .as_str()
        .expect("message text")
        .to_owned();
    let digits: String = message
        .split(|ch: char| !ch.is_ascii_digit())
        .find(|part| part.len() == 6)
        .unwrap_or_else(|| panic!("no 6-digit code in {message:?}"))
        .to_owned();
    digits
}

/// What the engine's bulk sync says about `email`.
pub async fn engine_sees_verified(server: &TestServer, email: &str) -> bool {
    let body: serde_json::Value = client()
        .get(format!("{}/api/v1/users?page=1&short=true", server.base))
        .header("Authorization", ENGINE_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|user| user["email"] == email)
        .unwrap_or_else(|| panic!("{email} is synced"));
    user["is_phone_number_verified"].as_bool().unwrap()
}

async fn stored(store: &Store, user: &User) -> User {
    store.find_user(&user.id).await.unwrap().unwrap()
}

async fn open_page(browser: &mut PageClient, user: &User) -> Answer {
    let page = browser.get(&engine_link(user)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    page
}

async fn send(browser: &mut PageClient, user: &User, csrf: &str, channel: &str) -> Answer {
    send_to(browser, user, csrf, NEW_NUMBER, channel).await
}

/// The "send a code" form, with `number` typed in.
async fn send_to(
    browser: &mut PageClient,
    user: &User,
    csrf: &str,
    number: &str,
    channel: &str,
) -> Answer {
    browser
        .post(
            &format!("/verify/{}", user.link_id),
            &[
                ("csrf", csrf),
                ("step", "send"),
                ("phone", number),
                ("channel", channel),
            ],
        )
        .await
}

/// Proves the browser holds the user's saved number (a code to it, typed back), as
/// changing or removing a confirmed number needs; the code is the sink's `count`-th
/// message.
async fn unlock(
    fixture: &WithWebhook,
    browser: &mut PageClient,
    user: &User,
    csrf: &str,
    count: usize,
) {
    let sent = browser
        .post(
            &format!("/verify/{}", user.link_id),
            &[("csrf", csrf), ("step", "send-current"), ("channel", "sms")],
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    let code = code_from(&fixture.sink, count).await;
    let unlocked = confirm(browser, user, csrf, &code).await;
    assert_eq!(unlocked.status, 200, "{}", unlocked.body);
    assert!(unlocked.body.contains("You can now change or remove it"));
}

async fn confirm(browser: &mut PageClient, user: &User, csrf: &str, code: &str) -> Answer {
    browser
        .post(
            &format!("/verify/{}", user.link_id),
            &[("csrf", csrf), ("step", "confirm"), ("code", code)],
        )
        .await
}

async fn setup() -> (WithWebhook, User) {
    let fixture = with_webhook(None, &[]).await;
    let user = add_user(
        &fixture.server.store,
        "dana@example.com",
        "dana",
        None,
        Role::User,
    )
    .await;
    (fixture, user)
}

#[tokio::test]
async fn a_number_is_saved_and_verified_only_once_its_code_is_typed_back() {
    let (fixture, user) = setup().await;
    let (server, sink) = (&fixture.server, &fixture.sink);
    let mut browser = PageClient::new(&server.base);
    let page = open_page(&mut browser, &user).await;
    assert!(page.body.contains("dana@example.com"), "{}", page.body);
    let cookie = page.cookie_named("emu_csrf").expect("a CSRF cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    // The link's id is a secret: it must not leave in a Referer, and nothing is cached.
    assert_eq!(page.header("referrer-policy"), "no-referrer");
    assert_eq!(page.header("cache-control"), "no-store");
    assert!(page
        .header("content-security-policy")
        .starts_with("default-src 'none'"));
    assert_eq!(page.header("x-frame-options"), "DENY");
    assert!(!engine_sees_verified(server, "dana@example.com").await);

    let sent = send(&mut browser, &user, &page.csrf(), "sms").await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert!(sent.body.contains("Enter the code"), "{}", sent.body);
    assert!(
        sent.body.contains("+49********789"),
        "masked: {}",
        sent.body
    );
    assert!(
        !sent.body.contains(NEW_NUMBER_E164),
        "never in full once typed"
    );
    let code = code_from(sink, 1).await;
    let delivered = sink.requests()[0].json();
    assert_eq!(delivered["channel"], "sms");
    assert_eq!(delivered["recipient"]["phone_number"], NEW_NUMBER_E164);
    assert_eq!(
        stored(&server.store, &user).await.phone_number,
        None,
        "not saved before the code"
    );

    // Stored hashed: no column of the code's row and no notification holds the digits.
    let (db, connection) = tokio_postgres::connect(&server.db_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let leaks: i64 = db
        .query_one(
            "SELECT (SELECT count(*) FROM phone_codes c WHERE row_to_json(c)::text LIKE '%' || $1 || '%')
                  + (SELECT count(*) FROM notifications n WHERE row_to_json(n)::text LIKE '%' || $1 || '%')",
            &[&code],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(leaks, 0, "the code is stored nowhere in clear");

    let done = confirm(&mut browser, &user, &page.csrf(), &code).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(
        done.body.contains("is verified") && done.body.contains("Sync"),
        "{}",
        done.body
    );
    let saved = stored(&server.store, &user).await;
    assert_eq!(
        saved
            .phone_number
            .as_ref()
            .map(emu_oncall::model::PhoneNumber::e164),
        Some(NEW_NUMBER_E164)
    );
    assert!(saved.phone_verified_at.is_some());
    assert!(engine_sees_verified(server, "dana@example.com").await);

    // The same code again finds nothing open.
    let again = confirm(&mut browser, &user, &page.csrf(), &code).await;
    assert_eq!(again.status, 400);
    assert!(again.body.contains("No code is waiting"), "{}", again.body);
}

#[tokio::test]
async fn a_code_can_go_by_phone_call_spoken_digit_by_digit() {
    let (fixture, user) = setup().await;
    let mut browser = PageClient::new(&fixture.server.base);
    let page = open_page(&mut browser, &user).await;
    let sent = send(&mut browser, &user, &page.csrf(), "call").await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert!(sent.body.contains("by a phone call"));
    let requests = fixture.sink.wait_for(1, Duration::from_secs(10)).await;
    let delivered = requests[0].json();
    assert_eq!(delivered["channel"], "call");
    let message = delivered["message"].as_str().unwrap();
    let spoken: String = message
        .split("code is: ")
        .nth(1)
        .and_then(|rest| rest.split(". Again").next())
        .unwrap()
        .replace(", ", "");
    assert_eq!(spoken.len(), 6, "{message}");
    let done = confirm(&mut browser, &user, &page.csrf(), &spoken).await;
    assert_eq!(done.status, 200, "{}", done.body);
}

#[tokio::test]
async fn five_wrong_tries_close_a_code_and_three_codes_an_hour_is_the_limit() {
    let (fixture, user) = setup().await;
    let mut browser = PageClient::new(&fixture.server.base);
    let csrf = open_page(&mut browser, &user).await.csrf();
    assert_eq!(send(&mut browser, &user, &csrf, "sms").await.status, 200);
    let code = code_from(&fixture.sink, 1).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for tries_left in (1..=4).rev() {
        let answer = confirm(&mut browser, &user, &csrf, wrong).await;
        assert_eq!(answer.status, 400);
        let word = if tries_left == 1 { "try" } else { "tries" };
        assert!(
            answer.body.contains(&format!("{tries_left} {word} left")),
            "{}",
            answer.body
        );
    }
    let fifth = confirm(&mut browser, &user, &csrf, wrong).await;
    assert!(
        fifth.body.contains("Too many wrong codes"),
        "{}",
        fifth.body
    );
    let right_too_late = confirm(&mut browser, &user, &csrf, &code).await;
    assert_eq!(right_too_late.status, 400);
    assert!(!engine_sees_verified(&fixture.server, "dana@example.com").await);

    assert_eq!(send(&mut browser, &user, &csrf, "sms").await.status, 200);
    assert_eq!(send(&mut browser, &user, &csrf, "sms").await.status, 200);
    let fourth = send(&mut browser, &user, &csrf, "sms").await;
    assert_eq!(fourth.status, 429, "{}", fourth.body);
    assert!(
        fourth.body.contains("3 codes in the last hour"),
        "{}",
        fourth.body
    );
    fixture.sink.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(
        fixture.sink.requests().len(),
        3,
        "the fourth code was not sent"
    );

    // Only the newest code counts: the second one no longer works once the third was sent.
    let second = code_from(&fixture.sink, 2).await;
    let third = code_from(&fixture.sink, 3).await;
    if second != third {
        let stale = confirm(&mut browser, &user, &csrf, &second).await;
        assert_eq!(stale.status, 400, "{}", stale.body);
    }
    assert_eq!(
        confirm(&mut browser, &user, &csrf, &third).await.status,
        200
    );
}

#[tokio::test]
async fn a_code_that_did_not_go_out_cannot_be_typed_back_and_the_last_one_still_works() {
    let (fixture, user) = setup().await;
    let mut browser = PageClient::new(&fixture.server.base);
    let csrf = open_page(&mut browser, &user).await.csrf();
    assert_eq!(send(&mut browser, &user, &csrf, "sms").await.status, 200);
    let first = code_from(&fixture.sink, 1).await;

    // The provider refuses the next one for good: the person is told to check the number.
    fixture.sink.fail_next(1, 400);
    let refused = send(&mut browser, &user, &csrf, "sms").await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("refused"), "{}", refused.body);
    // The provider is down for the next one: try again later.
    fixture.sink.fail_next(1, 503);
    let down = send(&mut browser, &user, &csrf, "sms").await;
    assert_eq!(down.status, 503, "{}", down.body);
    fixture.sink.wait_for(3, Duration::from_secs(10)).await;

    // Neither failed code was ever open to guessing, and neither replaced the first.
    let (db, connection) = tokio_postgres::connect(&fixture.server.db_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let rows: i64 = db
        .query_one("SELECT count(*) FROM phone_codes", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 1, "failed codes are forgotten and not counted");
    assert_eq!(
        confirm(&mut browser, &user, &csrf, &first).await.status,
        200
    );

    // While a code is on its way it cannot be typed back yet: guesses find nothing open.
    fixture.sink.delay(Duration::from_secs(2));
    let base = fixture.server.base.clone();
    let cookie = browser.cookies.clone();
    let (user_for_send, csrf_for_send) = (user.clone(), csrf.clone());
    let sending = tokio::spawn(async move {
        let mut other_tab = PageClient::new(&base);
        other_tab.cookies = cookie;
        send(&mut other_tab, &user_for_send, &csrf_for_send, "sms")
            .await
            .status
    });
    let in_flight = fixture.sink.wait_for(4, Duration::from_secs(10)).await;
    assert_eq!(in_flight.len(), 4, "the fourth code reached the provider");
    let guess = confirm(&mut browser, &user, &csrf, "123456").await;
    assert!(guess.body.contains("No code is waiting"), "{}", guess.body);
    assert_eq!(sending.await.unwrap(), 200);
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let (fixture, user) = setup().await;
    let mut browser = PageClient::new(&fixture.server.base);
    let csrf = open_page(&mut browser, &user).await.csrf();
    assert_eq!(send(&mut browser, &user, &csrf, "sms").await.status, 200);
    let code = code_from(&fixture.sink, 1).await;
    expire_codes(&fixture.server.db_url).await;
    let answer = confirm(&mut browser, &user, &csrf, &code).await;
    assert_eq!(answer.status, 400);
    assert!(answer.body.contains("expired"), "{}", answer.body);
    assert_eq!(
        stored(&fixture.server.store, &user).await.phone_number,
        None
    );
}

/// Moves every code's expiry into the past, as ten minutes would.
pub async fn expire_codes(db_url: &str) {
    let (db, connection) = tokio_postgres::connect(db_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let changed = db
        .execute(
            "UPDATE phone_codes SET expires_at = now() - interval '1 second'",
            &[],
        )
        .await
        .unwrap();
    assert!(changed > 0, "a code to expire");
}

#[tokio::test]
async fn every_form_needs_its_csrf_token_and_cookie() {
    let (fixture, user) = setup().await;
    let other = add_user(
        &fixture.server.store,
        "eve@example.com",
        "eve",
        None,
        Role::User,
    )
    .await;
    let mut browser = PageClient::new(&fixture.server.base);
    let csrf = open_page(&mut browser, &user).await.csrf();
    let path = format!("/verify/{}", user.link_id);

    let without_token = browser
        .post(&path, &[("step", "send"), ("phone", NEW_NUMBER)])
        .await;
    assert_eq!(without_token.status, 403, "{}", without_token.body);
    assert!(without_token.body.contains("This form has expired"));

    let mut stranger = PageClient::new(&fixture.server.base);
    let replayed = stranger
        .post(
            &path,
            &[("csrf", &csrf), ("step", "send"), ("phone", NEW_NUMBER)],
        )
        .await;
    assert_eq!(replayed.status, 403, "a token without its cookie");

    // A token signed for another person's page does not fit this one.
    let other_csrf = open_page(&mut browser, &other).await.csrf();
    let crossed = browser
        .post(&path, &[("csrf", &other_csrf), ("step", "remove")])
        .await;
    assert_eq!(crossed.status, 403);

    let login = browser.post("/login", &[("token", ADMIN_TOKEN)]).await;
    assert_eq!(login.status, 403, "sign-in needs its token too");
    assert!(login.cookie_named("emu_session").is_none());

    assert!(fixture.sink.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn unknown_ids_get_one_plain_not_found_and_every_link_variant_works() {
    let (fixture, user) = setup().await;
    let mut browser = PageClient::new(&fixture.server.base);
    let mut bodies = Vec::new();
    for path in [
        "/a/grafana-oncall-app/users?p=1&id=UZZZZZZZZZZZZZ".to_owned(),
        "/a/grafana-irm-app/users?p=1&id=nonsense".to_owned(),
        "/a/grafana-oncall-app/users?p=1&id=dana@example.com".to_owned(),
        "/a/grafana-oncall-app/users?p=1".to_owned(),
        format!(
            "/a/grafana-oncall-app/?page=users&p=1&id={}",
            "x".repeat(300)
        ),
        "/verify/UZZZZZZZZZZZZZ".to_owned(),
    ] {
        let answer = browser.get(&path).await;
        assert_eq!(answer.status, 404, "{path}");
        bodies.push(answer.body);
    }
    assert!(
        bodies.windows(2).all(|pair| pair[0] == pair[1]),
        "one page for every unknown id"
    );
    assert!(bodies[0].contains("Not found"));
    let posted = browser
        .post("/verify/UZZZZZZZZZZZZZ", &[("step", "remove")])
        .await;
    assert_eq!((posted.status, &posted.body), (404, &bodies[0]));
    assert_eq!(browser.get("/verify").await.status, 404);
    assert_eq!(
        browser
            .get(&format!("/verify/{}/more", user.link_id))
            .await
            .status,
        404
    );
    let put = client()
        .put(format!("{}/verify/{}", fixture.server.base, user.link_id))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 405);

    // Known or not, a lookup answers no sooner than the same floor (100 ms).
    for path in [
        "/a/grafana-oncall-app/users?p=1&id=UZZZZZZZZZZZZZ".to_owned(),
        engine_link(&user),
    ] {
        let started = std::time::Instant::now();
        browser.get(&path).await;
        assert!(started.elapsed() >= Duration::from_millis(100), "{path}");
    }
    for path in [
        format!("/a/grafana-oncall-app/users?p=1&id={}", user.link_id),
        format!("/a/grafana-oncall-app/users/?p=1&id={}", user.link_id),
        format!("/a/grafana-irm-app/users?p=1&id={}", user.link_id),
        format!("/a/grafana-oncall-app/?page=users&p=1&id={}", user.link_id),
        format!("/verify/{}", user.link_id),
    ] {
        let answer = browser.get(&path).await;
        assert_eq!(answer.status, 200, "{path}");
        assert!(answer.body.contains("dana@example.com"), "{path}");
    }
}

#[tokio::test]
async fn removing_the_number_unverifies_it_for_the_engine() {
    let fixture = with_webhook(None, &[]).await;
    let server = &fixture.server;
    let user = add_user(
        &server.store,
        "finn@example.com",
        "finn",
        Some("+4915112345678"),
        Role::User,
    )
    .await;
    assert!(
        engine_sees_verified(server, "finn@example.com").await,
        "an admin's number"
    );
    let mut browser = PageClient::new(&server.base);
    let page = open_page(&mut browser, &user).await;
    assert!(page.body.contains("+49********678") && !page.body.contains("+4915112345678"));
    unlock(&fixture, &mut browser, &user, &page.csrf(), 1).await;
    let removed = browser
        .post(
            &format!("/verify/{}", user.link_id),
            &[("csrf", &page.csrf()), ("step", "remove")],
        )
        .await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert!(removed.body.contains("Number removed"));
    assert_eq!(stored(&server.store, &user).await.phone_number, None);
    assert!(!engine_sees_verified(server, "finn@example.com").await);
    // The number that stops getting pages is told.
    let told = fixture.sink.wait_for(2, Duration::from_secs(10)).await[1].json();
    assert_eq!(told["recipient"]["phone_number"], "+4915112345678");
    assert!(
        told["message"].as_str().unwrap().contains("removed"),
        "{told}"
    );
}

#[tokio::test]
async fn a_replaced_number_is_told_where_pages_go_now() {
    let fixture = with_webhook(None, &[]).await;
    let server = &fixture.server;
    let user = add_user(
        &server.store,
        "gil@example.com",
        "gil",
        Some("+4915112345678"),
        Role::User,
    )
    .await;
    let mut browser = PageClient::new(&server.base);
    let csrf = open_page(&mut browser, &user).await.csrf();
    unlock(&fixture, &mut browser, &user, &csrf, 1).await;
    assert_eq!(send(&mut browser, &user, &csrf, "sms").await.status, 200);
    let code = code_from(&fixture.sink, 2).await;
    // A wrong code changes nothing and tells nobody.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_eq!(confirm(&mut browser, &user, &csrf, wrong).await.status, 400);
    assert_eq!(confirm(&mut browser, &user, &csrf, &code).await.status, 200);
    let requests = fixture.sink.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(
        requests.len(),
        3,
        "the unlock code, the code, then one notice"
    );
    let told = requests[2].json();
    assert_eq!(told["recipient"]["phone_number"], "+4915112345678");
    let text = told["message"].as_str().unwrap();
    assert!(text.contains("changed to +49********789"), "{text}");
    assert!(!text.contains(NEW_NUMBER_E164));
}

#[tokio::test]
async fn only_confirmed_numbers_count_in_code_mode_and_every_number_in_trust_mode() {
    let server = start_server(&[]).await;
    let by_admin = add_user(
        &server.store,
        "ana@example.com",
        "ana",
        Some("+4915111111111"),
        Role::User,
    )
    .await;
    let unconfirmed = add_user(
        &server.store,
        "ben@example.com",
        "ben",
        Some("+4915122222222"),
        Role::User,
    )
    .await;
    // As a number stored in trust mode, or before an admin vouched for it, would be.
    execute_sql(
        &server.db_url,
        "UPDATE users SET phone_verified_at = NULL, phone_verified_by = NULL WHERE id = $1",
        &[&unconfirmed.id],
    )
    .await;
    assert!(engine_sees_verified(&server, "ana@example.com").await);
    assert!(!engine_sees_verified(&server, "ben@example.com").await);
    let sms = post_form(
        &server,
        "/api/v1/send_sms",
        Some(ENGINE_TOKEN),
        "email=ben%40example.com&message=Grafana+OnCall%3A+Alert+group+%231",
    )
    .await;
    assert_eq!(
        sms,
        (400, serde_json::json!({"error": "number-not-verified"}))
    );

    // An admin setting the same number again leaves it as it is; a new one is vouched for.
    let patched = server
        .store
        .update_user(
            &unconfirmed.id,
            emu_oncall::store::users::UserUpdate {
                phone_number: Some(Some(
                    emu_oncall::model::PhoneNumber::parse("+4915133333333", None).unwrap(),
                )),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(patched.phone_verified_at.is_some());
    // A form opened in code mode, to post once the server trusts every number.
    let mut browser = PageClient::new(&server.base);
    let csrf = open_page(&mut browser, &unconfirmed).await.csrf();
    let db_url = server.db_url.clone();
    server.stop().await;
    let _ = by_admin;

    let trusting = start_server_on(&db_url, &[("verification.mode", "trust")]).await;
    execute_sql(
        &db_url,
        "UPDATE users SET phone_verified_at = NULL, phone_verified_by = NULL WHERE id = $1",
        &[&unconfirmed.id],
    )
    .await;
    assert!(engine_sees_verified(&trusting, "ben@example.com").await);
    browser.base = trusting.base.clone();
    let page = open_page(&mut browser, &unconfirmed).await;
    assert!(
        page.body.contains("managed by your administrators"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<form"), "no forms in trust mode");
    let refused = browser
        .post(
            &format!("/verify/{}", unconfirmed.link_id),
            &[("csrf", &csrf), ("step", "remove")],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("managed by your administrators"));
    assert!(trusting
        .store
        .find_user(&unconfirmed.id)
        .await
        .unwrap()
        .unwrap()
        .phone_number
        .is_some());
}

#[tokio::test]
async fn a_code_no_plugin_could_send_is_not_counted() {
    let server = start_server(&[]).await;
    let user = add_user(&server.store, "gus@example.com", "gus", None, Role::User).await;
    let mut browser = PageClient::new(&server.base);
    let csrf = open_page(&mut browser, &user).await.csrf();
    for _ in 0..4 {
        let answer = send(&mut browser, &user, &csrf, "sms").await;
        assert_eq!(answer.status, 503, "{}", answer.body);
        assert!(answer.body.contains("could not be sent"));
        assert!(
            answer.body.contains(NEW_NUMBER),
            "the typed number is kept in the field"
        );
    }
    let (db, connection) = tokio_postgres::connect(&server.db_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let codes: i64 = db
        .query_one("SELECT count(*) FROM phone_codes", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(codes, 0);
}

#[tokio::test]
async fn numbers_stored_before_this_version_stay_verified() {
    let db_url = fresh_database().await;
    let (db, connection) = tokio_postgres::connect(&db_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    db.batch_execute(
        "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
                                         applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await
    .unwrap();
    for (version, name) in [
        (1, "0001_initial.sql"),
        (2, "0002_delivery.sql"),
        (3, "0003_retries_and_watchdog.sql"),
        (4, "0004_schedules.sql"),
    ] {
        db.batch_execute(&repository_file(&format!("migrations/{name}")))
            .await
            .unwrap();
        db.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[&version, &name],
        )
        .await
        .unwrap();
    }
    db.batch_execute(
        "INSERT INTO users (id, email, username, phone_number) VALUES
             ('UOLD1', 'old@example.com', 'old', '+4915144444444'),
             ('UOLD2', 'none@example.com', 'none', NULL)",
    )
    .await
    .unwrap();
    let server = start_server_on(&db_url, &[]).await;
    assert!(engine_sees_verified(&server, "old@example.com").await);
    assert!(!engine_sees_verified(&server, "none@example.com").await);
}

/// A number saved before numbering plans were checked (`+1 555…` has no such area
/// code) still gets its owner's code: the page takes the saved number as stored, both
/// from "send to my number" and typed again in another spelling.
#[tokio::test]
async fn a_number_saved_before_plan_checks_can_still_be_confirmed() {
    let (fixture, user) = setup().await;
    execute_sql(
        &fixture.server.db_url,
        "UPDATE users SET phone_number = '+15550001111' WHERE id = $1",
        &[&user.id],
    )
    .await;
    let user = stored(&fixture.server.store, &user).await;
    let mut browser = PageClient::new(&fixture.server.base);
    let csrf = open_page(&mut browser, &user).await.csrf();

    let retyped = send_to(&mut browser, &user, &csrf, "+1 555 000-1111", "sms").await;
    assert_eq!(retyped.status, 200, "{}", retyped.body);
    assert!(
        retyped.body.contains("We sent a 6-digit code"),
        "{}",
        retyped.body
    );
    let code = code_from(&fixture.sink, 1).await;
    let confirmed = confirm(&mut browser, &user, &csrf, &code).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    let saved = stored(&fixture.server.store, &user).await;
    assert_eq!(
        saved
            .phone_number
            .as_ref()
            .map(emu_oncall::model::PhoneNumber::e164),
        Some("+15550001111")
    );
    assert!(saved.phone_verified_at.is_some());
    assert_eq!(
        fixture.sink.requests()[0].json()["recipient"]["phone_number"],
        "+15550001111"
    );
}
