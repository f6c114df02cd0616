//! A transaction entry's interaction, read from its method and URL (step 1), and the check
//! that no two entries share a `fullUrl`.
//! Spec: https://hl7.org/fhir/R4/http.html#transaction

use std::borrow::Cow;
use std::collections::HashMap;

use engine::bundle::{Method, RequestEntry};
use engine::patch::PatchFormat;
use engine::{Id, ResourceType};
use storage::model::Precondition;

use crate::error::ApiError;
use crate::interaction::bundle::dispatch::local_path;
use crate::interaction::conditional::Condition;
use crate::interaction::precondition::write_precondition;

/// Which resource an update, patch or delete acts on.
pub(super) enum Target {
    Id(Id),
    Condition(Box<Condition>),
}

/// What an entry asks for, read from its method and URL.
pub(super) enum Interaction<'a> {
    /// GET or HEAD: run after the commit.
    Read,
    Create {
        resource: Cow<'a, str>,
        if_none_exist: Option<Box<Condition>>,
    },
    Update {
        target: Target,
        resource: Cow<'a, str>,
        /// From the entry's `ifMatch` and `ifNoneMatch`.
        precondition: Option<Precondition>,
    },
    Patch {
        target: Target,
        format: PatchFormat,
        document: Vec<u8>,
        /// From the entry's `ifMatch` and `ifNoneMatch`.
        precondition: Option<Precondition>,
    },
    Delete {
        target: Target,
        /// From the entry's `ifMatch` and `ifNoneMatch`.
        precondition: Option<Precondition>,
    },
}

/// An entry of a transaction, read.
pub(super) struct Entry<'a> {
    pub(super) index: usize,
    pub(super) full_url: Option<String>,
    pub(super) resource_type: Option<ResourceType>,
    pub(super) interaction: Interaction<'a>,
}

/// Step 1: an entry's interaction from its method and URL.
pub(super) fn read_entry<'a>(
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
        Some(name) => crate::interaction::resource_type_from_path(name)?,
        None => {
            return Err(ApiError::invalid(format!(
                "'request.url' must name a resource type for a {}",
                request.method.as_str()
            )))
        }
    };
    let params = || crate::query::decode_form(query.as_bytes());
    let target = match (segments.as_slice(), query.is_empty()) {
        ([_], true) if request.method == Method::Post => None,
        ([_], false) if request.method != Method::Post => Some(Target::Condition(Box::new(
            Condition::parse(resource_type, params()?, base)?,
        ))),
        ([_, id], true) if request.method != Method::Post => {
            Some(Target::Id(crate::interaction::id_from_path(id)?))
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
    // Only the writes' conditions: a read entry's `ifNoneMatch` is a conditional read,
    // answered by the read itself (`dispatch.rs`), and read entries returned above.
    let precondition = write_precondition(
        request.if_match.as_deref(),
        request.if_none_match.as_deref(),
    )?;
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
                    Condition::from_if_none_exist_text(resource_type, criteria, base).map(Box::new)
                })
                .transpose()?,
        },
        (Method::Put, Some(target)) => Interaction::Update {
            target,
            resource: resource()?,
            precondition,
        },
        (Method::Patch, Some(target)) => {
            let patch = engine::bundle::entry_patch(&resource()?)?;
            Interaction::Patch {
                target,
                format: patch.format,
                document: patch.document,
                precondition,
            }
        }
        (Method::Delete, Some(target)) => Interaction::Delete {
            target,
            precondition,
        },
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

pub(super) fn entry_condition<'c>(interaction: &'c Interaction<'_>) -> Option<&'c Condition> {
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

/// The `id` a resource claims, read without preparing it (references are not rewritten yet).
pub(super) fn claimed_id(resource: &str) -> Result<Option<Id>, ApiError> {
    engine::bundle::claimed_id(resource)
        .map(|id| Id::parse(&id).map_err(ApiError::from))
        .transpose()
}

/// Two entries with the same `fullUrl` would make references between entries ambiguous.
pub(super) fn refuse_repeated_full_urls(entries: &[Entry<'_>]) -> Result<(), ApiError> {
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
