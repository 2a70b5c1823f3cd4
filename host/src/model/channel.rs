use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::sql_text::text_backed;
use super::InvalidValue;

/// How a notification reaches a person: the engine's three steps, plus the shift
/// changes and tests this server sends itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sms,
    Call,
    Push,
    Shift,
    Test,
}

impl Channel {
    pub const ALL: [Channel; 5] = [
        Channel::Sms,
        Channel::Call,
        Channel::Push,
        Channel::Shift,
        Channel::Test,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Call => "call",
            Channel::Push => "push",
            Channel::Shift => "shift",
            Channel::Test => "test",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = InvalidValue;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Channel::ALL
            .into_iter()
            .find(|channel| channel.as_str() == text.trim())
            .ok_or_else(|| InvalidValue(format!("{text:?} is not a channel")))
    }
}

text_backed!(Channel);
