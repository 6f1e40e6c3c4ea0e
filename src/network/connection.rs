//! One network connection: frames in, handlers running concurrently, answers
//! out as each finishes.
//!
//! Handlers run as futures inside this connection's task (no task per
//! request), at most `in_flight_per_connection_max` at a time; at the cap the
//! connection stops reading, so TCP back-pressure slows the peer instead of an
//! unbounded queue growing here.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::codec::{Framed, LengthDelimitedCodec};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::server::ServerLimits;
use super::{FrameHandler, Reply};

#[derive(Debug)]
pub struct Connection<H> {
    framed: Framed<TcpStream, LengthDelimitedCodec>,
    peer: SocketAddr,
    handler: Arc<H>,
    limits: ServerLimits,
}

/// The contract's framing: a 2-byte big-endian length that counts the bytes after it.
pub fn frame_codec(message_bytes_max: usize) -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .length_field_length(2)
        .max_frame_length(message_bytes_max)
        .new_codec()
}

impl<H: FrameHandler> Connection<H> {
    pub fn new(socket: TcpStream, peer: SocketAddr, handler: Arc<H>, limits: ServerLimits) -> Self {
        let framed = Framed::new(socket, frame_codec(limits.message_bytes_max));
        Self {
            framed,
            peer,
            handler,
            limits,
        }
    }

    /// Serves the connection until the peer closes it, it idles out, a frame
    /// cannot be read, or shutdown; in-flight requests are answered first.
    ///
    /// The connection's span covers the task through `instrument`, entered and exited around each
    /// poll. A `span.enter()` guard held across `.await` would leave the span entered on whichever
    /// worker thread the task last paused on: other tasks run there would log under it, and once
    /// the connection closed on another worker, a span created there while it was closing panicked
    /// the subscriber (in the committer, which then stopped: issue 23).
    pub async fn run(self, shutdown: CancellationToken) {
        let span = tracing::info_span!("connection", peer = %self.peer);
        self.serve(shutdown).instrument(span).await;
    }

    async fn serve(mut self, shutdown: CancellationToken) {
        tracing::debug!("connected");
        let mut in_flight = FuturesUnordered::new();
        let mut reading = true;
        let mut deadline = Instant::now() + self.limits.idle_timeout;
        let reason = 'serve: loop {
            let may_read = reading && in_flight.len() < self.limits.in_flight_per_connection_max;
            tokio::select! {
                biased;
                Some(reply) = in_flight.next(), if !in_flight.is_empty() => {
                    metrics::gauge!("antaca_network_in_flight").decrement(1.0);
                    match self.send_ready(reply, &mut in_flight).await {
                        Ok(false) => {}
                        Ok(true) => break "unreadable message".to_owned(),
                        Err(error) => break format!("write failed: {error}"),
                    }
                }
                frame = self.framed.next(), if may_read => match frame {
                    Some(Ok(frame)) => {
                        deadline = Instant::now() + self.limits.idle_timeout;
                        metrics::gauge!("antaca_network_in_flight").increment(1.0);
                        in_flight.push(self.handler.handle(Bytes::from(frame)));
                        // Take every frame the last read already brought, so that
                        // their answers are written together (one syscall for many).
                        while in_flight.len() < self.limits.in_flight_per_connection_max {
                            match self.framed.next().now_or_never() {
                                Some(Some(Ok(frame))) => {
                                    metrics::gauge!("antaca_network_in_flight").increment(1.0);
                                    in_flight.push(self.handler.handle(Bytes::from(frame)));
                                }
                                Some(Some(Err(error))) => break 'serve format!("framing error: {error}"),
                                Some(None) => { reading = false; break; }
                                None => break,
                            }
                        }
                    }
                    Some(Err(error)) => break format!("framing error: {error}"),
                    None => { reading = false; if in_flight.is_empty() { break "closed by peer".to_owned(); } }
                },
                () = tokio::time::sleep_until(deadline), if in_flight.is_empty() => break "idle timeout".to_owned(),
                () = shutdown.cancelled(), if reading => { reading = false; }
            }
            if !reading && in_flight.is_empty() {
                break "shutdown".to_owned();
            }
        };
        // Whatever is still in flight when the connection ends is finished
        // (its changes are made durable by the journal) but cannot be answered.
        let abandoned = in_flight.len();
        while in_flight.next().await.is_some() {
            metrics::gauge!("antaca_network_in_flight").decrement(1.0);
        }
        let _ = SinkExt::<Bytes>::flush(&mut self.framed).await;
        tracing::debug!(reason, abandoned, "disconnected");
    }

    /// Writes `first` and every other answer already finished, then flushes
    /// once: a burst of answers goes out in few writes, and none waits for a
    /// slow one. Returns `Close` if a finished handler asked for it.
    async fn send_ready<F>(&mut self, first: Reply, in_flight: &mut FuturesUnordered<F>) -> std::io::Result<bool>
    where
        F: std::future::Future<Output = Reply>,
    {
        let mut close = false;
        let mut next = Some(first);
        while let Some(reply) = next.take() {
            match reply {
                Reply::Send(message) => self.framed.feed(message).await?,
                Reply::Nothing => {}
                Reply::Close => close = true,
            }
            if let Some(Some(reply)) = in_flight.next().now_or_never() {
                metrics::gauge!("antaca_network_in_flight").decrement(1.0);
                next = Some(reply);
            }
        }
        SinkExt::<Bytes>::flush(&mut self.framed).await?;
        Ok(close)
    }
}
