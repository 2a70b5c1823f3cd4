//! Delivery bookkeeping: recording each attempt, settling a round, reading them back.

use super::Cached;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::claims::Claim;
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// `by`: the plugins that delivered, comma separated.
    Delivered {
        by: String,
    },
    /// `by`'s provider took it; wait until `until` for a receipt or an action, then go
    /// on with the route's plugin at `next_position`.
    Await {
        by: String,
        until: DateTime<Utc>,
        next_position: i32,
    },
    /// Try again at `retry_at`; `delivered_by` keeps which plugins of a fan-out already
    /// delivered, so the retry skips them.
    Retry {
        error: String,
        retry_at: DateTime<Utc>,
        delivered_by: Option<String>,
    },
    Dead {
        error: String,
    },
    /// The round was claimed but nothing could be tried (no plugin loaded): hand it
    /// back as it was, to look at again at `retry_at`.
    Unclaim {
        reason: String,
        retry_at: DateTime<Utc>,
    },
}

/// One attempt of a round, as its row is written.
#[derive(Debug, Clone)]
pub struct NewAttempt {
    pub notification_id: Uuid,
    pub attempt: i32,
    pub plugin: String,
    pub plugin_version: String,
    pub outcome: &'static str,
    pub error: Option<String>,
    pub receipt: Option<String>,
    /// The provider's id for what was sent, to match its receipts.
    pub provider_id: Option<String>,
    pub duration_ms: i32,
}

impl Store {
    /// Queues a failed or dead notification again with a fresh attempt budget.
    pub async fn retry_notification(&self, id: Uuid) -> Result<(), StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt_cached(
                "UPDATE notifications
                 SET status = 'pending', next_attempt_at = now(), retry_base_attempts = attempts,
                     retry_requested_at = now(), updated_at = now()
                 WHERE id = $1 AND status IN ('pending', 'failed', 'dead')
                 RETURNING id",
                &[&id],
            )
            .await?;
        if row.is_some() {
            return Ok(());
        }
        match self.get_notification(id).await? {
            None => Err(StoreError::NotFound(format!("no notification {id}"))),
            Some(found) => Err(StoreError::Conflict(format!(
                "notification {id} is {}; only pending, failed or dead ones can be retried",
                found.status.as_str()
            ))),
        }
    }

    /// One attempt row on its own: the fallback of `write_back`.
    pub async fn record_attempt(&self, attempt: &NewAttempt) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute_cached(
                "INSERT INTO delivery_attempts
                     (notification_id, attempt, plugin, plugin_version, outcome, error, receipt,
                      duration_ms, provider_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &attempt.notification_id,
                    &attempt.attempt,
                    &attempt.plugin,
                    &attempt.plugin_version,
                    &attempt.outcome,
                    &attempt.error,
                    &attempt.receipt,
                    &attempt.duration_ms,
                    &attempt.provider_id,
                ],
            )
            .await?;
        Ok(())
    }

    /// Plugins that already delivered this notification (a fan-out retry skips them).
    pub async fn delivered_by_plugins(&self, id: Uuid) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query_cached(
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
            .query_cached(
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

    /// Ends a round we hold: releases the lease and stores where the notification
    /// stands. False when the lease was no longer ours (another replica took over).
    /// Rounds settle in batches (`write_back`); this one alone, without its attempt
    /// rows, is the fallback when a batch fails, and goes through the same statement so
    /// the rules of each settlement are written once.
    pub async fn settle_notification(
        &self,
        claim: Claim,
        owner: &str,
        settlement: &Settlement,
    ) -> Result<bool, StoreError> {
        let round = super::write_back::WriteBack {
            claim,
            settlement: Some(settlement.clone()),
            attempts: Vec::new(),
        };
        let settled = self.write_back(owner, std::slice::from_ref(&round)).await?;
        Ok(settled.first().copied().unwrap_or(false))
    }

    /// Seconds since the oldest notification still waiting for delivery was accepted.
    pub async fn oldest_undelivered_age(&self) -> Result<Option<f64>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one_cached(
                "SELECT extract(epoch FROM now() - min(created_at))::float8 FROM notifications
                 WHERE status IN ('pending', 'failed', 'delivering')",
                &[],
            )
            .await?;
        Ok(row.get(0))
    }
}
