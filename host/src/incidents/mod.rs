//! Incident details (`grafana.oncall.incident_details`): the alert group an engine text
//! is about, read from OnCall's public API, for plugins that can show more than an SMS.
//! A lookup never fails a delivery: on any error the notification goes as it was.

mod api;
mod matching;
mod mention;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use api::{ApiAlertGroup, ApiError, OnCallApi};
pub use matching::{find, AlertGroupDetails};
pub use mention::{mention, Mention};

use crate::config::StartupConfig;

/// A lookup that misses in a snapshot at least this old fetches again: the group may
/// have started since.
const REFETCH_AFTER: Duration = Duration::from_secs(1);

struct Snapshot {
    /// The `grafana.oncall.url` it was read from: a reload to another URL reads again.
    base: String,
    fetched: Instant,
    groups: Arc<Vec<ApiAlertGroup>>,
    integrations: Arc<HashMap<String, String>>,
}

pub struct IncidentDetails {
    api: OnCallApi,
    timeout: Duration,
    fresh_for: Duration,
    // An async lock, so a burst of pages shares one fetch.
    snapshot: tokio::sync::Mutex<Option<Snapshot>>,
}

impl IncidentDetails {
    /// `None` when there is no OnCall API to read: neither incident details on nor an
    /// API token set. With a token, pages are matched to their alert group even with
    /// details off, so the person paged can act on the group.
    pub fn from_config(
        startup: &StartupConfig,
        oncall_url: &str,
        max_response_bytes: usize,
    ) -> Result<Option<Self>, ApiError> {
        let api_configured =
            !startup.oncall_header_token.trim().is_empty() && !oncall_url.is_empty();
        if !startup.incident_details && !api_configured {
            return Ok(None);
        }
        let timeout = startup.details_timeout.0;
        Ok(Some(IncidentDetails {
            api: OnCallApi::new(
                oncall_url,
                &startup.oncall_header_token,
                timeout,
                max_response_bytes,
            )?,
            timeout,
            fresh_for: startup.details_cache.0,
            snapshot: tokio::sync::Mutex::new(None),
        }))
    }

    /// The API client, against the running `grafana.oncall.url`.
    pub fn api_at(&self, base: &str) -> OnCallApi {
        self.api.at(base)
    }

    async fn fetch(&self, base: &str) -> Result<Snapshot, ApiError> {
        let api = self.api.at(base);
        let (groups, integrations) =
            tokio::join!(api.recent_alert_groups(), api.integration_names());
        let integrations = integrations.unwrap_or_else(|err| {
            tracing::warn!(error = %err, "cannot read OnCall integrations; details go without their names");
            HashMap::new()
        });
        Ok(Snapshot {
            base: base.to_owned(),
            fetched: Instant::now(),
            groups: Arc::new(groups?),
            integrations: Arc::new(integrations),
        })
    }

    async fn find_in_snapshot(
        &self,
        base: &str,
        mention: &Mention,
    ) -> Result<Option<AlertGroupDetails>, ApiError> {
        let mut snapshot = self.snapshot.lock().await;
        let stale = snapshot
            .as_ref()
            .is_none_or(|s| s.base != base || s.fetched.elapsed() >= self.fresh_for);
        if stale {
            *snapshot = Some(self.fetch(base).await?);
        }
        let Some(current) = snapshot.as_ref() else {
            return Ok(None);
        };
        if let Some(found) = find(mention, &current.groups, &current.integrations) {
            return Ok(Some(found));
        }
        if !stale && current.fetched.elapsed() >= REFETCH_AFTER {
            let fresh = self.fetch(base).await?;
            let found = find(mention, &fresh.groups, &fresh.integrations);
            *snapshot = Some(fresh);
            return Ok(found);
        }
        Ok(None)
    }

    /// The alert group `text` is about, read from the OnCall at `base` (the running
    /// `grafana.oncall.url`), within the configured timeout; `None` (with a warning on
    /// errors) when it cannot be told.
    pub async fn lookup(&self, base: &str, text: &str) -> Option<AlertGroupDetails> {
        let mention = mention(text);
        if mention == Mention::Nothing {
            return None;
        }
        match tokio::time::timeout(self.timeout, self.find_in_snapshot(base, &mention)).await {
            Ok(Ok(Some(found))) => Some(found),
            Ok(Ok(None)) => {
                tracing::info!(
                    ?mention,
                    "no recent alert group matches the text; sent without details"
                );
                None
            }
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "cannot read incident details; sent without them");
                None
            }
            Err(_) => {
                tracing::warn!(
                    timeout_ms = self.timeout.as_millis() as u64,
                    "incident details took too long; sent without them"
                );
                None
            }
        }
    }
}
