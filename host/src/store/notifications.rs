//! Notifications the engine handed us. A row is committed before the engine gets its
//! answer, so an accepted page survives a crash.

use super::Cached;

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Row;
use uuid::Uuid;

use super::claims::Claimed;
use super::{Store, StoreError};
use crate::config::VerificationMode;
use crate::model::{Channel, PhoneNumber, Status};

#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    pub id: Uuid,
    pub channel: Channel,
    pub user_id: Option<String>,
    pub recipient_email: Option<String>,
    pub message: String,
    pub payload: serde_json::Value,
    pub status: Status,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub delivered_by: Option<String>,
    /// The alert group a delivery round found it is about.
    pub alert_group_id: Option<String>,
    /// Which plugin of its failover route comes next (after a wait for confirmation).
    #[serde(skip)]
    pub route_position: i32,
    /// Attempts made before the last retry by hand; the budget counts from here.
    #[serde(skip)]
    pub retry_base_attempts: i32,
    /// When the notification was last queued by hand, else when it was accepted: the
    /// age limit counts from here.
    #[serde(skip)]
    pub age_base: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(super) const COLUMNS: &str = "id, channel, user_id, recipient_email, message, payload, status, attempts, \
                       last_error, delivered_by, alert_group_id, route_position, retry_base_attempts, \
                       coalesce(retry_requested_at, created_at) AS age_base, created_at, updated_at";

/// How many columns [`Notification::from_row_at`] reads.
pub(super) const COLUMN_COUNT: usize = 16;

impl Notification {
    fn from_row(row: &Row) -> Result<Self, StoreError> {
        Notification::from_row_at(row, 0)
    }

    /// The notification in the row's columns from `at` on, in [`COLUMNS`] order: read
    /// by position, as a joined row repeats names.
    pub(super) fn from_row_at(row: &Row, at: usize) -> Result<Self, StoreError> {
        Ok(Notification {
            id: row.try_get(at)?,
            channel: row.try_get(at + 1)?,
            user_id: row.try_get(at + 2)?,
            recipient_email: row.try_get(at + 3)?,
            message: row.try_get(at + 4)?,
            payload: row.try_get(at + 5)?,
            status: row.try_get(at + 6)?,
            attempts: row.try_get(at + 7)?,
            last_error: row.try_get(at + 8)?,
            delivered_by: row.try_get(at + 9)?,
            alert_group_id: row.try_get(at + 10)?,
            route_position: row.try_get(at + 11)?,
            retry_base_attempts: row.try_get(at + 12)?,
            age_base: row.try_get(at + 13)?,
            created_at: row.try_get(at + 14)?,
            updated_at: row.try_get(at + 15)?,
        })
    }
}

/// A notification to commit.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub channel: Channel,
    pub user_id: Option<String>,
    pub recipient_email: Option<String>,
    pub message: String,
    pub payload: serde_json::Value,
}

/// What the engine handed over, before we know whose it is.
pub struct EnginePage<'a> {
    pub channel: Channel,
    pub recipient_email: &'a str,
    pub message: &'a str,
    pub payload: serde_json::Value,
}

#[derive(Debug)]
pub enum EnginePageOutcome {
    NoUser,
    NotVerified {
        user_id: String,
    },
    LimitExceeded {
        user_id: String,
    },
    Stored {
        id: Uuid,
        user_id: String,
        phone_number: PhoneNumber,
        /// Set when it was stored claimed for its first round.
        claimed: Option<Box<Claimed>>,
    },
}

#[derive(Debug, Clone, Default)]
pub struct NotificationFilter {
    pub status: Option<Status>,
    pub user_email: Option<String>,
    pub limit: i64,
}

const INSERT: &str =
    "INSERT INTO notifications (id, channel, user_id, recipient_email, message, payload)
                      VALUES ($1, $2, $3, $4, $5, $6)";

fn insert_params<'a>(
    id: &'a Uuid,
    new: &'a NewNotification,
) -> [&'a (dyn tokio_postgres::types::ToSql + Sync); 6] {
    [
        id,
        &new.channel,
        &new.user_id,
        &new.recipient_email,
        &new.message,
        &new.payload,
    ]
}

/// Inserts `new` as a pending notification inside the caller's transaction.
pub(super) async fn insert(
    tx: &deadpool_postgres::Transaction<'_>,
    new: &NewNotification,
) -> Result<Uuid, StoreError> {
    let id = Uuid::new_v4();
    tx.execute_cached(INSERT, &insert_params(&id, new)).await?;
    Ok(id)
}

/// The engine's SMS or call in one statement (see `accept_engine_page`): the user, the
/// daily counter, and the insert, claimed when `$9` names an owner. Rows: the
/// notification's [`COLUMNS`] (NULL when none was stored), the user's, then the number
/// when it counts as verified.
static ACCEPT_ENGINE_PAGE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH u AS (
             SELECT {user_columns}, CASE WHEN $8 OR phone_verified_at IS NOT NULL
                    THEN phone_number END AS verified_phone
             FROM users
             WHERE active AND lower(email) = ANY($1)
             ORDER BY array_position($1, lower(email)) LIMIT 1),
         counted AS (
             INSERT INTO daily_usage AS d (user_id, channel, day, count)
             SELECT u.id, $3, (now() AT TIME ZONE 'UTC')::date, 1
             FROM u WHERE u.verified_phone IS NOT NULL AND $7 > 0
             ON CONFLICT (user_id, channel, day) DO UPDATE SET count = d.count + 1
             WHERE d.count < $7
             RETURNING 1),
         ins AS (
             INSERT INTO notifications (id, channel, user_id, recipient_email, message,
                                        payload, status, attempts, lease_owner, lease_until)
             SELECT $2, $3, u.id, $4, $5, $6,
                    CASE WHEN $9::text IS NULL THEN 'pending' ELSE 'delivering' END,
                    CASE WHEN $9::text IS NULL THEN 0 ELSE 1 END,
                    $9::text,
                    CASE WHEN $9::text IS NULL THEN NULL
                         ELSE now() + make_interval(secs => $10) END
             FROM u
             WHERE u.verified_phone IS NOT NULL AND ($7 = 0 OR EXISTS (SELECT 1 FROM counted))
             RETURNING {COLUMNS})
         SELECT ins.*, {joined}, u.verified_phone FROM u LEFT JOIN ins ON true",
        user_columns = super::users::COLUMNS,
        joined = super::users::JOINED_COLUMNS,
    )
});

impl Store {
    /// Commits the notification. Engine SMS and calls, which daily limits apply to, go
    /// through `accept_engine_page` instead.
    pub async fn accept_notification(&self, new: NewNotification) -> Result<Uuid, StoreError> {
        // One statement, committed on its own: the engine may be waiting on this.
        let client = self.client().await?;
        let id = Uuid::new_v4();
        client
            .execute_cached(INSERT, &insert_params(&id, &new))
            .await?;
        Ok(id)
    }

    /// An engine SMS or call in one statement: finds the active user by the first of
    /// `emails` that matches, and stores the notification for them if their number is
    /// verified (in `mode`) (and, with a `daily_limit`, if they are under it). One round
    /// trip and one commit while the engine waits. With `claim_for` (an owner and a
    /// lease) the row is stored already claimed for its first round, which then needs
    /// no statement of its own to start.
    pub async fn accept_engine_page(
        &self,
        emails: &[String],
        page: EnginePage<'_>,
        daily_limit: u32,
        mode: VerificationMode,
        claim_for: Option<(&str, std::time::Duration)>,
    ) -> Result<EnginePageOutcome, StoreError> {
        let client = self.client().await?;
        let lowered: Vec<String> = emails.iter().map(|email| email.to_lowercase()).collect();
        let id = Uuid::new_v4();
        let limit = i32::try_from(daily_limit).unwrap_or(i32::MAX);
        let (owner, lease) = match claim_for {
            Some((owner, lease)) => (Some(owner), lease.as_secs_f64()),
            None => (None, 0.0),
        };
        let leased_at = std::time::Instant::now();
        let row = client
            .query_opt_cached(
                &ACCEPT_ENGINE_PAGE,
                &[
                    &lowered,
                    &id,
                    &page.channel,
                    &page.recipient_email,
                    &page.message,
                    &page.payload,
                    &limit,
                    &mode.trusts_every_number(),
                    &owner,
                    &lease,
                ],
            )
            .await?;
        let Some(row) = row else {
            return Ok(EnginePageOutcome::NoUser);
        };
        let user_at = COLUMN_COUNT;
        let user_id: String = row.try_get(user_at)?;
        let phone_number: Option<PhoneNumber> =
            row.try_get(user_at + super::users::COLUMN_COUNT)?;
        let stored: Option<Uuid> = row.try_get(0)?;
        Ok(match (phone_number, stored) {
            (None, _) => EnginePageOutcome::NotVerified { user_id },
            (Some(_), None) => EnginePageOutcome::LimitExceeded { user_id },
            (Some(phone_number), Some(id)) => {
                let claimed = Claimed::from_row(&row, leased_at)?;
                EnginePageOutcome::Stored {
                    id,
                    user_id,
                    phone_number,
                    // Stored unclaimed, it waits for a round that claims it.
                    claimed: owner.is_some().then(|| Box::new(claimed)),
                }
            }
        })
    }

    pub async fn get_notification(&self, id: Uuid) -> Result<Option<Notification>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt_cached(
                &format!("SELECT {COLUMNS} FROM notifications WHERE id = $1"),
                &[&id],
            )
            .await?
            .as_ref()
            .map(Notification::from_row)
            .transpose()
    }

    /// Newest first.
    pub async fn list_notifications(
        &self,
        filter: &NotificationFilter,
    ) -> Result<Vec<Notification>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query_cached(
                &format!(
                    "SELECT {COLUMNS} FROM notifications
                     WHERE ($1::text IS NULL OR status = $1)
                       AND ($2::text IS NULL OR lower(recipient_email) = lower($2)
                            OR user_id IN (SELECT id FROM users WHERE lower(email) = lower($2)))
                     ORDER BY created_at DESC, id LIMIT $3"
                ),
                &[
                    &filter.status,
                    &filter.user_email,
                    &filter.limit.clamp(1, 10_000),
                ],
            )
            .await?;
        rows.iter().map(Notification::from_row).collect()
    }

    /// Count of notifications per status, for `/metrics`.
    /// The statuses `notification_counts` reports, in its order.
    pub const QUEUE_STATUSES: [&'static str; 4] = ["pending", "delivering", "failed", "dead"];

    /// How many notifications wait, are being delivered, wait for a retry, or are dead:
    /// each read through a partial index and counted no further than `cap`, so a scrape
    /// costs the same on a table of any size. Delivered ones, the bulk, are not counted
    /// here (`emu_oncall_delivered_total` counts them as they happen).
    pub async fn notification_counts(&self, cap: i64) -> Result<Vec<(String, i64)>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one_cached(
                "SELECT
                   (SELECT count(*) FROM (SELECT 1 FROM notifications
                     WHERE status = 'pending' LIMIT $1) n),
                   (SELECT count(*) FROM (SELECT 1 FROM notifications
                     WHERE status = 'delivering' LIMIT $1) n),
                   (SELECT count(*) FROM (SELECT 1 FROM notifications
                     WHERE status = 'failed' LIMIT $1) n),
                   (SELECT count(*) FROM (SELECT 1 FROM notifications
                     WHERE status = 'dead' LIMIT $1) n)",
                &[&cap],
            )
            .await?;
        Ok(Self::QUEUE_STATUSES
            .iter()
            .enumerate()
            .map(|(index, status)| ((*status).to_owned(), row.get::<_, i64>(index)))
            .collect())
    }
}
