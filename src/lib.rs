//! Antaca: an open card-issuing platform. The payment network sends ISO 8583
//! authorizations over TCP to the switch; partners manage users, balances and
//! cards over HTTP; both share one in-memory, durably journaled state.
//!
//! # Layout
//! - [`app`]: builds the application from its config and runs it (listeners, shutdown).
//! - [`config`]: `config.toml` + `ANTACA__SECTION__KEY` environment overrides.
//! - [`iso8583`]: the ISO 8583 codec (spec file → field tables, zero-copy decode, encode). No I/O.
//! - [`network`]: the TCP server: framing, connection cap, pipelining. Knows nothing of money.
//! - [`authorization`]: the switch: action codes, typed requests, pure decisions, operations on the
//!   state (hold, post, complete, reverse, stop-list, expire), the frame handler.
//! - [`balances`]: opening balances, external loads, transfers between balances; the configured
//!   programs' set-up at start-up.
//! - [`cards`]: issuing cards (PAN, expiry, CVC2), lock/unlock/remove, physical orders with a
//!   personalization-center interface, link/activate, PINs.
//! - [`fees`]: charging fees through the state: event fees and the periodic-fee scheduler (the
//!   schedules, the rounding rule and FX rates are [`domain::fees`]); charged from the switch and the API.
//! - [`domain`]: the records every layer shares (cards and lock reasons, balances and transfers, holds,
//!   customers, corporations, access, fees, ISO 4217 money); a leaf that depends on nothing else here.
//! - [`crypto`]: card data at rest (AES-256-GCM, key ids for rotation), look-up hashes (HMAC), PIN blocks
//!   (3DES), JWE compact serialization (RSA-OAEP(-256) on aws-lc-rs + A256GCM) and the platform's key ring.
//! - [`provision`]: offline provisioning of funded cards for load tests and demos (`antaca provision`).
//! - [`state`]: the shared in-memory state (cards, balances, holds, answers) and its group-committing journal,
//!   split by concern (claims, retention and its background task, start-up load, lifecycle and fee
//!   memory, the low-balance watch, invariants, `apply`).
//! - [`store`]: the database under the state (PostgreSQL or SQLite): migrations, start-up load, batch commit,
//!   and the serving-instance fence (an epoch every batch checks, so a replaced switch saves nothing).
//! - [`instance_lock`]: one switch per database (advisory lock / file lock), held for the process's life.
//! - [`http`]: the HTTPS listener, by resource, each with its own routes: `http/cards/` (issue,
//!   status: lock/unlock/remove, physical, secrets over JWE), `http/balances/` (user, corporate,
//!   partner), `http/customers/` (users, KYC), `http/corporations.rs` (KYB), `http/sessions.rs`
//!   (device pairing, app and admin sessions), `http/admins.rs`, `http/notifications.rs`,
//!   `http/fees.rs`, `http/public.rs` (health, metrics, OpenAPI). The channels (`/secure` and
//!   `/lifecycle/v1` by client certificate, `/customers/me` by session, `/admin` by role) are
//!   extractors (`http/auth.rs`); also TLS and development certificates, the JWE channel
//!   (`http/encryption.rs`) and every domain error's API answer (`http/error.rs`).
//! - [`customers`]: users: registration, the partner's KYC flag, platform KYC (verifier, review queue).
//! - [`corporations`]: corporations and KYB decisions, each transition recorded with who and when.
//! - [`sessions`]: session tokens (hashed at rest, expiring, renewable) and device pairing.
//! - [`admins`]: administration panel users, roles and the permission table, Argon2id passwords.
//! - [`notifications`]: the partner notification outbox (low-balance crossings, recorded by the group
//!   committer) delivered as HMAC-signed webhooks with bounded exponential backoff, across restarts.
//! - [`telemetry`]: logs and metrics set-up.
//! - [`vital`]: the tasks the switch cannot serve without; a panic or failure of one ends the process.
//!
//! The layering (`tests/layers.rs` checks it): no cycle between these modules; [`domain`] names
//! none of the others; below `http` only [`app`] names [`store`] (the rules reach the database
//! through traits the store implements); no file over 800 lines.
//!
//! The background tasks: the journal's committer ([`state::journal`]), hold expiry
//! ([`authorization::Switch::run_hold_expiry`]), answer and hold retention
//! ([`state::retention::run_retention`]), session housekeeping ([`sessions::run_housekeeping`]),
//! the periodic-fee scheduler ([`fees::periodic::run_scheduler`]), webhook delivery
//! ([`notifications`]), asynchronous card issuance (`http/cards/issue.rs`) and physical card
//! orders ([`cards::personalization`]); [`app`] starts them and [`vital`] watches them.
pub mod admins;
pub mod app;
pub mod authorization;
pub mod balances;
pub mod cards;
pub mod config;
pub mod corporations;
pub mod crypto;
pub mod customers;
pub mod domain;
pub mod fees;
pub mod http;
pub mod instance_lock;
pub mod iso8583;
pub mod network;
pub mod notifications;
pub mod provision;
pub mod sessions;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod vital;
