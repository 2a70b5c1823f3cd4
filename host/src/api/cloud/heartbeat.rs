use hyper::StatusCode;

use crate::api::response::{json, ApiError, ApiResult};
use crate::api::state::AppState;

/// The engine's ping, every 3 minutes, without a token: the link itself is the secret.
/// An unknown link gets 403, which makes the engine create its integration again.
pub async fn ping(state: &AppState, token: String) -> ApiResult {
    match state.store.record_heartbeat(&token).await? {
        Some((integration, was_down)) => {
            tracing::debug!(integration = %integration.id, "heartbeat");
            if let Some(down_since) = was_down {
                crate::heartbeat::announce(
                    &state.store,
                    &state.config(),
                    &state.workers,
                    &integration,
                    crate::heartbeat::Event::Recovered { down_since },
                )
                .await;
            }
            Ok(json(StatusCode::OK, &":)"))
        }
        None => Err(ApiError::InvalidToken),
    }
}
