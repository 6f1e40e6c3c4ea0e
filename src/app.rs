//! Building and running the application: config → spec → listeners → serve.
//!
//! `Application::build` binds every listener (port 0 gives a real port,
//! readable before `run`), so tests start the whole server in-process.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::authorization::Switch;
use crate::config::Config;
use crate::iso8583::Spec;
use crate::network::{NetworkServer, ServerLimits};

#[derive(Debug)]
pub struct Application {
    network: NetworkServer<Switch>,
    http: TcpListener,
    network_address: SocketAddr,
    http_address: SocketAddr,
}

impl Application {
    pub async fn build(config: &Config) -> anyhow::Result<Application> {
        let spec = Spec::load(&config.network.spec_path)
            .with_context(|| format!("loading the ISO 8583 spec (key `network.spec_path`)"))?;
        tracing::info!(spec = %spec.name, mtis = spec.mtis().count(), "ISO 8583 spec loaded");
        if let Some(directory) = config.sqlite_directory() {
            std::fs::create_dir_all(&directory)
                .with_context(|| format!("creating the data directory {}", directory.display()))?;
        }
        let switch = Arc::new(Switch::new(Arc::new(spec)));
        let limits = ServerLimits {
            connections_max: config.network.connections_max as usize,
            in_flight_per_connection_max: config.network.in_flight_per_connection_max as usize,
            idle_timeout: Duration::from_secs(config.network.idle_timeout_s),
            message_bytes_max: config.network.message_bytes_max as usize,
        };
        let network_listener = TcpListener::bind(config.network.listen)
            .await
            .with_context(|| format!("binding network.listen {}", config.network.listen))?;
        let http = TcpListener::bind(config.http.listen)
            .await
            .with_context(|| format!("binding http.listen {}", config.http.listen))?;
        let network_address = network_listener.local_addr()?;
        let http_address = http.local_addr()?;
        Ok(Application {
            network: NetworkServer::new(network_listener, switch, limits),
            http,
            network_address,
            http_address,
        })
    }

    /// The ISO 8583 listener's bound address.
    pub fn network_address(&self) -> SocketAddr {
        self.network_address
    }

    /// The HTTP listener's bound address.
    pub fn http_address(&self) -> SocketAddr {
        self.http_address
    }

    /// Serves until `shutdown` is cancelled, then drains in-flight work.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        tracing::info!(address = %self.network_address, "ISO 8583 listener bound");
        tracing::info!(address = %self.http_address, "HTTP listener bound");
        let router = crate::http::router(crate::telemetry::metrics_handle());
        let http_shutdown = shutdown.clone();
        let http = tokio::spawn(async move {
            axum::serve(self.http, router)
                .with_graceful_shutdown(async move { http_shutdown.cancelled().await })
                .await
        });
        self.network.run(shutdown).await;
        http.await.context("HTTP task")?.context("HTTP server")?;
        tracing::info!("stopped");
        Ok(())
    }
}
