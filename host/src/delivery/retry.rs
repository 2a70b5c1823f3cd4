//! What happens after a round that failed in a way worth retrying: another round after a
//! backoff, or the end (dead), decided from the attempts and the age alone so it can be
//! tested without a database.

use std::time::Duration;

use super::backoff;

/// The limits a notification's retries run under (`delivery.*`).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub max_age: Duration,
    pub retry_initial: Duration,
    pub retry_max: Duration,
}

/// The next state of a notification whose round failed for now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    /// Another round after `base_delay` (scattered by the caller, ±20 %).
    Retry { base_delay: Duration },
    /// No more rounds; `reason` is stored as the notification's last error.
    GiveUp { reason: String },
}

/// `used`: rounds made since the last retry by hand; `age`: time since it was accepted
/// (or queued by hand). The attempt budget is checked before the age.
pub fn next_step(policy: &RetryPolicy, used: i32, age: Duration, error: &str) -> NextStep {
    if used >= i32::try_from(policy.max_attempts).unwrap_or(i32::MAX) {
        return NextStep::GiveUp {
            reason: format!("gave up after {used} attempts: {error}"),
        };
    }
    if age >= policy.max_age {
        return NextStep::GiveUp {
            reason: format!("gave up after {}s: {error}", age.as_secs()),
        };
    }
    NextStep::Retry {
        base_delay: backoff::base_delay(used, policy.retry_initial, policy.retry_max),
    }
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

    fn minutes(n: u64) -> Duration {
        Duration::from_secs(60 * n)
    }

    #[test]
    fn retries_with_a_doubling_delay_while_budget_and_age_allow() {
        assert_eq!(
            next_step(&POLICY, 1, minutes(0), "boom"),
            NextStep::Retry {
                base_delay: Duration::from_secs(5)
            }
        );
        assert_eq!(
            next_step(&POLICY, 2, minutes(10), "boom"),
            NextStep::Retry {
                base_delay: Duration::from_secs(10)
            }
        );
    }

    #[test]
    fn gives_up_when_the_attempts_are_spent() {
        let step = next_step(&POLICY, 3, minutes(0), "HTTP 503");
        assert_eq!(
            step,
            NextStep::GiveUp {
                reason: "gave up after 3 attempts: HTTP 503".to_owned()
            }
        );
    }

    #[test]
    fn gives_up_when_too_old_even_with_attempts_left() {
        let step = next_step(&POLICY, 1, minutes(61), "timeout");
        assert_eq!(
            step,
            NextStep::GiveUp {
                reason: "gave up after 3660s: timeout".to_owned()
            }
        );
    }

    #[test]
    fn the_attempt_budget_is_told_before_the_age() {
        let step = next_step(&POLICY, 5, minutes(120), "x");
        assert!(matches!(step, NextStep::GiveUp { reason } if reason.contains("5 attempts")));
    }

    #[test]
    fn a_retry_by_hand_restarts_the_count() {
        // `used` counts from the last retry by hand, so a requeued notification with
        // many attempts behind it still gets its rounds.
        assert!(matches!(
            next_step(&POLICY, 0, minutes(0), "x"),
            NextStep::Retry { .. }
        ));
    }
}
