//! Command-line interface: `serve`, `migrate`, `users …`, `notifications …`.

pub mod check;
pub mod notifications;
pub mod plugin_setup;
pub mod plugins;
pub mod schedules;
pub mod users;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use emu_oncall::config::Overrides;

#[derive(Debug, Parser)]
#[command(
    name = "emu-oncall",
    version,
    about = "The Cloud that self-hosted Grafana OnCall pages through"
)]
pub struct Cli {
    /// TOML configuration file.
    #[arg(long, short = 'c', global = true, env = "EMU_ONCALL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Listen address (app.port): 8880, :8880, 0.0.0.0:8880, [::]:8880.
    #[arg(long, global = true)]
    pub port: Option<String>,
    /// Public base URL reported to the engine (app.hostname).
    #[arg(long, global = true)]
    pub hostname: Option<String>,
    /// Log level (app.log_level): trace, debug, info, warn, error.
    #[arg(long, global = true)]
    pub log_level: Option<String>,
    /// PostgreSQL connection string (db.url).
    #[arg(long, global = true)]
    pub db_url: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            port: self.port.clone(),
            hostname: self.hostname.clone(),
            log_level: self.log_level.clone(),
            db_url: self.db_url.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Check everything a deploy needs: configuration, database, plugins, routes,
    /// schedule exports, the OnCall API; exits 1 when anything fails.
    Check {
        /// Check only the configuration (nothing is contacted) and print it with
        /// secrets hidden.
        #[arg(long)]
        config_only: bool,
    },
    /// The same as `check --config-only` (its name before 0.2).
    #[command(hide = true)]
    CheckConfig,
    /// Manage the users the engine syncs.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Show the plugins a configuration would load.
    #[command(subcommand)]
    Plugins(plugins::PluginsCommand),
    /// Run one notification through a plugin file, without server or database.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Look at OnCall schedules (iCal exports).
    #[command(subcommand)]
    Schedules(schedules::SchedulesCommand),
    /// Inspect accepted notifications.
    #[command(subcommand)]
    Notifications(notifications::NotificationsCommand),
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Send one notification through FILE.wasm and print the outcome.
    Test(plugins::PluginTest),
}
