//! The engine's request path hands a page to delivery: its first round starts at once
//! and the answer waits for it up to `delivery.answer_within`. When a place among the
//! rounds is free at accept, the page is stored already claimed, so that round starts
//! with no statement of its own.

use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use uuid::Uuid;

use super::{RoundResult, Workers};
use crate::store::claims::Claimed;
use crate::store::StoreError;

/// A place among `delivery.workers`, taken before a page is stored so that it can be
/// stored claimed by this replica.
pub struct Reservation {
    place: OwnedSemaphorePermit,
    owner: std::sync::Arc<str>,
    lease: Duration,
}

impl Reservation {
    /// The owner and lease to store the page claimed under.
    pub fn claim_for(&self) -> (&str, Duration) {
        (&self.owner, self.lease)
    }
}

/// How a stored page reaches its first round.
pub enum FirstRound {
    /// Stored claimed, with the place reserved for it.
    Claimed(Box<Claimed>, Reservation),
    /// Stored pending: claimed by id once a place frees up.
    Stored(Uuid),
}

impl FirstRound {
    /// The page's notification.
    pub fn id(&self) -> Uuid {
        match self {
            FirstRound::Claimed(claimed, _) => claimed.claim.id,
            FirstRound::Stored(id) => *id,
        }
    }

    /// `claimed` when the page was stored claimed under `reservation`, else by id.
    pub fn of(id: Uuid, claimed: Option<Box<Claimed>>, reservation: Option<Reservation>) -> Self {
        match (claimed, reservation) {
            (Some(claimed), Some(reservation)) => FirstRound::Claimed(claimed, reservation),
            _ => FirstRound::Stored(id),
        }
    }
}

impl Workers {
    /// A place for a page's first round if one is free now; the engine's answer never
    /// waits for it here.
    pub fn reserve(&self) -> Option<Reservation> {
        let place = self.rounds.clone().try_acquire_owned().ok()?;
        let deliverer = self.deliverer();
        Some(Reservation {
            place,
            owner: deliverer.owner.clone(),
            lease: deliverer.lease(),
        })
    }

    /// Starts the page's first round and waits for it up to `wait`; `None` when it is
    /// still running (it goes on) or could not start. A page stored pending takes a
    /// place among `delivery.workers` like any other round; when none frees up in time,
    /// or nobody waits (`wait` zero), the polling loop is woken to deliver it.
    pub async fn first_round(&self, first: FirstRound, wait: Duration) -> Option<RoundResult> {
        let answer_by = tokio::time::Instant::now() + wait;
        let deliverer = self.deliverer().clone();
        let (id, round) = match first {
            FirstRound::Claimed(claimed, reservation) => {
                let id = claimed.claim.id;
                let round = self.spawn(async move {
                    let _place = reservation.place;
                    deliverer.round(*claimed).await
                });
                (id, round)
            }
            // Nobody waits for its result: the polling loop claims it with others.
            FirstRound::Stored(_) if wait.is_zero() => {
                self.wake();
                return None;
            }
            FirstRound::Stored(id) => {
                let Some(place) = self.round_slot(wait).await else {
                    tracing::info!(notification = %id, "every delivery worker is busy; the notification waits for the next free one");
                    self.wake();
                    return None;
                };
                let round = self.spawn(async move {
                    let _place = place;
                    deliverer.deliver_now(id).await
                });
                (id, round)
            }
        };
        if wait.is_zero() {
            // Nobody waits: the round goes on, with nothing to say about it yet.
            return None;
        }
        answered(id, tokio::time::timeout_at(answer_by, round).await)
    }
}

type Joined = Result<Result<RoundResult, StoreError>, tokio::task::JoinError>;

fn answered(id: Uuid, waited: Result<Joined, tokio::time::error::Elapsed>) -> Option<RoundResult> {
    match waited {
        Ok(Ok(Ok(result))) => Some(result),
        Ok(Ok(Err(err))) => {
            tracing::warn!(notification = %id, error = %err, "delivery round could not finish; the notification stays stored");
            None
        }
        Ok(Err(err)) => {
            tracing::error!(notification = %id, error = %err, "delivery task failed");
            None
        }
        Err(_) => {
            tracing::info!(notification = %id, "delivery still running at answer time; answering the engine now");
            None
        }
    }
}
