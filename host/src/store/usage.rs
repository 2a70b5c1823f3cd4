//! Daily per-user, per-channel counters behind `limits.*_per_day`.

use tokio_postgres::Transaction;

use super::StoreError;

/// Counts one more use for today (UTC) unless `limit` is already reached. Runs inside
/// the caller's transaction so a refused or failed notification does not count.
/// A `limit` of 0 means no limit. Returns false when over the limit.
pub(super) async fn take_one(
    tx: &Transaction<'_>,
    user_id: &str,
    channel: &str,
    limit: u32,
) -> Result<bool, StoreError> {
    if limit == 0 {
        return Ok(true);
    }
    let limit = i32::try_from(limit).unwrap_or(i32::MAX);
    // The conditional upsert is atomic: two replicas cannot both take the last one.
    let row = tx
        .query_opt(
            "INSERT INTO daily_usage AS u (user_id, channel, day, count)
             VALUES ($1, $2, (now() AT TIME ZONE 'UTC')::date, 1)
             ON CONFLICT (user_id, channel, day) DO UPDATE SET count = u.count + 1
             WHERE u.count < $3
             RETURNING u.count",
            &[&user_id, &channel, &limit],
        )
        .await?;
    Ok(row.is_some())
}
