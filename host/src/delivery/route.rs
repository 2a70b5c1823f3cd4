//! Which plugins deliver a channel, for a given user.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{LiveConfig, RouteMode};
use crate::model::Channel;
use crate::plugins::{LoadedPlugin, PluginRegistry};
use crate::store::users::User;

/// The user attribute that overrides the route for one channel, e.g.
/// `route.sms = "telegram,twilio"` (failover in that order).
pub fn override_attribute(channel: Channel) -> String {
    format!("route.{channel}")
}

pub struct Plan {
    pub mode: RouteMode,
    /// Loaded plugins, in route order.
    pub plugins: Vec<Arc<LoadedPlugin>>,
    /// The channel each of `plugins` is handed the page as: the route entry's
    /// `name:channel`, else the page's own.
    pub as_channel: Vec<Channel>,
    /// Failover: how long to wait for a receipt or an action before the next plugin.
    pub confirm_within: Option<Duration>,
    /// Plugins the route names that are not loaded now.
    pub missing: Vec<String>,
    pub channel: Channel,
}

impl Plan {
    pub fn waiting_reason(&self) -> String {
        if self.missing.is_empty() {
            format!("no loaded plugin serves the {} channel", self.channel)
        } else {
            format!(
                "the {} route's plugins are not loaded: {}",
                self.channel,
                self.missing.join(", ")
            )
        }
    }
}

/// A route entry: `name`, or `name:channel` to hand that plugin the page as `channel`.
fn entry(text: &str, channel: Channel) -> (&str, Channel) {
    match text.split_once(':') {
        Some((name, as_channel)) => (name, as_channel.parse().unwrap_or(channel)),
        None => (text, channel),
    }
}

fn named(
    registry: &PluginRegistry,
    names: &[String],
    channel: Channel,
    mode: RouteMode,
    confirm_within: Option<Duration>,
) -> Plan {
    let mut plugins = Vec::new();
    let mut as_channel = Vec::new();
    let mut missing = Vec::new();
    for text in names {
        let (name, handed_as) = entry(text, channel);
        match registry.get(name) {
            Some(plugin) => {
                plugins.push(plugin);
                as_channel.push(handed_as);
            }
            None => missing.push(name.to_owned()),
        }
    }
    Plan {
        mode,
        plugins,
        as_channel,
        confirm_within,
        missing,
        channel,
    }
}

/// Only `plugin`: an announcement goes back through the plugin that reached the person.
pub fn pinned(registry: &PluginRegistry, plugin: &str, channel: Channel) -> Plan {
    named(
        registry,
        &[plugin.to_owned()],
        channel,
        RouteMode::Failover,
        None,
    )
}

/// Which plugins a channel names for a user, by precedence: the user's own
/// `route.<channel>` attribute (always failover, in its order), else the configured
/// `routes.<channel>`, else none (`None`: every loaded plugin serving the channel).
/// A blank override or a route with no plugins does not count. The configured route
/// also says how long to wait for confirmation (`confirm_within`); an override does not.
pub fn named_route(
    config: &LiveConfig,
    channel: Channel,
    user: Option<&User>,
) -> Option<(Vec<String>, RouteMode, Option<Duration>)> {
    let user_route = user
        .and_then(|user| user.attributes.get(&override_attribute(channel)))
        .and_then(|value| value.as_str())
        .map(|names| {
            names
                .split(',')
                .map(|name| name.trim().to_owned())
                .filter(|name| !name.is_empty())
                .collect::<Vec<_>>()
        })
        .filter(|names| !names.is_empty());
    if let Some(names) = user_route {
        return Some((names, RouteMode::Failover, None));
    }
    config
        .routes
        .get(channel.as_str())
        .filter(|route| !route.plugins.is_empty())
        .map(|route| {
            (
                route.plugins.clone(),
                route.mode,
                route.confirm_within.map(|wait| wait.0),
            )
        })
}

/// The plan for `channel` and `user`: the named route's loaded plugins, else every
/// plugin serving the channel.
pub fn plan(
    config: &LiveConfig,
    registry: &PluginRegistry,
    channel: Channel,
    user: Option<&User>,
) -> Plan {
    match named_route(config, channel, user) {
        Some((names, mode, confirm_within)) => {
            named(registry, &names, channel, mode, confirm_within)
        }
        None => {
            let plugins = registry.serving(channel);
            Plan {
                mode: RouteMode::Fanout,
                as_channel: vec![channel; plugins.len()],
                plugins,
                confirm_within: None,
                missing: Vec::new(),
                channel,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RouteConfig;

    fn user_with(attributes: serde_json::Value) -> User {
        User {
            id: "U1".to_owned(),
            email: "a@example.com".to_owned(),
            username: "a".to_owned(),
            name: String::new(),
            phone_number: None,
            phone_verified_at: None,
            role: crate::model::Role::User,
            active: true,
            attributes: attributes.as_object().cloned().unwrap_or_default(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            link_id: String::new(),
        }
    }

    fn config_routing_sms(plugins: &[&str], mode: RouteMode) -> LiveConfig {
        let mut config = LiveConfig::default();
        config.routes.insert(
            "sms".to_owned(),
            RouteConfig {
                plugins: plugins.iter().map(|name| (*name).to_owned()).collect(),
                mode,
                ..RouteConfig::default()
            },
        );
        config
    }

    #[test]
    fn a_users_override_beats_the_configured_route_and_is_failover() {
        let config = config_routing_sms(&["twilio", "vonage"], RouteMode::Fanout);
        let user = user_with(serde_json::json!({"route.sms": " telegram , twilio "}));
        assert_eq!(
            named_route(&config, Channel::Sms, Some(&user)),
            Some((
                vec!["telegram".to_owned(), "twilio".to_owned()],
                RouteMode::Failover,
                None
            ))
        );
    }

    #[test]
    fn the_configured_route_applies_without_an_override_or_with_a_blank_one() {
        let config = config_routing_sms(&["twilio", "vonage"], RouteMode::Fanout);
        let expected = Some((
            vec!["twilio".to_owned(), "vonage".to_owned()],
            RouteMode::Fanout,
            None,
        ));
        assert_eq!(named_route(&config, Channel::Sms, None), expected);
        let blank = user_with(serde_json::json!({"route.sms": " , "}));
        assert_eq!(named_route(&config, Channel::Sms, Some(&blank)), expected);
        let other_channel = user_with(serde_json::json!({"route.call": "stdout"}));
        assert_eq!(
            named_route(&config, Channel::Sms, Some(&other_channel)),
            expected
        );
    }

    #[test]
    fn an_entry_may_hand_the_page_over_as_another_channel() {
        assert_eq!(entry("twilio:sms", Channel::Call), ("twilio", Channel::Sms));
        assert_eq!(entry("twilio", Channel::Call), ("twilio", Channel::Call));
        assert_eq!(entry("odd:nonsense", Channel::Call), ("odd", Channel::Call));
    }

    #[test]
    fn no_route_or_an_empty_one_means_every_serving_plugin() {
        assert_eq!(
            named_route(&LiveConfig::default(), Channel::Sms, None),
            None
        );
        let empty = config_routing_sms(&[], RouteMode::Failover);
        assert_eq!(named_route(&empty, Channel::Sms, None), None);
        // A route for another channel says nothing about this one.
        let sms_only = config_routing_sms(&["twilio"], RouteMode::Failover);
        assert_eq!(named_route(&sms_only, Channel::Call, None), None);
    }
}
