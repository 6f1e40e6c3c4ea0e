//! The payment-network simulator: plays the network against the Antaca switch.
//!
//! Messages are built and parsed with iso8583_rs, the reference ISO 8583
//! implementation, from the same spec file as the switch, so the simulator is
//! an independent check of the switch's codec.

mod echo;
mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "simulator",
    version,
    about = "Plays the payment network against the Antaca switch"
)]
struct Cli {
    /// ISO 8583 spec file (iso8583_rs reads it from SPEC_FILE; this sets it).
    #[arg(long, global = true, default_value = "specs/iso8583_2003_ascii.yaml")]
    spec: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign on, send echo tests one after another, print their round-trip times.
    Echo {
        /// The switch's ISO 8583 address.
        #[arg(long, default_value = "127.0.0.1:8583")]
        switch: SocketAddr,
        /// Echo tests to send.
        #[arg(long, default_value_t = 100)]
        count: u32,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // iso8583_rs takes its spec only from the SPEC_FILE variable, read once per
    // process; when it is not set, run this same program again with it set.
    if std::env::var_os("SPEC_FILE").is_none() {
        return wire::rerun_with_spec_file(&cli.spec);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("simulator: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Echo { switch, count } => runtime.block_on(echo::run(switch, count)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("simulator: {error:#}");
            ExitCode::FAILURE
        }
    }
}
