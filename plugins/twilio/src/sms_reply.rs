//! Replies to a page by SMS, in GoAlert's style: a digit or a word for the action, and,
//! when several alerts are open, the code the page showed ("1a" acknowledges group a).
//! Twilio posts them to the number's messaging webhook, `/hooks/twilio/sms`
//! (https://www.twilio.com/docs/messaging/guides/webhook-request).

use emu_oncall_plugin_sdk::Action;

/// The hint appended to an SMS page when replies are on.
pub fn hint(code: Option<&str>, silence_minutes: u32) -> String {
    let code = code.unwrap_or_default();
    format!(
        "Reply 1{code} to acknowledge, 2{code} to resolve, 3{code} to silence for {silence_minutes} min."
    )
}

/// What a reply asks for, and the code it names ("" when none).
pub fn parse(body: &str, silence_minutes: u32) -> Option<(Action, String)> {
    let text = body.trim().to_ascii_lowercase();
    let digits = text.starts_with(|ch: char| ch.is_ascii_digit());
    let split = text
        .find(|ch: char| {
            if digits {
                !ch.is_ascii_digit()
            } else {
                !ch.is_ascii_alphabetic()
            }
        })
        .unwrap_or(text.len());
    let (word, rest) = text.split_at(split);
    let action = match word {
        "1" | "ack" | "acknowledge" => Action::Acknowledge,
        "2" | "res" | "resolve" | "resolved" => Action::Resolve,
        "3" | "silence" | "mute" => Action::Silence(silence_minutes.saturating_mul(60)),
        _ => return None,
    };
    let code = rest.trim();
    let fits = code.len() <= 2 && code.chars().all(|ch| ch.is_ascii_lowercase());
    fits.then(|| (action, code.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &str) -> Option<(String, String)> {
        parse(body, 30).map(|(action, code)| (format!("{action:?}"), code))
    }

    #[test]
    fn digits_words_and_codes_are_read() {
        assert_eq!(read("1"), Some(("Action::Acknowledge".into(), "".into())));
        assert_eq!(
            read(" 1a "),
            Some(("Action::Acknowledge".into(), "a".into()))
        );
        assert_eq!(read("2B"), Some(("Action::Resolve".into(), "b".into())));
        assert_eq!(read("ack"), Some(("Action::Acknowledge".into(), "".into())));
        assert_eq!(
            read("ACK a"),
            Some(("Action::Acknowledge".into(), "a".into()))
        );
        assert_eq!(read("resolve"), Some(("Action::Resolve".into(), "".into())));
        assert_eq!(read("3"), Some(("Action::Silence(1800)".into(), "".into())));
        assert_eq!(
            read("1 ab"),
            Some(("Action::Acknowledge".into(), "ab".into()))
        );
    }

    #[test]
    fn anything_else_is_not_an_action() {
        for body in ["", "hello", "4", "1abc", "1-", "thanks!", "a", "ack 1"] {
            assert!(read(body).is_none(), "{body:?}");
        }
    }

    #[test]
    fn the_hint_carries_the_code() {
        assert_eq!(
            hint(Some("b"), 30),
            "Reply 1b to acknowledge, 2b to resolve, 3b to silence for 30 min."
        );
        assert!(hint(None, 30).starts_with("Reply 1 to acknowledge"));
    }
}
