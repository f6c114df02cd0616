//! Write preconditions from `If-Match` and `If-None-Match` (http.html#concurrency; RFC 9110,
//! sections 13.1.1 and 13.1.2), for updates, patches and deletes, single, conditional or
//! Bundle entries.

use axum::http::{header, HeaderMap};
use engine::VersionId;
use storage::model::Precondition;

use crate::error::ApiError;

/// A write's precondition from its `If-Match` and `If-None-Match` headers (see
/// [`write_precondition`]).
pub(crate) fn precondition(headers: &HeaderMap) -> Result<Option<Precondition>, ApiError> {
    let text = |name: header::HeaderName| {
        headers
            .get(&name)
            .map(|value| {
                value
                    .to_str()
                    .map_err(|_| ApiError::invalid(format!("{name} is not a valid header value")))
            })
            .transpose()
    };
    write_precondition(text(header::IF_MATCH)?, text(header::IF_NONE_MATCH)?)
}

/// A write's precondition: `If-Match` names a version or `*` (it exists); `If-None-Match: *`
/// requires that it does not, so a PUT creates and never overwrites, and a DELETE or PATCH of
/// an existing resource is refused (RFC 9110, section 13.1.2: with `*` the method is
/// performed only when no current representation exists). Both at once, or `If-None-Match`
/// with a tag, is a 400.
pub(crate) fn write_precondition(
    if_match: Option<&str>,
    if_none_match: Option<&str>,
) -> Result<Option<Precondition>, ApiError> {
    match (if_match, if_none_match.map(str::trim)) {
        (None, None) => Ok(None),
        (Some(if_match), None) => if_match_text(if_match).map(Some),
        (None, Some("*")) => Ok(Some(Precondition::Absent)),
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "If-Match and If-None-Match together state contradictory preconditions",
        )),
        (None, Some(_)) => Err(ApiError::invalid(
            "On a write, If-None-Match may only be '*' (only if the resource does not exist)",
        )),
    }
}

/// The precondition an `If-Match` value states: `*` (some version exists), or a list of
/// entity tags one of which must be the live version's (RFC 9110, section 13.1.1). A tag
/// this server never issued (`W/"abc"`, `W/"01"`) is no version's, so it cannot match: a
/// list of only such tags fails every write with 412. A value that is not a list of entity
/// tags is a 400, as is a list naming two versions, which no write can be pinned to.
fn if_match_text(text: &str) -> Result<Precondition, ApiError> {
    if text.trim() == "*" {
        return Ok(Precondition::Exists);
    }
    let mut named: Option<VersionId> = None;
    for tag in entity_tags(text)? {
        let Ok(version) = VersionId::parse_etag(tag) else {
            continue;
        };
        match named {
            Some(earlier) if earlier != version => {
                return Err(ApiError::invalid(format!(
                    "If-Match names versions {earlier} and {version}; a write can require only one"
                )))
            }
            _ => named = Some(version),
        }
    }
    Ok(named.map_or(Precondition::NoIssuedTag, Precondition::Version))
}

/// The entity tags of an `If-Match` list (`W/"1", "abc"`), each with its quotes, or a 400
/// naming what is not one. Empty list elements are skipped, as RFC 9110 (section 5.6.1) asks;
/// a bare version number (`3`) is accepted as the tag `"3"`, as servers commonly do.
fn entity_tags(text: &str) -> Result<Vec<&str>, ApiError> {
    let malformed = || {
        ApiError::invalid(format!(
            "If-Match must be '*' or a list of entity tags such as W/\"3\", not '{text}'"
        ))
    };
    let mut tags = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(|character: char| {
            character == ',' || character.is_ascii_whitespace()
        });
        if rest.is_empty() {
            break;
        }
        let opaque_start = if rest.starts_with("W/") { 2 } else { 0 };
        let end = if rest[opaque_start..].starts_with('"') {
            // The opaque tag runs to its closing quote and may hold commas.
            let closing = rest[opaque_start + 1..].find('"').ok_or_else(malformed)?;
            opaque_start + 1 + closing + 1
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            if VersionId::parse(rest[..end].trim()).is_err() {
                return Err(malformed());
            }
            end
        };
        let (tag, after) = rest.split_at(end);
        let after_trimmed = after.trim_start();
        if !(after_trimmed.is_empty() || after_trimmed.starts_with(',')) {
            return Err(malformed());
        }
        tags.push(tag.trim());
        rest = after;
    }
    if tags.is_empty() {
        return Err(malformed());
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(number: i64) -> Precondition {
        Precondition::Version(VersionId::from_stored(number))
    }

    #[test]
    fn one_tag_names_its_version() {
        assert_eq!(if_match_text(r#"W/"3""#).unwrap(), version(3));
        assert_eq!(if_match_text(r#""3""#).unwrap(), version(3));
        assert_eq!(if_match_text("3").unwrap(), version(3));
    }

    #[test]
    fn a_list_names_the_one_version_among_foreign_tags() {
        assert_eq!(if_match_text(r#"W/"abc", W/"3""#).unwrap(), version(3));
        assert_eq!(if_match_text(r#" W/"3" ,, "x,y" "#).unwrap(), version(3));
        assert_eq!(if_match_text(r#"W/"3", "3""#).unwrap(), version(3));
    }

    #[test]
    fn tags_this_server_never_issued_match_no_version() {
        for text in [r#"W/"abc""#, r#""01""#, r#"W/"01", "x,y""#, r#""""#] {
            assert_eq!(
                if_match_text(text).unwrap(),
                Precondition::NoIssuedTag,
                "{text}"
            );
        }
    }

    #[test]
    fn a_list_naming_two_versions_is_refused() {
        assert!(if_match_text(r#"W/"2", W/"3""#).is_err());
    }

    #[test]
    fn what_is_not_a_list_of_entity_tags_is_refused() {
        for text in ["not-an-etag", r#"W/"3"#, r#"W/"3" x"#, "", " , ", r#"W/3"#] {
            assert!(if_match_text(text).is_err(), "{text}");
        }
    }

    #[test]
    fn star_means_any_existing_version() {
        assert_eq!(if_match_text(" * ").unwrap(), Precondition::Exists);
    }
}
