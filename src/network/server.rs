//! Accept loop: a semaphore caps connections, a cancellation token stops
//! accepting, and shutdown waits for every connection to finish what it has in
//! flight (mini-redis `server.rs` is the model).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::FrameHandler;
use super::connection::Connection;

/// The bounds a server enforces, from `[network]` in the config.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    pub connections_max: usize,
    pub in_flight_per_connection_max: usize,
    pub idle_timeout: Duration,
    pub message_bytes_max: usize,
}

#[derive(Debug)]
pub struct NetworkServer<H> {
    listener: TcpListener,
    handler: Arc<H>,
    limits: ServerLimits,
}

impl<H: FrameHandler> NetworkServer<H> {
    pub fn new(listener: TcpListener, handler: Arc<H>, limits: ServerLimits) -> Self {
        Self {
            listener,
            handler,
            limits,
        }
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` is cancelled, then waits for every connection
    /// to answer what it has in flight.
    pub async fn run(self, shutdown: CancellationToken) {
        let connections = Arc::new(Semaphore::new(self.limits.connections_max));
        let tracker = TaskTracker::new();
        let mut backoff = Duration::from_millis(1);
        loop {
            let permit = tokio::select! {
                permit = connections.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                () = shutdown.cancelled() => break,
            };
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                () = shutdown.cancelled() => break,
            };
            let (socket, peer) = match accepted {
                Ok(accepted) => {
                    backoff = Duration::from_millis(1);
                    accepted
                }
                Err(error) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(%error, "accept failed; backing off");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            };
            let _ = socket.set_nodelay(true);
            metrics::gauge!("antaca_network_connections").increment(1.0);
            let connection = Connection::new(socket, peer, self.handler.clone(), self.limits);
            let shutdown = shutdown.clone();
            tracker.spawn(async move {
                connection.run(shutdown).await;
                metrics::gauge!("antaca_network_connections").decrement(1.0);
                drop(permit);
            });
        }
        tracker.close();
        tracker.wait().await;
    }
}
