use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::sql_text::text_backed;
use super::InvalidValue;

/// Where a notification is in its life: waiting, in a round, done, waiting for a
/// retry, or given up on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Delivering,
    Delivered,
    Failed,
    Dead,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Pending,
        Status::Delivering,
        Status::Delivered,
        Status::Failed,
        Status::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Delivering => "delivering",
            Status::Delivered => "delivered",
            Status::Failed => "failed",
            Status::Dead => "dead",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = InvalidValue;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == text.trim())
            .ok_or_else(|| {
                InvalidValue(format!(
                    "{text:?} is not a status; use one of pending, delivering, delivered, failed, dead"
                ))
            })
    }
}

text_backed!(Status);
