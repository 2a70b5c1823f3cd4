//! The operators' API under /admin/api/v1.

use crate::common;

use common::*;
use serde_json::{json, Value};

async fn admin(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = client().request(
        method.parse().unwrap(),
        format!("{}/admin/api/v1{path}", server.base),
    );
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

#[tokio::test]
async fn the_admin_api_needs_its_own_token_never_the_engines() {
    let server = start_server(&[]).await;
    for token in [None, Some(ENGINE_TOKEN), Some("wrong")] {
        let (status, body) = admin(&server, "GET", "/users", token, None).await;
        assert_eq!(
            (status, body),
            (403, json!({"detail": "Invalid token."})),
            "{token:?}"
        );
    }
    let (status, _) = admin(&server, "GET", "/users", Some(ADMIN_TOKEN), None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_admin_api_is_off_without_an_admin_token() {
    let server = start_server(&[("app.admin_token", "")]).await;
    let (status, body) = admin(&server, "GET", "/users", Some(""), None).await;
    assert_eq!(status, 403);
    assert!(body["detail"].as_str().unwrap().contains("app.admin_token"));
}

#[tokio::test]
async fn users_can_be_created_read_changed_and_removed() {
    let server = start_server(&[]).await;
    let (status, created) = admin(
        &server,
        "POST",
        "/users",
        Some(ADMIN_TOKEN),
        Some(json!({"email": "Alice@Example.com", "username": "alice", "name": "Alice", "phone_number": "+49 151 1234 5678", "role": "admin", "attributes": {"telegram_chat_id": "42"}})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.len() <= 20);
    assert_eq!(
        created["phone_number"],
        json!("+4915112345678"),
        "stored in E.164"
    );
    assert_eq!(created["attributes"]["telegram_chat_id"], json!("42"));

    let (status, _) = admin(
        &server,
        "POST",
        "/users",
        Some(ADMIN_TOKEN),
        Some(json!({"email": "alice@example.com", "username": "other"})),
    )
    .await;
    assert_eq!(status, 409, "emails are unique case-insensitively");
    let (status, body) = admin(
        &server,
        "POST",
        "/users",
        Some(ADMIN_TOKEN),
        Some(json!({"email": "x@example.com", "username": "x", "phone_number": "0151 123"})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["detail"].as_str().unwrap().contains("country code"),
        "{body}"
    );
    let (status, body) = admin(
        &server,
        "POST",
        "/users",
        Some(ADMIN_TOKEN),
        Some(json!({"email": "x@example.com", "username": "x", "phnoe": "+4915112345678"})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["detail"].as_str().unwrap().contains("phnoe"), "{body}");

    let (status, fetched) = admin(
        &server,
        "GET",
        "/users/alice@example.com",
        Some(ADMIN_TOKEN),
        None,
    )
    .await;
    assert_eq!((status, fetched["id"].clone()), (200, json!(id)));

    let (status, changed) = admin(&server, "PATCH", &format!("/users/{id}"), Some(ADMIN_TOKEN), Some(json!({"phone_number": null, "attributes": {"telegram_chat_id": null, "fcm_token": "abc"}}))).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["phone_number"], Value::Null);
    assert_eq!(changed["attributes"], json!({"fcm_token": "abc"}));
    assert_eq!(
        changed["name"],
        json!("Alice"),
        "fields not sent stay as they were"
    );

    let (status, _) = admin(
        &server,
        "DELETE",
        &format!("/users/{id}"),
        Some(ADMIN_TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = admin(
        &server,
        "GET",
        &format!("/users/{id}"),
        Some(ADMIN_TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn accepted_notifications_are_listed_and_shown() {
    let server = start_server(&[]).await;
    add_user(
        &server.store,
        "alice@example.com",
        "alice",
        Some("+4915112345678"),
        emu_oncall::model::Role::User,
    )
    .await;
    let response = client()
        .post(format!("{}/api/v1/send_sms", server.base))
        .header("Authorization", ENGINE_TOKEN)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("email=alice%40example.com&message=Alert+group+%237")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let (status, list) = admin(
        &server,
        "GET",
        "/notifications?status=pending&user=alice@example.com",
        Some(ADMIN_TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let results = list["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["message"], json!("Alert group #7"));
    let id = results[0]["id"].as_str().unwrap();
    let (status, one) = admin(
        &server,
        "GET",
        &format!("/notifications/{id}"),
        Some(ADMIN_TOKEN),
        None,
    )
    .await;
    assert_eq!((status, one["channel"].clone()), (200, json!("sms")));
    let (status, _) = admin(
        &server,
        "GET",
        "/notifications?status=delivered",
        Some(ADMIN_TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = admin(
        &server,
        "GET",
        "/notifications?status=lost",
        Some(ADMIN_TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 400);
}
