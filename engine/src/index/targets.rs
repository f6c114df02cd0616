//! The local resources a resource refers to through its reference parameters: what
//! `_include` follows, found from the resource itself rather than from its index rows.
//! Spec: https://hl7.org/fhir/R4/search.html#include

use sonic_rs::Value;

use super::{localise_reference, values_of, IndexValue};
use crate::definitions::{search_parameters_for, SearchParamType};
use crate::fhirpath::compiled;
use crate::ResourceType;

/// The `(type, id)` of every local resource `resource` (of type `resource_type`) refers to
/// through the reference parameter `code`, or through each of its type's reference
/// parameters when `code` is `None` (`_include=Type:*`), in the order found, repeats kept.
/// `local_base` is this server's FHIR base: absolute references under it are local.
///
/// These are exactly the targets `extract` indexes for those parameters (the same
/// expressions, the same `values_of`, then [`localise_reference`] with the same base), so
/// following them finds what a lookup of the resource's reference rows would. References
/// with no local target (another server's URL, `urn:uuid:`, a canonical, `#contained`) give
/// nothing.
pub fn reference_targets(
    resource_type: ResourceType,
    resource: &Value,
    code: Option<&str>,
    local_base: Option<&str>,
) -> Vec<(String, String)> {
    let mut targets = Vec::new();
    let mut values = Vec::new();
    let parameters = search_parameters_for(resource_type.as_str()).filter(|definition| {
        definition.kind == SearchParamType::Reference
            && code.is_none_or(|code| definition.code == code)
    });
    for definition in parameters {
        let Ok(parameter) = compiled(definition) else {
            continue;
        };
        for node in parameter.expression.evaluate(resource) {
            values_of(definition.kind, node.value, node.fhir_type, &mut values);
        }
        for mut value in values.drain(..) {
            if let Some(base) = local_base {
                localise_reference(&mut value, base);
            }
            if let IndexValue::Reference {
                target_type: Some(target_type),
                target_id: Some(target_id),
                ..
            } = value
            {
                targets.push((target_type, target_id));
            }
        }
    }
    targets
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::extract;
    use sonic_rs::JsonValueTrait;

    fn parsed(json: &str) -> (ResourceType, Value) {
        let value: Value = sonic_rs::from_str(json).unwrap();
        let kind = ResourceType::parse(value["resourceType"].as_str().unwrap()).unwrap();
        (kind, value)
    }

    const BASE: &str = "http://ember.test/fhir";

    fn targets(json: &str, code: Option<&str>) -> Vec<(String, String)> {
        let (kind, value) = parsed(json);
        reference_targets(kind, &value, code, Some(BASE))
    }

    fn pair(kind: &str, id: &str) -> (String, String) {
        (kind.to_owned(), id.to_owned())
    }

    const REPORT: &str = r##"{"resourceType":"DiagnosticReport","status":"final",
        "code":{"text":"panel"},
        "subject":{"reference":"Patient/p1"},
        "result":[{"reference":"Observation/o1"},{"reference":"Observation/o2/_history/3"},
                  {"reference":"#contained"},{"reference":"urn:uuid:0c3b3d1e-1f7c-4c55-8d4c-2b1e2a1c2f00"},
                  {"reference":"http://ember.test/fhir/Observation/o3"},
                  {"reference":"http://elsewhere.test/fhir/Observation/o4"},
                  {"display":"no reference"}]}"##;

    #[test]
    fn a_parameter_gives_the_local_targets_of_its_references() {
        assert_eq!(
            targets(REPORT, Some("result")),
            [
                pair("Observation", "o1"),
                pair("Observation", "o2"),
                pair("Observation", "o3")
            ]
        );
        assert_eq!(targets(REPORT, Some("subject")), [pair("Patient", "p1")]);
    }

    #[test]
    fn no_parameter_gives_the_targets_of_every_reference_parameter() {
        let all = targets(REPORT, None);
        for expected in [
            pair("Observation", "o1"),
            pair("Observation", "o2"),
            pair("Observation", "o3"),
            pair("Patient", "p1"),
        ] {
            assert!(all.contains(&expected), "{expected:?} missing from {all:?}");
        }
    }

    #[test]
    fn a_parameter_that_is_not_a_reference_or_not_the_types_gives_nothing() {
        assert!(targets(REPORT, Some("status")).is_empty());
        assert!(targets(REPORT, Some("no-such-parameter")).is_empty());
    }

    /// The local targets among `extract`'s values for `value`, localised to `base`, sorted.
    fn indexed_targets(kind: ResourceType, value: &Value, base: &str) -> Vec<(String, String)> {
        let mut indexed: Vec<(String, String)> = extract(kind, value)
            .into_iter()
            .filter(|entry| entry.composite.is_none())
            .filter_map(|mut entry| {
                localise_reference(&mut entry.value, base);
                match entry.value {
                    IndexValue::Reference {
                        target_type: Some(target_type),
                        target_id: Some(target_id),
                        ..
                    } => Some((target_type, target_id)),
                    _ => None,
                }
            })
            .collect();
        indexed.sort();
        indexed
    }

    #[test]
    fn the_targets_are_the_reference_values_extract_indexes() {
        let (kind, value) = parsed(REPORT);
        let mut followed = reference_targets(kind, &value, None, Some(BASE));
        followed.sort();
        assert_eq!(followed, indexed_targets(kind, &value, BASE));
    }

    /// What `_include` follows is what the reference index holds, for every vendored official
    /// example (147 resources, one of each type), with the examples' own base as this
    /// server's so their absolute references are followed too.
    const EXAMPLES_BASE: &str = "http://hl7.org/fhir";

    #[test]
    fn the_targets_of_every_official_example_are_the_ones_extract_indexes() {
        let mut followed_any = 0;
        for (name, text) in crate::json::tests::examples() {
            let (kind, value) = parsed(&text);
            let mut followed = reference_targets(kind, &value, None, Some(EXAMPLES_BASE));
            followed.sort();
            assert_eq!(
                followed,
                indexed_targets(kind, &value, EXAMPLES_BASE),
                "{name}"
            );
            followed_any += usize::from(!followed.is_empty());
        }
        assert!(
            followed_any > 50,
            "only {followed_any} examples refer to anything"
        );
    }
}
