//! Chat and push presets, each against a stand-in written from the provider's
//! documentation.

use std::sync::Arc;

use emu_oncall::model::Channel;
use serde_json::json;

use super::{expect, load, page, MESSAGE};
use crate::common::provider::{field, form, path, query, require, Reply, StandIn};

/// https://discord.com/developers/docs/resources/webhook#execute-webhook : POST
/// /api/v10/webhooks/{id}/{token}?wait=true, a JSON body with `content` (at most 2,000
/// characters), a User-Agent; 200 with the message (its `id`); 404 with code 10015 for
/// an unknown webhook; 429 to slow down.
#[tokio::test]
async fn discord() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(request.method == "POST", "POST")?;
        require(
            query(request).iter().any(|(k, v)| k == "wait" && v == "true"),
            "wait=true, so the answer carries the message",
        )?;
        require(request.header("content-type") == Some("application/json"), "a JSON body")?;
        require(
            request.header("user-agent").is_some_and(|agent| agent.starts_with("DiscordBot (")),
            "a User-Agent of the form DiscordBot ($url, $versionNumber)",
        )?;
        let body = request.json();
        let content = body["content"].as_str().ok_or("content: a string")?;
        require(content.chars().count() <= 2000, "content: at most 2000 characters")?;
        require(content.contains(MESSAGE), "content: the message")?;
        require(body["allowed_mentions"] == json!({"parse": []}), "no mentions parsed")?;
        match path(request) {
            "/api/v10/webhooks/223704706495545344/3d89bb7572e0fb30d8128367b3b1b44f" => Ok(Reply::json(
                200,
                json!({"id": "334385199974967042", "type": 0, "content": content,
                       "channel_id": "290926798999357250", "webhook_id": "223704706495545344",
                       "author": {"username": "OnCall", "id": "223704706495545344"},
                       "attachments": [], "embeds": [], "mentions": [], "mention_roles": [],
                       "pinned": false, "mention_everyone": false, "tts": false,
                       "timestamp": "2026-11-28T10:00:01.299000+00:00", "edited_timestamp": null}),
            )),
            "/api/v10/webhooks/1/busy" => Ok(Reply::json(
                429,
                json!({"message": "You are being rate limited.", "retry_after": 64.57, "global": false}),
            )
            .with_header("retry-after", "65")),
            _ => Ok(Reply::json(404, json!({"message": "Unknown Webhook", "code": 10015}))),
        }
    }))
    .await;
    let base = "https://discord.com";
    let sms = page(Channel::Sms, &[]);
    let hook = |value| [("secret.webhook", value)];
    let plugin = load(
        "discord",
        base,
        &stand_in,
        &hook("223704706495545344/3d89bb7572e0fb30d8128367b3b1b44f"),
    )
    .await
    .unwrap();
    expect(&plugin, &stand_in, &sms, "delivered 334385199974967042").await;
    let plugin = load("discord", base, &stand_in, &hook("1/busy"))
        .await
        .unwrap();
    expect(&plugin, &stand_in, &sms, "retryable").await;
    let plugin = load("discord", base, &stand_in, &hook("1/gone"))
        .await
        .unwrap();
    expect(&plugin, &stand_in, &sms, "permanent").await;
}

/// https://pushover.net/api : POST /1/messages.json, form fields token, user, message
/// (at most 1,024 characters), priority; priority 2 (emergency, for calls) needs
/// `retry` (at least 30) and `expire` (at most 10,800). 200 with `status` 1 and a
/// `request` id; a 4xx with `status` 0 and `errors` for bad input, never to repeat.
#[tokio::test]
async fn pushover() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(
            request.method == "POST" && path(request) == "/1/messages.json",
            "POST /1/messages.json",
        )?;
        let fields = form(request);
        require(
            field(&fields, "message") == Some(MESSAGE),
            "message: the text",
        )?;
        require(
            field(&fields, "token") == Some("azGDORePK8gMaC0QOYAMyEEuzJnyUi"),
            "token: the app's",
        )?;
        let priority = field(&fields, "priority").unwrap_or("0");
        if priority == "2" {
            let retry: u32 = field(&fields, "retry")
                .and_then(|v| v.parse().ok())
                .ok_or("retry with priority 2")?;
            let expire: u32 = field(&fields, "expire")
                .and_then(|v| v.parse().ok())
                .ok_or("expire with priority 2")?;
            require(
                retry >= 30 && expire <= 10800,
                "retry >= 30, expire <= 10800",
            )?;
        }
        if field(&fields, "user") != Some("uQiRzpo4DXghDmr9QzzfQu27cmVRsG") {
            return Ok(Reply::json(
                400,
                json!({"user": "invalid", "errors": ["user identifier is invalid"], "status": 0,
                       "request": "5042853c-402d-4a18-abcb-168734a801de"}),
            ));
        }
        let mut answer = json!({"status": 1, "request": "647d2300-702c-4b38-8b2f-d56326ae460b"});
        if priority == "2" {
            answer["receipt"] = json!("rLqVuqTRh62UzxtmqiaLzQmVcPgiCy");
        }
        Ok(Reply::json(200, answer))
    }))
    .await;
    let base = "https://api.pushover.net";
    let plugin = load(
        "pushover",
        base,
        &stand_in,
        &[("secret.app_token", "azGDORePK8gMaC0QOYAMyEEuzJnyUi")],
    )
    .await
    .unwrap();
    let alice = [("pushover_user", "uQiRzpo4DXghDmr9QzzfQu27cmVRsG")];
    expect(
        &plugin,
        &stand_in,
        &page(Channel::Push, &alice),
        "delivered 647d2300-702c-4b38-8b2f-d56326ae460b",
    )
    .await;
    expect(
        &plugin,
        &stand_in,
        &page(Channel::Call, &alice),
        "delivered 647d2300-702c-4b38-8b2f-d56326ae460b",
    )
    .await;
    let calls = stand_in.requests();
    assert_eq!(
        field(&form(&calls[1]), "priority"),
        Some("2"),
        "a call is an emergency push"
    );
    let stranger = [("pushover_user", "uNOBODYNOBODYNOBODYNOBODYNOBOD")];
    expect(
        &plugin,
        &stand_in,
        &page(Channel::Push, &stranger),
        "permanent",
    )
    .await;
}

/// https://zulip.com/api/send-message : POST /api/v1/messages, HTTP basic auth with
/// the bot's email and API key, form fields type, to (JSON-encoded) and content; 200
/// with `result` "success" and the message `id`; 401 with `result` "error" and code
/// INVALID_API_KEY (https://zulip.com/api/rest-error-handling).
#[tokio::test]
async fn zulip() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(
            request.method == "POST" && path(request) == "/api/v1/messages",
            "POST /api/v1/messages",
        )?;
        let fields = form(request);
        require(field(&fields, "type") == Some("direct"), "type: direct")?;
        let to: serde_json::Value = serde_json::from_str(field(&fields, "to").ok_or("to")?)
            .map_err(|_| "to: JSON-encoded".to_owned())?;
        require(
            to == json!(["alice@example.com"]),
            "to: a JSON list of emails",
        )?;
        require(
            field(&fields, "content").is_some_and(|c| c.contains(MESSAGE)),
            "content: the message",
        )?;
        match crate::common::provider::basic_auth(request) {
            Some((email, key)) if email == "oncall-bot@example.zulipchat.com" && key == "k1" => Ok(
                Reply::json(200, json!({"id": 42, "msg": "", "result": "success"})),
            ),
            _ => Ok(Reply::json(
                401,
                json!({"code": "INVALID_API_KEY", "msg": "Invalid API key", "result": "error"}),
            )),
        }
    }))
    .await;
    let fills = |key| {
        vec![
            ("vars.server", stand_in.url.clone()),
            (
                "secret.bot_email",
                "oncall-bot@example.zulipchat.com".to_owned(),
            ),
            ("secret.api_key", key),
        ]
    };
    let sms = page(Channel::Sms, &[]);
    for (key, expected) in [("k1", "delivered 42"), ("k2", "permanent")] {
        let fills = fills(key.to_owned());
        let fills: Vec<(&str, &str)> = fills.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let plugin = load("zulip", super::SELF_HOSTED, &stand_in, &fills)
            .await
            .unwrap();
        expect(&plugin, &stand_in, &sms, expected).await;
    }
}

/// https://gotify.net/docs/pushmsg and createMessage in
/// https://gotify.github.io/api-docs/ : POST /message, the app token in X-Gotify-Key,
/// JSON with `message` (required), `title`, `priority` (an integer); 200 with the
/// message and its `id`; 401 with the error model for a bad token.
#[tokio::test]
async fn gotify() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(request.method == "POST" && path(request) == "/message", "POST /message")?;
        let body = request.json();
        require(body["message"] == MESSAGE, "message: the text")?;
        require(body["title"].is_string(), "title: a string")?;
        let priority = body["priority"].as_i64().ok_or("priority: an integer")?;
        match request.header("x-gotify-key") {
            Some("AbCdEf123") => Ok(Reply::json(
                200,
                json!({"id": 25, "appid": 5, "message": MESSAGE, "title": body["title"],
                       "priority": priority, "date": "2026-11-28T19:36:10.5045044+01:00"}),
            )),
            _ => Ok(Reply::json(
                401,
                json!({"error": "Unauthorized", "errorCode": 401,
                       "errorDescription": "you need to provide a valid access token or user credentials to access this api"}),
            )),
        }
    }))
    .await;
    for (token, expected) in [("AbCdEf123", "delivered 25"), ("nope", "permanent")] {
        let url = stand_in.url.clone();
        let plugin = load(
            "gotify",
            super::SELF_HOSTED,
            &stand_in,
            &[("vars.server", &url), ("secret.app_token", token)],
        )
        .await
        .unwrap();
        expect(&plugin, &stand_in, &page(Channel::Call, &[]), expected).await;
    }
    let call = &stand_in.requests()[0];
    assert_eq!(
        call.json()["priority"],
        10,
        "a call gets the highest priority"
    );
}

/// https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#send-adaptive-cards-using-an-incoming-webhook :
/// POST to the workflow's URL (its `sig` in the query), JSON `type` "message" with
/// attachments of contentType application/vnd.microsoft.card.adaptive whose content
/// is an AdaptiveCard with a body; the flow answers 202 with no body
/// (https://learn.microsoft.com/en-us/azure/connectors/connectors-native-reqres), and
/// 401 without a valid signature.
#[tokio::test]
async fn teams() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(request.method == "POST", "POST")?;
        require(request.header("content-type") == Some("application/json"), "a JSON body")?;
        let body = request.json();
        require(body["type"] == "message", "type: message")?;
        let card = &body["attachments"][0];
        require(card["contentType"] == "application/vnd.microsoft.card.adaptive", "an Adaptive Card attachment")?;
        require(card["content"]["type"] == "AdaptiveCard", "content.type: AdaptiveCard")?;
        let texts: Vec<&str> = card["content"]["body"]
            .as_array()
            .ok_or("content.body: an array")?
            .iter()
            .filter_map(|block| block["text"].as_str())
            .collect();
        require(texts.contains(&MESSAGE), "a TextBlock with the message")?;
        match query(request).iter().find(|(k, _)| k == "sig").map(|(_, v)| v.as_str()) {
            Some("s1g") => Ok(Reply::text(202, "")),
            _ => Ok(Reply::json(
                401,
                json!({"error": {"code": "DirectApiAuthorizationRequired", "message": "The request must be authenticated only by Shared Access scheme."}}),
            )),
        }
    }))
    .await;
    let url = |sig: &str| {
        format!(
            "{}/workflows/0a1b/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={sig}",
            stand_in.url
        )
    };
    let sms = page(Channel::Sms, &[]);
    for (sig, expected) in [("s1g", "delivered (no id)"), ("forged", "permanent")] {
        let url = url(sig);
        let plugin = load(
            "teams",
            super::SELF_HOSTED,
            &stand_in,
            &[("secret.webhook_url", &url)],
        )
        .await
        .unwrap();
        expect(&plugin, &stand_in, &sms, expected).await;
    }
}

/// https://developers.google.com/workspace/chat/quickstart/webhooks : POST the
/// webhook URL (`key` and `token` in its query), JSON with `text`, Content-Type
/// application/json; 200 with the Message, its `name` the id; 403 PERMISSION_DENIED
/// for a bad token; 429 RESOURCE_EXHAUSTED to back off
/// (https://developers.google.com/workspace/chat/limits). `requestId` the same on
/// every retry (spaces.messages.create).
#[tokio::test]
async fn googlechat() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(
            request.method == "POST" && path(request) == "/v1/spaces/AAAAAAAAAAA/messages",
            "POST /v1/spaces/{space}/messages",
        )?;
        require(
            request.header("content-type").is_some_and(|t| t.starts_with("application/json")),
            "a JSON body",
        )?;
        let params = query(request);
        let get = |name| field(&params, name);
        require(get("key") == Some("AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI"), "key: the webhook's")?;
        require(get("requestId") == Some("0a4f6c1e-5b7d-4c8e-9f10-2a3b4c5d6e7f"), "requestId: the page's id")?;
        let text = request.json()["text"].as_str().map(str::to_owned).ok_or("text: a string")?;
        require(text.contains(MESSAGE), "text: the message")?;
        match get("token") {
            Some("tok=") => Ok(Reply::json(
                200,
                json!({"name": "spaces/AAAAAAAAAAA/messages/BBBBBBBBBBB.BBBBBBBBBBB",
                       "sender": {"name": "users/1234567890", "displayName": "OnCall", "type": "BOT"},
                       "createTime": "2026-11-28T10:00:00.000000Z", "text": text,
                       "thread": {"name": "spaces/AAAAAAAAAAA/threads/CCCCCCCCCCC"},
                       "space": {"name": "spaces/AAAAAAAAAAA", "type": "ROOM"}}),
            )),
            Some("busy") => Ok(Reply::json(
                429,
                json!({"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"}}),
            )),
            _ => Ok(Reply::json(
                403,
                json!({"error": {"code": 403, "message": "The API is called without a valid token.", "status": "PERMISSION_DENIED"}}),
            )),
        }
    }))
    .await;
    let sms = page(Channel::Sms, &[]);
    for (token, expected) in [
        (
            "tok%3D",
            "delivered spaces/AAAAAAAAAAA/messages/BBBBBBBBBBB.BBBBBBBBBBB",
        ),
        ("busy", "retryable"),
        ("stale", "permanent"),
    ] {
        let url = format!(
            "{}/v1/spaces/AAAAAAAAAAA/messages?key=AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI&token={token}",
            stand_in.url
        );
        let plugin = load(
            "googlechat",
            "https://chat.googleapis.com",
            &stand_in,
            &[("secret.webhook_url", &url)],
        )
        .await
        .unwrap();
        expect(&plugin, &stand_in, &sms, expected).await;
    }
}

/// https://spec.matrix.org/latest/client-server-api/#put_matrixclientv3roomsroomidsendeventtypetxnid :
/// PUT /_matrix/client/v3/rooms/{roomId}/send/m.room.message/{txnId}, the room id
/// percent-encoded, `Authorization: Bearer`, JSON with msgtype and body; 200 with
/// `event_id`; 401 M_UNKNOWN_TOKEN; 429 M_LIMIT_EXCEEDED with retry_after_ms. A repeated
/// txnId (a retry) gets the same event (#transaction-identifiers).
#[tokio::test]
async fn matrix() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(request.method == "PUT", "PUT")?;
        let rest = path(request)
            .strip_prefix("/_matrix/client/v3/rooms/%21636q39766251%3Aexample.com/send/m.room.message/")
            .ok_or("/_matrix/client/v3/rooms/{roomId, percent-encoded}/send/m.room.message/{txnId}")?;
        require(!rest.is_empty() && !rest.contains('/'), "a transaction id")?;
        let body = request.json();
        require(body["msgtype"] == "m.notice" || body["msgtype"] == "m.text", "msgtype")?;
        require(body["body"].as_str().is_some_and(|b| b.contains(MESSAGE)), "body: the message")?;
        match request.header("authorization") {
            Some("Bearer syt_bot_token") => Ok(Reply::json(200, json!({"event_id": "$YUwRidLecu:example.com"}))),
            Some("Bearer syt_busy") => Ok(Reply::json(
                429,
                json!({"errcode": "M_LIMIT_EXCEEDED", "error": "Too many requests", "retry_after_ms": 2000}),
            )),
            _ => Ok(Reply::json(401, json!({"errcode": "M_UNKNOWN_TOKEN", "error": "Invalid access token passed."}))),
        }
    }))
    .await;
    let sms = page(Channel::Sms, &[]);
    for (token, expected) in [
        ("syt_bot_token", "delivered $YUwRidLecu:example.com"),
        ("syt_busy", "retryable"),
        ("syt_stale", "permanent"),
    ] {
        let url = stand_in.url.clone();
        let plugin = load(
            "matrix",
            super::SELF_HOSTED,
            &stand_in,
            &[
                ("vars.homeserver", &url),
                ("vars.room_id", "!636q39766251:example.com"),
                ("secret.access_token", token),
            ],
        )
        .await
        .unwrap();
        expect(&plugin, &stand_in, &sms, expected).await;
    }
    let paths: Vec<String> = stand_in.requests().iter().map(|r| r.path.clone()).collect();
    assert!(
        paths.windows(2).all(|pair| pair[0] == pair[1]),
        "every attempt of a page reuses its transaction id: {paths:?}"
    );
}

/// https://developer.rocket.chat/docs/integrations (incoming webhooks): POST JSON with
/// `text` to /hooks/{integrationId}/{token}; 200 `{"success": true}`; a wrong token
/// gets `{"success": false, "error": "Invalid integration id or token provided."}`;
/// 429 from the rate limiter.
#[tokio::test]
async fn rocketchat() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(request.method == "POST", "POST")?;
        require(request.header("content-type") == Some("application/json"), "a JSON body")?;
        let text = request.json()["text"].as_str().map(str::to_owned).ok_or("text: a string")?;
        require(text.contains(MESSAGE), "text: the message")?;
        match path(request) {
            "/hooks/6UPZ6Sz3K7LMG8CCf/GtDjTnV9G8XxCEMbzLxBWbJfJWgT8hKwAhGMp7QSQjsZcShn" => {
                Ok(Reply::json(200, json!({"success": true})))
            }
            "/hooks/6UPZ6Sz3K7LMG8CCf/busy" => Ok(Reply::json(
                429,
                json!({"success": false, "error": "Error, too many requests. Please slow down. You must wait 26 seconds before trying this endpoint again. [error-too-many-requests]"}),
            )),
            _ => Ok(Reply::json(
                404,
                json!({"success": false, "error": "Invalid integration id or token provided."}),
            )),
        }
    }))
    .await;
    let sms = page(Channel::Sms, &[]);
    for (token, expected) in [
        (
            "GtDjTnV9G8XxCEMbzLxBWbJfJWgT8hKwAhGMp7QSQjsZcShn",
            "delivered (no id)",
        ),
        ("busy", "retryable"),
        ("revoked", "permanent"),
    ] {
        let url = format!("{}/hooks/6UPZ6Sz3K7LMG8CCf/{token}", stand_in.url);
        let plugin = load(
            "rocketchat",
            super::SELF_HOSTED,
            &stand_in,
            &[("secret.webhook_url", &url)],
        )
        .await
        .unwrap();
        expect(&plugin, &stand_in, &sms, expected).await;
    }
}

/// signal-cli-rest-api's Swagger (github.com/bbernhard/signal-cli-rest-api, POST
/// /v2/send): JSON with `number` (the sender, E.164), `recipients` (E.164 numbers) and
/// `message`; 201 with `timestamp`; 400 with `error`.
#[tokio::test]
async fn signal() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(
            request.method == "POST" && path(request) == "/v2/send",
            "POST /v2/send",
        )?;
        let body = request.json();
        require(
            body["recipients"] == json!([super::PHONE]),
            "recipients: E.164 numbers",
        )?;
        require(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains(MESSAGE)),
            "message: the text",
        )?;
        if body["number"] != "+4915199999999" {
            return Ok(Reply::json(
                400,
                json!({"error": "Couldn't process request - please provide a valid number"}),
            ));
        }
        Ok(Reply::json(201, json!({"timestamp": "1696351234567"})))
    }))
    .await;
    let sms = page(Channel::Sms, &[]);
    for (number, expected) in [
        ("+4915199999999", "delivered 1696351234567"),
        ("+4900", "permanent"),
    ] {
        let url = stand_in.url.clone();
        let plugin = load(
            "signal",
            super::SELF_HOSTED,
            &stand_in,
            &[("vars.server", &url), ("vars.number", number)],
        )
        .await
        .unwrap();
        expect(&plugin, &stand_in, &sms, expected).await;
    }
}

/// bark-server's docs/API_V2.md (POST /push, JSON with device_key, title, body, level)
/// and its answers (`code` 200 and "success"; 400 for an unknown key; 500 when APNs
/// refused).
#[tokio::test]
async fn bark() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(request.method == "POST" && path(request) == "/push", "POST /push")?;
        require(
            request.header("content-type").is_some_and(|t| t.starts_with("application/json")),
            "Content-Type application/json, or the server reads every value as text",
        )?;
        let body = request.json();
        require(body["body"] == MESSAGE, "body: the message")?;
        let level = body["level"].as_str().unwrap_or("active");
        require(
            ["critical", "active", "timeSensitive", "passive"].contains(&level),
            "level: critical, active, timeSensitive or passive",
        )?;
        match body["device_key"].as_str() {
            Some("ynJ5Ft4atkMkWeo2PAvFhF") => Ok(Reply::json(
                200,
                json!({"code": 200, "message": "success", "timestamp": 1700000000}),
            )),
            Some("apnsdown") => Ok(Reply::json(
                500,
                json!({"code": 500, "message": "push failed: APNs unreachable", "timestamp": 1700000000}),
            )),
            _ => Ok(Reply::json(
                400,
                json!({"code": 400, "message": "failed to get device token: failed to get [x] device token from database", "timestamp": 1700000000}),
            )),
        }
    }))
    .await;
    let plugin = load("bark", "https://api.day.app", &stand_in, &[])
        .await
        .unwrap();
    for (key, expected) in [
        ("ynJ5Ft4atkMkWeo2PAvFhF", "delivered (no id)"),
        ("apnsdown", "retryable"),
        ("unknown", "permanent"),
    ] {
        expect(
            &plugin,
            &stand_in,
            &page(Channel::Call, &[("bark_device_key", key)]),
            expected,
        )
        .await;
    }
    assert_eq!(
        stand_in.requests()[0].json()["level"],
        "critical",
        "a call is a critical alert"
    );
}
