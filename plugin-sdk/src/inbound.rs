//! Helpers for `handle_inbound`: reading a provider's call (headers, form bodies),
//! checking Twilio's signature, and building the answer and its events.

use hmac::{Hmac, Mac};

use crate::{Action, EventKind, InboundEvent, InboundReply, InboundRequest, Outcome, Target};

impl InboundRequest {
    /// A header's value (names are compared without regard to case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as `application/x-www-form-urlencoded` fields, in order.
    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body)
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect()
    }

    /// The query string's fields.
    pub fn query_fields(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.query.as_bytes())
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect()
    }
}

/// The first value of `name` among form or query fields.
pub fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

impl InboundReply {
    /// A plain-text answer with no events.
    pub fn text(status: u16, body: &str) -> InboundReply {
        InboundReply {
            status,
            headers: vec![(
                "content-type".to_owned(),
                "text/plain; charset=utf-8".to_owned(),
            )],
            body: body.as_bytes().to_vec(),
            events: Vec::new(),
        }
    }

    /// An answer of `content_type` (e.g. TwiML's `text/xml`).
    pub fn with_type(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> InboundReply {
        InboundReply {
            status,
            headers: vec![("content-type".to_owned(), content_type.to_owned())],
            body: body.into(),
            events: Vec::new(),
        }
    }

    /// 403: the call is not the provider's (a bad or missing signature).
    pub fn forbidden() -> InboundReply {
        InboundReply::text(403, "forbidden")
    }

    /// The same answer, naming `events`.
    pub fn with_events(mut self, events: Vec<InboundEvent>) -> InboundReply {
        self.events = events;
        self
    }
}

impl InboundEvent {
    /// The person acted on the alert group of this request's notification.
    pub fn act(action: Action, via: impl Into<String>) -> InboundEvent {
        InboundEvent {
            target: Target::ThisNotification,
            kind: EventKind::Act(action),
            via: via.into(),
        }
    }
}

/// The buttons a chat page offers, as (path below the reply URL, label): a plugin whose
/// buttons post to the reply URL (ntfy, Mattermost) maps the path back with
/// [`button_action`].
pub const BUTTONS: [(&str, &str); 3] = [
    ("ack", "Acknowledge"),
    ("resolve", "Resolve"),
    ("silence", "Silence 1 h"),
];

/// What a button posting to `<reply URL>/<path>` asks for (`request.path`, e.g. "/ack").
pub fn button_action(path: &str) -> Option<Action> {
    match path.trim_start_matches('/') {
        "ack" => Some(Action::Acknowledge),
        "resolve" => Some(Action::Resolve),
        "silence" => Some(Action::Silence(3_600)),
        _ => None,
    }
}

/// What the host said of the outcomes, in one sentence for the person: each outcome's
/// text, or `None` when there were none.
pub fn outcome_text(outcomes: &[Outcome]) -> Option<String> {
    if outcomes.is_empty() {
        return None;
    }
    Some(
        outcomes
            .iter()
            .map(|outcome| outcome.text.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// Whether `signature` (the `X-Twilio-Signature` header) is Twilio's for a call to `url`
/// with these form `params`: base64 of HMAC-SHA1 under the account's auth token, over
/// the URL followed by each parameter's name and value, sorted by name
/// (https://www.twilio.com/docs/usage/webhooks/webhooks-security). Twilio may sign the
/// URL with or without an explicit default port, so both forms are accepted.
pub fn twilio_signature_valid(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    signature: &str,
) -> bool {
    use base64::Engine as _;
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let payload: String = sorted
        .iter()
        .map(|(key, value)| format!("{key}{value}"))
        .collect();
    url_variants(url).into_iter().any(|candidate| {
        let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()) else {
            return false;
        };
        mac.update(candidate.as_bytes());
        mac.update(payload.as_bytes());
        mac.verify_slice(&expected).is_ok()
    })
}

/// The signature Twilio would send for this call: for stand-ins and tests.
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    use base64::Engine as _;
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()) else {
        return String::new();
    };
    mac.update(url.as_bytes());
    for (key, value) in sorted {
        mac.update(key.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// `url` as given, plus the same URL with its scheme's default port added or removed.
fn url_variants(url: &str) -> Vec<String> {
    let mut variants = vec![url.to_owned()];
    for (scheme, port) in [("https://", ":443"), ("http://", ":80")] {
        let Some(rest) = url.strip_prefix(scheme) else {
            continue;
        };
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        match authority.strip_suffix(port) {
            Some(bare) => variants.push(format!("{scheme}{bare}{tail}")),
            None if !authority.contains(':') => {
                variants.push(format!("{scheme}{authority}{port}{tail}"))
            }
            None => {}
        }
    }
    variants
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    /// Twilio's own worked example from its webhook security page.
    #[test]
    fn twilios_documented_example_checks_out() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let fields = params(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]);
        assert_eq!(
            twilio_signature("12345", url, &fields),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
        assert!(twilio_signature_valid(
            "12345",
            url,
            &fields,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!twilio_signature_valid(
            "12346",
            url,
            &fields,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        let mut tampered = fields.clone();
        tampered[2].1 = "2".to_owned();
        assert!(!twilio_signature_valid(
            "12345",
            url,
            &tampered,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!twilio_signature_valid(
            "12345",
            url,
            &fields,
            "not base64!"
        ));
    }

    #[test]
    fn a_signature_over_the_url_with_its_default_port_is_accepted() {
        let fields = params(&[("Digits", "1")]);
        let signed = twilio_signature("t", "https://oncall.example:443/hooks/twilio", &fields);
        assert!(twilio_signature_valid(
            "t",
            "https://oncall.example/hooks/twilio",
            &fields,
            &signed
        ));
        let signed = twilio_signature("t", "https://oncall.example/hooks/twilio", &fields);
        assert!(twilio_signature_valid(
            "t",
            "https://oncall.example:443/hooks/twilio",
            &fields,
            &signed
        ));
        assert!(!twilio_signature_valid(
            "t",
            "https://oncall.example:8443/hooks/twilio",
            &fields,
            &signed
        ));
    }
}
