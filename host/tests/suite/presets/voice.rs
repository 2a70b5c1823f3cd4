//! Voice presets: the call request, and the document the provider fetches from the
//! page's reply URL when the call is answered.

use std::sync::Arc;

use emu_oncall::model::Channel;
use emu_oncall::plugins::InboundRequest;
use serde_json::json;

use super::{expect, load, page};
use crate::common::provider::{basic_auth, path, require, Reply, StandIn};

const REPLY_URL: &str = "https://emu.example.com/hooks/plivo-voice/r/0a4f6c1e.sig";

/// https://www.plivo.com/docs/voice/api/call/make-a-call : POST
/// /v1/Account/{auth_id}/Call/, HTTP basic auth, JSON from, to (country code and
/// number) and answer_url; 201 with `request_uuid`; 401 for bad credentials. The
/// answer_url must return Plivo XML: `<Response><Speak>…</Speak></Response>`
/// (https://www.plivo.com/docs/voice/xml/speak), as text/xml or application/xml.
#[tokio::test]
async fn plivo_voice() {
    let stand_in = StandIn::start(Arc::new(|request| {
        require(
            request.method == "POST" && path(request) == "/v1/Account/MAXXXXXXXXXXXXXXXXXX/Call/",
            "POST /v1/Account/{auth_id}/Call/",
        )?;
        let body = request.json();
        require(body["from"] == "14157654321", "from: a Plivo number")?;
        require(body["to"] == "4915112345678", "to: country code and number")?;
        require(body["answer_url"] == REPLY_URL, "answer_url: where the call's XML is")?;
        match basic_auth(request) {
            Some((id, token)) if id == "MAXXXXXXXXXXXXXXXXXX" && token == "tok" => Ok(Reply::json(
                201,
                json!({"message": "call fired", "request_uuid": "9834029e-58b6-11e1-b8b7-a5bd0e4e126f",
                       "api_id": "97ceeb52-58b6-11e1-86da-77300b68f8bb"}),
            )),
            _ => Ok(Reply::json(401, json!({"api_id": "97ceeb52-58b6-11e1-86da-77300b68f8bb", "error": "Authentication failed"}))),
        }
    }))
    .await;
    let base = "https://api.plivo.com";
    let fills = |token| {
        [
            ("secret.auth_id", "MAXXXXXXXXXXXXXXXXXX"),
            ("secret.auth_token", token),
            ("vars.from", "+14157654321"),
        ]
    };
    let plugin = load("plivo-voice", base, &stand_in, &fills("tok"))
        .await
        .unwrap();
    let mut call = page(Channel::Call, &[]);
    call.message = "Disk <full> & db-1 down".to_owned();
    call.reply_url = Some(REPLY_URL.to_owned());
    expect(
        &plugin,
        &stand_in,
        &call,
        "delivered 9834029e-58b6-11e1-b8b7-a5bd0e4e126f",
    )
    .await;

    // Plivo fetches the answer_url when the call is answered: the page's text, spoken.
    let fetched = InboundRequest {
        method: "POST".to_owned(),
        url: REPLY_URL.to_owned(),
        path: String::new(),
        query: String::new(),
        headers: vec![(
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        )],
        body: b"CallUUID=9834029e&From=14157654321&To=4915112345678".to_vec(),
        notification: Some(call.clone()),
    };
    let answer = plugin
        .handle_inbound(&fetched, &[])
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(answer.status, 200);
    assert!(answer
        .headers
        .iter()
        .any(|(name, value)| name == "content-type" && value == "application/xml"));
    let xml = String::from_utf8(answer.body).unwrap();
    assert!(
        xml.contains("<Response>") && xml.contains("</Response>"),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<Speak loop="2">Disk &lt;full&gt; &amp; db-1 down</Speak>"#),
        "{xml}"
    );
    assert!(answer.events.is_empty());
    // A call to /hooks/plivo-voice/… with no signed page gets nothing.
    let unsigned = InboundRequest {
        notification: None,
        ..fetched
    };
    assert_eq!(
        plugin
            .handle_inbound(&unsigned, &[])
            .await
            .unwrap()
            .unwrap()
            .unwrap()
            .status,
        404
    );

    // Without the server's public URL there is no answer_url: said plainly, not sent.
    let before = stand_in.requests().len();
    let no_public_url = page(Channel::Call, &[]);
    let outcome = plugin.notify(&no_public_url).await;
    assert!(
        format!("{outcome:?}").contains("app.public_url"),
        "{outcome:?}"
    );
    assert_eq!(stand_in.requests().len(), before);

    let plugin = load("plivo-voice", base, &stand_in, &fills("old"))
        .await
        .unwrap();
    expect(&plugin, &stand_in, &call, "permanent").await;
}
