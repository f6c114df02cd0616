//! A transaction Bundle's database transaction: its conditions searched, its resources
//! locked, and its writes of every type committed together, on one connection.
//! Spec: https://hl7.org/fhir/R4/http.html#transaction
//!
//! The single-resource write path batches writes of one type in that type's writer; a
//! transaction Bundle cannot go through it, because its writes span types and must commit
//! or fail as one. It reuses that path's rules instead: the same precondition checks
//! (`write::plan`), the same generated write statement per type, the same row locks in a
//! fixed order, and the same advisory locks as single conditional writes.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use engine::search::SearchQuery;
use engine::{Id, Instant, ResourceType, VersionId};
use time::OffsetDateTime;
use tokio_postgres::types::ToSql;

use crate::model::{WriteOutcome, WriteRequest};
use crate::pool::Planning;
use crate::write::{plan, CurrentState, PlannedWrites};
use crate::{condition_lock, search, Error, SearchPage, TenantKey};

/// The current row of a resource, locked until the transaction ends.
#[derive(Debug, Clone)]
pub struct LockedResource {
    pub version_id: VersionId,
    pub last_updated: Instant,
    /// `None` when the current version is a deletion.
    pub body: Option<Bytes>,
}

/// An open database transaction. Dropped without [`Transaction::commit`], its connection is
/// closed rather than returned to the pool, which rolls everything back: a pooled connection
/// must never keep an open transaction.
pub struct Transaction {
    client: Option<crate::pool::Client>,
    /// Its place among the transactions open at once (`Store::transaction_slots`), given back
    /// when the transaction ends, however it ends.
    _slot: tokio::sync::OwnedSemaphorePermit,
    tenant: TenantKey,
    /// How long one search inside the transaction may run (`Transaction::search`).
    search_time_limit: Duration,
    /// What the locked rows hold, per type and id; absent ids were looked for and not found.
    locked: HashMap<ResourceType, HashMap<String, CurrentState>>,
}

const LOCK_RESOURCES: &str = "SELECT r.resource_type, r.id, r.version_id, r.last_updated, r.body
    FROM resource r JOIN unnest($2::text[], $3::text[]) AS wanted(resource_type, id)
      ON r.tenant_key = $1 AND r.resource_type = wanted.resource_type AND r.id = wanted.id
    ORDER BY r.resource_type, r.id FOR UPDATE OF r";

impl Transaction {
    pub(crate) async fn begin(
        client: crate::pool::Client,
        slot: tokio::sync::OwnedSemaphorePermit,
        tenant: TenantKey,
        search_time_limit: Duration,
    ) -> Result<Transaction, Error> {
        let transaction = Transaction {
            client: Some(client),
            _slot: slot,
            tenant,
            search_time_limit,
            locked: HashMap::new(),
        };
        // Read committed whatever the database's default: its conditions are searched after
        // their locks are taken, and must see what the previous holder committed.
        transaction
            .client()
            .batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await?;
        Ok(transaction)
    }

    fn client(&self) -> &crate::pool::Client {
        self.client
            .as_ref()
            .expect("a transaction keeps its connection until it ends")
    }

    /// Takes the advisory locks of conditional criteria (`resource_type` and normalised
    /// criteria, as [`crate::Store::lock_condition`] takes them), all before any search.
    ///
    /// # Errors
    /// [`Error::LockTimeout`] after ten seconds of waiting; database errors.
    pub async fn lock_conditions(
        &self,
        conditions: &[(ResourceType, String)],
    ) -> Result<(), Error> {
        let keys: Vec<String> = conditions
            .iter()
            .map(|(resource_type, criteria)| {
                condition_lock::condition_key(*resource_type, criteria)
            })
            .collect();
        condition_lock::lock_in_transaction(self.client(), self.tenant, &keys).await
    }

    /// A search inside the transaction, stopped after the transaction's search time limit
    /// (`search::search_within`): the caller then fails the whole Bundle, and the dropped
    /// transaction closes its connection.
    ///
    /// # Errors
    /// As [`crate::Store::search`].
    pub async fn search(&self, query: &SearchQuery, page_size: usize) -> Result<SearchPage, Error> {
        search::search_within(
            self.client(),
            self.tenant,
            query,
            page_size,
            self.search_time_limit,
        )
        .await
    }

    /// Locks the current rows of `targets`, in one statement and in (type, id) order, so two
    /// transactions locking overlapping sets wait for each other instead of deadlocking, and
    /// returns what they hold. A target with no row is absent from the answer.
    ///
    /// # Errors
    /// Database errors.
    pub async fn lock(
        &mut self,
        targets: &[(ResourceType, Id)],
    ) -> Result<HashMap<(ResourceType, String), LockedResource>, Error> {
        let types: Vec<&str> = targets.iter().map(|(kind, _)| kind.as_str()).collect();
        let ids: Vec<&str> = targets.iter().map(|(_, id)| id.as_str()).collect();
        let tenant_key = self.tenant.get();
        let params: [&(dyn ToSql + Sync); 3] = [&tenant_key, &types, &ids];
        let client = self.client();
        let statement = client.prepare_cached(LOCK_RESOURCES).await?;
        let rows = client.query(&statement, &params).await?;
        let mut found = HashMap::with_capacity(rows.len());
        for row in rows {
            let Some(resource_type) = ResourceType::parse(row.get(0)) else {
                continue;
            };
            let id: String = row.get(1);
            let body: Option<&[u8]> = row.get(4);
            let locked = LockedResource {
                version_id: VersionId::from_stored(row.get(2)),
                last_updated: Instant::from_datetime(row.get::<_, OffsetDateTime>(3)),
                body: body.map(Bytes::copy_from_slice),
            };
            let state = CurrentState {
                version_id: locked.version_id,
                deleted: locked.body.is_none(),
            };
            self.locked
                .entry(resource_type)
                .or_default()
                .insert(id.clone(), state);
            found.insert((resource_type, id), locked);
        }
        Ok(found)
    }

    /// Applies `writes` against the locked rows (lock every resource a write updates or
    /// deletes first) and sends one write statement per resource type, pipelined on the
    /// connection. Returns one result per write, in order; the caller decides whether a
    /// failed one fails the transaction (it always does for a transaction Bundle).
    ///
    /// # Errors
    /// Database errors, after which the transaction can only be dropped.
    pub async fn write(
        &mut self,
        writes: Vec<(ResourceType, WriteRequest)>,
    ) -> Result<Vec<Result<WriteOutcome, Error>>, Error> {
        let now = Instant::from_datetime(OffsetDateTime::now_utc());
        let count = writes.len();
        let mut by_type: HashMap<ResourceType, (Vec<usize>, Vec<WriteRequest>)> = HashMap::new();
        for (position, (resource_type, request)) in writes.into_iter().enumerate() {
            let (positions, requests) = by_type.entry(resource_type).or_default();
            positions.push(position);
            requests.push(request);
        }
        let mut results: Vec<Option<Result<WriteOutcome, Error>>> =
            (0..count).map(|_| None).collect();
        let mut planned: Vec<(ResourceType, PlannedWrites)> = Vec::with_capacity(by_type.len());
        for (resource_type, (positions, requests)) in &by_type {
            let current = self.locked.entry(*resource_type).or_default();
            let (outcomes, rows) = plan(requests, current, now);
            for (position, outcome) in positions.iter().zip(outcomes) {
                results[*position] = Some(outcome);
            }
            if !rows.is_empty() {
                planned.push((*resource_type, rows));
            }
        }
        let client = self.client();
        let tenant = self.tenant;
        // tokio-postgres pipelines statements sent concurrently on one connection: the write
        // of every type costs about one round trip together.
        let executions = planned
            .iter()
            .map(|(resource_type, rows)| rows.execute(client, tenant, *resource_type));
        for outcome in futures_util::future::join_all(executions).await {
            outcome?;
        }
        Ok(results
            .into_iter()
            .map(|result| result.unwrap_or_else(|| Err(Error::Pool("write without result".into()))))
            .collect())
    }

    /// Commits; the writes are durable when this returns `Ok`.
    ///
    /// # Errors
    /// Database errors, after which nothing of the transaction persists.
    pub async fn commit(mut self) -> Result<(), Error> {
        let client = self
            .client
            .take()
            .expect("a transaction keeps its connection until it ends");
        match client.batch_execute("COMMIT").await {
            Ok(()) => Ok(()),
            Err(error) => {
                drop(deadpool::managed::Object::take(client));
                Err(error.into())
            }
        }
    }

    /// Rolls back and returns the connection to the pool.
    pub async fn rollback(mut self) {
        if let Some(client) = self.client.take() {
            // A rollback undoes the `SET` of a search run inside the transaction.
            client.set_planning(Planning::Unknown);
            if client.batch_execute("ROLLBACK").await.is_err() {
                drop(deadpool::managed::Object::take(client));
            }
        }
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            drop(deadpool::managed::Object::take(client));
        }
    }
}
