//! Token checks. The engine sends its token raw in `Authorization`, with no scheme.

use hyper::header::AUTHORIZATION;
use hyper::HeaderMap;
use subtle::ConstantTimeEq;

use super::response::ApiError;
use crate::config::AppConfig;

fn presented(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
}

/// Compares against every configured token without stopping at the first match, so the
/// time taken says nothing about which token, or how much of one, was right.
fn matches_any(given: &str, tokens: &[String]) -> bool {
    tokens.iter().fold(false, |found, token| {
        found | bool::from(given.as_bytes().ct_eq(token.as_bytes()))
    })
}

/// The engine's token (`app.auth_token`).
pub fn check_engine(headers: &HeaderMap, app: &AppConfig) -> Result<(), ApiError> {
    if app.allow_any_token {
        return Ok(());
    }
    match presented(headers) {
        Some(given) if !given.is_empty() && matches_any(given, &app.auth_token) => Ok(()),
        _ => Err(ApiError::InvalidToken),
    }
}

/// The presented token without a `Bearer ` scheme, if it has one.
fn presented_bearer(headers: &HeaderMap) -> &str {
    let given = presented(headers).unwrap_or("");
    given
        .strip_prefix("Bearer ")
        .or_else(|| given.strip_prefix("bearer "))
        .unwrap_or(given)
        .trim()
}

/// `app.metrics_token`, raw or as `Bearer <token>`; `/metrics` is open while it is blank.
pub fn check_metrics(headers: &HeaderMap, app: &AppConfig) -> Result<(), ApiError> {
    if app.metrics_token.is_empty() {
        return Ok(());
    }
    let given = presented_bearer(headers);
    if !given.is_empty() && matches_any(given, std::slice::from_ref(&app.metrics_token)) {
        Ok(())
    } else {
        Err(ApiError::InvalidToken)
    }
}

/// The admin token (`app.admin_token`), raw or as `Bearer <token>`.
pub fn check_admin(headers: &HeaderMap, app: &AppConfig) -> Result<(), ApiError> {
    if app.admin_token.is_empty() {
        return Err(ApiError::AdminDisabled);
    }
    let given = presented_bearer(headers);
    if admin_token_matches(given, app) {
        Ok(())
    } else {
        Err(ApiError::InvalidToken)
    }
}

/// Whether `given` is the admin token (never true while none is configured).
pub fn admin_token_matches(given: &str, app: &AppConfig) -> bool {
    !app.admin_token.is_empty()
        && !given.is_empty()
        && matches_any(given, std::slice::from_ref(&app.admin_token))
}

/// `app.oncall_webhook_token`, as OnCall's outgoing webhook sends its "Authorization
/// header": verbatim, so with or without a `Bearer ` the operator typed.
pub fn check_oncall_webhook(headers: &HeaderMap, app: &AppConfig) -> Result<(), ApiError> {
    if app.oncall_webhook_token.is_empty() {
        return Err(ApiError::NotFoundDetail(
            "OnCall webhooks are off: set app.oncall_webhook_token.".to_owned(),
        ));
    }
    let expected = app.oncall_webhook_token.trim();
    let given = presented(headers).unwrap_or("");
    let bare = presented_bearer(headers);
    let matches = |candidate: &str| {
        !candidate.is_empty() && bool::from(candidate.as_bytes().ct_eq(expected.as_bytes()))
    };
    if matches(given) | matches(bare) {
        Ok(())
    } else {
        Err(ApiError::InvalidToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(tokens: &[&str]) -> AppConfig {
        AppConfig {
            auth_token: tokens.iter().map(|t| t.to_string()).collect(),
            admin_token: "admin-secret".to_owned(),
            ..AppConfig::default()
        }
    }

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn any_rotated_token_is_accepted_with_whitespace_trimmed() {
        let app = app(&["old", "new"]);
        assert!(check_engine(&headers(" new "), &app).is_ok());
        assert!(check_engine(&headers("old"), &app).is_ok());
        assert!(check_engine(&headers("older"), &app).is_err());
        assert!(check_engine(&HeaderMap::new(), &app).is_err());
    }

    #[test]
    fn metrics_are_open_without_a_token_and_closed_with_one() {
        let mut app = app(&["engine"]);
        assert!(check_metrics(&HeaderMap::new(), &app).is_ok());
        app.metrics_token = "scrape-secret".to_owned();
        assert!(check_metrics(&HeaderMap::new(), &app).is_err());
        assert!(check_metrics(&headers("Bearer engine"), &app).is_err());
        assert!(check_metrics(&headers("Bearer scrape-secret"), &app).is_ok());
    }

    #[test]
    fn admin_token_accepts_bearer_and_rejects_the_engine_token() {
        let app = app(&["engine"]);
        assert!(check_admin(&headers("Bearer admin-secret"), &app).is_ok());
        assert!(check_admin(&headers("admin-secret"), &app).is_ok());
        assert!(check_admin(&headers("engine"), &app).is_err());
    }
}
