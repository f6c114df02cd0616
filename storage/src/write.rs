//! The batched write: many writes of one resource type committed in one transaction.
//!
//! Preconditions (If-Match, existence) are decided in Rust against the rows locked with
//! `FOR UPDATE`, so a failed precondition fails only its own write. A database error fails
//! the whole transaction; the batch is then retried one write per transaction, so one bad
//! write still cannot fail the others.
// PERF: hot path (every create, update and delete); see docs/benchmarks.md.

use std::collections::HashMap;

use bytes::Bytes;
use engine::{Instant, PreparedResource, ResourceType, VersionId};
use time::OffsetDateTime;
use tokio_postgres::types::ToSql;
use tracing::warn;

use crate::index_rows::IndexRows;
use crate::model::{Precondition, WriteAction, WriteOutcome, WriteRequest, Written};
use crate::pool::{self, Planning, Pool};
use crate::write_statement::{WRITE_NEW, WRITE_REPLACING};
use crate::{Error, TenantKey};

/// The state of a resource as the batch sees it: locked rows, then the batch's own writes.
#[derive(Clone, Copy)]
pub(crate) struct CurrentState {
    pub(crate) version_id: VersionId,
    pub(crate) deleted: bool,
}

/// Columns of the rows to insert, in `unnest` form: one array per column.
#[derive(Default)]
struct VersionRows {
    ids: Vec<String>,
    version_ids: Vec<i64>,
    last_updated: Vec<OffsetDateTime>,
    methods: Vec<&'static str>,
    statuses: Vec<i16>,
    bodies: Vec<Option<Bytes>>,
}

impl VersionRows {
    fn push(&mut self, written: &Written, method: &'static str, status: i16) {
        let (id, version_id, last_updated, body) = (
            &written.id,
            written.version_id,
            written.last_updated,
            written.body.clone(),
        );
        self.ids.push(id.as_str().to_owned());
        self.version_ids.push(version_id.get());
        self.last_updated.push(last_updated.datetime());
        self.methods.push(method);
        self.statuses.push(status);
        self.bodies.push(body);
    }
}

pub(crate) async fn write_batch(
    pool: &Pool,
    tenant: TenantKey,
    resource_type: ResourceType,
    requests: &[WriteRequest],
) -> Vec<Result<WriteOutcome, Error>> {
    match try_batch(pool, tenant, resource_type, requests).await {
        Ok(results) => results,
        Err(error) if requests.len() > 1 => {
            warn!(%error, writes = requests.len(), %resource_type, "batch failed; retrying its writes one by one");
            let mut results = Vec::with_capacity(requests.len());
            for request in requests {
                let single =
                    try_batch(pool, tenant, resource_type, std::slice::from_ref(request)).await;
                results.push(match single {
                    Ok(mut one) => one
                        .pop()
                        .unwrap_or_else(|| Err(Error::Pool("empty batch result".into()))),
                    Err(error) => Err(error),
                });
            }
            results
        }
        Err(error) => vec![Err(error)],
    }
}

/// Locks the current rows the batch updates or deletes, in id order so that two batches
/// locking overlapping rows cannot deadlock, and so a writer in another process waits
/// instead of writing the same version number.
const LOCK_CURRENT: &str = "SELECT id, version_id, deleted FROM resource
    WHERE tenant_key = $1 AND resource_type = $2 AND id = ANY($3)
    ORDER BY id FOR UPDATE";

/// Commits one batch. A batch of creates is a single statement in autocommit: one round
/// trip. A batch that updates or deletes is a transaction of two round trips: BEGIN with the
/// locking SELECT, then the write with COMMIT (pipelined; if the write fails, PostgreSQL
/// turns that COMMIT into a rollback).
async fn try_batch(
    pool: &Pool,
    tenant: TenantKey,
    resource_type: ResourceType,
    requests: &[WriteRequest],
) -> Result<Vec<Result<WriteOutcome, Error>>, Error> {
    let client = crate::connection(pool).await?;
    let tenant_key = tenant.get();
    let type_name = resource_type.as_str();

    let ids_to_lock: Vec<&str> = requests
        .iter()
        .filter(|request| !matches!(request.action, WriteAction::Create(_)))
        .map(|request| request.id.as_str())
        .collect();
    let in_transaction = !ids_to_lock.is_empty();
    let mut current = HashMap::with_capacity(ids_to_lock.len());
    if in_transaction {
        let lock_statement = client.prepare_cached(LOCK_CURRENT).await?;
        let lock_params: [&(dyn ToSql + Sync); 3] = [&tenant_key, &type_name, &ids_to_lock];
        // Read committed whatever the database's default: the row locks below must wait for
        // and then see a concurrent writer's commit, not fail on it as repeatable read would.
        let begin_and_lock = async {
            let (begun, locked) = tokio::join!(
                client.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED"),
                client.query(&lock_statement, &lock_params)
            );
            begun.and(locked)
        };
        // Generic plans for the lock and the write (see `PlannedWrites::execute`), the mode
        // set before BEGIN so that a rollback cannot undo it.
        let locked = pool::in_planning_mode(&client, Planning::GenericForced, begin_and_lock);
        let rows = match locked.await {
            Ok(rows) => rows,
            Err(error) => return Err(rolled_back(client, error).await),
        };
        for row in rows {
            let state = CurrentState {
                version_id: VersionId::from_stored(row.get(1)),
                deleted: row.get(2),
            };
            current.insert(row.get::<_, String>(0), state);
        }
    }

    let now = Instant::from_datetime(OffsetDateTime::now_utc());
    let (results, planned) = plan(requests, &mut current, now);
    match (in_transaction, planned.is_empty()) {
        (false, true) => {}
        (false, false) => planned.execute(&client, tenant, resource_type).await?,
        // Every write failed its precondition or had nothing to delete: release the locks.
        (true, true) => client.batch_execute("COMMIT").await?,
        (true, false) => {
            let (written, committed) = tokio::join!(
                planned.execute(&client, tenant, resource_type),
                client.batch_execute("COMMIT"),
            );
            written?;
            committed?;
        }
    }
    Ok(results)
}

/// The rows one batch writes for one resource type: versions, current rows and index rows.
pub(crate) struct PlannedWrites {
    versions: VersionRows,
    index: IndexRows,
}

/// Decides every write of a batch against `current` (the locked rows, updated as the batch's
/// own writes apply) and gathers the rows the successful ones write.
pub(crate) fn plan(
    requests: &[WriteRequest],
    current: &mut HashMap<String, CurrentState>,
    now: Instant,
) -> (Vec<Result<WriteOutcome, Error>>, PlannedWrites) {
    let mut versions = VersionRows::default();
    let mut results = Vec::with_capacity(requests.len());
    // The index rows follow the newest version each resource gets in this batch.
    let mut newest: HashMap<&str, Option<&PreparedResource>> =
        HashMap::with_capacity(requests.len());
    let mut index = IndexRows::default();
    for request in requests {
        let state = current.get(request.id.as_str()).copied();
        let existed = state.is_some();
        let result = apply(request, state, now);
        if let Ok((outcome, method)) = &result {
            if let Some((written, status)) = outcome.written() {
                versions.push(written, method, status);
                let deleted = written.body.is_none();
                let state = CurrentState {
                    version_id: written.version_id,
                    deleted,
                };
                current.insert(request.id.as_str().to_owned(), state);
                let resource = match &request.action {
                    WriteAction::Create(resource)
                    | WriteAction::Update { resource, .. }
                    | WriteAction::Patch { resource, .. } => Some(resource),
                    WriteAction::Delete { .. } => None,
                };
                // Only a resource that existed before this batch can have index rows.
                if newest.insert(request.id.as_str(), resource).is_none() && existed {
                    index.replaced_ids.push(request.id.as_str().to_owned());
                }
            }
        }
        results.push(result.map(|(outcome, _)| outcome));
    }
    for (id, resource) in &newest {
        if let Some(resource) = resource {
            index.push_resource(id, resource.index_entries());
        }
    }
    (results, PlannedWrites { versions, index })
}

impl PlannedWrites {
    /// True when no write of the batch produced a version.
    pub(crate) fn is_empty(&self) -> bool {
        self.versions.ids.is_empty()
    }

    /// Runs the write statement for these rows on `client`, inside whatever transaction the
    /// caller holds (or in autocommit).
    pub(crate) async fn execute(
        &self,
        client: &crate::pool::Client,
        tenant: TenantKey,
        resource_type: ResourceType,
    ) -> Result<(), Error> {
        let tenant_key = tenant.get();
        let type_name = resource_type.as_str();
        let versions = &self.versions;
        let bodies: Vec<Option<&[u8]>> =
            versions.bodies.iter().map(|body| body.as_deref()).collect();
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![
            &tenant_key,
            &type_name,
            &versions.ids,
            &versions.version_ids,
            &versions.last_updated,
            &versions.methods,
            &versions.statuses,
            &bodies,
        ];
        let replacing = !self.index.replaced_ids.is_empty();
        self.index.parameters(replacing, &mut params);
        let statement_text: &str = if replacing {
            &WRITE_REPLACING
        } else {
            &WRITE_NEW
        };
        let statement = client.prepare_cached(statement_text).await?;
        // Left to choose, PostgreSQL planned the statement for each batch's arrays: 0.7 ms
        // for a batch of updates that then ran in 0.56 (docs/benchmarks.md, "Batched reads
        // and writes planned once"). Its plan does not depend on the values.
        let write = client.query_one(&statement, &params);
        pool::in_planning_mode(client, Planning::GenericForced, write).await?;
        Ok(())
    }
}

/// Ends a transaction that failed before its COMMIT was sent, so the connection goes back to
/// the pool clean; returns the error that caused it.
async fn rolled_back(client: crate::pool::Client, error: tokio_postgres::Error) -> Error {
    // A rollback undoes any `SET` made inside the transaction.
    client.set_planning(Planning::Unknown);
    if let Err(rollback_error) = client.batch_execute("ROLLBACK").await {
        tracing::warn!(%rollback_error, "rollback after a failed batch failed; discarding the connection");
        // Out of the pool: a connection in an unknown transaction state must not be reused.
        drop(deadpool::managed::Object::take(client));
    }
    Error::from(error)
}

/// Decides one write against the state of its resource; pure, so the rules are testable.
fn apply(
    request: &WriteRequest,
    state: Option<CurrentState>,
    now: Instant,
) -> Result<(WriteOutcome, &'static str), Error> {
    let live = state.filter(|state| !state.deleted);
    let written = |version_id: VersionId, body: Option<Bytes>| Written {
        id: request.id.clone(),
        version_id,
        last_updated: now,
        body,
    };
    // `If-Match`, `If-None-Match: *`, or the version a patch was made from: the write
    // happens only while it holds of the live version (or of there being none).
    let live_version = live.map(|state| state.version_id);
    let require = |expected: Option<Precondition>| match expected {
        Some(expected) if !expected.holds(live_version) => Err(Error::PreconditionFailed {
            id: request.id.clone(),
            expected,
            current: live_version,
        }),
        _ => Ok(()),
    };
    match &request.action {
        WriteAction::Create(resource) => {
            let body = Bytes::from(resource.finalize(&request.id, VersionId::FIRST, now));
            Ok((
                WriteOutcome::Created(written(VersionId::FIRST, Some(body))),
                "POST",
            ))
        }
        WriteAction::Update {
            resource,
            precondition,
        } => {
            require(*precondition)?;
            let version_id = state.map_or(VersionId::FIRST, |state| state.version_id.next());
            let body = Bytes::from(resource.finalize(&request.id, version_id, now));
            let written = written(version_id, Some(body));
            match live {
                Some(_) => Ok((WriteOutcome::Updated(written), "PUT")),
                None => Ok((WriteOutcome::Created(written), "PUT")),
            }
        }
        WriteAction::Patch { resource, patched } => {
            require(Some(Precondition::Version(*patched)))?;
            let version_id = patched.next();
            let body = Bytes::from(resource.finalize(&request.id, version_id, now));
            Ok((
                WriteOutcome::Updated(written(version_id, Some(body))),
                "PATCH",
            ))
        }
        WriteAction::Delete { precondition } => {
            require(*precondition)?;
            match live {
                Some(state) => Ok((
                    WriteOutcome::Deleted(written(state.version_id.next(), None)),
                    "DELETE",
                )),
                None => Ok((WriteOutcome::NothingToDelete, "DELETE")),
            }
        }
    }
}

impl WriteOutcome {
    /// The version written and the HTTP status its write is answered with.
    fn written(&self) -> Option<(&Written, i16)> {
        match self {
            WriteOutcome::Created(written) => Some((written, 201)),
            WriteOutcome::Updated(written) => Some((written, 200)),
            WriteOutcome::Deleted(written) => Some((written, 204)),
            WriteOutcome::NothingToDelete => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::Id;

    fn now() -> Instant {
        Instant::from_datetime(OffsetDateTime::UNIX_EPOCH)
    }

    fn update(if_match: Option<i64>) -> WriteRequest {
        let version =
            if_match.map(|version| Precondition::Version(VersionId::from_stored(version)));
        update_if(version)
    }

    fn update_if(precondition: Option<Precondition>) -> WriteRequest {
        WriteRequest {
            id: Id::parse("p1").unwrap(),
            action: WriteAction::Update {
                resource: engine::prepare_resource(br#"{"resourceType":"Patient","id":"p1"}"#)
                    .unwrap(),
                precondition,
            },
        }
    }

    #[test]
    fn update_with_if_none_match_star_creates_but_never_overwrites() {
        let absent = update_if(Some(Precondition::Absent));
        assert!(apply(&absent, None, now()).is_ok());
        assert!(
            apply(&absent, state(2, true), now()).is_ok(),
            "deleted counts as absent"
        );
        assert!(matches!(
            apply(&absent, state(2, false), now()),
            Err(Error::PreconditionFailed { .. })
        ));
    }

    #[test]
    fn update_with_if_match_star_needs_a_live_version() {
        let exists = update_if(Some(Precondition::Exists));
        assert!(apply(&exists, state(2, false), now()).is_ok());
        assert!(matches!(
            apply(&exists, None, now()),
            Err(Error::PreconditionFailed { .. })
        ));
    }

    fn state(version: i64, deleted: bool) -> Option<CurrentState> {
        Some(CurrentState {
            version_id: VersionId::from_stored(version),
            deleted,
        })
    }

    #[test]
    fn update_of_unknown_id_creates_version_one() {
        let (outcome, method) = apply(&update(None), None, now()).unwrap();
        assert!(
            matches!(outcome, WriteOutcome::Created(Written { version_id, .. }) if version_id.get() == 1)
        );
        assert_eq!(method, "PUT");
    }

    #[test]
    fn update_with_matching_if_match_bumps_the_version() {
        let (outcome, _) = apply(&update(Some(3)), state(3, false), now()).unwrap();
        assert!(
            matches!(outcome, WriteOutcome::Updated(Written { version_id, .. }) if version_id.get() == 4)
        );
    }

    #[test]
    fn update_with_stale_if_match_fails_its_precondition() {
        let error = apply(&update(Some(2)), state(3, false), now()).unwrap_err();
        assert!(
            matches!(error, Error::PreconditionFailed { current: Some(current), .. } if current.get() == 3)
        );
    }

    #[test]
    fn update_after_delete_continues_the_version_sequence_as_a_create() {
        let (outcome, _) = apply(&update(None), state(2, true), now()).unwrap();
        assert!(
            matches!(outcome, WriteOutcome::Created(Written { version_id, .. }) if version_id.get() == 3)
        );
    }

    #[test]
    fn deleting_a_deleted_resource_writes_nothing() {
        let request = WriteRequest {
            id: Id::parse("p1").unwrap(),
            action: WriteAction::Delete { precondition: None },
        };
        assert!(matches!(
            apply(&request, state(2, true), now()).unwrap().0,
            WriteOutcome::NothingToDelete
        ));
        assert!(matches!(
            apply(&request, None, now()).unwrap().0,
            WriteOutcome::NothingToDelete
        ));
    }

    #[test]
    fn a_patch_applies_only_to_the_version_it_was_made_from_and_is_recorded_as_patch() {
        let patch = |patched: i64| WriteRequest {
            id: Id::parse("p1").unwrap(),
            action: WriteAction::Patch {
                resource: engine::prepare_resource(br#"{"resourceType":"Patient","id":"p1"}"#)
                    .unwrap(),
                patched: VersionId::from_stored(patched),
            },
        };
        let (outcome, method) = apply(&patch(2), state(2, false), now()).unwrap();
        assert_eq!(method, "PATCH");
        assert!(
            matches!(outcome, WriteOutcome::Updated(Written { version_id, .. }) if version_id.get() == 3)
        );
        for moved_on in [state(3, false), state(2, true)] {
            assert!(matches!(
                apply(&patch(2), moved_on, now()),
                Err(Error::PreconditionFailed { .. })
            ));
        }
    }

    #[test]
    fn a_delete_with_if_match_happens_only_at_that_version() {
        let delete_at = |version: i64| WriteRequest {
            id: Id::parse("p1").unwrap(),
            action: WriteAction::Delete {
                precondition: Some(Precondition::Version(VersionId::from_stored(version))),
            },
        };
        assert!(matches!(
            apply(&delete_at(2), state(2, false), now()).unwrap().0,
            WriteOutcome::Deleted(Written { version_id, .. }) if version_id.get() == 3
        ));
        for stale_or_gone in [state(3, false), state(2, true), None] {
            assert!(matches!(
                apply(&delete_at(2), stale_or_gone, now()),
                Err(Error::PreconditionFailed { .. })
            ));
        }
    }
}

#[cfg(all(test, feature = "testing"))]
mod planning_tests {
    use super::*;
    use crate::testing::{migrated_pool_of_one, plans_made};
    use engine::Id;

    fn put_patient(id: &str, family: &str) -> WriteRequest {
        let body =
            format!(r#"{{"resourceType":"Patient","id":"{id}","name":[{{"family":"{family}"}}]}}"#);
        WriteRequest {
            id: Id::parse(id).expect("an id"),
            action: WriteAction::Update {
                resource: engine::prepare_resource(body.as_bytes()).expect("a Patient"),
                precondition: None,
            },
        }
    }

    // Planned for each batch's arrays, an update batch's statement took longer to plan than
    // to run (docs/benchmarks.md, "Batched reads and writes planned once").
    #[tokio::test]
    async fn update_batches_of_any_size_keep_one_generic_plan() {
        let pool = migrated_pool_of_one().await;
        let patient = ResourceType::parse("Patient").expect("a type");
        let first: Vec<WriteRequest> = (0..4)
            .map(|n| put_patient(&format!("p{n}"), "First"))
            .collect();
        for result in write_batch(&pool, TenantKey::DEFAULT, patient, &first).await {
            result.expect("first versions written");
        }
        for round in 0..10 {
            let batch: Vec<WriteRequest> = (0..=round % 4)
                .map(|n| put_patient(&format!("p{n}"), &format!("Round{round}")))
                .collect();
            for result in write_batch(&pool, TenantKey::DEFAULT, patient, &batch).await {
                assert!(
                    matches!(result, Ok(WriteOutcome::Updated(_))),
                    "round {round}: {result:?}"
                );
            }
        }
        let (_, custom_locks) = plans_made(&pool, LOCK_CURRENT).await;
        let (generic_writes, custom_writes) = plans_made(&pool, &WRITE_REPLACING).await;
        assert_eq!(
            custom_locks, 0,
            "the lock statement was planned for its values"
        );
        assert_eq!(
            custom_writes, 0,
            "the write statement was planned for its values"
        );
        assert_eq!(
            generic_writes, 10,
            "one run of the write statement per update batch"
        );
    }
}
