//! The `Store`: a connection pool to one PostgreSQL database and every query Ember runs on it.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{ManagerConfig, RecyclingMethod, Runtime};
use engine::{Id, ResourceType, VersionId};
use tokio::sync::Semaphore;
use tokio_postgres::NoTls;

use crate::model::{HistoryPage, HistoryQuery, StoredVersion, WriteOutcome, WriteRequest};
use crate::pool::{Manager, Pool};
use crate::read_batch::ReadBatcher;
use crate::{
    condition_lock, history, migrate, read, write, ConditionLock, Error, TenantKey, Transaction,
};

/// A handle to one database; cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    /// Connections that hold the advisory locks of conditional writes (see
    /// `condition_lock.rs`). Apart from `pool` because a holder keeps its connection while
    /// its write waits for a connection of the writer: from one pool, enough concurrent
    /// conditional writes would take every connection and leave none for the writes they
    /// wait on.
    locks: Pool,
    /// Transaction Bundles open at once: one fewer than `pool` has connections (at least
    /// one). A transaction holds its connection while it waits for the advisory locks of
    /// its conditional entries, and a single conditional write that holds one of those
    /// locks needs a connection of `pool` for its search and its write: had transactions
    /// taken every connection, each would wait for the other until the timeouts (10 s, then
    /// 503 for all of them; measured with a pool of 4 in docs/benchmarks.md, "Pool size").
    transaction_slots: Arc<Semaphore>,
    /// Reads by id, gathered into shared queries under load (`read_batch.rs`).
    reads: Arc<ReadBatcher>,
    /// Which lone string criteria have ranges too large to read whole (`search/large_ranges.rs`).
    large_ranges: Arc<crate::search::LargeRanges>,
}

/// How many connections a pool holds and how many are idle, for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct PoolUsage {
    pub max_size: usize,
    pub size: usize,
    pub available: usize,
    pub waiting: usize,
}

impl Store {
    /// Creates a pool of up to `max_connections` to the database `config` names. Connections
    /// are opened on first use, so this does not fail when the database is down.
    ///
    /// # Errors
    /// [`Error::Pool`] when the pool cannot be built from `config`.
    ///
    /// Conditional writes hold their locks on a second pool of a quarter as many connections
    /// (at least `MIN_LOCK_CONNECTIONS`), so the database sees up to `max_connections * 5 / 4`
    /// of them, or `max_connections + 4`.
    pub fn connect(config: tokio_postgres::Config, max_connections: usize) -> Result<Store, Error> {
        let lock_connections = (max_connections / 4).max(MIN_LOCK_CONNECTIONS);
        let pool = build_pool(config.clone(), max_connections)?;
        Ok(Store {
            reads: ReadBatcher::new(pool.clone()),
            pool,
            locks: build_pool(config, lock_connections)?,
            transaction_slots: Arc::new(Semaphore::new(max_connections.saturating_sub(1).max(1))),
            large_ranges: Arc::default(),
        })
    }

    /// Brings the schema up to date; safe to call from several processes at once.
    ///
    /// # Errors
    /// [`Error::SchemaTooNew`] when a newer Ember migrated this database; database errors.
    pub async fn migrate(&self) -> Result<usize, Error> {
        let mut client = crate::connection(&self.pool).await?;
        migrate::migrate(&mut client).await
    }

    /// True when the database answers and its schema is the one this binary expects.
    pub async fn is_ready(&self) -> bool {
        let Ok(client) = self.pool.get().await else {
            return false;
        };
        matches!(migrate::current_version(&client).await, Ok(version) if version == migrate::LATEST_VERSION)
    }

    /// The current version of a resource, deleted or not; `None` if it never existed.
    ///
    /// # Errors
    /// Database and pool errors.
    pub async fn read(
        &self,
        tenant: TenantKey,
        resource_type: ResourceType,
        id: &Id,
    ) -> Result<Option<StoredVersion>, Error> {
        self.reads.read(tenant, resource_type, id).await
    }

    /// One version of a resource; `None` if that version does not exist.
    ///
    /// # Errors
    /// Database and pool errors.
    pub async fn read_version(
        &self,
        tenant: TenantKey,
        resource_type: ResourceType,
        id: &Id,
        version_id: VersionId,
    ) -> Result<Option<StoredVersion>, Error> {
        read::read_version(&self.pool, tenant, resource_type, id, version_id).await
    }

    /// Commits `requests` (all of `resource_type`) in as few transactions as possible and
    /// returns one result per request, in order. A failed precondition or a database error in
    /// one write does not fail the others; nothing is reported as written before its commit.
    pub async fn write_batch(
        &self,
        tenant: TenantKey,
        resource_type: ResourceType,
        requests: &[WriteRequest],
    ) -> Vec<Result<WriteOutcome, Error>> {
        write::write_batch(&self.pool, tenant, resource_type, requests).await
    }

    /// One page of history, newest first.
    ///
    /// # Errors
    /// Database and pool errors.
    pub async fn history(
        &self,
        tenant: TenantKey,
        query: &HistoryQuery,
    ) -> Result<HistoryPage, Error> {
        history::history(&self.pool, tenant, query).await
    }

    /// One page of a search, with its includes and, when asked, its total, within
    /// `time_limit`.
    ///
    /// # Errors
    /// [`Error::InvalidCursor`] for a cursor this search did not write;
    /// [`Error::SearchTimeLimit`] past `time_limit` (the statement is cancelled); database
    /// errors.
    pub async fn search(
        &self,
        tenant: TenantKey,
        query: &engine::search::SearchQuery,
        page_size: usize,
        time_limit: std::time::Duration,
    ) -> Result<crate::SearchPage, Error> {
        let page = crate::search::search(
            &self.pool,
            &self.large_ranges,
            tenant,
            query,
            page_size,
            time_limit,
        )
        .await;
        match page {
            // A cursor's values are compared as their keys' SQL types (a date sort's as a
            // number): one edited by hand, or taken from a search sorted by another
            // parameter, decodes but does not cast, and that is the client's mistake.
            Err(Error::Database(error))
                if query.cursor.is_some()
                    && error
                        .code()
                        .is_some_and(|code| code.code().starts_with("22")) =>
            {
                Err(Error::InvalidCursor)
            }
            page => page,
        }
    }

    /// Takes the lock that serialises conditional writes with the same `criteria` (normalised
    /// by the caller) on `resource_type`, waiting up to ten seconds for another holder.
    /// Hold it from before the search that decides the write until after the write commits.
    ///
    /// # Errors
    /// [`Error::LockTimeout`] after ten seconds of waiting; database and pool errors.
    pub async fn lock_condition(
        &self,
        tenant: TenantKey,
        resource_type: ResourceType,
        criteria: &str,
    ) -> Result<ConditionLock, Error> {
        condition_lock::acquire(
            &self.locks,
            tenant,
            &condition_lock::condition_key(resource_type, criteria),
        )
        .await
    }

    /// Opens a database transaction on a connection of its own, for a transaction Bundle;
    /// each search inside it is stopped after `search_time_limit`, as [`Store::search`] is.
    ///
    /// # Errors
    /// Database and pool errors.
    pub async fn begin_transaction(
        &self,
        tenant: TenantKey,
        search_time_limit: Duration,
    ) -> Result<Transaction, Error> {
        let slot = tokio::time::timeout(
            CONNECTION_WAIT,
            self.transaction_slots.clone().acquire_owned(),
        )
        .await
        .map_err(|_| Error::Pool("timed out waiting for a transaction slot".to_owned()))?
        .map_err(|closed| Error::Pool(closed.to_string()))?;
        Transaction::begin(
            crate::connection(&self.pool).await?,
            slot,
            tenant,
            search_time_limit,
        )
        .await
    }

    /// How many reads by id were answered and in how many queries (`read_batch.rs`).
    pub fn read_batching(&self) -> crate::ReadBatching {
        self.reads.statistics()
    }

    pub fn pool_usage(&self) -> PoolUsage {
        let status = self.pool.status();
        PoolUsage {
            max_size: status.max_size,
            size: status.size,
            available: status.available,
            waiting: status.waiting,
        }
    }
}

/// Lock connections of the smallest pools. A lock's connection idles in its transaction
/// while the holder searches and writes on others, so it costs PostgreSQL no CPU, but it
/// bounds how many conditional writes run at once: with the two a pool of 4 used to get,
/// conditional creates at 16 clients ran at 575 and 804/s against 807 and 891/s with the
/// four of a pool of 16 (docs/benchmarks.md, "Pool size").
const MIN_LOCK_CONNECTIONS: usize = 4;

/// How long a request waits for a connection (or a transaction slot) before it is answered
/// 503: long enough to ride out a burst, short enough that a client retries.
const CONNECTION_WAIT: Duration = Duration::from_secs(10);

pub(crate) fn build_pool(config: tokio_postgres::Config, max_size: usize) -> Result<Pool, Error> {
    let manager = Manager(deadpool_postgres::Manager::from_config(
        config,
        NoTls,
        // Fast recycling skips a test query on checkout: a broken connection surfaces
        // as a query error instead, which the caller sees as 503 and retries.
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    ));
    Pool::builder(manager)
        .max_size(max_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(CONNECTION_WAIT))
        .create_timeout(Some(CONNECTION_WAIT))
        .build()
        .map_err(|error| Error::Pool(error.to_string()))
}
