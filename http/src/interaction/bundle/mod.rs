//! FHIR batch and transaction interactions: POST [base] with a Bundle.
//! Spec: https://hl7.org/fhir/R4/http.html#transaction
//!
//! A batch runs its entries independently, each exactly as the same request sent alone
//! ([`dispatch`]), several at a time so that writes of one type share their writer's
//! commits. A transaction applies all its writes in one database transaction
//! ([`transaction`]).

mod dispatch;
mod transaction;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use engine::bundle::{parse_request_bundle, BundleKind, RequestEntry};
use engine::Category;
use tokio::sync::Semaphore;

use crate::body::read_json_body;
use crate::bundle::{BundleWriter, EntryResponse};
use crate::error::ApiError;
use crate::negotiation::{check_request_content_type, response_format};
use crate::query::QueryParams;
use crate::respond::{base_url, json_response};
use crate::state::AppState;
use dispatch::Dispatcher;

/// Batch entries in flight at once: enough for the writers to batch, few enough that one
/// large batch does not take every database connection.
const BATCH_ENTRIES_IN_FLIGHT: usize = 8;

/// POST [base].
pub(crate) async fn batch_or_transaction(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: QueryParams,
    body: Body,
) -> Result<Response, ApiError> {
    let format = response_format(&headers, &query)?;
    check_request_content_type(&headers)?;
    let bytes = read_json_body(body, &headers, state.settings().max_body_bytes).await?;
    let bundle = parse_request_bundle(&bytes)?;
    let limit = state.settings().max_bundle_entries;
    if bundle.entries.len() > limit {
        return Err(ApiError::new(
            Category::TooLarge,
            format!(
                "The Bundle has {} entries; this server takes at most {limit} (see max_bundle_entries)",
                bundle.entries.len()
            ),
        ));
    }
    let base = base_url(state.settings().base_url.as_deref(), &headers);
    let dispatcher = Dispatcher::new(&state, &headers, &base);
    let responses = match bundle.kind {
        BundleKind::Batch => {
            let in_flight = Semaphore::new(BATCH_ENTRIES_IN_FLIGHT);
            let mut runs = Vec::with_capacity(bundle.entries.len());
            for entry in &bundle.entries {
                runs.push(run_batch_entry(&in_flight, &dispatcher, entry));
            }
            futures_util::future::join_all(runs).await
        }
        BundleKind::Transaction => {
            transaction::run(&state, &headers, &dispatcher, &base, &bundle.entries).await?
        }
    };
    let capacity = responses
        .iter()
        .map(|response| {
            response
                .resource
                .as_ref()
                .map_or(256, |body| body.len() + 256)
        })
        .sum();
    let mut answer = BundleWriter::new(bundle.kind.response_type(), &[], capacity);
    for response in &responses {
        answer.push_response(response);
    }
    json_response(StatusCode::OK, format, answer.finish())
}

/// Runs a batch entry once one of the in-flight places is free.
async fn run_batch_entry(
    in_flight: &Semaphore,
    dispatcher: &Dispatcher,
    entry: &RequestEntry<'_>,
) -> EntryResponse {
    let _place = in_flight.acquire().await;
    dispatcher.run(entry).await
}

/// POST [base] from inside a Bundle: Bundles do not nest.
pub(crate) async fn nested_bundle() -> ApiError {
    ApiError::invalid("A batch or transaction cannot contain another batch or transaction")
}
