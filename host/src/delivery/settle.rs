//! How a round ends, decided from what its plugin calls did, the notification's
//! attempts and age, and the retry policy alone: no database, so every branch is
//! tested here. `record` writes the decision back.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{backoff, RoundResult};
use crate::store::attempts::Settlement;

/// When no plugin can take a channel, look again after this long.
pub const WAITING_RETRY: Duration = Duration::from_secs(30);

/// The limits a notification's retries run under (`delivery.*`).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub max_age: Duration,
    pub retry_initial: Duration,
    pub retry_max: Duration,
}

/// What a round's plugin calls came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoundEnd {
    /// `by` (comma separated) delivered; with `awaiting`, a receipt or an action is
    /// waited for before the route's next plugin is tried.
    Delivered {
        by: String,
        awaiting: Option<Awaiting>,
    },
    /// Worth another round; `delivered_by` keeps the fan-out plugins that delivered.
    Retryable {
        error: String,
        delivered_by: Option<String>,
    },
    /// Every plugin refused for good.
    Dead(String),
    /// Another replica holds the notification now: it is theirs to settle.
    LeaseLost,
    /// No plugin could take it; nothing was tried.
    NothingToTry(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Awaiting {
    pub until: DateTime<Utc>,
    pub next_position: i32,
}

/// Where the notification stands: `used` rounds since the last retry by hand, `age`
/// since it was accepted (or queued by hand).
#[derive(Debug, Clone, Copy)]
pub struct Standing {
    pub used: i32,
    pub age: Duration,
    pub now: DateTime<Utc>,
}

/// The settlement to store (none when the lease was lost) and what the round reports.
/// `scatter` spreads a retry's delay (jitter), so replicas do not come back together.
pub fn settle(
    end: RoundEnd,
    policy: &RetryPolicy,
    standing: Standing,
    scatter: impl Fn(Duration) -> Duration,
) -> (Option<Settlement>, RoundResult) {
    match end {
        RoundEnd::Delivered { by, awaiting: None } => {
            (Some(Settlement::Delivered { by }), RoundResult::Delivered)
        }
        RoundEnd::Delivered {
            by,
            awaiting: Some(awaiting),
        } => (
            Some(Settlement::Await {
                by,
                until: awaiting.until,
                next_position: awaiting.next_position,
            }),
            RoundResult::Delivered,
        ),
        RoundEnd::Dead(error) => dead(error),
        RoundEnd::LeaseLost => (None, RoundResult::Waiting("lease lost".to_owned())),
        RoundEnd::NothingToTry(reason) => {
            if standing.age >= policy.max_age {
                return dead(format!(
                    "gave up after {}s: {reason}",
                    standing.age.as_secs()
                ));
            }
            (
                Some(Settlement::Unclaim {
                    reason: reason.clone(),
                    retry_at: standing.now + WAITING_RETRY,
                }),
                RoundResult::Waiting(reason),
            )
        }
        RoundEnd::Retryable {
            error,
            delivered_by,
        } => {
            if standing.used >= i32::try_from(policy.max_attempts).unwrap_or(i32::MAX) {
                return dead(format!("gave up after {} attempts: {error}", standing.used));
            }
            if standing.age >= policy.max_age {
                return dead(format!(
                    "gave up after {}s: {error}",
                    standing.age.as_secs()
                ));
            }
            let base = backoff::base_delay(standing.used, policy.retry_initial, policy.retry_max);
            let retry_at = standing.now + scatter(base);
            (
                Some(Settlement::Retry {
                    error: error.clone(),
                    retry_at,
                    delivered_by,
                }),
                RoundResult::Retrying(error),
            )
        }
    }
}

fn dead(error: String) -> (Option<Settlement>, RoundResult) {
    (
        Some(Settlement::Dead {
            error: error.clone(),
        }),
        RoundResult::Dead(error),
    )
}

#[cfg(test)]
#[path = "settle_tests.rs"]
mod tests;
