//! SMS presets, each against a stand-in written from the provider's documentation.

use std::sync::Arc;

use emu_oncall::model::{AttemptOutcome, Channel};
use serde_json::json;

use super::{expect, load, page, MESSAGE};
use crate::common::provider::{basic_auth, field, form, path, require, Reply, StandIn};

/// https://developer.vonage.com/en/api/sms : POST /sms/json, form fields api_key,
/// api_secret, from, to (without +), text; 200 with a status per message, "0" sent,
/// "1" throttled, "4" bad credentials.
#[tokio::test]
async fn vonage_sms() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(request.method == "POST" && path(request) == "/sms/json", "POST /sms/json")?;
        require(
            request.header("content-type") == Some("application/x-www-form-urlencoded"),
            "a form body",
        )?;
        let fields = form(request);
        require(field(&fields, "to") == Some("4915112345678"), "to: the number without +")?;
        require(field(&fields, "from") == Some("OnCall"), "from: the sender")?;
        require(field(&fields, "text") == Some(MESSAGE), "text: the message")?;
        let status = match (field(&fields, "api_key"), field(&fields, "api_secret")) {
            (Some("key1"), Some("secret1")) => "0",
            (Some("busy"), _) => "1",
            _ => "4",
        };
        let error = match status {
            "0" => None,
            "1" => Some("Throttled"),
            _ => Some("Bad Credentials"),
        };
        Ok(Reply::json(
            200,
            json!({"message-count": "1", "messages": [{
                "to": "4915112345678", "message-id": "0A0000000123ABCD1", "status": status,
                "error-text": error, "remaining-balance": "3.14159265", "message-price": "0.03330000",
                "network": "26202"}]}),
        ))
    }))
    .await;
    let fills = |key| {
        [
            ("secret.api_key", key),
            ("secret.api_secret", "secret1"),
            ("vars.from", "OnCall"),
        ]
    };
    let base = "https://rest.nexmo.com";
    let sms = page(Channel::Sms, &[]);
    let plugin = load("vonage-sms", base, &stand_in, &fills("key1"))
        .await
        .unwrap();
    expect(&plugin, &stand_in, &sms, "delivered 0A0000000123ABCD1").await;
    let plugin = load("vonage-sms", base, &stand_in, &fills("busy"))
        .await
        .unwrap();
    expect(&plugin, &stand_in, &sms, "retryable").await;
    let plugin = load("vonage-sms", base, &stand_in, &fills("wrong"))
        .await
        .unwrap();
    expect(&plugin, &stand_in, &sms, "permanent").await;
}

/// https://46elks.com/docs/send-sms : POST /a1/sms, basic auth with the API
/// credentials, form fields from, to (+E.164), message; 200 with the SMS's `id`; 401
/// for bad credentials.
#[tokio::test]
async fn elks46_sms() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(request.method == "POST" && path(request) == "/a1/sms", "POST /a1/sms")?;
        let fields = form(request);
        require(field(&fields, "to") == Some("+4915112345678"), "to: +E.164")?;
        require(field(&fields, "from") == Some("OnCall"), "from: the sender")?;
        require(field(&fields, "message") == Some(MESSAGE), "message: the text")?;
        match basic_auth(request) {
            Some((user, password)) if user == "u1" && password == "p1" => Ok(Reply::json(
                200,
                json!({"status": "created", "direction": "outgoing", "from": "OnCall",
                       "created": "2026-11-28T13:37:42.314100", "parts": 1, "to": "+4915112345678",
                       "cost": 5000, "message": MESSAGE, "id": "s70df59406a1b4643b96f3f91e0bfb7b0"}),
            )),
            Some(_) => Ok(Reply::text(401, "Unauthorized")),
            None => Err("basic auth".to_owned()),
        }
    }))
    .await;
    let base = "https://api.46elks.com";
    let sms = page(Channel::Sms, &[]);
    let fills = |password| {
        [
            ("secret.username", "u1"),
            ("secret.password", password),
            ("vars.from", "OnCall"),
        ]
    };
    let plugin = load("46elks-sms", base, &stand_in, &fills("p1"))
        .await
        .unwrap();
    expect(
        &plugin,
        &stand_in,
        &sms,
        "delivered s70df59406a1b4643b96f3f91e0bfb7b0",
    )
    .await;
    let plugin = load("46elks-sms", base, &stand_in, &fills("nope"))
        .await
        .unwrap();
    expect(&plugin, &stand_in, &sms, "permanent").await;
}

/// https://www.textmagic.com/docs/api/send-sms/ : POST /api/v2/messages with the
/// X-TM-Username and X-TM-Key headers, form fields phones (E.164 without +) and
/// text; 201 with the message's `id`; 401 with `code` and `message`; 429 to slow down.
#[tokio::test]
async fn textmagic_sms() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(request.method == "POST" && path(request) == "/api/v2/messages", "POST /api/v2/messages")?;
        let fields = form(request);
        require(field(&fields, "phones") == Some("4915112345678"), "phones: E.164 without +")?;
        require(field(&fields, "text") == Some(MESSAGE), "text: the message")?;
        require(request.header("x-tm-username") == Some("alice"), "X-TM-Username")?;
        match request.header("x-tm-key") {
            Some("k1") => Ok(Reply::json(
                201,
                json!({"id": 49576009, "href": "/api/v2/messages/49576009", "type": "message",
                       "sessionId": 34436600, "bulkId": null, "messageId": 49576009, "scheduleId": null}),
            )),
            Some("limit") => Ok(Reply::json(
                429,
                json!({"code": 429, "message": "Request limit reached. Please try again later.", "errors": null}),
            )),
            _ => Ok(Reply::json(
                401,
                json!({"code": 401, "message": "Unauthorized", "errors": null}),
            )),
        }
    }))
    .await;
    let base = "https://rest.textmagic.com";
    let sms = page(Channel::Sms, &[]);
    let fills = |key| [("secret.username", "alice"), ("secret.api_key", key)];
    let plugin = load("textmagic-sms", base, &stand_in, &fills("k1"))
        .await
        .unwrap();
    expect(&plugin, &stand_in, &sms, "delivered 49576009").await;
    let plugin = load("textmagic-sms", base, &stand_in, &fills("limit"))
        .await
        .unwrap();
    expect(&plugin, &stand_in, &sms, "retryable").await;
    let plugin = load("textmagic-sms", base, &stand_in, &fills("bad"))
        .await
        .unwrap();
    expect(&plugin, &stand_in, &sms, "permanent").await;
}

/// https://sms.ru/api/send : POST /sms/send, form fields api_id, to (digits), msg,
/// json=1; always 200, with a status per recipient keyed by the number ("OK" and an
/// `sms_id`, or "ERROR" with a code and text).
#[tokio::test]
async fn smsru_sms() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(request.method == "POST" && path(request) == "/sms/send", "POST /sms/send")?;
        let fields = form(request);
        require(field(&fields, "to") == Some("4915112345678"), "to: digits")?;
        require(field(&fields, "msg") == Some(MESSAGE), "msg: the text")?;
        require(field(&fields, "json") == Some("1"), "json=1 for a JSON answer")?;
        if field(&fields, "api_id") != Some("F2D79B58-A5A2-2F9E-91C8-73D12CE2E102") {
            return Ok(Reply::json(
                200,
                json!({"status": "ERROR", "status_code": 200, "status_text": "Неправильный api_id"}),
            ));
        }
        Ok(Reply::json(
            200,
            json!({"status": "OK", "status_code": 100, "sms": {"4915112345678": {
                "status": "OK", "status_code": 100, "sms_id": "000000-10000000"}}, "balance": 4122.56}),
        ))
    }))
    .await;
    let base = "https://sms.ru";
    let sms = page(Channel::Sms, &[]);
    let plugin = load(
        "smsru-sms",
        base,
        &stand_in,
        &[("secret.api_id", "F2D79B58-A5A2-2F9E-91C8-73D12CE2E102")],
    )
    .await
    .unwrap();
    expect(&plugin, &stand_in, &sms, "delivered 000000-10000000").await;
    let plugin = load("smsru-sms", base, &stand_in, &[("secret.api_id", "0000")])
        .await
        .unwrap();
    expect(&plugin, &stand_in, &sms, "permanent").await;
}

/// Kannel User's Guide, "Using the HTTP interface to send SMS messages": GET
/// /cgi-bin/sendsms, everything in the query (a + as %2B, since a bare + is the
/// receivers' separator); 202 "0: Accepted for delivery"; 503 "Temporal failure, try
/// again later."; 403 "Authorization failed for sendsms"; "Sent." from an smsbox with
/// `immediate-sendsms-reply`.
#[tokio::test]
async fn kannel_sms() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(
            request.method == "GET" && path(request) == "/cgi-bin/sendsms",
            "GET /cgi-bin/sendsms",
        )?;
        require(
            request.path.contains("to=%2B4915112345678"),
            "to: a + sent as %2B",
        )?;
        let params = crate::common::provider::query(request);
        let get = |name| field(&params, name);
        require(get("text") == Some(MESSAGE), "text: the message")?;
        require(get("from") == Some("OnCall"), "from: the sender")?;
        require(
            get("coding") == Some("2") && get("charset") == Some("UTF-8"),
            "coding 2 with charset UTF-8",
        )?;
        match (get("username"), get("password")) {
            (Some("tester"), Some("foobar")) => Ok(Reply::text(202, "0: Accepted for delivery")),
            // An smsbox with `immediate-sendsms-reply = true`.
            (Some("tester"), Some("immediate")) => Ok(Reply::text(202, "Sent.")),
            (Some("tester"), Some("later")) => {
                Ok(Reply::text(503, "Temporal failure, try again later."))
            }
            _ => Ok(Reply::text(403, "Authorization failed for sendsms")),
        }
    }))
    .await;
    let sms = page(Channel::Sms, &[]);
    for (password, expected) in [
        ("foobar", "delivered (no id)"),
        ("immediate", "delivered (no id)"),
        ("later", "retryable"),
        ("wrong", "permanent"),
    ] {
        let url = stand_in.url.clone();
        let fills = [
            ("secret.username", "tester"),
            ("secret.password", password),
            ("vars.server", url.as_str()),
            ("vars.from", "OnCall"),
        ];
        let plugin = load("kannel-sms", super::SELF_HOSTED, &stand_in, &fills)
            .await
            .unwrap();
        expect(&plugin, &stand_in, &sms, expected).await;
    }
}

/// https://docs.httpsms.com/ : POST /v1/messages/send with x-api-key, JSON with from,
/// to (E.164) and content (1 to 2,048 characters); 200 with `data.id`; 401 for a bad
/// key; 422 for an unknown sending phone.
#[tokio::test]
async fn httpsms_sms() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(request.method == "POST" && path(request) == "/v1/messages/send", "POST /v1/messages/send")?;
        let body = request.json();
        require(body["to"] == super::PHONE, "to: E.164")?;
        require(body["content"] == MESSAGE, "content: the message")?;
        if request.header("x-api-key") != Some("pk_1") {
            return Ok(Reply::json(
                401,
                json!({"status": "error", "message": "You are not authorized to carry out this request.",
                       "data": "Make sure your API key is set in the [X-API-Key] header in the request"}),
            ));
        }
        if body["from"] != "+18005550199" {
            return Ok(Reply::json(
                422,
                json!({"status": "error", "message": "validation errors while sending message",
                       "data": {"from": ["no phone found with with 'from' number"]}}),
            ));
        }
        Ok(Reply::json(
            200,
            json!({"status": "success", "message": "message added to queue",
                   "data": {"id": "32343a19-da5e-4b1b-a767-3298a73703cb", "owner": "+18005550199",
                            "contact": super::PHONE, "content": MESSAGE, "status": "pending"}}),
        ))
    }))
    .await;
    let base = "https://api.httpsms.com";
    let sms = page(Channel::Sms, &[]);
    for (key, from, expected) in [
        (
            "pk_1",
            "+18005550199",
            "delivered 32343a19-da5e-4b1b-a767-3298a73703cb",
        ),
        ("pk_1", "+18005550100", "permanent"),
        ("pk_2", "+18005550199", "permanent"),
    ] {
        let plugin = load(
            "httpsms-sms",
            base,
            &stand_in,
            &[("secret.api_key", key), ("vars.from", from)],
        )
        .await
        .unwrap();
        expect(&plugin, &stand_in, &sms, expected).await;
    }
}

/// https://developers.cm.com/messaging/docs/integration and
/// https://developers.cm.com/messaging/docs/responses-errors-json : POST /v1.0/message
/// with X-CM-PRODUCTTOKEN, JSON messages.msg[] with from, to[].number (00 and digits),
/// body.type and body.content; 200 with errorCode 0 and the messages with their
/// `reference`; 400 with errorCode 101 for an unknown token. The reference is 1 to 32
/// letters and digits (CM's .NET SDK, `Reference`).
#[tokio::test]
async fn cm_sms() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(request.method == "POST" && path(request) == "/v1.0/message", "POST /v1.0/message")?;
        let body = request.json();
        let msg = &body["messages"]["msg"][0];
        require(msg["from"] == "OnCall", "from: the sender")?;
        require(msg["to"] == json!([{"number": "004915112345678"}]), "to: [{number}] in international form")?;
        require(msg["body"]["type"] == "auto" && msg["body"]["content"] == MESSAGE, "body: type and content")?;
        let reference = msg["reference"].clone();
        let text = reference.as_str().unwrap_or_default();
        require(
            (1..=32).contains(&text.len()) && text.chars().all(|c| c.is_ascii_alphanumeric()),
            "reference: 1 to 32 letters and digits",
        )?;
        if request.header("x-cm-producttoken") != Some("00000000-0000-0000-0000-000000000000") {
            return Ok(Reply::json(
                400,
                json!({"details": "No account found for the given authentication", "errorCode": 101, "messages": []}),
            ));
        }
        Ok(Reply::json(
            200,
            json!({"details": "Created 1 message(s)", "errorCode": 0, "messages": [{
                "to": "004915112345678", "status": "Accepted", "reference": reference, "parts": 1,
                "messageDetails": null, "messageErrorCode": 0}]}),
        ))
    }))
    .await;
    let base = "https://gw.messaging.cm.com";
    let sms = page(Channel::Sms, &[]);
    for (token, expected) in [
        (
            "00000000-0000-0000-0000-000000000000",
            "delivered 0a4f6c1e5b7d4c8e9f102a3b4c5d6e7f",
        ),
        ("11111111-1111-1111-1111-111111111111", "permanent"),
    ] {
        let plugin = load(
            "cm-sms",
            base,
            &stand_in,
            &[("secret.product_token", token), ("vars.from", "OnCall")],
        )
        .await
        .unwrap();
        expect(&plugin, &stand_in, &sms, expected).await;
    }
}

/// https://developers.sinch.com/docs/sms/api-reference/ (Batches, Send): POST
/// /xms/v1/{service_plan_id}/batches, `Authorization: Bearer`, JSON with to[]
/// (E.164), from and body; 201 with the batch and its `id`; 401 for a bad token; 400
/// with `code` and `text` for a malformed number.
#[tokio::test]
async fn sinch_sms() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(
            request.method == "POST" && path(request) == "/xms/v1/jd63jf88477ll123ab4567cd89012ef3/batches",
            "POST /xms/v1/{service_plan_id}/batches",
        )?;
        let body = request.json();
        require(body["to"] == json!([super::PHONE]), "to: [E.164]")?;
        require(body["from"] == "+12345678900", "from: the sender")?;
        require(body["body"] == MESSAGE, "body: the message")?;
        match request.header("authorization") {
            Some("Bearer tok1") => Ok(Reply::json(
                201,
                json!({"id": "01FC66621XXXXX119Z8PMV1QPQ", "to": [super::PHONE], "from": "+12345678900",
                       "canceled": false, "body": MESSAGE, "type": "mt_text",
                       "created_at": "2026-11-28T10:00:00.000Z", "modified_at": "2026-11-28T10:00:00.000Z",
                       "delivery_report": "none", "expire_at": "2026-12-01T10:00:00.000Z", "flash_message": false}),
            )),
            _ => Ok(Reply::text(401, "")),
        }
    }))
    .await;
    let base = "https://us.sms.api.sinch.com";
    let sms = page(Channel::Sms, &[]);
    for (token, expected) in [
        ("tok1", "delivered 01FC66621XXXXX119Z8PMV1QPQ"),
        ("tok2", "permanent"),
    ] {
        let fills = [
            ("vars.service_plan_id", "jd63jf88477ll123ab4567cd89012ef3"),
            ("vars.from", "+12345678900"),
            ("secret.api_token", token),
        ];
        let plugin = load("sinch-sms", base, &stand_in, &fills).await.unwrap();
        expect(&plugin, &stand_in, &sms, expected).await;
    }
}

/// https://www.infobip.com/docs/api/channels/sms/sms-messaging/outbound-sms/send-sms-messages :
/// POST /sms/3/messages, `Authorization: App <key>`, JSON messages[] with sender,
/// destinations[].to (digits) and content.text; 200 with each message's status (group
/// PENDING when accepted, REJECTED otherwise); 401 with errorCode and description, the
/// v3 error shape of Infobip's generated API clients (github.com/infobip/infobip-api-go-client,
/// `ApiError`).
#[tokio::test]
async fn infobip_sms() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(request.method == "POST" && path(request) == "/sms/3/messages", "POST /sms/3/messages")?;
        let message = &request.json()["messages"][0];
        require(message["sender"] == "InfoSMS", "sender")?;
        require(message["content"]["text"] == MESSAGE, "content.text: the message")?;
        let to = message["destinations"][0]["to"].as_str().unwrap_or_default().to_owned();
        require(to.chars().all(|c| c.is_ascii_digit()), "destinations[].to: international digits")?;
        if request.header("authorization") != Some("App 003026bbc133714df1834b8638bb496e-8f4b3d9a") {
            return Ok(Reply::json(
                401,
                json!({"errorCode": "E401", "description": "Invalid login details",
                       "action": "Check the API key.", "violations": [], "resources": []}),
            ));
        }
        let (group_id, group, description) = if to == "4915112345678" {
            (1, "PENDING", "Message sent to next instance")
        } else {
            (5, "REJECTED", "Destination not registered")
        };
        Ok(Reply::json(
            200,
            json!({"bulkId": "2034072219640523072", "messages": [{
                "messageId": "2250be2d4219-3af1-78856-aabe-1362af1edfd2",
                "status": {"groupId": group_id, "groupName": group, "id": 26, "name": "PENDING_ACCEPTED", "description": description},
                "destination": to}]}),
        ))
    }))
    .await;
    let url = stand_in.url.clone();
    let fills = |key| {
        [
            ("vars.base_url", url.as_str()),
            ("vars.sender", "InfoSMS"),
            ("secret.api_key", key),
        ]
    };
    let plugin = load(
        "infobip-sms",
        super::SELF_HOSTED,
        &stand_in,
        &fills("003026bbc133714df1834b8638bb496e-8f4b3d9a"),
    )
    .await
    .unwrap();
    expect(
        &plugin,
        &stand_in,
        &page(Channel::Sms, &[]),
        "delivered 2250be2d4219-3af1-78856-aabe-1362af1edfd2",
    )
    .await;
    let mut elsewhere = page(Channel::Sms, &[]);
    elsewhere.recipient.phone_number = Some("+4915199999999".to_owned());
    expect(&plugin, &stand_in, &elsewhere, "permanent").await;
    let plugin = load(
        "infobip-sms",
        super::SELF_HOSTED,
        &stand_in,
        &fills("wrong"),
    )
    .await
    .unwrap();
    match plugin.notify(&page(Channel::Sms, &[])).await {
        AttemptOutcome::Permanent(failure) => assert!(
            failure.reason.contains("Invalid login details"),
            "the reason is Infobip's description: {failure:?}"
        ),
        other => panic!("a wrong key is permanent, not {other:?}"),
    }
    let plugin = load(
        "infobip-sms",
        super::SELF_HOSTED,
        &stand_in,
        &fills("expired"),
    )
    .await
    .unwrap();
    expect(&plugin, &stand_in, &page(Channel::Sms, &[]), "permanent").await;
}

/// https://docs.bird.com/api/channels-api/api-reference/messaging and
/// https://docs.bird.com/api/channels-api/supported-channels/programmable-sms/sending-sms-messages :
/// POST /workspaces/{workspaceId}/channels/{channelId}/messages with `Authorization:
/// AccessKey <key>`, JSON receiver.contacts[].identifierValue (+E.164) and body.type
/// "text" with text.text; 202 with the message and its `id`; 5xx safe to retry
/// (https://docs.bird.com/api/api-access/common-api-usage).
#[tokio::test]
async fn bird_sms() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(
            request.method == "POST"
                && path(request) == "/workspaces/2f4ed3a1-ws/channels/8c1b5e6d-ch/messages",
            "POST /workspaces/{workspaceId}/channels/{channelId}/messages",
        )?;
        require(
            request.header("content-type") == Some("application/json"),
            "a JSON body",
        )?;
        let body = request.json();
        require(
            body["receiver"]["contacts"][0]["identifierValue"] == super::PHONE,
            "receiver.contacts[0].identifierValue: +E.164",
        )?;
        require(
            body["body"]["type"] == "text" && body["body"]["text"]["text"] == MESSAGE,
            "body: type text with text.text",
        )?;
        match request.header("authorization") {
            Some("AccessKey ak-live-1") => Ok(Reply::json(
                202,
                json!({"id": "0a8d3b52-5c1e-4c2f-9b77-2d1e0f6a7c10", "channelId": "8c1b5e6d-ch",
                       "status": "accepted", "body": body["body"]}),
            )),
            Some("AccessKey ak-busy") => Ok(Reply::json(
                503,
                json!({"code": "ServiceUnavailable", "message": "try again later"}),
            )),
            _ => Ok(Reply::json(
                401,
                json!({"code": "Unauthorized", "message": "invalid access key"}),
            )),
        }
    }))
    .await;
    let base = "https://api.bird.com";
    let sms = page(Channel::Sms, &[]);
    for (key, expected) in [
        (
            "ak-live-1",
            "delivered 0a8d3b52-5c1e-4c2f-9b77-2d1e0f6a7c10",
        ),
        ("ak-busy", "retryable"),
        ("ak-revoked", "permanent"),
    ] {
        let fills = [
            ("vars.workspace_id", "2f4ed3a1-ws"),
            ("vars.channel_id", "8c1b5e6d-ch"),
            ("secret.access_key", key),
        ];
        let plugin = load("bird-sms", base, &stand_in, &fills).await.unwrap();
        expect(&plugin, &stand_in, &sms, expected).await;
    }
}

/// https://developers.telnyx.com/api/messaging/send-message : POST /v2/messages,
/// `Authorization: Bearer`, JSON from, to (+E.164), text; 200 with `data.id`; 401 with
/// an `errors` array; 429 (code 10011) to slow down.
#[tokio::test]
async fn telnyx_sms() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(request.method == "POST" && path(request) == "/v2/messages", "POST /v2/messages")?;
        let body = request.json();
        require(body["to"] == super::PHONE, "to: +E.164")?;
        require(body["from"] == "+18445550001", "from: a Telnyx number")?;
        require(body["text"] == MESSAGE, "text: the message")?;
        match request.header("authorization") {
            Some("Bearer KEY0123") => Ok(Reply::json(
                200,
                json!({"data": {"record_type": "message", "direction": "outbound",
                                "id": "40385f64-5717-4562-b3fc-2c963f66afa6", "type": "SMS",
                                "from": {"phone_number": "+18445550001"}, "to": [{"phone_number": super::PHONE, "status": "queued"}],
                                "text": MESSAGE}}),
            )),
            Some("Bearer KEYBUSY") => Ok(Reply::json(
                429,
                json!({"errors": [{"code": "10011", "title": "Too many requests",
                                   "detail": "You have exceeded the maximum number of allowed requests."}]}),
            )),
            _ => Ok(Reply::json(
                401,
                json!({"errors": [{"code": "10009", "title": "Authentication failed",
                                   "detail": "The API key provided is invalid."}]}),
            )),
        }
    }))
    .await;
    let base = "https://api.telnyx.com";
    let sms = page(Channel::Sms, &[]);
    for (key, expected) in [
        ("KEY0123", "delivered 40385f64-5717-4562-b3fc-2c963f66afa6"),
        ("KEYBUSY", "retryable"),
        ("KEYOLD", "permanent"),
    ] {
        let plugin = load(
            "telnyx-sms",
            base,
            &stand_in,
            &[("secret.api_key", key), ("vars.from", "+18445550001")],
        )
        .await
        .unwrap();
        expect(&plugin, &stand_in, &sms, expected).await;
    }
}

/// https://developers.clicksend.com/docs/messaging/sms/send-an-sms : POST
/// /v3/sms/send, HTTP basic auth (API username and key), JSON messages[] with to
/// (+E.164) and body; 200 whose messages each carry a `status` (SUCCESS, or a reason
/// such as INVALID_RECIPIENT) and a `message_id`; 401 UNAUTHORIZED.
#[tokio::test]
async fn clicksend_sms() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(request.method == "POST" && path(request) == "/v3/sms/send", "POST /v3/sms/send")?;
        let message = &request.json()["messages"][0];
        require(message["body"] == MESSAGE, "body: the message")?;
        let to = message["to"].as_str().unwrap_or_default().to_owned();
        require(to.starts_with('+'), "to: +E.164")?;
        match crate::common::provider::basic_auth(request) {
            Some((user, key)) if user == "alice" && key == "ABCD-1234" => {
                let status = if to == super::PHONE { "SUCCESS" } else { "INVALID_RECIPIENT" };
                Ok(Reply::json(
                    200,
                    json!({"http_code": 200, "response_code": "SUCCESS", "response_msg": "Messages queued for delivery.",
                           "data": {"total_price": 0.07, "total_count": 1, "queued_count": if status == "SUCCESS" { 1 } else { 0 },
                                    "messages": [{"direction": "out", "to": to, "body": MESSAGE,
                                                  "message_id": "BF7AD270-0DE2-418B-B606-71D527D9C1AE", "status": status}]}}),
                ))
            }
            _ => Ok(Reply::json(
                401,
                json!({"http_code": 401, "response_code": "UNAUTHORIZED", "response_msg": "Authorization failed.", "data": null}),
            )),
        }
    }))
    .await;
    let base = "https://rest.clicksend.com";
    let fills = |key| [("secret.username", "alice"), ("secret.api_key", key)];
    let plugin = load("clicksend-sms", base, &stand_in, &fills("ABCD-1234"))
        .await
        .unwrap();
    expect(
        &plugin,
        &stand_in,
        &page(Channel::Sms, &[]),
        "delivered BF7AD270-0DE2-418B-B606-71D527D9C1AE",
    )
    .await;
    let mut unknown = page(Channel::Sms, &[]);
    unknown.recipient.phone_number = Some("+4915199999999".to_owned());
    expect(&plugin, &stand_in, &unknown, "permanent").await;
    let plugin = load("clicksend-sms", base, &stand_in, &fills("WRONG"))
        .await
        .unwrap();
    expect(&plugin, &stand_in, &page(Channel::Sms, &[]), "permanent").await;
}

/// https://www.plivo.com/docs/messaging/api/message/send-a-message : POST
/// /v1/Account/{auth_id}/Message/, HTTP basic auth (Auth ID, Auth Token), JSON src,
/// dst (country code and number), text; 202 with `message_uuid`; 401 for bad
/// credentials; 400 with `error` for a bad number.
#[tokio::test]
async fn plivo_sms() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(
            request.method == "POST" && path(request) == "/v1/Account/MAXXXXXXXXXXXXXXXXXX/Message/",
            "POST /v1/Account/{auth_id}/Message/",
        )?;
        let body = request.json();
        require(body["src"] == "14152828726", "src: the sender")?;
        require(body["text"] == MESSAGE, "text: the message")?;
        match crate::common::provider::basic_auth(request) {
            Some((id, token)) if id == "MAXXXXXXXXXXXXXXXXXX" && token == "tok" => {
                if body["dst"] != "4915112345678" {
                    return Ok(Reply::json(
                        400,
                        json!({"api_id": "92bc9f68-7195-11e5-8620-22000af98256", "error": "33333 is not a valid phone number"}),
                    ));
                }
                Ok(Reply::json(
                    202,
                    json!({"api_id": "db342550-7f1d-11e1-8ea7-1231380bc196", "message": "message(s) queued",
                           "message_uuid": ["db3ce55a-7f1d-11e1-8ea7-1231380bc196"]}),
                ))
            }
            _ => Ok(Reply::json(401, json!({"api_id": "97ceeb52-58b6-11e1-86da-77300b68f8bb", "error": "Authentication failed"}))),
        }
    }))
    .await;
    let base = "https://api.plivo.com";
    let fills = |token| {
        [
            ("secret.auth_id", "MAXXXXXXXXXXXXXXXXXX"),
            ("secret.auth_token", token),
            ("vars.from", "14152828726"),
        ]
    };
    let plugin = load("plivo-sms", base, &stand_in, &fills("tok"))
        .await
        .unwrap();
    expect(
        &plugin,
        &stand_in,
        &page(Channel::Sms, &[]),
        "delivered db3ce55a-7f1d-11e1-8ea7-1231380bc196",
    )
    .await;
    let plugin = load("plivo-sms", base, &stand_in, &fills("old"))
        .await
        .unwrap();
    expect(&plugin, &stand_in, &page(Channel::Sms, &[]), "permanent").await;
}

/// https://smsc.ru/api/http/send/ : POST /sys/send.php, form login, psw, phones, mes,
/// fmt=3 (JSON), charset=utf-8; always HTTP 200, with `id` and `cnt`, or `error` and
/// `error_code` (2: bad login or password); errors 3, 6, 7 and 8 also carry an `id`
/// (https://smscentre.com/api/http/send/sms/sms_answer/).
#[tokio::test]
async fn smsc_sms() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(
            request.method == "POST" && path(request) == "/sys/send.php",
            "POST /sys/send.php",
        )?;
        let fields = form(request);
        require(
            field(&fields, "fmt") == Some("3"),
            "fmt=3 for a JSON answer",
        )?;
        require(
            field(&fields, "charset") == Some("utf-8"),
            "charset=utf-8 (windows-1251 otherwise)",
        )?;
        require(
            field(&fields, "phones") == Some(super::PHONE),
            "phones: international form",
        )?;
        require(field(&fields, "mes") == Some(MESSAGE), "mes: the text")?;
        match (field(&fields, "login"), field(&fields, "psw")) {
            (Some("oncall"), Some("pw")) => Ok(Reply::json(200, json!({"id": 1234, "cnt": 1}))),
            // Errors 3, 6, 7 and 8 carry the message's id too, with no `cnt`.
            (Some("oncall"), Some("broke")) => Ok(Reply::json(
                200,
                json!({"error": "not enough money", "error_code": 3, "id": 1234}),
            )),
            _ => Ok(Reply::json(
                200,
                json!({"error": "authorise error", "error_code": 2}),
            )),
        }
    }))
    .await;
    let base = "https://smsc.ru";
    for (password, expected) in [
        ("pw", "delivered 1234"),
        ("broke", "permanent"),
        ("no", "permanent"),
    ] {
        let plugin = load(
            "smsc-sms",
            base,
            &stand_in,
            &[("secret.login", "oncall"), ("secret.password", password)],
        )
        .await
        .unwrap();
        expect(&plugin, &stand_in, &page(Channel::Sms, &[]), expected).await;
    }
}

/// https://docs.exolve.ru/docs/ru/api-reference/sms-api/ : POST
/// /messaging/v1/SendSMS, `Authorization: Bearer <application API key>`, JSON number,
/// destination (7 and ten digits), text; 200 with `message_id`; 400 with `error` for a
/// number that is not Russian; 401 for a bad key.
#[tokio::test]
async fn exolve_sms() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(request.method == "POST" && path(request) == "/messaging/v1/SendSMS", "POST /messaging/v1/SendSMS")?;
        let body = request.json();
        require(body["number"] == "79991112233", "number: the sender")?;
        require(body["text"] == MESSAGE, "text: the message")?;
        if request.header("authorization") != Some("Bearer eyJ-app-key") {
            return Ok(Reply::text(401, "Unauthorized"));
        }
        let destination = body["destination"].as_str().unwrap_or_default();
        if destination.len() != 11 || !destination.starts_with('7') || !destination.chars().all(|c| c.is_ascii_digit()) {
            return Ok(Reply::json(
                400,
                json!({"error": {"message": "invalid SendRequest.Destination: value does not match regex pattern \"^7\\\\d{10}$\"", "details": ""}}),
            ));
        }
        Ok(Reply::json(200, json!({"message_id": "571497026622089119"})))
    }))
    .await;
    let base = "https://api.exolve.ru";
    let plugin = load(
        "exolve-sms",
        base,
        &stand_in,
        &[
            ("secret.api_key", "eyJ-app-key"),
            ("vars.from", "79991112233"),
        ],
    )
    .await
    .unwrap();
    let mut moscow = page(Channel::Sms, &[]);
    moscow.recipient.phone_number = Some("+79061382868".to_owned());
    expect(&plugin, &stand_in, &moscow, "delivered 571497026622089119").await;
    expect(&plugin, &stand_in, &page(Channel::Sms, &[]), "permanent").await;
}

/// https://www.smseagle.eu/docs/apiv2/ : POST /api/v2/messages/sms with the
/// access-token header, JSON to[] and text; 200 with a status per recipient ("queued"
/// with the message `id`); 401 without a valid token.
#[tokio::test]
async fn smseagle_sms() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(
            request.method == "POST" && path(request) == "/api/v2/messages/sms",
            "POST /api/v2/messages/sms",
        )?;
        let body = request.json();
        require(
            body["to"] == json!([super::PHONE]),
            "to: an array of numbers",
        )?;
        require(body["text"] == MESSAGE, "text: the message")?;
        if let Some(priority) = body.get("priority") {
            require(
                priority.as_u64().is_some_and(|p| p <= 9),
                "priority: 0 to 9",
            )?;
        }
        match request.header("access-token") {
            Some("0005gOjCOlMH8F2x") => Ok(Reply::json(
                200,
                json!([{"status": "queued", "message": "OK", "number": super::PHONE, "id": 654}]),
            )),
            _ => Ok(Reply::json(
                401,
                json!({"status": "error", "message": "Unauthorized"}),
            )),
        }
    }))
    .await;
    for (token, expected) in [
        ("0005gOjCOlMH8F2x", "delivered 654"),
        ("stale", "permanent"),
    ] {
        let url = stand_in.url.clone();
        let plugin = load(
            "smseagle-sms",
            super::SELF_HOSTED,
            &stand_in,
            &[("vars.server", &url), ("secret.access_token", token)],
        )
        .await
        .unwrap();
        expect(&plugin, &stand_in, &page(Channel::Sms, &[]), expected).await;
    }
}

/// https://developers.esendex.com/api-reference#messagedispatcher : POST
/// /v1.0/messagedispatcher, HTTP basic auth, JSON accountreference and messages[] with
/// to (international digits) and body; 200 with batch.messageheaders[].id; 401 as
/// text/plain for bad credentials; 403 for an account reference the user cannot use.
#[tokio::test]
async fn esendex_sms() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(request.method == "POST" && path(request) == "/v1.0/messagedispatcher", "POST /v1.0/messagedispatcher")?;
        require(request.header("accept") == Some("application/json"), "Accept: application/json for a JSON answer")?;
        let body = request.json();
        let message = &body["messages"][0];
        require(message["to"] == "4915112345678", "to: international digits")?;
        require(message["body"] == MESSAGE, "body: the message")?;
        match crate::common::provider::basic_auth(request) {
            Some((user, password)) if user == "ops@example.com" && password == "pw" => {
                if body["accountreference"] != "EX0000000" {
                    return Ok(Reply::text(403, "Access to account EX0000001 is not allowed"));
                }
                Ok(Reply::json(
                    200,
                    json!({"batch": {"batchid": "11800438-75be-4c5f-a8d3-356883ed8d88", "messageheaders": [{
                        "uri": "https://api.esendex.com/v1.0/messageheaders/821fbb35-b480-4eab-9616-6fe2645a74ff",
                        "id": "821fbb35-b480-4eab-9616-6fe2645a74ff"}]}}),
                ))
            }
            _ => Ok(Reply::text(401, "Unauthorized")),
        }
    }))
    .await;
    let base = "https://api.esendex.com";
    let fills = |password, account| {
        [
            ("secret.username", "ops@example.com"),
            ("secret.password", password),
            ("vars.account_reference", account),
            ("vars.from", "OnCall"),
        ]
    };
    for (password, account, expected) in [
        (
            "pw",
            "EX0000000",
            "delivered 821fbb35-b480-4eab-9616-6fe2645a74ff",
        ),
        ("pw", "EX0000001", "permanent"),
        ("bad", "EX0000000", "permanent"),
    ] {
        let plugin = load("esendex-sms", base, &stand_in, &fills(password, account))
            .await
            .unwrap();
        expect(&plugin, &stand_in, &page(Channel::Sms, &[]), expected).await;
    }
}

/// Zvonok's external call API (POST /manager/cabapi_external/api/v1/phones/call/ with
/// public_key, campaign_id, phone (+ and digits) and text in the query string), as
/// Grafana OnCall's Zvonok integration calls it (engine/apps/zvonok/phone_provider.py,
/// `requests.post(ZVONOK_CALL_URL, params=params)`): 200 with `call_id`; `status`
/// "error" with `data` otherwise.
#[tokio::test]
async fn zvonok_voice() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(
            request.method == "POST"
                && path(request) == "/manager/cabapi_external/api/v1/phones/call/",
            "POST /manager/cabapi_external/api/v1/phones/call/",
        )?;
        let fields = crate::common::provider::query(request);
        require(
            field(&fields, "phone") == Some(super::PHONE),
            "phone: + and international digits, in the query",
        )?;
        require(
            field(&fields, "campaign_id") == Some("123456789"),
            "campaign_id",
        )?;
        require(
            field(&fields, "text") == Some(MESSAGE),
            "text: what the call says",
        )?;
        if field(&fields, "public_key") == Some("0f1e2d3c4b5a69788796a5b4c3d2e1f0") {
            Ok(Reply::json(200, json!({"call_id": "12345"})))
        } else {
            Ok(Reply::json(
                200,
                json!({"status": "error", "data": "public_key is invalid"}),
            ))
        }
    }))
    .await;
    let base = "https://zvonok.com";
    for (key, expected) in [
        ("0f1e2d3c4b5a69788796a5b4c3d2e1f0", "delivered 12345"),
        ("deadbeef", "permanent"),
    ] {
        let plugin = load(
            "zvonok-voice",
            base,
            &stand_in,
            &[
                ("secret.public_key", key),
                ("vars.campaign_id", "123456789"),
            ],
        )
        .await
        .unwrap();
        expect(&plugin, &stand_in, &page(Channel::Call, &[]), expected).await;
    }
}
