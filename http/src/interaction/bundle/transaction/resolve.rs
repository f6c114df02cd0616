//! The resources a transaction's conditional entries and conditional references act on
//! (step 3), and the identity rule between entries (step 5).
//! Spec: https://hl7.org/fhir/R4/http.html#trules, bundle.html#references

use std::collections::HashMap;

use engine::bundle::conditional_references;
use engine::{Id, ResourceType};
use storage::Transaction;

use crate::error::ApiError;
use crate::interaction::conditional::{too_many_matches, Condition};
use crate::interaction::delete::conditional_delete_targets;

use super::entry::{claimed_id, Entry, Interaction, Target};

/// An entry's interaction once its conditions are resolved.
pub(super) enum Resolved {
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
        /// A conditional update whose criteria matched nothing: `id` (the body's, or a new
        /// one) must not belong to a live resource the criteria did not pick.
        unmatched: bool,
    },
    Patch {
        id: Id,
    },
    /// Deletions of every match (a conditional delete may match several, or none).
    Delete {
        ids: Vec<Id>,
    },
}

/// The conditional references (`Patient?identifier=…`) in the entries' resources, each with
/// the first entry that holds it and its parsed criteria.
pub(super) fn conditional_reference_conditions(
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
            let resource_type = crate::interaction::resource_type_from_path(type_name)
                .map_err(|error| error.in_entry(entry.index))?;
            let params = crate::query::decode_form(criteria.as_bytes())
                .map_err(|error| error.in_entry(entry.index))?;
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
pub(super) async fn resolve(
    transaction: &Transaction,
    entries: &[Entry<'_>],
) -> Result<Vec<Resolved>, ApiError> {
    let mut resolved: Vec<Option<Resolved>> = entries.iter().map(|_| None).collect();
    let mut deleted: Vec<(ResourceType, String)> = Vec::new();
    for (entry, slot) in entries.iter().zip(resolved.iter_mut()) {
        if let Interaction::Delete { target, .. } = &entry.interaction {
            let ids = match target {
                Target::Id(id) => vec![id.clone()],
                Target::Condition(condition) => conditional_delete_targets(transaction, condition)
                    .await
                    .map_err(|error| error.in_entry(entry.index))?,
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
                    _ => return Err(at(too_many_matches(condition, "a conditional create"))),
                },
            },
            Interaction::Update {
                target, resource, ..
            } => match target {
                Target::Id(id) => Resolved::Update {
                    id: id.clone(),
                    unmatched: false,
                },
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
                            unmatched: true,
                        },
                        [id] => Resolved::Update {
                            id: id.clone(),
                            unmatched: false,
                        },
                        _ => return Err(at(too_many_matches(condition, "a conditional update"))),
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
                        _ => return Err(at(too_many_matches(condition, "a conditional patch"))),
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
pub(super) async fn live_matches(
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
pub(super) async fn single_match(
    transaction: &Transaction,
    condition: &Condition,
) -> Result<Id, ApiError> {
    let matches = condition.matches_in(transaction, 1).await?;
    match matches.as_slice() {
        [found] => Ok(Id::parse(&found.id)?),
        [] => Err(ApiError::not_found(format!(
            "The conditional reference {} matches no resource",
            condition.describe()
        ))),
        _ => Err(too_many_matches(condition, "a conditional reference")),
    }
}

/// Step 5, the spec's identity rule: two entries that touch the same resource fail the
/// transaction (http.html#trules).
pub(super) fn refuse_repeated_targets(
    entries: &[Entry<'_>],
    resolved: &[Resolved],
) -> Result<(), ApiError> {
    let mut seen: HashMap<(ResourceType, &str), usize> = HashMap::new();
    // Conditional creates and updates that matched nothing, by their criteria: two of them
    // would each create a resource the other's criteria match ("create only if none
    // exists"), so they overlap as much as two entries on one id do.
    let mut creating: HashMap<(ResourceType, String), usize> = HashMap::new();
    for (entry, resolved) in entries.iter().zip(resolved) {
        let condition = match (&entry.interaction, resolved) {
            (
                Interaction::Create {
                    if_none_exist: Some(condition),
                    ..
                },
                Resolved::Create { .. },
            )
            | (
                Interaction::Update {
                    target: Target::Condition(condition),
                    ..
                },
                Resolved::Update {
                    unmatched: true, ..
                },
            ) => Some(condition),
            _ => None,
        };
        if let Some(condition) = condition {
            if let Some(first) = creating.insert(condition.lock_key(), entry.index) {
                return Err(ApiError::invalid(format!(
                    "entries {first} and {} would both create a resource matching {}; a \
                     transaction may create one",
                    entry.index,
                    condition.describe()
                ))
                .in_entry(entry.index));
            }
        }
    }
    for (entry, resolved) in entries.iter().zip(resolved) {
        let Some(resource_type) = entry.resource_type else {
            continue;
        };
        let ids: Vec<&Id> = match resolved {
            Resolved::Create { id }
            | Resolved::Existing { id }
            | Resolved::Update { id, .. }
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
