//! The keys read only at start-up. This type is the one place that says which keys a
//! reload cannot change: the list that builds it is also the list a reload keeps and
//! names, so a key added here is kept and reported without any other edit.

use super::{Config, ConfigDuration, DbConfig, ListenAddr, SandboxConfig};

macro_rules! startup_keys {
    ($( $key:literal => $field:ident : $type:ty = $($path:ident).+ ;)+) => {
        /// The start-up values a server runs with until it restarts.
        #[derive(Debug, Clone, PartialEq)]
        pub struct StartupConfig {
            $( pub $field: $type, )+
        }

        impl StartupConfig {
            pub fn of(config: &Config) -> StartupConfig {
                StartupConfig {
                    $( $field: config.$($path).+.clone(), )+
                }
            }

            /// The keys whose value in `other` differs from this one's.
            pub fn changed_in(&self, other: &StartupConfig) -> Vec<&'static str> {
                let mut changed = Vec::new();
                $( if self.$field != other.$field { changed.push($key); } )+
                changed
            }

            /// Puts these values back into `config` (a reloaded one keeps what runs).
            pub fn restore(&self, config: &mut Config) {
                $( config.$($path).+ = self.$field.clone(); )+
            }
        }
    };
}

startup_keys! {
    "debug" => debug: bool = debug;
    "app.port" => port: ListenAddr = app.port;
    "app.log_level" => log_level: String = app.log_level;
    "app.log_path" => log_path: String = app.log_path;
    "app.plugins_dir" => plugins_dir: String = app.plugins_dir;
    "app.plugin_cache_dir" => plugin_cache_dir: String = app.plugin_cache_dir;
    "db" => db: DbConfig = db;
    "sandbox" => sandbox: SandboxConfig = sandbox;
    "delivery.workers" => delivery_workers: u32 = delivery.workers;
    "schedules.fetch_timeout" => fetch_timeout: ConfigDuration = schedules.fetch_timeout;
    "schedules.callback_timeout" => callback_timeout: ConfigDuration = schedules.callback_timeout;
    "grafana.oncall.incident_details" => incident_details: bool = grafana.oncall.incident_details;
    "grafana.oncall.header_token" => oncall_header_token: String = grafana.oncall.header_token;
    "grafana.oncall.details_timeout" => details_timeout: ConfigDuration = grafana.oncall.details_timeout;
    "grafana.oncall.details_cache" => details_cache: ConfigDuration = grafana.oncall.details_cache;
}

/// The top-level sections a reload compares to say what it applied.
pub fn changed_sections(old: &Config, new: &Config) -> Vec<&'static str> {
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
    fn start_up_keys_keep_their_running_values() {
        let old = Config::default();
        let mut new = Config::default();
        new.db.dbname = "other".to_owned();
        new.limits.sms_per_day = 3;
        new.sandbox.memory_mb = 1;
        new.delivery.workers = 2;
        let running = StartupConfig::of(&old);
        assert_eq!(
            running.changed_in(&StartupConfig::of(&new)),
            vec!["db", "sandbox", "delivery.workers"]
        );
        running.restore(&mut new);
        assert_eq!(new.db.dbname, old.db.dbname);
        assert_eq!(new.sandbox.memory_mb, old.sandbox.memory_mb);
        assert_eq!(new.delivery.workers, old.delivery.workers);
        assert_eq!(changed_sections(&old, &new), vec!["limits"]);
    }
}
