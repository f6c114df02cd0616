//! Running one step of a scenario: warm-up then measurement, closed loop (each client sends
//! its next request when the last is answered) or open loop (requests due on a constant-rate
//! schedule, latency from the due time). Each worker owns one connection and one recorder.
// PERF: hot path: every timed request goes through `closed_loop` or `open_loop`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::{Call, Connection, Failure, Reply};
use crate::histogram::Recorder;
use crate::pacer::{self, Slots};
use crate::progress::{report_each_second, Live};
use crate::report::StepResult;
use crate::schedule::{corrected_latency, Schedule};
use crate::target::Target;

/// What one worker sends, call after call. Scripts hold pre-built calls where they can, so
/// producing the next one is a clone of shared buffers.
pub(crate) trait Script: Send {
    fn next_call(&mut self) -> Call;

    /// Sees how each call ended; scripts whose next call depends on an answer (the id a
    /// create returned) learn it here.
    fn observe(&mut self, _call: &Call, _outcome: Result<&Reply, Failure>) {}
}

/// Makes the script of worker `index` of `workers`.
pub(crate) type ScriptFactory = Box<dyn Fn(usize, usize) -> Box<dyn Script> + Send + Sync>;

/// One step: clients (closed) or connections (open), and the rate when open.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepSpec {
    pub(crate) clients: usize,
    pub(crate) rate: Option<f64>,
    pub(crate) warmup: Duration,
    pub(crate) duration: Duration,
}

struct Worker {
    connection: Connection,
    script: Box<dyn Script>,
}

impl Worker {
    async fn exchange(&mut self, call: &Call) -> Result<Reply, Failure> {
        let reply = self.connection.send(call).await?;
        if call.expect.contains(&reply.status) {
            Ok(reply)
        } else {
            Err(Failure::Status(reply.status))
        }
    }

    /// Sends the script's untimed calls until it asks for a timed one; `None` once `end`
    /// has passed (a server that refuses every untimed call must not hold the step forever).
    async fn next_timed_call(&mut self, recorder: &mut Recorder, end: Instant) -> Option<Call> {
        while Instant::now() < end {
            let call = self.script.next_call();
            if call.timed {
                return Some(call);
            }
            let outcome = self.exchange(&call).await;
            if let Err(failure) = &outcome {
                recorder.count_failure(format!("untimed {failure}"));
            }
            self.script
                .observe(&call, outcome.as_ref().map_err(|failure| *failure));
        }
        None
    }
}

/// Runs `spec` with fresh workers from `factory` and returns what the measurement saw.
pub(crate) async fn run_step(
    target: &Arc<Target>,
    timeout: Duration,
    factory: &ScriptFactory,
    spec: StepSpec,
    label: &str,
) -> StepResult {
    let workers: Vec<Worker> = (0..spec.clients)
        .map(|index| Worker {
            connection: Connection::new(Arc::clone(target), timeout),
            script: factory(index, spec.clients),
        })
        .collect();
    let (workers, _) = phase(workers, spec.rate, spec.warmup, format!("{label} warm-up")).await;
    let (_, measured) = phase(workers, spec.rate, spec.duration, label.to_owned()).await;
    measured
        .recorder
        .summarize(spec.clients, spec.rate, measured.elapsed, measured.unsent)
}

struct PhaseOutcome {
    recorder: Recorder,
    elapsed: Duration,
    unsent: u64,
}

async fn phase(
    workers: Vec<Worker>,
    rate: Option<f64>,
    duration: Duration,
    label: String,
) -> (Vec<Worker>, PhaseOutcome) {
    let live = Arc::new(Live::default());
    let start = Instant::now();
    let end = start + duration;
    let progress = report_each_second(label, Arc::clone(&live));
    let schedule = rate.map(|rate| Schedule::new(start, rate));
    let slots = schedule.map(|schedule| {
        let slots = Arc::new(Slots::new(schedule));
        pacer::start(Arc::clone(&slots), end);
        slots
    });
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|worker| {
            let live = Arc::clone(&live);
            match &slots {
                Some(slots) => tokio::spawn(open_loop(worker, Arc::clone(slots), end, live)),
                None => tokio::spawn(closed_loop(worker, end, live)),
            }
        })
        .collect();
    let mut workers = Vec::with_capacity(tasks.len());
    let mut recorder = Recorder::new();
    for task in tasks {
        let (worker, worker_recorder) = task.await.expect("a load worker panicked");
        recorder.merge(&worker_recorder);
        workers.push(worker);
    }
    progress.abort();
    let elapsed = start.elapsed();
    let sent = live.requests.load(Ordering::Relaxed);
    let unsent = schedule.map_or(0, |schedule| schedule.due_before(end).saturating_sub(sent));
    (
        workers,
        PhaseOutcome {
            recorder,
            elapsed,
            unsent,
        },
    )
}

async fn closed_loop(mut worker: Worker, end: Instant, live: Arc<Live>) -> (Worker, Recorder) {
    let mut recorder = Recorder::new();
    while let Some(call) = worker.next_timed_call(&mut recorder, end).await {
        let sent = Instant::now();
        let outcome = worker.exchange(&call).await;
        account(&mut recorder, &live, &outcome, sent.elapsed());
        worker
            .script
            .observe(&call, outcome.as_ref().map_err(|failure| *failure));
    }
    (worker, recorder)
}

/// Takes the next due slot, sends, and charges the latency from the due time: a request
/// that waited for a free connection carries its wait (the coordinated-omission correction).
async fn open_loop(
    mut worker: Worker,
    slots: Arc<Slots>,
    end: Instant,
    live: Arc<Live>,
) -> (Worker, Recorder) {
    let mut recorder = Recorder::new();
    while let Some(call) = worker.next_timed_call(&mut recorder, end).await {
        let Ok(permit) = slots.released.acquire().await else {
            break;
        };
        permit.forget();
        let slot = slots.next.fetch_add(1, Ordering::Relaxed);
        let due = slots.schedule.due(slot);
        let sent = Instant::now();
        if sent >= end {
            break;
        }
        recorder.record_send_lag(sent.saturating_duration_since(due));
        let outcome = worker.exchange(&call).await;
        let answered = Instant::now();
        account(
            &mut recorder,
            &live,
            &outcome,
            corrected_latency(due, answered),
        );
        if outcome.is_ok() {
            recorder.record_from_release(answered.saturating_duration_since(slots.released(slot)));
        }
        worker
            .script
            .observe(&call, outcome.as_ref().map_err(|failure| *failure));
    }
    (worker, recorder)
}

fn account(
    recorder: &mut Recorder,
    live: &Live,
    outcome: &Result<Reply, Failure>,
    latency: Duration,
) {
    match outcome {
        Ok(_) => recorder.record(latency),
        Err(failure) => recorder.record_failure(*failure),
    }
    live.count(outcome.is_err());
}
