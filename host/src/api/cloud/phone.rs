//! `POST api/v1/send_sms` and `POST api/v1/make_call`.

use hyper::body::Incoming;
use hyper::{Request, StatusCode};

use crate::api::response::{json, ApiError, ApiResult};
use crate::api::state::AppState;
use crate::api::{auth, cloud::email_readings};
use crate::delivery::{FirstRound, RoundResult};
use crate::http::{form_fields, read_body, required};
use crate::model::Channel;
use crate::store::notifications::{EnginePage, EnginePageOutcome};

/// What the engine hears: `503 failed` only when every plugin of the route refused for
/// good; otherwise 200, and delivery goes on in the background if it must.
pub(super) async fn answer_after_first_round(state: &AppState, first: FirstRound) -> ApiResult {
    let wait = state.config().delivery.answer_within.0;
    let id = first.id();
    match state.workers.first_round(first, wait).await {
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
    let (content_type, body) = read_body(request, &state.config().app).await?;
    let fields = form_fields(content_type.as_deref(), &body)?;
    let email = required(&fields, "email")?;
    let message = required(&fields, "message")?;

    let limit = match channel {
        Channel::Call => state.config().limits.calls_per_day,
        _ => state.config().limits.sms_per_day,
    };
    let payload = serde_json::json!({ "source": "engine", "email": email, "message": message });
    let page = EnginePage {
        channel,
        recipient_email: email,
        message,
        payload,
    };
    // A free place among the rounds lets the page be stored claimed for its first one.
    let reservation = state.workers.reserve();
    match state
        .store
        .accept_engine_page(
            &email_readings(email),
            page,
            limit,
            state.config().verification.mode,
            reservation.as_ref().map(|reserved| reserved.claim_for()),
        )
        .await?
    {
        EnginePageOutcome::Stored {
            id,
            user_id,
            phone_number,
            claimed,
        } => {
            tracing::info!(
                notification = %id,
                %channel,
                user = %user_id,
                phone = %phone_number,
                "notification accepted"
            );
            answer_after_first_round(state, FirstRound::of(id, claimed, reservation)).await
        }
        EnginePageOutcome::NoUser => {
            tracing::info!(%channel, "refused: no user with that email");
            Err(ApiError::UserNotFound)
        }
        EnginePageOutcome::NotVerified { user_id } => {
            tracing::info!(%channel, user = %user_id, "refused: user has no verified phone number");
            Err(ApiError::NumberNotVerified)
        }
        EnginePageOutcome::LimitExceeded { user_id } => {
            tracing::warn!(%channel, user = %user_id, limit, "refused: daily limit reached");
            Err(ApiError::LimitExceeded)
        }
    }
}
