//! What the host hands a plugin and reads back, in the host's own types. Each contract
//! version's module (`v0_1`, `v0_2`) turns these into its WIT types at the call, so
//! delivery, the hooks, the CLI and the tests never name a WIT type and a new contract
//! version changes none of them.

pub use crate::model::Action;
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
    /// The signed URL the plugin's provider calls back (0.2.0 plugins only).
    pub reply_url: Option<String>,
    /// The short code an SMS reply names this page's group by, when its recipient has
    /// several open (0.2.0 plugins only).
    pub reply_code: Option<String>,
}

/// What a plugin says about itself.
#[derive(Debug, Clone)]
pub struct Description {
    pub name: String,
    pub version: String,
    pub channels: Vec<Channel>,
}

/// Why a plugin did not deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Retryable(String),
    Permanent(String),
}

/// A provider's call to `/hooks/<plugin>/…`, as the plugin is given it.
#[derive(Debug, Clone)]
pub struct InboundRequest {
    pub method: String,
    /// The URL as the provider called it: what its signature covers.
    pub url: String,
    /// Below `/hooks/<plugin>` (below the signature, for a reply URL).
    pub path: String,
    pub query: String,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The notification a valid reply URL was signed for.
    pub notification: Option<Notification>,
}

/// Whom an inbound event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventTarget {
    ThisNotification,
    ProviderId(String),
    /// An SMS reply from this number (E.164), with the short code typed, if any.
    ReplyFrom {
        phone_number: String,
        code: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    Act(Action),
    Delivered,
    NotDelivered(String),
    NotAnswered,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundEvent {
    pub target: EventTarget,
    pub kind: EventKind,
    /// How, in words for the note in OnCall: "phone call (key 1)".
    pub via: String,
}

/// The answer for the provider, and what its call meant.
#[derive(Debug, Clone, Default)]
pub struct InboundReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub events: Vec<InboundEvent>,
}

/// How the host carried an event out, for the plugin to tell the person.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub event: InboundEvent,
    pub text: String,
    pub ok: bool,
}
