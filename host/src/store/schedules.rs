//! Schedule state: the last on-call set, polling claims, and announced shift changes.

use super::Cached;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Row;
use uuid::Uuid;

use super::notifications::NewNotification;
use super::{Store, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct ScheduleState {
    pub name: String,
    /// `None` until the first successful poll.
    pub on_call: Option<Vec<String>>,
    #[serde(skip)]
    pub body: Option<String>,
    #[serde(skip)]
    pub etag: Option<String>,
    #[serde(skip)]
    pub last_modified: Option<String>,
    pub last_polled_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "name, on_call, body, etag, last_modified, last_polled_at, last_error, last_error_at";

impl ScheduleState {
    fn from_row(row: &Row) -> Result<Self, StoreError> {
        let on_call: Option<serde_json::Value> = row.try_get("on_call")?;
        Ok(ScheduleState {
            name: row.try_get("name")?,
            on_call: on_call.and_then(|value| serde_json::from_value(value).ok()),
            body: row.try_get("body")?,
            etag: row.try_get("etag")?,
            last_modified: row.try_get("last_modified")?,
            last_polled_at: row.try_get("last_polled_at")?,
            last_error: row.try_get("last_error")?,
            last_error_at: row.try_get("last_error_at")?,
        })
    }
}

/// A shift change to announce once.
pub struct Transition<'a> {
    pub schedule: &'a str,
    pub username: &'a str,
    pub kind: &'static str,
    pub at: DateTime<Utc>,
}

/// What a successful poll saw.
pub struct PollResult<'a> {
    pub on_call: &'a [String],
    pub body: &'a str,
    pub etag: Option<&'a str>,
    pub last_modified: Option<&'a str>,
}

impl Store {
    /// Makes sure every configured schedule has a row (new ones are due at once).
    pub async fn ensure_schedules(&self, names: &[String]) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute_cached(
                "INSERT INTO schedules (name) SELECT unnest($1::text[]) ON CONFLICT (name) DO NOTHING",
                &[&names],
            )
            .await?;
        Ok(())
    }

    /// Claims due schedules among `names` for one poll each; other replicas skip them.
    pub async fn claim_due_schedules(
        &self,
        names: &[String],
        owner: &str,
        hold: std::time::Duration,
    ) -> Result<Vec<ScheduleState>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query_cached(
                &format!(
                    "UPDATE schedules s SET poll_owner = $2, poll_until = now() + make_interval(secs => $3)
                     FROM (SELECT name FROM schedules
                           WHERE name = ANY($1) AND next_poll_at <= now()
                             AND (poll_until IS NULL OR poll_until < now())
                           FOR UPDATE SKIP LOCKED) due
                     WHERE s.name = due.name
                     RETURNING {}",
                    COLUMNS
                        .split(", ")
                        .map(|c| format!("s.{c}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                &[&names, &owner, &hold.as_secs_f64()],
            )
            .await?;
        rows.iter().map(ScheduleState::from_row).collect()
    }

    /// Stores a successful poll and releases the claim.
    pub async fn finish_poll(
        &self,
        name: &str,
        owner: &str,
        result: PollResult<'_>,
        next_poll: std::time::Duration,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute_cached(
                "UPDATE schedules SET on_call = $3, body = $4, etag = $5, last_modified = $6,
                     last_polled_at = now(), last_error = NULL, last_error_at = NULL,
                     next_poll_at = now() + make_interval(secs => $7), poll_owner = NULL, poll_until = NULL
                 WHERE name = $1 AND poll_owner = $2",
                &[
                    &name,
                    &owner,
                    &serde_json::json!(result.on_call),
                    &result.body,
                    &result.etag,
                    &result.last_modified,
                    &next_poll.as_secs_f64(),
                ],
            )
            .await?;
        Ok(())
    }

    /// Records a failed poll; the on-call set stays as it was (no false "off duty").
    pub async fn fail_poll(
        &self,
        name: &str,
        owner: &str,
        error: &str,
        next_poll: std::time::Duration,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute_cached(
                "UPDATE schedules SET last_error = $3, last_error_at = now(),
                     next_poll_at = now() + make_interval(secs => $4), poll_owner = NULL, poll_until = NULL
                 WHERE name = $1 AND poll_owner = $2",
                &[&name, &owner, &error, &next_poll.as_secs_f64()],
            )
            .await?;
        Ok(())
    }

    /// Records the transition and, if this call is the first to record it, queues its
    /// notification in the same transaction. Returns the notification id when queued.
    pub async fn announce_transition(
        &self,
        transition: Transition<'_>,
        notification: Option<NewNotification>,
    ) -> Result<Option<Option<Uuid>>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let inserted = tx
            .query_opt_cached(
                "INSERT INTO shift_events (schedule, username, kind, at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING RETURNING at",
                &[
                    &transition.schedule,
                    &transition.username,
                    &transition.kind,
                    &transition.at,
                ],
            )
            .await?;
        if inserted.is_none() {
            return Ok(None);
        }
        let mut id = None;
        if let Some(new) = notification {
            let notification_id = super::notifications::insert(&tx, &new).await?;
            tx.execute_cached(
                "UPDATE shift_events SET notification = $5
                 WHERE schedule = $1 AND username = $2 AND kind = $3 AND at = $4",
                &[
                    &transition.schedule,
                    &transition.username,
                    &transition.kind,
                    &transition.at,
                    &notification_id,
                ],
            )
            .await?;
            id = Some(notification_id);
        }
        tx.commit().await?;
        Ok(Some(id))
    }

    /// The announced start of the stretch of duty that is ending at `end`: the latest
    /// start before it that no end has closed yet. `None` when that start was never
    /// announced (it was on duty at the schedule's first poll).
    pub async fn open_shift_start(
        &self,
        schedule: &str,
        username: &str,
        end: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt_cached(
                "SELECT s.at FROM shift_events s
                 WHERE s.schedule = $1 AND s.username = $2 AND s.kind = 'start' AND s.at <= $3
                   AND NOT EXISTS (
                       SELECT 1 FROM shift_events e
                       WHERE e.schedule = s.schedule AND e.username = s.username
                         AND e.kind = 'end' AND e.at > s.at)
                 ORDER BY s.at DESC LIMIT 1",
                &[&schedule, &username, &end],
            )
            .await?;
        Ok(row.map(|row| row.get(0)))
    }

    pub async fn list_schedules(&self) -> Result<Vec<ScheduleState>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query_cached(
                &format!("SELECT {COLUMNS} FROM schedules ORDER BY name"),
                &[],
            )
            .await?;
        rows.iter().map(ScheduleState::from_row).collect()
    }
}
