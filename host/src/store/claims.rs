//! Claiming notifications for delivery rounds: a lease in the row, fenced by the
//! attempt number, taken together with everything a round reads (the notification and
//! its user) so a round starts without another query.

use std::sync::LazyLock;

use tokio_postgres::types::ToSql;
use tokio_postgres::Row;
use uuid::Uuid;

use super::notifications::{self, Notification};
use super::users::{self, User};
use super::{Cached, Store, StoreError};

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

/// A claim with what its round needs.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub claim: Claim,
    pub notification: Notification,
    /// Its user, when it has one that still exists.
    pub user: Option<User>,
}

impl Claimed {
    /// A row of [`notifications::COLUMNS`] followed by [`users::JOINED_COLUMNS`]
    /// (all NULL when there is no user).
    pub(super) fn from_row(
        row: &Row,
        leased_at: std::time::Instant,
    ) -> Result<Claimed, StoreError> {
        let notification = Notification::from_row_at(row, 0)?;
        let user_at = notifications::COLUMN_COUNT;
        let user = match row.try_get::<_, Option<String>>(user_at)? {
            Some(_) => Some(User::from_row_at(row, user_at)?),
            None => None,
        };
        Ok(Claimed {
            claim: Claim {
                id: notification.id,
                attempt: notification.attempts,
                leased_at,
            },
            notification,
            user,
        })
    }
}

/// A round whose holder's lease ran out with budget left, claimable again; `$4`/`$5`
/// are the budget's attempts and age in every statement here.
const EXPIRED: &str = "(status = 'delivering' AND lease_until < now()
     AND attempts - retry_base_attempts < $4
     AND coalesce(retry_requested_at, created_at) > now() - make_interval(secs => $5))";

/// What a claim sets; `$1` the owner, `$2` the lease in seconds.
const TAKE: &str = "status = 'delivering', attempts = n.attempts + 1, lease_owner = $1,
     lease_until = now() + make_interval(secs => $2), updated_at = now()";

/// A claim statement: `UPDATE notifications n SET {TAKE} <rows>`, returning each
/// claimed notification with its user. `$3` is the statement's own parameter.
fn claim_statement(rows: &str) -> String {
    format!(
        "WITH c AS (UPDATE notifications n SET {TAKE} {rows} RETURNING {})
         SELECT c.*, {} FROM c LEFT JOIN users u ON u.id = c.user_id",
        notifications::COLUMNS,
        users::JOINED_COLUMNS
    )
}

/// By id, a pending or failed one is taken whatever its time: the engine's request
/// path and a retry by hand want it now.
static BY_ID: LazyLock<String> = LazyLock::new(|| {
    claim_statement(&format!(
        "WHERE id = $3
           AND (status IN ('pending', 'failed')
                OR (status = 'awaiting' AND next_attempt_at <= now())
                OR {EXPIRED})"
    ))
});

/// Up to `$3` due ones, oldest due first, skipping rows other replicas hold locked.
/// Due and expired rows are looked up apart, each in its own partial index in order,
/// so a claim reads only the rows it takes: one scan of both (an OR) read every
/// pending row and sorted them, which made claiming the costliest statement under a
/// backlog. A row of one branch locked but not taken is released at commit.
static DUE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH due AS (SELECT id, next_attempt_at AS since FROM notifications
                      WHERE status IN ('pending', 'failed', 'awaiting') AND next_attempt_at <= now()
                      ORDER BY next_attempt_at
                      LIMIT $3
                      FOR UPDATE SKIP LOCKED),
              expired AS (SELECT id, lease_until AS since FROM notifications
                          WHERE {EXPIRED}
                          ORDER BY lease_until
                          LIMIT $3
                          FOR UPDATE SKIP LOCKED),
              picked AS (SELECT id AS picked_id FROM (SELECT * FROM due UNION ALL SELECT * FROM expired) both_kinds
                         ORDER BY since LIMIT $3),
              c AS (UPDATE notifications n SET {TAKE}
                    FROM picked WHERE n.id = picked.picked_id
                    RETURNING {})
         SELECT c.*, {} FROM c LEFT JOIN users u ON u.id = c.user_id",
        notifications::COLUMNS,
        users::JOINED_COLUMNS
    )
});

impl Store {
    async fn claim(
        &self,
        statement: &str,
        owner: &str,
        lease: std::time::Duration,
        which: &(dyn ToSql + Sync),
        budget: RetryBudget,
    ) -> Result<Vec<Claimed>, StoreError> {
        let client = self.client().await?;
        let leased_at = std::time::Instant::now();
        let rows = client
            .query_cached(
                statement,
                &[
                    &owner,
                    &lease.as_secs_f64(),
                    which,
                    &budget.max_attempts,
                    &budget.max_age.as_secs_f64(),
                ],
            )
            .await?;
        rows.iter()
            .map(|row| Claimed::from_row(row, leased_at))
            .collect()
    }

    /// Takes the notification `id` for one delivery round if nobody holds it (or its
    /// holder's lease ran out), with its user.
    pub async fn claim_notification(
        &self,
        id: Uuid,
        owner: &str,
        lease: std::time::Duration,
        budget: RetryBudget,
    ) -> Result<Option<Claimed>, StoreError> {
        Ok(self.claim(&BY_ID, owner, lease, &id, budget).await?.pop())
    }

    /// Claims up to `limit` due notifications with their users, in one statement.
    pub async fn claim_due(
        &self,
        owner: &str,
        lease: std::time::Duration,
        limit: i64,
        budget: RetryBudget,
    ) -> Result<Vec<Claimed>, StoreError> {
        self.claim(&DUE, owner, lease, &limit, budget).await
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
}
