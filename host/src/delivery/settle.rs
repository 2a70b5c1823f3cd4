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
mod tests {
    use super::*;

    const POLICY: RetryPolicy = RetryPolicy {
        max_attempts: 3,
        max_age: Duration::from_secs(3600),
        retry_initial: Duration::from_secs(5),
        retry_max: Duration::from_secs(300),
    };

    fn at(used: i32, age_minutes: u64) -> Standing {
        Standing {
            used,
            age: Duration::from_secs(60 * age_minutes),
            now: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    fn retryable(error: &str) -> RoundEnd {
        RoundEnd::Retryable {
            error: error.to_owned(),
            delivered_by: None,
        }
    }

    fn exact(delay: Duration) -> Duration {
        delay
    }

    fn retry_in(settlement: Option<Settlement>) -> Duration {
        match settlement {
            Some(Settlement::Retry { retry_at, .. }) => (retry_at - DateTime::<Utc>::UNIX_EPOCH)
                .to_std()
                .unwrap_or_default(),
            other => panic!("expected a retry, got {other:?}"),
        }
    }

    #[test]
    fn retries_with_a_doubling_delay_while_budget_and_age_allow() {
        let (first, result) = settle(retryable("boom"), &POLICY, at(1, 0), exact);
        assert_eq!(retry_in(first), Duration::from_secs(5));
        assert_eq!(result, RoundResult::Retrying("boom".to_owned()));
        let (second, _) = settle(retryable("boom"), &POLICY, at(2, 10), exact);
        assert_eq!(retry_in(second), Duration::from_secs(10));
    }

    #[test]
    fn the_delay_is_scattered_by_the_given_jitter() {
        let (settlement, _) = settle(retryable("boom"), &POLICY, at(1, 0), |delay| delay * 2);
        assert_eq!(retry_in(settlement), Duration::from_secs(10));
    }

    #[test]
    fn gives_up_when_the_attempts_are_spent() {
        let (settlement, result) = settle(retryable("HTTP 503"), &POLICY, at(3, 0), exact);
        let reason = "gave up after 3 attempts: HTTP 503".to_owned();
        assert_eq!(
            settlement,
            Some(Settlement::Dead {
                error: reason.clone()
            })
        );
        assert_eq!(result, RoundResult::Dead(reason));
    }

    #[test]
    fn gives_up_when_too_old_even_with_attempts_left() {
        let (_, result) = settle(retryable("timeout"), &POLICY, at(1, 61), exact);
        assert_eq!(
            result,
            RoundResult::Dead("gave up after 3660s: timeout".to_owned())
        );
    }

    #[test]
    fn the_attempt_budget_is_told_before_the_age() {
        let (_, result) = settle(retryable("x"), &POLICY, at(5, 120), exact);
        assert!(matches!(result, RoundResult::Dead(reason) if reason.contains("5 attempts")));
    }

    #[test]
    fn a_retry_by_hand_restarts_the_count() {
        // `used` counts from the last retry by hand, so a requeued notification with
        // many attempts behind it still gets its rounds.
        let (_, result) = settle(retryable("x"), &POLICY, at(0, 0), exact);
        assert!(matches!(result, RoundResult::Retrying(_)));
    }

    #[test]
    fn a_fan_out_retry_keeps_who_delivered() {
        let end = RoundEnd::Retryable {
            error: "sms: 503".to_owned(),
            delivered_by: Some("chat".to_owned()),
        };
        let (settlement, _) = settle(end, &POLICY, at(1, 0), exact);
        assert!(matches!(
            settlement,
            Some(Settlement::Retry { delivered_by: Some(by), .. }) if by == "chat"
        ));
    }

    #[test]
    fn delivered_settles_delivered_or_awaits_a_receipt() {
        let (plain, result) = settle(
            RoundEnd::Delivered {
                by: "sms".to_owned(),
                awaiting: None,
            },
            &POLICY,
            at(1, 0),
            exact,
        );
        assert_eq!(plain, Some(Settlement::Delivered { by: "sms".into() }));
        assert_eq!(result, RoundResult::Delivered);
        let until = DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::minutes(2);
        let (awaiting, _) = settle(
            RoundEnd::Delivered {
                by: "sms".to_owned(),
                awaiting: Some(Awaiting {
                    until,
                    next_position: 1,
                }),
            },
            &POLICY,
            at(1, 0),
            exact,
        );
        assert_eq!(
            awaiting,
            Some(Settlement::Await {
                by: "sms".into(),
                until,
                next_position: 1
            })
        );
    }

    #[test]
    fn a_lost_lease_settles_nothing() {
        let (settlement, result) = settle(RoundEnd::LeaseLost, &POLICY, at(1, 0), exact);
        assert_eq!(settlement, None);
        assert!(matches!(result, RoundResult::Waiting(_)));
    }

    #[test]
    fn nothing_to_try_hands_the_claim_back_until_too_old() {
        let (settlement, result) = settle(
            RoundEnd::NothingToTry("no plugin for sms".to_owned()),
            &POLICY,
            at(1, 0),
            exact,
        );
        assert!(matches!(
            settlement,
            Some(Settlement::Unclaim { retry_at, .. })
                if retry_at == DateTime::<Utc>::UNIX_EPOCH + WAITING_RETRY
        ));
        assert_eq!(result, RoundResult::Waiting("no plugin for sms".to_owned()));
        let (_, old) = settle(
            RoundEnd::NothingToTry("no plugin for sms".to_owned()),
            &POLICY,
            at(1, 60),
            exact,
        );
        assert_eq!(
            old,
            RoundResult::Dead("gave up after 3600s: no plugin for sms".to_owned())
        );
    }

    #[test]
    fn every_plugin_refusing_ends_dead_whatever_the_budget() {
        let (settlement, _) = settle(
            RoundEnd::Dead("bad number".into()),
            &POLICY,
            at(0, 0),
            exact,
        );
        assert_eq!(
            settlement,
            Some(Settlement::Dead {
                error: "bad number".into()
            })
        );
    }
}
