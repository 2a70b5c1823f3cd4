//! The frame every page shares, and how a page becomes a response.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{
    HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, REFERRER_POLICY,
    SET_COOKIE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use hyper::{Response, StatusCode};
use maud::{html, Markup, DOCTYPE};

use crate::api::response::HttpResponse;

pub const STYLESHEET: &str = include_str!("style.css");
pub const STYLESHEET_PATH: &str = "/static/emu-oncall.css";

/// A whole page: `title` in the tab and as the heading.
pub fn page(title: &str, wide: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · Emu-OnCall" }
                link rel="stylesheet" href=(STYLESHEET_PATH);
            }
            body {
                header.top { a href="/" { span.mark { "●" } " Emu-OnCall" } }
                main.wide[wide] {
                    h1 { (title) }
                    (body)
                }
                footer { "Emu-OnCall " (env!("CARGO_PKG_VERSION")) " · the Cloud for self-hosted Grafana OnCall" }
            }
        }
    }
}

/// A notice box: `kind` is `ok`, `error`, `warn` or empty.
pub fn notice(kind: &str, text: Markup) -> Markup {
    html! { div class={"notice " (kind)} role="status" { (text) } }
}

/// A page response. Links carry user ids, so no referrer leaves these pages; nothing is
/// cached, framed or loaded from elsewhere.
pub struct Page {
    status: StatusCode,
    body: String,
    cookies: Vec<HeaderValue>,
    location: Option<HeaderValue>,
}

impl Page {
    pub fn new(status: StatusCode, markup: Markup) -> Page {
        Page {
            status,
            body: markup.into_string(),
            cookies: Vec::new(),
            location: None,
        }
    }

    /// A 303 to `location` (after a form that changed something).
    pub fn see_other(location: &'static str) -> Page {
        Page {
            status: StatusCode::SEE_OTHER,
            body: String::new(),
            cookies: Vec::new(),
            location: Some(HeaderValue::from_static(location)),
        }
    }

    pub fn with_cookie(mut self, cookie: Option<HeaderValue>) -> Page {
        self.cookies.extend(cookie);
        self
    }

    pub fn into_response(self) -> HttpResponse {
        let mut response = respond(
            self.status,
            Bytes::from(self.body),
            "text/html; charset=utf-8",
            "no-store",
        );
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
            ),
        );
        headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        for cookie in self.cookies {
            headers.append(SET_COOKIE, cookie);
        }
        if let Some(location) = self.location {
            headers.insert(LOCATION, location);
        }
        response
    }
}

fn respond(
    status: StatusCode,
    body: Bytes,
    content_type: &'static str,
    cache: &'static str,
) -> HttpResponse {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

pub fn stylesheet() -> HttpResponse {
    respond(
        StatusCode::OK,
        Bytes::from_static(STYLESHEET.as_bytes()),
        "text/css; charset=utf-8",
        "public, max-age=3600",
    )
}

/// A plain page with a status and one paragraph.
pub fn message_page(status: StatusCode, title: &str, text: &str) -> Page {
    Page::new(status, page(title, false, html! { p { (text) } }))
}

pub fn not_found() -> Page {
    message_page(
        StatusCode::NOT_FOUND,
        "Not found",
        "This link is not valid. Open it again from Grafana OnCall.",
    )
}

pub fn unavailable() -> Page {
    message_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again shortly",
        "The server cannot reach its database right now. Nothing was changed; try again in a minute.",
    )
}

/// `2026-11-24 22:10 UTC (5 min ago)`.
pub fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    let seconds = (chrono::Utc::now() - at).num_seconds();
    let ago = match seconds {
        s if s < 0 => "just now".to_owned(),
        s if s < 90 => format!("{s} s ago"),
        s if s < 90 * 60 => format!("{} min ago", s / 60),
        s if s < 36 * 3600 => format!("{} h ago", s / 3600),
        s => format!("{} days ago", s / 86_400),
    };
    format!("{} UTC ({ago})", at.format("%Y-%m-%d %H:%M"))
}
