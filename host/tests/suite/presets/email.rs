//! Email presets, each against a stand-in written from the provider's documentation.

use std::sync::Arc;

use emu_oncall::model::Channel;
use serde_json::json;

use super::{expect, load, page, MESSAGE};
use crate::common::provider::{path, require, Reply, StandIn};

/// https://postmarkapp.com/developer/api/email-api : POST /email with the
/// X-Postmark-Server-Token header, Accept and Content-Type application/json, a JSON
/// body with From, To, Subject and TextBody; 200 with MessageID and ErrorCode 0; 401
/// with ErrorCode 10 for a bad token; 422 with an ErrorCode for a bad request.
#[tokio::test]
async fn postmark() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(request.method == "POST" && path(request) == "/email", "POST /email")?;
        require(request.header("accept") == Some("application/json"), "Accept: application/json")?;
        require(request.header("content-type") == Some("application/json"), "Content-Type: application/json")?;
        let body = request.json();
        require(body["From"] == "oncall@example.com", "From: the sender")?;
        require(body["To"] == "alice@example.com", "To: the recipient")?;
        require(body["Subject"].as_str().is_some_and(|s| s.contains("Disk full")), "Subject")?;
        require(body["TextBody"].as_str().is_some_and(|s| s.starts_with(MESSAGE)), "TextBody: the message")?;
        match request.header("x-postmark-server-token") {
            Some("server-token-1") => Ok(Reply::json(
                200,
                json!({"To": "alice@example.com", "SubmittedAt": "2026-11-28T07:25:01.4178645-05:00",
                       "MessageID": "0a129aee-e1cd-480d-b08d-4f48548ff48d", "ErrorCode": 0, "Message": "OK"}),
            )),
            _ => Ok(Reply::json(
                401,
                json!({"ErrorCode": 10, "Message": "No Account or Server API tokens were supplied in the HTTP headers."}),
            )),
        }
    }))
    .await;
    let base = "https://api.postmarkapp.com";
    let email = page(Channel::Push, &[]);
    let fills = |token| {
        [
            ("secret.server_token", token),
            ("vars.from", "oncall@example.com"),
        ]
    };
    let plugin = load("postmark", base, &stand_in, &fills("server-token-1"))
        .await
        .unwrap();
    expect(
        &plugin,
        &stand_in,
        &email,
        "delivered 0a129aee-e1cd-480d-b08d-4f48548ff48d",
    )
    .await;
    let plugin = load("postmark", base, &stand_in, &fills("wrong"))
        .await
        .unwrap();
    expect(&plugin, &stand_in, &email, "permanent").await;
}

/// https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send : POST
/// /v3/mail/send with `Authorization: Bearer <key>`, JSON with personalizations[].to,
/// from, subject and content (text/plain first); 202 with an empty body and the
/// X-Message-Id header; 401 `authorization required`; 500 worth a retry. A `to.name`
/// may not hold a comma or a semicolon: SendGrid answers 202 and drops the mail
/// (https://github.com/sendgrid/sendgrid-php/issues/351, "Limitations" of Mail Send).
#[tokio::test]
async fn sendgrid() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(
            request.method == "POST" && path(request) == "/v3/mail/send",
            "POST /v3/mail/send",
        )?;
        let body = request.json();
        require(
            body["personalizations"][0]["to"][0]["email"] == "alice@example.com",
            "personalizations[0].to[0].email",
        )?;
        require(
            body["personalizations"][0]["to"][0]["name"]
                .as_str()
                .is_some_and(|name| !name.contains([',', ';'])),
            "personalizations[0].to[0].name: no comma or semicolon (the mail would be dropped)",
        )?;
        require(body["from"]["email"] == "oncall@example.com", "from.email")?;
        require(
            body["subject"].as_str().is_some_and(|s| !s.is_empty()),
            "subject: at least one character",
        )?;
        require(
            body["content"][0]["type"] == "text/plain",
            "content[0].type: text/plain first",
        )?;
        require(
            body["content"][0]["value"]
                .as_str()
                .is_some_and(|s| s.starts_with(MESSAGE)),
            "content[0].value",
        )?;
        match request.header("authorization") {
            Some("Bearer SG.key1") => {
                Ok(Reply::text(202, "").with_header("x-message-id", "Ua9z9lSTSaqYBWJe_Xfc-Q"))
            }
            Some("Bearer SG.down") => Ok(Reply::json(
                500,
                json!({"errors": [{"message": "internal server error"}]}),
            )),
            _ => Ok(Reply::json(
                401,
                json!({"errors": [{"message": "authorization required", "field": "null"}]}),
            )),
        }
    }))
    .await;
    let base = "https://api.sendgrid.com";
    let mut email = page(Channel::Push, &[]);
    email.recipient.name = "Doe, Alice; on call".to_owned();
    let fills = |key| [("secret.api_key", key), ("vars.from", "oncall@example.com")];
    let plugin = load("sendgrid", base, &stand_in, &fills("SG.key1"))
        .await
        .unwrap();
    expect(
        &plugin,
        &stand_in,
        &email,
        "delivered Ua9z9lSTSaqYBWJe_Xfc-Q",
    )
    .await;
    let plugin = load("sendgrid", base, &stand_in, &fills("SG.down"))
        .await
        .unwrap();
    expect(&plugin, &stand_in, &email, "retryable").await;
    let plugin = load("sendgrid", base, &stand_in, &fills("SG.bad"))
        .await
        .unwrap();
    expect(&plugin, &stand_in, &email, "permanent").await;
}

/// https://documentation.mailgun.com/docs/mailgun/api-reference/send/mailgun/messages/post-v3--domain-name--messages :
/// POST /v3/{domain}/messages, HTTP basic auth `api` and the key, form fields from,
/// to, subject and text; 200 with `id` and "Queued. Thank you."; 401 `Forbidden`;
/// 429 with a `message` to slow down.
#[tokio::test]
async fn mailgun() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(request.method == "POST" && path(request) == "/v3/mg.example.com/messages", "POST /v3/{domain}/messages")?;
        let fields = crate::common::provider::form(request);
        let get = |name| crate::common::provider::field(&fields, name);
        require(get("from") == Some("OnCall <oncall@mg.example.com>"), "from")?;
        require(get("to") == Some("alice@example.com"), "to")?;
        require(get("subject").is_some_and(|s| s.contains("Disk full")), "subject")?;
        require(get("text").is_some_and(|t| t.starts_with(MESSAGE)), "text: the message")?;
        match crate::common::provider::basic_auth(request) {
            Some((user, key)) if user == "api" && key == "key-1" => Ok(Reply::json(
                200,
                json!({"id": "<20261128174239.25659.5817@mg.example.com>", "message": "Queued. Thank you."}),
            )),
            Some((_, key)) if key == "key-busy" => Ok(Reply::json(
                429,
                json!({"message": "Domain mg.example.com is not allowed to send: account-requests-per-sec limit exceeded, try again after 120 seconds"}),
            )),
            _ => Ok(Reply::text(401, "Forbidden")),
        }
    }))
    .await;
    let base = "https://api.mailgun.net";
    let email = page(Channel::Push, &[]);
    let fills = |key| {
        [
            ("vars.domain", "mg.example.com"),
            ("vars.from", "oncall@mg.example.com"),
            ("secret.api_key", key),
        ]
    };
    let plugin = load("mailgun", base, &stand_in, &fills("key-1"))
        .await
        .unwrap();
    expect(
        &plugin,
        &stand_in,
        &email,
        "delivered <20261128174239.25659.5817@mg.example.com>",
    )
    .await;
    let plugin = load("mailgun", base, &stand_in, &fills("key-busy"))
        .await
        .unwrap();
    expect(&plugin, &stand_in, &email, "retryable").await;
    let plugin = load("mailgun", base, &stand_in, &fills("key-2"))
        .await
        .unwrap();
    expect(&plugin, &stand_in, &email, "permanent").await;
}
