//! What each transaction entry writes (step 6): its resource with references rewritten and
//! prepared, its preconditions checked against the locked rows.
//! Spec: https://hl7.org/fhir/R4/http.html#transaction, http.html#concurrency

use std::collections::HashMap;

use engine::bundle::{rewrite_references, unresolved_urns};
use engine::patch::apply_patch;
use engine::{Category, Id, IngestChecks, PreparedResource, ResourceType, VersionId};
use storage::model::{Precondition, WriteAction, WriteRequest, Written};
use storage::LockedResource;

use crate::error::ApiError;

use super::entry::{Entry, Interaction, Target};
use super::resolve::Resolved;

/// Where the transaction's entries and conditional references went (old URL to new
/// `Type/id`), and the base the entry's relative references resolve against.
/// What an entry's resource is prepared with.
#[derive(Clone, Copy)]
pub(super) struct Preparation<'a> {
    /// The entries' new URLs, by fullUrl, that references to them are rewritten to.
    pub(super) targets: &'a HashMap<String, String>,
    /// The base the entry's relative references are resolved under.
    pub(super) base: &'a str,
    /// The checks of ingest every written resource gets.
    pub(super) checks: IngestChecks,
}

/// What an entry does inside the transaction, decided before anything is written.
pub(super) enum EntryPlan {
    Read,
    /// Answered with this existing version (a conditional create that matched).
    Existing(ResourceType, Written),
    /// This many consecutive writes of the batch are the entry's.
    Writes(ResourceType, usize),
}

/// Step 6 for one entry: its resource with references rewritten and prepared, its
/// preconditions checked against the locked rows, and its writes added to `writes`.
pub(super) fn plan_entry(
    entry: &Entry<'_>,
    resolved: Resolved,
    locked: &HashMap<(ResourceType, String), LockedResource>,
    preparation: Preparation<'_>,
    writes: &mut Vec<(ResourceType, WriteRequest)>,
) -> Result<EntryPlan, ApiError> {
    let Some(resource_type) = entry.resource_type else {
        return Ok(EntryPlan::Read);
    };
    let current = |id: &Id| locked.get(&(resource_type, id.as_str().to_owned()));
    let live = |id: &Id| current(id).filter(|version| version.body.is_some());
    let request = match (&entry.interaction, resolved) {
        (_, Resolved::Read) => return Ok(EntryPlan::Read),
        (_, Resolved::Existing { id }) => {
            let version = live(&id).ok_or_else(|| {
                ApiError::new(
                    Category::Conflict,
                    format!(
                        "{resource_type}/{id} was deleted during the conditional create; retry"
                    ),
                )
            })?;
            return Ok(EntryPlan::Existing(
                resource_type,
                Written {
                    id,
                    version_id: version.version_id,
                    last_updated: version.last_updated,
                    body: version.body.clone(),
                },
            ));
        }
        (Interaction::Create { resource, .. }, Resolved::Create { id }) => WriteRequest {
            id,
            action: WriteAction::Create(prepare(resource, resource_type, preparation)?),
        },
        (
            Interaction::Update {
                target,
                resource,
                precondition,
            },
            Resolved::Update { id, unmatched },
        ) => {
            // As for a single conditional update (http.html#cond-update): with no match, a
            // body id in use by a resource the criteria did not match is refused.
            if unmatched && live(&id).is_some() {
                return Err(ApiError::new(
                    Category::Conflict,
                    format!(
                        "Nothing matches the entry's criteria, but {resource_type}/{id} exists; \
                         the body's id must be unused or match"
                    ),
                ));
            }
            let prepared = prepare(resource, resource_type, preparation)?;
            match (prepared.claimed_id(), target) {
                (Some(claimed), _) if claimed != id.as_str() => {
                    return Err(ApiError::invalid(format!(
                        "The resource's id '{claimed}' does not match the resource the entry updates ({resource_type}/{id})"
                    )))
                }
                (None, Target::Id(_)) => {
                    return Err(ApiError::invalid(format!(
                        "The resource must carry the id of the URL ('{id}') in its 'id' element"
                    )))
                }
                _ => {}
            }
            WriteRequest {
                id,
                action: WriteAction::Update {
                    resource: prepared,
                    precondition: *precondition,
                },
            }
        }
        (
            Interaction::Patch {
                format,
                document,
                precondition,
                ..
            },
            Resolved::Patch { id },
        ) => {
            let version = current(&id)
                .ok_or_else(|| ApiError::not_found(format!("{resource_type}/{id} is not known")))?;
            let Some(body) = &version.body else {
                return Err(ApiError::new(
                    Category::Gone,
                    format!("{resource_type}/{id} was deleted; a patch needs a current version"),
                ));
            };
            check_precondition(resource_type, &id, *precondition, Some(version.version_id))?;
            WriteRequest {
                id,
                action: WriteAction::Patch {
                    resource: apply_patch(body, *format, document, preparation.checks)?,
                    patched: version.version_id,
                },
            }
        }
        (Interaction::Delete { precondition, .. }, Resolved::Delete { ids }) => {
            let count = ids.len();
            for id in ids {
                let live_version = live(&id).map(|version| version.version_id);
                check_precondition(resource_type, &id, *precondition, live_version)?;
                writes.push((
                    resource_type,
                    WriteRequest {
                        id,
                        action: WriteAction::Delete { precondition: None },
                    },
                ));
            }
            return Ok(EntryPlan::Writes(resource_type, count));
        }
        _ => {
            return Err(ApiError::new(
                Category::Fault,
                "an entry resolved to another interaction",
            ))
        }
    };
    writes.push((resource_type, request));
    Ok(EntryPlan::Writes(resource_type, 1))
}

/// 412 unless `expected` holds of the resource whose live version is `live`.
fn check_precondition(
    resource_type: ResourceType,
    id: &Id,
    expected: Option<Precondition>,
    live: Option<VersionId>,
) -> Result<(), ApiError> {
    match expected {
        Some(expected) if !expected.holds(live) => {
            let live = live.map_or_else(
                || "none live".to_owned(),
                |version| format!("version {version}"),
            );
            Err(ApiError::new(
                Category::PreconditionFailed,
                format!("{resource_type}/{id} is at {live}, not at {expected}"),
            ))
        }
        _ => Ok(()),
    }
}

/// An entry's resource with its references to other entries rewritten, validated and
/// indexed like the body of a single write, and of the type its URL names.
pub(super) fn prepare(
    resource: &str,
    resource_type: ResourceType,
    Preparation {
        targets,
        base,
        checks,
    }: Preparation<'_>,
) -> Result<PreparedResource, ApiError> {
    // A Bundle resource (a document, a message) names its own entries by URN.
    let own_urns_allowed = resource_type.as_str() == "Bundle";
    if let Some(urn) = unresolved_urns(resource, targets)
        .first()
        .filter(|_| !own_urns_allowed)
    {
        return Err(ApiError::invalid(format!(
            "The reference {urn} names no entry of the transaction (no entry has it as its \
             fullUrl), so it could never be resolved"
        )));
    }
    let rewritten = rewrite_references(resource, targets, base);
    let text = rewritten.as_deref().unwrap_or(resource);
    let prepared = engine::prepare_resource_checked(text.as_bytes(), checks)?;
    if prepared.resource_type() != resource_type {
        return Err(ApiError::invalid(format!(
            "The resource is a {} but the entry's URL is for {resource_type}",
            prepared.resource_type()
        )));
    }
    Ok(prepared)
}
