//! Reads by id gathered into one query while an earlier one is in flight: smart batching for
//! the read path, the counterpart of the write batcher in `actors`.
// PERF: hot path; see docs/benchmarks.md ("Reads by id, batched").
//
// At rest a read goes to the database at once, alone. Under load, reads that arrive while
// `USUAL_FLUSHES_IN_FLIGHT` queries are already running wait for the next query and share it,
// so PostgreSQL and the socket to it see one round trip for many reads. A read is never
// added to a query that has already been sent: it waits for the next one, which starts after
// the read arrived and so sees every write committed before it (read-your-writes holds).
//
// No actor sits on this path (the design brief keeps mailboxes off the read hot path): the
// queue is a mutex held for a push or a drain. A read alone runs in place; a query that
// carries other callers' reads runs in a task, so a caller that goes away (a client that
// hangs up) can lose only its own answer and cannot strand the queue (`SlotGuard`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant as ClockInstant};

use engine::{Id, ResourceType};
use tokio::sync::oneshot;
use tokio_postgres::types::ToSql;

use crate::model::StoredVersion;
use crate::pool::{self, Planning, Pool};
use crate::{read, Error, TenantKey};

/// Queries running at once as long as they answer quickly. On two cores one beat two and
/// four (docs/benchmarks.md): the longer reads gather, the less each costs PostgreSQL and
/// the socket.
const USUAL_FLUSHES_IN_FLIGHT: usize = 1;

/// A query running this long is taken for slow (pages read from disk, a busy database):
/// reads arriving then start a query of their own rather than queue behind it, so one slow
/// query delays only the reads it carries.
const SLOW_QUERY: Duration = Duration::from_millis(5);

/// Queries running at once at most, however slow they are.
const MOST_FLUSHES_IN_FLIGHT: usize = 8;

/// Reads in one query at most, so one query's answer stays a few megabytes at worst.
const MAX_BATCH: usize = 128;

/// Current versions of any resource types and tenants, looked up by primary key in one
/// statement; `position` says which requested key a row answers (a key asked twice in one
/// batch gets a row each).
const READ_MANY: &str = "SELECT wanted.position, r.version_id, r.last_updated, r.body
    FROM unnest($1::integer[], $2::text[], $3::text[]) WITH ORDINALITY
         AS wanted(tenant_key, resource_type, id, position)
    JOIN resource r ON r.tenant_key = wanted.tenant_key
                   AND r.resource_type = wanted.resource_type
                   AND r.id = wanted.id";

type ReadResult = Result<Option<StoredVersion>, Error>;

struct WaitingRead {
    tenant: TenantKey,
    resource_type: ResourceType,
    id: Id,
    reply: oneshot::Sender<ReadResult>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<WaitingRead>,
    flushes_in_flight: usize,
    /// When the newest query started; each holder's next query restarts the clock.
    last_query_started: Option<ClockInstant>,
}

impl Queue {
    /// Whether a read queued at `now` starts a query (and takes a slot) rather than wait for
    /// the next query of a running holder.
    fn may_start_flush(&self, now: ClockInstant) -> bool {
        if self.flushes_in_flight < USUAL_FLUSHES_IN_FLIGHT {
            return true;
        }
        self.flushes_in_flight < MOST_FLUSHES_IN_FLIGHT
            && self
                .last_query_started
                .is_some_and(|started| now.saturating_duration_since(started) >= SLOW_QUERY)
    }
}

/// The shared queue of reads by id for one database.
pub(crate) struct ReadBatcher {
    pool: Pool,
    queue: Mutex<Queue>,
    /// Reads answered and queries sent, for `/metrics`: their ratio is the mean batch size.
    reads: AtomicU64,
    queries: AtomicU64,
}

/// How much batching happened since the start: see [`crate::Store::read_batching`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadBatching {
    /// Reads by id answered (found or not).
    pub reads: u64,
    /// Statements sent for them; fewer than `reads` when reads shared a statement.
    pub queries: u64,
}

impl ReadBatcher {
    pub(crate) fn new(pool: Pool) -> Arc<ReadBatcher> {
        Arc::new(ReadBatcher {
            pool,
            queue: Mutex::new(Queue::default()),
            reads: AtomicU64::new(0),
            queries: AtomicU64::new(0),
        })
    }

    /// The current version of `resource_type/id`, read alone or with the reads queued
    /// beside it.
    pub(crate) async fn read(
        self: &Arc<Self>,
        tenant: TenantKey,
        resource_type: ResourceType,
        id: &Id,
    ) -> ReadResult {
        let (reply, answer) = oneshot::channel();
        let start_flush = {
            let mut queue = self.lock();
            queue.waiting.push(WaitingRead {
                tenant,
                resource_type,
                id: id.clone(),
                reply,
            });
            let start = queue.may_start_flush(ClockInstant::now());
            if start {
                queue.flushes_in_flight += 1;
            }
            start
        };
        if start_flush {
            let mut slot = SlotGuard::held(Arc::clone(self), true);
            match slot.next_batch() {
                // Alone (a quiet server), the read runs in place: no task to start. Were this
                // caller to go away mid-query, only its own answer would be lost.
                Some(batch) if batch.len() == 1 => {
                    self.answer(batch).await;
                    if !slot.release_if_idle() {
                        tokio::spawn(Arc::clone(self).flush_until_empty(slot.into_task()));
                    }
                }
                // Others' reads run in a task, so a caller that goes away cannot lose them.
                Some(batch) => {
                    let batcher = Arc::clone(self);
                    let slot = slot.into_task();
                    tokio::spawn(async move {
                        batcher.answer(batch).await;
                        batcher.flush_until_empty(slot).await;
                    });
                }
                None => {}
            }
        }
        answer
            .await
            .map_err(|_| Error::Pool("the read batch ended without an answer".into()))?
    }

    pub(crate) fn statistics(&self) -> ReadBatching {
        ReadBatching {
            reads: self.reads.load(Ordering::Relaxed),
            queries: self.queries.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // A panic while the lock is held cannot leave the queue half-changed (a push or a
        // drain), so a poisoned lock is still safe to use.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs queries until no read is waiting; the slot goes back with the last one.
    async fn flush_until_empty(self: Arc<Self>, mut slot: SlotGuard) {
        while let Some(batch) = slot.next_batch() {
            self.answer(batch).await;
        }
    }

    async fn answer(&self, mut batch: Vec<WaitingRead>) {
        self.reads.fetch_add(batch.len() as u64, Ordering::Relaxed);
        self.queries.fetch_add(1, Ordering::Relaxed);
        if batch.len() == 1 {
            // Alone, the single-row statement: the same plan and cost as before batching.
            if let Some(waiting) = batch.pop() {
                self.answer_alone(waiting).await;
            }
            return;
        }
        match read_many(&self.pool, &batch).await {
            Ok(versions) => {
                for (waiting, version) in batch.into_iter().zip(versions) {
                    let _ = waiting.reply.send(Ok(version));
                }
            }
            // Each read is asked again alone, so each caller gets its own error (errors
            // cannot be cloned).
            Err(_) => {
                for waiting in batch {
                    self.answer_alone(waiting).await;
                }
            }
        }
    }

    async fn answer_alone(&self, waiting: WaitingRead) {
        let result = read::read_current(
            &self.pool,
            waiting.tenant,
            waiting.resource_type,
            &waiting.id,
        )
        .await;
        // The caller may have gone away; nobody is left to tell.
        let _ = waiting.reply.send(result);
    }
}

/// A slot of `MOST_FLUSHES_IN_FLIGHT`, held by whoever runs queries for the queue.
/// Seeing the queue empty and giving the slot back happen under one lock, so a read queued
/// meanwhile either finds a free slot or is drained by the holder: none waits for nobody.
struct SlotGuard {
    batcher: Arc<ReadBatcher>,
    held: bool,
    /// Held by a caller running its own read in place, rather than by a task.
    in_place: bool,
}

impl SlotGuard {
    /// A slot already counted in `flushes_in_flight` by the caller.
    fn held(batcher: Arc<ReadBatcher>, in_place: bool) -> SlotGuard {
        SlotGuard {
            batcher,
            held: true,
            in_place,
        }
    }

    fn into_task(mut self) -> SlotGuard {
        self.in_place = false;
        self
    }

    /// The next reads to query together, or `None` (and the slot given back) when none wait.
    fn next_batch(&mut self) -> Option<Vec<WaitingRead>> {
        let mut queue = self.batcher.lock();
        let take = queue.waiting.len().min(MAX_BATCH);
        if take == 0 {
            queue.flushes_in_flight -= 1;
            self.held = false;
            return None;
        }
        queue.last_query_started = Some(ClockInstant::now());
        Some(queue.waiting.drain(..take).collect())
    }

    /// Gives the slot back unless reads are waiting; true if it did.
    fn release_if_idle(&mut self) -> bool {
        let mut queue = self.batcher.lock();
        if queue.waiting.is_empty() {
            queue.flushes_in_flight -= 1;
            self.held = false;
        }
        !self.held
    }
}

/// A holder that ends early gives its slot back. A caller running its read in place ends
/// early when its client goes away; reads may have queued behind it meanwhile, so a task takes
/// them on. A task ends early only when the runtime shuts down (restarting then would never
/// end) or by a panic; reads queued then are taken by the next read that arrives.
impl Drop for SlotGuard {
    fn drop(&mut self) {
        if !self.held {
            return;
        }
        self.held = false;
        let restart = {
            let mut queue = self.batcher.lock();
            let restart = self.in_place && !queue.waiting.is_empty();
            if !restart {
                queue.flushes_in_flight -= 1;
            }
            restart
        };
        if restart {
            let slot = SlotGuard::held(Arc::clone(&self.batcher), false);
            tokio::spawn(Arc::clone(&self.batcher).flush_until_empty(slot));
        }
    }
}

/// One statement for many reads; the answer has one entry per read, in order.
async fn read_many(
    pool: &Pool,
    batch: &[WaitingRead],
) -> Result<Vec<Option<StoredVersion>>, Error> {
    let tenants: Vec<i32> = batch.iter().map(|read| read.tenant.get()).collect();
    let types: Vec<&str> = batch
        .iter()
        .map(|read| read.resource_type.as_str())
        .collect();
    let ids: Vec<&str> = batch.iter().map(|read| read.id.as_str()).collect();
    let client = crate::connection(pool).await?;
    let statement = client.prepare_cached(READ_MANY).await?;
    // Left to choose, PostgreSQL planned the statement again for every batch: it sees the
    // arrays' lengths in a plan for the values and so costs a batch of six below the generic
    // plan's guess of ten rows. Planning took twice as long as running it (docs/benchmarks.md,
    // "Batched reads and writes planned once").
    let keys: [&(dyn ToSql + Sync); 3] = [&tenants, &types, &ids];
    let query = client.query(&statement, &keys);
    let rows = pool::in_planning_mode(&client, Planning::GenericForced, query).await?;
    let mut versions: Vec<Option<StoredVersion>> = vec![None; batch.len()];
    for row in rows {
        let position: i64 = row.get(0);
        if let Some(slot) = usize::try_from(position - 1)
            .ok()
            .and_then(|index| versions.get_mut(index))
        {
            *slot = Some(read::stored_version(&row, 1));
        }
    }
    Ok(versions)
}

#[cfg(all(test, feature = "testing"))]
mod planning_tests {
    use super::*;

    fn waiting(id: &str) -> WaitingRead {
        WaitingRead {
            tenant: TenantKey::DEFAULT,
            resource_type: ResourceType::parse("Patient").expect("a type"),
            id: Id::parse(id).expect("an id"),
            reply: oneshot::channel().0,
        }
    }

    // Planned for each batch's values, the statement cost twice its own execution
    // (docs/benchmarks.md, "Batched reads and writes planned once").
    #[tokio::test]
    async fn batches_of_any_size_share_one_generic_plan() {
        let pool = crate::testing::migrated_pool_of_one().await;
        for size in 2..12 {
            let batch: Vec<WaitingRead> = (0..size).map(|n| waiting(&format!("p{n}"))).collect();
            let found = read_many(&pool, &batch).await.expect("a batch read");
            assert_eq!(found.len(), size, "one answer per read");
            assert!(found.iter().all(Option::is_none), "nothing was written");
        }
        let (generic, custom) = crate::testing::plans_made(&pool, READ_MANY).await;
        assert_eq!(
            (generic, custom),
            (10, 0),
            "plans of the ten batches: generic, custom"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(flushes_in_flight: usize, started_ago: Option<Duration>, now: ClockInstant) -> Queue {
        Queue {
            waiting: Vec::new(),
            flushes_in_flight,
            last_query_started: started_ago.map(|ago| now - ago),
        }
    }

    #[test]
    fn a_read_on_a_quiet_batcher_starts_its_own_query() {
        let now = ClockInstant::now();
        assert!(queue(0, None, now).may_start_flush(now));
    }

    #[test]
    fn a_read_waits_for_the_next_query_while_the_running_one_is_young() {
        let now = ClockInstant::now();
        assert!(!queue(1, Some(Duration::from_micros(300)), now).may_start_flush(now));
    }

    #[test]
    fn a_read_behind_a_slow_query_starts_another_up_to_the_most() {
        let now = ClockInstant::now();
        let slow = Some(SLOW_QUERY + Duration::from_millis(1));
        assert!(queue(1, slow, now).may_start_flush(now));
        assert!(queue(MOST_FLUSHES_IN_FLIGHT - 1, slow, now).may_start_flush(now));
        assert!(!queue(MOST_FLUSHES_IN_FLIGHT, slow, now).may_start_flush(now));
    }
}
