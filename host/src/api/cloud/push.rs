//! `POST mobile_app/v1/fcm_relay`: the engine's mobile pushes, as firebase Message JSON.

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::{Map, Value};

use crate::api::auth;
use crate::api::response::{json, ApiError, ApiResult};
use crate::api::state::AppState;
use crate::delivery::PUSH_PAYLOAD_KEY;
use crate::http::read_body;
use crate::model::Channel;
use crate::store::notifications::NewNotification;
use crate::store::users::User;

/// The user attribute that holds a phone's FCM registration token.
pub const FCM_TOKEN_ATTRIBUTE: &str = "fcm_token";

pub async fn relay(state: &AppState, request: Request<Incoming>) -> ApiResult {
    let result = accept(state, request).await;
    let outcome = match &result {
        Ok(_) => "accepted",
        Err(ApiError::InvalidToken) => "invalid_token",
        Err(ApiError::DatabaseUnavailable(_)) => "database_unavailable",
        Err(ApiError::DeliveryFailed) => "delivery_failed",
        Err(_) => "bad_request",
    };
    state.metrics.notification(Channel::Push.as_str(), outcome);
    result
}

fn text<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty())
}

/// The readable text of a push: the alert's title and body, else the data's title and
/// subtitle.
fn message_of(message: &Map<String, Value>, data: &Map<String, Value>) -> String {
    let alert = message
        .get("apns")
        .and_then(|apns| apns.pointer("/payload/aps/alert"))
        .and_then(Value::as_object);
    let title = alert
        .and_then(|alert| text(alert, "title"))
        .or_else(|| text(data, "title"));
    let body = alert
        .and_then(|alert| text(alert, "body"))
        .or_else(|| text(data, "subtitle"));
    match (title, body) {
        (Some(title), Some(body)) => format!("{title}\n{body}"),
        (Some(one), None) | (None, Some(one)) => one.to_owned(),
        (None, None) => "Grafana OnCall notification".to_owned(),
    }
}

async fn accept(state: &AppState, request: Request<Incoming>) -> ApiResult {
    auth::check_engine(request.headers(), &state.config().app)?;
    let (_, body) = read_body(request, &state.config().app).await?;
    let message: Value = serde_json::from_slice(&body)
        .map(crate::http::json_without_nul)
        .map_err(|err| ApiError::BadRequest(format!("the body is not valid JSON: {err}")))?;
    let Value::Object(message) = message else {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object".to_owned(),
        ));
    };
    let token = text(&message, "token")
        .ok_or_else(|| ApiError::BadRequest("`token` is required".to_owned()))?
        .to_owned();
    let data = message
        .get("data")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            ApiError::BadRequest("`data` is required and must be an object".to_owned())
        })?;
    for optional in ["apns", "android"] {
        if message
            .get(optional)
            .is_some_and(|value| !value.is_object())
        {
            return Err(ApiError::BadRequest(format!(
                "`{optional}` must be an object"
            )));
        }
    }
    let text = message_of(&message, data);
    let owner = state
        .store
        .find_active_by_attribute(FCM_TOKEN_ATTRIBUTE, &token)
        .await?;
    let recipients = match owner {
        Some(user) => vec![Some(user)],
        None => default_recipients(state).await?,
    };
    let mut first = None;
    for user in &recipients {
        let id = state
            .store
            .accept_notification(NewNotification {
                channel: Channel::Push,
                user_id: user.as_ref().map(|user| user.id.clone()),
                recipient_email: user.as_ref().map(|user| user.email.clone()),
                message: text.clone(),
                // Under a key of its own: the engine's JSON must never be read as the
                // host's own fields (`source`, `transport`) of a notification.
                payload: serde_json::json!({
                    "source": "engine",
                    PUSH_PAYLOAD_KEY: Value::Object(message.clone()),
                }),
            })
            .await?;
        tracing::info!(
            notification = %id,
            channel = "push",
            user = user.as_ref().map(|user| user.id.as_str()).unwrap_or("(no user with this device)"),
            "notification accepted"
        );
        first.get_or_insert(id);
    }
    if recipients.len() > 1 {
        state.workers.wake();
    }
    match first {
        Some(id) => {
            super::phone::answer_after_first_round(state, crate::delivery::FirstRound::Stored(id))
                .await
        }
        // Not reached: there is always one recipient, if only the device alone.
        None => Ok(json(StatusCode::OK, &serde_json::json!({}))),
    }
}

/// `routes.push.recipients` that are known, active users; one `None` (a push to the
/// device alone, for plugins that need no user) when there are none.
async fn default_recipients(state: &AppState) -> Result<Vec<Option<User>>, ApiError> {
    let config = state.config();
    let names = config
        .routes
        .get(Channel::Push.as_str())
        .map(|route| route.recipients.as_slice())
        .unwrap_or_default();
    let mut users = Vec::new();
    for name in names {
        match state.store.find_user(name).await? {
            Some(user) if user.active => users.push(Some(user)),
            _ => tracing::warn!(recipient = %name, "routes.push.recipients names no active user"),
        }
    }
    if users.is_empty() {
        users.push(None);
    }
    Ok(users)
}
