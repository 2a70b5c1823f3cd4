//! Every answer is JSON, errors included: the engine calls `.json()` on them and a
//! non-JSON 400 sends it into an endless retry loop.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde::Serialize;

use crate::store::StoreError;

pub type HttpResponse = Response<Full<Bytes>>;

pub fn json(status: StatusCode, body: &impl Serialize) -> HttpResponse {
    let bytes = match serde_json::to_vec(body) {
        Ok(bytes) => bytes,
        Err(err) => {
            tracing::error!(error = %err, "could not serialise a response");
            return text_json(
                StatusCode::INTERNAL_SERVER_ERROR,
                br#"{"error":"internal"}"#,
            );
        }
    };
    with_body(status, bytes, "application/json")
}

fn text_json(status: StatusCode, body: &'static [u8]) -> HttpResponse {
    with_body(status, body.to_vec(), "application/json")
}

pub fn with_body(status: StatusCode, body: Vec<u8>, content_type: &'static str) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// What can go wrong in a handler, each with the status and body the engine understands.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid token")]
    InvalidToken,
    #[error("admin API disabled")]
    AdminDisabled,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("request body over {limit} bytes")]
    TooLarge { limit: usize },
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    NotFoundDetail(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("user not found")]
    UserNotFound,
    #[error("number not verified")]
    NumberNotVerified,
    #[error("limit exceeded")]
    LimitExceeded,
    #[error("every plugin of the route failed")]
    DeliveryFailed,
    #[error("too many failed attempts from this address")]
    TooManyAttempts,
    #[error("the request body did not arrive in time")]
    SlowBody,
    #[error("database unavailable: {0}")]
    DatabaseUnavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
    /// A caller that is not who it claims (a forged or expired reply URL).
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// The plugin that should answer could not (sandbox limits, a trap).
    #[error("plugin unavailable: {0}")]
    PluginUnavailable(String),
}

impl From<crate::http::RequestError> for ApiError {
    fn from(err: crate::http::RequestError) -> Self {
        match err {
            crate::http::RequestError::TooLarge { limit } => ApiError::TooLarge { limit },
            crate::http::RequestError::SlowBody => ApiError::SlowBody,
            crate::http::RequestError::Malformed(detail) => ApiError::BadRequest(detail),
        }
    }
}

impl From<crate::model::InvalidValue> for ApiError {
    fn from(err: crate::model::InvalidValue) -> Self {
        ApiError::BadRequest(err.0)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(message) => ApiError::DatabaseUnavailable(message),
            StoreError::Conflict(message) => ApiError::Conflict(message),
            StoreError::Duplicate { .. } => ApiError::Conflict("it already exists".to_owned()),
            StoreError::NotFound(message) => ApiError::NotFoundDetail(message),
            StoreError::Invalid(message) => ApiError::BadRequest(message),
            StoreError::Query(err) => ApiError::Internal(err.to_string()),
        }
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidToken | ApiError::AdminDisabled | ApiError::Forbidden(_) => {
                StatusCode::FORBIDDEN
            }
            ApiError::BadRequest(_) | ApiError::NumberNotVerified | ApiError::LimitExceeded => {
                StatusCode::BAD_REQUEST
            }
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotFound | ApiError::NotFoundDetail(_) | ApiError::UserNotFound => {
                StatusCode::NOT_FOUND
            }
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
            ApiError::SlowBody => StatusCode::REQUEST_TIMEOUT,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::DatabaseUnavailable(_)
            | ApiError::DeliveryFailed
            | ApiError::PluginUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn into_response(self) -> HttpResponse {
        let status = self.status();
        let body = match &self {
            ApiError::InvalidToken => serde_json::json!({"detail": "Invalid token."}),
            ApiError::AdminDisabled => serde_json::json!({
                "detail": "The admin API is disabled: set app.admin_token to enable it."
            }),
            ApiError::BadRequest(detail) => {
                serde_json::json!({"error": "bad-request", "detail": detail})
            }
            ApiError::TooLarge { limit } => serde_json::json!({
                "error": "too-large",
                "detail": format!("The request body is larger than {limit} bytes.")
            }),
            ApiError::NotFound => serde_json::json!({"detail": "Not found."}),
            ApiError::NotFoundDetail(detail) => serde_json::json!({"detail": detail}),
            ApiError::MethodNotAllowed => serde_json::json!({"detail": "Method not allowed."}),
            ApiError::Conflict(detail) => {
                serde_json::json!({"error": "conflict", "detail": detail})
            }
            ApiError::UserNotFound => serde_json::json!({"error": "user-not-found"}),
            ApiError::NumberNotVerified => serde_json::json!({"error": "number-not-verified"}),
            ApiError::LimitExceeded => serde_json::json!({"error": "limit-exceeded"}),
            ApiError::DeliveryFailed => serde_json::json!({"error": "failed"}),
            ApiError::SlowBody => serde_json::json!({
                "error": "timeout",
                "detail": "The request body did not arrive in time."
            }),
            ApiError::TooManyAttempts => serde_json::json!({
                "detail": "Too many failed attempts from this address; try again later."
            }),
            ApiError::DatabaseUnavailable(_) => serde_json::json!({
                "error": "database-unavailable",
                "detail": "The database is unreachable; try again shortly."
            }),
            ApiError::Internal(_) => serde_json::json!({"error": "internal"}),
            ApiError::Forbidden(detail) => serde_json::json!({"detail": detail}),
            ApiError::PluginUnavailable(_) => serde_json::json!({"error": "plugin-unavailable"}),
        };
        json(status, &body)
    }
}

pub type ApiResult = Result<HttpResponse, ApiError>;
