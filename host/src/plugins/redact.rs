//! What a plugin says (its log lines, its errors) reaches logs, the database and the
//! status page. Before it does, its own secrets (config values such as a bot token),
//! the call's hidden parts (a verification code) and phone numbers are taken out.

use std::sync::Arc;

use crate::model::phone::mask_in_text;

/// Config keys whose values are secrets, by a part of their name.
const SECRET_KEY_PARTS: [&str; 6] = ["token", "secret", "password", "auth", "key", "credential"];

/// Shorter values are not hidden: replacing `"1"` everywhere would garble the text and
/// protect nothing.
const MIN_SECRET_LEN: usize = 4;

/// The values of `config` that are secrets, longest first (so a secret containing
/// another is replaced whole).
pub(super) fn secret_values(config: &[(String, String)]) -> Arc<[String]> {
    let mut values: Vec<String> = config
        .iter()
        .filter(|(key, value)| {
            let key = key.to_ascii_lowercase();
            value.chars().count() >= MIN_SECRET_LEN
                && SECRET_KEY_PARTS.iter().any(|part| key.contains(part))
        })
        .map(|(_, value)| value.clone())
        .collect();
    values.sort_by_key(|value| std::cmp::Reverse(value.len()));
    values.dedup();
    Arc::from(values)
}

/// `text` with every secret and hidden part replaced by `[hidden]` and numbers masked.
pub fn redact(text: &str, secrets: &[String], hidden: &[String]) -> String {
    mask_in_text(&without_secrets(text, secrets, hidden))
}

/// `text` with every secret and hidden part replaced by `[hidden]`, numbers kept: for a
/// provider's id of a message (a Telegram chat and message id), which must match when
/// the provider names it again and is no one's phone number.
pub fn without_secrets(text: &str, secrets: &[String], hidden: &[String]) -> String {
    secrets
        .iter()
        .chain(hidden)
        .filter(|secret| !secret.is_empty())
        .fold(text.to_owned(), |text, secret| {
            text.replace(secret.as_str(), "[hidden]")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn secret_config_values_codes_and_numbers_are_hidden() {
        let secrets = secret_values(&pairs(&[
            ("bot_token", "123456:ABC-secret"),
            ("auth_token", "twilio-secret"),
            ("url", "https://example.com/hook"),
            ("api_key", "abc"),
        ]));
        assert_eq!(secrets.len(), 2, "{secrets:?}");
        let shown = redact(
            "GET https://api.telegram.org/bot123456:ABC-secret/sendMessage failed; code 424242 to +4915112345678 via https://example.com/hook",
            &secrets,
            &["424242".to_owned()],
        );
        assert_eq!(
            shown,
            "GET https://api.telegram.org/bot[hidden]/sendMessage failed; code [hidden] to +49********678 via https://example.com/hook"
        );
    }
}
