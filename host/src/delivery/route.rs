//! Which plugins deliver a channel, for a given user.

use std::sync::Arc;

use crate::config::{Config, RouteMode};
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

fn named(registry: &PluginRegistry, names: &[String], channel: Channel, mode: RouteMode) -> Plan {
    let mut plugins = Vec::new();
    let mut missing = Vec::new();
    for name in names {
        match registry.get(name) {
            Some(plugin) => plugins.push(plugin),
            None => missing.push(name.clone()),
        }
    }
    Plan {
        mode,
        plugins,
        missing,
        channel,
    }
}

/// A user's override, else the configured route, else every plugin serving the channel.
pub fn plan(
    config: &Config,
    registry: &PluginRegistry,
    channel: Channel,
    user: Option<&User>,
) -> Plan {
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
        return named(registry, &names, channel, RouteMode::Failover);
    }
    if let Some(route) = config
        .routes
        .get(channel.as_str())
        .filter(|route| !route.plugins.is_empty())
    {
        return named(registry, &route.plugins, channel, route.mode);
    }
    Plan {
        mode: RouteMode::Fanout,
        plugins: registry.serving(channel),
        missing: Vec::new(),
        channel,
    }
}
