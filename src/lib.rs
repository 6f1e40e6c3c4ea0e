//! Antaca: an open card-issuing platform. The payment network sends ISO 8583
//! authorizations over TCP to the switch; partners manage users, balances and
//! cards over HTTP; both share one in-memory, durably journaled state.
//!
//! # Layout
//! - [`app`]: builds the application from its config and runs it (listeners, shutdown).
//! - [`config`]: `config.toml` + `ANTACA__SECTION__KEY` environment overrides.
//! - [`iso8583`]: the ISO 8583 codec (spec file → field tables, zero-copy decode, encode). No I/O.
//! - [`network`]: the TCP server: framing, connection cap, pipelining. Knows nothing of money.
//! - [`authorization`]: the switch: action codes, dispatch by MTI, decisions.
//! - [`money`]: ISO 4217 currencies, exact amounts, minor units.
//! - [`http`]: the HTTP listener (health, metrics).
//! - [`telemetry`]: logs and metrics set-up.
pub mod app;
pub mod authorization;
pub mod config;
pub mod http;
pub mod iso8583;
pub mod money;
pub mod network;
pub mod telemetry;
