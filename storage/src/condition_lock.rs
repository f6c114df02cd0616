//! Serialising conditional writes that share their criteria, with a PostgreSQL
//! transaction-scoped advisory lock, so two concurrent conditional creates of the same
//! resource cannot both find nothing and both create it.
//! Spec: https://hl7.org/fhir/R4/http.html#ccreate, http.html#cond-update
//!
//! The lock is held on its own connection, in an open transaction, from before the check (a
//! search, run on that same connection: `ConditionLock::search`) until after the write
//! (through the type's writer, in its batch transaction on another connection) has
//! committed. A second writer with the same criteria waits in `pg_advisory_xact_lock` and
//! searches only once the first has committed, so it sees what the first wrote: the lock's
//! transaction is read committed whatever the database's default, as a snapshot taken when
//! the lock was asked for would not show that write. Advisory locks rather than a row lock because there is no
//! row to lock when nothing matches yet; PostgreSQL rather than an in-process mutex so the
//! guarantee holds across several Ember processes on one database.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use engine::search::SearchQuery;
use tokio_postgres::error::SqlState;

use crate::pool::{Planning, Pool};
use crate::{search, Error, SearchPage, TenantKey};

/// The first key of the two-key advisory lock space, set apart for conditional writes so they
/// never wait on another use of advisory locks (migrations use the one-key space).
const CONDITION_LOCK_NAMESPACE: i32 = 0x454d_4252; // "EMBR"

/// How long a conditional write waits for another with the same criteria. A holder keeps the
/// lock for one search and one commit (milliseconds); ten seconds means something is stuck,
/// and the client gets a 503 to retry rather than a request that hangs.
const LOCK_TIMEOUT: &str = "10s";

/// The lock on one set of criteria; released by [`ConditionLock::release`].
///
/// Dropped without `release` (an error or a panic on the way), its connection is closed
/// rather than returned to the pool, which ends the transaction and frees the lock: a pooled
/// connection must never keep an open transaction.
pub struct ConditionLock {
    client: Option<crate::pool::Client>,
    /// Set when a search on the lock's connection was stopped at its time limit: a late
    /// cancel could still reach the connection's next statement, so release closes it
    /// rather than committing on it and returning it to the pool.
    close_on_release: AtomicBool,
}

impl ConditionLock {
    /// Commits the lock's transaction, which frees the lock. Call it only after the guarded
    /// write has committed.
    ///
    /// # Errors
    /// Database errors; the lock is freed either way (the connection is then closed).
    pub async fn release(mut self) -> Result<(), Error> {
        if self.close_on_release.load(Ordering::Relaxed) {
            return Ok(()); // Drop closes the connection, which frees the lock.
        }
        if let Some(client) = self.client.take() {
            if let Err(error) = client.batch_execute("COMMIT").await {
                // A failed commit rolls back, undoing a `SET` made by the lock's searches.
                client.set_planning(Planning::Unknown);
                return Err(error.into());
            }
        }
        Ok(())
    }

    /// Searches on the lock's own connection, which otherwise idles in its transaction while
    /// the lock is held, so deciding a conditional write takes no connection of the main
    /// pool (where a small pool made conditional creates at 16 clients wait: docs/benchmarks.md,
    /// "Pool size"). Read committed: the search sees every write committed before it, the
    /// previous holder's included.
    ///
    /// # Errors
    /// As [`crate::Store::search`].
    pub async fn search(
        &self,
        tenant: TenantKey,
        query: &SearchQuery,
        page_size: usize,
        time_limit: Duration,
    ) -> Result<SearchPage, Error> {
        let client = self
            .client
            .as_ref()
            .expect("a lock keeps its connection until it is released");
        let page = search::search_within(client, tenant, query, page_size, time_limit).await;
        if matches!(page, Err(Error::SearchTimeLimit(_))) {
            self.close_on_release.store(true, Ordering::Relaxed);
        }
        page
    }
}

impl Drop for ConditionLock {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            drop(deadpool::managed::Object::take(client));
        }
    }
}

pub(crate) async fn acquire(
    pool: &Pool,
    tenant: TenantKey,
    key: &str,
) -> Result<ConditionLock, Error> {
    let lock = ConditionLock {
        client: Some(crate::connection(pool).await?),
        close_on_release: AtomicBool::new(false),
    };
    let client = lock.client.as_ref().expect("set just above");
    client
        .batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")
        .await?;
    lock_in_transaction(client, tenant, &[key.to_owned()]).await?;
    Ok(lock)
}

/// Takes the locks of `keys` inside the transaction open on `client`; they are freed when it
/// ends. Keys are locked in sorted order, so two holders of overlapping sets cannot deadlock.
/// A transaction Bundle takes the locks of its conditional entries this way, so it is
/// serialised with single conditional writes on the same criteria.
pub(crate) async fn lock_in_transaction(
    client: &crate::pool::Client,
    tenant: TenantKey,
    keys: &[String],
) -> Result<(), Error> {
    let mut keys: Vec<String> = keys
        .iter()
        .map(|key| format!("{tenant}\u{1f}{key}"))
        .collect();
    keys.sort();
    keys.dedup();
    if keys.is_empty() {
        return Ok(());
    }
    client
        .batch_execute(&format!("SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        .await?;
    for key in &keys {
        let locked = client
            .execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))",
                &[&CONDITION_LOCK_NAMESPACE, key],
            )
            .await;
        match locked {
            Ok(_) => {}
            Err(error) if error.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => {
                return Err(Error::LockTimeout)
            }
            Err(error) => return Err(error.into()),
        }
    }
    // Row locks taken later in the transaction wait as long as PostgreSQL's default allows.
    client.batch_execute("SET LOCAL lock_timeout = 0").await?;
    Ok(())
}

/// The lock key of conditional writes on `resource_type` with normalised `criteria`.
pub(crate) fn condition_key(resource_type: engine::ResourceType, criteria: &str) -> String {
    format!("{resource_type}?{criteria}")
}
