//! Reference search values: the target's type and id for local references, the URL (and
//! version) for absolute and canonical ones, and the logical identifier for `:identifier`.
//! Spec: https://hl7.org/fhir/R4/search.html#reference
//!
//! An absolute URL names a resource on this server only when it starts with this server's
//! base, which depends on how the writer reached the server (`http` knows it, extraction does
//! not). So an absolute reference is parsed as another server's, with no local target, and
//! [`localise_reference`] gives the target to those under the base. Without that step
//! `subject=Patient/123` would find an Observation of `http://elsewhere/fhir/Patient/123`,
//! and `_include` would return this server's unrelated Patient/123.

use sonic_rs::{JsonValueTrait, Value};

use super::token::string;
use super::IndexValue;
use crate::ResourceType;

/// Pushes what a `Reference`, `canonical` or `uri` element refers to.
pub(crate) fn references_of(value: &Value, fhir_type: &str, out: &mut Vec<IndexValue>) {
    let reference = match fhir_type {
        "Reference" => {
            if let Some(identifier) = value.get("identifier") {
                if let Some(identifier_value) = string(identifier, "value") {
                    out.push(IndexValue::ReferenceIdentifier {
                        system: string(identifier, "system").map(str::to_owned),
                        value: identifier_value.to_owned(),
                    });
                }
            }
            string(value, "reference")
        }
        _ => value.as_str(),
    };
    if let Some(reference) = reference {
        if let Some(parsed) = parse_reference(reference) {
            out.push(parsed);
        }
    }
}

/// Splits a reference string; `None` for references into the resource itself (`#id`).
///
/// ```
/// use engine::index::{parse_reference, IndexValue};
/// let Some(IndexValue::Reference { target_type, target_id, .. }) = parse_reference("Patient/7/_history/2") else { panic!() };
/// assert_eq!((target_type.as_deref(), target_id.as_deref()), (Some("Patient"), Some("7")));
/// ```
pub fn parse_reference(reference: &str) -> Option<IndexValue> {
    if reference.starts_with('#') || reference.is_empty() {
        return None;
    }
    let (without_version, version) = match reference.split_once('|') {
        Some((url, version)) => (url, Some(version.to_owned())),
        None => (reference, None),
    };
    if without_version.contains(':') {
        return Some(IndexValue::Reference {
            target_type: None,
            target_id: None,
            url: Some(without_version.to_owned()),
            version,
        });
    }
    let (kind, id) = type_and_id(without_version)?;
    Some(IndexValue::Reference {
        target_type: Some(kind.as_str().to_owned()),
        target_id: Some(id.to_owned()),
        url: None,
        version,
    })
}

/// Gives an absolute reference under `base` (this server's FHIR base, no trailing `/`) its
/// local target, as if it had been written relative: `{base}/Patient/1/_history/2` is
/// `Patient/1`. The URL stays, so a search by the absolute URL finds it too.
pub fn localise_reference(value: &mut IndexValue, base: &str) {
    if let IndexValue::Reference {
        target_type: target_type @ None,
        target_id,
        url: Some(url),
        ..
    } = value
    {
        if let Some((kind, id)) = local_target(url, base) {
            *target_type = Some(kind.as_str().to_owned());
            *target_id = Some(id.to_owned());
        }
    }
}

/// The `Type/id` an absolute URL names on the server whose base is `base`, if it does.
pub fn local_target<'a>(url: &'a str, base: &str) -> Option<(ResourceType, &'a str)> {
    let path = url.strip_prefix(base)?.strip_prefix('/')?;
    let segments: Vec<&str> = path.split('/').collect();
    match segments.as_slice() {
        [_, _] | [_, _, "_history", _] => type_and_id(path),
        _ => None,
    }
}

/// The `Type/id` at the end of a relative or RESTful absolute reference, skipping a
/// `/_history/n` suffix.
fn type_and_id(reference: &str) -> Option<(ResourceType, &str)> {
    let mut segments = reference.rsplit('/');
    let mut last = segments.next()?;
    let mut before = segments.next()?;
    if before == "_history" {
        last = segments.next()?;
        before = segments.next()?;
    }
    let kind = ResourceType::parse(before)?;
    crate::Id::parse(last).ok()?;
    Some((kind, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(text: &str) -> Option<IndexValue> {
        parse_reference(text)
    }

    fn local(kind: &str, id: &str) -> IndexValue {
        IndexValue::Reference {
            target_type: Some(kind.into()),
            target_id: Some(id.into()),
            url: None,
            version: None,
        }
    }

    #[test]
    fn relative_references_give_type_and_id() {
        assert_eq!(reference("Patient/123"), Some(local("Patient", "123")));
        assert_eq!(
            reference("Observation/a.b-c/_history/3"),
            Some(local("Observation", "a.b-c"))
        );
    }

    fn absolute(url: &str) -> IndexValue {
        IndexValue::Reference {
            target_type: None,
            target_id: None,
            url: Some(url.into()),
            version: None,
        }
    }

    #[test]
    fn absolute_references_keep_the_url_and_name_no_local_resource() {
        assert_eq!(
            reference("http://example.org/fhir/Patient/123"),
            Some(absolute("http://example.org/fhir/Patient/123"))
        );
    }

    #[test]
    fn absolute_references_under_this_servers_base_are_local() {
        let base = "http://ember.test/fhir";
        let mut values: Vec<IndexValue> = [
            "http://ember.test/fhir/Patient/123",
            "http://ember.test/fhir/Patient/7/_history/2",
            "http://elsewhere.test/fhir/Patient/123",
            "http://ember.test/fhirplus/Patient/123",
            "http://ember.test/fhir/x/Patient/123",
        ]
        .into_iter()
        .filter_map(reference)
        .collect();
        for value in &mut values {
            localise_reference(value, base);
        }
        let targets: Vec<Option<&str>> = values
            .iter()
            .map(|value| match value {
                IndexValue::Reference { target_id, .. } => target_id.as_deref(),
                _ => None,
            })
            .collect();
        assert_eq!(targets, [Some("123"), Some("7"), None, None, None]);
        assert_eq!(
            values[0],
            IndexValue::Reference {
                target_type: Some("Patient".into()),
                target_id: Some("123".into()),
                url: Some("http://ember.test/fhir/Patient/123".into()),
                version: None,
            }
        );
    }

    #[test]
    fn canonical_references_split_off_their_version() {
        assert_eq!(
            reference("http://hl7.org/fhir/ValueSet/example|4.0.1"),
            Some(IndexValue::Reference {
                target_type: None,
                target_id: None,
                url: Some("http://hl7.org/fhir/ValueSet/example".into()),
                version: Some("4.0.1".into()),
            })
        );
    }

    #[test]
    fn contained_and_unknown_type_references_are_not_indexed_as_local() {
        assert_eq!(reference("#p1"), None);
        assert_eq!(reference("Unicorn/1"), None);
        assert!(matches!(
            reference("urn:uuid:0c3b3d1e-1f7c-4c55-8d4c-2b1e2a1c2f00"),
            Some(IndexValue::Reference {
                target_type: None,
                ..
            })
        ));
    }
}
