//! The lifecycle HTTP API end to end, through real TLS: client certificates
//! (none, the partner's, another partner's, an unknown partner's, a foreign
//! CA's), the tenant matrix over every partner and admin route, sessions
//! expiring on the injected clock, the role matrix over every admin route,
//! KYC and KYB flows, errors, restarts, and the OpenAPI document against the
//! router — on SQLite and on PostgreSQL.

#[path = "../support/mod.rs"]
mod support;

mod card_secrets;
mod channels;
mod corporate;
mod fees;
mod flows;
mod matrices;
mod openapi;
mod outbox;
mod robustness;
mod sessions;
mod wallet;
