//! Logs (tracing) and metrics (Prometheus text format, served by the HTTP listener).

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Installs the log subscriber once per process; `RUST_LOG` overrides `log.level`.
pub fn init_logging(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let _ = match config.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// How often recorded histogram samples are folded into their summaries (see [`metrics_handle`]).
const METRICS_UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The process-wide metrics recorder (installed on first use; tests share it), with its upkeep.
///
/// The recorder keeps every histogram sample (a decision's latency, one per request) in a buffer
/// until something folds them into the histogram's summary: a render of `/metrics`, or
/// [`PrometheusHandle::run_upkeep`]. With nobody scraping, that buffer grew by one sample per
/// request for ever (about 12 MiB a minute at 13,600 messages/s in the soak of 2026-12-04,
/// docs/history/reliability-2026-12.md), so a thread runs the upkeep every
/// [`METRICS_UPKEEP_INTERVAL`], as the crate's own `install_recorder` does (we build the recorder
/// ourselves to serve it from our HTTPS listener).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (a test harness); ours then only renders empty.
            let _ = metrics::set_global_recorder(recorder);
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(METRICS_UPKEEP_INTERVAL);
                        upkeep.run_upkeep();
                    }
                });
            if let Err(error) = spawned {
                tracing::error!(%error, "metrics upkeep thread not started; histogram samples wait for a scrape");
            }
            handle
        })
        .clone()
}
