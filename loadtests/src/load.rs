//! `load`: puts a generated dataset into a server. NDJSON files are loaded type by type in
//! reference order, each resource with `PUT [type]/[id]` (update-as-create), many at once over
//! keep-alive connections; a `transactions.ndjson` is posted Bundle by Bundle to the base.
//! Transient refusals (503, 429, dropped connections) are retried with backoff, since a
//! server under bulk load is expected to push back.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::client::{Call, Connection, Failure};
use crate::generate::{BUNDLES_FILE, LOAD_ORDER};
use crate::progress::{report_each_second, Live};
use crate::target::Target;

/// Lines handed to a worker at once: large enough that the shared queue is not contended.
const BATCH: usize = 64;
const ATTEMPTS: u32 = 8;
/// How many failures are kept verbatim for the report.
const KEPT_ERRORS: usize = 5;

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub directory: PathBuf,
    pub concurrency: usize,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Requests that succeeded: resources, or whole transaction Bundles.
    pub loaded: u64,
    /// Resources written: one per resource request, the entries of each transaction.
    pub resources: u64,
    pub failed: u64,
    pub seconds: f64,
    /// The first few failures, verbatim.
    pub errors: Vec<String>,
}

/// Loads the dataset in `options.directory` into `target`.
///
/// # Errors
/// The directory holds neither NDJSON files nor `transactions.ndjson`, or a file cannot be
/// read. Failed requests are counted in the report, not returned as errors.
pub async fn load(target: Arc<Target>, options: &LoadOptions) -> Result<LoadReport, String> {
    let start = Instant::now();
    let mut report = LoadReport::default();
    let bundles = options.directory.join(BUNDLES_FILE);
    if bundles.exists() {
        // The first Bundle holds the shared resources every other one refers to.
        let (shared, rest) = (0..1, 1..usize::MAX);
        load_file(
            &target,
            options,
            &bundles,
            Kind::Transactions,
            shared,
            &mut report,
        )
        .await?;
        load_file(
            &target,
            options,
            &bundles,
            Kind::Transactions,
            rest,
            &mut report,
        )
        .await?;
    } else {
        let files = ndjson_files(&options.directory)?;
        if files.is_empty() {
            return Err(format!(
                "{}: no *.ndjson files and no {BUNDLES_FILE}",
                options.directory.display()
            ));
        }
        for path in files {
            load_file(
                &target,
                options,
                &path,
                Kind::Resources,
                0..usize::MAX,
                &mut report,
            )
            .await?;
        }
    }
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

/// The `*.ndjson` files, those of [`LOAD_ORDER`] first in that order, any others after.
fn ndjson_files(directory: &Path) -> Result<Vec<PathBuf>, String> {
    let mut others: Vec<PathBuf> = std::fs::read_dir(directory)
        .map_err(|error| format!("{}: {error}", directory.display()))?
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "ndjson")
        })
        .collect();
    others.sort();
    let mut ordered = Vec::new();
    for resource_type in LOAD_ORDER {
        let path = directory.join(format!("{resource_type}.ndjson"));
        if let Some(position) = others.iter().position(|other| *other == path) {
            ordered.push(others.remove(position));
        }
    }
    ordered.extend(others);
    Ok(ordered)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Resources,
    Transactions,
}

/// Loads lines `lines` of `path` with `options.concurrency` workers.
async fn load_file(
    target: &Arc<Target>,
    options: &LoadOptions,
    path: &Path,
    kind: Kind,
    lines: std::ops::Range<usize>,
    report: &mut LoadReport,
) -> Result<(), String> {
    let file = std::fs::File::open(path).map_err(|error| format!("{}: {error}", path.display()))?;
    let (sender, receiver) = mpsc::channel::<Vec<Bytes>>(options.concurrency * 2);
    let reader_path = path.to_path_buf();
    // Reading is blocking IO; a plain thread keeps it off the runtime's workers.
    let reader = std::thread::spawn(move || -> Result<(), String> {
        // A Bundle is a request's worth of work on its own: handing out 64 at once would
        // leave most workers idle on a few hundred Bundles.
        let batch_size = if kind == Kind::Transactions { 1 } else { BATCH };
        let mut batch = Vec::with_capacity(batch_size);
        let lines_of_file = std::io::BufReader::with_capacity(1 << 20, file).lines();
        for line in lines_of_file.skip(lines.start).take(lines.len()) {
            let line = line.map_err(|error| format!("{}: {error}", reader_path.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            batch.push(Bytes::from(line));
            if batch.len() == batch_size
                && sender.blocking_send(std::mem::take(&mut batch)).is_err()
            {
                return Ok(());
            }
        }
        if !batch.is_empty() {
            let _ = sender.blocking_send(batch);
        }
        Ok(())
    });
    let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
    let live = Arc::new(Live::default());
    let resources = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let name = path
        .file_name()
        .map_or_else(String::new, |name| name.to_string_lossy().into_owned());
    let progress = report_each_second(format!("load {name}"), Arc::clone(&live));
    let workers: Vec<_> = (0..options.concurrency.max(1))
        .map(|_| {
            let connection = Connection::new(Arc::clone(target), options.timeout);
            tokio::spawn(load_worker(
                connection,
                Arc::clone(target),
                kind,
                Arc::clone(&receiver),
                Arc::clone(&live),
                Arc::clone(&resources),
                Arc::clone(&errors),
            ))
        })
        .collect();
    for worker in workers {
        worker.await.expect("a load worker panicked");
    }
    progress.abort();
    reader
        .join()
        .map_err(|_| "the file reader panicked".to_owned())??;
    let requests = live.requests.load(Ordering::Relaxed);
    let failed = live.failures.load(Ordering::Relaxed);
    report.loaded += requests - failed;
    report.resources += resources.load(Ordering::Relaxed);
    report.failed += failed;
    let mut kept = errors
        .lock()
        .expect("no worker panics holding the error list");
    let room = KEPT_ERRORS.saturating_sub(report.errors.len());
    report.errors.extend(kept.drain(..).take(room));
    eprintln!("load {name}: {} loaded, {failed} failed", requests - failed);
    Ok(())
}

/// The two fields the loader needs from a resource; the rest of the line is skipped unparsed.
#[derive(Deserialize)]
struct Head {
    #[serde(rename = "resourceType")]
    resource_type: String,
    id: String,
}

async fn load_worker(
    mut connection: Connection,
    target: Arc<Target>,
    kind: Kind,
    receiver: Arc<tokio::sync::Mutex<mpsc::Receiver<Vec<Bytes>>>>,
    live: Arc<Live>,
    resources: Arc<AtomicU64>,
    errors: Arc<Mutex<Vec<String>>>,
) {
    loop {
        let Some(batch) = receiver.lock().await.recv().await else {
            return;
        };
        for line in batch {
            let outcome = match call_for(&target, kind, line) {
                Ok(call) => send_with_retries(&mut connection, &call).await,
                Err(error) => Err(error),
            };
            if let Ok(body) = &outcome {
                let written = match kind {
                    Kind::Resources => 1,
                    Kind::Transactions => entries_answered(body),
                };
                resources.fetch_add(written, Ordering::Relaxed);
            }
            if let Err(error) = &outcome {
                let mut kept = errors
                    .lock()
                    .expect("no worker panics holding the error list");
                if kept.len() < KEPT_ERRORS {
                    kept.push(error.clone());
                }
            }
            live.count(outcome.is_err());
        }
    }
}

fn call_for(target: &Target, kind: Kind, line: Bytes) -> Result<Call, String> {
    match kind {
        Kind::Resources => {
            let head: Head = serde_json::from_slice(&line)
                .map_err(|error| format!("a line without resourceType and id: {error}"))?;
            let uri = target.uri(&format!("{}/{}", head.resource_type, head.id))?;
            Ok(Call::with_body(Method::PUT, uri, line, &[200, 201]))
        }
        Kind::Transactions => Ok(Call::with_body(Method::POST, target.uri("")?, line, &[200])),
    }
}

/// The entries a transaction-response answers: each has exactly one `response` element.
fn entries_answered(body: &[u8]) -> u64 {
    let needle = br#""response":{"#;
    body.windows(needle.len())
        .filter(|window| window == needle)
        .count() as u64
}

/// Sends `call` until it succeeds or fails for good; returns the response body.
async fn send_with_retries(connection: &mut Connection, call: &Call) -> Result<Bytes, String> {
    let mut backoff = Duration::from_millis(50);
    for attempt in 1..=ATTEMPTS {
        let failure = match connection.send(call).await {
            Ok(reply) if call.expect.contains(&reply.status) => return Ok(reply.body),
            Ok(reply) => {
                let transient = matches!(reply.status, 429 | 503);
                if !transient || attempt == ATTEMPTS {
                    return Err(format!(
                        "{} {}: {} {}",
                        call.method,
                        call.uri,
                        reply.status,
                        String::from_utf8_lossy(&reply.body[..reply.body.len().min(300)])
                    ));
                }
                Failure::Status(reply.status)
            }
            Err(failure) => failure,
        };
        if attempt == ATTEMPTS {
            return Err(format!("{} {}: {failure}", call.method, call.uri));
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
    Err(format!("{} {}: gave up", call.method, call.uri))
}
