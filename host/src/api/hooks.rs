//! `/hooks/<plugin>/…`: providers' calls to a plugin (key presses, SMS replies, button
//! presses, delivery receipts). A reply URL (`/hooks/<plugin>/n/<id>/<expires>/<sig>`)
//! is checked here; the provider's own signature is the plugin's to check. The plugin
//! says what the call meant; the host carries that out, asks the plugin once more for
//! the answer that tells the person how it went, and gives the provider that answer.

use bytes::Bytes;
use chrono::Utc;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};

use super::response::{ApiError, ApiResult, HttpResponse};
use super::state::AppState;
use crate::hooks::events::Carrier;
use crate::hooks::reply_url::MARK;
use crate::hooks::ReplyUrlError;
use crate::plugins::{InboundReply, InboundRequest, LoadedPlugin};

/// Events one provider call may name: a key press or a reply names one; more is a
/// plugin gone wrong, and each costs calls to OnCall.
const MAX_EVENTS: usize = 8;
/// Headers a provider's call may pass to the plugin, at most.
const MAX_HEADERS: usize = 64;
/// Largest answer a plugin may give a provider.
const MAX_REPLY_BYTES: usize = 256 * 1024;
/// Headers of a plugin's answer that reach the provider: what describes the body. A
/// plugin cannot set cookies or redirects on this server's origin.
const REPLY_HEADERS: &[&str] = &["content-type", "cache-control"];

pub async fn handle(
    state: &AppState,
    request: Request<Incoming>,
    plugin_name: &str,
    rest: &[&str],
) -> ApiResult {
    let config = state.config();
    let (signed_for, path) = match rest {
        [mark, signed @ ..] if *mark == MARK => {
            let signer = state
                .workers
                .deliverer()
                .reply_urls()
                .signer()
                .await
                .map_err(ApiError::from)?;
            let signed = signer
                .check(plugin_name, signed, Utc::now())
                .map_err(|err| {
                    tracing::warn!(plugin = plugin_name, error = %err, "refused a call to a reply URL");
                    ApiError::Forbidden(match err {
                        ReplyUrlError::Expired => "This reply link has expired.",
                        ReplyUrlError::Forged | ReplyUrlError::Malformed => "Invalid reply link.",
                    })
                })?;
            let notification = state
                .store
                .get_notification(signed.notification)
                .await?
                .ok_or(ApiError::NotFoundDetail(
                    "The page of this reply link is gone.".to_owned(),
                ))?;
            (Some(notification), signed.rest)
        }
        _ => (None, rest.iter().map(|part| format!("/{part}")).collect()),
    };
    let plugin = state
        .registry()
        .get(plugin_name)
        .filter(|plugin| plugin.takes_inbound())
        .ok_or(ApiError::NotFoundDetail(format!(
            "No plugin {plugin_name:?} takes calls here."
        )))?;

    let method = request.method().to_string();
    let path_and_query = request
        .uri()
        .path_and_query()
        .map(|value| value.as_str().to_owned())
        .unwrap_or_default();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .take(MAX_HEADERS)
        .collect();
    let base = state.pages_base(request.headers());
    let url = format!("{}{}", base.trim_end_matches('/'), path_and_query);
    let (_, body) = crate::http::read_body(request, &config.app).await?;

    let message = match &signed_for {
        Some(notification) => Some(
            state
                .workers
                .deliverer()
                .page_for_plugin(notification)
                .await?,
        ),
        None => None,
    };
    let inbound = InboundRequest {
        method,
        url,
        path,
        query,
        headers,
        body: body.to_vec(),
        notification: message,
    };
    let mut first = ask(&plugin, &inbound, &[]).await?;
    if first.events.is_empty() {
        return answer(first);
    }
    if first.events.len() > MAX_EVENTS {
        tracing::warn!(
            plugin = plugin_name,
            named = first.events.len(),
            kept = MAX_EVENTS,
            "the plugin named too many events for one call; the rest are dropped"
        );
        first.events.truncate(MAX_EVENTS);
    }

    let digest = request_digest(plugin_name, &inbound);
    let keep = config.delivery.reply_url_expiry.0 * 2;
    if !state
        .store
        .first_sight_of_request(&digest, plugin_name, keep)
        .await?
    {
        tracing::warn!(plugin = plugin_name, "refused a replayed provider call");
        return Err(ApiError::Forbidden("This request was already handled."));
    }
    let carrier = Carrier {
        store: &state.store,
        metrics: &state.metrics,
        oncall: state.workers.deliverer().oncall_api(),
        plugin: plugin_name,
        reply_window: config.delivery.reply_url_expiry.0,
    };
    let mut outcomes = Vec::with_capacity(first.events.len());
    for event in &first.events {
        match carrier.carry_out(event, signed_for.as_ref()).await {
            Ok(outcome) => outcomes.push(outcome),
            Err(err) => {
                // Nothing was carried out past this point: let the provider's retry of
                // the same call through, rather than refuse it as a replay.
                if let Err(forget) = state.store.forget_request(&digest).await {
                    tracing::warn!(plugin = plugin_name, error = %forget, "cannot forget a provider call that failed; its retry will be refused");
                }
                return Err(err.into());
            }
        }
    }
    match ask(&plugin, &inbound, &outcomes).await {
        Ok(second) => answer(second),
        Err(err) => {
            // The events are carried out; the provider still gets an answer.
            tracing::warn!(plugin = plugin_name, error = %err, "the plugin could not word the outcome; giving its first answer");
            answer(first)
        }
    }
}

/// `POST /hooks/oncall`: OnCall's outgoing webhook, checked against
/// `app.oncall_webhook_token`. Everyone paged for the group is told what happened.
pub async fn oncall_webhook(state: &AppState, request: Request<Incoming>) -> ApiResult {
    let config = state.config();
    super::auth::check_oncall_webhook(request.headers(), &config.app)?;
    let (_, body) = crate::http::read_body(request, &config.app).await?;
    let event =
        crate::hooks::outcome::parse(&body).map_err(|err| ApiError::BadRequest(err.to_string()))?;
    let Some(event) = event else {
        return Ok(super::response::json(
            StatusCode::OK,
            &serde_json::json!({"ignored": true}),
        ));
    };
    let announced = crate::hooks::outcome::announce(&state.store, &event).await?;
    Ok(super::response::json(StatusCode::OK, &announced))
}

/// One call of the plugin's `handle-inbound`. Its own error (a body it cannot read, a
/// bad signature it chose to report as an error) is the caller's fault: 400.
async fn ask(
    plugin: &LoadedPlugin,
    request: &InboundRequest,
    outcomes: &[crate::plugins::Outcome],
) -> Result<InboundReply, ApiError> {
    match plugin.handle_inbound(request, outcomes).await {
        None => Err(ApiError::NotFound),
        Some(Ok(Ok(reply))) => Ok(reply),
        Some(Ok(Err(reason))) => {
            tracing::info!(plugin = %plugin.name, %reason, "the plugin refused a call");
            Err(ApiError::BadRequest(reason))
        }
        Some(Err(err)) => {
            tracing::warn!(plugin = %plugin.name, error = %err, "the plugin failed on a call");
            Err(ApiError::PluginUnavailable(err.to_string()))
        }
    }
}

/// The HTTP answer a plugin asked for, within bounds: a status it may give, the headers
/// that describe the body, a body of sensible size.
fn answer(reply: InboundReply) -> ApiResult {
    let status = StatusCode::from_u16(reply.status)
        .ok()
        .filter(|status| !status.is_informational())
        .ok_or_else(|| ApiError::PluginUnavailable(format!("answered status {}", reply.status)))?;
    if reply.body.len() > MAX_REPLY_BYTES {
        return Err(ApiError::PluginUnavailable(format!(
            "answered {} bytes, over {MAX_REPLY_BYTES}",
            reply.body.len()
        )));
    }
    let mut response: HttpResponse = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() = status;
    for (name, value) in &reply.headers {
        let name = name.to_ascii_lowercase();
        if !REPLY_HEADERS.contains(&name.as_str()) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    Ok(response)
}

/// Identifies one provider call: the same signed request sent again has the same digest.
fn request_digest(plugin: &str, request: &InboundRequest) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in [
        plugin.as_bytes(),
        request.method.as_bytes(),
        request.url.as_bytes(),
    ] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher.update(&request.body);
    hasher.finalize().to_vec()
}
