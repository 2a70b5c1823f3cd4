//! `/admin/api/v1`: users and notifications for operators, behind `app.admin_token`.

mod notifications;
mod users;

use hyper::body::Incoming;
use hyper::{Method, Request};

use super::auth;
use super::response::{ApiError, ApiResult};
use super::state::AppState;
use super::throttle::{self, Surface};

pub async fn dispatch(state: &AppState, request: Request<Incoming>, path: &[&str]) -> ApiResult {
    let client = throttle::client_of(&request);
    if throttle::blocked(&state.store, &client, Surface::Admin).await? {
        tracing::warn!(%client, "admin API: refused, too many failed tokens from this address");
        return Err(ApiError::TooManyAttempts);
    }
    if let Err(err) = auth::check_admin(request.headers(), &state.config().app) {
        if matches!(err, ApiError::InvalidToken) {
            throttle::failed(&state.store, &client, Surface::Admin).await;
        }
        return Err(err);
    }
    let method = request.method().clone();
    match (path, method) {
        (["users"], Method::GET) => users::list(state).await,
        (["users"], Method::POST) => users::create(state, request).await,
        (["users", key], Method::GET) => users::get(state, key).await,
        (["users", key], Method::PATCH) => users::update(state, request, key).await,
        (["users", key], Method::DELETE) => users::remove(state, key).await,
        (["notifications"], Method::GET) => notifications::list(state, request).await,
        (["notifications", id], Method::GET) => notifications::get(state, id).await,
        (["notifications", id, "retry"], Method::POST) => notifications::retry(state, id).await,
        (["plugins"], Method::GET) => Ok(super::response::json(
            hyper::StatusCode::OK,
            &serde_json::json!({ "results": state.registry().statuses() }),
        )),
        (
            ["users"]
            | ["users", _]
            | ["notifications"]
            | ["notifications", _]
            | ["notifications", _, "retry"]
            | ["plugins"],
            _,
        ) => Err(ApiError::MethodNotAllowed),
        _ => Err(ApiError::NotFound),
    }
}

/// Parses a JSON request body into `T`, naming the field at fault.
async fn json_body<T: serde::de::DeserializeOwned>(
    state: &AppState,
    request: Request<Incoming>,
) -> Result<T, ApiError> {
    let (_, body) = crate::http::read_body(request, &state.config().app).await?;
    let mut deserializer = serde_json::Deserializer::from_slice(&body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        ApiError::BadRequest(if path == "." {
            err.into_inner().to_string()
        } else {
            format!("{path}: {}", err.into_inner())
        })
    })
}
