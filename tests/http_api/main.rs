//! The lifecycle HTTP API end to end, through real TLS: client certificates
//! (none, the partner's, another partner's, an unknown partner's, a foreign
//! CA's), the tenant matrix over every partner and admin route, sessions
//! expiring on the injected clock, the role matrix over every admin route,
//! KYC and KYB flows, errors, restarts, and the OpenAPI document against the
//! router — on SQLite and on PostgreSQL.

#[path = "../common/mod.rs"]
mod common;
#[path = "../support/mod.rs"]
mod support;

mod harness;
mod jwe_client;

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

/// Runs `$name(&Api)` on a fresh SQLite database and, when reachable, a fresh PostgreSQL one.
macro_rules! on_every_store {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_every_store() {
                let sqlite = Some(crate::common::TestStore::sqlite().await);
                let postgres = crate::common::TestStore::postgres().await;
                for database in [sqlite, postgres].into_iter().flatten() {
                    let api = crate::harness::Api::start(&database.url).await;
                    super::$name(&api).await;
                    api.stop().await;
                }
            }
        }
    };
}
pub(crate) use on_every_store;
