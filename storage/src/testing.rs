//! Test support: one throwaway embedded cluster per test process, and a fresh database for
//! every test that asks, so tests are isolated and can run in parallel.
//!
//! The cluster lives in a temporary directory under /tmp. It is never stopped explicitly:
//! when the test process exits, its guardian stops PostgreSQL and deletes the directory.

use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use tokio_postgres::NoTls;

use crate::embedded::Purpose;
use crate::{EmbeddedOptions, EmbeddedPostgres};

/// Started by the first test that needs it. Each `#[tokio::test]` has its own runtime, so
/// the cluster depends on none: its processes are plain `std::process` children.
static CLUSTER: OnceLock<Result<EmbeddedPostgres, String>> = OnceLock::new();
static NEXT_DATABASE: AtomicU64 = AtomicU64::new(1);

/// The cluster shared by every test in this process, started on first use.
///
/// # Panics
/// If the cluster cannot be started (no PostgreSQL installed, say): no test that needs a
/// database can run then, and the message says why.
pub async fn shared_cluster() -> &'static EmbeddedPostgres {
    let cluster = match CLUSTER.get() {
        Some(cluster) => cluster,
        // Blocking start-up off the runtime's threads; concurrent callers wait in get_or_init.
        None => tokio::task::spawn_blocking(|| CLUSTER.get_or_init(start))
            .await
            .unwrap_or_else(|error| panic!("starting the test PostgreSQL cluster: {error}")),
    };
    match cluster {
        Ok(cluster) => cluster,
        Err(message) => panic!("the test PostgreSQL cluster did not start: {message}"),
    }
}

/// Creates a new, empty database (`test_<n>`) in the shared cluster and returns how to
/// connect to it.
///
/// # Panics
/// If the cluster cannot be started or the database cannot be created.
pub async fn fresh_database() -> tokio_postgres::Config {
    let cluster = shared_cluster().await;
    let name = format!("test_{}", NEXT_DATABASE.fetch_add(1, Ordering::Relaxed));
    let mut maintenance = cluster.connection_config();
    maintenance.dbname("postgres");
    let (client, connection) = maintenance
        .connect(NoTls)
        .await
        .unwrap_or_else(|error| panic!("connecting to the test PostgreSQL cluster: {error}"));
    let connection = tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|error| panic!("creating the test database {name}: {error}"));
    drop(client);
    let _ = connection.await;

    let mut config = cluster.connection_config();
    config.dbname(&name);
    config
}

#[cfg(test)]
/// A migrated fresh database behind a pool of one connection, so every statement runs on the
/// one backend whose prepared statements [`plans_made`] then reads.
pub(crate) async fn migrated_pool_of_one() -> crate::pool::Pool {
    let pool = crate::store::build_pool(fresh_database().await, 1).expect("a pool");
    let mut client = crate::connection(&pool).await.expect("the connection");
    crate::migrate::migrate(&mut client)
        .await
        .expect("migrations");
    pool
}

#[cfg(test)]
/// How many generic and custom plans the backend of `pool` (of one connection) has made
/// for `statement`, prepared on it.
pub(crate) async fn plans_made(pool: &crate::pool::Pool, statement: &str) -> (i64, i64) {
    let client = crate::connection(pool).await.expect("the connection");
    let row = client
        .query_one(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1",
            &[&statement],
        )
        .await
        .expect("the statement is prepared on this connection");
    (row.get(0), row.get(1))
}

fn start() -> Result<EmbeddedPostgres, String> {
    // /tmp rather than $TMPDIR: a short path keeps the socket inside the directory, and 0755
    // lets the unprivileged user PostgreSQL runs as (when tests run as root) reach it.
    let dir = tempfile::Builder::new()
        .prefix("ember-test-")
        .permissions(Permissions::from_mode(0o755))
        .tempdir_in("/tmp")
        .map_err(|error| format!("creating a temporary directory in /tmp: {error}"))?
        // The guardian deletes it once PostgreSQL has stopped; deleting it earlier, from a
        // destructor, would pull the cluster out from under a still-running postmaster.
        .keep();
    EmbeddedPostgres::start_blocking(EmbeddedOptions::new(&dir), Purpose::Test).map_err(|error| {
        // Whatever the guardian has not got to clean up yet.
        let _ = std::fs::remove_dir_all(&dir);
        error.to_string()
    })
}
