//! Everyone paged hears who took it. OnCall's own outgoing webhook (`POST
//! /hooks/oncall`, "forward all" body as `engine/apps/webhooks/utils.py`
//! `serialize_event` builds it) says an alert group was acknowledged, resolved,
//! silenced or reopened; each person a page about it reached is told once, through the
//! plugin that reached them, and the pages still waiting for it are cancelled.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use crate::model::Channel;
use crate::store::notifications::NewNotification;
use crate::store::{Store, StoreError};

/// The payload `source` of announcements; delivery sends them through `plugin` only.
pub const SOURCE: &str = "outcome";

/// How long after a person acted through a page OnCall's webhook is taken to be about
/// them (the API acts as its token's owner, so the webhook names the owner).
const RESPONDER_WINDOW: Duration = Duration::from_secs(600);

/// What happened to an alert group, of the webhook's `event.type`s
/// (`engine/apps/webhooks/tasks/trigger_webhook.py`, `TRIGGER_TYPE_TO_LABEL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupEvent {
    Acknowledged,
    Resolved,
    Silenced,
    Unacknowledged,
    Unresolved,
    Unsilenced,
}

impl GroupEvent {
    /// `None` for the types that are not about someone dealing with the group
    /// ("alert group created", "escalation", "personal notification").
    pub fn from_type(event_type: &str) -> Option<GroupEvent> {
        Some(match event_type {
            "acknowledge" => GroupEvent::Acknowledged,
            "resolve" => GroupEvent::Resolved,
            "silence" => GroupEvent::Silenced,
            "unacknowledge" => GroupEvent::Unacknowledged,
            "unresolve" => GroupEvent::Unresolved,
            "unsilence" => GroupEvent::Unsilenced,
            _ => return None,
        })
    }

    /// The webhook's own word for it, and the inbound event kind of the same action.
    pub fn as_type(self) -> &'static str {
        match self {
            GroupEvent::Acknowledged => "acknowledge",
            GroupEvent::Resolved => "resolve",
            GroupEvent::Silenced => "silence",
            GroupEvent::Unacknowledged => "unacknowledge",
            GroupEvent::Unresolved => "unresolve",
            GroupEvent::Unsilenced => "unsilence",
        }
    }

    fn verb(self) -> &'static str {
        match self {
            GroupEvent::Acknowledged => "Acknowledged",
            GroupEvent::Resolved => "Resolved",
            GroupEvent::Silenced => "Silenced",
            GroupEvent::Unacknowledged => "Unacknowledged",
            GroupEvent::Unresolved => "Reopened",
            GroupEvent::Unsilenced => "Unsilenced",
        }
    }

    /// The group's state after it (as `group_states` keeps it).
    fn state_after(self) -> &'static str {
        match self {
            GroupEvent::Acknowledged => "acknowledged",
            GroupEvent::Resolved => "resolved",
            GroupEvent::Silenced => "silenced",
            GroupEvent::Unacknowledged | GroupEvent::Unresolved | GroupEvent::Unsilenced => {
                "firing"
            }
        }
    }

    /// Whether the pages still waiting for the group are no longer needed.
    fn settles_the_group(self) -> bool {
        matches!(
            self,
            GroupEvent::Acknowledged | GroupEvent::Resolved | GroupEvent::Silenced
        )
    }
}

#[derive(Debug, Deserialize)]
struct Body {
    event: BodyEvent,
    #[serde(default)]
    user: Option<BodyUser>,
    #[serde(default)]
    alert_group: Option<BodyGroup>,
    #[serde(default)]
    alert_group_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct BodyEvent {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Debug, Deserialize)]
struct BodyUser {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

#[derive(Debug, Deserialize)]
struct BodyGroup {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    title: Option<String>,
}

/// One of OnCall's webhooks, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnCallEvent {
    pub event: GroupEvent,
    pub group_id: String,
    pub title: Option<String>,
    /// Who OnCall says acted (for an API call: the token's owner).
    pub username: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an OnCall webhook body: {0}")]
pub struct BadBody(String);

/// The webhook's body: `Ok(None)` for an event type that is not announced.
pub fn parse(body: &[u8]) -> Result<Option<OnCallEvent>, BadBody> {
    let body: Body = serde_json::from_slice(body).map_err(|err| BadBody(err.to_string()))?;
    let Some(event) = GroupEvent::from_type(&body.event.kind) else {
        return Ok(None);
    };
    let group_id = body
        .alert_group_id
        .or_else(|| body.alert_group.as_ref().and_then(|group| group.id.clone()))
        .filter(|id| !id.is_empty())
        .ok_or_else(|| BadBody("no alert_group_id".to_owned()))?;
    if group_id.len() > 64 {
        return Err(BadBody("alert_group_id is too long".to_owned()));
    }
    let user = body.user;
    Ok(Some(OnCallEvent {
        event,
        group_id,
        title: body.alert_group.and_then(|group| group.title),
        username: user.as_ref().and_then(|user| user.username.clone()),
        email: user.and_then(|user| user.email),
    }))
}

/// What an announcement did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Announced {
    pub told: usize,
    pub cancelled: u64,
}

/// Cancels the group's waiting pages (when it is settled) and queues one message to
/// each person paged for it, but the one who acted, through the plugin that reached
/// them. Safe to run on every replica that hears the webhook: each person is told once.
pub async fn announce(store: &Store, event: &OnCallEvent) -> Result<Announced, StoreError> {
    let verb = event.event.verb();
    let mut announced = Announced::default();
    store
        .set_group_state(&event.group_id, event.event.state_after())
        .await?;
    // Who was reached is read before the waiting pages are cancelled: a page awaiting
    // its receipt reached its provider, and its person is told too.
    let paged = store.paged_for_group(&event.group_id).await?;
    if event.event.settles_the_group() {
        announced.cancelled = store
            .cancel_waiting_pages(
                &event.group_id,
                &format!("alert group {} in OnCall", verb.to_lowercase()),
            )
            .await?;
    }
    let (actor_id, actor_name) = actor(store, event).await?;
    let title = event
        .title
        .clone()
        .filter(|title| !title.trim().is_empty())
        .unwrap_or_else(|| format!("alert group {}", event.group_id));
    let text = format!("{verb} by {actor_name} ({title})");
    for person in paged {
        let acted = actor_id.as_deref() == Some(person.user_id.as_str())
            || (actor_id.is_none()
                && event.email.as_deref().is_some_and(|email| {
                    person
                        .email
                        .as_deref()
                        .is_some_and(|own| own.eq_ignore_ascii_case(email))
                }));
        if acted {
            continue;
        }
        let kind = event.event.as_type();
        if !store
            .claim_announcement(&event.group_id, kind, &person.user_id)
            .await?
        {
            continue;
        }
        // A call to say the page was dealt with would wake someone for nothing.
        let channel = match person.channel {
            Channel::Call => Channel::Sms,
            other => other,
        };
        let id = store
            .accept_notification(NewNotification {
                channel,
                user_id: Some(person.user_id.clone()),
                recipient_email: person.email.clone(),
                message: text.clone(),
                payload: json!({
                    "source": SOURCE,
                    "plugin": person.plugin,
                    "alert_group_id": event.group_id,
                    "event": kind,
                }),
            })
            .await?;
        store.set_alert_group(id, &event.group_id).await?;
        store
            .note_announcement(&event.group_id, kind, &person.user_id, id)
            .await?;
        announced.told += 1;
    }
    tracing::info!(
        group = %event.group_id,
        event = event.event.as_type(),
        told = announced.told,
        cancelled = announced.cancelled,
        "OnCall webhook: the people paged are told"
    );
    Ok(announced)
}

/// Who acted: the person who did it through a page, if one did just now, else whom
/// OnCall names. Their user id, when they are one of ours, and their name.
async fn actor(store: &Store, event: &OnCallEvent) -> Result<(Option<String>, String), StoreError> {
    if let Some(user_id) = store
        .recent_responder(&event.group_id, event.event.as_type(), RESPONDER_WINDOW)
        .await?
    {
        if let Some(user) = store.find_user(&user_id).await? {
            let name = if user.name.trim().is_empty() {
                user.username
            } else {
                user.name
            };
            return Ok((Some(user_id), name));
        }
    }
    let name = event
        .username
        .clone()
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| "someone in OnCall".to_owned());
    Ok((None, name))
}

/// The plugin an announcement must go through, if `payload` is one.
pub fn pinned_plugin(payload: &serde_json::Value) -> Option<&str> {
    if payload.get("source")?.as_str()? != SOURCE {
        return None;
    }
    payload.get("plugin")?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engines_forward_all_body_is_read() {
        let body = json!({
            "event": {"type": "resolve", "time": "2026-11-28T10:00:00Z"},
            "user": {"id": "UABC", "username": "bob", "email": "bob@example.com"},
            "alert_group": {"id": "IDISK1", "title": "Disk full", "state": "resolved",
                            "permalinks": {"web": "https://grafana/a/grafana-oncall-app/alert-groups/IDISK1"}},
            "alert_group_id": "IDISK1",
            "alert_payload": {},
            "integration": {"id": "C1", "type": "grafana_alerting", "name": "Grafana", "team": null},
            "notified_users": [], "users_to_be_notified": [],
            "alert_group_acknowledged_by": null, "alert_group_resolved_by": null
        });
        let event = parse(body.to_string().as_bytes()).unwrap().unwrap();
        assert_eq!(event.event, GroupEvent::Resolved);
        assert_eq!(event.group_id, "IDISK1");
        assert_eq!(event.title.as_deref(), Some("Disk full"));
        assert_eq!(event.username.as_deref(), Some("bob"));
    }

    #[test]
    fn other_events_are_ignored_and_broken_bodies_refused() {
        let created = json!({"event": {"type": "alert group created"}, "alert_group_id": "I1"});
        assert_eq!(parse(created.to_string().as_bytes()), Ok(None));
        assert!(parse(b"not json").is_err());
        assert!(
            parse(br#"{"event": {"type": "resolve"}}"#).is_err(),
            "no group"
        );
        assert!(parse(br#"{"event": "resolve", "alert_group_id": "I1"}"#).is_err());
        let long = json!({"event": {"type": "resolve"}, "alert_group_id": "I".repeat(100)});
        assert!(parse(long.to_string().as_bytes()).is_err());
    }

    #[test]
    fn only_announcements_are_pinned_to_a_plugin() {
        assert_eq!(
            pinned_plugin(&json!({"source": "outcome", "plugin": "twilio"})),
            Some("twilio")
        );
        assert_eq!(
            pinned_plugin(&json!({"source": "engine", "plugin": "twilio"})),
            None
        );
        assert_eq!(pinned_plugin(&json!({})), None);
    }
}
