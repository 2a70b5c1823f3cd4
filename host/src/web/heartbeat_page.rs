//! The page behind the heartbeat link OnCall shows: when the engine last checked in, and
//! whether the watchdog counts it as down.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hyper::StatusCode;
use maud::{html, Markup};

use super::layout::{self, page, when, Page};
use crate::api::state::AppState;
use crate::store::integrations::Integration;

/// How the watchdog sees an integration now: a badge class and a word.
pub fn state_of(
    integration: &Integration,
    timeout: Duration,
    now: DateTime<Utc>,
) -> (&'static str, &'static str) {
    let silent_for = (now - integration.last_seen_at.unwrap_or(integration.created_at))
        .to_std()
        .unwrap_or_default();
    if integration.down_since.is_some() || silent_for > timeout {
        ("bad", "down")
    } else if integration.last_seen_at.is_none() {
        ("muted", "waiting for the first heartbeat")
    } else {
        ("ok", "up")
    }
}

pub fn badge(integration: &Integration, timeout: Duration) -> Markup {
    let (class, word) = state_of(integration, timeout, Utc::now());
    html! { span class={"badge " (class)} { (word) } }
}

pub async fn show(state: &AppState, id: Option<&str>) -> Page {
    let id = id.map(str::trim).unwrap_or_default();
    let integration = match state.store.find_integration(id).await {
        Ok(Some(integration)) => integration,
        Ok(None) => return layout::not_found(),
        Err(err) if err.is_unavailable() => return layout::unavailable(),
        Err(err) => {
            tracing::error!(error = %err, "heartbeat page: database error");
            return layout::message_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Try again; if it keeps happening, tell your admin.",
            );
        }
    };
    let timeout = state.config().heartbeat.timeout.0;
    let silence = match timeout.as_secs() {
        secs if secs >= 120 && secs % 60 == 0 => format!("{} minutes", secs / 60),
        secs => format!("{secs} seconds"),
    };
    Page::new(
        StatusCode::OK,
        page(
            "Engine heartbeat",
            false,
            html! {
                div.card {
                    p.who { strong { (integration.name) } span.muted { "Integration " (integration.id) } }
                    p { "State: " (badge(&integration, timeout)) }
                    p { "Last heartbeat: "
                        @match integration.last_seen_at {
                            Some(at) => { (when(at)) }
                            None => span.muted { "never" },
                        }
                    }
                    @if let Some(down) = integration.down_since {
                        p { "Announced down: " (when(down)) }
                    }
                    p.muted { "The engine sends a heartbeat every few minutes. After " (silence) " of silence it counts as down and the people in "
                        code { "heartbeat.notify" } " are told, once." }
                }
            },
        ),
    )
}
