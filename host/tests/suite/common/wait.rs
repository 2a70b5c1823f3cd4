//! The one way tests wait: a condition checked until it holds or a bound passes.
//! Nothing in the suite sleeps to synchronise.

use std::time::{Duration, Instant};

/// Checks `condition` every 20 ms until it holds or `bound` passes; returns whether it
/// held. The condition may borrow what the test holds (an async closure).
pub async fn wait_for(bound: Duration, mut condition: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + bound;
    loop {
        if condition().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
