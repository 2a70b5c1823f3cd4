//! The two lists of OnCall's public API that incident details are read from: recent
//! alert groups (newest first) and integrations, with the raw `Authorization` header the
//! API expects (no `Bearer`).

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("OnCall API {path}: {reason}")]
    Http { path: &'static str, reason: String },
    #[error("OnCall API {path} answered HTTP {status}")]
    Status { path: &'static str, status: u16 },
    #[error("OnCall API {path} sent an unreadable answer: {reason}")]
    Body { path: &'static str, reason: String },
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiLabel {
    pub key: ApiLabelPart,
    pub value: ApiLabelPart,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiLabelPart {
    pub name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ApiPermalinks {
    #[serde(default)]
    pub web: Option<String>,
}

/// One item of `GET api/v1/alert_groups/`; fields added in later engine versions are
/// optional.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiAlertGroup {
    pub id: String,
    #[serde(default)]
    pub integration_id: Option<String>,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub permalinks: ApiPermalinks,
    #[serde(default)]
    pub labels: Vec<ApiLabel>,
}

#[derive(Debug, Deserialize)]
struct Page<T> {
    results: Vec<T>,
}

#[derive(Debug, Deserialize)]
struct ApiIntegration {
    id: String,
    #[serde(default)]
    name: String,
}

pub struct OnCallApi {
    http: reqwest::Client,
    base: String,
    token: String,
    /// `limits.max_response_bytes`.
    max_bytes: usize,
}

const ALERT_GROUPS: &str = "api/v1/alert_groups/";
const INTEGRATIONS: &str = "api/v1/integrations/";

impl OnCallApi {
    /// `base` ends in `/` (the config normalises it).
    pub fn new(
        base: &str,
        token: &str,
        timeout: Duration,
        max_bytes: usize,
    ) -> Result<Self, ApiError> {
        let http = crate::http_client::client(timeout).map_err(|err| ApiError::Http {
            path: ALERT_GROUPS,
            reason: err.to_string(),
        })?;
        Ok(OnCallApi {
            http,
            base: base.to_owned(),
            token: token.to_owned(),
            max_bytes,
        })
    }

    /// The same client and token against another base URL (a reloaded
    /// `grafana.oncall.url`).
    pub fn at(&self, base: &str) -> OnCallApi {
        OnCallApi {
            http: self.http.clone(),
            base: base.to_owned(),
            token: self.token.clone(),
            max_bytes: self.max_bytes,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn first_page<T: serde::de::DeserializeOwned>(
        &self,
        path: &'static str,
    ) -> Result<Vec<T>, ApiError> {
        let response = self
            .http
            .get(format!("{}{path}?perpage=100", self.base))
            .header(reqwest::header::AUTHORIZATION, &self.token)
            .send()
            .await
            .map_err(|err| ApiError::Http {
                path,
                reason: if err.is_timeout() {
                    "timed out".to_owned()
                } else {
                    err.without_url().to_string()
                },
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(ApiError::Status {
                path,
                status: status.as_u16(),
            });
        }
        use crate::http_client::{body_within, BodyError};
        let body = body_within(response, self.max_bytes)
            .await
            .map_err(|err| ApiError::Body {
                path,
                reason: match err {
                    BodyError::TooLarge => format!(
                        "larger than {} bytes (limits.max_response_bytes)",
                        self.max_bytes
                    ),
                    BodyError::Read(err) => err.without_url().to_string(),
                },
            })?;
        let page: Page<T> = serde_json::from_slice(&body).map_err(|err| ApiError::Body {
            path,
            reason: err.to_string(),
        })?;
        Ok(page.results)
    }

    /// The 100 newest alert groups (the API orders by start, newest first).
    pub async fn recent_alert_groups(&self) -> Result<Vec<ApiAlertGroup>, ApiError> {
        self.first_page(ALERT_GROUPS).await
    }

    /// Integration names by id.
    pub async fn integration_names(&self) -> Result<HashMap<String, String>, ApiError> {
        let integrations: Vec<ApiIntegration> = self.first_page(INTEGRATIONS).await?;
        Ok(integrations
            .into_iter()
            .map(|integration| (integration.id, integration.name))
            .collect())
    }
}
