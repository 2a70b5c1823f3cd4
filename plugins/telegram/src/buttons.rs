//! Inline buttons under a page (https://core.telegram.org/bots/api#inlinekeyboardmarkup)
//! and what their presses mean. A press reaches the bot's webhook, `/hooks/telegram`
//! (set with `emu-oncall plugins setup telegram`), as a `callback_query` whose `data` is
//! the button's action; the page is the message the buttons sit under.

use emu_oncall_plugin_sdk::Action;
use serde_json::{json, Value};

/// Seconds "Silence 1 h" silences for.
const SILENCE_SECONDS: u32 = 3_600;

/// The keyboard under a page: one row of three buttons. `callback_data` is at most 64
/// bytes; these are three.
pub fn keyboard() -> Value {
    json!({"inline_keyboard": [[
        {"text": "✅ Acknowledge", "callback_data": "ack"},
        {"text": "☑️ Resolve", "callback_data": "res"},
        {"text": "🔕 Silence 1 h", "callback_data": "sil"}
    ]]})
}

/// What a button's `callback_data` asks for.
pub fn action(data: &str) -> Option<Action> {
    match data {
        "ack" => Some(Action::Acknowledge),
        "res" => Some(Action::Resolve),
        "sil" => Some(Action::Silence(SILENCE_SECONDS)),
        _ => None,
    }
}

/// A press, as the webhook's update carries it.
pub struct Press {
    pub query_id: String,
    pub chat_id: String,
    pub message_id: i64,
    pub text: String,
    pub who: String,
    pub data: String,
}

/// The press in an update (https://core.telegram.org/bots/api#update), if it is one.
pub fn press(update: &Value) -> Option<Press> {
    let query = update.get("callback_query")?;
    let message = query.get("message")?;
    let from = query.get("from");
    let who = from
        .and_then(|from| from["first_name"].as_str().or(from["username"].as_str()))
        .unwrap_or("someone")
        .to_owned();
    Some(Press {
        query_id: query["id"].as_str()?.to_owned(),
        chat_id: match &message["chat"]["id"] {
            Value::Number(id) => id.to_string(),
            Value::String(id) => id.clone(),
            _ => return None,
        },
        message_id: message["message_id"].as_i64()?,
        text: message["text"].as_str().unwrap_or_default().to_owned(),
        who,
        data: query["data"].as_str().unwrap_or_default().to_owned(),
    })
}

/// How the host finds the page a press was under: the chat and the message id, as the
/// receipt of `sendMessage` recorded them (message ids are only unique per chat).
pub fn provider_id(chat_id: &str, message_id: i64) -> String {
    format!("{chat_id}:{message_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_press_is_read_from_the_update() {
        let update = json!({"update_id": 1, "callback_query": {
            "id": "q1", "from": {"id": 7, "first_name": "Alice"}, "data": "ack",
            "message": {"message_id": 42, "chat": {"id": -100200}, "text": "🚨 Disk full"}
        }});
        let pressed = press(&update).expect("a press");
        assert_eq!(pressed.query_id, "q1");
        assert_eq!(
            provider_id(&pressed.chat_id, pressed.message_id),
            "-100200:42"
        );
        assert_eq!(pressed.who, "Alice");
        assert!(matches!(action(&pressed.data), Some(Action::Acknowledge)));
        assert!(press(&json!({"message": {"text": "hi"}})).is_none());
        assert!(action("drop table").is_none());
    }

    #[test]
    fn callback_data_fits_telegrams_limit() {
        for row in keyboard()["inline_keyboard"].as_array().unwrap() {
            for button in row.as_array().unwrap() {
                assert!(button["callback_data"].as_str().unwrap().len() <= 64);
            }
        }
    }
}
