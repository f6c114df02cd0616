//! The connection pool: deadpool-postgres connections that each remember how PostgreSQL
//! plans their prepared statements, so a search changes `plan_cache_mode` only when the
//! statement it runs needs the other mode, instead of setting and resetting it every time.
//!
//! Why it matters: two extra statements around each search whose generic plan is forced
//! (`search/plans.rs`, `Plan::Generic`) cost 14% of the throughput of a birth-date range at
//! 10,000 resources (docs/benchmarks.md, "Plan modes kept per connection").

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU8, Ordering};

use deadpool::managed::{Metrics, RecycleResult};

/// The pool Ember's storage draws its connections from.
pub(crate) type Pool = deadpool::managed::Pool<Manager>;

/// A connection drawn from the pool; back in the pool when dropped.
pub(crate) type Client = deadpool::managed::Object<Manager>;

/// How a connection's PostgreSQL backend plans prepared and unnamed statements now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Planning {
    /// `plan_cache_mode` at its default: unnamed statements are planned for their values,
    /// and PostgreSQL decides when a prepared one keeps a generic plan.
    PostgresChooses = 0,
    /// `plan_cache_mode = force_generic_plan`: every statement with parameters, unnamed ones
    /// included, runs with a plan made without seeing the values.
    GenericForced = 1,
    /// Not known: a change was cut short, or a transaction that made one was rolled back
    /// (which undoes a `SET`). The next statement that cares sets the mode it needs.
    Unknown = 2,
}

/// A pooled connection and the planning mode its backend is in.
pub(crate) struct Connection {
    client: deadpool_postgres::ClientWrapper,
    planning: AtomicU8,
}

impl Connection {
    pub(crate) fn planning(&self) -> Planning {
        match self.planning.load(Ordering::Relaxed) {
            0 => Planning::PostgresChooses,
            1 => Planning::GenericForced,
            _ => Planning::Unknown,
        }
    }

    /// Records the mode the backend is in. A connection is used by one task at a time, so
    /// the atomic is only there to make the connection shareable, not to order anything.
    pub(crate) fn set_planning(&self, planning: Planning) {
        self.planning.store(planning as u8, Ordering::Relaxed);
    }
}

impl Deref for Connection {
    type Target = deadpool_postgres::ClientWrapper;

    fn deref(&self) -> &Self::Target {
        &self.client
    }
}

impl DerefMut for Connection {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.client
    }
}

/// Creates and recycles connections as deadpool-postgres does, each with its planning mode.
pub(crate) struct Manager(pub(crate) deadpool_postgres::Manager);

impl deadpool::managed::Manager for Manager {
    type Type = Connection;
    type Error = tokio_postgres::Error;

    async fn create(&self) -> Result<Connection, tokio_postgres::Error> {
        let client = self.0.create().await?;
        // PostgreSQL compiles a statement whose estimated cost passes `jit_above_cost` with
        // LLVM first, 100 to 150 ms, where Ember's statements run in milliseconds: a sort by
        // two keys at a million resources took 145 ms, 138 of them compiling
        // (docs/benchmarks.md, "JIT compilation off"). Set per connection, so an external
        // database is left as its administrator configured it for other clients.
        client.batch_execute("SET jit = off").await?;
        Ok(Connection {
            client,
            planning: AtomicU8::new(Planning::PostgresChooses as u8),
        })
    }

    async fn recycle(
        &self,
        connection: &mut Connection,
        metrics: &Metrics,
    ) -> RecycleResult<tokio_postgres::Error> {
        self.0.recycle(&mut connection.client, metrics).await
    }

    fn detach(&self, connection: &mut Connection) {
        self.0.detach(&mut connection.client);
    }
}

/// Runs `statement` on `client` with the backend in `planning` mode, first sending the
/// `SET` or `RESET` that puts it there when it is not known to be there already. Both go
/// in one round trip: tokio-postgres sends requests in the order they are first polled.
pub(crate) async fn in_planning_mode<T>(
    client: &Client,
    planning: Planning,
    statement: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, tokio_postgres::Error> {
    let setting = match planning {
        _ if client.planning() == planning => return statement.await,
        Planning::GenericForced => "SET plan_cache_mode = force_generic_plan",
        Planning::PostgresChooses => "RESET plan_cache_mode",
        Planning::Unknown => return statement.await,
    };
    // Unknown until the setting is known to have been applied: dropped half-way (a search
    // past its time limit), or failed, the next statement sets it again.
    client.set_planning(Planning::Unknown);
    let (set, result) = tokio::join!(client.batch_execute(setting), statement);
    set?;
    client.set_planning(planning);
    result
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;

    /// A pool of one connection, so every checkout is the same backend.
    async fn one_connection_pool() -> Pool {
        let config = crate::testing::fresh_database().await;
        crate::store::build_pool(config, 1).expect("a pool of one connection")
    }

    async fn backend_mode(client: &Client) -> Result<String, tokio_postgres::Error> {
        let row = client
            .query_one("SELECT current_setting('plan_cache_mode')", &[])
            .await?;
        Ok(row.get(0))
    }

    #[tokio::test]
    async fn generic_plans_stay_forced_on_the_connection_until_a_statement_needs_the_default() {
        let pool = one_connection_pool().await;
        let client = pool.get().await.expect("a connection");
        assert_eq!(client.planning(), Planning::PostgresChooses);
        let forced = in_planning_mode(&client, Planning::GenericForced, backend_mode(&client));
        assert_eq!(forced.await.expect("forced"), "force_generic_plan");
        drop(client);

        // Back from the pool, the connection still has them forced, and knows it.
        let client = pool.get().await.expect("the same connection");
        assert_eq!(client.planning(), Planning::GenericForced);
        let mode = backend_mode(&client).await.expect("plan_cache_mode");
        assert_eq!(mode, "force_generic_plan");
        let chosen = in_planning_mode(&client, Planning::PostgresChooses, backend_mode(&client));
        assert_eq!(chosen.await.expect("chosen"), "auto");
        assert_eq!(client.planning(), Planning::PostgresChooses);
    }

    // JIT compilation took 138 of a search's 145 ms (docs/benchmarks.md): every pooled
    // connection has it off, whatever the server's default.
    #[tokio::test]
    async fn pooled_connections_do_not_compile_statements_with_jit() {
        let pool = one_connection_pool().await;
        let client = pool.get().await.expect("a connection");
        let row = client
            .query_one("SELECT current_setting('jit')", &[])
            .await
            .expect("jit setting");
        assert_eq!(row.get::<_, String>(0), "off");
    }

    #[tokio::test]
    async fn a_mode_change_that_fails_leaves_the_mode_unknown() {
        let pool = one_connection_pool().await;
        let client = pool.get().await.expect("a connection");
        // In an aborted transaction every statement fails, the `SET` first.
        client.batch_execute("BEGIN").await.expect("BEGIN");
        assert!(client.batch_execute("SELECT 1/0").await.is_err());
        let forced = in_planning_mode(&client, Planning::GenericForced, backend_mode(&client));
        assert!(forced.await.is_err());
        assert_eq!(client.planning(), Planning::Unknown);
        client.batch_execute("ROLLBACK").await.expect("ROLLBACK");

        let forced = in_planning_mode(&client, Planning::GenericForced, backend_mode(&client));
        assert_eq!(forced.await.expect("forced"), "force_generic_plan");
        assert_eq!(client.planning(), Planning::GenericForced);
    }
}
