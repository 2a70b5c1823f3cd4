//! The end of delivery rounds, many at once: each round's attempt rows and its
//! settlement, for a whole batch of rounds, in one statement and one commit.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::attempts::{NewAttempt, Settlement};
use super::claims::Claim;
use super::{Cached, Store, StoreError};

/// What one round leaves behind: the rows of the attempts it made and, unless its lease
/// was lost, how it settled.
#[derive(Debug)]
pub struct WriteBack {
    pub claim: Claim,
    pub settlement: Option<Settlement>,
    pub attempts: Vec<NewAttempt>,
}

/// The settlements of a batch as parallel arrays, for `unnest`.
#[derive(Default)]
struct SettlementColumns {
    ids: Vec<Uuid>,
    attempts: Vec<i32>,
    kinds: Vec<&'static str>,
    by: Vec<Option<String>>,
    errors: Vec<Option<String>>,
    at: Vec<Option<DateTime<Utc>>>,
    positions: Vec<Option<i32>>,
}

impl SettlementColumns {
    fn push(&mut self, claim: &Claim, settlement: &Settlement) {
        let (kind, by, error, at, position) = match settlement {
            Settlement::Delivered { by } => ("delivered", Some(by.clone()), None, None, None),
            Settlement::Await {
                by,
                until,
                next_position,
            } => (
                "await",
                Some(by.clone()),
                None,
                Some(*until),
                Some(*next_position),
            ),
            Settlement::Retry {
                error,
                retry_at,
                delivered_by,
            } => (
                "retry",
                delivered_by.clone(),
                Some(error.clone()),
                Some(*retry_at),
                None,
            ),
            Settlement::Dead { error } => ("dead", None, Some(error.clone()), None, None),
            Settlement::Unclaim { reason, retry_at } => {
                ("unclaim", None, Some(reason.clone()), Some(*retry_at), None)
            }
        };
        self.ids.push(claim.id);
        self.attempts.push(claim.attempt);
        self.kinds.push(kind);
        self.by.push(by);
        self.errors.push(error);
        self.at.push(at);
        self.positions.push(position);
    }
}

/// The attempt rows of a batch as parallel arrays.
#[derive(Default)]
struct AttemptColumns {
    notification_ids: Vec<Uuid>,
    attempts: Vec<i32>,
    plugins: Vec<String>,
    versions: Vec<String>,
    outcomes: Vec<&'static str>,
    errors: Vec<Option<String>>,
    receipts: Vec<Option<String>>,
    durations: Vec<i32>,
    provider_ids: Vec<Option<String>>,
}

impl AttemptColumns {
    fn push(&mut self, row: &NewAttempt) {
        self.notification_ids.push(row.notification_id);
        self.attempts.push(row.attempt);
        self.plugins.push(row.plugin.clone());
        self.versions.push(row.plugin_version.clone());
        self.outcomes.push(row.outcome);
        self.errors.push(row.error.clone());
        self.receipts.push(row.receipt.clone());
        self.durations.push(row.duration_ms);
        self.provider_ids.push(row.provider_id.clone());
    }
}

/// Every settlement kind in one UPDATE. `$1` is the owner; the attempt number is the
/// fencing token of each row (see `renew_lease`). An `await` whose group was dealt with
/// while the round ran (an action, OnCall's webhook) needs no confirmation: the page
/// ends delivered. An `unclaim` takes back the attempt its claim counted.
const WRITE_BACK: &str = "
WITH s AS (
    SELECT * FROM unnest($2::uuid[], $3::int4[], $4::text[], $5::text[], $6::text[],
                         $7::timestamptz[], $8::int4[])
        AS s(id, attempt, kind, by_plugins, error, at, next_position)),
settled AS (
    UPDATE notifications n SET
        status = CASE s.kind
            WHEN 'delivered' THEN 'delivered'
            WHEN 'await' THEN CASE WHEN EXISTS (
                    SELECT 1 FROM group_states g
                    WHERE g.alert_group_id = n.alert_group_id AND g.state <> 'firing')
                THEN 'delivered' ELSE 'awaiting' END
            WHEN 'retry' THEN 'failed'
            WHEN 'dead' THEN 'dead'
            ELSE CASE WHEN n.attempts - 1 > n.retry_base_attempts THEN 'failed' ELSE 'pending' END
        END,
        attempts = CASE WHEN s.kind = 'unclaim' THEN n.attempts - 1 ELSE n.attempts END,
        delivered_by = coalesce(s.by_plugins, n.delivered_by),
        delivered_at = CASE WHEN s.kind IN ('delivered', 'await') THEN now() ELSE n.delivered_at END,
        last_error = s.error,
        next_attempt_at = coalesce(s.at, n.next_attempt_at),
        route_position = coalesce(s.next_position, n.route_position),
        lease_owner = NULL, lease_until = NULL, updated_at = now()
    FROM s
    WHERE n.id = s.id AND n.lease_owner = $1 AND n.status = 'delivering' AND n.attempts = s.attempt
    RETURNING s.id, s.attempt),
recorded AS (
    INSERT INTO delivery_attempts
        (notification_id, attempt, plugin, plugin_version, outcome, error, receipt,
         duration_ms, provider_id)
    SELECT * FROM unnest($9::uuid[], $10::int4[], $11::text[], $12::text[], $13::text[],
                         $14::text[], $15::text[], $16::int4[], $17::text[]))
SELECT id, attempt FROM settled";

impl Store {
    /// Writes back a batch of rounds in one statement: every attempt row, and every
    /// settlement of a round whose lease is still ours. For each round, in order: false
    /// when its settlement found the lease gone (another replica took over).
    pub async fn write_back(
        &self,
        owner: &str,
        batch: &[WriteBack],
    ) -> Result<Vec<bool>, StoreError> {
        let mut settlements = SettlementColumns::default();
        let mut attempts = AttemptColumns::default();
        for round in batch {
            if let Some(settlement) = &round.settlement {
                settlements.push(&round.claim, settlement);
            }
            for row in &round.attempts {
                attempts.push(row);
            }
        }
        let client = self.client().await?;
        let rows = client
            .query_cached(
                WRITE_BACK,
                &[
                    &owner,
                    &settlements.ids,
                    &settlements.attempts,
                    &settlements.kinds,
                    &settlements.by,
                    &settlements.errors,
                    &settlements.at,
                    &settlements.positions,
                    &attempts.notification_ids,
                    &attempts.attempts,
                    &attempts.plugins,
                    &attempts.versions,
                    &attempts.outcomes,
                    &attempts.errors,
                    &attempts.receipts,
                    &attempts.durations,
                    &attempts.provider_ids,
                ],
            )
            .await?;
        let settled: HashSet<(Uuid, i32)> = rows
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<Result<_, StoreError>>()?;
        Ok(batch
            .iter()
            .map(|round| {
                round.settlement.is_none()
                    || settled.contains(&(round.claim.id, round.claim.attempt))
            })
            .collect())
    }
}
