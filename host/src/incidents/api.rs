//! The two lists of OnCall's public API that incident details are read from: recent
//! alert groups (newest first) and integrations, with the raw `Authorization` header the
//! API expects (no `Bearer`).

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;

use crate::model::Action;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("OnCall API {path}: {reason}")]
    Http { path: &'static str, reason: String },
    #[error("OnCall API {path} answered HTTP {status}")]
    Status { path: &'static str, status: u16 },
    #[error("OnCall API {path} sent an unreadable answer: {reason}")]
    Body { path: &'static str, reason: String },
    /// OnCall understood and said no (a 4xx with its `detail`, e.g. "Can't acknowledge a
    /// resolved alert group"): words to pass on to the person.
    #[error("OnCall refused: {detail}")]
    Refused { status: u16, detail: String },
    #[error("{0:?} is not an alert group id OnCall makes")]
    BadGroupId(String),
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
const ACTIONS: &str = "api/v1/alert_groups/<id>/<action>";
const RESOLUTION_NOTES: &str = "api/v1/resolution_notes/";
/// Most of a refusal's `detail` passed on.
const MAX_DETAIL: usize = 300;

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
            .map_err(|err| unreachable_at(path, err))?;
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

    /// `action` on alert group `group_id` (`engine/apps/public_api/views/alert_groups.py`):
    /// the API acts as the token's owner.
    pub async fn act(&self, group_id: &str, action: Action) -> Result<(), ApiError> {
        let url = format!(
            "{}{ALERT_GROUPS}{}/{}",
            self.base,
            checked_group_id(group_id)?,
            action.api_verb()
        );
        let body = match action {
            Action::Silence { seconds } => serde_json::json!({ "delay": seconds }),
            _ => serde_json::json!({}),
        };
        self.post(ACTIONS, url, &body).await
    }

    /// A resolution note on `group_id`: the record of who really acted, since the API
    /// acts as the token's owner.
    pub async fn add_note(&self, group_id: &str, text: &str) -> Result<(), ApiError> {
        let url = format!("{}{RESOLUTION_NOTES}", self.base);
        let group_id = checked_group_id(group_id)?;
        let body = serde_json::json!({ "alert_group_id": group_id, "text": text });
        self.post(RESOLUTION_NOTES, url, &body).await
    }

    async fn post(
        &self,
        path: &'static str,
        url: String,
        body: &serde_json::Value,
    ) -> Result<(), ApiError> {
        let response = self
            .http
            .post(url)
            .header(reqwest::header::AUTHORIZATION, &self.token)
            .json(body)
            .send()
            .await
            .map_err(|err| unreachable_at(path, err))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        if status.is_client_error() && status.as_u16() != 401 && status.as_u16() != 404 {
            let answer = crate::http_client::body_within(response, self.max_bytes)
                .await
                .unwrap_or_default();
            let detail = refusal_detail(&answer, status.as_u16());
            return Err(ApiError::Refused {
                status: status.as_u16(),
                detail,
            });
        }
        Err(ApiError::Status {
            path,
            status: status.as_u16(),
        })
    }
}

/// The `detail` of a refusal (DRF's `{"detail": "…"}`), else its first field error, cut
/// short: OnCall's words, for the person who acted.
fn refusal_detail(body: &[u8], status: u16) -> String {
    let parsed: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let detail = match &parsed {
        serde_json::Value::Object(fields) => fields
            .get("detail")
            .and_then(|detail| detail.as_str().map(str::to_owned))
            .or_else(|| {
                fields.iter().find_map(|(key, value)| {
                    let first = value.as_array()?.first()?.as_str()?;
                    Some(format!("{key}: {first}"))
                })
            }),
        _ => None,
    };
    let mut detail = detail.unwrap_or_else(|| format!("HTTP {status}"));
    if detail.len() > MAX_DETAIL {
        let mut cut = MAX_DETAIL;
        while !detail.is_char_boundary(cut) {
            cut -= 1;
        }
        detail.truncate(cut);
        detail.push('…');
    }
    detail
}

/// A request that got no answer, said without its URL (the base may carry credentials).
fn unreachable_at(path: &'static str, err: reqwest::Error) -> ApiError {
    ApiError::Http {
        path,
        reason: if err.is_timeout() {
            "timed out".to_owned()
        } else {
            err.without_url().to_string()
        },
    }
}

/// `id` if it looks like OnCall's public ids (`I` and capitals and digits): one from a
/// webhook body is checked, not trusted, before it becomes part of a URL path.
fn checked_group_id(id: &str) -> Result<&str, ApiError> {
    let fits = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
    if fits {
        Ok(id)
    } else {
        Err(ApiError::BadGroupId(id.chars().take(64).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_carry_oncalls_words() {
        assert_eq!(
            refusal_detail(
                br#"{"detail": "Can't acknowledge a resolved alert group"}"#,
                400
            ),
            "Can't acknowledge a resolved alert group"
        );
        assert_eq!(
            refusal_detail(br#"{"delay": ["This field is required."]}"#, 400),
            "delay: This field is required."
        );
        assert_eq!(refusal_detail(b"<html>", 403), "HTTP 403");
        assert!(
            refusal_detail(
                format!(r#"{{"detail": "{}"}}"#, "é".repeat(400)).as_bytes(),
                400
            )
            .len()
                < 310
        );
    }

    #[test]
    fn an_id_cannot_leave_its_path_segment() {
        assert!(checked_group_id("I5ZQK3R1ABCDE").is_ok());
        for hostile in ["..", "../users", "I1?x=1", "I1/resolve", "", "I1 2"] {
            assert!(checked_group_id(hostile).is_err(), "{hostile}");
        }
    }
}
