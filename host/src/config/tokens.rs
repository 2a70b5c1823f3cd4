//! Whether the engine, admin and OnCall-webhook tokens are fit to guard a server: not one that anyone
//! can read in this repository, and long enough not to be guessed.

use super::layers::ConfigError;
use super::AppConfig;

/// Shortest token `serve` takes without `app.allow_weak_tokens`.
pub const MIN_TOKEN_LEN: usize = 24;

/// Every token this repository's examples (config, compose, Kubernetes, README) carry
/// or ever carried. An operator who copied one would run a server whose admin API and
/// pages anyone who read the examples can open. `examples.rs` in the test suite fails
/// when an example holds a token missing here.
pub const EXAMPLE_TOKENS: &[&str] = &[
    "example-token-change-me",
    "example-admin-token-change-me",
    "compose-cloud-token",
    "compose-admin-token",
    "replace-me",
    "change-me",
    "changeme",
    // The provider presets' placeholder (Plivo calls its secret an auth token).
    "YOUR_AUTH_TOKEN",
];

/// The tokens of `app`, each with the key it was set under.
fn tokens(app: &AppConfig) -> impl Iterator<Item = (&'static str, &str)> {
    app.auth_token
        .iter()
        .map(|token| ("app.auth_token", token.as_str()))
        .chain(
            (!app.admin_token.is_empty()).then_some(("app.admin_token", app.admin_token.as_str())),
        )
        .chain((!app.oncall_webhook_token.is_empty()).then_some((
            "app.oncall_webhook_token",
            app.oncall_webhook_token.as_str(),
        )))
}

/// `Err` for a token from the examples (always) or one shorter than
/// [`MIN_TOKEN_LEN`] (unless `app.allow_weak_tokens`). Blank tokens are not judged here.
pub fn check_strength(app: &AppConfig) -> Result<(), ConfigError> {
    for (key, token) in tokens(app) {
        let token = token.trim();
        if EXAMPLE_TOKENS
            .iter()
            .any(|known| known.eq_ignore_ascii_case(token))
        {
            return Err(ConfigError::invalid(
                key,
                "is a token from Emu-OnCall's examples, which anyone can read: \
                 set a long random one (e.g. `openssl rand -hex 24`)",
            ));
        }
        if token.chars().count() < MIN_TOKEN_LEN && !app.allow_weak_tokens {
            return Err(ConfigError::invalid(
                key,
                format!(
                    "is shorter than {MIN_TOKEN_LEN} characters: set a long random token \
                     (e.g. `openssl rand -hex 24`), or app.allow_weak_tokens = true to \
                     accept it anyway"
                ),
            ));
        }
    }
    Ok(())
}

/// Keys whose token is short but accepted because `app.allow_weak_tokens` is set.
pub fn weak_but_allowed(app: &AppConfig) -> Vec<&'static str> {
    if !app.allow_weak_tokens {
        return Vec::new();
    }
    let mut keys: Vec<&'static str> = tokens(app)
        .filter(|(_, token)| token.trim().chars().count() < MIN_TOKEN_LEN)
        .map(|(key, _)| key)
        .collect();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(auth: &[&str], admin: &str, allow_weak: bool) -> AppConfig {
        AppConfig {
            auth_token: auth.iter().map(|t| (*t).to_owned()).collect(),
            admin_token: admin.to_owned(),
            allow_weak_tokens: allow_weak,
            ..AppConfig::default()
        }
    }

    const STRONG: &str = "0123456789abcdef01234567";

    #[test]
    fn example_tokens_are_refused_even_when_weak_ones_are_allowed() {
        for allow in [false, true] {
            assert!(check_strength(&app(&["example-token-change-me"], "", allow)).is_err());
            assert!(check_strength(&app(&[STRONG], "COMPOSE-admin-token", allow)).is_err());
            assert!(check_strength(&app(&[STRONG, " replace-me "], "", allow)).is_err());
        }
    }

    #[test]
    fn short_tokens_need_the_explicit_switch() {
        let short = app(&["short-but-secret"], "", false);
        let err = check_strength(&short).unwrap_err().to_string();
        assert!(
            err.contains("app.auth_token") && err.contains("24"),
            "{err}"
        );
        assert!(check_strength(&app(&[STRONG], "short-admin", false))
            .unwrap_err()
            .to_string()
            .contains("app.admin_token"));
        let allowed = app(&["short-but-secret"], "short-admin", true);
        assert!(check_strength(&allowed).is_ok());
        assert_eq!(
            weak_but_allowed(&allowed),
            vec!["app.auth_token", "app.admin_token"]
        );
    }

    #[test]
    fn long_random_tokens_pass() {
        let strong = app(&[STRONG], "fedcba9876543210fedcba98", false);
        assert!(check_strength(&strong).is_ok());
        assert!(weak_but_allowed(&strong).is_empty());
        assert!(check_strength(&app(&[], "", false)).is_ok());
    }
}
