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
//! 7. commit, then run the read entries, which see the transaction's writes.
//!
//! Any failure before the commit rolls everything back and answers with the failing
//! entry's status and an OperationOutcome naming its index.

use std::borrow::Cow;
use std::collections::HashMap;

use axum::http::HeaderMap;
use engine::bundle::{conditional_references, rewrite_references, Method, RequestEntry};
use engine::patch::{apply_patch, PatchFormat};
use engine::{Category, Id, PreparedResource, ResourceType, VersionId};
use storage::model::{WriteAction, WriteOutcome, WriteRequest, Written};
use storage::{LockedResource, TenantKey, Transaction};

use super::dispatch::{local_path, Dispatcher};
use crate::bundle::EntryResponse;
use crate::error::ApiError;
use crate::interaction::conditional::{primary, Condition};
use crate::interaction::delete::MAX_CONDITIONAL_DELETES;
use crate::respond::{version_url, write_body, PreferReturn};
use crate::state::AppState;

/// Which resource an update, patch or delete acts on.
enum Target {
    Id(Id),
    Condition(Box<Condition>),
}

/// What an entry asks for, read from its method and URL.
enum Interaction<'a> {
    /// GET or HEAD: run after the commit.
    Read,
    Create {
        resource: Cow<'a, str>,
        if_none_exist: Option<Box<Condition>>,
    },
    Update {
        target: Target,
        resource: Cow<'a, str>,
        if_match: Option<VersionId>,
    },
    Patch {
        target: Target,
        format: PatchFormat,
        document: Vec<u8>,
        if_match: Option<VersionId>,
    },
    Delete {
        target: Target,
        if_match: Option<VersionId>,
    },
}

/// An entry's interaction once its conditions are resolved.
enum Resolved {
    Read,
    /// A new resource under `id`.
    Create {
        id: Id,
    },
    /// `ifNoneExist` matched this resource: nothing is written.
    Existing {
        id: Id,
    },
    /// An update of `id`, or its first version when it does not exist.
    Update {
        id: Id,
    },
    Patch {
        id: Id,
    },
    /// Deletions of every match (a conditional delete may match several, or none).
    Delete {
        ids: Vec<Id>,
    },
}

struct Entry<'a> {
    index: usize,
    full_url: Option<String>,
    resource_type: Option<ResourceType>,
    interaction: Interaction<'a>,
}

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
    let mut transaction = primary(state).begin_transaction(TenantKey::DEFAULT).await?;
    let written = write_entries(&mut transaction, &entries, base).await?;
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
            | Resolved::Update { id }
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
                Resolved::Existing { id } | Resolved::Update { id } | Resolved::Patch { id } => {
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
        let plan = plan_entry(entry, resolved, &locked, &targets, &mut writes)
            .map_err(|error| error.in_entry(entry.index))?;
        plans.push(plan);
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

/// What an entry does inside the transaction, decided before anything is written.
enum EntryPlan {
    Read,
    /// Answered with this existing version (a conditional create that matched).
    Existing(ResourceType, Written),
    /// This many consecutive writes of the batch are the entry's.
    Writes(ResourceType, usize),
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

/// Step 1: an entry's interaction from its method and URL.
fn read_entry<'a>(
    index: usize,
    entry: &'a RequestEntry<'a>,
    base: &str,
) -> Result<Entry<'a>, ApiError> {
    let request = &entry.request;
    let path = local_path(base, &request.url)?;
    let path = path.trim_start_matches("/fhir/");
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let segments: Vec<&str> = path
        .split('/')
        .filter(|segment| !segment.is_empty())
        .collect();
    let read = matches!(request.method, Method::Get | Method::Head);
    if read {
        return Ok(Entry {
            index,
            full_url: entry.full_url.clone(),
            resource_type: None,
            interaction: Interaction::Read,
        });
    }
    let resource_type = match segments.first() {
        Some(name) => super::super::resource_type_from_path(name)?,
        None => {
            return Err(ApiError::invalid(format!(
                "'request.url' must name a resource type for a {}",
                request.method.as_str()
            )))
        }
    };
    let params = || -> Vec<(String, String)> {
        form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    };
    let target = match (segments.as_slice(), query.is_empty()) {
        ([_], true) if request.method == Method::Post => None,
        ([_], false) if request.method != Method::Post => Some(Target::Condition(Box::new(
            Condition::parse(resource_type, params(), base)?,
        ))),
        ([_, id], true) if request.method != Method::Post => {
            Some(Target::Id(super::super::id_from_path(id)?))
        }
        _ => {
            return Err(ApiError::invalid(format!(
                "'{} {}' is not an interaction a transaction can hold: POST [type], \
                 PUT/PATCH/DELETE [type]/[id] or [type]?[criteria], GET/HEAD any read or search",
                request.method.as_str(),
                request.url
            )))
        }
    };
    let if_match = request
        .if_match
        .as_deref()
        .map(VersionId::parse_etag)
        .transpose()?;
    let resource = || {
        entry
            .resource
            .clone()
            .ok_or_else(|| ApiError::invalid("the entry has no resource"))
    };
    let interaction = match (request.method, target) {
        (Method::Post, _) => Interaction::Create {
            resource: resource()?,
            if_none_exist: request
                .if_none_exist
                .as_deref()
                .map(|criteria| {
                    let criteria = criteria
                        .rsplit_once('?')
                        .map_or(criteria, |(_, query)| query);
                    let params = form_urlencoded::parse(criteria.as_bytes())
                        .into_owned()
                        .collect();
                    Condition::parse(resource_type, params, base).map(Box::new)
                })
                .transpose()?,
        },
        (Method::Put, Some(target)) => Interaction::Update {
            target,
            resource: resource()?,
            if_match,
        },
        (Method::Patch, Some(target)) => {
            let patch = engine::bundle::entry_patch(&resource()?)?;
            Interaction::Patch {
                target,
                format: patch.format,
                document: patch.document,
                if_match,
            }
        }
        (Method::Delete, Some(target)) => Interaction::Delete { target, if_match },
        _ => {
            return Err(ApiError::invalid(
                "this entry's method and URL do not fit together",
            ))
        }
    };
    Ok(Entry {
        index,
        full_url: entry.full_url.clone(),
        resource_type: Some(resource_type),
        interaction,
    })
}

fn entry_condition<'c>(interaction: &'c Interaction<'_>) -> Option<&'c Condition> {
    match interaction {
        Interaction::Create {
            if_none_exist: Some(condition),
            ..
        }
        | Interaction::Update {
            target: Target::Condition(condition),
            ..
        }
        | Interaction::Patch {
            target: Target::Condition(condition),
            ..
        }
        | Interaction::Delete {
            target: Target::Condition(condition),
            ..
        } => Some(condition.as_ref()),
        _ => None,
    }
}

/// The conditional references (`Patient?identifier=…`) in the entries' resources, each with
/// the first entry that holds it and its parsed criteria.
fn conditional_reference_conditions(
    entries: &[Entry<'_>],
    base: &str,
) -> Result<HashMap<String, (usize, Condition)>, ApiError> {
    let mut conditions = HashMap::new();
    for entry in entries {
        let resource = match &entry.interaction {
            Interaction::Create { resource, .. } | Interaction::Update { resource, .. } => resource,
            _ => continue,
        };
        for reference in conditional_references(resource) {
            if conditions.contains_key(&reference) {
                continue;
            }
            let (type_name, criteria) = reference.split_once('?').unwrap_or((&reference, ""));
            let resource_type = super::super::resource_type_from_path(type_name)
                .map_err(|error| error.in_entry(entry.index))?;
            let params = form_urlencoded::parse(criteria.as_bytes())
                .into_owned()
                .collect();
            let condition = Condition::parse(resource_type, params, base)
                .map_err(|error| error.in_entry(entry.index))?;
            conditions.insert(reference, (entry.index, condition));
        }
    }
    Ok(conditions)
}

/// Step 3: the resources conditional entries act on. Conditional deletes are resolved
/// first, and what they delete is invisible to the entries after them, as processing
/// DELETE before POST and PUT requires.
async fn resolve(
    transaction: &Transaction,
    entries: &[Entry<'_>],
) -> Result<Vec<Resolved>, ApiError> {
    let mut resolved: Vec<Option<Resolved>> = entries.iter().map(|_| None).collect();
    let mut deleted: Vec<(ResourceType, String)> = Vec::new();
    for (entry, slot) in entries.iter().zip(resolved.iter_mut()) {
        if let Interaction::Delete { target, .. } = &entry.interaction {
            let ids = match target {
                Target::Id(id) => vec![id.clone()],
                Target::Condition(condition) => {
                    let matches = condition
                        .matches_in(transaction, MAX_CONDITIONAL_DELETES)
                        .await
                        .map_err(|error| error.in_entry(entry.index))?;
                    if matches.len() > MAX_CONDITIONAL_DELETES {
                        return Err(ApiError::new(
                            Category::PreconditionFailed,
                            format!(
                                "The criteria {} match more than {MAX_CONDITIONAL_DELETES} resources",
                                condition.describe()
                            ),
                        )
                        .in_entry(entry.index));
                    }
                    matches
                        .iter()
                        .map(|found| Id::parse(&found.id))
                        .collect::<Result<_, _>>()?
                }
            };
            if let Some(resource_type) = entry.resource_type {
                deleted.extend(ids.iter().map(|id| (resource_type, id.as_str().to_owned())));
            }
            *slot = Some(Resolved::Delete { ids });
        }
    }
    for (entry, slot) in entries.iter().zip(resolved.iter_mut()) {
        if slot.is_some() {
            continue;
        }
        let at = |error: ApiError| error.in_entry(entry.index);
        *slot = Some(match &entry.interaction {
            Interaction::Read => Resolved::Read,
            Interaction::Create { if_none_exist, .. } => match if_none_exist {
                None => Resolved::Create { id: Id::generate() },
                Some(condition) => match live_matches(transaction, condition, &deleted)
                    .await
                    .map_err(at)?
                    .as_slice()
                {
                    [] => Resolved::Create { id: Id::generate() },
                    [id] => Resolved::Existing { id: id.clone() },
                    _ => return Err(at(too_many(condition, "a conditional create"))),
                },
            },
            Interaction::Update {
                target, resource, ..
            } => match target {
                Target::Id(id) => Resolved::Update { id: id.clone() },
                Target::Condition(condition) => {
                    match live_matches(transaction, condition, &deleted)
                        .await
                        .map_err(at)?
                        .as_slice()
                    {
                        [] => Resolved::Update {
                            id: claimed_id(resource)
                                .map_err(at)?
                                .unwrap_or_else(Id::generate),
                        },
                        [id] => Resolved::Update { id: id.clone() },
                        _ => return Err(at(too_many(condition, "a conditional update"))),
                    }
                }
            },
            Interaction::Patch { target, .. } => match target {
                Target::Id(id) => Resolved::Patch { id: id.clone() },
                Target::Condition(condition) => {
                    match live_matches(transaction, condition, &deleted)
                        .await
                        .map_err(at)?
                        .as_slice()
                    {
                        [] => {
                            return Err(at(ApiError::not_found(format!(
                                "No resource matches {}",
                                condition.describe()
                            ))))
                        }
                        [id] => Resolved::Patch { id: id.clone() },
                        _ => return Err(at(too_many(condition, "a conditional patch"))),
                    }
                }
            },
            Interaction::Delete { .. } => unreachable!("resolved in the first pass"),
        });
    }
    Ok(resolved
        .into_iter()
        .map(|slot| slot.unwrap_or(Resolved::Read))
        .collect())
}

/// The resources `condition` matches (up to two, enough to tell one from several), leaving
/// out those the transaction deletes.
async fn live_matches(
    transaction: &Transaction,
    condition: &Condition,
    deleted: &[(ResourceType, String)],
) -> Result<Vec<Id>, ApiError> {
    let resource_type = condition.resource_type();
    let matches = condition.matches_in(transaction, 1 + deleted.len()).await?;
    matches
        .into_iter()
        .filter(|found| !deleted.contains(&(resource_type, found.id.clone())))
        .map(|found| Id::parse(&found.id).map_err(ApiError::from))
        .collect()
}

/// The id of the one resource a conditional reference matches; none or several fail.
async fn single_match(transaction: &Transaction, condition: &Condition) -> Result<Id, ApiError> {
    let matches = condition.matches_in(transaction, 1).await?;
    match matches.as_slice() {
        [found] => Ok(Id::parse(&found.id)?),
        [] => Err(ApiError::not_found(format!(
            "The conditional reference {} matches no resource",
            condition.describe()
        ))),
        _ => Err(too_many(condition, "a conditional reference")),
    }
}

fn too_many(condition: &Condition, what: &str) -> ApiError {
    ApiError::new(
        Category::PreconditionFailed,
        format!(
            "The criteria {} match more than one resource; {what} needs them to match at most one",
            condition.describe()
        ),
    )
}

/// The `id` a resource claims, read without preparing it (references are not rewritten yet).
fn claimed_id(resource: &str) -> Result<Option<Id>, ApiError> {
    engine::bundle::claimed_id(resource)
        .map(|id| Id::parse(&id).map_err(ApiError::from))
        .transpose()
}

/// Two entries with the same `fullUrl` would make references between entries ambiguous.
fn refuse_repeated_full_urls(entries: &[Entry<'_>]) -> Result<(), ApiError> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for entry in entries {
        if let Some(full_url) = entry.full_url.as_deref() {
            if matches!(entry.interaction, Interaction::Read) {
                continue;
            }
            if let Some(first) = seen.insert(full_url, entry.index) {
                return Err(ApiError::invalid(format!(
                    "entries {first} and {} have the same fullUrl {full_url}",
                    entry.index
                ))
                .in_entry(entry.index));
            }
        }
    }
    Ok(())
}

/// Step 5, the spec's identity rule: two entries that touch the same resource fail the
/// transaction (http.html#trules).
fn refuse_repeated_targets(entries: &[Entry<'_>], resolved: &[Resolved]) -> Result<(), ApiError> {
    let mut seen: HashMap<(ResourceType, &str), usize> = HashMap::new();
    for (entry, resolved) in entries.iter().zip(resolved) {
        let Some(resource_type) = entry.resource_type else {
            continue;
        };
        let ids: Vec<&Id> = match resolved {
            Resolved::Create { id }
            | Resolved::Existing { id }
            | Resolved::Update { id }
            | Resolved::Patch { id } => vec![id],
            Resolved::Delete { ids } => ids.iter().collect(),
            Resolved::Read => Vec::new(),
        };
        for id in ids {
            if let Some(first) = seen.insert((resource_type, id.as_str()), entry.index) {
                return Err(ApiError::invalid(format!(
                    "entries {first} and {} both act on {resource_type}/{id}; a transaction may \
                     touch each resource once",
                    entry.index
                ))
                .in_entry(entry.index));
            }
        }
    }
    Ok(())
}

/// Step 6 for one entry: its resource with references rewritten and prepared, its
/// preconditions checked against the locked rows, and its writes added to `writes`.
fn plan_entry(
    entry: &Entry<'_>,
    resolved: Resolved,
    locked: &HashMap<(ResourceType, String), LockedResource>,
    targets: &HashMap<String, String>,
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
            action: WriteAction::Create(prepare(resource, resource_type, targets)?),
        },
        (
            Interaction::Update {
                target,
                resource,
                if_match,
            },
            Resolved::Update { id },
        ) => {
            let prepared = prepare(resource, resource_type, targets)?;
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
                    if_match: *if_match,
                },
            }
        }
        (
            Interaction::Patch {
                format,
                document,
                if_match,
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
            check_if_match(resource_type, &id, *if_match, version.version_id)?;
            WriteRequest {
                id,
                action: WriteAction::Update {
                    resource: apply_patch(body, *format, document)?,
                    if_match: Some(version.version_id),
                },
            }
        }
        (Interaction::Delete { if_match, .. }, Resolved::Delete { ids }) => {
            let count = ids.len();
            for id in ids {
                if let Some(expected) = if_match {
                    let current = live(&id).map(|version| version.version_id);
                    if current != Some(*expected) {
                        return Err(ApiError::new(
                            Category::PreconditionFailed,
                            format!(
                                "{resource_type}/{id} is not at the expected version {expected}"
                            ),
                        ));
                    }
                }
                writes.push((
                    resource_type,
                    WriteRequest {
                        id,
                        action: WriteAction::Delete,
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

fn check_if_match(
    resource_type: ResourceType,
    id: &Id,
    expected: Option<VersionId>,
    current: VersionId,
) -> Result<(), ApiError> {
    match expected {
        Some(expected) if expected != current => Err(ApiError::new(
            Category::PreconditionFailed,
            format!(
                "{resource_type}/{id} is at version {current}, not the expected version {expected}"
            ),
        )),
        _ => Ok(()),
    }
}

/// An entry's resource with its references to other entries rewritten, validated and
/// indexed like the body of a single write, and of the type its URL names.
fn prepare(
    resource: &str,
    resource_type: ResourceType,
    targets: &HashMap<String, String>,
) -> Result<PreparedResource, ApiError> {
    let rewritten = rewrite_references(resource, targets);
    let text = rewritten.as_deref().unwrap_or(resource);
    let prepared = engine::prepare_resource(text.as_bytes())?;
    if prepared.resource_type() != resource_type {
        return Err(ApiError::invalid(format!(
            "The resource is a {} but the entry's URL is for {resource_type}",
            prepared.resource_type()
        )));
    }
    Ok(prepared)
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
