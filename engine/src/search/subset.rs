//! `_summary` and `_elements`: the only case where search parses a stored resource on the
//! way out, to drop the elements the client did not ask for and mark the result SUBSETTED
//! (`_summary=true`, which reads the definitions' summary flags, is in `summary.rs`).
//! Spec: https://hl7.org/fhir/R4/search.html#summary and #elements

use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value};

use super::summary::write_summary;
use super::Summary;
use crate::definitions::{children, ElementDefinition};
use crate::json::member::resolve;

/// Elements every subset keeps besides the mandatory ones: these let a client identify and
/// version what it got, and `implicitRules` changes how the rest must be read.
const ALWAYS_KEPT: &[&str] = &["resourceType", "id", "meta", "implicitRules"];

/// The tag the spec requires on a resource that is not complete.
const SUBSETTED: &str = r#"{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"SUBSETTED","display":"subsetted"}"#;

/// The subset of `stored` that `summary` and `elements` ask for, or `None` when the whole
/// resource is wanted (the caller then writes the stored bytes unchanged).
///
/// `_elements` and `_summary=text` keep the resource's mandatory top-level elements too
/// (`min` >= 1, such as `Observation.status` and `code`): search.html#elements says servers
/// "SHOULD always return mandatory elements", and #summary lists "only top-level mandatory
/// elements" beside the text. An element asked for by the name of a choice (`value`) keeps
/// whichever type the resource has (`valueQuantity`).
pub fn subset(stored: &[u8], summary: Summary, elements: &[String]) -> Option<Vec<u8>> {
    type Keep<'a> = Box<dyn Fn(&str, Option<&ElementDefinition>) -> bool + 'a>;
    let keep: Keep = if !elements.is_empty() {
        Box::new(|name: &str, element: Option<&ElementDefinition>| {
            elements.iter().any(|wanted| {
                wanted == name || element.is_some_and(|element| element.name == wanted)
            })
        })
    } else {
        match summary {
            Summary::False | Summary::Count => return None,
            Summary::True => {
                let value: Value = sonic_rs::from_slice(stored).ok()?;
                let mut out = Vec::with_capacity(stored.len());
                write_summary(value.as_object()?, &mut out)?;
                return Some(out);
            }
            Summary::Data => Box::new(|name: &str, _| name != "text"),
            Summary::Text => Box::new(|name: &str, _| name == "text"),
        }
    };
    let value: Value = sonic_rs::from_slice(stored).ok()?;
    let object = value.as_object()?;
    let listed = object
        .get(&"resourceType")
        .and_then(|name| name.as_str())
        .and_then(children);
    let mut out = Vec::with_capacity(stored.len());
    out.push(b'{');
    let mut first = true;
    let mut tagged = false;
    for (name, member) in object.iter() {
        let element = listed
            .and_then(|listed| resolve(listed, name).ok())
            .map(|member| member.element);
        let mandatory = element.is_some_and(|element| element.required);
        if !(ALWAYS_KEPT.contains(&name) || mandatory || keep(name, element)) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(crate::json_string(name).as_bytes());
        out.push(b':');
        if name == "meta" {
            write_meta_with_subsetted(member, &mut out);
            tagged = true;
        } else {
            out.extend_from_slice(sonic_rs::to_string(member).ok()?.as_bytes());
        }
    }
    // A resource without `meta` (the CapabilityStatement, generated) gets one for the tag.
    if !tagged {
        out.extend_from_slice(if first { b"\"meta\":" } else { b",\"meta\":" });
        write_subsetted_meta(&mut out);
    }
    out.push(b'}');
    Some(out)
}

/// Writes a `meta` holding the SUBSETTED tag alone, for a resource that had none.
pub(super) fn write_subsetted_meta(out: &mut Vec<u8>) {
    out.extend_from_slice(br#"{"tag":["#);
    out.extend_from_slice(SUBSETTED.as_bytes());
    out.extend_from_slice(b"]}");
}

/// Writes `meta` with the SUBSETTED tag added to its `tag`s.
pub(super) fn write_meta_with_subsetted(meta: &Value, out: &mut Vec<u8>) {
    out.push(b'{');
    let mut wrote_tag = false;
    if let Some(object) = meta.as_object() {
        for (index, (name, member)) in object.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            out.extend_from_slice(crate::json_string(name).as_bytes());
            out.push(b':');
            if name == "tag" {
                wrote_tag = true;
                let existing = sonic_rs::to_string(member).unwrap_or_else(|_| "[]".into());
                let inner = existing.trim_start_matches('[').trim_end_matches(']');
                out.push(b'[');
                out.extend_from_slice(inner.as_bytes());
                if !inner.is_empty() {
                    out.push(b',');
                }
                out.extend_from_slice(SUBSETTED.as_bytes());
                out.push(b']');
            } else {
                out.extend_from_slice(sonic_rs::to_string(member).unwrap_or_default().as_bytes());
            }
        }
        if !wrote_tag {
            if !object.is_empty() {
                out.push(b',');
            }
            out.extend_from_slice(br#""tag":["#);
            out.extend_from_slice(SUBSETTED.as_bytes());
            out.push(b']');
        }
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATIENT: &str = r#"{"resourceType":"Patient","id":"p","meta":{"versionId":"1"},"text":{"status":"generated","div":"<div/>"},"active":true,"name":[{"family":"Chalmers"}]}"#;

    #[test]
    fn a_resource_without_meta_gets_one_for_the_subsetted_tag() {
        let statement = br#"{"resourceType":"CapabilityStatement","status":"active","fhirVersion":"4.0.1","kind":"instance","date":"2026","format":["json"]}"#;
        for (summary, elements) in [
            (Summary::False, vec!["fhirVersion".to_owned()]),
            (Summary::True, vec![]),
        ] {
            let out = String::from_utf8(subset(statement, summary, &elements).unwrap()).unwrap();
            let value: Value = sonic_rs::from_str(&out).unwrap();
            assert_eq!(
                value["meta"]["tag"][0]["code"].as_str(),
                Some("SUBSETTED"),
                "{out}"
            );
        }
    }

    fn subset_of(summary: Summary, elements: &[&str]) -> String {
        let elements: Vec<String> = elements
            .iter()
            .map(|element| (*element).to_owned())
            .collect();
        String::from_utf8(subset(PATIENT.as_bytes(), summary, &elements).unwrap()).unwrap()
    }

    #[test]
    fn elements_keep_the_named_ones_and_the_mandatory_ones_and_tag_subsetted() {
        let result = subset_of(Summary::False, &["name"]);
        assert!(
            result.contains(r#""name":[{"family":"Chalmers"}]"#),
            "{result}"
        );
        assert!(
            !result.contains("active") && !result.contains("text"),
            "{result}"
        );
        assert!(
            result.contains(r#""id":"p""#) && result.contains("SUBSETTED"),
            "{result}"
        );
    }

    #[test]
    fn summary_data_drops_the_narrative() {
        let result = subset_of(Summary::Data, &[]);
        assert!(
            !result.contains(r#""text""#) && result.contains("active"),
            "{result}"
        );
    }

    #[test]
    fn summary_text_keeps_only_the_narrative_and_identity() {
        let result = subset_of(Summary::Text, &[]);
        assert!(
            result.contains(r#""text""#) && !result.contains("active"),
            "{result}"
        );
    }

    #[test]
    fn no_subset_asked_means_the_stored_bytes() {
        assert_eq!(subset(PATIENT.as_bytes(), Summary::False, &[]), None);
    }

    const OBSERVATION: &str = r#"{"resourceType":"Observation","id":"o","status":"final","code":{"text":"Glucose"},"text":{"status":"generated","div":"<div/>"},"valueQuantity":{"value":5.4},"note":[{"text":"n"}]}"#;

    fn subset_of_observation(summary: Summary, elements: &[&str]) -> String {
        let elements: Vec<String> = elements.iter().map(|e| (*e).to_owned()).collect();
        String::from_utf8(subset(OBSERVATION.as_bytes(), summary, &elements).unwrap()).unwrap()
    }

    #[test]
    fn elements_keep_mandatory_elements_not_asked_for() {
        let result = subset_of_observation(Summary::False, &["note"]);
        assert!(
            result.contains(r#""status":"final""#)
                && result.contains(r#""code":{"text":"Glucose"}"#),
            "{result}"
        );
        assert!(!result.contains("valueQuantity"), "{result}");
    }

    #[test]
    fn elements_name_a_choice_without_its_type() {
        let result = subset_of_observation(Summary::False, &["value"]);
        assert!(
            result.contains(r#""valueQuantity":{"value":5.4}"#),
            "{result}"
        );
        assert!(!result.contains("note"), "{result}");
    }

    #[test]
    fn summary_text_keeps_the_narrative_and_the_mandatory_elements() {
        let result = subset_of_observation(Summary::Text, &[]);
        assert!(
            result.contains(r#""text":{"#) && result.contains(r#""status":"final""#),
            "{result}"
        );
        assert!(
            !result.contains("valueQuantity") && !result.contains("note"),
            "{result}"
        );
    }
}
