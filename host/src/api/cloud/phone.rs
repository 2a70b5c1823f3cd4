//! `POST api/v1/send_sms` and `POST api/v1/make_call`.

use hyper::body::Incoming;
use hyper::{Request, StatusCode};

use crate::api::request::{form_fields, read_body, required};
use crate::api::response::{json, ApiError, ApiResult};
use crate::api::state::AppState;
use crate::api::{auth, cloud::email_readings};
use crate::delivery::RoundResult;
use crate::store::notifications::{Accepted, Channel, NewNotification};

/// What the engine hears: `503 failed` only when every plugin of the route refused for
/// good; otherwise 200, and delivery goes on in the background if it must.
pub(super) async fn answer_after_first_round(state: &AppState, id: uuid::Uuid) -> ApiResult {
    match state.deliver_within_answer_time(id).await {
        Some(RoundResult::Dead(reason)) => {
            tracing::warn!(notification = %id, %reason, "every plugin of the route failed permanently");
            Err(ApiError::DeliveryFailed)
        }
        _ => Ok(json(StatusCode::OK, &serde_json::json!({}))),
    }
}

pub async fn notify(state: &AppState, request: Request<Incoming>, channel: Channel) -> ApiResult {
    let result = accept(state, request, channel).await;
    let outcome = match &result {
        Ok(_) => "accepted",
        Err(ApiError::UserNotFound) => "user_not_found",
        Err(ApiError::NumberNotVerified) => "number_not_verified",
        Err(ApiError::LimitExceeded) => "limit_exceeded",
        Err(ApiError::InvalidToken) => "invalid_token",
        Err(ApiError::DatabaseUnavailable(_)) => "database_unavailable",
        Err(ApiError::DeliveryFailed) => "delivery_failed",
        Err(_) => "bad_request",
    };
    state.metrics.notification(channel.as_str(), outcome);
    result
}

async fn accept(state: &AppState, request: Request<Incoming>, channel: Channel) -> ApiResult {
    auth::check_engine(request.headers(), &state.config().app)?;
    let (content_type, body) = read_body(request, state.config().app.max_body_bytes).await?;
    let fields = form_fields(content_type.as_deref(), &body)?;
    let email = required(&fields, "email")?;
    let message = required(&fields, "message")?;

    let Some(user) = state
        .store
        .find_active_by_emails(&email_readings(email))
        .await?
        .into_iter()
        .next()
    else {
        tracing::info!(%channel, "refused: no user with that email");
        return Err(ApiError::UserNotFound);
    };
    if !user.is_phone_verified() {
        tracing::info!(%channel, user = %user.id, "refused: user has no verified phone number");
        return Err(ApiError::NumberNotVerified);
    }
    let limit = match channel {
        Channel::Call => state.config().limits.calls_per_day,
        _ => state.config().limits.sms_per_day,
    };
    let payload = serde_json::json!({ "source": "engine", "email": email, "message": message });
    let accepted = state
        .store
        .accept_notification(
            NewNotification {
                channel,
                user_id: Some(user.id.clone()),
                recipient_email: Some(email.to_owned()),
                message: message.to_owned(),
                payload,
            },
            limit,
        )
        .await?;
    match accepted {
        Accepted::Stored(id) => {
            tracing::info!(
                notification = %id,
                %channel,
                user = %user.id,
                phone = %user.masked_phone().unwrap_or_default(),
                "notification accepted"
            );
            answer_after_first_round(state, id).await
        }
        Accepted::LimitExceeded => {
            tracing::warn!(%channel, user = %user.id, limit, "refused: daily limit reached");
            Err(ApiError::LimitExceeded)
        }
    }
}
