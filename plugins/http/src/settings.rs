//! The operator's settings as they apply to one channel: `channel.<channel>.<key>`
//! wins over `<key>`, and a channel that sets its own body or auth replaces the
//! plugin-wide one whole (a JSON body and a form body cannot mix).

use emu_oncall_plugin_sdk::Config;

pub const CHANNEL_PREFIX: &str = "channel.";
pub const CHANNELS: [&str; 5] = ["sms", "call", "push", "shift", "test"];

/// Keys that make up the body: one of them at most.
const BODY_KEYS: [&str; 3] = ["json", "text", "form."];
/// Keys that make up the authentication.
const AUTH_KEYS: [&str; 1] = ["auth."];

/// Settings whose values are templates (JSON pointers too: an answer may be keyed by
/// the recipient's number).
pub const TEMPLATE_KEYS: [&str; 11] = [
    "url",
    "json",
    "text",
    "form.",
    "query.",
    "header.",
    "auth.",
    "check.json_pointer",
    "error.json_pointer",
    "id.json_pointer",
    "inbound.body",
];
/// Every other setting the plugin reads.
const PLAIN_KEYS: [&str; 13] = [
    "method",
    "inbound.content_type",
    "content_type",
    "timeout_secs",
    "delivered_status",
    "retryable_status",
    "check.equals",
    "check.retryable_equals",
    "check.regex",
    "id.regex",
    "id.header",
    "secret.",
    "vars.",
];

/// Whether `key` (without any channel prefix) names `pattern`: itself, or an entry
/// under it when the pattern ends in a dot.
pub fn matches(key: &str, pattern: &str) -> bool {
    if pattern.ends_with('.') {
        key.starts_with(pattern) && key.len() > pattern.len()
    } else {
        key == pattern
    }
}

pub fn is_template(key: &str) -> bool {
    TEMPLATE_KEYS.iter().any(|pattern| matches(key, pattern))
}

/// A setting this plugin does not know, named so a typo is caught at load.
pub fn unknown_key(key: &str) -> Option<String> {
    let (shown, key) = match key.strip_prefix(CHANNEL_PREFIX) {
        Some(rest) => match rest.split_once('.') {
            Some((channel, key)) if CHANNELS.contains(&channel) => (key, key),
            _ => {
                return Some(format!(
                    "`{key}`: channel overrides are `channel.<{}>.<key>`",
                    CHANNELS.join("|")
                ))
            }
        },
        None => (key, key),
    };
    let known = TEMPLATE_KEYS
        .iter()
        .chain(PLAIN_KEYS.iter())
        .any(|pattern| matches(key, pattern));
    (!known).then(|| format!("unknown setting `{shown}`"))
}

/// The settings in force for one channel.
pub struct View<'a> {
    entries: Vec<(&'a str, &'a str)>,
}

impl<'a> View<'a> {
    pub fn for_channel(config: &'a Config, channel: &str) -> Self {
        let own_prefix = format!("{CHANNEL_PREFIX}{channel}.");
        let own: Vec<(&str, &str)> = config
            .iter()
            .filter_map(|(key, value)| Some((key.strip_prefix(&own_prefix)?, value.as_str())))
            .collect();
        let replaced_group = |key: &str| {
            [&BODY_KEYS[..], &AUTH_KEYS[..]].iter().any(|group| {
                group.iter().any(|pattern| matches(key, pattern))
                    && own
                        .iter()
                        .any(|(mine, _)| group.iter().any(|pattern| matches(mine, pattern)))
            })
        };
        let mut entries: Vec<(&str, &str)> = config
            .iter()
            .filter(|(key, _)| !key.starts_with(CHANNEL_PREFIX))
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .filter(|(key, _)| !replaced_group(key) && !own.iter().any(|(mine, _)| mine == key))
            .collect();
        entries.extend(own);
        View { entries }
    }

    /// The value of `key`, if set and not blank.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.entries
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, value)| *value)
            .filter(|value| !value.trim().is_empty())
    }

    /// Every entry under `prefix` (which ends in a dot), with the prefix removed.
    pub fn under(&self, prefix: &str) -> Vec<(&'a str, &'a str)> {
        self.entries
            .iter()
            .filter_map(|(name, value)| Some((name.strip_prefix(prefix)?, *value)))
            .filter(|(name, _)| !name.is_empty())
            .collect()
    }

    /// Which body keys are set: more than one is a mistake.
    pub fn body_keys(&self) -> Vec<&'a str> {
        let mut kinds = Vec::new();
        if self.get("json").is_some() {
            kinds.push("json");
        }
        if self.get("text").is_some() {
            kinds.push("text");
        }
        if !self.under("form.").is_empty() {
            kinds.push("form.*");
        }
        kinds
    }
}

/// A config from `(key, value)` pairs, for the tests of every module.
#[cfg(test)]
pub fn config(pairs: &[(&str, &str)]) -> Config {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_override_wins_and_replaces_the_body_whole() {
        let config = config(&[
            ("url", "https://a.example/sms"),
            ("form.to", "{{ recipient.phone }}"),
            ("header.X-A", "1"),
            ("channel.call.url", "https://a.example/call"),
            ("channel.call.json", "{}"),
        ]);
        let sms = View::for_channel(&config, "sms");
        assert_eq!(sms.get("url"), Some("https://a.example/sms"));
        assert_eq!(sms.body_keys(), vec!["form.*"]);
        let call = View::for_channel(&config, "call");
        assert_eq!(call.get("url"), Some("https://a.example/call"));
        assert_eq!(call.body_keys(), vec!["json"]);
        assert_eq!(call.under("header."), vec![("X-A", "1")]);
    }

    #[test]
    fn unknown_keys_and_bad_channels_are_named() {
        assert_eq!(unknown_key("url"), None);
        assert_eq!(unknown_key("form.to"), None);
        assert_eq!(unknown_key("channel.sms.json"), None);
        assert_eq!(
            unknown_key("jsno").as_deref(),
            Some("unknown setting `jsno`")
        );
        assert!(unknown_key("channel.fax.url").is_some());
        assert!(unknown_key("form.").is_some());
    }
}
