//! `POST api/v1/integrations/` (create the heartbeat integration) and
//! `GET api/v1/integrations/?name=` (the engine's duplicate-name fallback).

use hyper::body::Incoming;
use hyper::{Request, StatusCode};

use crate::api::auth;
use crate::api::response::{json, ApiError, ApiResult};
use crate::api::state::AppState;
use crate::http::{first, form_fields, query_params, read_body, required};
use crate::store::integrations::Integration;

const MAX_NAME_LEN: usize = 1024;

fn to_json(base: &str, integration: &Integration) -> serde_json::Value {
    let link = format!(
        "{base}integrations/v1/{}/{}/",
        integration.kind, integration.token
    );
    serde_json::json!({
        "id": integration.id,
        "name": integration.name,
        "type": integration.kind,
        "team_id": null,
        "link": link,
        "heartbeat": { "link": format!("{link}heartbeat/") },
    })
}

/// Always 201 with the integration, existing or new: the engine cannot recover from a
/// duplicate-name error.
pub async fn create(state: &AppState, request: Request<Incoming>) -> ApiResult {
    auth::check_engine(request.headers(), &state.config().app)?;
    let base = state.public_base(request.headers());
    let (content_type, body) = read_body(request, &state.config().app).await?;
    let fields = form_fields(content_type.as_deref(), &body)?;
    let name = required(&fields, "name")?;
    if name.chars().count() > MAX_NAME_LEN {
        return Err(ApiError::BadRequest(format!(
            "the field `name` is longer than {MAX_NAME_LEN} characters"
        )));
    }
    let kind = first(&fields, "type")
        .map(str::trim)
        .filter(|kind| !kind.is_empty())
        .unwrap_or("formatted_webhook");
    if !kind
        .chars()
        .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        || kind.len() > 50
    {
        return Err(ApiError::BadRequest(format!(
            "the type {kind:?} is not an integration type"
        )));
    }
    let integration = state.store.ensure_integration(name, kind).await?;
    tracing::info!(integration = %integration.id, name = %integration.name, "heartbeat integration ready");
    Ok(json(StatusCode::CREATED, &to_json(&base, &integration)))
}

pub async fn list(state: &AppState, request: Request<Incoming>) -> ApiResult {
    auth::check_engine(request.headers(), &state.config().app)?;
    let base = state.public_base(request.headers());
    let params = query_params(request.uri().query());
    let integrations = match first(&params, "name") {
        Some(name) => state.store.find_integrations_by_name(name.trim()).await?,
        None => state.store.list_integrations().await?,
    };
    let results: Vec<serde_json::Value> = integrations.iter().map(|i| to_json(&base, i)).collect();
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({
            "count": results.len(),
            "next": null,
            "previous": null,
            "results": results,
        }),
    ))
}
