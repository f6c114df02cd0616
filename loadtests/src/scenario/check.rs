//! Judging answers before timing: a resource of the expected type and id, a Bundle of the
//! expected type and the ids it holds.

use serde_json::Value;

use super::Refusal;
use crate::client::Reply;

/// The id of the resource a create answered with: from `Location` (`…/[type]/[id]/_history/
/// [vid]`), or else from the body.
pub(crate) fn id_from_reply(reply: &Reply, resource_type: &str) -> Option<String> {
    let from_location = reply.location.as_ref().and_then(|location| {
        let location = location.to_str().ok()?;
        let marker = format!("{resource_type}/");
        let start = location.rfind(&marker)? + marker.len();
        let rest = &location[start..];
        let id = rest.split('/').next()?;
        // `…/Patient/_history/…` would mean the marker matched the wrong segment.
        (!id.is_empty() && id != "_history").then(|| id.to_owned())
    });
    from_location.or_else(|| {
        let body: Value = serde_json::from_slice(&reply.body).ok()?;
        Some(body.get("id")?.as_str()?.to_owned())
    })
}

/// Refuses unless `resource` is a `resource_type` with id `id`.
pub(crate) fn expect_resource(
    resource: &Value,
    resource_type: &str,
    id: &str,
) -> Result<(), Refusal> {
    let found_type = resource.get("resourceType").and_then(Value::as_str);
    let found_id = resource.get("id").and_then(Value::as_str);
    if found_type == Some(resource_type) && found_id == Some(id) {
        Ok(())
    } else {
        Err(format!(
            "expected {resource_type}/{id}, got resourceType {found_type:?} id {found_id:?}"
        ))
    }
}

/// The entries of a Bundle of type `bundle_type`, refusing anything else.
pub(crate) fn bundle_entries<'a>(
    bundle: &'a Value,
    bundle_type: &str,
) -> Result<&'a [Value], Refusal> {
    let found_type = bundle.get("resourceType").and_then(Value::as_str);
    let found_bundle_type = bundle.get("type").and_then(Value::as_str);
    if found_type != Some("Bundle") || found_bundle_type != Some(bundle_type) {
        return Err(format!(
            "expected a {bundle_type} Bundle, got resourceType {found_type:?} type {found_bundle_type:?}"
        ));
    }
    Ok(bundle
        .get("entry")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice))
}

/// `(resourceType, id, search.mode)` of each entry's resource.
pub(crate) fn entry_keys(entries: &[Value]) -> Vec<(String, String, Option<String>)> {
    entries
        .iter()
        .filter_map(|entry| {
            let resource = entry.get("resource")?;
            Some((
                resource.get("resourceType")?.as_str()?.to_owned(),
                resource.get("id")?.as_str()?.to_owned(),
                entry
                    .pointer("/search/mode")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            ))
        })
        .collect()
}

/// Refuses unless the entries hold `resource_type/id` (with `mode` as search mode, when
/// given).
pub(crate) fn expect_entry(
    entries: &[Value],
    resource_type: &str,
    id: &str,
    mode: Option<&str>,
) -> Result<(), Refusal> {
    let found = entry_keys(entries)
        .iter()
        .any(|(found_type, found_id, found_mode)| {
            found_type == resource_type
                && found_id == id
                && mode.is_none_or(|mode| found_mode.as_deref() == Some(mode))
        });
    if found {
        Ok(())
    } else {
        Err(format!(
            "the Bundle lacks {resource_type}/{id}{}",
            mode.map(|mode| format!(" with search.mode {mode}"))
                .unwrap_or_default()
        ))
    }
}
