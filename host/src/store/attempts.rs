//! Delivery bookkeeping: claiming a notification, recording each attempt, settling it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{Store, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub attempt: i32,
    pub plugin: String,
    pub plugin_version: String,
    pub outcome: String,
    pub error: Option<String>,
    pub receipt: Option<String>,
    pub duration_ms: i32,
    pub started_at: DateTime<Utc>,
}

/// How a delivery round ended, as stored.
pub enum Settlement<'a> {
    Delivered {
        by: &'a str,
    },
    /// Try again at `retry_at`.
    Retry {
        error: &'a str,
        retry_at: DateTime<Utc>,
    },
    Dead {
        error: &'a str,
    },
    /// Nothing could be tried (no plugin loaded): stays as it was, looked at again later.
    Waiting {
        reason: &'a str,
        retry_at: DateTime<Utc>,
    },
}

pub struct NewAttempt<'a> {
    pub notification_id: Uuid,
    pub attempt: i32,
    pub plugin: &'a str,
    pub plugin_version: &'a str,
    pub outcome: &'static str,
    pub error: Option<&'a str>,
    pub receipt: Option<&'a str>,
    pub duration_ms: i32,
}

impl Store {
    /// Takes the notification for one delivery round if nobody else holds it; returns
    /// the attempt number (1 for the first round).
    pub async fn claim_notification(
        &self,
        id: Uuid,
        owner: &str,
        lease_secs: i32,
    ) -> Result<Option<i32>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "UPDATE notifications
                 SET status = 'delivering', attempts = attempts + 1, lease_owner = $2,
                     lease_until = now() + make_interval(secs => $3), updated_at = now()
                 WHERE id = $1 AND (status IN ('pending', 'failed')
                                    OR (status = 'delivering' AND lease_until < now()))
                 RETURNING attempts",
                &[&id, &owner, &f64::from(lease_secs)],
            )
            .await?;
        Ok(row.map(|row| row.get(0)))
    }

    pub async fn record_attempt(&self, attempt: NewAttempt<'_>) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO delivery_attempts
                     (notification_id, attempt, plugin, plugin_version, outcome, error, receipt, duration_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &attempt.notification_id,
                    &attempt.attempt,
                    &attempt.plugin,
                    &attempt.plugin_version,
                    &attempt.outcome,
                    &attempt.error,
                    &attempt.receipt,
                    &attempt.duration_ms,
                ],
            )
            .await?;
        Ok(())
    }

    /// Plugins that already delivered this notification (a fan-out retry skips them).
    pub async fn delivered_by_plugins(&self, id: Uuid) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT DISTINCT plugin FROM delivery_attempts
                 WHERE notification_id = $1 AND outcome = 'delivered'",
                &[&id],
            )
            .await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    pub async fn attempts(&self, id: Uuid) -> Result<Vec<Attempt>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT attempt, plugin, plugin_version, outcome, error, receipt, duration_ms, started_at
                 FROM delivery_attempts WHERE notification_id = $1 ORDER BY id",
                &[&id],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Attempt {
                    attempt: row.try_get(0)?,
                    plugin: row.try_get(1)?,
                    plugin_version: row.try_get(2)?,
                    outcome: row.try_get(3)?,
                    error: row.try_get(4)?,
                    receipt: row.try_get(5)?,
                    duration_ms: row.try_get(6)?,
                    started_at: row.try_get(7)?,
                })
            })
            .collect()
    }

    /// Ends a round: releases the lease and stores where the notification stands.
    pub async fn settle_notification(
        &self,
        id: Uuid,
        settlement: Settlement<'_>,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        let release = "lease_owner = NULL, lease_until = NULL, updated_at = now()";
        match settlement {
            Settlement::Delivered { by } => client.execute(
                &format!("UPDATE notifications SET status = 'delivered', delivered_by = $2, delivered_at = now(), last_error = NULL, {release} WHERE id = $1"),
                &[&id, &by],
            ).await?,
            Settlement::Retry { error, retry_at } => client.execute(
                &format!("UPDATE notifications SET status = 'failed', last_error = $2, next_attempt_at = $3, {release} WHERE id = $1"),
                &[&id, &error, &retry_at],
            ).await?,
            Settlement::Dead { error } => client.execute(
                &format!("UPDATE notifications SET status = 'dead', last_error = $2, {release} WHERE id = $1"),
                &[&id, &error],
            ).await?,
            // Nothing was claimed or tried: only note why, and never touch a row that
            // another replica is delivering right now.
            Settlement::Waiting { reason, retry_at } => client.execute(
                "UPDATE notifications SET last_error = $2, next_attempt_at = $3, updated_at = now()
                 WHERE id = $1 AND status IN ('pending', 'failed')",
                &[&id, &reason, &retry_at],
            ).await?,
        };
        Ok(())
    }
}
