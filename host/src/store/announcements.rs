//! What happens to the pages of an alert group once OnCall says it was dealt with: the
//! people paged for it (to tell them who took it), each told once across replicas, and
//! the pages still waiting, which are cancelled.

use uuid::Uuid;

use super::{Cached, Store, StoreError};
use crate::model::Channel;

/// A person paged for an alert group, with the newest page that reached them.
#[derive(Debug, Clone)]
pub struct PagedPerson {
    pub user_id: String,
    pub email: Option<String>,
    pub channel: Channel,
    /// The plugin that delivered that page.
    pub plugin: String,
}

impl Store {
    /// Everyone a page about `group_id` reached (delivered, or handed to a provider and
    /// awaiting its receipt), each with the newest such page.
    /// Announcements themselves (`"source": "outcome"`) do not count as pages.
    pub async fn paged_for_group(&self, group_id: &str) -> Result<Vec<PagedPerson>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query_cached(
                "SELECT DISTINCT ON (n.user_id) n.user_id, u.email, n.channel, n.delivered_by
                 FROM notifications n LEFT JOIN users u ON u.id = n.user_id
                 WHERE n.alert_group_id = $1 AND n.status IN ('delivered', 'awaiting')
                   AND n.user_id IS NOT NULL AND n.delivered_by IS NOT NULL
                   AND coalesce(n.payload->>'source', '') <> 'outcome'
                 ORDER BY n.user_id, n.created_at DESC",
                &[&group_id],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(PagedPerson {
                    user_id: row.try_get(0)?,
                    email: row.try_get(1)?,
                    channel: row.try_get(2)?,
                    plugin: row.try_get(3)?,
                })
            })
            .collect()
    }

    /// True for the one caller that gets to tell `user_id` about `event` on
    /// `group_id`; every later caller, on any replica, gets false.
    pub async fn claim_announcement(
        &self,
        group_id: &str,
        event: &str,
        user_id: &str,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let inserted = client
            .execute_cached(
                "INSERT INTO group_announcements (alert_group_id, event, user_id)
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&group_id, &event, &user_id],
            )
            .await?;
        Ok(inserted == 1)
    }

    /// Notes which notification carried an announcement.
    pub async fn note_announcement(
        &self,
        group_id: &str,
        event: &str,
        user_id: &str,
        notification: Uuid,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute_cached(
                "UPDATE group_announcements SET notification_id = $4
                 WHERE alert_group_id = $1 AND event = $2 AND user_id = $3",
                &[&group_id, &event, &user_id, &notification],
            )
            .await?;
        Ok(())
    }

    /// Cancels the pages about `group_id` still waiting for a first or next round, or
    /// for a receipt before the route moves on (a round in progress finishes). Returns
    /// how many.
    pub async fn cancel_waiting_pages(
        &self,
        group_id: &str,
        reason: &str,
    ) -> Result<u64, StoreError> {
        let client = self.client().await?;
        Ok(client
            .execute_cached(
                "UPDATE notifications
                 SET status = 'cancelled', last_error = $2, updated_at = now()
                 WHERE alert_group_id = $1 AND status IN ('pending', 'failed', 'awaiting')
                   AND coalesce(payload->>'source', '') <> 'outcome'",
                &[&group_id, &reason],
            )
            .await?)
    }

    /// The person who last acted on `group_id` through a page (`kind` as stored, e.g.
    /// `resolve`) in the last `within`: who OnCall's webhook is about when the API
    /// acted as its token's owner.
    pub async fn recent_responder(
        &self,
        group_id: &str,
        kind: &str,
        within: std::time::Duration,
    ) -> Result<Option<String>, StoreError> {
        let client = self.client().await?;
        let seconds = within.as_secs_f64();
        let row = client
            .query_opt_cached(
                "SELECT n.user_id FROM inbound_events e JOIN notifications n ON n.id = e.notification_id
                 WHERE e.alert_group_id = $1 AND e.kind = $2 AND e.ok
                   AND e.received_at > now() - make_interval(secs => $3)
                 ORDER BY e.id DESC LIMIT 1",
                &[&group_id, &kind, &seconds],
            )
            .await?;
        Ok(row.map(|row| row.try_get(0)).transpose()?.flatten())
    }
}
