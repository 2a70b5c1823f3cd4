//! Twilio: SMS through the Messages API, calls through the Calls API with TwiML that
//! reads the message aloud and, given a reply URL, takes a key: 1 acknowledges, 2
//! resolves, 3 silences, 0 repeats. Twilio's calls back are checked against
//! `X-Twilio-Signature` before anything is done.

mod sms_reply;
mod voice;

use emu_oncall_plugin_sdk::config::Settings;
use emu_oncall_plugin_sdk::http::{url_encode, Request};
use emu_oncall_plugin_sdk::inbound::{field, outcome_text, twilio_signature_valid};
use emu_oncall_plugin_sdk::{
    export, permanent, retryable, Channel, Config, EventKind, Failure, InboundEvent, InboundReply,
    InboundRequest, Notification, Outcome, Plugin, PluginInfo, Receipt, ReplyFrom, Target,
};
use serde_json::Value;

pub use voice::Voice;

pub struct Twilio;

const TWIML: &str = "text/xml";

const DEFAULT_API: &str = "https://api.twilio.com";
/// Twilio refuses message bodies over 1600 characters.
const MAX_SMS_CHARS: usize = 1600;

fn voice<'a>(settings: &Settings<'a>) -> Voice<'a> {
    Voice {
        voice: settings.get("voice"),
        repeat: settings.get_or("call_repeat", "2").parse().unwrap_or(2),
        silence_minutes: settings
            .get_or("silence_minutes", "30")
            .parse()
            .unwrap_or(30),
    }
}

/// Whether calls offer the key menu (when the host gave a reply URL).
fn menu_on(settings: &Settings) -> bool {
    settings.flag("call_menu", true).unwrap_or(true)
}

/// The message, cut to Twilio's limit so that the reply hint, if any, still fits.
fn sms_body(message: &str, hint: Option<&str>) -> String {
    match hint {
        None => message.chars().take(MAX_SMS_CHARS).collect(),
        Some(hint) => {
            let room = MAX_SMS_CHARS.saturating_sub(hint.chars().count() + 1);
            let cut: String = message.chars().take(room).collect();
            format!("{cut}\n{hint}")
        }
    }
}

/// Twilio's errors are JSON `{"code": 21211, "message": "..."}`.
fn failure(status: u16, body: &str) -> Failure {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let reason = format!(
        "Twilio answered {status}: {} (code {})",
        parsed["message"].as_str().unwrap_or("no message"),
        parsed["code"]
            .as_i64()
            .map(|c| c.to_string())
            .unwrap_or_else(|| "-".to_owned())
    );
    if status == 429 || status >= 500 {
        retryable(reason)
    } else {
        permanent(reason)
    }
}

impl Plugin for Twilio {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "twilio".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            channels: vec![Channel::Sms, Channel::Call, Channel::Test],
        }
    }

    fn validate_config(config: Config) -> Result<(), String> {
        let settings = Settings::new(&config);
        let sid = settings.require("account_sid")?;
        if !sid.starts_with("AC") {
            return Err("`account_sid` must start with AC".to_owned());
        }
        settings.require("auth_token")?;
        if settings.get("from").is_none() && settings.get("messaging_service_sid").is_none() {
            return Err("set `from` (a Twilio number) or `messaging_service_sid`".to_owned());
        }
        if settings.get("api_url").is_some() {
            settings.url("api_url")?;
        }
        let repeat = settings.get_or("call_repeat", "2");
        if !matches!(repeat.parse::<u32>(), Ok(1..=10)) {
            return Err(format!("`call_repeat` must be 1 to 10, not {repeat:?}"));
        }
        let silence = settings.get_or("silence_minutes", "30");
        if !matches!(silence.parse::<u32>(), Ok(1..=1440)) {
            return Err(format!(
                "`silence_minutes` must be 1 to 1440, not {silence:?}"
            ));
        }
        settings.flag("call_menu", true)?;
        settings.flag("sms_replies", false)?;
        Ok(())
    }

    fn notify(config: Config, notification: Notification) -> Result<Receipt, Failure> {
        let settings = Settings::new(&config);
        let sid = settings.require("account_sid").map_err(permanent)?;
        let token = settings.require("auth_token").map_err(permanent)?;
        let api = settings
            .get_or("api_url", DEFAULT_API)
            .trim_end_matches('/');
        let to = notification
            .recipient
            .phone_number
            .as_deref()
            .ok_or_else(|| {
                permanent(format!(
                    "{} has no phone number",
                    notification.recipient.email
                ))
            })?;
        let from = settings.get("from");
        let call = notification.channel == Channel::Call;
        let mut fields: Vec<(&str, String)> = vec![("To", to.to_owned())];
        match (from, settings.get("messaging_service_sid")) {
            (Some(from), _) => fields.push(("From", from.to_owned())),
            (None, Some(service)) if !call => {
                fields.push(("MessagingServiceSid", service.to_owned()))
            }
            _ => return Err(permanent("calls need `from`, a Twilio number")),
        }
        let voice = voice(&settings);
        let reply_url = notification.reply_url.as_deref();
        if call {
            let twiml = match reply_url {
                Some(url) if menu_on(&settings) => voice.with_menu(
                    &notification.message,
                    &format!("{url}/keys"),
                    1,
                    voice.repeat,
                ),
                _ => voice.message_only(&notification.message),
            };
            fields.push(("Twiml", twiml));
        } else {
            let hint = (reply_url.is_some()
                && settings.flag("sms_replies", false).unwrap_or(false))
            .then(|| sms_reply::hint(notification.reply_code.as_deref(), voice.silence_minutes));
            fields.push(("Body", sms_body(&notification.message, hint.as_deref())));
        }
        // Receipts (delivered, no answer, …) come back to the reply URL.
        if let Some(url) = reply_url {
            fields.push(("StatusCallback", format!("{url}/status")));
            if call {
                fields.push(("StatusCallbackEvent", "completed".to_owned()));
            }
        }
        let resource = if call { "Calls" } else { "Messages" };
        let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let url = format!(
            "{api}/2010-04-01/Accounts/{}/{resource}.json",
            url_encode(sid)
        );
        let response = Request::post(url)
            .basic_auth(sid, token)
            .form(&borrowed)
            .send()?;
        if !(200..300).contains(&response.status) {
            return Err(failure(response.status, &response.text()));
        }
        let answer: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        Ok(Receipt {
            provider_id: answer["sid"].as_str().map(str::to_owned),
            detail: answer["status"].as_str().map(str::to_owned),
        })
    }

    fn handle_inbound(
        config: Config,
        request: InboundRequest,
        outcomes: Vec<Outcome>,
    ) -> Result<InboundReply, String> {
        let settings = Settings::new(&config);
        let token = settings.require("auth_token")?;
        let form = request.form();
        let signature = request.header("x-twilio-signature").unwrap_or_default();
        if !twilio_signature_valid(token, &request.url, &form, signature) {
            return Ok(InboundReply::forbidden());
        }
        match request.path.as_str() {
            "/keys" => Ok(key_pressed(&settings, &request, &form, &outcomes)),
            "/sms" => Ok(sms_replied(&settings, &form, &outcomes)),
            "/status" => Ok(status_callback(&form)),
            _ => Ok(InboundReply::text(404, "unknown Twilio callback")),
        }
    }
}

/// A key pressed in the call's menu: the action it names, confirmed aloud once the host
/// has carried it out; 0 (or a key that does nothing) hears the page again.
fn key_pressed(
    settings: &Settings,
    request: &InboundRequest,
    form: &[(String, String)],
    outcomes: &[Outcome],
) -> InboundReply {
    let voice = voice(settings);
    if let Some(text) = outcome_text(outcomes) {
        return InboundReply::with_type(200, TWIML, voice.confirmation(&text));
    }
    let digit = field(form, "Digits").unwrap_or_default();
    if let Some(action) = voice.action_for(digit) {
        let event = InboundEvent::act(action, format!("phone call (key {digit})"));
        // Said only if the host never asks again; it always does when there are events.
        return InboundReply::with_type(200, TWIML, voice.confirmation("One moment."))
            .with_events(vec![event]);
    }
    let Some(notification) = &request.notification else {
        return InboundReply::with_type(200, TWIML, voice.confirmation("This call has ended."));
    };
    let round = request
        .query_fields()
        .iter()
        .find(|(key, _)| key == "round")
        .and_then(|(_, value)| value.parse::<u32>().ok())
        .unwrap_or(1);
    let action = request
        .url
        .split('?')
        .next()
        .unwrap_or(request.url.as_str())
        .to_owned();
    let intro = if digit == "0" {
        ""
    } else {
        "That key does nothing. "
    };
    InboundReply::with_type(
        200,
        TWIML,
        voice.with_menu(
            &format!("{intro}{}", notification.message),
            &action,
            round.saturating_add(1),
            1,
        ),
    )
}

/// An SMS to the Twilio number: an action on the page it answers, confirmed by SMS once
/// the host has carried it out; anything else is answered with how to reply.
fn sms_replied(
    settings: &Settings,
    form: &[(String, String)],
    outcomes: &[Outcome],
) -> InboundReply {
    let message = |text: &str| {
        InboundReply::with_type(
            200,
            TWIML,
            format!(
                "<Response><Message>{}</Message></Response>",
                voice::xml_escape(text)
            ),
        )
    };
    if let Some(text) = outcome_text(outcomes) {
        return message(&text);
    }
    let silence_minutes = voice(settings).silence_minutes;
    let from = field(form, "From").unwrap_or_default();
    let body = field(form, "Body").unwrap_or_default();
    match sms_reply::parse(body, silence_minutes) {
        Some((action, code)) if !from.is_empty() => {
            message("One moment.").with_events(vec![InboundEvent {
                target: Target::ReplyFrom(ReplyFrom {
                    phone_number: from.to_owned(),
                    code,
                }),
                kind: EventKind::Act(action),
                via: "SMS reply".to_owned(),
            }])
        }
        _ => message(&sms_reply::hint(None, silence_minutes)),
    }
}

/// Twilio's status callback for a message or a call
/// (https://www.twilio.com/docs/messaging/guides/track-outbound-message-status,
/// https://www.twilio.com/docs/voice/api/call-resource#statuscallback): the final
/// states become receipts; the ones on the way (queued, sent, ringing) are ignored.
fn status_callback(form: &[(String, String)]) -> InboundReply {
    let kind = match (field(form, "MessageStatus"), field(form, "CallStatus")) {
        (Some("delivered"), _) => Some(EventKind::Delivered),
        (Some(status @ ("undelivered" | "failed")), _) => Some(EventKind::NotDelivered(format!(
            "Twilio: message {status}{}",
            field(form, "ErrorCode")
                .map(|code| format!(" (error {code})"))
                .unwrap_or_default()
        ))),
        (None, Some("completed")) => Some(EventKind::Delivered),
        (None, Some("no-answer" | "busy" | "canceled")) => Some(EventKind::NotAnswered),
        (None, Some("failed")) => Some(EventKind::NotDelivered("Twilio: call failed".to_owned())),
        _ => None,
    };
    let via = if field(form, "CallStatus").is_some() {
        "Twilio call status"
    } else {
        "Twilio message status"
    };
    let events = kind
        .map(|kind| {
            vec![InboundEvent {
                target: Target::ThisNotification,
                kind,
                via: via.to_owned(),
            }]
        })
        .unwrap_or_default();
    InboundReply::with_type(200, TWIML, "<Response/>").with_events(events)
}

export!(Twilio);

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn final_statuses_become_receipts() {
        let kinds = |pairs: &[(&str, &str)]| {
            status_callback(&form(pairs))
                .events
                .into_iter()
                .map(|event| event.kind)
                .collect::<Vec<_>>()
        };
        assert!(matches!(
            kinds(&[("MessageStatus", "delivered")]).as_slice(),
            [EventKind::Delivered]
        ));
        assert!(matches!(
            kinds(&[("CallStatus", "no-answer")]).as_slice(),
            [EventKind::NotAnswered]
        ));
        assert!(matches!(
            kinds(&[("CallStatus", "busy")]).as_slice(),
            [EventKind::NotAnswered]
        ));
        assert!(matches!(
            kinds(&[("MessageStatus", "undelivered"), ("ErrorCode", "30003")]).as_slice(),
            [EventKind::NotDelivered(why)] if why.contains("30003")
        ));
        assert!(kinds(&[("MessageStatus", "sent")]).is_empty());
        assert!(kinds(&[("CallStatus", "ringing")]).is_empty());
    }

    #[test]
    fn long_sms_are_cut_to_twilios_limit() {
        assert_eq!(
            sms_body(&"x".repeat(2000), None).chars().count(),
            MAX_SMS_CHARS
        );
        let with_hint = sms_body(&"x".repeat(2000), Some("Reply 1 to acknowledge."));
        assert_eq!(with_hint.chars().count(), MAX_SMS_CHARS);
        assert!(with_hint.ends_with("\nReply 1 to acknowledge."));
    }
}
