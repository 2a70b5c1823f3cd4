//! Every branch of `settle::settle`.

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
