//! The server's configuration: built-in defaults < TOML file < `EMU_ONCALL_*` environment
//! < command-line flags. Every key has the dotted name the Go original used.

mod duration;
mod layers;
mod lenient;
mod listen;
mod shared;
mod startup;
pub mod tokens;
mod validate;

use std::collections::BTreeMap;

use serde::Deserialize;

pub use duration::ConfigDuration;
pub use layers::{load, ConfigError, Overrides, ENV_PREFIX};
pub use listen::ListenAddr;
pub use shared::{ConfigSource, SharedConfig};
pub use startup::{changed_sections, StartupConfig};

/// The whole configuration: the keys read once at start-up, and the rest, which a
/// reload may replace. The file's layout is unchanged (`app.port` sits in `[app]`);
/// `load` sorts each key into its part. Field access reaches the live part directly
/// (`config.app.hostname`); start-up keys are `config.startup.*`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub startup: StartupConfig,
    pub live: LiveConfig,
}

impl std::ops::Deref for Config {
    type Target = LiveConfig;

    fn deref(&self) -> &LiveConfig {
        &self.live
    }
}

impl std::ops::DerefMut for Config {
    fn deref_mut(&mut self) -> &mut LiveConfig {
        &mut self.live
    }
}

/// What a reload may change: every key but the start-up ones. The running server
/// reads it through [`SharedConfig`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiveConfig {
    pub app: AppConfig,
    pub grafana: GrafanaConfig,
    pub limits: LimitsConfig,
    pub delivery: DeliveryConfig,
    pub heartbeat: HeartbeatConfig,
    /// How schedules (`grafana.oncall.schedules`) are polled.
    pub schedules: SchedulePolling,
    /// Whether a stored number needs its owner to confirm it before it counts.
    pub verification: VerificationConfig,
    /// How people's details are read where an admin types them.
    pub users: UsersConfig,
    /// Per channel (`sms`, `call`, `push`, `shift`, `test`), which plugins deliver it.
    pub routes: BTreeMap<String, RouteConfig>,
    /// Each plugin's own map, `[plugin.<name>]`; read by the plugin host.
    pub plugin: BTreeMap<String, toml::Table>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppConfig {
    /// Public base URL reported in `/api/v1/info/` and in heartbeat links. When blank,
    /// it is taken from each request's `Host` header.
    pub hostname: String,
    /// Where people's browsers reach this server, when that differs from `hostname`
    /// (which the engine must reach for heartbeats): the base of the "Verify in Cloud"
    /// and heartbeat links OnCall shows. Blank: the same as `hostname`.
    pub public_url: String,
    pub version: String,
    /// Tokens the engine may present; several allow rotation.
    #[serde(deserialize_with = "lenient::string_list")]
    pub auth_token: Vec<String>,
    #[serde(deserialize_with = "lenient::from_str_or_native")]
    pub allow_any_token: bool,
    /// Accept engine and admin tokens shorter than `tokens::MIN_TOKEN_LEN` (warned about
    /// at every start). Tokens from the examples are refused whatever this says.
    #[serde(deserialize_with = "lenient::from_str_or_native")]
    pub allow_weak_tokens: bool,
    /// Guards `/admin/api/v1`; the admin API is off while blank.
    pub admin_token: String,
    /// When set, `/metrics` answers only a scrape that presents it (`Bearer <token>`).
    pub metrics_token: String,
    /// What OnCall's outgoing webhooks send as their "Authorization header" to
    /// `/hooks/oncall`; that endpoint is off while blank.
    pub oncall_webhook_token: String,
    /// Largest request body accepted, in bytes.
    #[serde(deserialize_with = "lenient::from_str_or_native")]
    pub max_body_bytes: usize,
    /// How long a client may take to send a whole request body.
    pub body_timeout: ConfigDuration,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            hostname: String::new(),
            public_url: String::new(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            auth_token: Vec::new(),
            allow_any_token: false,
            allow_weak_tokens: false,
            admin_token: String::new(),
            metrics_token: String::new(),
            oncall_webhook_token: String::new(),
            max_body_bytes: 256 * 1024,
            body_timeout: ConfigDuration::secs(15),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GrafanaConfig {
    pub url: String,
    pub header_token: String,
    pub oncall: OnCallConfig,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OnCallConfig {
    pub url: String,
    pub schedules: BTreeMap<String, ScheduleConfig>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    pub name: String,
    pub transport: ScheduleTransport,
    pub ical_url: String,
    pub callback_url: String,
}

/// How a schedule's shift changes are announced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleTransport {
    /// Through the plugin route for the `shift` channel.
    #[default]
    Local,
    /// As a JSON POST to the schedule's `callback_url`.
    Callback,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DbConfig {
    /// A full connection string; when set, the separate fields below are ignored.
    pub url: String,
    pub addr: String,
    #[serde(deserialize_with = "lenient::from_str_or_native")]
    pub port: u16,
    pub user: String,
    pub password: String,
    pub dbname: String,
    #[serde(deserialize_with = "lenient::from_str_or_native")]
    pub pool_size: usize,
    /// How long start-up waits for the database before giving up, in seconds.
    #[serde(deserialize_with = "lenient::from_str_or_native")]
    pub connect_timeout_secs: u64,
}

impl Default for DbConfig {
    fn default() -> Self {
        DbConfig {
            url: String::new(),
            addr: "127.0.0.1".to_owned(),
            port: 5432,
            user: "postgres".to_owned(),
            password: String::new(),
            dbname: "emu_oncall".to_owned(),
            pool_size: 16,
            connect_timeout_secs: 30,
        }
    }
}

/// What one plugin call may use.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// Wall-clock limit for one call, HTTP waits included.
    #[serde(deserialize_with = "lenient::from_str_or_native")]
    pub timeout_ms: u64,
    /// Time spent running the plugin's own code in one call.
    #[serde(deserialize_with = "lenient::from_str_or_native")]
    pub cpu_ms: u64,
    /// Linear memory one instance may grow to.
    #[serde(deserialize_with = "lenient::from_str_or_native")]
    pub memory_mb: u64,
    /// Log lines one call may write; the rest are dropped with a warning.
    #[serde(deserialize_with = "lenient::from_str_or_native")]
    pub max_log_lines: u32,
    /// Plugin calls running at once in this replica; more wait their turn.
    #[serde(deserialize_with = "lenient::from_str_or_native")]
    pub max_concurrent: u32,
    /// Largest HTTP response body a plugin may read; a larger one ends its request
    /// with an error the plugin sees.
    #[serde(deserialize_with = "lenient::from_str_or_native")]
    pub max_response_bytes: u64,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            timeout_ms: 10_000,
            cpu_ms: 2_000,
            memory_mb: 64,
            max_log_lines: 200,
            max_response_bytes: 4 << 20,
            max_concurrent: 64,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// How long the engine's request waits for the first delivery round; below the
    /// engine's 5 s timeout.
    pub answer_within: ConfigDuration,
    /// Rounds per notification before it is given up as `dead`.
    #[serde(deserialize_with = "lenient::from_str_or_native")]
    pub max_attempts: u32,
    /// Age after which a notification is given up as `dead` (a page this old is news).
    pub max_age: ConfigDuration,
    /// Wait before the first retry; doubled each time, with jitter, up to `retry_max`.
    pub retry_initial: ConfigDuration,
    pub retry_max: ConfigDuration,
    /// How long a replica holds a notification it is delivering; a crashed replica's
    /// notifications are taken over when it runs out.
    pub lease: ConfigDuration,
    /// How often each replica looks for due notifications.
    pub poll_interval: ConfigDuration,
    /// On SIGTERM, how long rounds in hand may take to finish before they are released.
    pub shutdown_grace: ConfigDuration,
    /// How long the reply URL a 0.2.0 plugin hands its provider (key presses, replies,
    /// buttons, receipts) stays valid.
    pub reply_url_expiry: ConfigDuration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            answer_within: ConfigDuration::millis(3_000),
            max_attempts: 10,
            max_age: ConfigDuration::secs(3_600),
            retry_initial: ConfigDuration::secs(5),
            retry_max: ConfigDuration::secs(300),
            lease: ConfigDuration::secs(60),
            poll_interval: ConfigDuration::secs(1),
            shutdown_grace: ConfigDuration::secs(10),
            reply_url_expiry: ConfigDuration::secs(24 * 3_600),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulePolling {
    /// How often each schedule's export is fetched (by one replica).
    pub poll_interval: ConfigDuration,
}

impl Default for SchedulePolling {
    fn default() -> Self {
        SchedulePolling {
            poll_interval: ConfigDuration::secs(60),
        }
    }
}

/// The watchdog over engine heartbeats, as Grafana Cloud ran it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeartbeatConfig {
    /// An engine silent for this long is down.
    pub timeout: ConfigDuration,
    /// Users (emails or ids) told when an engine goes down and when it recovers.
    #[serde(deserialize_with = "lenient::string_list")]
    pub notify: Vec<String>,
    /// The channel those notifications go out on.
    pub channel: String,
    /// How often each replica checks.
    pub check_interval: ConfigDuration,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        HeartbeatConfig {
            timeout: ConfigDuration::secs(600),
            notify: Vec::new(),
            channel: "sms".to_owned(),
            check_interval: ConfigDuration::secs(30),
        }
    }
}

/// How a channel's notifications are delivered.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteConfig {
    /// Plugin names, in order; empty: every loaded plugin that serves the channel. An
    /// entry `name:channel` hands that plugin the page as another channel (a call route
    /// can end in `twilio:sms`).
    #[serde(deserialize_with = "lenient::string_list")]
    pub plugins: Vec<String>,
    pub mode: RouteMode,
    /// Push only: who gets a relayed push whose device token no user holds (emails or
    /// user ids).
    #[serde(deserialize_with = "lenient::string_list")]
    pub recipients: Vec<String>,
    /// Failover only: once a plugin that takes providers' calls has handed the page to
    /// its provider, how long to wait for a receipt or an action before the next plugin
    /// of the route is tried. Unset: the first plugin that delivers ends the route.
    pub confirm_within: Option<ConfigDuration>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteMode {
    /// The first plugin that succeeds wins; a permanent failure moves to the next.
    #[default]
    Failover,
    /// Every plugin gets it.
    Fanout,
}

/// Per-user, per-channel daily limits, counted in PostgreSQL per UTC day.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    #[serde(deserialize_with = "lenient::from_str_or_native")]
    pub sms_per_day: u32,
    #[serde(deserialize_with = "lenient::from_str_or_native")]
    pub calls_per_day: u32,
    /// Largest answer read from a schedule's export or the OnCall API, in bytes: a
    /// larger one is an error, not memory growth.
    #[serde(deserialize_with = "lenient::from_str_or_native")]
    pub max_response_bytes: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        // The engine's own default per-organisation limit is 200 of each.
        LimitsConfig {
            sms_per_day: 200,
            calls_per_day: 200,
            max_response_bytes: 8 << 20,
        }
    }
}

impl Config {
    /// The settings that matter at a glance, with every secret replaced by whether it is set.
    pub fn redacted_summary(&self) -> String {
        let set = |secret: &str| {
            if secret.is_empty() {
                "(not set)"
            } else {
                "(set)"
            }
        };
        let db = &self.startup.db;
        let db = if db.url.trim().is_empty() {
            format!(
                "{}@{}:{}/{} (password {})",
                db.user,
                db.addr,
                db.port,
                db.dbname,
                set(&db.password)
            )
        } else {
            "db.url (set)".to_owned()
        };
        let base = if self.app.hostname.is_empty() {
            "(from each request's Host header)"
        } else {
            self.app.hostname.as_str()
        };
        let pages = if self.app.public_url.is_empty() {
            "(as app.hostname)"
        } else {
            self.app.public_url.as_str()
        };
        format!(
            "app.port = {}\napp.hostname = {base}\napp.public_url = {pages}\napp.log_level = {}\napp.auth_token = {} token(s){}\n\
             app.admin_token = {}\napp.metrics_token = {}\ndb = {db}\nlimits = {} SMS, {} calls per user per day\n\
             plugins configured = {}\napp.plugins_dir = {}\napp.plugin_cache_dir = {}\nschedules configured = {}",
            self.startup.port,
            self.startup.log_level,
            self.app.auth_token.len(),
            if self.app.allow_any_token { " (any token accepted!)" } else { "" },
            set(&self.app.admin_token),
            set(&self.app.metrics_token),
            self.limits.sms_per_day,
            self.limits.calls_per_day,
            self.plugin.len(),
            self.startup.plugins_dir,
            if self.startup.plugin_cache_dir.is_empty() {
                "(none: plugins are compiled at every start)"
            } else {
                self.startup.plugin_cache_dir.as_str()
            },
            self.grafana.oncall.schedules.len(),
        )
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsersConfig {
    /// The region (`DE`, `US`, …) whose national numbers (`0151 1234 5678`) the admin
    /// API, the CLI, CSV imports and the verification page take without a country
    /// code. Unset: every number needs its `+` and country code.
    #[serde(deserialize_with = "lenient::optional_region")]
    pub default_region: Option<crate::model::Region>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VerificationConfig {
    pub mode: VerificationMode,
}

/// When a stored phone number counts as verified (`is_phone_number_verified`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerificationMode {
    /// Once its owner typed back a code sent to it, or an admin set it.
    #[default]
    Code,
    /// Always, as in the Go original: for operators who manage numbers centrally.
    Trust,
}

impl VerificationMode {
    pub fn trusts_every_number(self) -> bool {
        self == VerificationMode::Trust
    }
}
