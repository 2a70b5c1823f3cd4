//! The engine's calls, one test per row of the contract's checklist, shaped as the
//! engine sends them (see the appendix of the API contract).

use crate::common;

use common::*;
use emu_oncall::model::Role;
use emu_oncall::model::Status;
use serde_json::{json, Value};

const ALICE_PHONE: &str = "+4915112345678";

async fn get_json(server: &TestServer, path_and_query: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = client().get(format!("{}{path_and_query}", server.base));
    if let Some(token) = token {
        request = request.header("AUTHORIZATION", token);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("every answer is JSON");
    (status, body)
}

// Checklist 1 and 5: served at the root; info returns a url ending in `/`.
#[tokio::test]
async fn info_answers_the_token_check_with_a_base_url() {
    let server = start_server(&[("app.hostname", "https://emu.example.com")]).await;
    let (status, body) = raw_request(
        server.addr,
        "GET /api/v1/info/ HTTP/1.1\r\nHost: emu:8880\r\nUser-Agent: python-requests/2.32.4\r\n\
         Accept: */*\r\nAUTHORIZATION: test-cloud-token-0123456789\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body, json!({"url": "https://emu.example.com/"}));
}

#[tokio::test]
async fn a_public_url_is_the_base_of_peoples_links_and_heartbeats_stay_on_the_engines_side() {
    // As in docker compose: the engine reaches emu-oncall:8880, browsers localhost:8880.
    let server = start_server(&[("app.public_url", "http://localhost:8880")]).await;
    let (status, body) = get_json(&server, "/api/v1/info/", Some(ENGINE_TOKEN)).await;
    assert_eq!(
        (status, body),
        (200, json!({"url": "http://localhost:8880/"}))
    );
    let (status, body) = post_form(
        &server,
        "/api/v1/integrations/",
        Some(ENGINE_TOKEN),
        "type=formatted_webhook&name=engine",
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let link = body["heartbeat"]["link"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("http://{}/integrations/v1/", server.addr)),
        "{link}"
    );
}

#[tokio::test]
async fn info_without_hostname_reports_the_host_the_engine_used() {
    let server = start_server(&[]).await;
    let (status, body) = get_json(&server, "/api/v1/info", Some(ENGINE_TOKEN)).await;
    assert_eq!(status, 200);
    assert_eq!(body["url"], json!(format!("http://{}/", server.addr)));
}

// Checklist 3: wrong or missing token → 403 "Invalid token." on every authenticated route.
#[tokio::test]
async fn every_authenticated_route_refuses_wrong_and_missing_tokens() {
    let server = start_server(&[]).await;
    let routes = [
        ("GET", "/api/v1/info/"),
        ("GET", "/api/v1/users?page=1&short=true&roles=0&roles=1"),
        (
            "GET",
            "/api/v1/users/?email=alice@example.com&roles=0&roles=1&short=true",
        ),
        ("POST", "/api/v1/integrations/"),
        ("GET", "/api/v1/integrations/?name=x"),
        ("POST", "/api/v1/make_call"),
        ("POST", "/api/v1/send_sms"),
        ("POST", "/mobile_app/v1/fcm_relay"),
    ];
    for (method, path) in routes {
        for token in [
            Some("wrong-test-cloud-token-0123456789"),
            Some(""),
            None,
            Some("Bearer test-cloud-token-0123456789"),
        ] {
            let mut request =
                client().request(method.parse().unwrap(), format!("{}{path}", server.base));
            if let Some(token) = token {
                request = request.header("Authorization", token);
            }
            let response = request
                .body("email=a%40b.c&message=x")
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status().as_u16(),
                403,
                "{method} {path} with {token:?}"
            );
            let body: Value = response.json().await.unwrap();
            assert_eq!(body, json!({"detail": "Invalid token."}), "{method} {path}");
        }
    }
}

#[tokio::test]
async fn tokens_are_trimmed_and_any_listed_token_works() {
    let server = start_server(&[(
        "app.auth_token",
        "old-token-0123456789abcdef, new-token-0123456789abcdef",
    )])
    .await;
    for token in [
        " old-token-0123456789abcdef ",
        "new-token-0123456789abcdef\t",
    ] {
        let (status, _) = get_json(&server, "/api/v1/info/", Some(token)).await;
        assert_eq!(status, 200, "{token:?}");
    }
    let (status, _) = get_json(
        &server,
        "/api/v1/info/",
        Some("test-cloud-token-0123456789"),
    )
    .await;
    assert_eq!(status, 403);
}

// Checklist 2: every path with and without its trailing slash.
#[tokio::test]
async fn paths_work_with_and_without_trailing_slash() {
    let server = start_server(&[]).await;
    for path in [
        "/api/v1/info",
        "/api/v1/info/",
        "/api/v1/users",
        "/api/v1/users/",
        "/api/v1/integrations",
        "/api/v1/integrations/",
    ] {
        let (status, _) = get_json(&server, path, Some(ENGINE_TOKEN)).await;
        assert_eq!(status, 200, "{path}");
    }
    let _ = add_user(
        &server.store,
        "alice@example.com",
        "alice",
        Some(ALICE_PHONE),
        Role::Admin,
    )
    .await;
    for path in [
        "/api/v1/send_sms",
        "/api/v1/send_sms/",
        "/api/v1/make_call",
        "/api/v1/make_call/",
    ] {
        let (status, body) = post_form(
            &server,
            path,
            Some(ENGINE_TOKEN),
            "email=alice%40example.com&message=hi",
        )
        .await;
        assert_eq!(status, 200, "{path}: {body}");
    }
}

// Checklist 6: bulk sync as the engine reads it.
#[tokio::test]
async fn bulk_user_sync_marks_users_with_a_phone_as_verified() {
    let server = start_server(&[]).await;
    let alice = add_user(
        &server.store,
        "alice@example.com",
        "alice",
        Some(ALICE_PHONE),
        Role::Admin,
    )
    .await;
    let bob = add_user(&server.store, "bob@example.com", "bob", None, Role::User).await;
    let _observer = add_user(
        &server.store,
        "olga@example.com",
        "olga",
        Some("+14155550100"),
        Role::Observer,
    )
    .await;
    let (status, body) = raw_request(
        server.addr,
        "GET /api/v1/users?page=1&short=true&roles=0&roles=1 HTTP/1.1\r\nHost: emu\r\n\
         AUTHORIZATION: test-cloud-token-0123456789\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body["next"],
        Value::Null,
        "the last page must say next: null"
    );
    let results = body["results"].as_array().unwrap();
    assert_eq!(
        results.len(),
        2,
        "the observer is outside roles 0 and 1: {body}"
    );
    let by_email = |email: &str| {
        results
            .iter()
            .find(|user| user["email"] == email)
            .unwrap()
            .clone()
    };
    let alice_json = by_email("alice@example.com");
    assert_eq!(alice_json["id"], json!(alice.link_id));
    assert_eq!(alice_json["is_phone_number_verified"], json!(true));
    assert!(alice.link_id.len() <= 20);
    let bob_json = by_email("bob@example.com");
    assert_eq!(bob_json["id"], json!(bob.link_id));
    assert_eq!(bob_json["is_phone_number_verified"], json!(false));
}

#[tokio::test]
async fn bulk_user_sync_of_an_empty_list_ends_at_once() {
    let server = start_server(&[]).await;
    let (status, body) = get_json(
        &server,
        "/api/v1/users?page=1&short=true&roles=0&roles=1",
        Some(ENGINE_TOKEN),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["results"], json!([]));
    assert_eq!(body["next"], Value::Null);
    assert_eq!(body["count"], json!(0));
}

#[tokio::test]
async fn two_hundred_fifty_users_are_paged_to_the_end_as_the_engine_loops() {
    let server = start_server(&[]).await;
    for n in 0..250 {
        add_user(
            &server.store,
            &format!("user{n:03}@example.com"),
            &format!("user{n:03}"),
            Some("+4915100000000"),
            Role::User,
        )
        .await;
    }
    let mut seen = std::collections::HashSet::new();
    let mut page = 1;
    loop {
        assert!(page <= 10, "the engine would loop forever");
        let (status, body) = get_json(
            &server,
            &format!("/api/v1/users?page={page}&short=true&roles=0&roles=1"),
            Some(ENGINE_TOKEN),
        )
        .await;
        assert_eq!(status, 200);
        for user in body["results"].as_array().unwrap() {
            assert!(
                seen.insert(user["id"].as_str().unwrap().to_owned()),
                "user listed twice"
            );
        }
        if body["next"].is_null() {
            break;
        }
        page += 1;
    }
    assert_eq!(page, 3);
    assert_eq!(seen.len(), 250);
    let (status, body) = get_json(&server, "/api/v1/users?page=0", Some(ENGINE_TOKEN)).await;
    assert_eq!(status, 404, "{body}");
}

// Checklist 7: single-user sync with a literal `+`, case-insensitively.
#[tokio::test]
async fn single_user_sync_matches_a_raw_plus_email_case_insensitively() {
    let server = start_server(&[]).await;
    let alice = add_user(
        &server.store,
        "Alice+OnCall@example.com",
        "alice",
        Some(ALICE_PHONE),
        Role::Admin,
    )
    .await;
    let _other = add_user(
        &server.store,
        "alice@example.com",
        "alice2",
        None,
        Role::Admin,
    )
    .await;
    let (status, body) = raw_request(
        server.addr,
        "GET /api/v1/users/?email=alice+oncall@example.com&roles=0&roles=1&short=true HTTP/1.1\r\n\
         Host: emu\r\nAUTHORIZATION: test-cloud-token-0123456789\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    let results = body["results"].as_array().unwrap();
    assert_eq!(
        results.len(),
        1,
        "the filter must not return everyone: {body}"
    );
    assert_eq!(results[0]["id"], json!(alice.link_id));
    assert_eq!(results[0]["is_phone_number_verified"], json!(true));

    let (status, body) = get_json(
        &server,
        "/api/v1/users/?email=nobody@example.com&roles=0&roles=1&short=true",
        Some(ENGINE_TOKEN),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["results"], json!([]));
}

// Checklist 8: heartbeat integration: 201, idempotent by name, link served without auth.
#[tokio::test]
async fn heartbeat_integration_is_created_once_and_its_link_records_pings() {
    let server = start_server(&[]).await;
    let body =
        "type=formatted_webhook&name=OnCall+Cloud+Heartbeat+http%3A%2F%2Foncall-oss.example.local";
    let (status, first) =
        post_form(&server, "/api/v1/integrations/", Some(ENGINE_TOKEN), body).await;
    assert_eq!(status, 201, "{first}");
    let id = first["id"].as_str().unwrap().to_owned();
    assert!(id.len() <= 50);
    assert_eq!(
        first["name"],
        json!("OnCall Cloud Heartbeat http://oncall-oss.example.local")
    );
    let link = first["heartbeat"]["link"].as_str().unwrap().to_owned();
    assert!(
        link.starts_with(&server.base) && link.ends_with("/heartbeat/"),
        "{link}"
    );
    assert!(link.len() <= 200);

    let (status, second) =
        post_form(&server, "/api/v1/integrations/", Some(ENGINE_TOKEN), body).await;
    assert_eq!(status, 201, "a repeated create must not be a 400");
    assert_eq!(second["id"], json!(id));
    assert_eq!(second["heartbeat"]["link"], json!(link));

    let (status, listed) = get_json(
        &server,
        "/api/v1/integrations/?name=OnCall%20Cloud%20Heartbeat%20http://oncall-oss.example.local",
        Some(ENGINE_TOKEN),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(listed["results"].as_array().unwrap().len(), 1);
    assert_eq!(listed["results"][0]["heartbeat"]["link"], json!(link));

    let before = server.store.list_integrations().await.unwrap();
    assert!(before[0].last_seen_at.is_none());
    let path = link.strip_prefix(&server.base).unwrap();
    let (status, pong) = raw_request(
        server.addr,
        &format!("GET {path} HTTP/1.1\r\nHost: emu\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert_eq!(status, 200, "{pong}");
    let after = server.store.list_integrations().await.unwrap();
    assert!(
        after[0].last_seen_at.is_some(),
        "the ping is recorded in PostgreSQL"
    );

    let (status, body) = get_json(
        &server,
        "/integrations/v1/formatted_webhook/unknown-token/heartbeat/",
        None,
    )
    .await;
    assert_eq!(
        status, 403,
        "an unknown link makes the engine create its integration again: {body}"
    );
}

// Checklist 9: SMS and calls.
#[tokio::test]
async fn sms_and_calls_for_a_verified_user_are_committed_before_the_answer() {
    let server = start_server(&[]).await;
    let alice = add_user(
        &server.store,
        "alice@example.com",
        "alice",
        Some(ALICE_PHONE),
        Role::Admin,
    )
    .await;
    let sms = "email=alice%40example.com&message=Grafana+OnCall%3A+Alert+group+%231%22Test+alert%22+from+stack%3A+%22stack%22%2C+integration%3A+Test+integration+-+Formatted+webhook%2C+alerts+registered%3A+1.";
    let (status, body) = post_form(&server, "/api/v1/send_sms", Some(ENGINE_TOKEN), sms).await;
    assert_eq!((status, body), (200, json!({})));
    let call = "email=alice%40example.com&message=You+are+invited+to+check+an+Alert+Group+from+Grafana+OnCall.";
    let (status, body) = post_form(&server, "/api/v1/make_call", Some(ENGINE_TOKEN), call).await;
    assert_eq!((status, body), (200, json!({})));

    let stored = all_notifications(&server).await;
    assert_eq!(stored.len(), 2);
    let sms_row = stored.iter().find(|n| n.channel.as_str() == "sms").unwrap();
    assert_eq!(sms_row.user_id.as_deref(), Some(alice.id.as_str()));
    assert_eq!(sms_row.status, Status::Pending);
    assert_eq!(
        sms_row.message,
        "Grafana OnCall: Alert group #1\"Test alert\" from stack: \"stack\", integration: Test integration - Formatted webhook, alerts registered: 1."
    );
    assert!(stored.iter().any(|n| n.channel.as_str() == "call"));
}

#[tokio::test]
async fn unverified_and_unknown_users_are_refused_with_the_engines_error_codes() {
    let server = start_server(&[]).await;
    add_user(&server.store, "bob@example.com", "bob", None, Role::User).await;
    for path in ["/api/v1/send_sms", "/api/v1/make_call"] {
        let (status, body) = post_form(
            &server,
            path,
            Some(ENGINE_TOKEN),
            "email=bob%40example.com&message=hi",
        )
        .await;
        assert_eq!(
            (status, body),
            (400, json!({"error": "number-not-verified"})),
            "{path}"
        );
        let (status, body) = post_form(
            &server,
            path,
            Some(ENGINE_TOKEN),
            "email=carol%40example.com&message=hi",
        )
        .await;
        assert_eq!(
            (status, body),
            (404, json!({"error": "user-not-found"})),
            "{path}"
        );
    }
    assert!(
        all_notifications(&server).await.is_empty(),
        "nothing refused is stored"
    );
}

#[tokio::test]
async fn the_daily_limit_is_per_user_and_channel() {
    let server = start_server(&[("limits.sms_per_day", "2")]).await;
    add_user(
        &server.store,
        "alice@example.com",
        "alice",
        Some(ALICE_PHONE),
        Role::User,
    )
    .await;
    add_user(
        &server.store,
        "dave@example.com",
        "dave",
        Some("+14155550101"),
        Role::User,
    )
    .await;
    let sms = |email: &str| format!("email={email}&message=hi");
    for _ in 0..2 {
        let (status, _) = post_form(
            &server,
            "/api/v1/send_sms",
            Some(ENGINE_TOKEN),
            &sms("alice%40example.com"),
        )
        .await;
        assert_eq!(status, 200);
    }
    let (status, body) = post_form(
        &server,
        "/api/v1/send_sms",
        Some(ENGINE_TOKEN),
        &sms("alice%40example.com"),
    )
    .await;
    assert_eq!((status, body), (400, json!({"error": "limit-exceeded"})));
    let (status, _) = post_form(
        &server,
        "/api/v1/make_call",
        Some(ENGINE_TOKEN),
        &sms("alice%40example.com"),
    )
    .await;
    assert_eq!(status, 200, "calls have their own limit");
    let (status, _) = post_form(
        &server,
        "/api/v1/send_sms",
        Some(ENGINE_TOKEN),
        &sms("dave%40example.com"),
    )
    .await;
    assert_eq!(status, 200, "other users have their own limit");
    assert_eq!(all_notifications(&server).await.len(), 4);
}

#[tokio::test]
async fn missing_or_bad_form_fields_get_a_json_400() {
    let server = start_server(&[]).await;
    add_user(
        &server.store,
        "alice@example.com",
        "alice",
        Some(ALICE_PHONE),
        Role::User,
    )
    .await;
    for body in [
        "",
        "email=alice%40example.com",
        "message=hi",
        "email=&message=hi",
    ] {
        let (status, answer) =
            post_form(&server, "/api/v1/send_sms", Some(ENGINE_TOKEN), body).await;
        assert_eq!(status, 400, "{body:?}");
        assert_eq!(answer["error"], json!("bad-request"), "{body:?}");
    }
    let response = client()
        .post(format!("{}/api/v1/make_call", server.base))
        .header("Authorization", ENGINE_TOKEN)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(vec![0xff, 0xfe, b'=', 0xff])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["error"], json!("bad-request"));
}

#[tokio::test]
async fn oversized_bodies_get_a_json_413() {
    let server = start_server(&[("app.max_body_bytes", "4096")]).await;
    let big = format!("email=alice%40example.com&message={}", "x".repeat(10_000));
    let (status, body) = post_form(&server, "/api/v1/send_sms", Some(ENGINE_TOKEN), &big).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"], json!("too-large"));
}

#[tokio::test]
async fn long_messages_are_accepted_not_rejected() {
    let server = start_server(&[]).await;
    add_user(
        &server.store,
        "alice@example.com",
        "alice",
        Some(ALICE_PHONE),
        Role::User,
    )
    .await;
    let long = "A".repeat(5000);
    let (status, _) = post_form(
        &server,
        "/api/v1/send_sms",
        Some(ENGINE_TOKEN),
        &format!("email=alice%40example.com&message={long}"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(all_notifications(&server).await[0].message.len(), 5000);
}

// Checklist 10: the push relay.
#[tokio::test]
async fn push_relay_stores_the_push_for_the_user_with_that_device() {
    let server = start_server(&[]).await;
    let alice = add_user(
        &server.store,
        "alice@example.com",
        "alice",
        Some(ALICE_PHONE),
        Role::User,
    )
    .await;
    server
        .store
        .update_user(
            &alice.id,
            emu_oncall::store::users::UserUpdate {
                attributes: [("fcm_token".to_owned(), json!("registration-id"))]
                    .into_iter()
                    .collect(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let message = json!({"android": {"priority": "high"}, "data": {"alert_group_id": "1", "title": "Test push"}, "token": "registration-id"});
    let response = client()
        .post(format!("{}/mobile_app/v1/fcm_relay", server.base))
        .header("Authorization", ENGINE_TOKEN)
        .json(&message)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let stored = all_notifications(&server).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].channel.as_str(), "push");
    assert_eq!(stored[0].user_id.as_deref(), Some(alice.id.as_str()));
    assert_eq!(stored[0].message, "Test push");
    assert_eq!(stored[0].payload["push"], message);
    assert_eq!(stored[0].payload["source"], json!("engine"));
}

#[tokio::test]
async fn push_relay_refuses_bad_bodies_with_json() {
    let server = start_server(&[]).await;
    for body in [
        "not json",
        "[]",
        r#"{"data": {}}"#,
        r#"{"token": "t"}"#,
        r#"{"token": "t", "data": "x"}"#,
        r#"{"token": "t", "data": {}, "apns": 3}"#,
    ] {
        let response = client()
            .post(format!("{}/mobile_app/v1/fcm_relay", server.base))
            .header("Authorization", ENGINE_TOKEN)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400, "{body}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["error"], json!("bad-request"), "{body}");
    }
    assert!(all_notifications(&server).await.is_empty());
}

#[tokio::test]
async fn unknown_paths_and_methods_get_json() {
    let server = start_server(&[]).await;
    let (status, body) = get_json(&server, "/api/v2/nothing", Some(ENGINE_TOKEN)).await;
    assert_eq!((status, body), (404, json!({"detail": "Not found."})));
    let (status, body) = get_json(&server, "/api/v1/send_sms", Some(ENGINE_TOKEN)).await;
    assert_eq!(status, 405);
    assert!(body["detail"].is_string());
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let server = start_server(&[]).await;
    let (status, _) = get_json(&server, "/healthz", None).await;
    assert_eq!(status, 200);
    let (status, body) = get_json(&server, "/readyz", None).await;
    assert_eq!((status, body["status"].clone()), (200, json!("ready")));

    add_user(
        &server.store,
        "alice@example.com",
        "alice",
        Some(ALICE_PHONE),
        Role::User,
    )
    .await;
    post_form(
        &server,
        "/api/v1/send_sms",
        Some(ENGINE_TOKEN),
        "email=alice%40example.com&message=hi",
    )
    .await;
    post_form(
        &server,
        "/api/v1/send_sms",
        Some(ENGINE_TOKEN),
        "email=zed%40example.com&message=hi",
    )
    .await;
    let (_, integration) = post_form(
        &server,
        "/api/v1/integrations/",
        Some(ENGINE_TOKEN),
        "type=formatted_webhook&name=hb",
    )
    .await;
    let link = integration["heartbeat"]["link"].as_str().unwrap();
    client().get(link).send().await.unwrap();

    let metrics = scrape_metrics(&server).await;
    for expected in [
        r#"emu_oncall_notifications_total{channel="sms",outcome="accepted"} 1"#,
        r#"emu_oncall_notifications_total{channel="sms",outcome="user_not_found"} 1"#,
        r#"emu_oncall_http_requests_total{route="send_sms",status="200"} 1"#,
        r#"emu_oncall_notifications_stored{status="pending"} 1"#,
    ] {
        assert!(
            metrics.contains(expected),
            "missing {expected} in\n{metrics}"
        );
    }
    let age_line = metrics
        .lines()
        .find(|line| line.starts_with("emu_oncall_heartbeat_age_seconds{"))
        .unwrap_or_else(|| panic!("no heartbeat age in\n{metrics}"));
    let age: f64 = age_line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!((0.0..60.0).contains(&age), "{age_line}");
}

#[tokio::test]
async fn a_push_for_an_unknown_device_goes_to_the_push_routes_default_recipients() {
    let hook = common::sink::Sink::start().await;
    let plugins = plugins_dir_with(&[("webhook.wasm", "webhook.wasm")]);
    let dir = plugins.path().display().to_string();
    let hook_url = format!("{}/hook", hook.url);
    let server = start_server(&[
        (
            "routes.push.recipients",
            "lead@example.com,nobody@example.com,bob@example.com",
        ),
        ("app.plugins_dir", &dir),
        ("plugin.webhook.url", &hook_url),
        ("plugin.webhook.allowed_hosts", "127.0.0.1"),
    ])
    .await;
    add_user(&server.store, "lead@example.com", "lead", None, Role::Admin).await;
    add_user(&server.store, "bob@example.com", "bob", None, Role::User).await;
    let message = json!({"data": {"type": "oncall.critical_message", "alertGroupId": "IABC", "title": "Disk full"}, "token": "unknown-device", "apns": {"payload": {"aps": {"alert": {"title": "Disk full", "body": "web-1"}}}}});
    let response = client()
        .post(format!("{}/mobile_app/v1/fcm_relay", server.base))
        .header("Authorization", ENGINE_TOKEN)
        .json(&message)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let stored = all_notifications(&server).await;
    let mut emails: Vec<&str> = stored
        .iter()
        .filter_map(|n| n.recipient_email.as_deref())
        .collect();
    emails.sort();
    assert_eq!(
        emails,
        vec!["bob@example.com", "lead@example.com"],
        "one push per known default recipient"
    );
    assert!(stored.iter().all(|n| n.message == "Disk full\nweb-1"));

    // Both reach the plugin, with the alert group and urgency of the push.
    let delivered = hook.wait_for(2, std::time::Duration::from_secs(10)).await;
    assert_eq!(delivered.len(), 2);
    for request in &delivered {
        let body = request.json();
        assert_eq!(body["channel"], "push");
        assert_eq!(body["alert_group"]["id"], "IABC");
        assert_eq!(body["alert_group"]["title"], "Disk full");
        assert_eq!(body["alert_group"]["labels"]["severity"], "critical");
    }
}
