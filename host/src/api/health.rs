//! Liveness, readiness and metrics.

use hyper::StatusCode;

use super::response::{json, with_body, ApiResult};
use super::state::AppState;
use crate::store::migrations;

pub async fn live(state: &AppState) -> ApiResult {
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({"status": "alive", "version": state.config().app.version}),
    ))
}

/// Ready when the database answers and holds the schema this binary expects. The
/// answer says only that: it is unauthenticated, and the reason (a database error's
/// text, say) goes to the log.
pub async fn ready(state: &AppState) -> ApiResult {
    let expected = migrations::latest_version();
    let ready = match migrations::current_version(&state.store).await {
        Ok(version) if version >= expected => true,
        Ok(version) => {
            tracing::warn!(
                version,
                expected,
                "not ready: the database schema is behind"
            );
            false
        }
        Err(err) => {
            tracing::warn!(error = %err, "not ready: the database does not answer");
            false
        }
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Ok(json(
        status,
        &serde_json::json!({"status": if ready { "ready" } else { "not-ready" }}),
    ))
}

/// The Prometheus exposition; behind `app.metrics_token` (a bearer token) when set.
pub async fn metrics(state: &AppState, headers: &hyper::HeaderMap) -> ApiResult {
    super::auth::check_metrics(headers, &state.config().app)?;
    // Database-backed figures are best effort: a scrape during an outage still returns
    // the in-memory counters.
    match state.store.list_integrations().await {
        Ok(integrations) => {
            let now = chrono::Utc::now();
            state
                .metrics
                .set_heartbeats(integrations.into_iter().map(|integration| {
                    let age = integration
                        .last_seen_at
                        .map(|seen| (now - seen).num_milliseconds() as f64 / 1000.0);
                    (integration.id, integration.name, age)
                }));
        }
        Err(err) => tracing::debug!(error = %err, "metrics: heartbeats unavailable"),
    }
    match state.store.oldest_undelivered_age().await {
        Ok(age) => state.metrics.set_oldest_undelivered(age),
        Err(err) => tracing::debug!(error = %err, "metrics: oldest age unavailable"),
    }
    match state
        .store
        .notification_counts(crate::metrics::QUEUE_COUNT_CAP)
        .await
    {
        Ok(counts) => state.metrics.set_queue(counts),
        Err(err) => tracing::debug!(error = %err, "metrics: queue depth unavailable"),
    }
    let text = state
        .metrics
        .encode()
        .map_err(|err| super::response::ApiError::Internal(err.to_string()))?;
    Ok(with_body(
        StatusCode::OK,
        text.into_bytes(),
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
    ))
}
