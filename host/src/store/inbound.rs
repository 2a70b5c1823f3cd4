//! What providers' calls meant and what came of it (`inbound_events`), the digests that
//! make a replayed call act once (`inbound_requests`), and the links a delivery round
//! leaves for them: a notification's alert group, an attempt's provider id.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{Cached, Store, StoreError};

/// An inbound event to store with its outcome.
pub struct NewInboundEvent<'a> {
    pub plugin: &'a str,
    pub notification_id: Option<Uuid>,
    pub alert_group_id: Option<&'a str>,
    /// `acknowledge`, `resolve`, `silence`, `unacknowledge`, `delivered`,
    /// `not_delivered` or `not_answered`.
    pub kind: &'static str,
    pub detail: Option<&'a str>,
    pub via: &'a str,
    pub ok: bool,
    pub outcome: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub struct InboundEventRow {
    pub plugin: String,
    pub alert_group_id: Option<String>,
    pub kind: String,
    pub detail: Option<String>,
    pub via: String,
    pub ok: bool,
    pub outcome: String,
    pub received_at: DateTime<Utc>,
}

impl Store {
    /// True the first time this digest of a provider's call is seen within `keep`;
    /// false for a replay. Older digests are dropped on the way.
    pub async fn first_sight_of_request(
        &self,
        digest: &[u8],
        plugin: &str,
        keep: Duration,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let keep_secs = keep.as_secs_f64();
        client
            .execute_cached(
                "DELETE FROM inbound_requests
                 WHERE received_at < now() - make_interval(secs => $1)",
                &[&keep_secs],
            )
            .await?;
        let inserted = client
            .execute_cached(
                "INSERT INTO inbound_requests (digest, plugin) VALUES ($1, $2)
                 ON CONFLICT (digest) DO NOTHING",
                &[&digest, &plugin],
            )
            .await?;
        Ok(inserted == 1)
    }

    /// Forgets a call's digest, so the same call may come again (its handling failed).
    pub async fn forget_request(&self, digest: &[u8]) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute_cached("DELETE FROM inbound_requests WHERE digest = $1", &[&digest])
            .await?;
        Ok(())
    }

    pub async fn record_inbound_event(
        &self,
        event: &NewInboundEvent<'_>,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute_cached(
                "INSERT INTO inbound_events
                     (plugin, notification_id, alert_group_id, kind, detail, via, ok, outcome)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &event.plugin,
                    &event.notification_id,
                    &event.alert_group_id,
                    &event.kind,
                    &event.detail,
                    &event.via,
                    &event.ok,
                    &event.outcome,
                ],
            )
            .await?;
        Ok(())
    }

    /// A notification's inbound events, oldest first.
    pub async fn inbound_events(&self, id: Uuid) -> Result<Vec<InboundEventRow>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query_cached(
                "SELECT plugin, alert_group_id, kind, detail, via, ok, outcome, received_at
                 FROM inbound_events WHERE notification_id = $1 ORDER BY id",
                &[&id],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(InboundEventRow {
                    plugin: row.try_get(0)?,
                    alert_group_id: row.try_get(1)?,
                    kind: row.try_get(2)?,
                    detail: row.try_get(3)?,
                    via: row.try_get(4)?,
                    ok: row.try_get(5)?,
                    outcome: row.try_get(6)?,
                    received_at: row.try_get(7)?,
                })
            })
            .collect()
    }

    /// Notes the alert group a delivery round found the notification is about.
    pub async fn set_alert_group(&self, id: Uuid, group_id: &str) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute_cached(
                "UPDATE notifications SET alert_group_id = $2
                 WHERE id = $1 AND alert_group_id IS DISTINCT FROM $2",
                &[&id, &group_id],
            )
            .await?;
        Ok(())
    }

    /// The notification whose attempt through `plugin` the provider knows as
    /// `provider_id`.
    pub async fn notification_by_provider_id(
        &self,
        plugin: &str,
        provider_id: &str,
    ) -> Result<Option<Uuid>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt_cached(
                "SELECT notification_id FROM delivery_attempts
                 WHERE plugin = $1 AND provider_id = $2 ORDER BY id DESC LIMIT 1",
                &[&plugin, &provider_id],
            )
            .await?;
        Ok(row.map(|row| row.try_get(0)).transpose()?)
    }

    /// A receipt or an action confirmed an awaiting page: it is delivered, and its
    /// route goes no further. False when it was not awaiting.
    pub async fn confirm_page(&self, id: Uuid) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let updated = client
            .execute_cached(
                "UPDATE notifications SET status = 'delivered', updated_at = now()
                 WHERE id = $1 AND status = 'awaiting'",
                &[&id],
            )
            .await?;
        Ok(updated == 1)
    }

    /// A receipt said an awaiting page did not get through: its route moves on now
    /// rather than at the end of the wait. False when it was not awaiting.
    pub async fn move_on_now(&self, id: Uuid, why: &str) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let updated = client
            .execute_cached(
                "UPDATE notifications SET next_attempt_at = now(), last_error = $2, updated_at = now()
                 WHERE id = $1 AND status = 'awaiting'",
                &[&id, &why],
            )
            .await?;
        Ok(updated == 1)
    }
}
