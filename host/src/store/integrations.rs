//! Heartbeat integrations: one per engine, created idempotently by name.

use super::Cached;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Row;

use super::{Store, StoreError};
use crate::ids;

#[derive(Debug, Clone, Serialize)]
pub struct Integration {
    pub id: String,
    pub name: String,
    pub kind: String,
    #[serde(skip)]
    pub token: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
    /// When the watchdog announced it down; cleared by the next heartbeat.
    pub down_since: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, name, type, token, created_at, last_seen_at, down_notified_at";

impl Integration {
    fn from_row(row: &Row) -> Result<Self, StoreError> {
        Ok(Integration {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            kind: row.try_get("type")?,
            token: row.try_get("token")?,
            created_at: row.try_get("created_at")?,
            last_seen_at: row.try_get("last_seen_at")?,
            down_since: row.try_get("down_notified_at")?,
        })
    }
}

impl Store {
    /// The integration with this name, created if missing. Never fails on a duplicate:
    /// the engine cannot recover from a duplicate-name error (see the API contract §4.4).
    pub async fn ensure_integration(
        &self,
        name: &str,
        kind: &str,
    ) -> Result<Integration, StoreError> {
        let client = self.client().await?;
        // DO UPDATE (a no-op) rather than DO NOTHING so RETURNING yields the existing row.
        let row = client
            .query_one_cached(
                &format!(
                    "INSERT INTO integrations (id, name, type, token) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
                     RETURNING {COLUMNS}"
                ),
                &[
                    &ids::integration_id(),
                    &name,
                    &kind,
                    &ids::heartbeat_token(),
                ],
            )
            .await?;
        Integration::from_row(&row)
    }

    pub async fn find_integrations_by_name(
        &self,
        name: &str,
    ) -> Result<Vec<Integration>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query_cached(
                &format!("SELECT {COLUMNS} FROM integrations WHERE name = $1"),
                &[&name],
            )
            .await?;
        rows.iter().map(Integration::from_row).collect()
    }

    pub async fn find_integration(&self, id: &str) -> Result<Option<Integration>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt_cached(
                &format!("SELECT {COLUMNS} FROM integrations WHERE id = $1"),
                &[&id],
            )
            .await?
            .as_ref()
            .map(Integration::from_row)
            .transpose()
    }

    pub async fn list_integrations(&self) -> Result<Vec<Integration>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query_cached(
                &format!("SELECT {COLUMNS} FROM integrations ORDER BY name"),
                &[],
            )
            .await?;
        rows.iter().map(Integration::from_row).collect()
    }

    /// Records a heartbeat; `None` when no integration has this token. The second value
    /// is when the watchdog had declared it down, if it had: this ping ends that outage,
    /// and only this one call sees it.
    pub async fn record_heartbeat(
        &self,
        token: &str,
    ) -> Result<Option<(Integration, Option<DateTime<Utc>>)>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt_cached(
                "WITH previous AS (
                     SELECT id, down_notified_at FROM integrations WHERE token = $1 FOR UPDATE
                 )
                 UPDATE integrations i SET last_seen_at = now(), down_notified_at = NULL
                 FROM previous WHERE i.id = previous.id
                 RETURNING i.id, i.name, i.type, i.token, i.created_at, i.last_seen_at,
                           i.down_notified_at, previous.down_notified_at AS was_down_at",
                &[&token],
            )
            .await?;
        match row {
            None => Ok(None),
            Some(row) => Ok(Some((
                Integration::from_row(&row)?,
                row.try_get("was_down_at")?,
            ))),
        }
    }

    /// Marks every integration silent for longer than `timeout` as down, once per
    /// outage; returns those newly marked. Atomic, so one replica announces each.
    pub async fn mark_silent_integrations_down(
        &self,
        timeout: std::time::Duration,
    ) -> Result<Vec<Integration>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query_cached(
                &format!(
                    "UPDATE integrations SET down_notified_at = now()
                     WHERE down_notified_at IS NULL
                       AND coalesce(last_seen_at, created_at) < now() - make_interval(secs => $1)
                     RETURNING {COLUMNS}"
                ),
                &[&timeout.as_secs_f64()],
            )
            .await?;
        rows.iter().map(Integration::from_row).collect()
    }
}
