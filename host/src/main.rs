mod cli;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
use emu_oncall::config::{self, Config};
use emu_oncall::{app, logging};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("emu-oncall: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("emu-oncall: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    emu_oncall::http_client::install_crypto_provider();
    let source = config::ConfigSource {
        file: cli.config.clone(),
        env: std::env::vars()
            .filter(|(name, _)| name.starts_with(config::ENV_PREFIX))
            .collect(),
        overrides: cli.overrides(),
    };
    let load = || source.load().map_err(anyhow::Error::from);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(load()?, source.clone()).await,
        Command::Check { config_only: false } => {
            // The report covers a broken configuration too, so it loads it itself.
            logging::init_cli("off");
            Ok(if cli::check::run(&source).await? {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Check { config_only: true } | Command::CheckConfig => {
            let config = load()?;
            config.check_can_serve()?;
            println!("configuration OK\n{}", config.redacted_summary());
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            logging::init_cli("warn");
            let store = app::connect_and_migrate(&load()?).await?;
            let version = emu_oncall::store::migrations::current_version(&store).await?;
            println!("database schema at version {version}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Users(command) => {
            logging::init_cli("warn");
            let config = load()?;
            let store = app::connect_and_migrate(&config).await?;
            cli::users::run(&store, command, config.users.default_region).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Plugins(command) => {
            logging::init_cli("warn");
            cli::plugins::run(&load()?, command).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Plugin {
            command: cli::PluginCommand::Test(test),
        } => {
            // Plugins report through the log; show what they say.
            logging::init_cli("info");
            cli::plugins::test(&load()?, test).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Schedules(command) => {
            logging::init_cli("warn");
            cli::schedules::run(&load()?, command).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Notifications(command) => {
            logging::init_cli("warn");
            let store = app::connect_and_migrate(&load()?).await?;
            cli::notifications::run(&store, command).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve(config: Config, source: config::ConfigSource) -> anyhow::Result<ExitCode> {
    logging::init_server(&config)?;
    let app = match app::prepare_reloadable(config, Some(source)).await {
        Ok(app) => app,
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "cannot start");
            return Err(err);
        }
    };
    app.run(async {
        app::shutdown_signal().await;
        // A second signal means "now": leases cover whatever is cut short.
        tokio::spawn(async {
            app::shutdown_signal().await;
            tracing::warn!("second stop signal: exiting at once");
            std::process::exit(130);
        });
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}
