//! The ResourceType actor: the write path of one resource type in one tenant.
//!
//! Writes are batched per resource type because a commit (one WAL flush) costs far more than
//! inserting one more row: gathering the writes that arrive while a commit is in flight
//! turns N concurrent writes into a few transactions. We flush as soon as the previous commit
//! returns rather than on a timer, because a timer adds its whole period to p50 at low load
//! (smart batching: idle, a write flushes at once; busy, the next batch fills meanwhile).
//! How many batches may commit at once is MAX_FLUSHES_IN_FLIGHT (measured: one).
// PERF: hot path (every write); see docs/benchmarks.md.

use std::time::Instant as ClockInstant;

use engine::ResourceType;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use storage::model::{WriteOutcome, WriteRequest};
use storage::TenantKey;

use crate::pool_router::RoutingHandle;
use crate::Error;

/// The most writes committed in one transaction. Bounds how long a batch holds its row
/// locks and how large one statement's arrays get: 1,000 small resources are about 1 MB.
pub(crate) const MAX_BATCH: usize = 1_000;

/// The most batches of one writer committing at once.
///
/// One, measured: on 2 cores at 16 closed-loop clients, creates ran at 9,996/s with one
/// batch in flight (8 writes per batch on average), 8,842-9,051/s with two (4.3 per batch)
/// and 8,080-8,605/s with four (2.5 per batch). The machine is CPU-bound, and PostgreSQL's
/// cost per write falls with the batch size faster than overlapping commits gain; see
/// docs/benchmarks.md. More than one stays correct (row locks are taken in id order), so
/// this is a tuning constant, to be measured again on larger machines.
pub const MAX_FLUSHES_IN_FLIGHT: usize = 1;

/// The most writes queued behind the current flush before new ones are refused with 503.
/// At roughly 20,000 writes per second, 20,000 queued writes are one second of work: more
/// would only add latency that clients then time out on.
pub(crate) const MAX_PENDING: usize = 20_000;

pub(crate) type WriteReply = RpcReplyPort<Result<WriteOutcome, Error>>;

/// Everything that can reach a writer.
pub enum WriterMessage {
    /// Apply a write and answer after its commit.
    Write(WriteRequest, WriteReply),
    /// The flush task finished; the next batch may go.
    FlushDone,
    /// Panic on purpose, to test supervision.
    #[cfg(feature = "fault-injection")]
    Crash,
}

impl std::fmt::Display for WriterMessage {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            WriterMessage::Write(..) => "Write",
            WriterMessage::FlushDone => "FlushDone",
            #[cfg(feature = "fault-injection")]
            WriterMessage::Crash => "Crash",
        })
    }
}

pub(crate) struct Writer;

pub(crate) struct WriterArguments {
    pub(crate) tenant: TenantKey,
    pub(crate) resource_type: ResourceType,
    pub(crate) routing: RoutingHandle,
}

pub(crate) struct WriterState {
    tenant: TenantKey,
    resource_type: ResourceType,
    routing: RoutingHandle,
    /// Writes gathered while a flush is in flight, in arrival order. If this actor crashes,
    /// dropping them drops their reply ports, so every waiting caller is answered with an
    /// error (never silence) and none of these writes was applied.
    pending: Vec<(WriteRequest, WriteReply)>,
    /// Batches being committed now, at most MAX_FLUSHES_IN_FLIGHT.
    flushes_in_flight: usize,
}

impl Actor for Writer {
    type Msg = WriterMessage;
    type State = WriterState;
    type Arguments = WriterArguments;

    /// Runs at spawn and at every restart by the Tenant supervisor: starts with no queue.
    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        arguments: WriterArguments,
    ) -> Result<WriterState, ActorProcessingErr> {
        Ok(WriterState {
            tenant: arguments.tenant,
            resource_type: arguments.resource_type,
            routing: arguments.routing,
            pending: Vec::new(),
            flushes_in_flight: 0,
        })
    }

    /// Runs per message, one at a time; never waits on the database itself.
    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut WriterState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            WriterMessage::Write(request, reply) => {
                if state.pending.len() >= MAX_PENDING {
                    metrics::counter!("ember_writer_rejected_total", "resource_type" => state.resource_type.as_str()).increment(1);
                    let _ = reply.send(Err(Error::Overloaded {
                        resource_type: state.resource_type,
                    }));
                    return Ok(());
                }
                state.pending.push((request, reply));
                if state.flushes_in_flight < MAX_FLUSHES_IN_FLIGHT {
                    start_flush(&myself, state);
                }
            }
            WriterMessage::FlushDone => {
                state.flushes_in_flight = state.flushes_in_flight.saturating_sub(1);
                if !state.pending.is_empty() && state.flushes_in_flight < MAX_FLUSHES_IN_FLIGHT {
                    start_flush(&myself, state);
                }
            }
            #[cfg(feature = "fault-injection")]
            WriterMessage::Crash => panic!(
                "fault injection: {} writer crashed on request",
                state.resource_type
            ),
        }
        Ok(())
    }
}

/// Hands the queued writes (up to MAX_BATCH) to a task that commits them and answers each
/// caller. The task runs outside the actor so the actor keeps queueing meanwhile; a crash of
/// the actor does not stop a commit in flight, whose callers are still answered.
fn start_flush(myself: &ActorRef<WriterMessage>, state: &mut WriterState) {
    let take = state.pending.len().min(MAX_BATCH);
    let batch: Vec<(WriteRequest, WriteReply)> = state.pending.drain(..take).collect();
    state.flushes_in_flight += 1;
    let store = state.routing.current().for_writes().clone();
    let tenant = state.tenant;
    let resource_type = state.resource_type;
    let myself = myself.clone();
    tokio::spawn(async move {
        let started = ClockInstant::now();
        let (requests, replies): (Vec<WriteRequest>, Vec<WriteReply>) = batch.into_iter().unzip();
        let results = store.write_batch(tenant, resource_type, &requests).await;
        let labels = [("resource_type", resource_type.as_str())];
        metrics::histogram!("ember_write_batch_size", &labels).record(requests.len() as f64);
        metrics::histogram!("ember_write_batch_seconds", &labels)
            .record(started.elapsed().as_secs_f64());
        for (reply, result) in replies.into_iter().zip(results) {
            let _ = reply.send(result.map_err(Error::from));
        }
        // Fails only if the actor died meanwhile; its replacement starts with none in flight.
        let _ = myself.send_message(WriterMessage::FlushDone);
    });
}
