//! `simulator chaos`: a seeded run that owns its PostgreSQL instance and the
//! switch process, sends a workload of every kind of message (and HTTP locks,
//! unlocks and reloads) from several lanes, and breaks things while it runs:
//! client disconnects mid-request, SIGKILL of the switch and a restart,
//! PostgreSQL stopped and started, PostgreSQL frozen (slow commits). The
//! auditor checks every answer as it comes and, at the end, every balance in
//! the database. RELIABILITY.md says how to run it and what it checks.
//!
//! - [`workload`]: the seeded operations and faults;
//! - [`lane`]: a connection and its cards, sending and checking;
//! - [`auditor`]: the model and the final database check;
//! - [`faults`]: the PostgreSQL instance and the switch process.

mod auditor;
mod faults;
mod lane;
mod workload;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rand::RngExt;

use crate::api::{Api, ApiOptions};
use auditor::{CardModel, Findings};
use faults::{Postgres, Switch, SwitchCommand};
use lane::{Lane, Target};
use workload::{Fault, FaultSchedule};

#[derive(clap::Args, Debug, Clone)]
pub struct ChaosArgs {
    /// The run's seed (printed first); the same seed sends the same workload with the same faults.
    #[arg(long)]
    seed: Option<u64>,
    /// Runs this many seeds one after another (`--seed`, `--seed` + 1, …), each for `--duration`,
    /// stopping at the first that fails. RELIABILITY.md names the seeds a release must pass.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    seeds: u64,
    /// How long to run the workload: 60, 90s, 5m.
    #[arg(long, default_value = "2m", value_parser = crate::parse_duration)]
    duration: Duration,
    /// The switch binary (`cargo build --release` puts it in target/release/antaca).
    #[arg(long, default_value = "target/release/antaca")]
    switch_bin: PathBuf,
    /// The switch's config file (the run overrides the database, listeners, certificates, logs).
    #[arg(long, default_value = "config.toml")]
    config: PathBuf,
    /// PostgreSQL's binaries (initdb, pg_ctl); default: the newest /usr/lib/postgresql/*/bin.
    #[arg(long)]
    pg_bin: Option<PathBuf>,
    /// Where the run keeps its PostgreSQL cluster, certificates and cards (default: a new /tmp directory).
    #[arg(long)]
    directory: Option<PathBuf>,
    /// Lanes: connections, each with its own cards, one request at a time.
    #[arg(long, default_value_t = 8)]
    lanes: usize,
    #[arg(long, default_value_t = 4)]
    cards_per_lane: usize,
    /// Steps each lane takes per round; one fault strikes per round.
    #[arg(long, default_value_t = 200)]
    steps_per_round: usize,
    /// Keep the run's directory at the end.
    #[arg(long)]
    keep: bool,
}

/// Funds of each card (cents).
const FUNDS: i64 = 5_000_000;
/// Loaded into the partner credit balance for the HTTP reloads (cents).
const PARTNER_FUNDS: i64 = 100_000_000_000;

/// Runs `--seeds` seeds in a row from `--seed` (or a random one); passes if every one passed.
pub async fn run(args: ChaosArgs) -> anyhow::Result<bool> {
    let first = args.seed.unwrap_or_else(|| rand::rng().random());
    let started = Instant::now();
    for seed in (0..args.seeds).map(|offset| first.wrapping_add(offset)) {
        let seed_started = Instant::now();
        let passed = run_seed(&args, seed).await?;
        if args.seeds > 1 {
            println!(
                "chaos seed {seed}: {} in {:.0} s",
                if passed { "passed" } else { "FAILED" },
                seed_started.elapsed().as_secs_f64()
            );
        }
        if !passed {
            return Ok(false);
        }
    }
    if args.seeds > 1 {
        println!(
            "chaos: all {} seeds from {first} passed in {:.0} s",
            args.seeds,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(true)
}

async fn run_seed(args: &ChaosArgs, seed: u64) -> anyhow::Result<bool> {
    println!("chaos seed {seed}");
    let spec = std::env::var_os("SPEC_FILE").map(PathBuf::from).context("SPEC_FILE")?;
    let directory = match &args.directory {
        Some(directory) => directory.clone(),
        None => std::env::temp_dir().join(format!("antaca-chaos-{seed}-{}", std::process::id())),
    };
    std::fs::create_dir_all(&directory)?;
    let outcome = run_in(args, seed, &directory, absolute(&spec)?).await;
    if !args.keep && outcome.as_ref().is_ok_and(|passed| *passed) {
        let _ = std::fs::remove_dir_all(&directory);
    } else {
        println!("the run's files are in {}", directory.display());
    }
    outcome
}

fn absolute(path: &std::path::Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("{}", path.display()))
}

/// One seed's run in `directory`: its own PostgreSQL and switch, the rounds of workload with
/// their faults, the checks at the end, and the report; true if no violation was found.
async fn run_in(args: &ChaosArgs, seed: u64, directory: &std::path::Path, spec: PathBuf) -> anyhow::Result<bool> {
    let started = Instant::now();
    let (postgres, database_url) = own_postgres(directory, args.pg_bin.clone()).await?;
    let how = SwitchCommand {
        binary: absolute(&args.switch_bin)?,
        config: absolute(&args.config)?,
        spec,
        database_url: database_url.clone(),
        directory: directory.to_path_buf(),
        extra_env: Vec::new(),
    };
    let cards = provision(args, &how, directory).await?;

    let first = Switch::start(&how).await?;
    let api = partner_api(directory, &first)?;
    api.fund_partner_credit("EUR", PARTNER_FUNDS)
        .await
        .context("funding the partner credit balance")?;
    let target = Arc::new(Target {
        iso: RwLock::new(first.iso),
        api: RwLock::new(api),
    });
    let mut lanes = lanes(args, seed, &cards, &target)?;

    let rig = Rig {
        seed,
        directory,
        postgres,
        how,
        target,
        database_url,
    };
    let mut switch = Some(first);
    let rounds = rig.rounds(args, &mut lanes, &mut switch).await;
    let findings = rig.end(lanes, switch, rounds.faults).await?;
    Ok(report(seed, rounds.count, rounds.workload_seconds, &findings, started))
}

/// Creates and starts the run's own PostgreSQL instance in `directory`, with an empty `antaca`
/// database; returns the instance and that database's URL.
async fn own_postgres(directory: &std::path::Path, pg_bin: Option<PathBuf>) -> anyhow::Result<(Postgres, String)> {
    let postgres = Postgres::create(directory, pg_bin).await?;
    postgres.start().await?;
    let admin = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&postgres.url("postgres"))
        .await?;
    sqlx::query("CREATE DATABASE antaca").execute(&admin).await?;
    admin.close().await;
    let database_url = postgres.url("antaca");
    println!(
        "PostgreSQL of the run's own on port {} ({})",
        postgres.port,
        directory.display()
    );
    Ok((postgres, database_url))
}

/// Provisions the run's cards (`--lanes` × `--cards-per-lane`, each funded with [`FUNDS`]) and
/// reads them back from the cards file.
async fn provision(
    args: &ChaosArgs,
    how: &SwitchCommand,
    directory: &std::path::Path,
) -> anyhow::Result<Vec<crate::cards::Card>> {
    let cards_file = directory.join("cards.jsonl");
    let total_cards = args.lanes * args.cards_per_lane;
    how.provision(total_cards, FUNDS, &cards_file).await?;
    let cards = crate::cards::read(&cards_file)?;
    anyhow::ensure!(cards.len() == total_cards, "provisioned {} cards", cards.len());
    Ok(cards)
}

/// The partner API client for `switch` (its HTTPS port changes at every start), with the
/// certificates the switch wrote in `directory`.
fn partner_api(directory: &std::path::Path, switch: &Switch) -> anyhow::Result<Api> {
    Api::new(&ApiOptions {
        url: format!("https://localhost:{}", switch.https.port()),
        cert: directory.join("tls/partner-dev-partner.pem"),
        key: directory.join("tls/partner-dev-partner-key.pem"),
        ca: directory.join("tls/ca.pem"),
        admin_user: "admin".to_owned(),
        admin_password: std::env::var("ANTACA__ADMIN__BOOTSTRAP_PASSWORD")
            .unwrap_or_else(|_| "antaca-dev-admin".to_owned()),
    })
}

/// The lanes, `--cards-per-lane` cards each, every card modelled with its full funds.
fn lanes(args: &ChaosArgs, seed: u64, cards: &[crate::cards::Card], target: &Arc<Target>) -> anyhow::Result<Vec<Lane>> {
    cards
        .chunks(args.cards_per_lane)
        .enumerate()
        .map(|(index, chunk)| {
            let models = chunk.iter().map(card_model).collect::<anyhow::Result<Vec<_>>>()?;
            Ok(Lane::new(index, seed, models, target.clone()))
        })
        .collect()
}

/// The model of a freshly provisioned card: [`FUNDS`] on its ledger, nothing held, unlocked.
fn card_model(card: &crate::cards::Card) -> anyhow::Result<CardModel> {
    let (customer_id, card_id, balance_id) = card.api_ids().context("the cards file lacks ids")?;
    Ok(CardModel {
        pan: card.pan.clone(),
        customer_id,
        card_id,
        balance_id,
        ledger: FUNDS,
        held: 0,
        lock: None,
        holds: Vec::new(),
    })
}

/// What a seed's run strikes, repairs and checks: its PostgreSQL instance, how to start the
/// switch, and where the lanes send.
struct Rig<'a> {
    /// The run's seed, which also draws the faults.
    seed: u64,
    directory: &'a std::path::Path,
    postgres: Postgres,
    how: SwitchCommand,
    target: Arc<Target>,
    database_url: String,
}

/// The rounds of a run: how many, how long the workload ran, and what the faults did.
struct Rounds {
    count: u32,
    workload_seconds: f64,
    faults: Findings,
}

impl Rig<'_> {
    fn api_for(&self, switch: &Switch) -> anyhow::Result<Api> {
        partner_api(self.directory, switch)
    }

    /// Rounds until `--duration` has passed: in each, every lane takes `--steps-per-round`
    /// steps while the round's fault strikes and is repaired.
    async fn rounds(&self, args: &ChaosArgs, lanes: &mut [Lane], switch: &mut Option<Switch>) -> Rounds {
        let api_for = |switch: &Switch| self.api_for(switch);
        let mut schedule = FaultSchedule::new(self.seed);
        let mut faults = Findings::default();
        let mut round = 0;
        let workload_started = Instant::now();
        while workload_started.elapsed() < args.duration {
            round += 1;
            let fault = schedule.next_fault();
            let steps = args.steps_per_round;
            let round_started = Instant::now();
            let work = futures_util::future::join_all(lanes.iter_mut().map(|lane| lane.run(steps)));
            let strike = apply(fault, switch, &self.postgres, &self.how, &self.target, &api_for);
            let (_, struck) = tokio::join!(work, strike);
            match struck {
                Ok(()) => faults.count(fault_name(&fault)),
                Err(error) => faults.violation(format!("round {round}: {fault:?}: {error:#}")),
            }
            let violations: usize = lanes.iter().map(|lane| lane.findings.violations.len()).sum();
            println!(
                "round {round:>3}: {fault:?}, {:.1} s, violations so far {violations}",
                round_started.elapsed().as_secs_f64()
            );
        }
        Rounds {
            count: round,
            workload_seconds: workload_started.elapsed().as_secs_f64(),
            faults,
        }
    }

    /// The end of the run: every lane unlocks its cards and checks each balance over the
    /// network, the database agrees with the model and money is conserved, and a last SIGKILL
    /// and restart loses nothing either (the start-up load checks its invariants). Returns all
    /// the findings, the lanes' and the faults' merged.
    async fn end(self, mut lanes: Vec<Lane>, mut switch: Option<Switch>, faults: Findings) -> anyhow::Result<Findings> {
        futures_util::future::join_all(lanes.iter_mut().map(Lane::finish)).await;
        let mut findings = Findings::default();
        {
            let models: Vec<&CardModel> = lanes.iter().flat_map(|lane| lane.cards.iter()).collect();
            auditor::check_database(&self.database_url, &models, &mut findings).await?;
        }
        if let Some(killed) = switch.take() {
            killed.kill().await?;
        }
        let switch = Switch::start(&self.how).await?;
        point_at(&self.target, &switch, &|switch: &Switch| self.api_for(switch))?;
        for lane in &mut lanes {
            for card in 0..lane.cards.len() {
                lane.final_inquiry(card).await;
            }
        }
        switch.stop().await?;
        drop(self.postgres);

        for lane in lanes {
            findings.merge(lane.findings);
        }
        findings.merge(faults);
        Ok(findings)
    }
}

/// Prints the run's counts and its verdict (with the first violations); true if it passed.
fn report(seed: u64, rounds: u32, workload_seconds: f64, findings: &Findings, started: Instant) -> bool {
    let requests: u64 = findings
        .counts
        .iter()
        .filter(|(key, _)| key.contains(" -> "))
        .map(|(_, count)| count)
        .sum();
    println!("\nchaos seed {seed}: {rounds} rounds, {workload_seconds:.0} s of workload, {requests} operations");
    for (what, count) in &findings.counts {
        println!("  {count:>8}  {what}");
    }
    println!("total {:.0} s", started.elapsed().as_secs_f64());
    if findings.violations.is_empty() {
        println!("PASSED: no violation");
        true
    } else {
        println!("FAILED: {} violations; the first:", findings.violations.len());
        for violation in findings.violations.iter().take(20) {
            println!("  {violation}");
        }
        false
    }
}

fn fault_name(fault: &Fault) -> &'static str {
    match fault {
        Fault::KillSwitch { .. } => "fault: switch SIGKILLed and restarted",
        Fault::StopPostgres { .. } => "fault: PostgreSQL stopped and started",
        Fault::SlowCommits { .. } => "fault: PostgreSQL frozen (slow commits)",
        Fault::Calm => "fault: none (calm round)",
    }
}

/// Strikes the round's fault after its delay, and repairs it.
async fn apply(
    fault: Fault,
    switch: &mut Option<Switch>,
    postgres: &Postgres,
    how: &SwitchCommand,
    target: &Target,
    api_for: &impl Fn(&Switch) -> anyhow::Result<Api>,
) -> anyhow::Result<()> {
    match fault {
        Fault::Calm => {}
        Fault::KillSwitch { after_ms } => {
            tokio::time::sleep(Duration::from_millis(after_ms)).await;
            if let Some(killed) = switch.take() {
                killed.kill().await?;
            }
            let started = Switch::start(how).await?;
            point_at(target, &started, api_for)?;
            *switch = Some(started);
        }
        Fault::StopPostgres { after_ms, down_ms } => {
            tokio::time::sleep(Duration::from_millis(after_ms)).await;
            postgres.stop().await?;
            tokio::time::sleep(Duration::from_millis(down_ms)).await;
            postgres.start().await?;
        }
        Fault::SlowCommits { after_ms, pause_ms } => {
            tokio::time::sleep(Duration::from_millis(after_ms)).await;
            postgres.signal_all("STOP").await?;
            tokio::time::sleep(Duration::from_millis(pause_ms)).await;
            postgres.signal_all("CONT").await?;
        }
    }
    Ok(())
}

/// Points the lanes at a (re)started switch: its ports change at every start.
fn point_at(target: &Target, switch: &Switch, api_for: &impl Fn(&Switch) -> anyhow::Result<Api>) -> anyhow::Result<()> {
    *target.iso.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = switch.iso;
    *target.api.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = api_for(switch)?;
    Ok(())
}
