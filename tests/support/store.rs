//! A fresh, migrated database per test, on SQLite always and on PostgreSQL when one is reachable,
//! and `on_every_store!`, which runs a test body on each.
//!
//! PostgreSQL is found at `ANTACA_TEST_POSTGRES_URL` (default [`POSTGRES_URL_DEFAULT`]); each test gets
//! a database of its own (`antaca_test_<random>`), dropped when the test ends, pass or fail. When no
//! PostgreSQL answers, the PostgreSQL half of a test is skipped with a loud line on stderr, unless
//! `ANTACA_TEST_REQUIRE_POSTGRES=1` (CI), which makes it a failure.

use std::future::Future;
use std::io::Write;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use antaca::store::Store;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

pub const POSTGRES_URL_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const CONNECTIONS_MAX: u32 = 4;

/// Why PostgreSQL was unreachable, once it was: later tests skip without waiting again.
static UNREACHABLE: OnceLock<String> = OnceLock::new();

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, migrated database, deleted when this is dropped.
#[derive(Debug)]
pub struct TestStore {
    pub store: Store,
    /// Connect to the same database again with this (a restart, another process).
    pub url: String,
    pub backend: Backend,
    cleanup: Cleanup,
}

impl TestStore {
    /// A new SQLite file in a temporary directory.
    pub async fn sqlite() -> TestStore {
        let directory = tempfile::tempdir().expect("creating a temporary directory");
        let url = format!("sqlite://{}", directory.path().join("antaca.db").display());
        let store = Store::connect(&url, CONNECTIONS_MAX)
            .await
            .expect("opening a fresh SQLite store");
        TestStore {
            store,
            url,
            backend: Backend::Sqlite,
            cleanup: Cleanup::Sqlite(directory),
        }
    }

    /// A new PostgreSQL database, or `None` (after saying so on stderr) when PostgreSQL is not
    /// reachable and not required.
    pub async fn postgres() -> Option<TestStore> {
        let admin_url = std::env::var("ANTACA_TEST_POSTGRES_URL").unwrap_or_else(|_| POSTGRES_URL_DEFAULT.to_owned());
        let unreachable = UNREACHABLE.get().cloned().map(Err);
        let mut admin = match unreachable.unwrap_or(connect_admin(&admin_url).await) {
            Ok(connection) => connection,
            Err(reason) => {
                if postgres_required() {
                    panic!("ANTACA_TEST_REQUIRE_POSTGRES=1 but PostgreSQL is unreachable: {reason}");
                }
                // Straight to the stream: the test harness captures `eprintln!` of passing tests.
                let _ = writeln!(
                    std::io::stderr(),
                    "*** PostgreSQL half SKIPPED: {reason} (set ANTACA_TEST_POSTGRES_URL to a reachable server; \
                     ANTACA_TEST_REQUIRE_POSTGRES=1 makes this a failure) ***"
                );
                let _ = UNREACHABLE.set(reason);
                return None;
            }
        };
        let database = format!("antaca_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
            .execute(&mut admin)
            .await
            .expect("creating a test database");
        let _ = admin.close().await;
        let cleanup = Cleanup::Postgres {
            admin_url: admin_url.clone(),
            database: database.clone(),
        };
        let url = with_database(&admin_url, &database);
        let store = Store::connect(&url, CONNECTIONS_MAX)
            .await
            .expect("opening the test database");
        Some(TestStore {
            store,
            url,
            backend: Backend::Postgres,
            cleanup,
        })
    }

    /// A fresh SQLite store and, when reachable, a fresh PostgreSQL one.
    pub async fn every() -> Vec<TestStore> {
        let sqlite = Some(TestStore::sqlite().await);
        let postgres = TestStore::postgres().await;
        [sqlite, postgres].into_iter().flatten().collect()
    }

    /// A second connection pool to the same database; runs the migrations again.
    pub async fn reconnect(&self) -> Store {
        Store::connect(&self.url, CONNECTIONS_MAX)
            .await
            .expect("reconnecting to the test database")
    }
}

/// Runs the test body `$name` on a fresh SQLite database and, when reachable, a fresh PostgreSQL one,
/// each served by a fresh application:
///
/// - `on_every_store!(name)`: `name(&TestApp)`, then the money invariants are checked;
/// - `on_every_store!(name, with_store)`: `name(&TestApp, &TestStore)`, then the money invariants;
/// - `on_every_store!(name, over_https)`: `name(&Api)` (the application over TLS, with its clients).
macro_rules! on_every_store {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_every_store() {
                for database in $crate::support::store::TestStore::every().await {
                    let app = $crate::support::app::TestApp::start(&database.url).await;
                    super::$name(&app).await;
                    app.state.check_invariants().expect("money invariants hold");
                    app.stop().await;
                }
            }
        }
    };
    ($name:ident, with_store) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_every_store() {
                for database in $crate::support::store::TestStore::every().await {
                    let app = $crate::support::app::TestApp::start(&database.url).await;
                    super::$name(&app, &database).await;
                    app.state.check_invariants().expect("money invariants hold");
                    app.stop().await;
                }
            }
        }
    };
    ($name:ident, over_https) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_every_store() {
                for database in $crate::support::store::TestStore::every().await {
                    let api = $crate::support::http::Api::start(&database.url).await;
                    super::$name(&api).await;
                    api.stop().await;
                }
            }
        }
    };
}
pub(crate) use on_every_store;

/// Runs `test` on a fresh SQLite store, then on a fresh PostgreSQL database when one is reachable.
pub async fn each_store<F, Fut>(test: F)
where
    F: Fn(TestStore) -> Fut,
    Fut: Future<Output = ()>,
{
    test(TestStore::sqlite().await).await;
    if let Some(postgres) = TestStore::postgres().await {
        test(postgres).await;
    }
}

pub fn postgres_required() -> bool {
    std::env::var("ANTACA_TEST_REQUIRE_POSTGRES").is_ok_and(|value| value == "1")
}

async fn connect_admin(url: &str) -> Result<PgConnection, String> {
    let options =
        PgConnectOptions::from_str(url).map_err(|error| format!("invalid ANTACA_TEST_POSTGRES_URL: {error}"))?;
    match tokio::time::timeout(Duration::from_secs(5), PgConnection::connect_with(&options)).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(error)) => Err(format!("cannot connect: {error}")),
        Err(_) => Err("no answer within 5 s".to_owned()),
    }
}

/// `url` with its database name replaced.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |index| index + 3);
    let host_and_path = &base[authority_start..];
    let base = match host_and_path.find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

#[derive(Debug)]
enum Cleanup {
    #[allow(dead_code)] // reason: held only to be dropped with the store
    Sqlite(tempfile::TempDir),
    Postgres {
        admin_url: String,
        database: String,
    },
}

/// `Drop` on the whole `TestStore` (not on a field) also makes closures and async blocks capture the
/// whole value: a test that uses only `db.store` cannot drop the database early.
impl Drop for TestStore {
    /// Drops the test database (best effort), from a thread of its own since `Drop` cannot await and
    /// may run inside the test's runtime. `WITH (FORCE)` ends the pool's remaining connections. A
    /// SQLite file goes with its temporary directory.
    fn drop(&mut self) {
        let Cleanup::Postgres { admin_url, database } = &self.cleanup else {
            return;
        };
        let (admin_url, name) = (admin_url.clone(), database.clone());
        let dropping = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut admin = connect_admin(&admin_url).await.ok()?;
                let statement = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::query(sqlx::AssertSqlSafe(statement))
                    .execute(&mut admin)
                    .await
                    .ok()?;
                admin.close().await.ok()
            })
        });
        if dropping.join().ok().flatten().is_none() {
            eprintln!("could not drop the test database {database}; drop it by hand");
        }
    }
}
