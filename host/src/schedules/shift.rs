//! What a shift change says: the text a person gets through a plugin, and the body a
//! `callback` schedule POSTs in OnCall's "Formatted webhook" shape.
//!
//! The formatted-webhook integration groups alerts by `alert_uid` and resolves a group
//! when `state` is `ok`, so the start and the end of one shift share one `alert_uid`:
//! OnCall shows each shift as an alert group that opens when it starts and resolves
//! when it ends.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::store::users::User;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShiftEvent {
    Start,
    End,
}

impl ShiftEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            ShiftEvent::Start => "start",
            ShiftEvent::End => "end",
        }
    }
}

/// One person going on or off duty on one schedule.
#[derive(Debug, Clone)]
pub struct ShiftChange<'a> {
    /// The schedule's key under `grafana.oncall.schedules`.
    pub schedule: &'a str,
    /// Its display name (`name`, else the key).
    pub title: &'a str,
    /// The username from the export.
    pub person: &'a str,
    pub event: ShiftEvent,
    /// When this stretch of duty began.
    pub shift_start: DateTime<Utc>,
    /// When it ends (a start) or ended (an end).
    pub shift_end: DateTime<Utc>,
}

fn minute(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

impl ShiftChange<'_> {
    /// The instant the change happened, the key it is recorded under.
    pub fn at(&self) -> DateTime<Utc> {
        match self.event {
            ShiftEvent::Start => self.shift_start,
            ShiftEvent::End => self.shift_end,
        }
    }

    /// The text sent to the person through the `shift` channel.
    pub fn personal_message(&self) -> String {
        match self.event {
            ShiftEvent::Start => format!(
                "You are on call for {} now, until {}.",
                self.title,
                minute(self.shift_end)
            ),
            ShiftEvent::End => format!("Your on-call shift for {} is over.", self.title),
        }
    }

    /// The same for one alert group per shift: derived from what identifies the shift,
    /// so replicas, restarts and retries all send the same value.
    pub fn alert_uid(&self) -> String {
        let digest = Sha256::new()
            .chain_update(self.schedule.as_bytes())
            .chain_update([0])
            .chain_update(self.person.as_bytes())
            .chain_update([0])
            .chain_update(self.shift_start.to_rfc3339().as_bytes())
            .finalize();
        let hex = hex::encode(&digest[..16]);
        format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }

    /// The formatted-webhook body: `alert_uid`, `title`, `message` and `state` are what
    /// OnCall's default templates read; the rest is there for custom templates.
    pub fn callback_body(&self, user: Option<&User>) -> Value {
        let (title, message, state) = match self.event {
            ShiftEvent::Start => (
                format!("{} is on call for {}", self.person, self.title),
                format!(
                    "{} is on call for {} from {} until {}.",
                    self.person,
                    self.title,
                    minute(self.shift_start),
                    minute(self.shift_end)
                ),
                "alerting",
            ),
            ShiftEvent::End => (
                format!("{} is off call for {}", self.person, self.title),
                format!(
                    "{}'s on-call shift for {} ended at {}.",
                    self.person,
                    self.title,
                    minute(self.shift_end)
                ),
                "ok",
            ),
        };
        json!({
            "alert_uid": self.alert_uid(),
            "title": title,
            "message": message,
            "state": state,
            "event": self.event.as_str(),
            "schedule": {"key": self.schedule, "name": self.title},
            "user": {
                "username": self.person,
                "email": user.map(|u| u.email.as_str()),
                "name": user.map(|u| u.name.as_str()),
            },
            "shift": {"start": self.shift_start.to_rfc3339(), "end": self.shift_end.to_rfc3339()},
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn change(event: ShiftEvent) -> ShiftChange<'static> {
        ShiftChange {
            schedule: "primary",
            title: "Primary",
            person: "alice",
            event,
            shift_start: Utc.with_ymd_and_hms(2026, 3, 23, 9, 0, 0).unwrap(),
            shift_end: Utc.with_ymd_and_hms(2026, 3, 23, 17, 0, 0).unwrap(),
        }
    }

    #[test]
    fn start_and_end_of_one_shift_share_the_alert_uid() {
        let start = change(ShiftEvent::Start).callback_body(None);
        let end = change(ShiftEvent::End).callback_body(None);
        assert_eq!(start["alert_uid"], end["alert_uid"]);
        assert_eq!(start["state"], "alerting");
        assert_eq!(end["state"], "ok");
        assert_eq!(start["title"], "alice is on call for Primary");
        assert_eq!(
            start["message"],
            "alice is on call for Primary from 2026-03-23 09:00 UTC until 2026-03-23 17:00 UTC."
        );
        assert_eq!(end["user"]["username"], "alice");
    }

    #[test]
    fn another_shift_or_person_gets_another_alert_uid() {
        let first = change(ShiftEvent::Start);
        let mut later = change(ShiftEvent::Start);
        later.shift_start += chrono::Duration::days(7);
        let mut bob = change(ShiftEvent::Start);
        bob.person = "bob";
        assert_ne!(first.alert_uid(), later.alert_uid());
        assert_ne!(first.alert_uid(), bob.alert_uid());
        assert_eq!(first.alert_uid().len(), 36);
    }
}
