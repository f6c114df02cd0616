//! Step 7, before the commit: every read entry must be one that succeeds, since a transaction
//! "SHALL either accept all actions … or reject all resources" (http.html#trules). The reads
//! themselves run after the commit, so that they see the transaction's writes; here a read
//! of one resource is checked against the transaction's own view of it (the resource may be
//! created or deleted by this very transaction), and any other read (a search, a type's
//! history) is run once to see that the server accepts it: its errors (an unknown type, a
//! malformed parameter) do not depend on the writes.

use axum::http::StatusCode;
use engine::bundle::RequestEntry;
use engine::{Category, Id, ResourceType, VersionId};
use storage::Transaction;

use super::super::dispatch::{local_path, Dispatcher};
use super::EntryOutcome;
use crate::error::ApiError;

/// Fails with the first read entry that would fail, located in its entry.
pub(super) async fn check_reads(
    transaction: &mut Transaction,
    dispatcher: &Dispatcher,
    base: &str,
    request_entries: &[RequestEntry<'_>],
    outcomes: &[EntryOutcome],
) -> Result<(), ApiError> {
    for (index, (entry, outcome)) in request_entries.iter().zip(outcomes).enumerate() {
        if !matches!(outcome, EntryOutcome::Read) {
            continue;
        }
        check_read(transaction, dispatcher, base, entry)
            .await
            .map_err(|error| error.in_entry(index))?;
    }
    Ok(())
}

/// What a read entry's URL names.
enum ReadTarget {
    /// `Type/id`: the resource, which must be live.
    Resource(ResourceType, Id),
    /// `Type/id/_history/vid`: a version, which must have been written.
    Version(ResourceType, Id, String),
    /// `Type/id/_history`: the resource's history, which must exist (a deleted one has one);
    /// `Type/id/$everything` likewise.
    History(ResourceType, Id),
    /// Anything else under one resource (`$everything`, a compartment search): whether it
    /// succeeds may depend on the transaction's writes and is not checked here.
    UnderResource,
    /// A search, a type's or the system's history, the capabilities: not about one resource.
    Other,
}

async fn check_read(
    transaction: &mut Transaction,
    dispatcher: &Dispatcher,
    base: &str,
    entry: &RequestEntry<'_>,
) -> Result<(), ApiError> {
    let path = local_path(base, &entry.request.url)?;
    let (path, query) = path.split_once('?').unwrap_or((&path, ""));
    let target = read_target(path.trim_start_matches("/fhir").trim_start_matches('/'));
    let (resource_type, id) = match &target {
        ReadTarget::Resource(resource_type, id)
        | ReadTarget::Version(resource_type, id, _)
        | ReadTarget::History(resource_type, id) => (*resource_type, id.clone()),
        ReadTarget::UnderResource if query.is_empty() => return Ok(()),
        ReadTarget::UnderResource => return parameters_accepted(dispatcher, entry).await,
        ReadTarget::Other => return accepted(dispatcher, entry).await,
    };
    let locked = transaction.lock(&[(resource_type, id.clone())]).await?;
    let current = locked.get(&(resource_type, id.as_str().to_owned()));
    let Some(current) = current else {
        return Err(ApiError::not_found(format!(
            "{resource_type}/{id} is not known, so the transaction's read of it fails"
        )));
    };
    let deleted = current.body.is_none();
    match target {
        ReadTarget::Resource(..) if deleted => {
            return Err(ApiError::new(
                Category::Gone,
                format!("{resource_type}/{id} is deleted, so the transaction's read of it fails"),
            ))
        }
        ReadTarget::Version(.., version) => match VersionId::parse(&version) {
            Ok(version) if version == current.version_id && deleted => {
                return Err(ApiError::new(
                    Category::Gone,
                    format!("version {version} of {resource_type}/{id} is its deletion"),
                ))
            }
            Ok(version) if version <= current.version_id => {}
            _ => {
                return Err(ApiError::not_found(format!(
                    "{resource_type}/{id} has no version '{version}'"
                )))
            }
        },
        _ => {}
    }
    // Its parameters (`_summary`, `_since`, `_count`) are refused or not whatever the
    // resource holds.
    if query.is_empty() {
        return Ok(());
    }
    parameters_accepted(dispatcher, entry).await
}

/// Runs the read once and fails only if its parameters are refused (400): under one
/// resource, a 404 or 410 of this early run is the state before the transaction's writes.
async fn parameters_accepted(
    dispatcher: &Dispatcher,
    entry: &RequestEntry<'_>,
) -> Result<(), ApiError> {
    match accepted(dispatcher, entry).await {
        Err(refusal) if refusal.status() == StatusCode::BAD_REQUEST => Err(refusal),
        _ => Ok(()),
    }
}

fn read_target(path: &str) -> ReadTarget {
    let segments: Vec<&str> = path
        .split('/')
        .filter(|segment| !segment.is_empty())
        .collect();
    let resource =
        |type_name: &str, id: &str| Some((ResourceType::parse(type_name)?, Id::parse(id).ok()?));
    match segments.as_slice() {
        [type_name, id] => resource(type_name, id).map_or(ReadTarget::Other, |(kind, id)| {
            ReadTarget::Resource(kind, id)
        }),
        [type_name, id, "_history" | "$everything"] => resource(type_name, id)
            .map_or(ReadTarget::Other, |(kind, id)| {
                ReadTarget::History(kind, id)
            }),
        [type_name, id, "_history", version] => resource(type_name, id)
            .map_or(ReadTarget::Other, |(kind, id)| {
                ReadTarget::Version(kind, id, (*version).to_owned())
            }),
        [type_name, id, ..] if resource(type_name, id).is_some() => ReadTarget::UnderResource,
        _ => ReadTarget::Other,
    }
}

/// Runs the read once and fails with its error, if it has one.
async fn accepted(dispatcher: &Dispatcher, entry: &RequestEntry<'_>) -> Result<(), ApiError> {
    let response = dispatcher.run(entry).await;
    if response.status < 400 {
        return Ok(());
    }
    let diagnostics = response
        .outcome
        .as_deref()
        .and_then(engine::outcome_diagnostics)
        .unwrap_or_else(|| "the read failed".to_owned());
    Err(ApiError::relayed(response.status, diagnostics))
}
