//! Holding a round: claiming one notification by id, and keeping its lease while the
//! round waits for the sandbox. Batched claims are the polling loop's (`worker`), and a
//! page can arrive already claimed from the engine's request path (`handoff`).

use uuid::Uuid;

use super::{Deliverer, RoundResult};
use crate::model::Failure;
use crate::plugins::{LoadedPlugin, SandboxSlot};
use crate::store::claims::Claim;
use crate::store::StoreError;

impl Deliverer {
    /// Claims the notification `id` and runs one round, if nobody else holds it.
    pub async fn deliver_now(&self, id: Uuid) -> Result<RoundResult, StoreError> {
        match self
            .store
            .claim_notification(id, &self.owner, self.lease(), self.budget())
            .await?
        {
            Some(claimed) => self.round(claimed).await,
            None => Ok(RoundResult::Waiting(
                "another delivery round holds it".to_owned(),
            )),
        }
    }

    /// Waits for a place in the sandbox, renewing the lease every third of it meanwhile.
    /// `None` when the lease was lost while waiting.
    pub(super) async fn slot_keeping_lease(
        &self,
        claim: Claim,
        plugin: &LoadedPlugin,
    ) -> Result<Option<Result<SandboxSlot, Failure>>, StoreError> {
        let waiting = plugin.sandbox_slot();
        tokio::pin!(waiting);
        loop {
            tokio::select! {
                slot = &mut waiting => {
                    return Ok(Some(slot.map_err(|err| Failure {
                        kind: err.kind(),
                        reason: err.to_string(),
                    })))
                }
                () = tokio::time::sleep(self.lease() / 3) => {
                    if !self.renew(claim).await? {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Renews the lease unless what is left of it still covers a call of `call_time`
    /// with half the spare; false when it is no longer ours.
    pub(super) async fn renew_unless_fresh(
        &self,
        claim: Claim,
        call_time: std::time::Duration,
    ) -> Result<bool, StoreError> {
        let fresh = claim.leased_at.elapsed() < self.lease().saturating_sub(call_time) / 2;
        Ok(fresh || self.renew(claim).await?)
    }

    /// Extends the lease of `claim`; false, and logged, when it is no longer ours.
    pub(super) async fn renew(&self, claim: Claim) -> Result<bool, StoreError> {
        let renewed = self
            .store
            .renew_lease(claim, &self.owner, self.lease())
            .await?;
        if !renewed {
            tracing::warn!(notification = %claim.id, attempt = claim.attempt, "lease lost; leaving the round to its new holder");
        }
        Ok(renewed)
    }
}
