//! The operator status page at `/`, behind the admin token: a login form sets a signed
//! session cookie. Read-only: it shows state, it changes nothing.

use hyper::body::Incoming;
use hyper::{HeaderMap, Request, StatusCode};
use maud::{html, Markup};

use super::csrf::Csrf;
use super::layout::{self, notice, page, when, Page};
use super::{heartbeat_page, is_https, posted, secret, session};
use crate::api::auth::admin_token_matches;
use crate::api::state::AppState;
use crate::api::throttle::{self, Surface};
use crate::model::phone::mask_in_text;
use crate::store::notifications::NotificationFilter;
use crate::store::StoreError;

const LOGIN: &str = "login";
const LOGOUT: &str = "logout";
/// How many of the newest notifications the page lists.
const RECENT: i64 = 20;

pub async fn show(state: &AppState, headers: &HeaderMap) -> Page {
    let admin_token = state.config().app.admin_token.clone();
    if admin_token.is_empty() {
        return layout::message_page(
            StatusCode::OK,
            "Status page",
            "The status page is off: set app.admin_token in the configuration to use it.",
        );
    }
    let secret = match secret(state).await {
        Ok(secret) => secret,
        Err(page) => return page,
    };
    let csrf = Csrf::for_request(headers);
    let cookie = csrf.cookie(is_https(state, headers));
    if !session::is_valid(headers, secret, &admin_token) {
        return login_page(StatusCode::OK, &csrf.token(secret, LOGIN), None).with_cookie(cookie);
    }
    Page::new(
        StatusCode::OK,
        status(state, &csrf.token(secret, LOGOUT)).await,
    )
    .with_cookie(cookie)
}

fn login_page(status: StatusCode, token: &str, error: Option<&str>) -> Page {
    Page::new(
        status,
        page(
            "Sign in",
            false,
            html! {
                @if let Some(error) = error { (notice("error", html! { (error) })) }
                div.card {
                    form method="post" action="/login" {
                        input type="hidden" name="csrf" value=(token);
                        label for="token" { "Admin token" }
                        input id="token" type="password" name="token" autocomplete="current-password" required autofocus;
                        button type="submit" { "Sign in" }
                    }
                    p.muted { "The token is " code { "app.admin_token" } " from the server's configuration." }
                }
                p.muted { "Looking for your phone number? Open it from your profile in Grafana OnCall (the Cloud phone tab). If OnCall shows no link there, ask your admin to add your email here." }
            },
        ),
    )
}

pub async fn login(state: &AppState, request: Request<Incoming>) -> Page {
    let client = throttle::client_of(&request);
    let form = match posted(state, request).await {
        Ok(form) => form,
        Err(page) => return page,
    };
    let (secret, secure) = (form.secret, form.secure);
    let csrf = form.csrf();
    let retry = |status, error| {
        login_page(status, &csrf.token(secret, LOGIN), Some(error)).with_cookie(csrf.cookie(secure))
    };
    if !form.csrf_ok(LOGIN) {
        tracing::warn!("status page: sign-in refused, its CSRF token is missing or wrong");
        return retry(
            StatusCode::FORBIDDEN,
            "The form has expired. Sign in again.",
        );
    }
    match throttle::blocked(&state.store, &client, Surface::Login).await {
        Ok(false) => {}
        Ok(true) => {
            tracing::warn!(%client, "status page: sign-in refused, too many failed tokens from this address");
            return retry(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed sign-ins from your address. Try again later.",
            );
        }
        Err(err) => {
            tracing::warn!(error = %err, "status page: sign-in refused, the database is unavailable");
            return retry(
                StatusCode::SERVICE_UNAVAILABLE,
                "The database is unavailable. Try again shortly.",
            );
        }
    }
    let app = state.config().app.clone();
    let given = form.field("token").unwrap_or_default().trim();
    if !admin_token_matches(given, &app) {
        tracing::warn!(%client, "status page: sign-in refused, wrong admin token");
        throttle::failed(&state.store, &client, Surface::Login).await;
        return retry(StatusCode::FORBIDDEN, "That is not the admin token.");
    }
    if !secure {
        tracing::info!("status page: signed in over plain HTTP; put the server behind HTTPS so the session cookie can be marked Secure");
    }
    tracing::info!("status page: signed in");
    Page::see_other("/").with_cookie(session::start(secret, &app.admin_token, secure))
}

pub async fn logout(state: &AppState, request: Request<Incoming>) -> Page {
    let form = match posted(state, request).await {
        Ok(form) => form,
        Err(page) => return page,
    };
    if !form.csrf_ok(LOGOUT) {
        return layout::message_page(
            StatusCode::FORBIDDEN,
            "This form has expired",
            "Open the status page again.",
        );
    }
    tracing::info!("status page: signed out");
    Page::see_other("/").with_cookie(session::end(form.secure))
}

/// Shortens free text from plugins and providers for a table cell; numbers masked.
fn cell_text(text: &str) -> String {
    let masked = mask_in_text(text);
    match masked.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &masked[..cut]),
        None => masked,
    }
}

fn failed_section(what: &str, err: &StoreError) -> Markup {
    notice(
        "error",
        html! { "Cannot read " (what) ": " (cell_text(&err.to_string())) },
    )
}

async fn status(state: &AppState, logout_token: &str) -> Markup {
    let config = state.config();
    let database = database_section(state).await;
    let plugins = plugins_section(state).await;
    let notifications = notifications_section(state).await;
    let schedules = schedules_section(state).await;
    let inbound = inbound_section(state).await;
    let heartbeats = heartbeats_section(state, config.heartbeat.timeout.0).await;
    page(
        "Status",
        true,
        html! {
            div.bar {
                p.muted { "Read-only view of this server and its database, shared by every replica." }
                form method="post" action="/logout" {
                    input type="hidden" name="csrf" value=(logout_token);
                    button.inline.secondary type="submit" { "Sign out" }
                }
            }
            h2 { "Database" } (database)
            h2 { "Plugins" } (plugins)
            h2 { "Recent notifications" } (notifications)
            h2 { "Replies, buttons and receipts (24 h)" } (inbound)
            h2 { "Schedules" } (schedules)
            h2 { "Engine heartbeats" } (heartbeats)
        },
    )
}

async fn database_section(state: &AppState) -> Markup {
    let expected = crate::store::migrations::latest_version();
    let (size, idle, max) = state.store.pool_status();
    match state.store.schema_version().await {
        Ok(version) => {
            let counts = state
                .store
                .notification_counts(crate::metrics::QUEUE_COUNT_CAP)
                .await
                .unwrap_or_default();
            let oldest = state.store.oldest_undelivered_age().await.ok().flatten();
            html! {
                div.card {
                    p { span.badge.ok { "reachable" } " Schema version " (version)
                        @if version != expected { " " span.badge.warn { "this binary expects " (expected) } } }
                    p { "This replica's connections: " (size) " open, " (idle) " idle, at most " (max) "." }
                    @if !counts.is_empty() {
                        p { "Notifications by status: "
                            (counts.iter().map(|(status, count)| format!("{status} {count}")).collect::<Vec<_>>().join(", "))
                            @if let Some(age) = oldest { "; the oldest still waiting arrived " (format_age(age)) " ago" }
                            "." }
                    }
                }
            }
        }
        Err(err) => html! {
            div.card { p { span.badge.bad { "unreachable" } " " (cell_text(&err.to_string())) } }
        },
    }
}

fn format_age(seconds: f64) -> String {
    let seconds = seconds.max(0.0) as u64;
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 2 * 3600 => format!("{} min", s / 60),
        s => format!("{} h", s / 3600),
    }
}

async fn plugins_section(state: &AppState) -> Markup {
    let statuses = state.registry().statuses();
    let names: Vec<String> = statuses.iter().map(|status| status.name.clone()).collect();
    let failures = state.store.last_plugin_failures(&names).await;
    let failure_of = |name: &str| {
        failures
            .as_ref()
            .ok()
            .and_then(|failures| failures.iter().find(|failure| failure.plugin == name))
    };
    html! {
        @if let Err(err) = &failures { (failed_section("the last delivery failures", err)) }
        @if statuses.is_empty() {
            p.muted { "No plugins are loaded." }
        } @else {
            div.table-wrap { table {
                thead { tr { th { "Plugin" } th { "Version" } th { "Channels" } th { "State" } th { "Last error" } } }
                tbody {
                    @for status in &statuses {
                        tr {
                            td { (status.name) }
                            td { (status.version.as_deref().unwrap_or("-")) }
                            td { (status.channels.iter().map(|channel| channel.as_str()).collect::<Vec<_>>().join(", ")) }
                            td {
                                @if !status.enabled { span.badge.muted { "disabled" } }
                                @else if status.loaded { span.badge.ok { "loaded" } }
                                @else { span.badge.bad { "not loaded" } }
                            }
                            td.error {
                                @if let (Some(error), Some(at)) = (&status.last_error, status.last_error_at) {
                                    "Loading: " (cell_text(error)) br; span.muted { (when(at)) } br;
                                }
                                @if let Some(failure) = failure_of(&status.name) {
                                    "Delivery: " (cell_text(&failure.error)) br; span.muted { (when(failure.at)) }
                                }
                            }
                        }
                    }
                }
            } }
        }
    }
}

async fn notifications_section(state: &AppState) -> Markup {
    let filter = NotificationFilter {
        limit: RECENT,
        ..NotificationFilter::default()
    };
    let notifications = match state.store.list_notifications(&filter).await {
        Ok(notifications) => notifications,
        Err(err) => return failed_section("notifications", &err),
    };
    html! {
        @if notifications.is_empty() {
            p.muted { "No notifications yet." }
        } @else {
            div.table-wrap { table {
                thead { tr { th { "Received" } th { "Channel" } th { "For" } th { "Status" } th { "Attempts" } th { "Delivered by / last error" } } }
                tbody {
                    @for notification in &notifications {
                        @let status = notification.status.as_str();
                        tr {
                            td.when { (notification.created_at.format("%Y-%m-%d %H:%M:%S")) }
                            td { (notification.channel) }
                            td { (notification.recipient_email.as_deref().or(notification.user_id.as_deref()).unwrap_or("-")) }
                            td { span class={"badge " (match status { "delivered" => "ok", "dead" => "bad", "failed" => "warn", _ => "muted" })} { (status) } }
                            td { (notification.attempts) }
                            td.error[notification.delivered_by.is_none()] {
                                @if let Some(by) = &notification.delivered_by { (by) }
                                @else if let Some(error) = &notification.last_error { (cell_text(error)) }
                            }
                        }
                    }
                }
            } }
        }
    }
}

async fn inbound_section(state: &AppState) -> Markup {
    let rows = match state.store.inbound_summary().await {
        Ok(rows) => rows,
        Err(err) => return failed_section("inbound events", &err),
    };
    html! {
        @if rows.is_empty() {
            p.muted { "No key presses, replies, buttons or receipts in the last 24 hours." }
        } @else {
            div.table-wrap { table {
                thead { tr { th { "Plugin" } th { "Event" } th { "Done" } th { "Not done" } th { "Median time from page" } } }
                tbody {
                    @for row in &rows {
                        tr {
                            td { (row.plugin) }
                            td { (row.kind) }
                            td { (row.ok) }
                            td { @if row.not_ok > 0 { span.badge.warn { (row.not_ok) } } @else { "0" } }
                            td { @if let Some(seconds) = row.median_seconds { (format_age(seconds)) } @else { "-" } }
                        }
                    }
                }
            } }
        }
    }
}

async fn schedules_section(state: &AppState) -> Markup {
    let schedules = match state.store.list_schedules().await {
        Ok(schedules) => schedules,
        Err(err) => return failed_section("schedules", &err),
    };
    html! {
        @if schedules.is_empty() {
            p.muted { "No schedules are watched (grafana.oncall.schedules)." }
        } @else {
            div.table-wrap { table {
                thead { tr { th { "Schedule" } th { "On call now" } th { "Last poll" } th { "Last error" } } }
                tbody {
                    @for schedule in &schedules {
                        tr {
                            td { (schedule.name) }
                            td {
                                @match &schedule.on_call {
                                    None => span.muted { "not polled yet" },
                                    Some(people) if people.is_empty() => span.muted { "nobody" },
                                    Some(people) => (people.join(", ")),
                                }
                            }
                            td { @if let Some(at) = schedule.last_polled_at { (when(at)) } @else { "-" } }
                            td.error { @if let Some(error) = &schedule.last_error { (cell_text(error)) } }
                        }
                    }
                }
            } }
        }
    }
}

async fn heartbeats_section(state: &AppState, timeout: std::time::Duration) -> Markup {
    let integrations = match state.store.list_integrations().await {
        Ok(integrations) => integrations,
        Err(err) => return failed_section("heartbeat integrations", &err),
    };
    html! {
        @if integrations.is_empty() {
            p.muted { "No engine has registered a heartbeat yet." }
        } @else {
            div.table-wrap { table {
                thead { tr { th { "Engine" } th { "State" } th { "Last heartbeat" } } }
                tbody {
                    @for integration in &integrations {
                        tr {
                            td { a href={"/a/grafana-oncall-app/integrations/" (integration.id)} { (integration.name) } }
                            td { (heartbeat_page::badge(integration, timeout)) }
                            td { @if let Some(at) = integration.last_seen_at { (when(at)) } @else { "never" } }
                        }
                    }
                }
            } }
        }
    }
}
