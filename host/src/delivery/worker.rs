//! The delivery workers of one replica: claim due notifications from PostgreSQL, run
//! their rounds, and on shutdown finish or hand back what is in hand.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Deliverer, RoundResult};
use crate::config::{LiveConfig, SharedConfig};
use crate::store::StoreError;

pub struct Workers {
    deliverer: Deliverer,
    config: SharedConfig,
    /// `delivery.workers`: rounds this replica runs at once, from the polling loop and
    /// the engine's requests alike.
    pub(super) rounds: Arc<Semaphore>,
    /// The server's one tracker: rounds run on it, so the shutdown that waits for the
    /// background loops waits for them too.
    tasks: TaskTracker,
    wake: Arc<Notify>,
}

impl Workers {
    fn config(&self) -> Arc<LiveConfig> {
        self.config.get()
    }

    /// The workers; nothing runs until [`Workers::poll`] is started.
    /// `workers`: `delivery.workers`, the rounds this replica runs at once.
    pub fn new(
        deliverer: Deliverer,
        config: SharedConfig,
        tasks: TaskTracker,
        workers: u32,
    ) -> Arc<Workers> {
        let rounds = Arc::new(Semaphore::new(workers as usize));
        Arc::new(Workers {
            deliverer,
            config,
            rounds,
            tasks,
            wake: Arc::new(Notify::new()),
        })
    }

    /// The polling loop: claims due work until `stop` is cancelled. Run it on the
    /// server's tracker, so shutdown also waits for a claim in progress: a claim that
    /// landed after the hand-back would stay leased.
    pub async fn poll(self: Arc<Self>, stop: CancellationToken) {
        poll(self, stop).await
    }

    /// Looks for due work now rather than at the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// A place among the rounds this replica runs at once, waited for up to `wait`:
    /// a round on the engine's request path takes one like the polling loop's rounds.
    pub async fn round_slot(&self, wait: std::time::Duration) -> Option<OwnedSemaphorePermit> {
        tokio::time::timeout(wait, self.rounds.clone().acquire_owned())
            .await
            .ok()?
            .ok()
    }

    /// Runs a round outside the polling loop (the engine's request path) so shutdown
    /// waits for it too.
    pub fn spawn<F>(&self, round: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tasks.spawn(round)
    }

    pub fn deliverer(&self) -> &Deliverer {
        &self.deliverer
    }

    /// Once the server's token is cancelled: lets the rounds in hand (and every other
    /// task on the tracker) finish within `delivery.shutdown_grace`, then hands back
    /// whatever is still held so another replica takes it at once.
    pub async fn finish(&self) {
        self.tasks.close();
        let grace = self.config().delivery.shutdown_grace.0;
        if tokio::time::timeout(grace, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                in_flight = self.tasks.len(),
                "delivery rounds still running after the grace period; handing them back"
            );
        }
        match self
            .deliverer
            .store
            .release_leases(self.deliverer.owner())
            .await
        {
            Ok(0) => {}
            Ok(released) => tracing::info!(released, "handed back notifications this replica held"),
            Err(err) => {
                tracing::warn!(error = %err, "could not hand back held notifications; their leases will run out")
            }
        }
    }
}

async fn poll(workers: Arc<Workers>, stop: CancellationToken) {
    let slots = workers.rounds.clone();
    let mut database_down = false;
    loop {
        // Read each tick: a reload may change the interval and the lease.
        let config = workers.config();
        let delivery = &config.delivery;
        tokio::select! {
            () = tokio::time::sleep(delivery.poll_interval.0) => {}
            () = workers.wake.notified() => {}
            () = stop.cancelled() => return,
        }
        // Once a tick, not per batch: claims skip spent rounds themselves, this only
        // ends them.
        bury_exhausted(&workers.deliverer).await;
        // Claim as long as there is due work and a free worker, and no stop was asked.
        // A claim that filled every free place may have left due work behind: then the
        // next claim waits for a place to free up rather than for the next tick.
        let mut more_due = false;
        loop {
            // Places first, claims after: a claim must never wait for a place (the
            // engine's rounds take them too), or its lease would run out unrenewed.
            let mut permits = Vec::new();
            if more_due {
                tokio::select! {
                    permit = slots.clone().acquire_owned() => match permit {
                        Ok(permit) => permits.push(permit),
                        Err(_) => return,
                    },
                    () = stop.cancelled() => return,
                }
            }
            if stop.is_cancelled() {
                return;
            }
            while let Ok(permit) = slots.clone().try_acquire_owned() {
                permits.push(permit);
            }
            if permits.is_empty() {
                break;
            }
            let deliverer = &workers.deliverer;
            match deliverer
                .store
                .claim_due(
                    deliverer.owner(),
                    delivery.lease.0,
                    permits.len() as i64,
                    deliverer.budget(),
                )
                .await
            {
                Ok(claims) => {
                    if database_down {
                        tracing::info!("database reachable again; delivery resumes");
                        database_down = false;
                    }
                    more_due = claims.len() == permits.len();
                    if claims.is_empty() {
                        break;
                    }
                    // One place each; the places left over go back as `permits` drops.
                    for (claimed, permit) in claims.into_iter().zip(permits.drain(..)) {
                        let deliverer = deliverer.clone();
                        workers.tasks.spawn(async move {
                            let _permit = permit;
                            let id = claimed.claim.id;
                            log_round(id, deliverer.round(claimed).await);
                        });
                    }
                }
                Err(err) => {
                    if !database_down {
                        tracing::warn!(error = %err, "cannot claim notifications; retrying every poll");
                        database_down = true;
                    }
                    break;
                }
            }
        }
    }
}

/// Rounds whose lease ran out unsettled, with no budget left, end as dead rather than
/// being claimed again.
async fn bury_exhausted(deliverer: &Deliverer) {
    match deliverer.store.bury_exhausted(deliverer.budget()).await {
        Ok(0) => {}
        Ok(buried) => tracing::error!(
            buried,
            "notifications are dead: their delivery rounds never finished (did a replica crash delivering them?) and their retry budget is spent"
        ),
        // The claim right after says the same, once.
        Err(_) => {}
    }
}

fn log_round(id: uuid::Uuid, result: Result<RoundResult, StoreError>) {
    if let Err(err) = result {
        // The lease keeps the notification safe: it is retried when it runs out.
        tracing::warn!(notification = %id, error = %err, "delivery round could not finish");
    }
}
