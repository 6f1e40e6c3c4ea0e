//! The payment-network simulator: plays the network against the Antaca switch.
//!
//! Messages are built and parsed with iso8583_rs, the reference ISO 8583
//! implementation, from the same spec file as the switch, so the simulator is
//! an independent check of the switch's codec.
//!
//! # Layout
//! - [`wire`]: iso8583_rs messages, templates, the 2-byte length framing.
//! - [`echo`]: `simulator echo`, sign-on and echo tests one at a time.
//! - [`scenarios`]: `simulator scenarios`, the functional scenarios.
//! - [`load`]: `simulator load`, closed- and open-loop load; [`report`] and [`plot`] show what it measured.
//! - [`baseline`]: `simulator baseline`, iso8583_rs's own ISOServer answering approve-all.
//! - [`cards`]: the cards file (`antaca provision`, `simulator provision`); [`pin`]: format 0 PIN blocks.
//! - [`api`]: the lifecycle API over HTTPS with a partner certificate; [`provision`]: `simulator
//!   provision`, funded active cards made through it.
//! - [`chaos`]: `simulator chaos`, a seeded workload with faults, checked by an auditor.

mod api;
mod baseline;
mod cards;
mod chaos;
mod echo;
mod load;
mod pin;
mod plot;
mod provision;
mod report;
mod scenarios;
mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
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

/// The lifecycle API and a partner's client certificate (`--api` turns it on).
#[derive(clap::Args, Debug, Clone)]
struct ApiArgs {
    /// The lifecycle API's base URL, e.g. https://localhost:8443.
    #[arg(long)]
    api: Option<String>,
    /// The partner's client certificate (PEM).
    #[arg(long, default_value = "data/tls/partner-dev-partner.pem")]
    cert: PathBuf,
    /// Its private key (PEM).
    #[arg(long, default_value = "data/tls/partner-dev-partner-key.pem")]
    key: PathBuf,
    /// The CA that signs the server's certificate (PEM).
    #[arg(long, default_value = "data/tls/ca.pem")]
    ca: PathBuf,
    /// A platform administrator, who creates the operator that records the partner's bank transfer.
    #[arg(long, default_value = "admin")]
    admin_user: String,
    #[arg(long, env = "ANTACA__ADMIN__BOOTSTRAP_PASSWORD", default_value = "antaca-dev-admin")]
    admin_password: String,
}

impl ApiArgs {
    fn options(&self) -> Option<api::ApiOptions> {
        Some(api::ApiOptions {
            url: self.api.clone()?,
            cert: self.cert.clone(),
            key: self.key.clone(),
            ca: self.ca.clone(),
            admin_user: self.admin_user.clone(),
            admin_password: self.admin_password.clone(),
        })
    }
}

#[derive(Subcommand)]
enum Command {
    /// Make funded, active cards through the running switch's lifecycle API; write them to --out.
    Provision(ProvisionArgs),
    /// Sign on, send echo tests one after another, print their round-trip times.
    Echo {
        /// The switch's ISO 8583 address.
        #[arg(long, default_value = "127.0.0.1:8583")]
        switch: SocketAddr,
        /// Echo tests to send.
        #[arg(long, default_value_t = 100)]
        count: u32,
    },
    /// Run the functional scenarios against the switch; exit non-zero if any fails.
    Scenarios(ScenariosArgs),
    /// Spawn the switch and run a seeded workload with faults; an auditor checks every answer and,
    /// at the end, every balance in the database.
    Chaos(chaos::ChaosArgs),
    /// Load the switch: closed loop (--in-flight per connection) or open loop (--rate).
    Load(LoadArgs),
    /// Serve approve-all with iso8583_rs's own ISOServer (no state), to load side by side.
    Baseline {
        #[arg(long, default_value = "127.0.0.1:8584")]
        listen: SocketAddr,
    },
}

// The arguments of `provision` (its help is the variant's doc comment).
#[derive(clap::Args)]
struct ProvisionArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[arg(long, default_value_t = 100)]
    cards: usize,
    /// The cards file (created owner-only).
    #[arg(long, default_value = "data/api-cards.jsonl")]
    out: PathBuf,
    /// Minor units on each user balance.
    #[arg(long, default_value_t = 1_000_000)]
    funds: i64,
    /// Every n-th card is a physical card with a PIN (0: none).
    #[arg(long, default_value_t = 10)]
    pin_every: usize,
    /// Cards being made at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    #[arg(long, default_value = "dev-credit-eur")]
    program: String,
    #[arg(long, default_value = "EUR")]
    currency: String,
}

impl ProvisionArgs {
    fn options(self) -> anyhow::Result<provision::ProvisionOptions> {
        let api = self.api.options().context("--api URL is required")?;
        Ok(provision::ProvisionOptions {
            api,
            cards: self.cards,
            out: self.out,
            funds: self.funds,
            pin_every: self.pin_every,
            concurrency: self.concurrency,
            program: self.program,
            currency: self.currency,
        })
    }
}

// The arguments of `scenarios`.
#[derive(clap::Args)]
struct ScenariosArgs {
    #[arg(long, default_value = "127.0.0.1:8583")]
    switch: SocketAddr,
    /// Cards from `antaca provision` (JSON lines); the lock scenarios use some up.
    #[arg(long, default_value = "data/cards.jsonl")]
    cards: PathBuf,
    /// Zone PIN key shared with the switch (config: authorization.zone_pin_key).
    #[arg(
        long,
        env = "ANTACA__AUTHORIZATION__ZONE_PIN_KEY",
        default_value = "0123456789ABCDEFFEDCBA9876543210"
    )]
    zone_pin_key: String,
    /// With --api, the HTTP scenarios run too (lock and unlock over HTTP, reloads, physical cards).
    #[command(flatten)]
    api: ApiArgs,
}

impl ScenariosArgs {
    fn options(self) -> scenarios::ScenarioOptions {
        scenarios::ScenarioOptions {
            switch: self.switch,
            cards: self.cards,
            zone_pin_key: self.zone_pin_key,
            api: self.api.options(),
        }
    }
}

// The arguments of `load`.
#[derive(clap::Args)]
struct LoadArgs {
    #[arg(long, default_value = "127.0.0.1:8583")]
    switch: SocketAddr,
    /// Cards from `antaca provision` (needed unless the mix is echo only).
    #[arg(long)]
    cards: Option<PathBuf>,
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Requests in flight per connection at most (the closed loop keeps exactly this many).
    #[arg(long, default_value_t = 64)]
    in_flight: usize,
    /// How long to measure: 60, 60s, 2m, 500ms.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// Sent before measuring, not counted.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    warmup: Duration,
    /// Open loop: this many messages per second over all connections.
    #[arg(long)]
    rate: Option<f64>,
    /// Kinds and weights: auth, echo, financial, reversal, completion.
    #[arg(long, default_value = "auth=100")]
    mix: load::Mix,
    /// JSON report.
    #[arg(long, default_value = "load-report.json")]
    report: PathBuf,
    /// SVG of latency percentiles over time and the latency histogram.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// After the last request, how long to wait for the answers still due.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    drain: Duration,
}

impl LoadArgs {
    fn options(self) -> load::LoadOptions {
        load::LoadOptions {
            switch: self.switch,
            cards: self.cards,
            connections: self.connections,
            in_flight: self.in_flight,
            duration: self.duration,
            warmup: self.warmup,
            rate: self.rate,
            mix: self.mix,
            report: self.report,
            plot: self.plot,
            drain: self.drain,
        }
    }
}

pub(crate) fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().with_context(|| format!("{text:?} is not a duration"))?;
    let seconds = match unit {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" => number * 60.0,
        _ => bail!("{text:?}: the unit must be ms, s or m"),
    };
    Ok(Duration::from_secs_f64(seconds))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // iso8583_rs takes its spec only from the SPEC_FILE variable, read once per
    // process; when it is not set, run this same program again with it set.
    if std::env::var_os("SPEC_FILE").is_none() {
        return wire::rerun_with_spec_file(&cli.spec);
    }
    if let Command::Baseline { listen } = cli.command {
        return finish(baseline::run(listen));
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
        Command::Provision(args) => args
            .options()
            .and_then(|options| runtime.block_on(provision::run(options))),
        Command::Chaos(args) => return verdict(runtime.block_on(chaos::run(args))),
        Command::Scenarios(args) => return verdict(runtime.block_on(scenarios::run(args.options()))),
        Command::Load(args) => runtime.block_on(load::run(args.options())),
        Command::Baseline { .. } => unreachable!("served above"),
    };
    finish(result)
}

/// The exit code of a command that checks something: failure when a check failed (it printed
/// what), or on an error (printed here).
fn verdict(result: anyhow::Result<bool>) -> ExitCode {
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => finish(Err(error)),
    }
}

fn finish(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("simulator: {error:#}");
            ExitCode::FAILURE
        }
    }
}
