//! Polling the configured schedules and announcing shift changes, once, across replicas
//! and restarts.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::fetch::{self, Fetched};
use super::shift::{ShiftChange, ShiftEvent};
use super::{occurrences, on_call_at, parse, Occurrence};
use crate::config::{LiveConfig, ScheduleConfig, ScheduleTransport, SharedConfig};
use crate::delivery::Workers;
use crate::metrics::Metrics;
use crate::model::Channel;
use crate::store::notifications::NewNotification;
use crate::store::schedules::{PollResult, ScheduleState, Transition};
use crate::store::users::User;
use crate::store::{Store, StoreError};

/// How long one replica may hold a schedule's poll.
const POLL_HOLD: Duration = Duration::from_secs(120);

pub struct Poller {
    store: Store,
    config: SharedConfig,
    metrics: Arc<Metrics>,
    workers: Arc<Workers>,
    client: reqwest::Client,
    owner: String,
}

/// The export URL: absolute, or relative to `grafana.oncall.url`.
pub fn export_url(config: &LiveConfig, schedule: &ScheduleConfig) -> String {
    let url = schedule.ical_url.trim();
    if url.starts_with("http://")
        || url.starts_with("https://")
        || config.grafana.oncall.url.is_empty()
    {
        url.to_owned()
    } else {
        format!(
            "{}{}",
            config.grafana.oncall.url,
            url.trim_start_matches('/')
        )
    }
}

/// The instant a person's current stretch of duty began (contiguous occurrences merged).
fn began(shifts: &[Occurrence], person: &str, now: DateTime<Utc>) -> DateTime<Utc> {
    let mut start = now;
    loop {
        let earlier = shifts
            .iter()
            .filter(|o| o.person == person && o.start < start && o.end >= start)
            .map(|o| o.start)
            .min();
        match earlier {
            Some(at) => start = at,
            None => return start,
        }
    }
}

/// When the current stretch ends.
fn ends(shifts: &[Occurrence], person: &str, now: DateTime<Utc>) -> DateTime<Utc> {
    let mut end = now;
    loop {
        let later = shifts
            .iter()
            .filter(|o| o.person == person && o.start <= end && o.end > end)
            .map(|o| o.end)
            .max();
        match later {
            Some(at) => end = at,
            None => return end,
        }
    }
}

/// When a person's duty ended: the latest end at or before `now`, else `now` (their
/// shift was removed from the export).
fn ended(shifts: &[Occurrence], person: &str, now: DateTime<Utc>) -> DateTime<Utc> {
    shifts
        .iter()
        .filter(|o| o.person == person && o.end <= now)
        .map(|o| o.end)
        .max()
        .unwrap_or(now)
}

impl Poller {
    fn config(&self) -> Arc<LiveConfig> {
        self.config.get()
    }

    pub fn new(
        store: Store,
        config: SharedConfig,
        metrics: Arc<Metrics>,
        workers: Arc<Workers>,
        fetch_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let client = crate::http_client::client(fetch_timeout)?;
        let owner = format!("{}-{}", std::process::id(), crate::ids::short_random());
        Ok(Poller {
            store,
            config,
            metrics,
            workers,
            client,
            owner,
        })
    }

    /// Polls until `stop` is cancelled. The schedule list is read from the configuration
    /// on every round, so a reload adds or drops schedules.
    pub async fn run(self, stop: tokio_util::sync::CancellationToken) {
        let mut registered: Vec<String> = Vec::new();
        loop {
            let config = self.config();
            let names: Vec<String> = config.grafana.oncall.schedules.keys().cloned().collect();
            let tick = (config.schedules.poll_interval.0 / 4)
                .clamp(Duration::from_millis(50), Duration::from_secs(5));
            if !names.is_empty() && names != registered {
                match self.store.ensure_schedules(&names).await {
                    Ok(()) => registered = names.clone(),
                    Err(err) => tracing::warn!(error = %err, "cannot register schedules yet"),
                }
            }
            if !names.is_empty() && names == registered {
                match self
                    .store
                    .claim_due_schedules(&names, &self.owner, POLL_HOLD)
                    .await
                {
                    Ok(due) => {
                        for state in due {
                            // A stop does not wait for a slow export: the schedule's
                            // hold runs out and another replica polls it.
                            tokio::select! {
                                () = self.poll(state) => {}
                                () = stop.cancelled() => return,
                            }
                        }
                    }
                    Err(err) => tracing::debug!(error = %err, "schedule polling skipped"),
                }
            }
            tokio::select! {
                () = tokio::time::sleep(tick) => {}
                () = stop.cancelled() => return,
            }
        }
    }

    async fn poll(&self, state: ScheduleState) {
        let name = state.name.clone();
        let config = self.config();
        let Some(schedule) = config.grafana.oncall.schedules.get(&name) else {
            return;
        };
        let interval = self.config().schedules.poll_interval.0;
        match self.poll_once(schedule, &state).await {
            Ok(outcome) => self.metrics.schedule_poll(&name, outcome),
            Err((kind, error)) => {
                self.metrics.schedule_poll(&name, kind);
                tracing::warn!(schedule = %name, %error, "schedule poll failed; keeping the last known on-call set");
                if let Err(err) = self
                    .store
                    .fail_poll(&name, &self.owner, &error, interval)
                    .await
                {
                    tracing::warn!(schedule = %name, error = %err, "cannot record the failed poll");
                }
            }
        }
    }

    async fn poll_once(
        &self,
        schedule: &ScheduleConfig,
        state: &ScheduleState,
    ) -> Result<&'static str, (&'static str, String)> {
        let url = export_url(&self.config(), schedule);
        let fetched = fetch::conditional_get(
            &self.client,
            &url,
            state.etag.as_deref(),
            state.last_modified.as_deref(),
            self.config().limits.max_response_bytes,
        )
        .await
        .map_err(|err| ("fetch_error", err.to_string()))?;
        let (body, etag, last_modified, outcome) = match fetched {
            Fetched::NotModified => match &state.body {
                Some(body) => (
                    body.clone(),
                    state.etag.clone(),
                    state.last_modified.clone(),
                    "not_modified",
                ),
                None => {
                    return Err((
                        "fetch_error",
                        "304 Not Modified with no export kept".to_owned(),
                    ))
                }
            },
            Fetched::Body {
                text,
                etag,
                last_modified,
            } => (text, etag, last_modified, "ok"),
        };
        let calendar = parse(&body).map_err(|err| ("parse_error", err.to_string()))?;
        // Shifts in a zone nobody knows could be anyone's now: the poll fails, naming
        // the zone and the event, rather than answering "nobody on call".
        if let Some(error) = calendar.zone_error() {
            return Err(("zone_error", error));
        }
        let now = Utc::now();
        let (shifts, errors) = occurrences(
            &calendar,
            now - chrono::Duration::days(8),
            now + chrono::Duration::days(8),
        );
        for error in errors.iter().chain(&calendar.skipped) {
            tracing::warn!(schedule = %state.name, %error, "part of the export was not understood");
        }
        let current = on_call_at(&shifts, now);
        if let Some(previous) = &state.on_call {
            self.announce_changes(schedule, &state.name, previous, &current, &shifts, now)
                .await
                .map_err(|err| ("store_error", err.to_string()))?;
        } else {
            tracing::info!(schedule = %state.name, on_call = ?current, "first poll: on-call set recorded without announcing");
        }
        self.store
            .finish_poll(
                &state.name,
                &self.owner,
                PollResult {
                    on_call: &current,
                    body: &body,
                    etag: etag.as_deref(),
                    last_modified: last_modified.as_deref(),
                },
                self.config().schedules.poll_interval.0,
            )
            .await
            .map_err(|err| ("store_error", err.to_string()))?;
        Ok(outcome)
    }

    /// Records every change between the last on-call set and this one. An error leaves
    /// the poll unfinished, so the next poll sees the same changes again (those already
    /// recorded are skipped by their unique key).
    async fn announce_changes(
        &self,
        schedule: &ScheduleConfig,
        key: &str,
        previous: &[String],
        current: &[String],
        shifts: &[Occurrence],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let before: BTreeSet<&String> = previous.iter().collect();
        let after: BTreeSet<&String> = current.iter().collect();
        let title = if schedule.name.is_empty() {
            key
        } else {
            schedule.name.as_str()
        };
        for person in before.difference(&after) {
            let shift_end = ended(shifts, person, now);
            // The start that was announced, so the end carries the same alert_uid even
            // when the export has changed the shift since.
            let shift_start = match self.store.open_shift_start(key, person, shift_end).await? {
                Some(at) => at,
                None => began(shifts, person, shift_end),
            };
            let change = ShiftChange {
                schedule: key,
                title,
                person,
                event: ShiftEvent::End,
                shift_start,
                shift_end,
            };
            self.announce(schedule, &change).await?;
        }
        for person in after.difference(&before) {
            let change = ShiftChange {
                schedule: key,
                title,
                person,
                event: ShiftEvent::Start,
                shift_start: began(shifts, person, now),
                shift_end: ends(shifts, person, now),
            };
            self.announce(schedule, &change).await?;
        }
        Ok(())
    }

    /// What is queued for a change: a `shift` notification to the person (local), or the
    /// formatted-webhook POST (callback), durable like every other notification.
    fn notification_for(
        schedule: &ScheduleConfig,
        change: &ShiftChange<'_>,
        user: Option<&User>,
    ) -> Option<NewNotification> {
        let mut payload = serde_json::json!({
            "source": crate::delivery::CALLBACK_SOURCE,
            "schedule": change.schedule,
            "event": change.event.as_str(),
            "at": change.at().to_rfc3339(),
        });
        let message = match schedule.transport {
            ScheduleTransport::Local => {
                user?;
                change.personal_message()
            }
            ScheduleTransport::Callback => {
                let body = change.callback_body(user);
                let message = body["message"].as_str().unwrap_or_default().to_owned();
                payload["transport"] = "callback".into();
                payload["callback"] = body;
                message
            }
        };
        Some(NewNotification {
            channel: Channel::Shift,
            user_id: user.map(|user| user.id.clone()),
            recipient_email: user.map(|user| user.email.clone()),
            message,
            payload,
        })
    }

    async fn announce(
        &self,
        schedule: &ScheduleConfig,
        change: &ShiftChange<'_>,
    ) -> Result<(), StoreError> {
        let key = change.schedule;
        let person = change.person;
        let kind = change.event.as_str();
        let at = change.at();
        let user = self.store.find_active_by_username_or_email(person).await?;
        if user.is_none() {
            match schedule.transport {
                ScheduleTransport::Local => {
                    tracing::warn!(schedule = %key, person, kind, "nobody with this username or email: the shift change is recorded, not sent")
                }
                ScheduleTransport::Callback => {
                    tracing::warn!(schedule = %key, person, kind, "nobody with this username or email: the callback names them only by username")
                }
            }
            self.metrics.schedule_poll(key, "unknown_user");
        }
        let notification = Self::notification_for(schedule, change, user.as_ref());
        let transition = Transition {
            schedule: key,
            username: person,
            kind,
            at,
        };
        match self
            .store
            .announce_transition(transition, notification)
            .await?
        {
            Some(id) => {
                tracing::info!(schedule = %key, person, kind, %at, notification = ?id, "shift change announced");
                self.workers.wake();
            }
            None => {
                tracing::debug!(schedule = %key, person, kind, "shift change already announced")
            }
        }
        Ok(())
    }
}
