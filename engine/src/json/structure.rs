//! Structural rules of FHIR JSON that hold for every resource: no `null`, no empty strings,
//! arrays or objects, no duplicate keys, bounded nesting.
//! Spec: https://hl7.org/fhir/R4/json.html

use std::collections::HashSet;

use sonic_rs::{JsonContainerTrait, JsonType, JsonValueTrait, Object, Value};

use crate::Issue;

/// One report is enough to fix a body; a hostile body must not produce a huge OperationOutcome.
const MAX_ISSUES: usize = 50;

enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

/// The walk below recurses once per nesting level; `depth::nests_too_deep` has already
/// refused bodies deeper than `depth::MAX_DEPTH`, which bounds the recursion.
///
/// Checks `resource` and appends one issue per problem, each with its FHIRPath-like location.
pub(super) fn check_structure(resource: &Object, type_name: &str, issues: &mut Vec<Issue>) {
    let mut path = Vec::new();
    check_object(resource, type_name, &mut path, issues);
}

fn check_object<'a>(
    object: &'a Object,
    type_name: &str,
    path: &mut Vec<Segment<'a>>,
    issues: &mut Vec<Issue>,
) {
    let members: Vec<(&'a str, &'a Value)> = object.iter().collect();
    // Resources have a few dozen keys per object, where scanning the earlier keys beats
    // hashing; a hostile object with 100,000 keys must not cost 5·10⁹ comparisons.
    let mut seen = (members.len() > 16).then(|| HashSet::with_capacity(members.len()));
    for (index, (key, value)) in members.iter().enumerate() {
        let duplicate = match &mut seen {
            Some(seen) => !seen.insert(*key),
            None => members[..index].iter().any(|(earlier, _)| earlier == key),
        };
        if duplicate {
            path.push(Segment::Key(key));
            report(
                issues,
                type_name,
                path,
                "structure",
                format!("The key '{key}' appears more than once"),
            );
            path.pop();
            continue;
        }
        path.push(Segment::Key(key));
        if value.is_null() {
            report(
                issues,
                type_name,
                path,
                "structure",
                "null is not allowed in FHIR JSON; leave the element out".into(),
            );
        } else {
            check_value(value, type_name, path, issues);
        }
        path.pop();
    }
}

fn check_value<'a>(
    value: &'a Value,
    type_name: &str,
    path: &mut Vec<Segment<'a>>,
    issues: &mut Vec<Issue>,
) {
    if issues.len() >= MAX_ISSUES {
        return;
    }
    match value.get_type() {
        JsonType::Object => {
            let object = value.as_object().expect("JsonType::Object is an object");
            if object.is_empty() {
                report(
                    issues,
                    type_name,
                    path,
                    "structure",
                    "Empty objects are not allowed in FHIR JSON".into(),
                );
            } else {
                check_object(object, type_name, path, issues);
            }
        }
        JsonType::Array => {
            let array = value.as_array().expect("JsonType::Array is an array");
            if array.is_empty() {
                report(
                    issues,
                    type_name,
                    path,
                    "structure",
                    "Empty arrays are not allowed in FHIR JSON".into(),
                );
            }
            for (index, item) in array.iter().enumerate() {
                // null is allowed inside arrays: it aligns a primitive array with its `_name`
                // extension array (json.html#primitive).
                if !item.is_null() {
                    path.push(Segment::Index(index));
                    check_value(item, type_name, path, issues);
                    path.pop();
                }
            }
        }
        JsonType::String if value.as_str() == Some("") => {
            report(
                issues,
                type_name,
                path,
                "structure",
                "Empty strings are not allowed in FHIR JSON".into(),
            );
        }
        _ => {}
    }
}

fn report(
    issues: &mut Vec<Issue>,
    type_name: &str,
    path: &[Segment<'_>],
    code: &'static str,
    diagnostics: String,
) {
    if issues.len() < MAX_ISSUES {
        issues.push(Issue::error(code, diagnostics).at(expression(type_name, path)));
    }
}

fn expression(type_name: &str, path: &[Segment<'_>]) -> String {
    let mut text = String::from(type_name);
    for segment in path {
        match segment {
            Segment::Key(key) => {
                text.push('.');
                text.push_str(key);
            }
            Segment::Index(index) => {
                text.push('[');
                text.push_str(&index.to_string());
                text.push(']');
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use crate::{prepare_resource, Error, Issue};

    fn issues(body: &str) -> Vec<(String, String)> {
        match prepare_resource(body.as_bytes()) {
            Err(Error::InvalidResource(issues)) => issues
                .into_iter()
                .map(
                    |Issue {
                         diagnostics,
                         expression,
                         ..
                     }| (expression.unwrap_or_default(), diagnostics),
                )
                .collect(),
            other => panic!("expected invalid resource, got {other:?}"),
        }
    }

    #[test]
    fn null_member_is_rejected_with_its_location() {
        assert_eq!(
            issues(r#"{"resourceType":"Patient","name":[{"family":null}]}"#),
            [(
                "Patient.name[0].family".into(),
                "null is not allowed in FHIR JSON; leave the element out".into()
            )]
        );
    }

    #[test]
    fn null_inside_a_primitive_array_is_allowed_for_extension_alignment() {
        let body = r#"{"resourceType":"Patient","name":[{"given":["A",null],"_given":[null,{"id":"x"}]}]}"#;
        assert!(prepare_resource(body.as_bytes()).is_ok());
    }

    #[test]
    fn empty_string_array_and_object_are_each_reported() {
        let found = issues(r#"{"resourceType":"Patient","gender":"","name":[],"text":{}}"#);
        let locations: Vec<&str> = found
            .iter()
            .map(|(location, _)| location.as_str())
            .collect();
        assert_eq!(
            locations,
            ["Patient.gender", "Patient.name", "Patient.text"]
        );
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let found = issues(r#"{"resourceType":"Patient","active":true,"active":false}"#);
        assert_eq!(
            found,
            [(
                "Patient.active".into(),
                "The key 'active' appears more than once".into()
            )]
        );
    }

    #[test]
    fn duplicate_keys_are_found_in_wide_objects_too() {
        let members: String = (0..50_000)
            .map(|index| format!(r#""k{index}":1,"#))
            .collect();
        let body = format!(r#"{{"resourceType":"Basic","extension":[{{{members}"k7":2}}]}}"#);
        let found = issues(&body);
        assert_eq!(
            found,
            [(
                "Basic.extension[0].k7".into(),
                "The key 'k7' appears more than once".into()
            )]
        );
    }

    #[test]
    fn hostile_nesting_is_refused_without_exhausting_the_stack() {
        let depth = 100_000;
        let body = format!(
            r#"{{"resourceType":"Basic","extension":{}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        assert!(prepare_resource(body.as_bytes()).is_err());
    }
}
