//! Transaction Bundles: every write entry applied in one database transaction, or none.
//! Spec: https://hl7.org/fhir/R4/http.html#transaction, http.html#trules, bundle.html#references
//!
//! The steps, each for all entries before the next:
//! 1. read every entry's interaction from its method and URL;
//! 2. open the database transaction and take the advisory locks of every condition (entry
//!    URLs, `ifNoneExist`, conditional references), so conditional single writes on the
//!    same criteria wait for this transaction and the other way round;
//! 3. resolve conditions in the spec's processing order: conditional deletes first, then
//!    creates and updates, which no longer see what the transaction deletes;
//! 4. give every new resource its id and map each entry's `fullUrl` (and each conditional
//!    reference) to the `Type/id` it became;
//! 5. refuse two entries that touch the same resource;
//! 6. lock the current rows of everything updated, patched or deleted, rewrite references
//!    in every resource, prepare it (validation and index extraction, as for a single
//!    write), and write everything with the single-write rules (If-Match, versions);
//! 7. check that every read entry would succeed (`reads.rs`), commit, then run the read
//!    entries, which see the transaction's writes.
//!
//! Any failure before the commit rolls everything back and answers with the failing
//! entry's status and an OperationOutcome naming its index.

mod entry;
mod plan;
mod reads;
mod resolve;

use std::collections::HashMap;

use axum::http::HeaderMap;
use engine::bundle::RequestEntry;
use engine::{Id, ResourceType};
use storage::model::{WriteOutcome, WriteRequest, Written};
use storage::{TenantKey, Transaction};

use super::dispatch::Dispatcher;
use crate::body::localise_references;
use crate::bundle::EntryResponse;
use crate::error::ApiError;
use crate::interaction::conditional::primary;
use crate::respond::{version_url, write_body, PreferReturn};
use crate::state::AppState;

use entry::{entry_condition, read_entry, refuse_repeated_full_urls, Entry};
use plan::{plan_entry, EntryPlan, Preparation};
use resolve::{
    conditional_reference_conditions, refuse_repeated_targets, resolve, single_match, Resolved,
};

/// Runs a transaction; the answer has one response per entry, in the Bundle's order.
pub(crate) async fn run(
    state: &AppState,
    headers: &HeaderMap,
    dispatcher: &Dispatcher,
    base: &str,
    request_entries: &[RequestEntry<'_>],
) -> Result<Vec<EntryResponse>, ApiError> {
    let entries = request_entries
        .iter()
        .enumerate()
        .map(|(index, entry)| read_entry(index, entry, base).map_err(|error| error.in_entry(index)))
        .collect::<Result<Vec<_>, _>>()?;
    refuse_repeated_full_urls(&entries)?;
    let mut transaction = primary(state)
        .begin_transaction(TenantKey::DEFAULT, state.settings().search_time_limit())
        .await?;
    let written = write_entries(
        &mut transaction,
        &entries,
        base,
        state.settings().ingest_checks(),
    )
    .await?;
    reads::check_reads(
        &mut transaction,
        dispatcher,
        base,
        request_entries,
        &written,
    )
    .await?;
    transaction.commit().await?;

    let preference = PreferReturn::from_headers(headers);
    let mut responses = Vec::with_capacity(entries.len());
    for (entry, outcome) in entries.iter().zip(written) {
        let response = match outcome {
            EntryOutcome::Read => dispatcher.run(&request_entries[entry.index]).await,
            EntryOutcome::Written {
                status,
                resource_type,
                written,
            } => write_response(base, preference, status, resource_type, written),
            EntryOutcome::NothingDeleted => EntryResponse {
                status: 204,
                ..EntryResponse::default()
            },
        };
        responses.push(response);
    }
    Ok(responses)
}

/// What became of an entry inside the database transaction.
enum EntryOutcome {
    Read,
    Written {
        status: u16,
        resource_type: ResourceType,
        written: Written,
    },
    NothingDeleted,
}

/// Steps 2 to 6 of the module comment, inside `transaction`.
async fn write_entries(
    transaction: &mut Transaction,
    entries: &[Entry<'_>],
    base: &str,
    checks: engine::IngestChecks,
) -> Result<Vec<EntryOutcome>, ApiError> {
    let references = conditional_reference_conditions(entries, base)?;
    let mut lock_keys: Vec<(ResourceType, String)> = references
        .values()
        .map(|(_, condition)| condition.lock_key())
        .collect();
    for entry in entries {
        if let Some(condition) = entry_condition(&entry.interaction) {
            lock_keys.push(condition.lock_key());
        }
    }
    transaction.lock_conditions(&lock_keys).await?;

    let resolved = resolve(transaction, entries).await?;
    let mut targets: HashMap<String, String> = HashMap::new();
    for (reference, (index, condition)) in &references {
        let found = single_match(transaction, condition)
            .await
            .map_err(|error| error.in_entry(*index))?;
        targets.insert(
            reference.clone(),
            format!("{}/{found}", condition.resource_type()),
        );
    }
    for (entry, resolved) in entries.iter().zip(&resolved) {
        let id = match resolved {
            Resolved::Create { id }
            | Resolved::Existing { id }
            | Resolved::Update { id, .. }
            | Resolved::Patch { id } => id,
            Resolved::Read | Resolved::Delete { .. } => continue,
        };
        if let (Some(full_url), Some(resource_type)) = (&entry.full_url, entry.resource_type) {
            targets.insert(full_url.clone(), format!("{resource_type}/{id}"));
        }
    }
    refuse_repeated_targets(entries, &resolved)?;

    let lock_targets: Vec<(ResourceType, Id)> = entries
        .iter()
        .zip(&resolved)
        .flat_map(|(entry, resolved)| {
            let resource_type = entry.resource_type;
            let ids: Vec<&Id> = match resolved {
                Resolved::Existing { id }
                | Resolved::Update { id, .. }
                | Resolved::Patch { id } => {
                    vec![id]
                }
                Resolved::Delete { ids } => ids.iter().collect(),
                Resolved::Read | Resolved::Create { .. } => Vec::new(),
            };
            ids.into_iter()
                .filter_map(move |id| Some((resource_type?, id.clone())))
        })
        .collect();
    let locked = transaction.lock(&lock_targets).await?;

    let mut writes: Vec<(ResourceType, WriteRequest)> = Vec::new();
    // Per entry: which of `writes` are its own, or what it answers without writing.
    let mut plans: Vec<EntryPlan> = Vec::with_capacity(entries.len());
    for (entry, resolved) in entries.iter().zip(resolved) {
        let entry_base = reference_base(entry.full_url.as_deref(), base);
        let plan = plan_entry(
            entry,
            resolved,
            &locked,
            Preparation {
                targets: &targets,
                base: entry_base,
                checks,
            },
            &mut writes,
        )
        .map_err(|error| error.in_entry(entry.index))?;
        plans.push(plan);
    }
    for (_, request) in &mut writes {
        localise_references(&mut request.action, base);
    }
    let mut results = transaction.write(writes).await?.into_iter();
    let mut failed = None;
    let mut outcomes = Vec::with_capacity(entries.len());
    for (entry, plan) in entries.iter().zip(plans) {
        let outcome = match plan {
            EntryPlan::Read => EntryOutcome::Read,
            EntryPlan::Existing(resource_type, written) => EntryOutcome::Written {
                status: 200,
                resource_type,
                written,
            },
            EntryPlan::Writes(resource_type, count) => {
                let mut last = EntryOutcome::NothingDeleted;
                for result in results.by_ref().take(count) {
                    match result {
                        Ok(outcome) => {
                            if let Some(outcome) = entry_outcome(resource_type, outcome) {
                                last = outcome;
                            }
                        }
                        Err(error) => {
                            failed.get_or_insert(ApiError::from(error).in_entry(entry.index));
                        }
                    }
                }
                last
            }
        };
        outcomes.push(outcome);
    }
    match failed {
        Some(error) => Err(error),
        None => Ok(outcomes),
    }
}

fn entry_outcome(resource_type: ResourceType, outcome: WriteOutcome) -> Option<EntryOutcome> {
    let (status, written) = match outcome {
        WriteOutcome::Created(written) => (201, written),
        WriteOutcome::Updated(written) => (200, written),
        WriteOutcome::Deleted(written) => (204, written),
        WriteOutcome::NothingToDelete => return None,
    };
    Some(EntryOutcome::Written {
        status,
        resource_type,
        written,
    })
}

/// The response of a written (or, for a conditional create, found) entry.
fn write_response(
    base: &str,
    preference: PreferReturn,
    status: u16,
    resource_type: ResourceType,
    written: Written,
) -> EntryResponse {
    let message = match status {
        201 => format!(
            "Created {resource_type}/{} at version {}",
            written.id, written.version_id
        ),
        204 => format!("Deleted {resource_type}/{}", written.id),
        _ => format!(
            "{resource_type}/{} is at version {}",
            written.id, written.version_id
        ),
    };
    let body = write_body(preference, written.body.clone(), &message);
    let is_outcome = preference == PreferReturn::OperationOutcome;
    EntryResponse {
        status,
        full_url: Some(format!("{base}/{resource_type}/{}", written.id)),
        location: Some(version_url(
            base,
            resource_type,
            &written.id,
            written.version_id,
        )),
        etag: Some(written.version_id.etag()),
        last_modified: Some(written.last_updated.to_string()),
        resource: body.clone().filter(|_| !is_outcome),
        outcome: body.filter(|_| is_outcome),
    }
}

/// The base an entry's relative references resolve against (bundle.html#references): the
/// RESTful base of its `fullUrl` (`http://x/fhir` of `http://x/fhir/Patient/a`), else this
/// server's, whose resources such a reference names.
fn reference_base<'a>(full_url: Option<&'a str>, server_base: &'a str) -> &'a str {
    full_url
        .filter(|url| url.starts_with("http://") || url.starts_with("https://"))
        .and_then(|url| {
            let (rest, id) = url.rsplit_once('/')?;
            let (base, type_name) = rest.rsplit_once('/')?;
            (ResourceType::parse(type_name).is_some() && Id::parse(id).is_ok()).then_some(base)
        })
        .unwrap_or(server_base)
}
