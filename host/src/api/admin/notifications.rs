use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use uuid::Uuid;

use crate::api::response::{json, ApiError, ApiResult};
use crate::api::state::AppState;
use crate::http::{first, query_params};
use crate::model::Status;
use crate::store::notifications::NotificationFilter;

pub async fn list(state: &AppState, request: Request<Incoming>) -> ApiResult {
    let params = query_params(request.uri().query());
    let status = first(&params, "status")
        .map(str::parse::<Status>)
        .transpose()?;
    let limit = match first(&params, "limit") {
        None => 100,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|limit| (1..=10_000).contains(limit))
            .ok_or_else(|| ApiError::BadRequest("limit must be 1 to 10000".to_owned()))?,
    };
    let filter = NotificationFilter {
        status,
        user_email: first(&params, "user").map(str::to_owned),
        limit,
    };
    let notifications = state.store.list_notifications(&filter).await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "results": notifications }),
    ))
}

fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    id.parse()
        .map_err(|_| ApiError::NotFoundDetail(format!("{id:?} is not a notification id")))
}

/// Queues a failed or dead notification again, with a fresh attempt budget.
pub async fn retry(state: &AppState, id: &str) -> ApiResult {
    let id = parse_id(id)?;
    state.store.retry_notification(id).await?;
    state.workers.wake();
    tracing::info!(notification = %id, "queued again by an operator");
    Ok(json(
        StatusCode::ACCEPTED,
        &serde_json::json!({ "queued": id }),
    ))
}

pub async fn get(state: &AppState, id: &str) -> ApiResult {
    let id = parse_id(id)?;
    match state.store.get_notification(id).await? {
        Some(notification) => {
            let attempts = state.store.attempts(id).await?;
            let mut body = serde_json::to_value(&notification)
                .map_err(|err| ApiError::Internal(err.to_string()))?;
            body["attempts"] = serde_json::to_value(attempts)
                .map_err(|err| ApiError::Internal(err.to_string()))?;
            Ok(json(StatusCode::OK, &body))
        }
        None => Err(ApiError::NotFoundDetail(format!("no notification {id}"))),
    }
}
