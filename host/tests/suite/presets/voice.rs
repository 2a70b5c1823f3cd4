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

/// The claims of an RS256 JWT whose signature `key` verifies, or why not.
fn verified_claims(token: &str, key: &rsa::RsaPublicKey) -> Result<serde_json::Value, String> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use rsa::signature::Verifier as _;
    let parts: Vec<&str> = token.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err("a JWT of three parts".to_owned());
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| "base64url parts".to_owned())
    };
    let header: serde_json::Value =
        serde_json::from_slice(&decode(header)?).map_err(|_| "a JSON header")?;
    require(header["alg"] == "RS256", "alg RS256")?;
    let signature = rsa::pkcs1v15::Signature::try_from(decode(signature)?.as_slice())
        .map_err(|_| "an RSA signature".to_owned())?;
    rsa::pkcs1v15::VerifyingKey::<rsa::sha2::Sha256>::new(key.clone())
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
        .map_err(|_| "signed with the application's private key".to_owned())?;
    serde_json::from_slice(&decode(claims)?).map_err(|_| "JSON claims".to_owned())
}

/// https://developer.vonage.com/en/api/voice#createCall : POST /v1/calls with
/// `Authorization: Bearer <JWT>` (RS256 with the application's private key; claims
/// application_id, iat, jti; at most 24 h, per
/// https://developer.vonage.com/en/getting-started/concepts/authentication#json-web-tokens),
/// JSON `to` [{type phone, number}], `from`, an NCCO whose `talk` action has the text
/// (at most 1,500 characters); 201 with the call's `uuid`; 401
/// `{"type": "UNAUTHORIZED", "error_title": "Unauthorized"}` for a bad token.
#[tokio::test]
async fn vonage_voice() {
    use rsa::pkcs8::DecodePrivateKey as _;
    let pem = crate::common::repository_file("host/tests/data/keys/vonage-test-application.pem");
    let public = rsa::RsaPrivateKey::from_pkcs8_pem(&pem)
        .unwrap()
        .to_public_key();
    let stand_in = StandIn::start(Arc::new(move |request| {
        require(request.method == "POST" && path(request) == "/v1/calls", "POST /v1/calls")?;
        let body = request.json();
        require(body["to"] == json!([{"type": "phone", "number": "4915112345678"}]), "to: [{type, number}]")?;
        require(body["from"] == json!({"type": "phone", "number": "14155550100"}), "from: {type, number}")?;
        let talk = &body["ncco"][0];
        require(talk["action"] == "talk", "an NCCO talk action")?;
        require(talk["text"].as_str().is_some_and(|t| !t.is_empty() && t.chars().count() <= 1500), "talk.text: 1 to 1,500 characters")?;
        let token = request
            .header("authorization")
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or("Authorization: Bearer <JWT>")?;
        let claims = match verified_claims(token, &public) {
            Ok(claims) => claims,
            Err(_) => return Ok(Reply::json(401, json!({"type": "UNAUTHORIZED", "error_title": "Unauthorized"}))),
        };
        require(claims["application_id"] == "aaaaaaaa-bbbb-cccc-dddd-0123456789ab", "claim application_id")?;
        require(claims["jti"].as_str().is_some_and(|jti| !jti.is_empty()), "claim jti")?;
        let (iat, exp) = (claims["iat"].as_u64().ok_or("claim iat")?, claims["exp"].as_u64().ok_or("claim exp")?);
        require(exp > iat && exp - iat <= 86_400, "at most 24 hours")?;
        Ok(Reply::json(
            201,
            json!({"uuid": "63f61863-4a51-4f6b-86e1-46edebcf9356", "status": "started",
                   "direction": "outbound", "conversation_uuid": "CON-f972836a-550f-45fa-956c-12a2ab5b7d22"}),
        ))
    }))
    .await;
    let base = "https://api.nexmo.com";
    let fills = |key: &str| {
        vec![
            (
                "vars.application_id",
                "aaaaaaaa-bbbb-cccc-dddd-0123456789ab".to_owned(),
            ),
            ("vars.from", "+14155550100".to_owned()),
            ("secret.private_key", key.to_owned()),
        ]
    };
    let load_with = |key: String| {
        let stand_in = stand_in.clone();
        async move {
            let fills = fills(&key);
            let fills: Vec<(&str, &str)> = fills.iter().map(|(k, v)| (*k, v.as_str())).collect();
            load("vonage-voice", base, &stand_in, &fills).await
        }
    };
    let plugin = load_with(pem.clone()).await.unwrap();
    expect(
        &plugin,
        &stand_in,
        &page(Channel::Call, &[]),
        "delivered 63f61863-4a51-4f6b-86e1-46edebcf9356",
    )
    .await;
    let tokens: Vec<String> = {
        expect(
            &plugin,
            &stand_in,
            &page(Channel::Call, &[]),
            "delivered 63f61863-4a51-4f6b-86e1-46edebcf9356",
        )
        .await;
        stand_in
            .requests()
            .iter()
            .filter_map(|r| r.header("authorization").map(str::to_owned))
            .collect()
    };
    assert_ne!(
        tokens[0], tokens[1],
        "a fresh token (its own jti) for each call"
    );

    // Another application's key: Vonage refuses the token.
    let another = crate::common::repository_file("host/tests/data/keys/another-application.pem");
    let plugin = load_with(another).await.unwrap();
    expect(&plugin, &stand_in, &page(Channel::Call, &[]), "permanent").await;
    // Something that is no key at all is refused at load, and not quoted.
    let garbage = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----";
    let err = load_with(garbage.to_owned())
        .await
        .err()
        .expect("a key that is not one is refused at load");
    assert!(
        err.contains("auth.jwt.private_key") && !err.contains("bm90IGEga2V5"),
        "{err}"
    );
}
