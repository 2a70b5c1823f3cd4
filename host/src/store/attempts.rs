//! Delivery bookkeeping: claiming a notification, recording each attempt, settling it.

use super::Cached;
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
#[derive(Debug, Clone, Copy)]
pub enum Settlement<'a> {
    Delivered {
        by: &'a str,
    },
    /// `by`'s provider took it; wait until `until` for a receipt or an action, then go
    /// on with the route's plugin at `next_position`.
    Await {
        by: &'a str,
        until: DateTime<Utc>,
        next_position: i32,
    },
    /// Try again at `retry_at`.
    Retry {
        error: &'a str,
        retry_at: DateTime<Utc>,
    },
    Dead {
        error: &'a str,
    },
    /// The round was claimed but nothing could be tried (no plugin loaded): hand it
    /// back as it was, to look at again at `retry_at`.
    Unclaim {
        reason: &'a str,
        retry_at: DateTime<Utc>,
    },
}

/// How far a notification may be retried: `delivery.max_attempts` and
/// `delivery.max_age`, which also bound rounds that never settled.
#[derive(Debug, Clone, Copy)]
pub struct RetryBudget {
    pub max_attempts: i32,
    pub max_age: std::time::Duration,
}

/// A notification claimed for one delivery round.
#[derive(Debug, Clone, Copy)]
pub struct Claim {
    pub id: Uuid,
    /// 1 on the first round; also the claim's fencing token.
    pub attempt: i32,
    /// When the claim was asked for: its lease runs at least this long from here.
    pub leased_at: std::time::Instant,
}

pub struct NewAttempt<'a> {
    pub notification_id: Uuid,
    pub attempt: i32,
    pub plugin: &'a str,
    pub plugin_version: &'a str,
    pub outcome: &'static str,
    pub error: Option<&'a str>,
    pub receipt: Option<&'a str>,
    /// The provider's id for what was sent, to match its receipts.
    pub provider_id: Option<&'a str>,
    pub duration_ms: i32,
}

impl Store {
    /// Takes the notification for one delivery round if nobody holds it (or its holder's
    /// lease ran out).
    pub async fn claim_notification(
        &self,
        id: Uuid,
        owner: &str,
        lease: std::time::Duration,
        budget: RetryBudget,
    ) -> Result<Option<Claim>, StoreError> {
        let client = self.client().await?;
        let leased_at = std::time::Instant::now();
        let row = client
            .query_opt_cached(
                "UPDATE notifications
                 SET status = 'delivering', attempts = attempts + 1, lease_owner = $2,
                     lease_until = now() + make_interval(secs => $3), updated_at = now()
                 WHERE id = $1 AND (status IN ('pending', 'failed')
                                    OR (status = 'awaiting' AND next_attempt_at <= now())
                                    OR (status = 'delivering' AND lease_until < now()
                                        AND attempts - retry_base_attempts < $4
                                        AND coalesce(retry_requested_at, created_at)
                                            > now() - make_interval(secs => $5)))
                 RETURNING attempts",
                &[
                    &id,
                    &owner,
                    &lease.as_secs_f64(),
                    &budget.max_attempts,
                    &budget.max_age.as_secs_f64(),
                ],
            )
            .await?;
        Ok(row.map(|row| Claim {
            id,
            attempt: row.get(0),
            leased_at,
        }))
    }

    /// Ends, as dead, the rounds whose lease ran out without a settle and whose budget
    /// is spent: a notification whose round kills the process (a poison pill) would
    /// otherwise be claimed again, and kill again, forever.
    pub async fn bury_exhausted(&self, budget: RetryBudget) -> Result<u64, StoreError> {
        let client = self.client().await?;
        Ok(client
            .execute_cached(
                "UPDATE notifications
                 SET status = 'dead', lease_owner = NULL, lease_until = NULL, updated_at = now(),
                     last_error = 'gave up: its delivery round never finished (the replica \
                                   holding it stopped or crashed) and the retry budget is spent'
                                  || coalesce('; last error: ' || last_error, '')
                 WHERE status = 'delivering' AND lease_until < now()
                   AND (attempts - retry_base_attempts >= $1
                        OR coalesce(retry_requested_at, created_at)
                           <= now() - make_interval(secs => $2))",
                &[&budget.max_attempts, &budget.max_age.as_secs_f64()],
            )
            .await?)
    }

    /// Claims up to `limit` due notifications: pending or failed ones whose time has come,
    /// and ones whose holder's lease ran out. Replicas skip each other's locked rows.
    pub async fn claim_due(
        &self,
        owner: &str,
        lease: std::time::Duration,
        limit: i64,
        budget: RetryBudget,
    ) -> Result<Vec<Claim>, StoreError> {
        let client = self.client().await?;
        let leased_at = std::time::Instant::now();
        let rows = client
            .query_cached(
                "UPDATE notifications n
                 SET status = 'delivering', attempts = n.attempts + 1, lease_owner = $1,
                     lease_until = now() + make_interval(secs => $2), updated_at = now()
                 FROM (SELECT id FROM notifications
                       WHERE (status IN ('pending', 'failed', 'awaiting') AND next_attempt_at <= now())
                          OR (status = 'delivering' AND lease_until < now()
                              AND attempts - retry_base_attempts < $4
                              AND coalesce(retry_requested_at, created_at)
                                  > now() - make_interval(secs => $5))
                       ORDER BY next_attempt_at
                       LIMIT $3
                       FOR UPDATE SKIP LOCKED) due
                 WHERE n.id = due.id
                 RETURNING n.id, n.attempts",
                &[
                    &owner,
                    &lease.as_secs_f64(),
                    &limit,
                    &budget.max_attempts,
                    &budget.max_age.as_secs_f64(),
                ],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| Claim {
                id: row.get(0),
                attempt: row.get(1),
                leased_at,
            })
            .collect())
    }

    /// Notes, on a round we hold, which plugins of a fan-out already delivered (comma
    /// separated), so its retry skips them even when their attempt rows could not be
    /// written. False when the claim is no longer ours.
    pub async fn keep_delivered_by(
        &self,
        claim: Claim,
        owner: &str,
        plugins: &str,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let updated = client
            .execute_cached(
                "UPDATE notifications SET delivered_by = $4
                 WHERE id = $1 AND lease_owner = $2 AND status = 'delivering' AND attempts = $3",
                &[&claim.id, &owner, &claim.attempt, &plugins],
            )
            .await?;
        Ok(updated == 1)
    }

    /// Extends the lease of `claim` before a plugin call; false when it is no longer
    /// ours. The attempt number fences it: a later claim of the same notification, even
    /// by this replica, makes the earlier round's renewals and settles fail.
    pub async fn renew_lease(
        &self,
        claim: Claim,
        owner: &str,
        lease: std::time::Duration,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let updated = client
            .execute_cached(
                "UPDATE notifications SET lease_until = now() + make_interval(secs => $3)
                 WHERE id = $1 AND lease_owner = $2 AND status = 'delivering' AND attempts = $4",
                &[&claim.id, &owner, &lease.as_secs_f64(), &claim.attempt],
            )
            .await?;
        Ok(updated == 1)
    }

    /// Hands back every round this replica still holds, to be retried at once by any
    /// replica: what a clean shutdown does with work it could not finish.
    pub async fn release_leases(&self, owner: &str) -> Result<u64, StoreError> {
        let client = self.client().await?;
        Ok(client
            .execute_cached(
                "UPDATE notifications
                 SET status = 'failed', next_attempt_at = now(), lease_owner = NULL,
                     lease_until = NULL, updated_at = now(),
                     last_error = coalesce(last_error, 'released at shutdown')
                 WHERE lease_owner = $1 AND status = 'delivering'",
                &[&owner],
            )
            .await?)
    }

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

    pub async fn record_attempt(&self, attempt: &NewAttempt<'_>) -> Result<(), StoreError> {
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
    pub async fn settle_notification(
        &self,
        claim: Claim,
        owner: &str,
        settlement: Settlement<'_>,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let id = claim.id;
        let release = "lease_owner = NULL, lease_until = NULL, updated_at = now()";
        // The attempt number ($3) is the fencing token (see `renew_lease`).
        let mine = "id = $1 AND lease_owner = $2 AND status = 'delivering' AND attempts = $3";
        let attempt = claim.attempt;
        let updated = match settlement {
            Settlement::Delivered { by } => client.execute_cached(
                &format!("UPDATE notifications SET status = 'delivered', delivered_by = $4, delivered_at = now(), last_error = NULL, {release} WHERE {mine}"),
                &[&id, &owner, &attempt, &by],
            ).await?,
            Settlement::Await { by, until, next_position } => client.execute_cached(
                // A group dealt with while the round ran (an action, OnCall's webhook) needs
                // no confirmation: the page ends delivered.
                &format!("UPDATE notifications SET status = CASE WHEN EXISTS (SELECT 1 FROM group_states g WHERE g.alert_group_id = notifications.alert_group_id AND g.state <> 'firing') THEN 'delivered' ELSE 'awaiting' END, delivered_by = $4, delivered_at = now(), next_attempt_at = $5, route_position = $6, last_error = NULL, {release} WHERE {mine}"),
                &[&id, &owner, &attempt, &by, &until, &next_position],
            ).await?,
            Settlement::Retry { error, retry_at } => client.execute_cached(
                &format!("UPDATE notifications SET status = 'failed', last_error = $4, next_attempt_at = $5, {release} WHERE {mine}"),
                &[&id, &owner, &attempt, &error, &retry_at],
            ).await?,
            Settlement::Dead { error } => client.execute_cached(
                &format!("UPDATE notifications SET status = 'dead', last_error = $4, {release} WHERE {mine}"),
                &[&id, &owner, &attempt, &error],
            ).await?,
            // The claim counted an attempt that never happened: take it back.
            Settlement::Unclaim { reason, retry_at } => client.execute_cached(
                &format!("UPDATE notifications SET status = CASE WHEN attempts - 1 > retry_base_attempts THEN 'failed' ELSE 'pending' END, attempts = attempts - 1, last_error = $4, next_attempt_at = $5, {release} WHERE {mine}"),
                &[&id, &owner, &attempt, &reason, &retry_at],
            ).await?,
        };
        Ok(updated == 1)
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
