//! The page behind OnCall's "Verify in Cloud" link: a person confirms a number by typing
//! back a code sent to it, or removes their number.

use crate::model::PhoneNumber;
use hyper::body::Incoming;
use hyper::{HeaderMap, Request, StatusCode};
use maud::{html, Markup};

use super::csrf::Csrf;
use super::layout::{self, notice, page, Page};
use super::{cookies, is_https, posted, secret, signing, Posted};
use crate::api::state::AppState;
use crate::config::VerificationMode;
use crate::store::phone_codes::{Checked, CodeChannel, CODE_RULES};
use crate::store::users::User;
use crate::store::StoreError;
use crate::verification::{self, CodeSent};

const TITLE: &str = "Your phone number";

/// The forms of one user's page are signed for that user only.
fn purpose(user: &User) -> String {
    format!("verify:{}", user.id)
}

/// The link's secret is the user's link id, never their user id.
fn action(user: &User) -> String {
    format!("/verify/{}", user.link_id)
}

/// Proof, for a while, that this browser holds the user's confirmed number: changing or
/// removing a confirmed number takes a code sent to it first, so a leaked link alone
/// cannot move or stop a person's pages.
const UNLOCK_COOKIE: &str = "emu_unlock";
const UNLOCK_SECS: u64 = 10 * 60;

fn number_digest(user: &User) -> String {
    crate::crypto::sha256_hex(
        user.phone_number
            .as_ref()
            .map(PhoneNumber::e164)
            .unwrap_or_default()
            .as_bytes(),
    )
}

fn unlock_cookie(secret: &[u8], user: &User, secure: bool) -> Option<hyper::header::HeaderValue> {
    let value = signing::expiring(
        secret,
        "unlock",
        &[&user.id, &number_digest(user)],
        UNLOCK_SECS,
    );
    cookies::set(UNLOCK_COOKIE, &value, UNLOCK_SECS, secure)
}

/// Whether the user's number may be changed or removed from this browser: it has no
/// confirmed number, or the browser proved it holds that number minutes ago.
fn unlocked(headers: &HeaderMap, secret: &[u8], user: &User) -> bool {
    if user.phone_number.is_none() || user.phone_verified_at.is_none() {
        return true;
    }
    cookies::get(headers, UNLOCK_COOKIE).is_some_and(|cookie| {
        signing::check_expiring(secret, "unlock", &[&user.id, &number_digest(user)], &cookie)
    })
}

fn store_failure(err: StoreError) -> Page {
    if err.is_unavailable() {
        layout::unavailable()
    } else {
        tracing::error!(error = %err, "verification page: database error");
        layout::message_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "Nothing was changed. Try again; if it keeps happening, tell your admin.",
        )
    }
}

async fn lookup(state: &AppState, id: Option<&str>) -> Result<User, Page> {
    let id = id.map(str::trim).unwrap_or_default();
    // Every id, well-formed or not, costs the same query.
    match state.store.find_active_user_by_link(id).await {
        Ok(Some(user)) => Ok(user),
        Ok(None) => {
            tracing::info!("verification page: unknown or inactive user id");
            Err(layout::not_found())
        }
        Err(err) => Err(store_failure(err)),
    }
}

/// `GET`: the user's page.
pub async fn show(state: &AppState, headers: &HeaderMap, id: Option<&str>) -> Page {
    match show_inner(state, headers, id).await {
        Ok(page) | Err(page) => page,
    }
}

async fn show_inner(state: &AppState, headers: &HeaderMap, id: Option<&str>) -> Result<Page, Page> {
    let user = lookup(state, id).await?;
    let secret = secret(state).await?;
    let csrf = Csrf::for_request(headers);
    let view = View {
        user: &user,
        mode: state.config().verification.mode,
        token: csrf.token(secret, &purpose(&user)),
        unlocked: unlocked(headers, secret, &user),
    };
    let pending = if view.mode == VerificationMode::Code {
        state
            .store
            .open_code_number(&user.id)
            .await
            .map_err(store_failure)?
    } else {
        None
    };
    tracing::info!(user = %user.id, "verification page opened");
    Ok(Page::new(
        StatusCode::OK,
        view.start(None, None, pending.as_deref(), None),
    )
    .with_cookie(csrf.cookie(is_https(state, headers))))
}

/// `POST`: one of the page's forms (`step` = `send`, `confirm` or `remove`).
pub async fn submit(state: &AppState, request: Request<Incoming>, id: &str) -> Page {
    match submit_inner(state, request, id).await {
        Ok(page) | Err(page) => page,
    }
}

async fn submit_inner(
    state: &AppState,
    request: Request<Incoming>,
    id: &str,
) -> Result<Page, Page> {
    let user = lookup(state, Some(id)).await?;
    let form = posted(state, request).await?;
    if !form.csrf_ok(&purpose(&user)) {
        tracing::warn!(user = %user.id, "verification page: form refused, its CSRF token is missing or wrong");
        return Err(Page::new(
            StatusCode::FORBIDDEN,
            page(
                "This form has expired",
                false,
                html! {
                    p { "Nothing was changed. The form was not sent from your page, or it is too old." }
                    p { a href=(action(&user)) { "Open your page again" } }
                },
            ),
        ));
    }
    let mode = state.config().verification.mode;
    if mode == VerificationMode::Trust {
        return Err(layout::message_page(
            StatusCode::FORBIDDEN,
            TITLE,
            "Phone numbers on this server are managed by your administrators. Ask them to change yours.",
        ));
    }
    let view = View {
        user: &user,
        mode,
        token: form.csrf().token(form.secret, &purpose(&user)),
        unlocked: unlocked(&form.headers, form.secret, &user),
    };
    let locked = || {
        tracing::warn!(user = %user.id, "verification page: refused to change a confirmed number without a code to it first");
        view.refuse(
            StatusCode::FORBIDDEN,
            "Your number is confirmed. To change or remove it, first confirm you still hold it with a code sent to it.",
            None,
        )
    };
    let page = match form.field("step").unwrap_or_default() {
        "send" => {
            let typed = form.field("phone").unwrap_or_default();
            let region = state.config().users.default_region;
            let same = PhoneNumber::parse_or_saved(typed, region, user.phone_number.as_ref()).ok()
                == user.phone_number;
            if !view.unlocked && !same {
                return Ok(locked());
            }
            send(state, &view, &form, typed).await?
        }
        // A code to the number already saved: proves the browser holds it.
        "send-current" => match user.phone_number.as_ref() {
            Some(current) => send(state, &view, &form, current.e164()).await?,
            None => view.refuse(StatusCode::BAD_REQUEST, "You have no number yet.", None),
        },
        "confirm" => {
            let typed = form.field("code").unwrap_or_default();
            let checked = verification::confirm(&state.store, &state.workers, &user, typed)
                .await
                .map_err(store_failure)?;
            // A code typed back proves this browser holds the number it went to, which
            // is now the saved one: it may change or remove it for a while.
            let cookie = match &checked {
                Checked::Confirmed { phone_number } => {
                    let holder = User {
                        phone_number: Some(phone_number.clone()),
                        ..user.clone()
                    };
                    unlock_cookie(form.secret, &holder, form.secure)
                }
                _ => None,
            };
            match checked {
                Checked::Confirmed { phone_number }
                    if Some(&phone_number) == user.phone_number.as_ref() =>
                {
                    tracing::info!(user = %user.id, "verification page: the current number is confirmed; it may be changed or removed from this browser for a while");
                    let unlocked = View {
                        unlocked: true,
                        ..view
                    };
                    Page::new(
                        StatusCode::OK,
                        unlocked.start(
                            None,
                            None,
                            None,
                            Some(
                                "Confirmed: this is your number. You can now change or remove it.",
                            ),
                        ),
                    )
                    .with_cookie(cookie)
                }
                checked => view.after_check(checked).with_cookie(cookie),
            }
        }
        "remove" if !view.unlocked => locked(),
        "remove" => {
            verification::remove(&state.store, &state.workers, &user)
                .await
                .map_err(store_failure)?;
            Page::new(StatusCode::OK, view.removed())
        }
        _ => layout::message_page(
            StatusCode::BAD_REQUEST,
            TITLE,
            "The form was incomplete. Open your page again.",
        ),
    };
    Ok(page)
}

async fn send(
    state: &AppState,
    view: &View<'_>,
    form: &Posted<'_>,
    typed: &str,
) -> Result<Page, Page> {
    let channel = match form.field("channel") {
        Some("call") => CodeChannel::Call,
        _ => CodeChannel::Sms,
    };
    let sent = verification::send_code(
        &state.store,
        state.workers.deliverer(),
        view.user,
        typed,
        state.config().users.default_region,
        channel,
    )
    .await
    .map_err(store_failure)?;
    Ok(match sent {
        CodeSent::OnItsWay { masked } => Page::new(
            StatusCode::OK,
            view.enter_code(Some((&masked, channel)), None),
        ),
        CodeSent::RateLimited { next_at } => view.refuse(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "You have asked for {} codes in the last hour. You can ask for another after {} UTC.",
                CODE_RULES.per_hour,
                next_at.format("%H:%M")
            ),
            Some(typed),
        ),
        CodeSent::InFlight => view.refuse(
            StatusCode::CONFLICT,
            "A code is already on its way. Wait for it, or try again in a minute.",
            Some(typed),
        ),
        CodeSent::InvalidNumber(reason) => view.refuse(
            StatusCode::BAD_REQUEST,
            &format!("That number cannot be used: {reason}."),
            Some(typed),
        ),
        CodeSent::Refused { permanent: true } => view.refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The code could not be delivered to that number: it was refused. Check the number; if it is right, tell your admin.",
            Some(typed),
        ),
        CodeSent::Refused { permanent: false } => view.refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "The code could not be sent, or not confirmed as sent: no channel delivered it. Try again in a few minutes, or tell your admin.",
            Some(typed),
        ),
        CodeSent::NoUser => layout::not_found(),
    })
}

/// What every part of the page needs.
struct View<'a> {
    user: &'a User,
    mode: VerificationMode,
    token: String,
    /// The number may be changed or removed from this browser (see [`unlocked`]).
    unlocked: bool,
}

impl View<'_> {
    fn hidden(&self, step: &str) -> Markup {
        html! {
            input type="hidden" name="csrf" value=(self.token);
            input type="hidden" name="step" value=(step);
        }
    }

    fn profile(&self) -> Markup {
        let user = self.user;
        let name = if user.name.is_empty() {
            &user.username
        } else {
            &user.name
        };
        html! {
            div.card {
                p.who { strong { (name) } span.muted { (user.email) } }
                p {
                    "Phone number: "
                    @match user.phone_number.as_ref().map(PhoneNumber::masked) {
                        Some(masked) => {
                            strong { (masked) } " "
                            @if user.is_phone_verified(self.mode) {
                                span.badge.ok { "verified" }
                            } @else {
                                span.badge.warn { "not verified" }
                            }
                        }
                        None => span.muted { "none" },
                    }
                }
            }
        }
    }

    /// The page as opened: the profile and the forms.
    fn start(
        &self,
        error: Option<String>,
        typed: Option<&str>,
        pending: Option<&str>,
        done: Option<&str>,
    ) -> Markup {
        let action = action(self.user);
        let minutes = CODE_RULES.lifetime.as_secs() / 60;
        page(
            TITLE,
            false,
            html! {
                (self.profile())
                @if let Some(error) = &error { (notice("error", html! { (error) })) }
                @if let Some(done) = done { (notice("ok", html! { (done) })) }
                @if self.mode == VerificationMode::Trust {
                    p { "Phone numbers on this server are managed by your administrators. Ask them to add or change yours." }
                } @else {
                    @if let Some(masked) = pending {
                        div.card {
                            p { "A code was sent to " strong { (masked) } ". Enter it here:" }
                            (self.code_form("pending-code"))
                        }
                    }
                    @if !self.unlocked {
                        div.card {
                            form method="post" action=(action) {
                                (self.hidden("send-current"))
                                p { "Your number is confirmed. To change or remove it, first confirm you still hold it: we send a code to it." }
                                fieldset {
                                    legend { "Send the code by" }
                                    label { input type="radio" name="channel" value="sms" checked; "SMS" }
                                    label { input type="radio" name="channel" value="call"; "Phone call" }
                                }
                                button type="submit" { "Send a code to my number" }
                            }
                            p.muted { "Lost that phone? Ask your admin to change the number." }
                        }
                    } @else {
                    div.card {
                        form method="post" action=(action) {
                            (self.hidden("send"))
                            label for="phone" { "New phone number, with country code" }
                            input id="phone" type="tel" name="phone" autocomplete="tel" placeholder="+49 151 23456789" required value=[typed];
                            fieldset {
                                legend { "Send the code by" }
                                label { input type="radio" name="channel" value="sms" checked; "SMS" }
                                label { input type="radio" name="channel" value="call"; "Phone call" }
                            }
                            button type="submit" { "Send code" }
                        }
                        p.muted { "The number is saved only once you type back the code. Codes expire after " (minutes) " minutes; you can ask for " (CODE_RULES.per_hour) " an hour." }
                    }
                    @if self.user.phone_number.is_some() {
                        form method="post" action=(action) {
                            (self.hidden("remove"))
                            button.secondary type="submit" { "Remove my number" }
                        }
                    }
                    }
                }
            },
        )
    }

    fn code_form(&self, id: &str) -> Markup {
        html! {
            form method="post" action=(action(self.user)) {
                (self.hidden("confirm"))
                label for=(id) { "Code" }
                input.code id=(id) type="text" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="9" required autofocus;
                button type="submit" { "Verify" }
            }
        }
    }

    /// The code form; `sent` says where the code just went.
    fn enter_code(&self, sent: Option<(&str, CodeChannel)>, error: Option<String>) -> Markup {
        let minutes = CODE_RULES.lifetime.as_secs() / 60;
        page(
            "Enter the code",
            false,
            html! {
                @if let Some(error) = &error { (notice("error", html! { (error) })) }
                div.card {
                    @if let Some((masked, channel)) = sent {
                        @let how = match channel {
                            CodeChannel::Sms => "by SMS",
                            CodeChannel::Call => "by a phone call",
                        };
                        p { "We sent a 6-digit code " (how) " to " strong { (masked) } ". It expires in " (minutes) " minutes." }
                    }
                    (self.code_form("code"))
                }
                p { a href=(action(self.user)) { "Use another number or send a new code" } }
                @if let Some(masked) = self.user.phone_number.as_ref().map(PhoneNumber::masked) {
                    p.muted { "Your saved number " (masked) " stays as it is until a code is confirmed." }
                }
            },
        )
    }

    /// The page as opened, with why the last form did not work and the number the
    /// person typed, if any, back in its field.
    fn refuse(&self, status: StatusCode, error: &str, typed: Option<&str>) -> Page {
        Page::new(
            status,
            self.start(Some(error.to_owned()), typed, None, None),
        )
    }

    fn after_check(&self, checked: Checked) -> Page {
        match checked {
            Checked::Confirmed { phone_number } => Page::new(
                StatusCode::OK,
                self.done(
                    "Number verified",
                    &format!("Your number {} is verified.", phone_number.masked()),
                ),
            ),
            Checked::Wrong { tries_left } => {
                let error = format!(
                    "That code is not right. {tries_left} {} left.",
                    if tries_left == 1 { "try" } else { "tries" }
                );
                Page::new(StatusCode::BAD_REQUEST, self.enter_code(None, Some(error)))
            }
            Checked::TooManyTries => self.refuse(
                StatusCode::BAD_REQUEST,
                "Too many wrong codes: that code no longer works. Ask for a new one.",
                None,
            ),
            Checked::Expired => self.refuse(
                StatusCode::BAD_REQUEST,
                "That code has expired. Ask for a new one.",
                None,
            ),
            Checked::NoCode => self.refuse(
                StatusCode::BAD_REQUEST,
                "No code is waiting to be confirmed. Ask for a new one.",
                None,
            ),
        }
    }

    fn removed(&self) -> Markup {
        self.done(
            "Number removed",
            "Your phone number was removed from this server.",
        )
    }

    /// A finished change, and the one step left in OnCall.
    fn done(&self, title: &str, what: &str) -> Markup {
        page(
            title,
            false,
            html! {
                (notice("ok", html! { (what) }))
                div.card {
                    h2 { "One more step in Grafana OnCall" }
                    ol.steps {
                        li { "Go back to Grafana OnCall and open your user profile." }
                        li { "In the " strong { "Cloud" } " phone tab, press " strong { "Sync" } "." }
                        li { "OnCall then shows your number's new state." }
                    }
                }
                p { a href=(action(self.user)) { "Back to your page" } }
            },
        )
    }
}
