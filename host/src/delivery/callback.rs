//! Shift changes of `callback` schedules: a JSON POST to the schedule's `callback_url`,
//! made by the host rather than a plugin, since the operator named the URL in the
//! server's own config and OnCall's formatted-webhook integration is the receiver.
//!
//! The URL is looked up in the config at each attempt, not stored with the
//! notification: it carries the integration's token, and a corrected URL applies to
//! the retries of what is already queued.

use serde_json::Value;

use crate::config::LiveConfig;
use crate::model::Channel;
use crate::model::{AttemptOutcome, Failure, FailureKind, Receipt};
use crate::store::claims::Claim;
use crate::store::notifications::Notification;
use crate::store::StoreError;

use super::record::Sender;
use super::settle::RoundEnd;

/// The name attempts are recorded under, in place of a plugin's.
pub const SENDER: &str = "callback";

/// The payload `source` of the schedule tracker's notifications, the only ones that
/// may be callbacks.
pub const SOURCE: &str = "schedule";

/// A queued callback: which schedule it belongs to and the body to POST.
pub struct Callback<'a> {
    pub schedule: &'a str,
    pub body: &'a Value,
}

impl<'a> Callback<'a> {
    /// `Some` when the notification is a callback rather than a message to a person.
    ///
    /// Only the schedule tracker queues callbacks: a `shift` notification whose payload
    /// the host wrote with `"source": "schedule"`. Anything the engine sends (a push's
    /// JSON, say) is kept under a key of its own, so it can never pass for one and make
    /// the server POST a body of its choosing to an integration URL.
    pub fn of(notification: &'a Notification) -> Option<Self> {
        if notification.channel != Channel::Shift {
            return None;
        }
        let payload = &notification.payload;
        if payload.get("source")?.as_str()? != SOURCE
            || payload.get("transport")?.as_str()? != "callback"
        {
            return None;
        }
        Some(Callback {
            schedule: payload.get("schedule")?.as_str()?,
            body: payload.get("callback")?,
        })
    }

    /// Where it goes now; an error when the schedule or its URL has left the config.
    pub fn url<'c>(&self, config: &'c LiveConfig) -> Result<&'c str, String> {
        let schedule = config
            .grafana
            .oncall
            .schedules
            .get(self.schedule)
            .ok_or_else(|| format!("schedule {:?} is no longer configured", self.schedule))?;
        let url = schedule.callback_url.trim();
        if url.is_empty() {
            return Err(format!(
                "schedule {:?} has no callback_url any more",
                self.schedule
            ));
        }
        Ok(url)
    }
}

/// Scheme, host and port only: callback URLs carry a token in their path.
pub fn redacted(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => match parsed.port() {
            Some(port) => format!(
                "{}://{}:{port}/…",
                parsed.scheme(),
                parsed.host_str().unwrap_or("")
            ),
            None => format!(
                "{}://{}/…",
                parsed.scheme(),
                parsed.host_str().unwrap_or("")
            ),
        },
        Err(_) => "(invalid URL)".to_owned(),
    }
}

/// One POST. Timeouts, refused connections, 408, 429 and 5xx are worth another try;
/// any other answer outside 2xx will not change by trying again.
pub async fn post(client: &reqwest::Client, url: &str, body: &Value) -> AttemptOutcome {
    let shown = redacted(url);
    let response = match client.post(url).json(body).send().await {
        Ok(response) => response,
        Err(err) if err.is_builder() => {
            return AttemptOutcome::Permanent(Failure::provider(format!(
                "{shown}: not a usable URL"
            )));
        }
        Err(err) => {
            let (kind, reason) = if err.is_timeout() {
                (FailureKind::Timeout, "timed out".to_owned())
            } else if err.is_connect() {
                (FailureKind::Provider, "cannot connect".to_owned())
            } else {
                // reqwest's message includes the URL; keep only what went wrong.
                (FailureKind::Provider, err.without_url().to_string())
            };
            return AttemptOutcome::Retryable(Failure {
                kind,
                reason: format!("{shown}: {reason}"),
            });
        }
    };
    let status = response.status();
    if status.is_success() {
        return AttemptOutcome::Delivered(Receipt {
            provider_id: None,
            detail: Some(format!("HTTP {}", status.as_u16())),
        });
    }
    let error = Failure::provider(format!("{shown} answered HTTP {}", status.as_u16()));
    if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
        AttemptOutcome::Retryable(error)
    } else {
        AttemptOutcome::Permanent(error)
    }
}

impl super::Deliverer {
    /// A round for a `callback` schedule's shift change: one POST, with the same
    /// retries, dead letters and attempt records as a plugin delivery.
    pub(super) async fn callback_round(
        &self,
        notification: &Notification,
        callback: &Callback<'_>,
        claim: Claim,
    ) -> Result<super::RoundResult, StoreError> {
        let config = self.config();
        let url = match callback.url(&config) {
            Ok(url) => url,
            Err(error) => {
                return self
                    .conclude(notification, claim, RoundEnd::Dead(error), Vec::new())
                    .await
            }
        };
        // As for a plugin call: the POST runs inside a lease that is still ours.
        if !self
            .renew_unless_fresh(claim, self.callback_timeout)
            .await?
        {
            return Ok(super::RoundResult::Waiting("lease lost".to_owned()));
        }
        let started = std::time::Instant::now();
        let outcome = post(&self.http, url, callback.body).await;
        let sender = Sender {
            name: SENDER,
            version: env!("CARGO_PKG_VERSION"),
        };
        let row = self.note_attempt(notification, &sender, claim.attempt, &outcome, started);
        let end = match outcome {
            AttemptOutcome::Delivered(_) => RoundEnd::Delivered {
                by: SENDER.to_owned(),
                awaiting: None,
            },
            AttemptOutcome::Retryable(error) => RoundEnd::Retryable {
                error: error.reason,
                delivered_by: None,
            },
            AttemptOutcome::Permanent(error) => RoundEnd::Dead(error.reason),
        };
        self.conclude(notification, claim, end, vec![row]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_only_where_it_goes() {
        assert_eq!(
            redacted("https://oncall.example.com/integrations/v1/formatted_webhook/SECRET/"),
            "https://oncall.example.com/…"
        );
        assert_eq!(
            redacted("http://127.0.0.1:8080/hook?token=SECRET"),
            "http://127.0.0.1:8080/…"
        );
        assert_eq!(redacted("not a url SECRET"), "(invalid URL)");
    }
}
