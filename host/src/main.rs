mod cli;

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use cli::{Cli, Command};
use emu_oncall::config::{self, Config};
use emu_oncall::{app, logging};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("emu-oncall: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    emu_oncall::schedules::fetch::install_crypto_provider();
    let source = config::ConfigSource {
        file: cli.config.clone(),
        env: std::env::vars()
            .filter(|(name, _)| name.starts_with(config::ENV_PREFIX))
            .collect(),
        overrides: cli.overrides(),
    };
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Check = command {
        // The report covers a broken configuration too, so it loads it itself.
        logging::init_cli("off");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        if runtime.block_on(cli::check::run(&source))? {
            return Ok(());
        }
        std::process::exit(1);
    }
    let config = source.load()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match command {
            Command::Serve => serve(config, source).await,
            // Ran above, before the configuration was loaded.
            Command::Check => Ok(()),
            Command::CheckConfig => {
                config.check_can_serve()?;
                println!("configuration OK\n{}", config.redacted_summary());
                Ok(())
            }
            Command::Migrate => {
                logging::init_cli("warn");
                let store = app::connect_and_migrate(&config).await?;
                let version = emu_oncall::store::migrations::current_version(&store).await?;
                println!("database schema at version {version}");
                Ok(())
            }
            Command::Users(command) => {
                logging::init_cli("warn");
                let store = app::connect_and_migrate(&config).await?;
                cli::users::run(&store, command, config.users.default_region).await
            }
            Command::Plugins(command) => {
                logging::init_cli("warn");
                cli::plugins::list(&config, command).await
            }
            Command::Plugin {
                command: cli::PluginCommand::Test(test),
            } => {
                // Plugins report through the log; show what they say.
                logging::init_cli("info");
                cli::plugins::test(&config, test).await
            }
            Command::Schedules(command) => {
                logging::init_cli("warn");
                cli::schedules::run(&config, command).await
            }
            Command::Notifications(command) => {
                logging::init_cli("warn");
                let store = app::connect_and_migrate(&config).await?;
                cli::notifications::run(&store, command).await
            }
        }
    })
}

async fn serve(config: Config, source: config::ConfigSource) -> anyhow::Result<()> {
    logging::init_server(&config)?;
    let server = match app::prepare_reloadable(config, Some(source)).await {
        Ok(server) => server,
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "cannot start");
            return Err(err);
        }
    };
    server
        .run(async {
            app::shutdown_signal().await;
            // A second signal means "now": leases cover whatever is cut short.
            tokio::spawn(async {
                app::shutdown_signal().await;
                tracing::warn!("second stop signal: exiting at once");
                std::process::exit(130);
            });
        })
        .await
}
