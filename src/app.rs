//! Building and running the application: config → store → state → listeners.
//!
//! `Application::build` loads the state and binds every listener (port 0
//! gives a real port, readable before `run`), so tests start the whole server
//! in-process. The network is served only after the state is loaded.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::FutureExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::authorization::Switch;
use crate::authorization::operations::Settings;
use crate::config::Config;
use crate::crypto::CardKeys;
use crate::crypto::pin_block::ZonePinKey;
use crate::instance_lock::InstanceLock;
use crate::iso8583::Spec;
use crate::network::{NetworkServer, ServerLimits};
use crate::state::journal::{BatchId, CommitTarget, Written};
use crate::state::{Change, Clock, JournalError, JournalLimits, LoadedState, State, SystemClock};
use crate::store::{BatchMarker, Store, StoreError};
use crate::vital::VitalTasks;

/// The store as the journal's commit target: an unreachable database is
/// `Unavailable` (9109 now, fine again once it is back), a COMMIT left unanswered `InDoubt`
/// (resolved by looking for the batch's marker), anything else `Failed`. Every batch is fenced with
/// the instance's epoch; once another instance has taken the database over, batches fail as
/// `Unavailable` and `superseded` is cancelled, which stops the application.
#[derive(Debug)]
struct StoreTarget {
    store: Store,
    epoch: Option<i64>,
    superseded: CancellationToken,
}

impl CommitTarget for StoreTarget {
    fn commit<'a>(
        &'a self,
        batch: BatchId,
        changes: &'a [Change],
        written: Written,
    ) -> Pin<Box<dyn Future<Output = Result<(), JournalError>> + Send + 'a>> {
        Box::pin(async move {
            let marker = BatchMarker {
                batch,
                epoch: self.epoch,
            };
            self.store
                .commit_signalling(changes, Some(marker), written)
                .await
                .map_err(|error| {
                    tracing::error!(%error, "commit failed");
                    match error {
                        StoreError::InDoubt(_) => JournalError::InDoubt,
                        StoreError::Superseded { .. } => {
                            self.superseded.cancel();
                            JournalError::Unavailable
                        }
                        error if error.is_unavailable() => JournalError::Unavailable,
                        _ => JournalError::Failed,
                    }
                })
        })
    }

    fn resolve(&self, batch: BatchId) -> Pin<Box<dyn Future<Output = bool> + Send + '_>> {
        Box::pin(async move {
            // Asked until the database answers: a wrong guess either way would answer the network
            // against what is stored. Meanwhile the batch's funds stay reserved.
            let mut pause = Duration::from_millis(50);
            loop {
                match self.store.batch_stored(batch).await {
                    Ok(stored) => return stored,
                    Err(error) => {
                        tracing::warn!(%error, batch, "cannot tell yet whether an in-doubt batch was stored");
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_secs(2));
                    }
                }
            }
        })
    }
}

#[derive(Debug)]
pub struct Application {
    network: NetworkServer<Switch>,
    http: TcpListener,
    /// The HTTPS listener's rustls configuration (development certificates or the configured files).
    http_tls: Arc<rustls::ServerConfig>,
    http_handshake_timeout: Duration,
    http_header_timeout: Duration,
    api: crate::http::Api,
    switch: Switch,
    store: Store,
    network_address: SocketAddr,
    http_address: SocketAddr,
    hold_expiry_interval: Duration,
    duplicate_retention: Duration,
    /// Delivers the notification outbox as webhooks.
    deliverer: crate::notifications::Deliverer,
    periodic_fee_interval: Duration,
    /// Released when the application is dropped (or the process ends).
    _instance_lock: InstanceLock,
    /// Cancelled when another instance has taken the database over (see [`Store::take_over`]).
    superseded: CancellationToken,
    /// The journal's committer, watched while the application runs (see [`crate::vital`]).
    committer: tokio::task::JoinHandle<()>,
}

impl Application {
    /// Builds with the system clock.
    pub async fn build(config: &Config) -> anyhow::Result<Application> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Application> {
        let spec =
            Spec::load(&config.network.spec_path).context("loading the ISO 8583 spec (key `network.spec_path`)")?;
        tracing::info!(spec = %spec.name, mtis = spec.mtis().count(), "ISO 8583 spec loaded");
        let zone_pin_key =
            ZonePinKey::new(config.authorization.zone_pin_key.bytes()).context("key `authorization.zone_pin_key`")?;
        let OpenedState {
            state,
            store,
            instance_lock,
            superseded,
            committer,
        } = open_state(config, clock).await?;

        let settings = Settings {
            zone_pin_key,
            pin_tries_max: config.authorization.pin_tries_max,
            hold_ttl_ms: (config.authorization.hold_ttl_s * 1000) as i64,
        };
        crate::admins::bootstrap(&state, &config.admin)
            .await
            .context("creating the first administrator (keys `admin.bootstrap_*`)")?;
        let http_tls = crate::http::tls::server_config(&config.tls, &config.partners())
            .context("the HTTPS listener's certificates (section `tls`)")?;
        let api = api(config, &state)?;
        let deliverer = crate::notifications::Deliverer::new(state.clone(), &config.notifications, &config.webhooks)
            .context("the webhook client (section `notifications`)")?;
        let switch = Switch::new(Arc::new(spec), state, settings);
        let limits = server_limits(config);
        let network_listener = TcpListener::bind(config.network.listen)
            .await
            .with_context(|| format!("binding network.listen {}", config.network.listen))?;
        let http = TcpListener::bind(config.http.listen)
            .await
            .with_context(|| format!("binding http.listen {}", config.http.listen))?;
        let network_address = network_listener.local_addr()?;
        let http_address = http.local_addr()?;
        Ok(Application {
            network: NetworkServer::new(network_listener, Arc::new(switch.clone()), limits),
            http,
            http_tls,
            http_handshake_timeout: Duration::from_secs(config.http.handshake_timeout_s),
            http_header_timeout: Duration::from_secs(config.http.header_timeout_s),
            api,
            switch,
            store,
            network_address,
            http_address,
            hold_expiry_interval: Duration::from_secs(config.authorization.hold_expiry_interval_s),
            periodic_fee_interval: Duration::from_secs(config.fees.periodic_interval_s.max(1)),
            duplicate_retention: Duration::from_secs(config.authorization.duplicate_retention_s),
            deliverer,
            _instance_lock: instance_lock,
            superseded,
            committer,
        })
    }

    /// The ISO 8583 listener's bound address.
    pub fn network_address(&self) -> SocketAddr {
        self.network_address
    }

    /// The HTTPS listener's bound address.
    pub fn http_address(&self) -> SocketAddr {
        self.http_address
    }

    /// The shared state (tests and tools act on it directly).
    pub fn state(&self) -> &State {
        self.switch.state()
    }

    pub fn switch(&self) -> &Switch {
        &self.switch
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Serves until `shutdown` is cancelled, then finishes what is in flight:
    /// every request still being decided gets its durable answer first.
    ///
    /// If another instance takes the database over meanwhile (this one lost its instance lock, e.g.
    /// across a database restart), nothing more can be saved here: it stops the same way and
    /// returns an error. If a task the switch cannot serve without panics or fails (the committer,
    /// a listener, the housekeeping), it returns [`VitalTaskFailed`](crate::vital::VitalTaskFailed)
    /// at once, without waiting for anything: the caller is to end the process (see [`crate::vital`]).
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let superseded = self.superseded.clone();
        tracing::info!(address = %self.network_address, "ISO 8583 listener bound");
        tracing::info!(address = %self.http_address, "HTTPS listener bound");
        resume_after_restart(&self.api);
        let mut vital = VitalTasks::default();
        vital.watch("journal committer", self.committer);
        vital.spawn("take-over watch", watch_take_over(superseded.clone(), shutdown.clone()));
        let housekeeping = Housekeeping {
            state: self.api.state.clone(),
            store: self.store.clone(),
            switch: self.switch.clone(),
            hold_expiry_interval: self.hold_expiry_interval,
            duplicate_retention: self.duplicate_retention,
            periodic_fee_interval: self.periodic_fee_interval,
            session_retention_ms: self.api.settings.session_retention_ms,
        };
        housekeeping.spawn(&mut vital, &shutdown);
        vital.spawn("webhook delivery", self.deliverer.run(shutdown.clone()).map(Ok));
        let timeouts = crate::http::Timeouts {
            handshake: self.http_handshake_timeout,
            headers: self.http_header_timeout,
        };
        let drain = self.api.settings.request_timeout;
        let router = crate::http::router(self.api);
        let https = crate::http::serve(self.http, self.http_tls, timeouts, router, shutdown.clone(), drain);
        vital.spawn("HTTPS listener", async move { https.await.context("HTTPS server") });
        vital.spawn("ISO 8583 listener", self.network.run(shutdown.clone()).map(Ok));
        vital.supervise(&shutdown).await?;
        if superseded.is_cancelled() {
            anyhow::bail!("stopped: another instance has taken the database over");
        }
        tracing::info!("stopped; every answered request is durable");
        Ok(())
    }
}

/// Work a restart left half done: physical card orders placed again, asynchronous card requests
/// resumed.
fn resume_after_restart(api: &crate::http::Api) {
    let resumed = crate::cards::personalization::resume_orders(api.personalization.as_ref(), &api.state);
    if resumed > 0 {
        tracing::info!(cards = resumed, "physical card orders placed again after a restart");
    }
    let pending = crate::http::cards::issue::resume_pending(api);
    if pending > 0 {
        tracing::info!(requests = pending, "asynchronous card requests resumed after a restart");
    }
}

/// Stops the application (cancels `shutdown`) once another instance has taken the database over.
async fn watch_take_over(superseded: CancellationToken, shutdown: CancellationToken) -> anyhow::Result<()> {
    tokio::select! {
        () = superseded.cancelled() => {
            tracing::error!("another instance has taken the database over; stopping");
            shutdown.cancel();
        }
        () = shutdown.cancelled() => {}
    }
    Ok(())
}

/// The housekeeping that bounds memory and charges what is due, each a vital task.
struct Housekeeping {
    state: State,
    store: Store,
    switch: Switch,
    hold_expiry_interval: Duration,
    duplicate_retention: Duration,
    periodic_fee_interval: Duration,
    session_retention_ms: i64,
}

impl Housekeeping {
    fn spawn(self, vital: &mut VitalTasks, shutdown: &CancellationToken) {
        // Expired sessions are swept on the housekeeping rhythm of the holds.
        let sessions = crate::sessions::run_housekeeping(
            self.state.clone(),
            self.session_retention_ms,
            self.hold_expiry_interval,
            shutdown.clone(),
        );
        vital.spawn("session housekeeping", sessions.map(Ok));
        let expiry = self.switch.run_hold_expiry(self.hold_expiry_interval, shutdown.clone());
        vital.spawn("hold expiry", expiry.map(Ok));
        let retention = crate::state::retention::run_retention(
            self.state.clone(),
            Arc::new(self.store.clone()),
            self.hold_expiry_interval,
            self.duplicate_retention,
            shutdown.clone(),
        );
        vital.spawn("answer and hold retention", retention.map(Ok));
        let fees = crate::fees::periodic::run_scheduler(
            self.state,
            Arc::new(self.store),
            self.periodic_fee_interval,
            shutdown.clone(),
        );
        vital.spawn("periodic fee scheduler", fees.map(Ok));
    }
}

/// The lifecycle API's shared parts.
fn api(config: &Config, state: &State) -> anyhow::Result<crate::http::Api> {
    Ok(crate::http::Api {
        state: state.clone(),
        settings: Arc::new(crate::http::ApiSettings::from_config(config)),
        kyc_verifier: Arc::new(crate::customers::kyc::BuiltInVerifier {
            minimum_age_years: config.kyc.minimum_age_years,
        }),
        metrics: crate::telemetry::metrics_handle(),
        personalization: Arc::new(crate::cards::personalization::SimulatedCenter {
            delay: std::time::Duration::from_secs(config.cards.personalization_delay_s),
        }),
        platform_keys: Arc::new(
            crate::http::encryption::load_platform_keys(&config.jwe).context("the JWE key pair (section `jwe`)")?,
        ),
    })
}

/// The network server's bounds, from `[network]`.
fn server_limits(config: &Config) -> ServerLimits {
    ServerLimits {
        connections_max: config.network.connections_max as usize,
        in_flight_per_connection_max: config.network.in_flight_per_connection_max as usize,
        idle_timeout: Duration::from_secs(config.network.idle_timeout_s),
        message_bytes_max: config.network.message_bytes_max as usize,
    }
}

/// The loaded state with the store under it and the lock that makes this
/// process its only user.
#[derive(Debug)]
pub struct OpenedState {
    pub state: State,
    pub store: Store,
    pub instance_lock: InstanceLock,
    /// Cancelled when another instance has taken the database over: this one must stop serving.
    pub superseded: CancellationToken,
    /// The journal's committer task; it ends when the state is dropped.
    pub committer: tokio::task::JoinHandle<()>,
}

/// Takes the database's instance lock, opens the store (migrating it), loads
/// everything into memory and sets up the configured programs.
pub async fn open_state(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<OpenedState> {
    if let Some(directory) = config.sqlite_directory() {
        std::fs::create_dir_all(&directory)
            .with_context(|| format!("creating the data directory {}", directory.display()))?;
    }
    let retired = config.crypto.retired()?;
    let retired: Vec<(u8, &[u8])> = retired.iter().map(|(id, key)| (*id, key.as_slice())).collect();
    let keys = CardKeys::with_rotation(
        config.crypto.data_key_id,
        config.crypto.data_key.bytes(),
        &retired,
        config.crypto.lookup_key.bytes(),
    )
    .context("keys `crypto.data_key`, `crypto.retired_data_keys` or `crypto.lookup_key`")?;
    let instance_lock = InstanceLock::acquire(&config.database.url)
        .await
        .context("taking the database's instance lock (key `database.url`)")?;
    let store = Store::connect(&config.database.url, config.database.connections_max)
        .await
        .context("opening the database (key `database.url`)")?;
    // After the lock and before the load: a killed predecessor's last batches may still be
    // committing in its server sessions; taking over waits for them and fences off the rest.
    let epoch = store
        .take_over()
        .await
        .context("taking the database over from an earlier instance")?;
    let superseded = CancellationToken::new();
    let target = StoreTarget {
        store: store.clone(),
        epoch,
        superseded: superseded.clone(),
    };
    let (state, committer) = load_state(config, &store, target, keys, clock).await?;
    Ok(OpenedState {
        state,
        store,
        instance_lock,
        superseded,
        committer,
    })
}

/// Loads the store into memory, then makes sure every configured program has
/// its partner, its funding balance and the system accounts it posts to. Returns the state and
/// its journal's committer task.
async fn load_state(
    config: &Config,
    store: &Store,
    target: StoreTarget,
    keys: CardKeys,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<(State, tokio::task::JoinHandle<()>)> {
    let started = Instant::now();
    let retention_ms = (config.authorization.duplicate_retention_s * 1000) as i64;
    let snapshot = store
        .load(clock.now_ms() - retention_ms)
        .await
        .context("loading the state")?;
    let external_loads = store
        .external_loads()
        .await
        .context("loading the external load totals")?;
    let loaded = LoadedState {
        partners: snapshot.partners,
        programs: snapshot.programs,
        customers: snapshot.customers,
        corporations: snapshot.corporations,
        balances: snapshot.balances,
        cards: snapshot.cards,
        holds: snapshot.holds,
        answers: snapshot.answers,
        external_loads,
        max_ids: [
            snapshot.max_ids.balance,
            snapshot.max_ids.card,
            snapshot.max_ids.hold,
            snapshot.max_ids.customer,
            snapshot.max_ids.corporation,
            snapshot.max_ids.transfer,
        ],
        lifecycle: snapshot.lifecycle,
        fees: snapshot.fees,
    };
    let limits = JournalLimits {
        batch_max: config.journal.batch_max as usize,
        batch_wait: Duration::from_micros(config.journal.batch_wait_us),
        queue_max: config.journal.queue_max as usize,
        commits_in_flight_max: if store.commits_concurrently() {
            config.journal.commits_in_flight_max as usize
        } else {
            1
        },
    };
    let (state, committer) = State::open(loaded, Arc::new(target), limits, keys, clock);
    let (cards, balances, holds) = state.counts();
    tracing::info!(
        cards,
        balances,
        holds,
        load_ms = started.elapsed().as_millis() as u64,
        "state loaded"
    );
    if let Err(problem) = state.check_invariants() {
        anyhow::bail!("the stored state breaks an invariant: {problem}");
    }
    crate::balances::programs::set_up_programs(&state, &config.programs)
        .await
        .context("setting up the configured programs")?;
    Ok((state, committer))
}
