//! Maps a request to its handler. Paths are matched with and without a trailing slash,
//! as real Cloud's "optional slash" routes are.

use hyper::body::Incoming;
use hyper::{Method, Request};

use super::response::{ApiError, ApiResult};
use super::state::AppState;
use super::{admin, cloud, health};
use crate::model::Channel;

/// Handles one request; returns the route's name (a metrics label) and the outcome.
pub async fn dispatch(state: &AppState, request: Request<Incoming>) -> (&'static str, ApiResult) {
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path
        .split('/')
        .filter(|segment| !segment.is_empty())
        .collect();
    let method = request.method().clone();
    let get = method == Method::GET;
    let post = method == Method::POST;
    macro_rules! route {
        ($name:literal, $allowed:expr, $handler:expr) => {{
            if !$allowed {
                return ($name, Err(ApiError::MethodNotAllowed));
            }
            ($name, $handler.await)
        }};
    }
    match segments.as_slice() {
        ["api", "v1", "info"] => route!("info", get, cloud::info::get(state, request)),
        ["api", "v1", "users"] => route!("users", get, cloud::users::list(state, request)),
        ["api", "v1", "integrations"] => {
            if get {
                (
                    "integrations",
                    cloud::integrations::list(state, request).await,
                )
            } else {
                route!(
                    "integrations",
                    post,
                    cloud::integrations::create(state, request)
                )
            }
        }
        ["integrations", "v1", _kind, token, "heartbeat"] => {
            let token = (*token).to_owned();
            route!(
                "heartbeat",
                get || post || method == Method::HEAD,
                cloud::heartbeat::ping(state, token)
            )
        }
        ["api", "v1", "send_sms"] => {
            route!(
                "send_sms",
                post,
                cloud::phone::notify(state, request, Channel::Sms)
            )
        }
        ["api", "v1", "make_call"] => {
            route!(
                "make_call",
                post,
                cloud::phone::notify(state, request, Channel::Call)
            )
        }
        ["mobile_app", "v1", "fcm_relay"] => {
            route!("fcm_relay", post, cloud::push::relay(state, request))
        }
        ["healthz"] => route!("healthz", get, health::live(state)),
        ["readyz"] => route!("readyz", get, health::ready(state)),
        ["metrics"] => route!("metrics", get, health::metrics(state, request.headers())),
        ["hooks", "oncall"] => route!(
            "oncall_webhook",
            post,
            super::hooks::oncall_webhook(state, request)
        ),
        ["hooks", plugin, rest @ ..] => (
            "hooks",
            super::hooks::handle(state, request, plugin, rest).await,
        ),
        ["admin", "api", "v1", rest @ ..] => ("admin", admin::dispatch(state, request, rest).await),
        _ => match crate::web::dispatch(state, request, &segments).await {
            Some((name, page)) => (name, Ok(page)),
            None => ("unknown", Err(ApiError::NotFound)),
        },
    }
}
