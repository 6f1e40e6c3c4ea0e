//! The one test harness every integration-test binary includes with `mod support;`:
//!
//! - [`store`]: a fresh, migrated database per test (SQLite always, PostgreSQL when reachable) and
//!   `on_every_store!`, which runs a test body on each;
//! - [`app`]: the application on port 0 ([`TestApp`]), spawned the same way for every test;
//! - [`iso`]: the raw ISO 8583 client and the request builders ([`Tx`]);
//! - [`http`]: the application over real TLS with its HTTPS clients ([`Api`]);
//! - [`jwe`]: a JWE client as a partner or an app would be;
//! - [`builders`]: one set of builders — a verified user, a funded balance, a card with its PAN.
//!
//! Each binary compiles the module for itself and uses a different part of it.
#![allow(dead_code, reason = "each test binary uses a different part of the support")]
#![allow(unused_imports, reason = "each test binary uses a different part of the re-exports")]
#![allow(unused_macros, reason = "binaries with no test on every store leave it unused")]

pub mod app;
pub mod builders;
pub mod http;
pub mod iso;
pub mod jwe;
pub mod store;

pub use app::*;
pub use builders::*;
pub use http::*;
pub use iso::*;
pub use jwe::JweClient;
pub(crate) use store::on_every_store;
pub use store::{Backend, TestStore, each_store};
