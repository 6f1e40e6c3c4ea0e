//! `antaca serve [--config PATH]`: config → telemetry → build → run.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use antaca::app::Application;
use antaca::config::Config;
use antaca::vital::{EXIT_VITAL_TASK, VitalTaskFailed};

#[derive(Parser)]
#[command(
    name = "antaca",
    version,
    about = "Antaca card-issuing platform: authorization switch and lifecycle API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the authorization switch and the HTTP API.
    Serve {
        /// Configuration file.
        #[arg(long, default_value = "config.toml")]
        config: PathBuf,
    },
    /// Create KYC-verified customers with funded balances and active cards,
    /// and write them (with their card numbers) to an owner-only file. Runs
    /// on the database directly: the switch must not be running.
    Provision {
        #[arg(long, default_value = "config.toml")]
        config: PathBuf,
        /// Card program to issue under.
        #[arg(long, default_value = "dev-credit-eur")]
        program: String,
        /// Cards to create.
        #[arg(long, default_value_t = 1000)]
        cards: usize,
        /// Minor units on each card's balance.
        #[arg(long, default_value_t = 100_000_000)]
        funds: i64,
        /// Every Nth card gets a PIN (0: none).
        #[arg(long, default_value_t = 4)]
        pin_every: usize,
        /// Where to write the cards (JSON lines, mode 0600).
        #[arg(long, default_value = "data/cards.jsonl")]
        out: PathBuf,
    },
}

/// Exit code for an unusable configuration.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config_path = match &cli.command {
        Command::Serve { config } | Command::Provision { config, .. } => config.clone(),
    };
    let config = match Config::load(&config_path) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    antaca::telemetry::init_logging(&config.log);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Serve { .. } => runtime.block_on(serve(config)),
        Command::Provision {
            program,
            cards,
            funds,
            pin_every,
            out,
            ..
        } => {
            let plan = antaca::provision::ProvisionPlan {
                program,
                cards,
                funds,
                pin_every,
            };
            runtime.block_on(provision(config, plan, out))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.is::<VitalTaskFailed>() => {
            tracing::error!("{error:#}; exiting so that a restart takes over");
            eprintln!("antaca: {error:#}; exiting so that a restart takes over");
            // At once: dropping the runtime would wait for its blocking tasks, and nothing in
            // flight can be made durable without the failed task (it is answered 9109, not lost).
            std::process::exit(i32::from(EXIT_VITAL_TASK));
        }
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("antaca: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let application = Application::build(&config).await?;
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested; finishing in-flight requests");
        signal.cancel();
    });
    application.run(shutdown).await
}

async fn provision(config: Config, plan: antaca::provision::ProvisionPlan, out: PathBuf) -> anyhow::Result<()> {
    let opened = antaca::app::open_state(&config, std::sync::Arc::new(antaca::state::SystemClock)).await?;
    let started = std::time::Instant::now();
    let cards = antaca::provision::provision(&opened.state, &plan).await?;
    antaca::provision::write_cards(&out, &cards)?;
    tracing::info!(
        cards = cards.len(),
        program = %plan.program,
        seconds = started.elapsed().as_secs_f64(),
        out = %out.display(),
        "provisioned"
    );
    Ok(())
}

async fn wait_for_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
