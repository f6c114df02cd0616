//! What `_include` follows from a resource through its reference parameters, found from the
//! resource itself rather than from its index rows: the local resources it refers to by type
//! and id, and the canonical references it makes, which name a resource by its `url`.
//! Spec: https://hl7.org/fhir/R4/search.html#include, references.html#canonical

use sonic_rs::Value;

use super::{localise_reference, values_of, IndexValue};
use crate::definitions::{has_canonical_url, search_parameters_for, SearchParamType};
use crate::fhirpath::compiled;
use crate::ResourceType;

/// Everything one resource's include parameters refer to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IncludeTargets {
    /// `(type, id)` of each local resource referred to, in the order found, repeats kept.
    pub local: Vec<(String, String)>,
    /// Each `canonical` (or `uri`) reference with no local target, once per resource type
    /// the parameter may refer to; and each absolute `Reference` with none, once per
    /// canonical resource type among those.
    pub canonical: Vec<CanonicalTarget>,
}

/// A canonical reference to follow: the resources of `target_type` whose `url` is `url`, and,
/// when the reference names one (`url|version`), whose `version` is `version`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CanonicalTarget {
    pub target_type: ResourceType,
    pub url: String,
    pub version: Option<String>,
}

/// The `(type, id)` of every local resource `resource` (of type `resource_type`) refers to
/// through the reference parameter `code`, or through each of its type's reference
/// parameters when `code` is `None` (`_include=Type:*`), in the order found, repeats kept.
/// `local_base` is this server's FHIR base: absolute references under it are local.
///
/// These are exactly the targets `extract` indexes for those parameters (the same
/// expressions, the same `values_of`, then [`localise_reference`] with the same base), so
/// following them finds what a lookup of the resource's reference rows would. References
/// with no local target (another server's URL, `urn:uuid:`, a canonical, `#contained`) give
/// nothing here; [`include_targets`] also gives the canonical ones.
pub fn reference_targets(
    resource_type: ResourceType,
    resource: &Value,
    code: Option<&str>,
    local_base: Option<&str>,
) -> Vec<(String, String)> {
    include_targets(resource_type, resource, code, local_base).local
}

/// What `_include` follows from `resource` through `code` (every reference parameter of its
/// type when `None`): its local targets, as [`reference_targets`], and its canonical
/// references, which a server resolves by the URL of the resource they name.
pub fn include_targets(
    resource_type: ResourceType,
    resource: &Value,
    code: Option<&str>,
    local_base: Option<&str>,
) -> IncludeTargets {
    let mut targets = IncludeTargets::default();
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
            // A `Reference` may name a canonical resource by its URL too: "resolution can be
            // ... by treating an absolute reference as a canonical URL" (Reference's
            // definition), where the target type has one. Chains and `_has` read it so.
            let named_by_url = matches!(node.fhir_type, "canonical" | "uri");
            values_of(definition.kind, node.value, node.fhir_type, &mut values);
            for mut value in values.drain(..) {
                if let Some(base) = local_base {
                    localise_reference(&mut value, base);
                }
                match value {
                    IndexValue::Reference {
                        target_type: Some(target_type),
                        target_id: Some(target_id),
                        ..
                    } => targets.local.push((target_type, target_id)),
                    IndexValue::Reference {
                        url: Some(url),
                        version,
                        ..
                    } => {
                        let target_types = definition
                            .target
                            .iter()
                            .filter(|name| named_by_url || has_canonical_url(name))
                            .filter_map(|name| ResourceType::parse(name));
                        for target_type in target_types {
                            targets.canonical.push(CanonicalTarget {
                                target_type,
                                url: url.clone(),
                                version: version.clone(),
                            });
                        }
                    }
                    _ => {}
                }
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

    #[test]
    fn a_canonical_reference_is_followed_by_url_and_version_to_the_parameters_target_types() {
        let (kind, value) = parsed(
            r#"{"resourceType":"QuestionnaireResponse","status":"completed",
                "questionnaire":"http://example.org/Questionnaire/intake|2"}"#,
        );
        let followed = include_targets(kind, &value, Some("questionnaire"), Some(BASE));
        assert!(followed.local.is_empty());
        assert_eq!(
            followed.canonical,
            [CanonicalTarget {
                target_type: ResourceType::parse("Questionnaire").unwrap(),
                url: "http://example.org/Questionnaire/intake".to_owned(),
                version: Some("2".to_owned()),
            }]
        );
    }

    #[test]
    fn a_reference_to_another_servers_resource_is_not_followed_by_url() {
        let followed = include_targets(
            parsed(REPORT).0,
            &parsed(REPORT).1,
            Some("result"),
            Some(BASE),
        );
        assert!(followed.canonical.is_empty(), "{:?}", followed.canonical);
    }

    #[test]
    fn an_absolute_reference_is_followed_by_url_to_canonical_resource_types_only() {
        let (kind, value) = parsed(
            r#"{"resourceType":"Task","status":"requested","intent":"order",
                "focus":{"reference":"http://example.org/Questionnaire/intake"}}"#,
        );
        let followed = include_targets(kind, &value, Some("focus"), Some(BASE));
        let types: Vec<&str> = followed
            .canonical
            .iter()
            .map(|target| target.target_type.as_str())
            .collect();
        assert!(types.contains(&"Questionnaire"), "{types:?}");
        assert!(types.contains(&"ValueSet"), "{types:?}");
        assert!(!types.contains(&"Patient"), "{types:?}");
        assert!(!types.contains(&"Device"), "{types:?}");
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
