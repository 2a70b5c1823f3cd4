//! Carrying out what a provider's call meant: an action on the page's alert group
//! through OnCall's public API, with a note naming who really acted, or a receipt noted
//! on the page. Every event is stored with its outcome and counted; the outcome's words
//! go back to the plugin, to tell the person.

use chrono::Utc;

use crate::incidents::{ApiError, Mention, OnCallApi};
use crate::metrics::Metrics;
use crate::model::{Action, PhoneNumber};
use crate::plugins::{EventKind, EventTarget, InboundEvent, Outcome};
use crate::store::inbound::NewInboundEvent;
use crate::store::notifications::Notification;
use crate::store::replies::OpenPage;
use crate::store::{Store, StoreError};

/// What carrying out events needs.
pub struct Carrier<'a> {
    pub store: &'a Store,
    pub metrics: &'a Metrics,
    /// `None` without `grafana.oncall.url` and `grafana.oncall.header_token`.
    pub oncall: Option<OnCallApi>,
    /// The plugin the call came to.
    pub plugin: &'a str,
    /// How far back an SMS reply looks for the page it answers (the reply URLs' life).
    pub reply_window: std::time::Duration,
}

/// What an event is about: a page, or why none could be told.
enum Targeted {
    Page(Box<Notification>),
    Nothing(String),
}

/// A page's alert group as a person knows it: its title from the engine's text, else
/// its id.
fn title_of(page: &OpenPage) -> String {
    match crate::incidents::mention(&page.message) {
        Mention::Sms {
            title: Some(title), ..
        }
        | Mention::Call { title, .. } => title,
        _ => page.alert_group_id.clone(),
    }
}

/// Longest `via` or reason kept from a plugin.
const MAX_PLUGIN_WORDS: usize = 200;

/// A plugin's free text about an event, cut short and with phone numbers masked.
fn plugin_words(text: &str) -> String {
    let cut: String = text.chars().take(MAX_PLUGIN_WORDS).collect();
    crate::model::phone::mask_in_text(&cut)
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
        // The plugin's words go to the log, the database and a note in OnCall: bounded,
        // numbers masked.
        let via = plugin_words(&event.via);
        let (notification, result) = match self.target(event, signed_for).await? {
            Targeted::Page(page) => (Some(*page), None),
            Targeted::Nothing(why) => (None, Some(Ended::Unmatched(why))),
        };
        let result = match (result, &event.kind, &notification) {
            (Some(ended), _, _) => ended,
            (None, _, None) => Ended::Unmatched(
                "This reply could not be matched to a page; act in OnCall.".to_owned(),
            ),
            (None, EventKind::Act(action), Some(page)) => {
                let ended = self.act(*action, page, &via).await?;
                if let Ended::Done(_) = &ended {
                    self.settle_group(page, *action).await?;
                }
                ended
            }
            (None, EventKind::Delivered, Some(page)) => {
                // A route waiting for this receipt goes no further.
                if self.store.confirm_page(page.id).await? {
                    Ended::Done("Delivery confirmed; the route stops here.".to_owned())
                } else {
                    Ended::Done("Delivery noted.".to_owned())
                }
            }
            (None, EventKind::NotDelivered(why), Some(page)) => {
                self.not_through(page, &plugin_words(why)).await?
            }
            (None, EventKind::NotAnswered, Some(page)) => {
                self.not_through(page, "not answered").await?
            }
        };
        let (ok, label, text) = match result {
            Ended::Done(text) => (true, "ok", text),
            Ended::Refused(text) => (false, "refused", text),
            Ended::Unmatched(text) => (false, "unmatched", text),
        };
        let kind = kind_label(&event.kind);
        let detail = match &event.kind {
            EventKind::NotDelivered(why) => Some(plugin_words(why)),
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
            detail: detail.as_deref(),
            via: &via,
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
            via = %via,
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
        if let Some(group) = page.alert_group_id.as_deref() {
            self.store
                .set_group_state(group, action.state_after())
                .await?;
        }
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
        event: &InboundEvent,
        signed_for: Option<&Notification>,
    ) -> Result<Targeted, StoreError> {
        let found = match &event.target {
            EventTarget::ThisNotification => signed_for.cloned(),
            EventTarget::ProviderId(id) => {
                match self
                    .store
                    .notification_by_provider_id(self.plugin, id)
                    .await?
                {
                    Some(found) => self.store.get_notification(found).await?,
                    None => None,
                }
            }
            EventTarget::ReplyFrom { phone_number, code } => {
                return self.replied_to(phone_number, code, &event.kind).await;
            }
        };
        Ok(match found {
            Some(page) => Targeted::Page(Box::new(page)),
            None => Targeted::Nothing(
                "This reply could not be matched to a page; act in OnCall.".to_owned(),
            ),
        })
    }

    /// The page an SMS reply from `phone_number` is about: the only open group paged to
    /// that person through this plugin, or the one its `code` names. Several open and
    /// no code: the person is told the codes.
    async fn replied_to(
        &self,
        phone_number: &str,
        code: &str,
        kind: &EventKind,
    ) -> Result<Targeted, StoreError> {
        let user = match PhoneNumber::parse(phone_number, None) {
            Ok(number) => self.store.find_active_by_phone(number.e164()).await?,
            Err(_) => None,
        };
        let Some(user) = user else {
            return Ok(Targeted::Nothing(
                "This number is not one Emu-OnCall pages.".to_owned(),
            ));
        };
        let open = self
            .store
            .open_pages(&user.id, self.plugin, self.reply_window)
            .await?;
        let code = code.trim().to_ascii_lowercase();
        let chosen = match (open.as_slice(), code.is_empty()) {
            ([], _) => {
                return Ok(Targeted::Nothing(
                    "Nothing paged to you is open now.".to_owned(),
                ))
            }
            ([only], true) => Some(only.notification_id),
            (_, false) => open
                .iter()
                .find(|page| page.code.as_deref() == Some(code.as_str()))
                .map(|page| page.notification_id),
            (_, true) => None,
        };
        if let Some(id) = chosen {
            return Ok(match self.store.get_notification(id).await? {
                Some(page) => Targeted::Page(Box::new(page)),
                None => Targeted::Nothing("That page is gone.".to_owned()),
            });
        }
        // Ambiguous, or a code no open group has: say which codes there are.
        let groups: Vec<String> = open
            .iter()
            .map(|page| page.alert_group_id.clone())
            .collect();
        let digit = match kind {
            EventKind::Act(Action::Acknowledge) => "1",
            EventKind::Act(Action::Resolve) => "2",
            EventKind::Act(Action::Silence { .. }) => "3",
            _ => "1",
        };
        let mut choices = Vec::with_capacity(open.len());
        for page in &open {
            let code = match &page.code {
                Some(code) => code.clone(),
                None => {
                    self.store
                        .reply_code(&user.id, &page.alert_group_id, &groups)
                        .await?
                }
            };
            choices.push(format!("{digit}{code} for {}", title_of(page)));
        }
        let lead = if code.is_empty() {
            "Several alerts are open"
        } else {
            "No open alert has that code"
        };
        Ok(Targeted::Nothing(format!(
            "{lead}: reply {}.",
            choices.join(", ")
        )))
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
