//! Writing rounds back: each attempt is counted and logged as it ends, and the round's
//! attempt rows and settlement go to PostgreSQL with other rounds' in one statement
//! (group commit). A batch is sent as soon as the previous one is done, so a lone round
//! waits for no timer, and under load one commit carries many rounds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::{mpsc, oneshot};

use super::Deliverer;
use crate::model::phone::mask_in_text;
use crate::model::AttemptOutcome;
use crate::plugins::LoadedPlugin;
use crate::store::attempts::{NewAttempt, Settlement};
use crate::store::claims::Claim;
use crate::store::notifications::Notification;
use crate::store::write_back::WriteBack;
use crate::store::{Store, StoreError};

/// Rounds written back by one statement at most.
const MAX_BATCH: usize = 256;

/// How often an attempt row that could not go with its batch is tried on its own
/// through a database hiccup.
const RECORD_TRIES: u32 = 3;

/// Who made an attempt, as recorded with it.
pub(super) struct Sender<'a> {
    pub name: &'a str,
    pub version: &'a str,
}

impl<'a> Sender<'a> {
    pub fn of(plugin: &'a LoadedPlugin) -> Self {
        Sender {
            name: &plugin.name,
            version: &plugin.info.version,
        }
    }
}

/// Whether the settlement took (true when there was none): false when the lease was
/// lost before it was written.
type Written = Result<bool, Box<Unwritten>>;

/// A round that could not be written, handed back (when the task still had it) so the
/// caller can try again without having kept a copy.
struct Unwritten {
    round: Option<WriteBack>,
    error: StoreError,
}

struct Job {
    round: WriteBack,
    done: oneshot::Sender<Written>,
}

/// The handle rounds write back through; the batching task lives as long as one does.
#[derive(Clone)]
pub(super) struct Recorder {
    jobs: mpsc::Sender<Job>,
}

impl Recorder {
    pub fn start(store: Store, owner: Arc<str>) -> Recorder {
        let (jobs, queue) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(write_batches(store, owner, queue));
        Recorder { jobs }
    }

    async fn write(&self, round: WriteBack) -> Written {
        let (done, answer) = oneshot::channel();
        let stopped = |round| {
            Box::new(Unwritten {
                round,
                error: StoreError::Unavailable("the write-back task has stopped".to_owned()),
            })
        };
        if let Err(refused) = self.jobs.send(Job { round, done }).await {
            return Err(stopped(Some(refused.0.round)));
        }
        answer.await.unwrap_or_else(|_| Err(stopped(None)))
    }
}

async fn write_batches(store: Store, owner: Arc<str>, mut queue: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let (rounds, replies): (Vec<WriteBack>, Vec<_>) =
            jobs.drain(..).map(|job| (job.round, job.done)).unzip();
        match store.write_back(&owner, &rounds).await {
            Ok(settled) => {
                for (reply, settled) in replies.into_iter().zip(settled) {
                    let _ = reply.send(Ok(settled));
                }
            }
            Err(err) if err.is_unavailable() => {
                for (round, reply) in rounds.into_iter().zip(replies) {
                    let error = StoreError::Unavailable(err.to_string());
                    let _ = reply.send(Err(Box::new(Unwritten {
                        round: Some(round),
                        error,
                    })));
                }
            }
            // One bad row (a trigger, a constraint) must not cost the others their
            // settlement: each round is written alone, its settlement first.
            Err(err) => {
                tracing::warn!(rounds = rounds.len(), error = %err, "writing back a batch of rounds failed; writing them one by one");
                for (round, reply) in rounds.into_iter().zip(replies) {
                    let written = match write_alone(&store, &owner, &round).await {
                        Ok(settled) => Ok(settled),
                        Err(error) => Err(Box::new(Unwritten {
                            round: Some(round),
                            error,
                        })),
                    };
                    let _ = reply.send(written);
                }
            }
        }
    }
}

/// A round's settlement, then its attempt rows: the rows are history, not outcome, so
/// failing to write one is logged and never undoes or repeats a delivery.
async fn write_alone(store: &Store, owner: &str, round: &WriteBack) -> Result<bool, StoreError> {
    let settled = match &round.settlement {
        Some(settlement) => {
            store
                .settle_notification(round.claim, owner, settlement)
                .await?
        }
        None => true,
    };
    for row in &round.attempts {
        let mut pause = Duration::from_millis(100);
        for tries_left in (0..RECORD_TRIES).rev() {
            match store.record_attempt(row).await {
                Ok(()) => break,
                Err(err) if err.is_unavailable() && tries_left > 0 => {
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
                Err(err) => {
                    tracing::error!(notification = %row.notification_id, plugin = %row.plugin, attempt = row.attempt, outcome = row.outcome, error = %err, "cannot record the delivery attempt; its outcome stands");
                    break;
                }
            }
        }
    }
    Ok(settled)
}

impl Deliverer {
    /// Counts and logs one attempt, and returns its row for the round's write-back.
    pub(super) fn note_attempt(
        &self,
        notification: &Notification,
        sender: &Sender<'_>,
        attempt: i32,
        outcome: &AttemptOutcome,
        started: Instant,
    ) -> NewAttempt {
        let duration_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        let label = outcome.label();
        let error = outcome.failure().map(|failure| failure.reason.clone());
        let (receipt, provider_id) = match outcome {
            AttemptOutcome::Delivered(receipt) => (
                receipt.detail.clone().or(receipt.provider_id.clone()),
                receipt.provider_id.clone(),
            ),
            _ => (None, None),
        };
        self.metrics.attempt(sender.name, outcome);
        match outcome {
            AttemptOutcome::Delivered(_) => {
                let latency =
                    (Utc::now() - notification.created_at).num_milliseconds() as f64 / 1000.0;
                self.metrics
                    .delivered(notification.channel.as_str(), latency);
                tracing::info!(notification = %notification.id, plugin = sender.name, attempt, duration_ms, "delivered");
            }
            _ => {
                let shown = mask_in_text(error.as_deref().unwrap_or(""));
                tracing::warn!(notification = %notification.id, plugin = sender.name, attempt, duration_ms, outcome = label, error = %shown, "delivery attempt failed")
            }
        }
        NewAttempt {
            notification_id: notification.id,
            attempt,
            plugin: sender.name.to_owned(),
            plugin_version: sender.version.to_owned(),
            outcome: label,
            error,
            receipt,
            provider_id,
            duration_ms,
        }
    }

    /// Writes the round back, retrying through a database hiccup for as long as the
    /// lease lasts: giving up early would make another replica deliver it again.
    pub(super) async fn write_back(
        &self,
        claim: Claim,
        settlement: Option<Settlement>,
        attempts: Vec<NewAttempt>,
    ) -> Result<(), StoreError> {
        let deadline = Instant::now() + self.lease();
        let mut pause = Duration::from_millis(100);
        let mut round = WriteBack {
            claim,
            settlement,
            attempts,
        };
        loop {
            let unwritten = match self.recorder.write(round).await {
                Ok(true) => return Ok(()),
                Ok(false) => {
                    tracing::warn!(notification = %claim.id, "lease lost before the round was recorded; another replica has it");
                    return Ok(());
                }
                Err(unwritten) => *unwritten,
            };
            match unwritten {
                Unwritten {
                    round: Some(again),
                    error,
                } if error.is_unavailable() && Instant::now() + pause < deadline => {
                    tracing::warn!(notification = %claim.id, error = %error, "cannot record the round yet; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                    round = again;
                }
                Unwritten { error, .. } => return Err(error),
            }
        }
    }
}
