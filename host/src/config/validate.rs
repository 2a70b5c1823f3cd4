//! Checks that span several keys or need more than a type: done once at load so a bad
//! value stops the server at start-up, not at the first page.

use super::layers::ConfigError;
use super::{Config, ConfigDuration, ScheduleTransport};

/// The engine stores heartbeat links in a 200-character column; our links add up to
/// about 80 characters to the base URL.
const MAX_HOSTNAME_LEN: usize = 120;

const LOG_LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error"];

impl Config {
    /// The configuration with its values normalised, or the first rule it breaks.
    /// Normalising twice changes nothing, so a merged configuration can be checked again.
    pub(crate) fn validated(mut self) -> Result<Config, ConfigError> {
        self.app.hostname = base_url_of_link_size("app.hostname", &self.app.hostname)?;
        self.app.public_url = base_url_of_link_size("app.public_url", &self.app.public_url)?;
        self.startup.log_level = self.startup.log_level.trim().to_ascii_lowercase();
        if !LOG_LEVELS.contains(&self.startup.log_level.as_str()) {
            return Err(ConfigError::invalid(
                "app.log_level",
                format!(
                    "{:?} is not a level; use one of {}",
                    self.startup.log_level,
                    LOG_LEVELS.join(", ")
                ),
            ));
        }
        self.app.admin_token = self.app.admin_token.trim().to_owned();
        self.app.metrics_token = self.app.metrics_token.trim().to_owned();
        self.app.oncall_webhook_token = self.app.oncall_webhook_token.trim().to_owned();
        if !self.app.admin_token.is_empty() && self.app.auth_token.contains(&self.app.admin_token) {
            return Err(ConfigError::invalid(
                "app.admin_token",
                "must differ from every app.auth_token: the engine's token must not open the admin API",
            ));
        }
        if self.app.max_body_bytes < 1024 {
            return Err(ConfigError::invalid(
                "app.max_body_bytes",
                "must be at least 1024",
            ));
        }
        if !(1024..=1 << 30).contains(&self.limits.max_response_bytes) {
            return Err(ConfigError::invalid(
                "limits.max_response_bytes",
                "must be 1024 to 1073741824",
            ));
        }
        let db = &self.startup.db;
        if db.pool_size == 0 {
            return Err(ConfigError::invalid("db.pool_size", "must be at least 1"));
        }
        if !db.url.trim().is_empty() {
            db.url
                .trim()
                .parse::<tokio_postgres::Config>()
                .map_err(|err| ConfigError::invalid("db.url", err.to_string()))?;
        }
        let sandbox = &self.startup.sandbox;
        for (key, value, low, high) in [
            ("sandbox.timeout_ms", sandbox.timeout_ms, 10, 600_000),
            ("sandbox.cpu_ms", sandbox.cpu_ms, 10, 600_000),
            ("sandbox.memory_mb", sandbox.memory_mb, 1, 4096),
            (
                "sandbox.max_concurrent",
                u64::from(sandbox.max_concurrent),
                1,
                10_000,
            ),
            (
                "sandbox.max_response_bytes",
                sandbox.max_response_bytes,
                1024,
                1 << 30,
            ),
            (
                "delivery.max_attempts",
                u64::from(self.delivery.max_attempts),
                1,
                1_000,
            ),
            (
                "delivery.workers",
                u64::from(self.startup.delivery_workers),
                1,
                1_000,
            ),
        ] {
            if !(low..=high).contains(&value) {
                return Err(ConfigError::invalid(
                    key,
                    format!("must be {low} to {high}, not {value}"),
                ));
            }
        }
        let delivery = &self.delivery;
        for (key, value, low, high) in [
            (
                "delivery.answer_within",
                delivery.answer_within,
                ConfigDuration::millis(0),
                ConfigDuration::secs(60),
            ),
            (
                "delivery.reply_url_expiry",
                delivery.reply_url_expiry,
                ConfigDuration::secs(60),
                ConfigDuration::secs(30 * 24 * 3_600),
            ),
            (
                "delivery.lease",
                delivery.lease,
                ConfigDuration::secs(1),
                ConfigDuration::secs(3_600),
            ),
            (
                "delivery.poll_interval",
                delivery.poll_interval,
                ConfigDuration::millis(10),
                ConfigDuration::secs(600),
            ),
            (
                "delivery.retry_initial",
                delivery.retry_initial,
                ConfigDuration::millis(10),
                ConfigDuration::secs(86_400),
            ),
            (
                "delivery.retry_max",
                delivery.retry_max,
                delivery.retry_initial,
                ConfigDuration::secs(86_400),
            ),
            (
                "app.body_timeout",
                self.app.body_timeout,
                ConfigDuration::secs(1),
                ConfigDuration::secs(600),
            ),
            (
                "heartbeat.timeout",
                self.heartbeat.timeout,
                ConfigDuration::secs(1),
                ConfigDuration::secs(86_400),
            ),
            (
                "heartbeat.check_interval",
                self.heartbeat.check_interval,
                ConfigDuration::millis(10),
                ConfigDuration::secs(3_600),
            ),
        ] {
            if value.0 < low.0 || value.0 > high.0 {
                return Err(ConfigError::invalid(
                    key,
                    format!("must be between {} and {}", low, high),
                ));
            }
        }
        let plugin_timeout = std::time::Duration::from_millis(sandbox.timeout_ms);
        if delivery.lease.0 <= plugin_timeout {
            return Err(ConfigError::invalid(
                "delivery.lease",
                "must be longer than sandbox.timeout_ms, or a slow plugin call loses its lease",
            ));
        }
        let uses_callbacks = self
            .grafana
            .oncall
            .schedules
            .values()
            .any(|schedule| schedule.transport == ScheduleTransport::Callback);
        if uses_callbacks && delivery.lease.0 <= self.startup.callback_timeout.0 {
            return Err(ConfigError::invalid(
                "delivery.lease",
                "must be longer than schedules.callback_timeout, or a slow callback loses its lease",
            ));
        }
        // The details lookup runs between the claim and the first plugin call, which
        // does not renew the lease.
        if self.startup.incident_details
            && delivery.lease.0 <= plugin_timeout + self.startup.details_timeout.0
        {
            return Err(ConfigError::invalid(
                "delivery.lease",
                "must be longer than sandbox.timeout_ms plus grafana.oncall.details_timeout",
            ));
        }
        if !["sms", "call", "push", "shift", "test"].contains(&self.heartbeat.channel.as_str()) {
            return Err(ConfigError::invalid(
                "heartbeat.channel",
                "is not a channel; use sms, call, push, shift or test",
            ));
        }
        for (channel, route) in &self.routes {
            if !["sms", "call", "push", "shift", "test"].contains(&channel.as_str()) {
                return Err(ConfigError::invalid(
                    &format!("routes.{channel}"),
                    "is not a channel; use sms, call, push, shift or test",
                ));
            }
            if route.plugins.is_empty() && route.recipients.is_empty() {
                return Err(ConfigError::invalid(
                    &format!("routes.{channel}.plugins"),
                    "lists no plugin",
                ));
            }
            for entry in &route.plugins {
                if let Some((_, as_channel)) = entry.split_once(':') {
                    if as_channel.parse::<crate::model::Channel>().is_err() {
                        return Err(ConfigError::invalid(
                            &format!("routes.{channel}.plugins"),
                            format!("{entry:?}: after `:` comes a channel (sms, call, push, shift or test)"),
                        ));
                    }
                }
            }
            if let Some(wait) = route.confirm_within {
                if route.mode != super::RouteMode::Failover {
                    return Err(ConfigError::invalid(
                        &format!("routes.{channel}.confirm_within"),
                        "applies to failover routes only",
                    ));
                }
                if !(std::time::Duration::from_secs(1)..=std::time::Duration::from_secs(3_600))
                    .contains(&wait.0)
                {
                    return Err(ConfigError::invalid(
                        &format!("routes.{channel}.confirm_within"),
                        "must be 1s to 1h",
                    ));
                }
            }
            if !route.recipients.is_empty() && channel != "push" {
                return Err(ConfigError::invalid(
                    &format!("routes.{channel}.recipients"),
                    "only the push route has default recipients (the engine names the user of every other notification)",
                ));
            }
        }
        self.grafana.url = normalize_base_url("grafana.url", &self.grafana.url)?;
        self.grafana.oncall.url =
            normalize_base_url("grafana.oncall.url", &self.grafana.oncall.url)?;
        for (name, schedule) in &self.grafana.oncall.schedules {
            let key = |field: &str| format!("grafana.oncall.schedules.{name}.{field}");
            if schedule.ical_url.trim().is_empty() {
                return Err(ConfigError::invalid(&key("ical_url"), "is required"));
            }
            if schedule.transport == ScheduleTransport::Callback
                && schedule.callback_url.trim().is_empty()
            {
                return Err(ConfigError::invalid(
                    &key("callback_url"),
                    "is required when transport = \"callback\"",
                ));
            }
            let callback = schedule.callback_url.trim();
            let is_url = callback.starts_with("http://") || callback.starts_with("https://");
            if !callback.is_empty() && !is_url {
                return Err(ConfigError::invalid(
                    &key("callback_url"),
                    "must be an http:// or https:// URL",
                ));
            }
        }
        if self.startup.incident_details {
            if self.grafana.oncall.url.is_empty() {
                return Err(ConfigError::invalid(
                    "grafana.oncall.url",
                    "is required when grafana.oncall.incident_details = true",
                ));
            }
            if self.startup.oncall_header_token.trim().is_empty() {
                return Err(ConfigError::invalid(
                    "grafana.oncall.header_token",
                    "is required when grafana.oncall.incident_details = true (an OnCall API token)",
                ));
            }
        }
        Ok(self)
    }

    /// What `serve` needs beyond a well-formed file: a token to check the engine with,
    /// and no token that is public or short (see `tokens`).
    pub fn check_can_serve(&self) -> Result<(), ConfigError> {
        if self.app.auth_token.is_empty() && !self.app.allow_any_token {
            return Err(ConfigError::invalid(
                "app.auth_token",
                "is blank: set the token you will paste into OnCall's Settings → Cloud \
                 (or set app.allow_any_token = true to accept any token, never in production)",
            ));
        }
        super::tokens::check_strength(&self.app)
    }
}

/// A base URL the engine builds links on: normalised, and short enough for its columns.
fn base_url_of_link_size(key: &str, value: &str) -> Result<String, ConfigError> {
    let url = normalize_base_url(key, value)?;
    if url.len() > MAX_HOSTNAME_LEN {
        return Err(ConfigError::invalid(
            key,
            format!(
                "is {} characters long; at most {MAX_HOSTNAME_LEN} fit in the engine's link columns",
                url.len()
            ),
        ));
    }
    Ok(url)
}

/// Blank stays blank; otherwise an absolute http(s) URL ending in `/`, because the engine
/// joins paths onto it with `urljoin`, which drops a last segment without one.
fn normalize_base_url(key: &str, value: &str) -> Result<String, ConfigError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(String::new());
    }
    let rest = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"))
        .ok_or_else(|| {
            ConfigError::invalid(
                key,
                format!("{value:?} must be an absolute URL starting with http:// or https://"),
            )
        })?;
    if rest.is_empty() || rest.starts_with('/') || rest.contains(char::is_whitespace) {
        return Err(ConfigError::invalid(key, format!("{value:?} has no host")));
    }
    if value.contains('?') || value.contains('#') {
        return Err(ConfigError::invalid(
            key,
            format!("{value:?} must not carry a query or fragment"),
        ));
    }
    Ok(if value.ends_with('/') {
        value.to_owned()
    } else {
        format!("{value}/")
    })
}
