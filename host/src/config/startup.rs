//! The keys read only at start-up. This type is the one place that says which keys a
//! reload cannot change: the list that builds it is also the list `load` moves out of
//! the file's sections and the list a reload compares and names, so a key added here
//! is kept from the live configuration and reported without any other edit.

use serde::Deserialize;

use super::{lenient, ConfigDuration, DbConfig, ListenAddr, LiveConfig, SandboxConfig};

macro_rules! startup_keys {
    ($(
        $(#[doc = $doc:literal])*
        $key:literal => $field:ident : $type:ty = $default:expr $(, with $de:literal)? ;
    )+) => {
        /// The start-up values a server runs with until it restarts. `load` moves these
        /// keys out of their sections into this type, so the running configuration
        /// ([`LiveConfig`], what a reload replaces) cannot hold them.
        #[derive(Debug, Clone, PartialEq, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct StartupConfig {
            $(
                $(#[doc = $doc])*
                #[serde(rename = $key $(, deserialize_with = $de)?)]
                pub $field: $type,
            )+
        }

        impl Default for StartupConfig {
            fn default() -> Self {
                StartupConfig {
                    $( $field: $default, )+
                }
            }
        }

        impl StartupConfig {
            /// The keys, dotted as the file writes them.
            pub const KEYS: &'static [&'static str] = &[$( $key, )+];

            /// The keys whose value in `other` differs from this one's.
            pub fn changed_in(&self, other: &StartupConfig) -> Vec<&'static str> {
                let mut changed = Vec::new();
                $( if self.$field != other.$field { changed.push($key); } )+
                changed
            }
        }
    };
}

startup_keys! {
    /// Verbose logs (`debug` level) regardless of `app.log_level`.
    "debug" => debug: bool = false, with "lenient::from_str_or_native";
    "app.port" => port: ListenAddr = ListenAddr::default();
    "app.log_level" => log_level: String = "info".to_owned();
    /// JSON lines are appended to this file; stdout when blank.
    "app.log_path" => log_path: String = String::new();
    /// Where notifier plugins (`*.wasm`) are loaded from, watched for changes.
    "app.plugins_dir" => plugins_dir: String = "plugins".to_owned();
    /// Where compiled plugins are cached so a restart does not recompile; blank: none.
    /// Used only when owned by the server's user and writable by nobody else.
    "app.plugin_cache_dir" => plugin_cache_dir: String = default_plugin_cache_dir();
    "db" => db: DbConfig = DbConfig::default();
    "sandbox" => sandbox: SandboxConfig = SandboxConfig::default();
    /// Delivery rounds one replica runs at once.
    "delivery.workers" => delivery_workers: u32 = 64, with "lenient::from_str_or_native";
    /// Limit for one schedule export fetch.
    "schedules.fetch_timeout" => fetch_timeout: ConfigDuration = ConfigDuration::secs(10);
    /// Limit for one POST to a `callback` schedule's `callback_url`.
    "schedules.callback_timeout" => callback_timeout: ConfigDuration = ConfigDuration::secs(10);
    "grafana.oncall.incident_details" => incident_details: bool = false, with "lenient::from_str_or_native";
    "grafana.oncall.header_token" => oncall_header_token: String = String::new();
    /// Limit for one incident-details lookup (it never delays the engine's answer).
    "grafana.oncall.details_timeout" => details_timeout: ConfigDuration = ConfigDuration::secs(2);
    /// How long a read of the newest alert groups serves later lookups.
    "grafana.oncall.details_cache" => details_cache: ConfigDuration = ConfigDuration::secs(10);
}

/// `$XDG_CACHE_HOME/emu-oncall/plugins`, else `$HOME/.cache/emu-oncall/plugins`: a
/// directory of the server's own user, never a shared one such as `/tmp`. Blank (no
/// cache) when neither variable is set.
fn default_plugin_cache_dir() -> String {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|dir| !dir.is_empty())
                .map(|home| std::path::PathBuf::from(home).join(".cache"))
        });
    base.map(|base| {
        base.join("emu-oncall")
            .join("plugins")
            .display()
            .to_string()
    })
    .unwrap_or_default()
}

/// Moves every start-up key out of `tree` (the file's layout) into a table of its own,
/// keyed by the dotted name: `{"startup": {...}, "live": {the rest}}`, which is what
/// [`Config`] reads.
pub(super) fn split_tree(mut tree: toml::Table) -> toml::Table {
    let mut startup = toml::Table::new();
    for key in StartupConfig::KEYS {
        let path: Vec<&str> = key.split('.').collect();
        if let Some(value) = take_path(&mut tree, &path) {
            startup.insert((*key).to_owned(), value);
        }
    }
    let mut split = toml::Table::new();
    split.insert("startup".to_owned(), toml::Value::Table(startup));
    split.insert("live".to_owned(), toml::Value::Table(tree));
    split
}

fn take_path(table: &mut toml::Table, path: &[&str]) -> Option<toml::Value> {
    match path {
        [] => None,
        [last] => table.remove(*last),
        [first, rest @ ..] => match table.get_mut(*first) {
            Some(toml::Value::Table(inner)) => take_path(inner, rest),
            _ => None,
        },
    }
}

/// A key as [`split_tree`]'s layout names it (`live.app.hostname`,
/// `startup.app.port`), back as the file writes it.
pub(super) fn file_key(path: &str) -> &str {
    path.strip_prefix("live.")
        .or_else(|| path.strip_prefix("startup."))
        .unwrap_or(path)
}

/// The top-level sections a reload compares to say what it applied.
pub fn changed_sections(old: &LiveConfig, new: &LiveConfig) -> Vec<&'static str> {
    let mut changed = Vec::new();
    macro_rules! section {
        ($($name:literal => $field:ident),+) => {
            $( if old.$field != new.$field { changed.push($name); } )+
        };
    }
    section!(
        "app" => app,
        "grafana" => grafana,
        "limits" => limits,
        "delivery" => delivery,
        "heartbeat" => heartbeat,
        "routes" => routes,
        "schedules" => schedules,
        "verification" => verification,
        "users" => users,
        "plugin" => plugin
    );
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_start_up_keys_are_named() {
        let old = StartupConfig::default();
        let mut new = StartupConfig::default();
        new.db.dbname = "other".to_owned();
        new.sandbox.memory_mb = 1;
        new.delivery_workers = 2;
        assert_eq!(
            old.changed_in(&new),
            vec!["db", "sandbox", "delivery.workers"]
        );
    }

    #[test]
    fn start_up_keys_leave_their_sections() {
        let tree: toml::Table = toml::from_str(
            "[app]\nport = \"9000\"\nhostname = \"https://x\"\n[db]\nurl = \"postgres://x\"\n\
             [grafana.oncall]\nurl = \"https://o\"\nheader_token = \"t\"\n",
        )
        .unwrap();
        let split = split_tree(tree);
        let startup = split["startup"].as_table().unwrap();
        assert_eq!(startup["app.port"].as_str(), Some("9000"));
        assert_eq!(startup["grafana.oncall.header_token"].as_str(), Some("t"));
        assert!(startup["db"].is_table());
        let live = split["live"].as_table().unwrap();
        assert!(live["app"].get("port").is_none());
        assert_eq!(live["app"]["hostname"].as_str(), Some("https://x"));
        assert!(live.get("db").is_none());
        assert_eq!(live["grafana"]["oncall"]["url"].as_str(), Some("https://o"));
        assert_eq!(file_key("startup.app.port"), "app.port");
        assert_eq!(file_key("live.app.hostname"), "app.hostname");
    }

    #[test]
    fn a_section_change_is_named_once() {
        let old = LiveConfig::default();
        let mut new = LiveConfig::default();
        new.limits.sms_per_day = 3;
        assert_eq!(changed_sections(&old, &new), vec!["limits"]);
    }
}
