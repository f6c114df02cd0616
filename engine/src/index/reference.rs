//! Reference search values: the target's type and id for local references, the URL (and
//! version) for absolute and canonical ones, and the logical identifier for `:identifier`.
//! Spec: https://hl7.org/fhir/R4/search.html#reference

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
    let absolute = without_version.contains(':');
    let (target_type, target_id) = type_and_id(without_version)
        .map_or((None, None), |(kind, id)| {
            (Some(kind.to_owned()), Some(id.to_owned()))
        });
    if !absolute && target_type.is_none() {
        return None;
    }
    Some(IndexValue::Reference {
        target_type,
        target_id,
        url: absolute.then(|| without_version.to_owned()),
        version,
    })
}

/// The `Type/id` at the end of a relative or RESTful absolute reference, skipping a
/// `/_history/n` suffix.
fn type_and_id(reference: &str) -> Option<(&str, &str)> {
    let mut segments = reference.rsplit('/');
    let mut last = segments.next()?;
    let mut before = segments.next()?;
    if before == "_history" {
        last = segments.next()?;
        before = segments.next()?;
    }
    let kind = ResourceType::parse(before)?;
    crate::Id::parse(last).ok()?;
    Some((kind.as_str(), last))
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

    #[test]
    fn absolute_references_keep_the_url_and_their_type_and_id() {
        assert_eq!(
            reference("http://example.org/fhir/Patient/123"),
            Some(IndexValue::Reference {
                target_type: Some("Patient".into()),
                target_id: Some("123".into()),
                url: Some("http://example.org/fhir/Patient/123".into()),
                version: None,
            })
        );
    }

    #[test]
    fn canonical_references_split_off_their_version() {
        assert_eq!(
            reference("http://hl7.org/fhir/ValueSet/example|4.0.1"),
            Some(IndexValue::Reference {
                target_type: Some("ValueSet".into()),
                target_id: Some("example".into()),
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
