//! TwiML for calls: the page read aloud, and, when the host gave a reply URL, a one-key
//! menu (`<Gather>`) whose presses come back to `handle_inbound`
//! (https://www.twilio.com/docs/voice/twiml/gather).

use emu_oncall_plugin_sdk::Action;

pub fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// How a call sounds and which keys it takes.
pub struct Voice<'a> {
    pub voice: Option<&'a str>,
    pub repeat: u32,
    pub silence_minutes: u32,
}

impl Voice<'_> {
    fn say(&self, text: &str, repeat: u32) -> String {
        let voice = self
            .voice
            .map(|voice| format!(" voice=\"{}\"", xml_escape(voice)))
            .unwrap_or_default();
        format!("<Say{voice} loop=\"{repeat}\">{}</Say>", xml_escape(text))
    }

    /// The message, said `repeat` times so a sleepy person catches it.
    pub fn message_only(&self, message: &str) -> String {
        format!("<Response>{}</Response>", self.say(message, self.repeat))
    }

    fn menu_text(&self) -> String {
        format!(
            "Press 1 to acknowledge, 2 to resolve, 3 to silence for {} minutes, or 0 to hear it again.",
            self.silence_minutes
        )
    }

    /// The message, then the menu; the key pressed goes to `action` (XML-escaped
    /// here). `round` tells one hearing of the menu from the next, so pressing the same
    /// key after hearing it again is a new request, not a replay.
    pub fn with_menu(&self, message: &str, action: &str, round: u32, repeat: u32) -> String {
        let action = xml_escape(&format!("{action}?round={round}"));
        format!(
            "<Response><Gather numDigits=\"1\" timeout=\"10\" method=\"POST\" action=\"{action}\">{}{}</Gather>{}</Response>",
            self.say(message, repeat),
            self.say(&self.menu_text(), 1),
            self.say("No key was pressed. Goodbye.", 1),
        )
    }

    /// The answer to a key press once the host has acted: what happened, then goodbye.
    pub fn confirmation(&self, outcome: &str) -> String {
        format!(
            "<Response>{}<Hangup/></Response>",
            self.say(&format!("{outcome} Goodbye."), 1)
        )
    }

    /// What a key means; `None` for 0 (hear it again) and keys that do nothing.
    pub fn action_for(&self, digit: &str) -> Option<Action> {
        match digit {
            "1" => Some(Action::Acknowledge),
            "2" => Some(Action::Resolve),
            "3" => Some(Action::Silence(self.silence_minutes.saturating_mul(60))),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voice() -> Voice<'static> {
        Voice {
            voice: Some("alice"),
            repeat: 2,
            silence_minutes: 30,
        }
    }

    #[test]
    fn the_message_is_escaped() {
        assert_eq!(
            voice().message_only("Disk <90% & \"rising\""),
            "<Response><Say voice=\"alice\" loop=\"2\">Disk &lt;90% &amp; &quot;rising&quot;</Say></Response>"
        );
    }

    #[test]
    fn the_menu_posts_its_key_to_the_reply_url() {
        let twiml = voice().with_menu("CPU on fire", "https://x/hooks/twilio/n/1/2/3/keys", 1, 2);
        assert!(twiml.contains(
            "<Gather numDigits=\"1\" timeout=\"10\" method=\"POST\" action=\"https://x/hooks/twilio/n/1/2/3/keys?round=1\">"
        ));
        assert!(twiml.contains("3 to silence for 30 minutes"));
        assert!(twiml.contains("CPU on fire"));
    }

    #[test]
    fn keys_map_to_actions() {
        let voice = voice();
        assert!(matches!(voice.action_for("1"), Some(Action::Acknowledge)));
        assert!(matches!(voice.action_for("2"), Some(Action::Resolve)));
        assert!(matches!(voice.action_for("3"), Some(Action::Silence(1800))));
        assert!(voice.action_for("0").is_none());
        assert!(voice.action_for("#").is_none());
    }
}
