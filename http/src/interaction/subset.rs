//! `_summary` and `_elements` on read and vread: the general parameters a client may send
//! with any interaction that returns a resource, applied as search applies them.
//! Spec: https://hl7.org/fhir/R4/http.html#general, https://hl7.org/fhir/R4/search.html#summary

use bytes::Bytes;
use engine::search::{parse_search, Scope, Summary};
use engine::ResourceType;

use crate::error::ApiError;
use crate::query::QueryParams;

/// `body` cut down to what `_summary` or `_elements` in `query` ask for, tagged SUBSETTED;
/// `body` itself when neither is there (the common case costs two lookups in the query).
///
/// # Errors
/// A 400 naming the parameter for a value search would also refuse (`_summary=some`).
pub(crate) fn subset_for_read(
    query: &QueryParams,
    resource_type: ResourceType,
    body: Bytes,
) -> Result<Bytes, ApiError> {
    if query.first("_summary").is_none() && query.first("_elements").is_none() {
        return Ok(body);
    }
    let asked: Vec<(String, String)> = query
        .iter()
        .filter(|(name, _)| matches!(*name, "_summary" | "_elements"))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    let parsed = parse_search(Scope::Type(resource_type), &asked, true)?;
    if parsed.summary == Summary::Count {
        return Err(ApiError::invalid(
            "_summary=count applies to searches, not to reading one resource",
        ));
    }
    Ok(
        match engine::search::subset(&body, parsed.summary, &parsed.elements) {
            Some(subset) => Bytes::from(subset),
            None => body,
        },
    )
}
