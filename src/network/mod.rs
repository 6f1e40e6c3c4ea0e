//! The network server: TCP connections from the payment network, 2-byte
//! length framing, pipelining. It knows nothing of cards or balances: every
//! frame goes to a [`FrameHandler`] and its answer goes back.
//!
//! - [`server`]: accept loop, connection cap, graceful shutdown;
//! - [`connection`]: one connection: read frames, run up to N handlers at once,
//!   write answers as they finish (in any order).

pub mod connection;
pub mod server;

pub use server::{NetworkServer, ServerLimits};

use std::future::Future;

use bytes::Bytes;

/// What to do after a frame was handled.
#[derive(Debug)]
pub enum Reply {
    /// Send this message (without the length header).
    Send(Bytes),
    /// Send nothing.
    Nothing,
    /// The frame could not be read at all: close this connection.
    Close,
}

/// Handles one received frame (the message bytes without the length header).
pub trait FrameHandler: Send + Sync + 'static {
    fn handle(&self, frame: Bytes) -> impl Future<Output = Reply> + Send + 'static;
}
