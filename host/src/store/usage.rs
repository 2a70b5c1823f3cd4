//! Daily per-user, per-channel counters behind `limits.*_per_day`.

use deadpool_postgres::ClientWrapper;
use uuid::Uuid;

use super::notifications::NewNotification;
use super::{Cached, StoreError};

/// Stores `new` as `id` and counts it for today (UTC), in one statement: when the
/// count is already at `limit` nothing is stored. The conditional upsert takes the
/// counter's row lock, so two replicas cannot both take the last one, and a refused
/// notification does not count. Returns whether it was stored.
pub(super) async fn insert_counted(
    client: &ClientWrapper,
    id: Uuid,
    new: &NewNotification,
    user_id: &str,
    limit: u32,
) -> Result<bool, StoreError> {
    let limit = i32::try_from(limit).unwrap_or(i32::MAX);
    let row = client
        .query_opt_cached(
            "WITH counted AS (
                 INSERT INTO daily_usage AS u (user_id, channel, day, count)
                 VALUES ($3, $2, (now() AT TIME ZONE 'UTC')::date, 1)
                 ON CONFLICT (user_id, channel, day) DO UPDATE SET count = u.count + 1
                 WHERE u.count < $7
                 RETURNING 1)
             INSERT INTO notifications (id, channel, user_id, recipient_email, message, payload)
             SELECT $1, $2, $3, $4, $5, $6 FROM counted
             RETURNING id",
            &[
                &id,
                &new.channel.as_str(),
                &user_id,
                &new.recipient_email,
                &new.message,
                &new.payload,
                &limit,
            ],
        )
        .await?;
    Ok(row.is_some())
}
