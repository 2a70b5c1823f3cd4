//! Exponential backoff with jitter, so replicas retrying a failed provider do not all
//! come back at the same instant.

use std::time::Duration;

/// The wait after the `attempt`-th failed round, before [`scattered`]:
/// `initial × 2^(attempt-1)`, at most `max`.
pub fn base_delay(attempt: i32, initial: Duration, max: Duration) -> Duration {
    let exponent = u32::try_from(attempt.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    initial.saturating_mul(1u32 << exponent).min(max)
}

/// `base` times a random factor in [0.8, 1.2].
pub fn scattered(base: Duration) -> Duration {
    base.mul_f64(jitter())
}

/// A factor in [0.8, 1.2].
fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    // Without randomness the retries merely line up; not worth failing for.
    if getrandom::fill(&mut bytes).is_err() {
        return 1.0;
    }
    0.8 + 0.4 * (f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_doubles_and_stops_at_the_cap_within_jitter() {
        let initial = Duration::from_secs(5);
        let max = Duration::from_secs(300);
        for (attempt, base) in [(1, 5.0), (2, 10.0), (3, 20.0), (7, 300.0), (30, 300.0)] {
            let got = scattered(base_delay(attempt, initial, max)).as_secs_f64();
            assert!(
                (base * 0.8..=base * 1.2).contains(&got),
                "attempt {attempt}: {got}"
            );
        }
    }
}
