use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::sql_text::text_backed;
use super::InvalidValue;

/// A person's role, as the engine's users sync filters by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    User,
    Observer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
            Role::Observer => "observer",
        }
    }

    /// The engine filters by its legacy role numbers: 0 admin, 1 editor, 2 viewer.
    pub fn from_legacy_number(number: i64) -> Option<Role> {
        match number {
            0 => Some(Role::Admin),
            1 => Some(Role::User),
            2 => Some(Role::Observer),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = InvalidValue;

    /// Grafana's names (`editor`, `viewer`) are taken too: people import them.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "admin" => Ok(Role::Admin),
            "user" | "editor" => Ok(Role::User),
            "observer" | "viewer" => Ok(Role::Observer),
            _ => Err(InvalidValue(format!(
                "role {text:?} is not one of admin, user, observer"
            ))),
        }
    }
}

text_backed!(Role);
