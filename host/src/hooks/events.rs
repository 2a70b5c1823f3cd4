//! Carrying out what a provider's call meant: an action on the page's alert group
//! through OnCall's public API, with a note naming who really acted, or a receipt noted
//! on the page. Every event is stored with its outcome and counted; the outcome's words
//! go back to the plugin, to tell the person.

use chrono::Utc;

use crate::incidents::{ApiError, OnCallApi};
use crate::metrics::Metrics;
use crate::model::Action;
use crate::plugins::{EventKind, EventTarget, InboundEvent, Outcome};
use crate::store::inbound::NewInboundEvent;
use crate::store::notifications::Notification;
use crate::store::{Store, StoreError};

/// What carrying out events needs.
pub struct Carrier<'a> {
    pub store: &'a Store,
    pub metrics: &'a Metrics,
    /// `None` without `grafana.oncall.url` and `grafana.oncall.header_token`.
    pub oncall: Option<OnCallApi>,
    /// The plugin the call came to.
    pub plugin: &'a str,
}

/// How an event ended, before it is put in words.
enum Ended {
    Done(String),
    Refused(String),
    Unmatched(String),
}

impl Carrier<'_> {
    /// Carries `event` out. `signed_for` is the notification of the reply URL called.
    pub async fn carry_out(
        &self,
        event: &InboundEvent,
        signed_for: Option<&Notification>,
    ) -> Result<Outcome, StoreError> {
        let notification = self.target(&event.target, signed_for).await?;
        let result = match (&event.kind, &notification) {
            (_, None) => Ended::Unmatched(
                "This reply could not be matched to a page; act in OnCall.".to_owned(),
            ),
            (EventKind::Act(action), Some(page)) => {
                let ended = self.act(*action, page, &event.via).await?;
                if let Ended::Done(_) = &ended {
                    self.settle_group(page, *action).await?;
                }
                ended
            }
            (EventKind::Delivered, Some(page)) => {
                // A route waiting for this receipt goes no further.
                if self.store.confirm_page(page.id).await? {
                    Ended::Done("Delivery confirmed; the route stops here.".to_owned())
                } else {
                    Ended::Done("Delivery noted.".to_owned())
                }
            }
            (EventKind::NotDelivered(why), Some(page)) => self.not_through(page, why).await?,
            (EventKind::NotAnswered, Some(page)) => self.not_through(page, "not answered").await?,
        };
        let (ok, label, text) = match result {
            Ended::Done(text) => (true, "ok", text),
            Ended::Refused(text) => (false, "refused", text),
            Ended::Unmatched(text) => (false, "unmatched", text),
        };
        let kind = kind_label(&event.kind);
        let detail = match &event.kind {
            EventKind::NotDelivered(why) => Some(why.as_str()),
            _ => None,
        };
        self.metrics.inbound_event(self.plugin, kind, label);
        let row = NewInboundEvent {
            plugin: self.plugin,
            notification_id: notification.as_ref().map(|page| page.id),
            alert_group_id: notification
                .as_ref()
                .and_then(|page| page.alert_group_id.as_deref()),
            kind,
            detail,
            via: &event.via,
            ok,
            outcome: &text,
        };
        if let Err(err) = self.store.record_inbound_event(&row).await {
            // The action stands in OnCall whether or not its record is written.
            tracing::error!(plugin = self.plugin, kind, error = %err, "cannot store an inbound event");
        }
        tracing::info!(
            plugin = self.plugin,
            notification = ?notification.as_ref().map(|page| page.id),
            kind,
            via = %event.via,
            outcome = label,
            "inbound event: {text}"
        );
        Ok(Outcome {
            event: event.clone(),
            text,
            ok,
        })
    }

    /// A receipt said the page did not get through: a route waiting on it moves on now.
    async fn not_through(&self, page: &Notification, why: &str) -> Result<Ended, StoreError> {
        let moved = self
            .store
            .move_on_now(page.id, &format!("{}: {why}", self.plugin))
            .await?;
        Ok(Ended::Done(if moved {
            "Failed delivery noted; the route moves on to its next plugin.".to_owned()
        } else {
            "Failed delivery noted.".to_owned()
        }))
    }

    /// Someone acted on the page: it got through, and the group's other pages still
    /// waiting (retries, failovers) are no longer needed once it is acknowledged,
    /// resolved or silenced.
    async fn settle_group(&self, page: &Notification, action: Action) -> Result<(), StoreError> {
        self.store.confirm_page(page.id).await?;
        if matches!(action, Action::Unacknowledge) {
            return Ok(());
        }
        if let Some(group) = page.alert_group_id.as_deref() {
            let cancelled = self
                .store
                .cancel_waiting_pages(
                    group,
                    &format!(
                        "alert group {} through a page",
                        action.done().to_lowercase()
                    ),
                )
                .await?;
            if cancelled > 0 {
                tracing::info!(
                    group,
                    cancelled,
                    "the group was dealt with: its waiting pages are cancelled"
                );
            }
        }
        Ok(())
    }

    async fn target(
        &self,
        target: &EventTarget,
        signed_for: Option<&Notification>,
    ) -> Result<Option<Notification>, StoreError> {
        match target {
            EventTarget::ThisNotification => Ok(signed_for.cloned()),
            EventTarget::ProviderId(id) => {
                match self
                    .store
                    .notification_by_provider_id(self.plugin, id)
                    .await?
                {
                    Some(found) => self.store.get_notification(found).await,
                    None => Ok(None),
                }
            }
            // Matching an SMS reply to the newest open page for its number is not built
            // yet: such a reply is answered that it could not be matched.
            EventTarget::ReplyFrom { .. } => Ok(None),
        }
    }

    async fn act(
        &self,
        action: Action,
        page: &Notification,
        via: &str,
    ) -> Result<Ended, StoreError> {
        let Some(group) = page.alert_group_id.as_deref() else {
            return Ok(Ended::Unmatched(
                "No OnCall alert group was identified for this page; act in OnCall.".to_owned(),
            ));
        };
        let Some(api) = &self.oncall else {
            return Ok(Ended::Refused(
                "Emu-OnCall has no OnCall API token to act with; act in OnCall.".to_owned(),
            ));
        };
        if let Err(err) = api.act(group, action).await {
            tracing::warn!(plugin = self.plugin, notification = %page.id, group, action = action.api_verb(), error = %err, "OnCall did not take the action");
            return Ok(Ended::Refused(match err {
                ApiError::Refused { detail, .. } => format!("OnCall refused: {detail}."),
                _ => "OnCall could not be reached; act in OnCall.".to_owned(),
            }));
        }
        let seconds = (Utc::now() - page.created_at).num_milliseconds().max(0) as f64 / 1000.0;
        self.metrics.acted(action.api_verb(), seconds);
        let responder = self.responder(page).await?;
        let note = format!("{} by {responder} by {via}", action.done());
        if let Err(err) = api.add_note(group, &note).await {
            tracing::warn!(plugin = self.plugin, group, error = %err, "the action was taken but its note could not be added");
        }
        Ok(Ended::Done(format!("{}.", action.done())))
    }

    /// The person the page was for, as a note names them.
    async fn responder(&self, page: &Notification) -> Result<String, StoreError> {
        let user = match &page.user_id {
            Some(id) => self.store.find_user(id).await?,
            None => None,
        };
        Ok(match user {
            Some(user) if !user.name.trim().is_empty() => user.name,
            Some(user) => user.username,
            None => page
                .recipient_email
                .clone()
                .unwrap_or_else(|| "the person paged".to_owned()),
        })
    }
}

fn kind_label(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::Act(action) => action.api_verb(),
        EventKind::Delivered => "delivered",
        EventKind::NotDelivered(_) => "not_delivered",
        EventKind::NotAnswered => "not_answered",
    }
}
