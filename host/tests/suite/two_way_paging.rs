//! Two-way paging: a person called through the Twilio plugin presses a key, and the
//! OnCall API (a local stand-in) is asked to act on the right alert group, with a note
//! naming that person. The Twilio stand-in signs its calls back as Twilio does
//! (https://www.twilio.com/docs/usage/webhooks/webhooks-security). Forged, expired,
//! replayed or misdirected calls do nothing and get 403.

use crate::common;

use std::time::Duration;

use common::sink::{Recorded, Sink};
use common::*;
use emu_oncall::model::Role;
use hmac::Mac;
use serde_json::json;

const API_TOKEN: &str = "oncall-api-token";
const TWILIO_TOKEN: &str = "twilio-auth-token";
/// Where providers reach the server, as configured; the test calls the real address
/// and the server rebuilds the URL Twilio signed from this.
const PUBLIC: &str = "https://oncall.example.com/";
const CALL_TEXT: &str = "You are invited to check an Alert Group from Grafana OnCall. Alert via Grafana Alerting with title Disk full triggered 3 times";

fn alert_groups() -> String {
    json!({"count": 1, "next": null, "previous": null, "results": [
        {"id": "IMEM1", "integration_id": "CGRAFANA", "state": "firing",
         "created_at": "2026-03-23T09:20:00Z", "title": "Memory low", "labels": [],
         "permalinks": {"web": "https://grafana.example.com/a/grafana-oncall-app/alert-groups/IMEM1"}},
        {"id": "ICPU1", "integration_id": "CGRAFANA", "state": "firing",
         "created_at": "2026-03-23T09:10:00Z", "title": "CPU hot", "labels": [],
         "permalinks": {"web": "https://grafana.example.com/a/grafana-oncall-app/alert-groups/ICPU1"}},
        {"id": "IDISK1", "integration_id": "CGRAFANA", "state": "firing",
         "created_at": "2026-03-23T09:00:00Z", "title": "Disk full", "labels": [],
         "permalinks": {"web": "https://grafana.example.com/a/grafana-oncall-app/alert-groups/IDISK1"}}
    ]})
    .to_string()
}

/// What Twilio puts in `X-Twilio-Signature` for a POST of `params` to `url`.
fn twilio_signature(url: &str, params: &[(&str, &str)]) -> String {
    use base64::Engine as _;
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(TWILIO_TOKEN.as_bytes()).unwrap();
    mac.update(url.as_bytes());
    for (key, value) in sorted {
        mac.update(key.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

struct Setup {
    server: TestServer,
    twilio: Sink,
    oncall: Sink,
}

/// The OnCall webhook's "Authorization header".
const WEBHOOK_TOKEN: &str = "oncall-webhook-token-0123456789abcdef";

/// A server paging by phone through Twilio (SMS through the 0.1.0 plugin) against the
/// two stand-ins.
fn server_with(twilio: &Sink, oncall: &Sink) -> TestServerBuilder {
    TestServer::builder()
        .plugin("twilio.wasm", "twilio.wasm")
        // Built straight against contract 0.1.0: it loads and delivers next to 0.2.0
        // plugins.
        .plugin("legacy.wasm", "legacy-v0-1.wasm")
        .set("routes.sms.plugins", "legacy")
        .set("app.hostname", PUBLIC)
        .set("app.oncall_webhook_token", WEBHOOK_TOKEN)
        .set("plugin.twilio.account_sid", "AC0000000000")
        .set("plugin.twilio.auth_token", TWILIO_TOKEN)
        .set("plugin.twilio.from", "+15005550006")
        .set("plugin.twilio.api_url", &twilio.url)
        .set("plugin.twilio.allowed_hosts", "127.0.0.1")
        .set("routes.call.plugins", "twilio")
        .set("grafana.oncall.url", &oncall.url)
        .set("grafana.oncall.header_token", API_TOKEN)
}

async fn stand_ins() -> (Sink, Sink) {
    let twilio = Sink::start().await;
    twilio.respond_with(r#"{"sid":"CA0123","status":"queued"}"#);
    let oncall = Sink::start().await;
    oncall.respond_on("/api/v1/alert_groups/?", &alert_groups());
    oncall.respond_on(
        "/api/v1/integrations/",
        r#"{"results": [{"id": "CGRAFANA", "name": "Grafana Alerting"}]}"#,
    );
    (twilio, oncall)
}

async fn setup() -> Setup {
    let (twilio, oncall) = stand_ins().await;
    let server = server_with(&twilio, &oncall).start().await;
    add_user(
        &server.store,
        "alice@example.com",
        "alice",
        Some("+4915100000001"),
        Role::User,
    )
    .await;
    Setup {
        server,
        twilio,
        oncall,
    }
}

fn form_of(request: &Recorded) -> Vec<(String, String)> {
    form_urlencoded::parse(&request.body)
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
        .unwrap_or_else(|| panic!("no {name} in {fields:?}"))
}

/// The URL a call's key menu (`<Gather action>`) posts to, unescaped.
fn menu_action(twiml: &str) -> String {
    let start = twiml.find("action=\"").expect("a Gather action") + "action=\"".len();
    let end = twiml[start..]
        .find('"')
        .expect("the action's closing quote")
        + start;
    twiml[start..end].replace("&amp;", "&")
}

/// Pages alice by phone; returns the URL the call's key menu posts to, as Twilio got it.
async fn page_by_call(setup: &Setup) -> String {
    call(&setup.server, "alice@example.com").await;
    let calls = setup.twilio.wait_for(1, Duration::from_secs(10)).await;
    let fields = form_of(calls.last().expect("a call"));
    let twiml = field(&fields, "Twiml");
    assert!(twiml.contains("Press 1 to acknowledge"), "{twiml}");
    assert!(twiml.contains("Disk full"), "{twiml}");
    let action = menu_action(twiml);
    assert!(
        action.starts_with(&format!("{PUBLIC}hooks/twilio/n/")),
        "{action}"
    );
    let status_callback = field(&fields, "StatusCallback");
    assert!(status_callback.ends_with("/status"), "{status_callback}");
    action
}

/// The engine asks for a call to `email` about the disk group.
async fn call(server: &TestServer, email: &str) {
    call_about(server, email, CALL_TEXT).await;
}

async fn call_about(server: &TestServer, email: &str, text: &str) {
    let response = client()
        .post(format!("{}/api/v1/make_call", server.base))
        .header("Authorization", ENGINE_TOKEN)
        .form(&[("email", email), ("message", text)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// Posts `params` to `url` (a public URL) at the test server, signed with `signature`.
async fn post_as_twilio(
    setup: &Setup,
    url: &str,
    params: &[(&str, &str)],
    signature: &str,
) -> (u16, String) {
    let path = url.strip_prefix(PUBLIC).expect("a public URL");
    let response = client()
        .post(format!("{}/{path}", setup.server.base))
        .header("X-Twilio-Signature", signature)
        .form(params)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

async fn press(setup: &Setup, url: &str, digit: &str) -> (u16, String) {
    let params = [
        ("CallSid", "CA0123"),
        ("Digits", digit),
        ("From", "+15005550006"),
        ("To", "+4915100000001"),
    ];
    post_as_twilio(setup, url, &params, &twilio_signature(url, &params)).await
}

/// Every notification stored, newest first.
async fn all_pages(
    store: &emu_oncall::store::Store,
) -> Vec<emu_oncall::store::notifications::Notification> {
    let every = emu_oncall::store::notifications::NotificationFilter {
        limit: 1_000,
        ..Default::default()
    };
    store
        .list_notifications(&every)
        .await
        .expect("notifications")
}

/// Waits (boundedly) until `count` call pages have `status`: the stand-ins record a
/// request before they answer it, so a round settles just after its request is seen.
async fn calls_settle(
    store: &emu_oncall::store::Store,
    status: emu_oncall::model::Status,
    count: usize,
) {
    let settled = wait_for(Duration::from_secs(10), async || {
        all_pages(store)
            .await
            .iter()
            .filter(|page| {
                page.channel == emu_oncall::model::Channel::Call && page.status == status
            })
            .count()
            >= count
    })
    .await;
    assert!(settled, "{count} calls {status} expected");
}

/// The OnCall API calls that were not reads.
fn actions_asked(oncall: &Sink) -> Vec<Recorded> {
    oncall
        .requests()
        .into_iter()
        .filter(|request| request.method == "POST")
        .collect()
}

#[tokio::test]
async fn keys_1_2_and_3_act_on_the_paged_group_with_a_note_naming_the_person() {
    let setup = setup().await;
    let action = page_by_call(&setup).await;

    for (digit, verb, body, said) in [
        ("1", "acknowledge", json!({}), "Acknowledged."),
        ("2", "resolve", json!({}), "Resolved."),
        (
            "3",
            "silence",
            json!({"delay": 1800}),
            "Silenced for 30 minutes.",
        ),
    ] {
        let before = actions_asked(&setup.oncall).len();
        let (status, twiml) = press(&setup, &action, digit).await;
        assert_eq!(status, 200, "{twiml}");
        assert!(
            twiml.contains(said),
            "key {digit} is confirmed aloud: {twiml}"
        );
        let asked = actions_asked(&setup.oncall);
        assert_eq!(asked.len(), before + 2, "the action and its note");
        let act = &asked[before];
        assert_eq!(act.path, format!("/api/v1/alert_groups/IDISK1/{verb}"));
        assert_eq!(act.header("authorization"), Some(API_TOKEN));
        assert_eq!(act.json(), body);
        let note = &asked[before + 1];
        assert_eq!(note.path, "/api/v1/resolution_notes/");
        let note = note.json();
        assert_eq!(note["alert_group_id"], "IDISK1");
        let text = note["text"].as_str().unwrap();
        assert!(
            text.contains("by alice by phone call (key "),
            "the note names who acted and how: {text}"
        );
    }

    // Each event is stored with its outcome.
    let page = all_pages(&setup.server.store).await;
    let call = page
        .iter()
        .find(|n| n.channel == emu_oncall::model::Channel::Call)
        .unwrap();
    assert_eq!(call.alert_group_id.as_deref(), Some("IDISK1"));
    let events = setup.server.store.inbound_events(call.id).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|event| event.kind.as_str()).collect();
    assert_eq!(kinds, ["acknowledge", "resolve", "silence"]);
    assert!(events.iter().all(|event| event.ok), "{events:?}");

    // And shown by the CLI.
    let shown = std::process::Command::new(env!("CARGO_BIN_EXE_emu-oncall"))
        .args(["--db-url", &setup.server.db_url, "notifications", "show"])
        .arg(call.id.to_string())
        .env_remove("EMU_ONCALL_CONFIG")
        .output()
        .unwrap();
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["inbound_events"][0]["kind"], "acknowledge");
    assert_eq!(shown["inbound_events"][0]["via"], "phone call (key 1)");
    assert_eq!(shown["inbound_events"][0]["outcome"], "Acknowledged.");

    // The status page counts them, with the time from page to action.
    let mut browser = common::pages::PageClient::new(&setup.server.base);
    let csrf = browser.get("/").await.csrf();
    let signed_in = browser
        .post("/login", &[("csrf", &csrf), ("token", ADMIN_TOKEN)])
        .await;
    assert_eq!(signed_in.status, 303);
    let status = browser.get("/").await;
    assert!(
        status.body.contains("Replies, buttons and receipts (24 h)"),
        "{}",
        status.body
    );
    for kind in [
        "<td>acknowledge</td>",
        "<td>resolve</td>",
        "<td>silence</td>",
    ] {
        assert!(status.body.contains(kind), "{kind} on the status page");
    }
    let metrics = client()
        .get(format!("{}/metrics", setup.server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            r#"emu_oncall_inbound_events_total{plugin="twilio",kind="acknowledge",outcome="ok"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("emu_oncall_page_to_action_seconds_count{action=\"resolve\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_plugin_built_for_contract_0_1_0_delivers_beside_0_2_0_ones() {
    let setup = setup().await;
    let legacy = setup.server.state.registry().get("legacy").expect("loaded");
    assert_eq!(legacy.contract_version(), "0.1.0");
    assert!(!legacy.takes_inbound());
    let twilio = setup.server.state.registry().get("twilio").expect("loaded");
    assert_eq!(twilio.contract_version(), "0.2.0");

    let (status, answer) = send_sms(&setup.server, "alice@example.com", "Disk full").await;
    assert_eq!(status, 200, "{answer}");
    let store = &setup.server.store;
    let delivered = wait_for(Duration::from_secs(10), async || {
        let listed = all_pages(store).await;
        listed
            .first()
            .is_some_and(|page| page.delivered_by.as_deref() == Some("legacy"))
    })
    .await;
    assert!(delivered, "the 0.1.0 plugin delivered the SMS");
    // It takes no calls: its hooks are not found.
    let response = client()
        .post(format!("{}/hooks/legacy/anything", setup.server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn forged_expired_replayed_or_misdirected_calls_do_nothing_and_get_403() {
    let setup = setup().await;
    let action = page_by_call(&setup).await;
    let (status, _) = press(&setup, &action, "1").await;
    assert_eq!(status, 200);
    let acted = actions_asked(&setup.oncall).len();
    assert_eq!(acted, 2);

    // The same signed request again.
    let (status, _) = press(&setup, &action, "1").await;
    assert_eq!(status, 403, "a replay");

    // Twilio's signature made with another token, or missing.
    let params = [("CallSid", "CA0123"), ("Digits", "2")];
    let (status, _) = post_as_twilio(&setup, &action, &params, "bm90IGl0").await;
    assert_eq!(status, 403, "a forged Twilio signature");
    let (status, _) = post_as_twilio(&setup, &action, &params, "").await;
    assert_eq!(status, 403, "no Twilio signature");

    // Our signature changed, or the URL taken to another plugin.
    let (head, tail) = action.rsplit_once("/keys").unwrap();
    let (prefix, signature) = head.rsplit_once('/').unwrap();
    let flipped: String = signature
        .chars()
        .enumerate()
        .map(|(index, ch)| {
            if index == 0 {
                if ch == 'a' {
                    'b'
                } else {
                    'a'
                }
            } else {
                ch
            }
        })
        .collect();
    let forged = format!("{prefix}/{flipped}/keys{tail}");
    let (status, _) = press(&setup, &forged, "2").await;
    assert_eq!(status, 403, "a forged reply URL");
    let elsewhere = action.replace("/hooks/twilio/", "/hooks/legacy/");
    let (status, _) = press(&setup, &elsewhere, "2").await;
    assert_eq!(status, 403, "a reply URL taken to another plugin");

    // A URL signed with the server's own key, but past its expiry.
    let key = setup.server.store.web_secret("reply-urls").await.unwrap();
    let notification: uuid::Uuid = action
        .split("/n/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|id| id.parse().ok())
        .unwrap();
    let expired = emu_oncall::hooks::ReplySigner::new(key).url(
        PUBLIC,
        "twilio",
        notification,
        chrono::Utc::now() - chrono::Duration::minutes(1),
    );
    let (status, body) = press(&setup, &format!("{expired}/keys?round=1"), "2").await;
    assert_eq!(status, 403, "an expired reply URL: {body}");

    assert_eq!(
        actions_asked(&setup.oncall).len(),
        acted,
        "none of them acted"
    );
}

#[tokio::test]
async fn a_refusal_by_oncall_is_said_to_the_person_and_stored() {
    let setup = setup().await;
    let action = page_by_call(&setup).await;
    setup.oncall.fail_next(1, 400);
    let (status, twiml) = press(&setup, &action, "1").await;
    assert_eq!(status, 200);
    assert!(twiml.contains("OnCall refused"), "{twiml}");
    let page = all_pages(&setup.server.store).await;
    let events = setup.server.store.inbound_events(page[0].id).await.unwrap();
    assert_eq!(events.len(), 1);
    assert!(!events[0].ok);
    assert!(events[0].outcome.contains("OnCall refused"), "{events:?}");
}

#[tokio::test]
async fn malformed_inbound_calls_get_4xx_never_5xx() {
    let setup = setup().await;
    let action = page_by_call(&setup).await;
    let path = action.strip_prefix(PUBLIC).unwrap();
    let hostile: Vec<(String, Vec<u8>)> = vec![
        (path.to_owned(), vec![0xff, 0xfe, 0x00, b'=', b'&']),
        (path.to_owned(), b"Digits=%ZZ&&&==".to_vec()),
        (path.to_owned(), vec![b'a'; 100_000]),
        (
            "hooks/twilio/n/not-a-uuid/1/2/keys".to_owned(),
            b"Digits=1".to_vec(),
        ),
        ("hooks/twilio/n/".to_owned(), Vec::new()),
        ("hooks/nobody/keys".to_owned(), b"Digits=1".to_vec()),
        ("hooks/twilio/keys".to_owned(), b"Digits=1".to_vec()),
        ("hooks/".to_owned(), Vec::new()),
    ];
    for (path, body) in hostile {
        let response = client()
            .post(format!("{}/{path}", setup.server.base))
            .header("X-Twilio-Signature", "AAAA")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert!((400..500).contains(&status), "{path}: {status}");
    }
    assert!(actions_asked(&setup.oncall).is_empty());
}

/// OnCall's outgoing webhook body for `event_type` on the disk group, as
/// `engine/apps/webhooks/utils.py` `serialize_event` builds it ("forward all").
fn oncall_webhook_body(event_type: &str, username: &str) -> serde_json::Value {
    let user =
        json!({"id": "UADMIN", "username": username, "email": format!("{username}@example.com")});
    json!({
        "event": {"type": event_type, "time": "2026-11-28T10:00:00.000000Z"},
        "user": user,
        "alert_group": {
            "id": "IDISK1", "integration_id": "CGRAFANA", "team_id": null, "route_id": "R1",
            "alerts_count": 3, "state": "acknowledged", "created_at": "2026-03-23T09:00:00Z",
            "resolved_at": null, "resolved_by": null, "acknowledged_at": "2026-11-28T10:00:00Z",
            "acknowledged_by": "UADMIN", "labels": [], "title": "Disk full",
            "permalinks": {"slack": null, "telegram": null,
                           "web": "https://grafana.example.com/a/grafana-oncall-app/alert-groups/IDISK1"},
            "silenced_at": null, "last_alert": null
        },
        "alert_group_id": "IDISK1",
        "alert_payload": {"status": "firing"},
        "integration": {"id": "CGRAFANA", "type": "grafana_alerting", "name": "Grafana Alerting", "team": null},
        "notified_users": [user],
        "users_to_be_notified": [],
        "alert_group_acknowledged_by": user,
        "alert_group_resolved_by": null
    })
}

async fn post_oncall_webhook(
    server: &TestServer,
    token: &str,
    body: &serde_json::Value,
) -> (u16, String) {
    let response = client()
        .post(format!("{}/hooks/oncall", server.base))
        .header("Authorization", token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// Waits (boundedly) until `count` SMS to `number` were asked for; returns them.
async fn texts_arrive(twilio: &Sink, number: &str, count: usize) -> Vec<String> {
    let arrived = wait_for(Duration::from_secs(10), async || {
        texts_to(twilio, number).len() >= count
    })
    .await;
    let texts = texts_to(twilio, number);
    assert!(arrived, "{count} SMS to {number} expected, got {texts:?}");
    texts
}

/// SMS the Twilio stand-in was asked to send to `number`.
fn texts_to(twilio: &Sink, number: &str) -> Vec<String> {
    twilio
        .requests()
        .iter()
        .filter(|request| request.path.ends_with("/Messages.json"))
        .map(form_of)
        .filter(|fields| field(fields, "To") == number)
        .map(|fields| field(&fields, "Body").to_owned())
        .collect()
}

#[tokio::test]
async fn oncalls_webhook_tells_each_paged_person_once_across_two_replicas() {
    let (twilio, oncall) = stand_ins().await;
    let first = server_with(&twilio, &oncall).start().await;
    let second = server_with(&twilio, &oncall)
        .database(&first.db_url)
        .start()
        .await;
    for (email, name, number) in [
        ("alice@example.com", "alice", "+4915100000001"),
        ("bob@example.com", "bob", "+4915100000002"),
        ("carol@example.com", "carol", "+4915100000003"),
    ] {
        add_user(&first.store, email, name, Some(number), Role::User).await;
        call(&first, email).await;
    }
    calls_settle(&first.store, emu_oncall::model::Status::Delivered, 3).await;
    // Dave's call fails for now: it waits for a retry when the group is acknowledged.
    add_user(
        &first.store,
        "dave@example.com",
        "dave",
        Some("+4915100000004"),
        Role::User,
    )
    .await;
    twilio.fail_next(1, 503);
    call(&first, "dave@example.com").await;
    let store = &first.store;
    let waiting = wait_for(Duration::from_secs(10), async || {
        all_pages(store).await.iter().any(|page| {
            page.recipient_email.as_deref() == Some("dave@example.com")
                && page.status == emu_oncall::model::Status::Failed
        })
    })
    .await;
    assert!(waiting, "dave's call waits for a retry");

    // Alice acknowledges by phone; OnCall then sends its webhook, naming the API
    // token's owner, and it reaches both replicas.
    let calls = twilio.requests();
    let alices = calls
        .iter()
        .map(form_of)
        .find(|fields| field(fields, "To") == "+4915100000001")
        .unwrap();
    let action = menu_action(field(&alices, "Twiml"));
    let pressed = post_signed(&first, &action, &[("CallSid", "CA0123"), ("Digits", "1")]).await;
    assert_eq!(pressed, 200);

    let (wrong, _) = post_oncall_webhook(
        &first,
        "not-the-token",
        &oncall_webhook_body("acknowledge", "admin"),
    )
    .await;
    assert_eq!(wrong, 403);
    let body = oncall_webhook_body("acknowledge", "admin");
    let (a, b) = tokio::join!(
        post_oncall_webhook(&first, WEBHOOK_TOKEN, &body),
        post_oncall_webhook(&second, WEBHOOK_TOKEN, &body)
    );
    assert_eq!((a.0, b.0), (200, 200), "{a:?} {b:?}");

    let told = wait_for(Duration::from_secs(15), async || {
        texts_to(&twilio, "+4915100000002").len() == 1
            && texts_to(&twilio, "+4915100000003").len() == 1
    })
    .await;
    assert!(
        told,
        "bob and carol are told: {:?}",
        twilio.requests().len()
    );
    let text = &texts_to(&twilio, "+4915100000002")[0];
    assert_eq!(
        text, "Acknowledged by alice (Disk full)",
        "who took it, by name"
    );
    assert!(
        texts_to(&twilio, "+4915100000001").is_empty(),
        "alice acted herself"
    );
    assert!(
        texts_to(&twilio, "+4915100000004").is_empty(),
        "dave's page never reached him"
    );

    // Dave's waiting call is cancelled, and a webhook heard again tells nobody twice.
    let pages = all_pages(store).await;
    let daves = pages
        .iter()
        .find(|page| {
            page.recipient_email.as_deref() == Some("dave@example.com")
                && page.channel == emu_oncall::model::Channel::Call
        })
        .unwrap();
    assert_eq!(daves.status, emu_oncall::model::Status::Cancelled);
    let (again, answer) = post_oncall_webhook(&second, WEBHOOK_TOKEN, &body).await;
    assert_eq!(again, 200);
    assert!(answer.contains("\"told\":0"), "{answer}");
    assert_eq!(texts_to(&twilio, "+4915100000002").len(), 1);
    assert_eq!(texts_to(&twilio, "+4915100000003").len(), 1);
}

#[tokio::test]
async fn oncalls_webhook_refuses_hostile_bodies_with_4xx() {
    let setup = setup().await;
    for body in [
        b"not json".to_vec(),
        br#"{"event": {"type": "resolve"}}"#.to_vec(),
        br#"{"event": "resolve", "alert_group_id": "I1"}"#.to_vec(),
        br#"[]"#.to_vec(),
        vec![0xff; 1000],
    ] {
        let response = client()
            .post(format!("{}/hooks/oncall", setup.server.base))
            .header("Authorization", WEBHOOK_TOKEN)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
    }
    let (ignored, answer) = post_oncall_webhook(
        &setup.server,
        WEBHOOK_TOKEN,
        &json!({"event": {"type": "alert group created"}, "alert_group_id": "I1"}),
    )
    .await;
    assert_eq!(ignored, 200);
    assert!(answer.contains("ignored"), "{answer}");
}

/// What Twilio asked to be called back at for the call to `number`: the key menu's
/// action and the status callback.
fn callbacks_of_call_to(twilio: &Sink, number: &str) -> (String, String) {
    let fields = twilio
        .requests()
        .iter()
        .filter(|request| request.path.ends_with("/Calls.json"))
        .map(form_of)
        .find(|fields| field(fields, "To") == number)
        .unwrap_or_else(|| panic!("no call to {number}"));
    let keys = menu_action(field(&fields, "Twiml"));
    (keys, field(&fields, "StatusCallback").to_owned())
}

async fn post_signed(server: &TestServer, url: &str, params: &[(&str, &str)]) -> u16 {
    let path = url.strip_prefix(PUBLIC).expect("a public URL");
    client()
        .post(format!("{}/{path}", server.base))
        .header("X-Twilio-Signature", twilio_signature(url, params))
        .form(params)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_call_not_confirmed_fails_over_to_sms_and_an_acknowledgement_stops_it() {
    let (twilio, oncall) = stand_ins().await;
    let server = server_with(&twilio, &oncall)
        .set("routes.call.plugins", "twilio,twilio:sms")
        .set("routes.call.confirm_within", "2s")
        .start()
        .await;
    let store = &server.store;
    for (email, name, number) in [
        ("alice@example.com", "alice", "+4915100000001"),
        ("bob@example.com", "bob", "+4915100000002"),
        ("carol@example.com", "carol", "+4915100000003"),
    ] {
        add_user(store, email, name, Some(number), Role::User).await;
    }

    // Alice's call rings out: Twilio says so, and the route moves on to SMS at once.
    call(&server, "alice@example.com").await;
    twilio.wait_for(1, Duration::from_secs(10)).await;
    let (_, status_callback) = callbacks_of_call_to(&twilio, "+4915100000001");
    // The stand-in records the call before it answers: the round settles just after.
    let awaiting = wait_for(Duration::from_secs(10), async || {
        all_pages(store).await[0].status == emu_oncall::model::Status::Awaiting
    })
    .await;
    assert!(awaiting, "the call waits for its answer");
    let answered = post_signed(
        &server,
        &status_callback,
        &[("CallSid", "CA0123"), ("CallStatus", "no-answer")],
    )
    .await;
    assert_eq!(answered, 200);
    let texted = wait_for(Duration::from_secs(10), async || {
        texts_to(&twilio, "+4915100000001").len() == 1
    })
    .await;
    assert!(
        texted,
        "alice gets the page by SMS after the unanswered call"
    );
    assert!(texts_to(&twilio, "+4915100000001")[0].contains("Disk full"));

    // Carol's call is answered and she acknowledges: nothing more is sent to her.
    call(&server, "carol@example.com").await;
    twilio.wait_for(3, Duration::from_secs(10)).await;
    calls_settle(store, emu_oncall::model::Status::Awaiting, 1).await;
    let (keys, _) = callbacks_of_call_to(&twilio, "+4915100000003");
    assert_eq!(
        post_signed(&server, &keys, &[("CallSid", "CA0123"), ("Digits", "1")]).await,
        200
    );
    let carols = all_pages(store)
        .await
        .into_iter()
        .find(|page| page.recipient_email.as_deref() == Some("carol@example.com"))
        .unwrap();
    assert_eq!(
        carols.status,
        emu_oncall::model::Status::Delivered,
        "the acknowledgement confirms it"
    );

    // Bob's call about another group gets no answer at all: after `confirm_within`,
    // the SMS goes. By then Carol's would have gone too, had it not been stopped.
    call_about(
        &server,
        "bob@example.com",
        "You are invited to check an Alert Group from Grafana OnCall. Alert via Grafana Alerting with title CPU hot triggered 1 times",
    )
    .await;
    let texted = wait_for(Duration::from_secs(15), async || {
        texts_to(&twilio, "+4915100000002").len() == 1
    })
    .await;
    assert!(texted, "bob gets the page by SMS once the wait ran out");
    assert!(
        texts_to(&twilio, "+4915100000003").is_empty(),
        "carol acknowledged: no SMS"
    );
    // Twilio's stand-in records the SMS before it answers: the round settles just after.
    let bobs_page = async || {
        all_pages(store)
            .await
            .into_iter()
            .find(|page| page.recipient_email.as_deref() == Some("bob@example.com"))
            .expect("bob's page")
    };
    let settled = wait_for(Duration::from_secs(10), async || {
        bobs_page().await.status == emu_oncall::model::Status::Delivered
    })
    .await;
    let bobs = bobs_page().await;
    assert!(settled, "bob's page ends delivered, not {}", bobs.status);
    assert_eq!(bobs.alert_group_id.as_deref(), Some("ICPU1"));
}

/// The engine's SMS text about the group titled `title`.
fn sms_text(number: u32, title: &str) -> String {
    format!("Grafana OnCall: Alert group #{number}\"{title}\" from stack: \"stack\", integration: Grafana Alerting, alerts registered: 1.")
}

/// An SMS from `from` to the Twilio number, as Twilio posts it to the messaging
/// webhook; returns the status and the TwiML answer.
async fn reply_by_sms(server: &TestServer, from: &str, body: &str, sid: &str) -> (u16, String) {
    let url = format!("{PUBLIC}hooks/twilio/sms");
    let params = [
        ("MessageSid", sid),
        ("From", from),
        ("To", "+15005550006"),
        ("Body", body),
    ];
    let response = client()
        .post(format!("{}/hooks/twilio/sms", server.base))
        .header("X-Twilio-Signature", twilio_signature(&url, &params))
        .form(&params)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn sms_replies_act_on_the_open_group_and_codes_tell_several_apart() {
    let (twilio, oncall) = stand_ins().await;
    let server = server_with(&twilio, &oncall)
        .set("routes.sms.plugins", "twilio")
        .set("plugin.twilio.sms_replies", "true")
        .start()
        .await;
    let store = &server.store;
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

    // One open group: a bare "1" acknowledges it.
    send_sms(&server, "alice@example.com", &sms_text(3, "Memory low")).await;
    texts_arrive(&twilio, "+4915100000001", 1).await;
    let page = &texts_to(&twilio, "+4915100000001")[0];
    assert!(
        page.ends_with("Reply 1 to acknowledge, 2 to resolve, 3 to silence for 30 min."),
        "{page}"
    );
    let (status, answer) = reply_by_sms(&server, "+4915100000001", "1", "SM1").await;
    assert_eq!(status, 200);
    assert!(
        answer.contains("<Message>Acknowledged.</Message>"),
        "{answer}"
    );
    let acted = actions_asked(&oncall);
    assert_eq!(acted[0].path, "/api/v1/alert_groups/IMEM1/acknowledge");
    assert!(acted[1].json()["text"]
        .as_str()
        .unwrap()
        .contains("by alice by SMS reply"));

    // Two open groups: the second page carries a code, a bare reply is answered with
    // the choices, a code picks one, and then a bare reply is enough again.
    send_sms(&server, "bob@example.com", &sms_text(1, "Disk full")).await;
    texts_arrive(&twilio, "+4915100000002", 1).await;
    send_sms(&server, "bob@example.com", &sms_text(2, "CPU hot")).await;
    texts_arrive(&twilio, "+4915100000002", 2).await;
    let second = &texts_to(&twilio, "+4915100000002")[1];
    assert!(
        second.ends_with("Reply 1a to acknowledge, 2a to resolve, 3a to silence for 30 min."),
        "{second}"
    );
    let before = actions_asked(&oncall).len();
    let (_, answer) = reply_by_sms(&server, "+4915100000002", "1", "SM2").await;
    assert!(
        answer.contains("Several alerts are open: reply 1a for CPU hot, 1b for Disk full."),
        "{answer}"
    );
    let (_, answer) = reply_by_sms(&server, "+4915100000002", "1z", "SM3").await;
    assert!(answer.contains("No open alert has that code"), "{answer}");
    assert_eq!(
        actions_asked(&oncall).len(),
        before,
        "ambiguous replies act on nothing"
    );
    let (_, answer) = reply_by_sms(&server, "+4915100000002", "2a", "SM4").await;
    assert!(answer.contains("Resolved."), "{answer}");
    let (_, answer) = reply_by_sms(&server, "+4915100000002", "ack", "SM5").await;
    assert!(answer.contains("Acknowledged."), "{answer}");
    let paths: Vec<String> = actions_asked(&oncall)[before..]
        .iter()
        .map(|request| request.path.clone())
        .filter(|path| path.starts_with("/api/v1/alert_groups/"))
        .collect();
    assert_eq!(
        paths,
        [
            "/api/v1/alert_groups/ICPU1/resolve",
            "/api/v1/alert_groups/IDISK1/acknowledge"
        ]
    );

    // A number nobody has, and a text that is not a reply.
    let before = actions_asked(&oncall).len();
    let (status, answer) = reply_by_sms(&server, "+4915199999999", "1", "SM6").await;
    assert_eq!(status, 200);
    assert!(answer.contains("not one Emu-OnCall pages"), "{answer}");
    let (_, answer) = reply_by_sms(&server, "+4915100000002", "thanks!", "SM7").await;
    assert!(answer.contains("Reply 1 to acknowledge"), "{answer}");
    assert_eq!(actions_asked(&oncall).len(), before);
}

const TELEGRAM_SECRET: &str = "telegram-webhook-secret_0123";

/// A Telegram update for a press of `data` under message 42 in alice's chat.
fn button_press(data: &str) -> serde_json::Value {
    json!({"update_id": 7, "callback_query": {
        "id": "query-1", "from": {"id": 1001, "first_name": "Alice", "is_bot": false},
        "chat_instance": "c1", "data": data,
        "message": {"message_id": 42, "date": 1764320000, "chat": {"id": -1001234567890_i64, "type": "supergroup"},
                    "text": "🚨 Disk full"}
    }})
}

#[tokio::test]
async fn a_telegram_button_acts_and_the_message_says_who_did_it() {
    let (twilio, oncall) = stand_ins().await;
    let telegram = Sink::start().await;
    telegram.respond_with(r#"{"ok":true,"result":{"message_id":42}}"#);
    let server = server_with(&twilio, &oncall)
        .plugin("telegram.wasm", "telegram.wasm")
        .set("plugin.telegram.bot_token", "123456:telegram-bot-token")
        .set("plugin.telegram.api_url", &telegram.url)
        .set("plugin.telegram.allowed_hosts", "127.0.0.1")
        .set("plugin.telegram.webhook_secret", TELEGRAM_SECRET)
        .set("routes.sms.plugins", "telegram")
        .start()
        .await;
    add_user(
        &server.store,
        "alice@example.com",
        "alice",
        Some("+4915100000001"),
        Role::User,
    )
    .await;
    execute_sql(
        &server.db_url,
        "UPDATE users SET attributes = '{\"telegram_chat_id\": \"-1001234567890\"}' WHERE email = 'alice@example.com'",
        &[],
    )
    .await;

    send_sms(&server, "alice@example.com", &sms_text(1, "Disk full")).await;
    let sent = telegram.wait_for(1, Duration::from_secs(10)).await;
    let message = sent[0].json();
    assert!(sent[0].path.ends_with("/sendMessage"), "{}", sent[0].path);
    assert_eq!(
        message["reply_markup"]["inline_keyboard"][0][0]["callback_data"],
        "ack"
    );

    // Someone else's update, or no secret: refused.
    let press = |secret: &'static str, data: &'static str| {
        let base = server.base.clone();
        async move {
            client()
                .post(format!("{base}/hooks/telegram"))
                .header("X-Telegram-Bot-Api-Secret-Token", secret)
                .json(&button_press(data))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(press("wrong-secret", "ack").await, 403);
    assert!(actions_asked(&oncall).is_empty());

    assert_eq!(press(TELEGRAM_SECRET, "ack").await, 200);
    let asked = actions_asked(&oncall);
    assert_eq!(asked[0].path, "/api/v1/alert_groups/IDISK1/acknowledge");
    let note = asked[1].json()["text"].as_str().unwrap().to_owned();
    assert_eq!(note, "Acknowledged by alice by Telegram button (Alice)");
    let calls = telegram.requests();
    let answered = calls
        .iter()
        .find(|request| request.path.ends_with("/answerCallbackQuery"))
        .expect("the press is answered");
    assert_eq!(answered.json()["text"], "Acknowledged.");
    let edited = calls
        .iter()
        .find(|request| request.path.ends_with("/editMessageText"))
        .expect("the message is edited");
    assert_eq!(
        edited.json()["text"],
        "🚨 Disk full\n\n✅ Acknowledged by Alice"
    );
    assert_eq!(edited.json()["message_id"], 42);
}

#[tokio::test]
async fn plugins_setup_registers_the_telegram_webhook() {
    let telegram = Sink::start().await;
    telegram.respond_with(r#"{"ok":true,"result":true}"#);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("emu-oncall.toml");
    std::fs::write(
        &file,
        format!(
            "[app]\nhostname = \"{PUBLIC}\"\n[plugin.telegram]\nbot_token = \"123456:telegram-bot-token\"\n\
             webhook_secret = \"{TELEGRAM_SECRET}\"\napi_url = \"{}\"\n",
            telegram.url
        ),
    )
    .unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_emu-oncall"))
        .args([
            "--config",
            &file.display().to_string(),
            "plugins",
            "setup",
            "telegram",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let asked = telegram.requests();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].path, "/bot123456:telegram-bot-token/setWebhook");
    let body = asked[0].json();
    assert_eq!(body["url"], format!("{PUBLIC}hooks/telegram"));
    assert_eq!(body["secret_token"], TELEGRAM_SECRET);
    assert_eq!(body["allowed_updates"], json!(["callback_query"]));
}

#[tokio::test]
async fn an_ntfy_button_posts_to_the_reply_url_and_acts() {
    let (twilio, oncall) = stand_ins().await;
    let ntfy = Sink::start().await;
    ntfy.respond_with(r#"{"id":"n1","event":"message"}"#);
    let server = server_with(&twilio, &oncall)
        .plugin("ntfy.wasm", "ntfy.wasm")
        .set("plugin.ntfy.server", &ntfy.url)
        .set("plugin.ntfy.topic", "oncall-alerts")
        .set("plugin.ntfy.allowed_hosts", "127.0.0.1")
        .set("routes.sms.plugins", "ntfy")
        .start()
        .await;
    add_user(
        &server.store,
        "alice@example.com",
        "alice",
        Some("+4915100000001"),
        Role::User,
    )
    .await;
    send_sms(&server, "alice@example.com", &sms_text(1, "Disk full")).await;
    let published = ntfy.wait_for(1, Duration::from_secs(10)).await;
    let actions = published[0].json()["actions"].clone();
    assert_eq!(actions[0]["action"], "http");
    assert_eq!(actions[0]["label"], "Acknowledge");
    assert_eq!(actions[0]["method"], "POST");
    let url = actions[1]["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&format!("{PUBLIC}hooks/ntfy/n/")) && url.ends_with("/resolve"),
        "{url}"
    );

    // What the ntfy app sends when Resolve is pressed.
    let path = url.strip_prefix(PUBLIC).unwrap();
    let response = client()
        .post(format!("{}/{path}", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "Resolved.");
    let asked = actions_asked(&oncall);
    assert_eq!(asked[0].path, "/api/v1/alert_groups/IDISK1/resolve");
    assert_eq!(asked[1].json()["text"], "Resolved by alice by ntfy button");
}

#[tokio::test]
async fn a_mattermost_button_acts_and_updates_the_post() {
    let (twilio, oncall) = stand_ins().await;
    let mattermost = Sink::start().await;
    mattermost.respond_with("ok");
    let server = server_with(&twilio, &oncall)
        .plugin("slack.wasm", "slack.wasm")
        .set(
            "plugin.slack.webhook_url",
            format!("{}/hooks/xyz", mattermost.url),
        )
        .set("plugin.slack.allowed_hosts", "127.0.0.1")
        .set("plugin.slack.mattermost_buttons", "true")
        .set("routes.sms.plugins", "slack")
        .start()
        .await;
    add_user(
        &server.store,
        "alice@example.com",
        "alice",
        Some("+4915100000001"),
        Role::User,
    )
    .await;
    send_sms(&server, "alice@example.com", &sms_text(1, "Disk full")).await;
    let posted = mattermost.wait_for(1, Duration::from_secs(10)).await;
    let actions = posted[0].json()["attachments"][0]["actions"].clone();
    assert_eq!(actions[0]["name"], "Acknowledge");
    let url = actions[0]["integration"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(url.starts_with(&format!("{PUBLIC}hooks/slack/n/")), "{url}");

    // What Mattermost's server posts when the button is pressed.
    let path = url.strip_prefix(PUBLIC).unwrap();
    let response = client()
        .post(format!("{}/{path}", server.base))
        .json(
            &json!({"user_id": "u1", "user_name": "alice.m", "post_id": "p1",
                      "channel_id": "c1", "team_id": "t1", "context": {"action": "ack"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["ephemeral_text"], "Acknowledged.");
    let updated = answer["update"]["message"].as_str().unwrap();
    assert!(updated.ends_with("✅ Acknowledged by alice.m"), "{updated}");
    assert_eq!(answer["update"]["props"], json!({}), "the buttons go");
    let asked = actions_asked(&oncall);
    assert_eq!(asked[0].path, "/api/v1/alert_groups/IDISK1/acknowledge");
    assert_eq!(
        asked[1].json()["text"],
        "Acknowledged by alice by Mattermost button (alice.m)"
    );
}

#[tokio::test]
async fn people_whose_call_awaits_its_receipt_are_told_and_their_failover_stops() {
    let (twilio, oncall) = stand_ins().await;
    let server = server_with(&twilio, &oncall)
        .set("routes.call.plugins", "twilio,twilio:sms")
        .set("routes.call.confirm_within", "1h")
        .start()
        .await;
    for (email, name, number) in [
        ("alice@example.com", "alice", "+4915100000001"),
        ("bob@example.com", "bob", "+4915100000002"),
    ] {
        add_user(&server.store, email, name, Some(number), Role::User).await;
        call(&server, email).await;
    }
    calls_settle(&server.store, emu_oncall::model::Status::Awaiting, 2).await;
    let body = oncall_webhook_body("acknowledge", "admin");
    let (status, answer) = post_oncall_webhook(&server, WEBHOOK_TOKEN, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("\"cancelled\":2"), "{answer}");
    for number in ["+4915100000001", "+4915100000002"] {
        let texts = texts_arrive(&twilio, number, 1).await;
        assert_eq!(texts, ["Acknowledged by admin (Disk full)"]);
    }
    let pages = all_pages(&server.store).await;
    let calls: Vec<_> = pages
        .iter()
        .filter(|page| page.channel == emu_oncall::model::Channel::Call)
        .collect();
    assert_eq!(calls.len(), 2);
    assert!(calls
        .iter()
        .all(|page| page.status == emu_oncall::model::Status::Cancelled));
}
