//! Logs and metrics: the tracing subscriber, the Prometheus recorder, and the middleware that
//! counts and times every request by FHIR interaction and status.

use std::sync::OnceLock;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use engine::{operation_outcome, Category, Issue};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;
use crate::error::ErrorCategory;
use crate::state::AppState;

/// Latency buckets in seconds, from a cached read (sub-millisecond) to a large Bundle.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
/// Writes per committed batch; powers of two up to the writer's MAX_BATCH.
const BATCH_SIZE_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1000.0,
];

/// Installs the logger once for the process.
///
/// # Errors
/// A message when `filter` is not a valid tracing filter.
pub fn init_logging(format: LogFormat, filter: &str) -> Result<(), String> {
    let filter = EnvFilter::try_new(filter)
        .map_err(|error| format!("invalid log_level '{filter}': {error}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    installed.map_err(|error| format!("logging could not be set up: {error}"))
}

/// The process-wide Prometheus recorder; `metrics` macros in every crate report to it.
/// Installed once because the `metrics` facade has one global recorder per process.
pub fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .and_then(|builder| {
                    builder.set_buckets_for_metric(
                        Matcher::Full("ember_write_batch_size".into()),
                        BATCH_SIZE_BUCKETS,
                    )
                })
                .expect("bucket lists are non-empty constants")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!(
                    "a metrics recorder was already installed; /metrics may be incomplete"
                );
            }
            handle
        })
        .clone()
}

/// GET /metrics: the Prometheus exposition, with pool usage read at scrape time.
pub async fn metrics_endpoint(State(state): State<AppState>) -> Response {
    let usage = state.ember().routing().for_reads().pool_usage();
    metrics::gauge!("ember_db_pool_connections", "state" => "open").set(usage.size as f64);
    metrics::gauge!("ember_db_pool_connections", "state" => "idle").set(usage.available as f64);
    metrics::gauge!("ember_db_pool_connections", "state" => "max").set(usage.max_size as f64);
    metrics::gauge!("ember_db_pool_waiting_requests").set(usage.waiting as f64);
    let batching = state.ember().routing().for_reads().read_batching();
    metrics::counter!("ember_reads_by_id_total").absolute(batching.reads);
    metrics::counter!("ember_read_by_id_queries_total").absolute(batching.queries);
    state.metrics().run_upkeep();
    let mut response = state.metrics().render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// Counts and times each request, logs failures by category, and makes sure every error
/// response carries an OperationOutcome, including those axum produces itself.
pub async fn track(request: Request, next: Next) -> Response {
    let interaction = interaction(request.method(), request.uri().path());
    let started = Instant::now();
    // Kept for the log lines of failed requests: cloning a method and a URI shares their
    // buffers, where copying the path into a String would allocate on every request.
    let method = request.method().clone();
    let uri = request.uri().clone();
    let mut response = next.run(request).await;
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        match response.extensions().get::<ErrorCategory>() {
            Some(ErrorCategory(Category::Fault)) => {
                tracing::error!(%method, path = uri.path(), status = status.as_u16(), "request failed")
            }
            Some(_) => {
                tracing::debug!(%method, path = uri.path(), status = status.as_u16(), "request refused")
            }
            None => response = outcome_for_bare_error(response).await,
        }
    }
    metrics::counter!("ember_http_requests_total", "interaction" => interaction, "status" => status.as_str().to_owned())
        .increment(1);
    metrics::histogram!("ember_http_request_duration_seconds", "interaction" => interaction)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Wraps an error response that did not come from `ApiError` (an axum rejection, say) in
/// an OperationOutcome that keeps its message.
async fn outcome_for_bare_error(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let message = String::from_utf8_lossy(&text).trim().to_owned();
    let message = if message.is_empty() {
        parts
            .status
            .canonical_reason()
            .unwrap_or("error")
            .to_owned()
    } else {
        message
    };
    let code = if parts.status == StatusCode::NOT_FOUND {
        "not-found"
    } else if parts.status.is_server_error() {
        "exception"
    } else {
        "invalid"
    };
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::negotiation::FHIR_JSON),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(
        parts,
        Body::from(operation_outcome(&[Issue::error(code, message)])),
    )
}

/// The FHIR interaction a request is, from its method and the shape of its path; used as a
/// metrics label, so the set of values is closed.
pub fn interaction(method: &Method, path: &str) -> &'static str {
    let Some(fhir_path) = path.strip_prefix("/fhir") else {
        return match path {
            "/healthz" | "/readyz" => "health",
            "/metrics" => "metrics",
            _ => "unknown",
        };
    };
    // A FHIR path has at most four segments; a fixed array keeps this off the heap.
    let mut segments = [""; 5];
    let mut count = 0;
    for segment in fhir_path.split('/').filter(|segment| !segment.is_empty()) {
        if count == segments.len() {
            return "unknown";
        }
        segments[count] = segment;
        count += 1;
    }
    let segments = &segments[..count];
    match (method.as_str(), segments) {
        ("GET" | "HEAD", ["metadata"]) => "capabilities",
        ("GET" | "HEAD", ["_history"]) => "history-system",
        ("POST", []) => "batch",
        ("GET" | "HEAD", []) | ("POST", ["_search"]) => "search-system",
        ("POST", [_]) => "create",
        ("GET" | "HEAD", [_]) | ("POST", [_, "_search"]) => "search-type",
        ("GET" | "HEAD", [_, "_history"]) => "history-type",
        ("GET" | "HEAD", [_, _]) => "read",
        ("PUT", [_, _]) => "update",
        ("DELETE", [_, _]) => "delete",
        ("PATCH", [_, _]) => "patch",
        ("GET" | "HEAD", [_, _, "_history"]) => "history-instance",
        ("GET" | "HEAD", [_, _, "$everything"]) => "operation-everything",
        ("GET" | "HEAD", [_, _, _]) => "search-compartment",
        ("GET" | "HEAD", [_, _, "_history", _]) => "vread",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interactions_are_named_from_method_and_path_shape() {
        assert_eq!(interaction(&Method::GET, "/fhir/Patient/1"), "read");
        assert_eq!(
            interaction(&Method::GET, "/fhir/Patient/1/_history/2"),
            "vread"
        );
        assert_eq!(
            interaction(&Method::GET, "/fhir/Patient/_history"),
            "history-type"
        );
        assert_eq!(interaction(&Method::POST, "/fhir/Patient"), "create");
        assert_eq!(interaction(&Method::PUT, "/fhir/Patient/1"), "update");
        assert_eq!(interaction(&Method::GET, "/fhir/metadata"), "capabilities");
        assert_eq!(interaction(&Method::GET, "/nope"), "unknown");
    }
}
