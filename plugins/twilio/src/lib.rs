//! Twilio: SMS through the Messages API, calls through the Calls API with TwiML that
//! reads the message aloud.

use emu_oncall_plugin_sdk::config::Settings;
use emu_oncall_plugin_sdk::http::{url_encode, Request};
use emu_oncall_plugin_sdk::{
    export, permanent, retryable, Channel, Config, Failure, Notification, Plugin, PluginInfo,
    Receipt,
};
use serde_json::Value;

pub struct Twilio;

const DEFAULT_API: &str = "https://api.twilio.com";
/// Twilio refuses message bodies over 1600 characters.
const MAX_SMS_CHARS: usize = 1600;

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The TwiML for a call: the message, said `repeat` times so a sleepy person catches it.
pub fn twiml(message: &str, voice: Option<&str>, repeat: u32) -> String {
    let voice = voice
        .map(|voice| format!(" voice=\"{}\"", xml_escape(voice)))
        .unwrap_or_default();
    format!(
        "<Response><Say{voice} loop=\"{repeat}\">{}</Say></Response>",
        xml_escape(message)
    )
}

fn sms_body(message: &str) -> String {
    message.chars().take(MAX_SMS_CHARS).collect()
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
        let (resource, extra) = if call {
            let repeat = settings.get_or("call_repeat", "2").parse().unwrap_or(2);
            (
                "Calls",
                (
                    "Twiml",
                    twiml(&notification.message, settings.get("voice"), repeat),
                ),
            )
        } else {
            ("Messages", ("Body", sms_body(&notification.message)))
        };
        fields.push(extra);
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
}

export!(Twilio);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twiml_escapes_the_message() {
        assert_eq!(
            twiml("Disk <90% & \"rising\"", Some("alice"), 2),
            "<Response><Say voice=\"alice\" loop=\"2\">Disk &lt;90% &amp; &quot;rising&quot;</Say></Response>"
        );
    }

    #[test]
    fn long_sms_are_cut_to_twilios_limit() {
        assert_eq!(sms_body(&"x".repeat(2000)).chars().count(), MAX_SMS_CHARS);
    }
}
