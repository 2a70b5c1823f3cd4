//! The pages people open in a browser: phone verification behind OnCall's "Verify in
//! Cloud" link, the heartbeat link, and the operator status page. Server-rendered HTML
//! with one stylesheet; no scripts and nothing loaded from elsewhere.

mod cookies;
mod csrf;
mod heartbeat_page;
mod layout;
mod session;
mod signing;
mod status_page;
mod verify_page;

use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::{HeaderMap, Method, Request, StatusCode};

use crate::api::response::HttpResponse;
use crate::api::state::AppState;
use crate::http::{first, form_fields, query_params, read_body};
use csrf::Csrf;
use layout::Page;

/// The OnCall plugin ids the engine puts in its links.
const APPS: [&str; 2] = ["grafana-oncall-app", "grafana-irm-app"];

/// Pages that look a user or an integration up by the id in their link answer no sooner
/// than this, found or not, so timing does not tell which ids exist.
const LOOKUP_FLOOR: Duration = Duration::from_millis(100);

/// Handles `request` if its path is one of the pages; `None` otherwise.
pub async fn dispatch(
    state: &AppState,
    request: Request<Incoming>,
    segments: &[&str],
) -> Option<(&'static str, HttpResponse)> {
    let method = request.method().clone();
    let read = method == Method::GET || method == Method::HEAD;
    let post = method == Method::POST;
    let query = query_params(request.uri().query());
    let started = Instant::now();
    let (name, page) = match segments {
        [] if read => (
            "status_page",
            status_page::show(state, request.headers()).await,
        ),
        ["login"] if post => ("login", status_page::login(state, request).await),
        ["logout"] if post => ("logout", status_page::logout(state, request).await),
        ["login" | "logout"] if read => ("login", Page::see_other("/")),
        ["static", "emu-oncall.css"] if read => {
            return Some(("static", layout::stylesheet()));
        }
        ["a", app, "users"] if read && APPS.contains(app) => (
            "verify_page",
            verify_page::show(state, request.headers(), first(&query, "id")).await,
        ),
        ["a", app, "integrations", id] if read && APPS.contains(app) => (
            "heartbeat_page",
            heartbeat_page::show(state, Some(id)).await,
        ),
        // Links of engines before v1.10.4: `a/grafana-oncall-app/?page=users&p=1&id=<id>`.
        ["a", app] if read && APPS.contains(app) => match first(&query, "page") {
            Some("users") => (
                "verify_page",
                verify_page::show(state, request.headers(), first(&query, "id")).await,
            ),
            Some("integrations") => (
                "heartbeat_page",
                heartbeat_page::show(state, first(&query, "id")).await,
            ),
            _ => return None,
        },
        ["verify", id] if read => (
            "verify_page",
            verify_page::show(state, request.headers(), Some(id)).await,
        ),
        ["verify", id] if post => {
            let id = (*id).to_owned();
            (
                "verify_page",
                verify_page::submit(state, request, &id).await,
            )
        }
        [] | ["login" | "logout"] | ["verify", _] | ["static", "emu-oncall.css"] => (
            "page",
            layout::message_page(
                StatusCode::METHOD_NOT_ALLOWED,
                "Not allowed",
                "This page cannot be used that way.",
            ),
        ),
        ["a", app, ..] if APPS.contains(app) => ("page", layout::not_found()),
        ["verify", ..] => ("page", layout::not_found()),
        _ => return None,
    };
    if matches!(name, "verify_page" | "heartbeat_page") {
        tokio::time::sleep_until((started + LOOKUP_FLOOR).into()).await;
    }
    Some((name, page.into_response()))
}

/// Whether the browser reached us over HTTPS, directly or through a proxy that says so:
/// cookies are then marked Secure.
fn is_https(state: &AppState, headers: &HeaderMap) -> bool {
    let forwarded = headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(',').next())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
    let app = &state.config().app;
    forwarded || app.hostname.starts_with("https://") || app.public_url.starts_with("https://")
}

/// A posted form, with what checking its CSRF token takes.
struct Posted<'a> {
    headers: HeaderMap,
    fields: Vec<(String, String)>,
    secret: &'a [u8],
    secure: bool,
}

impl Posted<'_> {
    fn field(&self, key: &str) -> Option<&str> {
        first(&self.fields, key)
    }

    /// Whether the form carries a token for `purpose` matching the browser's cookie.
    fn csrf_ok(&self, purpose: &str) -> bool {
        csrf::check(&self.headers, self.field("csrf"), self.secret, purpose)
    }

    /// The browser's CSRF value, for the forms of the page answering this one.
    fn csrf(&self) -> Csrf {
        Csrf::for_request(&self.headers)
    }
}

/// Reads a posted form, or returns the page explaining why it cannot be.
async fn posted(state: &AppState, request: Request<Incoming>) -> Result<Posted<'_>, Page> {
    let headers = request.headers().clone();
    let secure = is_https(state, &headers);
    let unreadable = |err: crate::http::RequestError| {
        layout::message_page(
            StatusCode::BAD_REQUEST,
            "Could not read the form",
            &err.to_string(),
        )
    };
    let (content_type, body) = read_body(request, &state.config().app)
        .await
        .map_err(unreadable)?;
    let fields = form_fields(content_type.as_deref(), &body).map_err(unreadable)?;
    let secret = secret(state).await?;
    Ok(Posted {
        headers,
        fields,
        secret,
        secure,
    })
}

/// The shared signing key, or the page to show when the database cannot give it.
async fn secret(state: &AppState) -> Result<&[u8], Page> {
    state.web_secret().await.map_err(|err| {
        tracing::warn!(error = %err, "pages: cannot read the signing key");
        layout::unavailable()
    })
}
