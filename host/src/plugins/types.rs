//! What the host hands a plugin, in the host's own types. Each contract version's
//! module (`v0_1`) turns these into its WIT types at the call, so delivery, the CLI and
//! the tests never name a WIT type and a new contract version changes none of them.

use crate::model::{AlertGroup, Channel};

/// Who is to be told.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipient {
    pub id: String,
    pub email: String,
    pub username: String,
    pub name: String,
    /// E.164, in clear: the plugin must dial it.
    pub phone_number: Option<String>,
    pub role: String,
    pub attributes: Vec<(String, String)>,
}

/// One notification, as one attempt hands it to a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: String,
    pub channel: Channel,
    pub recipient: Recipient,
    pub message: String,
    pub alert_group: Option<AlertGroup>,
    /// 1 on the first try.
    pub attempt: u32,
    /// RFC 3339.
    pub created_at: String,
}
