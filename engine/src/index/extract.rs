//! Extraction: every SearchParameter of a resource's type evaluated against the resource.
//! Spec: https://hl7.org/fhir/R4/searchparameter.html
// PERF: hot path (every create and update); see benches/.

use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value};

use super::{decimal_of, values_of, Amount, CompositePart, IndexEntry, IndexValue};
use crate::definitions::{search_parameter_by_url, search_parameters_for, SearchParamType};
use crate::fhirpath::compiled;
use crate::ResourceType;

/// The index entries of `resource`, a parsed resource of type `resource_type`.
///
/// `_id` and `_lastUpdated` are not extracted: they are columns of the resource row.
/// Parameters whose expression Ember cannot evaluate (listed in docs/search-parameters.md)
/// produce nothing.
pub fn extract(resource_type: ResourceType, resource: &Value) -> Vec<IndexEntry> {
    let mut entries = Vec::new();
    let mut values = Vec::new();
    for definition in search_parameters_for(resource_type.as_str()) {
        match definition.code.as_str() {
            "_id" | "_lastUpdated" => continue,
            "_text" | "_content" => {
                let words = if definition.code == "_text" {
                    narrative_text(resource)
                } else {
                    content_text(resource)
                };
                if !words.is_empty() {
                    entries.push(IndexEntry {
                        param: &definition.code,
                        composite: None,
                        value: IndexValue::Text(words),
                    });
                }
                continue;
            }
            _ => {}
        }
        let Ok(parameter) = compiled(definition) else {
            continue;
        };
        let nodes = parameter.expression.evaluate(resource);
        if definition.kind == SearchParamType::Special {
            for (element, node) in nodes.iter().enumerate() {
                push_position(&mut entries, &definition.code, element, node.value);
            }
            continue;
        }
        if definition.kind != SearchParamType::Composite {
            for node in &nodes {
                values_of(definition.kind, node.value, node.fhir_type, &mut values);
            }
            push_all(&mut entries, &definition.code, None, &mut values);
            continue;
        }
        for (element, node) in nodes.iter().enumerate() {
            let components = parameter.components.iter().zip(&definition.component);
            for (component, (expression, part)) in components.enumerate() {
                let Some(part_definition) = search_parameter_by_url(&part.definition) else {
                    continue;
                };
                for part_node in expression.evaluate_on(node, resource) {
                    values_of(
                        part_definition.kind,
                        part_node.value,
                        part_node.fhir_type,
                        &mut values,
                    );
                }
                let composite = CompositePart {
                    component: u16::try_from(component).unwrap_or(u16::MAX),
                    element: u16::try_from(element).unwrap_or(u16::MAX),
                };
                push_all(&mut entries, &definition.code, Some(composite), &mut values);
            }
        }
    }
    entries
}

/// The words of the narrative (`text.div`), its XHTML tags removed, folded.
fn narrative_text(resource: &Value) -> String {
    let Some(div) = resource
        .get("text")
        .and_then(|text| text.get("div"))
        .and_then(|div| div.as_str())
    else {
        return String::new();
    };
    let mut words = String::with_capacity(div.len());
    let mut in_tag = false;
    for character in div.chars() {
        match character {
            '<' => {
                in_tag = true;
                words.push(' ');
            }
            '>' => in_tag = false,
            _ if !in_tag => words.push(character),
            _ => {}
        }
    }
    super::fold(&words)
}

/// Every string value in the resource but the narrative (searched by `_text`), ids, URLs of
/// extensions and base64-encoded bytes, folded and joined: what `_content` searches. Cut at
/// `CONTENT_LIMIT` bytes, so that a long document is stored, searchable by its beginning.
fn content_text(resource: &Value) -> String {
    fn collect(value: &Value, out: &mut String) {
        // Past the limit, the rest would only be cut off below.
        if out.len() > CONTENT_LIMIT {
            return;
        }
        if let Some(text) = value.as_str() {
            out.push_str(text);
            out.push(' ');
        } else if let Some(items) = value.as_array() {
            for item in items.iter() {
                collect(item, out);
            }
        } else if let Some(object) = value.as_object() {
            for (key, member) in object.iter() {
                let skipped = match key {
                    "id" | "url" | "resourceType" | "meta" => true,
                    // The narrative; a `text` string (CodeableConcept.text, …) is content.
                    "text" => member.is_object(),
                    _ => crate::definitions::base64_member_names().contains(key),
                };
                if !skipped {
                    collect(member, out);
                }
            }
        }
    }
    let mut out = String::new();
    collect(resource, &mut out);
    if out.len() > CONTENT_LIMIT {
        let mut end = CONTENT_LIMIT;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
    super::fold(&out)
}

/// The text of a resource `_content` indexes at most: PostgreSQL refuses a full-text document
/// over 1 MB (`string is too long for tsvector`), which would refuse the resource; a quarter
/// of that keeps any text's document under it.
const CONTENT_LIMIT: usize = 256 * 1024;

/// `Location.position` for `near`, the one special parameter: its latitude and longitude
/// as the two parts of one element, number rows paired like a composite's, so a distance
/// search reads both from the number index (storage `values.rs`). A position without both
/// is not a place and gives nothing.
fn push_position(
    entries: &mut Vec<IndexEntry>,
    param: &'static str,
    element: usize,
    position: &Value,
) {
    let degrees = |member: &str| position.get(member).and_then(decimal_of);
    let (Some(latitude), Some(longitude)) = (degrees("latitude"), degrees("longitude")) else {
        return;
    };
    let element = u16::try_from(element).unwrap_or(u16::MAX);
    for (component, degrees) in [latitude, longitude].into_iter().enumerate() {
        entries.push(IndexEntry {
            param,
            composite: Some(CompositePart {
                component: component as u16,
                element,
            }),
            value: IndexValue::Number(Amount::Decimal(degrees)),
        });
    }
}

fn push_all(
    entries: &mut Vec<IndexEntry>,
    param: &'static str,
    composite: Option<CompositePart>,
    values: &mut Vec<IndexValue>,
) {
    entries.extend(values.drain(..).map(|value| IndexEntry {
        param,
        composite,
        value,
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{DateRange, Decimal};

    fn entries(json: &str) -> Vec<IndexEntry> {
        let value: Value = sonic_rs::from_str(json).unwrap();
        let kind = crate::ResourceType::parse(
            value
                .get("resourceType")
                .and_then(|kind| kind.as_str())
                .unwrap(),
        )
        .unwrap();
        extract(kind, &value)
    }

    fn of<'a>(entries: &'a [IndexEntry], param: &str) -> Vec<&'a IndexValue> {
        entries
            .iter()
            .filter(|entry| entry.param == param)
            .map(|entry| &entry.value)
            .collect()
    }

    #[test]
    fn patient_name_birthdate_and_gender_are_extracted() {
        let found = entries(
            r#"{"resourceType":"Patient","name":[{"family":"Chalmers","given":["Peter"]}],"birthDate":"1974-12-25","gender":"male"}"#,
        );
        assert!(of(&found, "name").contains(&&IndexValue::String {
            folded: "chalmers".into(),
            exact: "Chalmers".into()
        }));
        assert!(of(&found, "family").len() == 1 && of(&found, "given").len() == 1);
        assert!(matches!(of(&found, "birthdate")[..], [IndexValue::Date(_)]));
        assert!(matches!(
            of(&found, "gender")[..],
            [IndexValue::Token { .. }]
        ));
    }

    // search.html#date: for a Timing "only the outer limits matter".
    #[test]
    fn a_timing_is_indexed_as_one_range_from_its_first_to_its_last_limit() {
        let found = entries(
            r#"{"resourceType":"ServiceRequest","status":"active","intent":"order","subject":{"reference":"Patient/p"},"occurrenceTiming":{"event":["2022-03-01T10:00:00Z","2022-06-01"],"repeat":{"boundsPeriod":{"start":"2022-01-01","end":"2022-12-31"}}}}"#,
        );
        let occurrence = of(&found, "occurrence");
        let [IndexValue::Date(range)] = occurrence[..] else {
            panic!("one range, not {occurrence:?}");
        };
        assert_eq!(
            Some(range.low),
            DateRange::parse("2022-01-01").map(|day| day.low)
        );
        assert_eq!(
            Some(range.high),
            DateRange::parse("2022-12-31").map(|day| day.high)
        );
    }

    #[test]
    fn observation_subject_is_also_its_patient_when_it_refers_to_a_patient() {
        let found = entries(
            r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p1"}}"#,
        );
        assert_eq!(of(&found, "subject").len(), 1);
        assert_eq!(of(&found, "patient").len(), 1);
        let group = entries(
            r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Group/g1"}}"#,
        );
        assert_eq!(of(&group, "patient").len(), 0);
    }

    #[test]
    fn composite_parts_of_one_component_share_an_element() {
        let found = entries(
            r#"{"resourceType":"Observation","status":"final","code":{"text":"bp"},"component":[
                {"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":120}},
                {"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":80}}]}"#,
        );
        let parts: Vec<&IndexEntry> = found
            .iter()
            .filter(|entry| entry.param == "component-code-value-quantity")
            .collect();
        assert_eq!(parts.len(), 4);
        let elements: Vec<u16> = parts
            .iter()
            .map(|entry| entry.composite.unwrap().element)
            .collect();
        assert_eq!(elements, [0, 0, 1, 1]);
    }

    #[test]
    fn narrative_and_content_words_are_extracted_for_full_text_search() {
        let found = entries(
            r#"{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><b>Zoë</b> Chalmers</div>"},"name":[{"family":"Windsor"}]}"#,
        );
        let text = of(&found, "_text");
        assert!(
            matches!(text[..], [IndexValue::Text(words)] if words.contains("zoe") && words.contains("chalmers") && !words.contains("div"))
        );
        let content = of(&found, "_content");
        assert!(
            matches!(content[..], [IndexValue::Text(words)] if words.contains("windsor") && !words.contains("chalmers"))
        );
    }

    #[test]
    fn content_leaves_out_base64_and_stops_at_its_limit() {
        let found = entries(
            r#"{"resourceType":"DocumentReference","status":"current","description":"discharge letter","content":[{"attachment":{"contentType":"text/plain","data":"aGVsbG8gd29ybGQ="}}]}"#,
        );
        let content = of(&found, "_content");
        assert!(
            matches!(content[..], [IndexValue::Text(words)] if words.contains("discharge") && !words.contains("aghlbg8"))
        );

        let long = "word ".repeat(CONTENT_LIMIT / 5 + 1000);
        let found = entries(&format!(
            r#"{{"resourceType":"Basic","code":{{"text":"{long}"}}}}"#
        ));
        let content = of(&found, "_content");
        assert!(matches!(content[..], [IndexValue::Text(words)] if words.len() <= CONTENT_LIMIT));
    }

    #[test]
    fn location_position_is_indexed_as_latitude_and_longitude_parts_for_near() {
        let found = entries(
            r#"{"resourceType":"Location","position":{"longitude":-83.6945691,"latitude":42.25475478}}"#,
        );
        let near: Vec<(u16, &IndexValue)> = found
            .iter()
            .filter(|entry| entry.param == "near")
            .map(|entry| (entry.composite.unwrap().component, &entry.value))
            .collect();
        let degrees =
            |text: &str| IndexValue::Number(Amount::Decimal(Decimal::parse(text).unwrap()));
        assert_eq!(
            near,
            [(0, &degrees("42.25475478")), (1, &degrees("-83.6945691"))]
        );
        let without_longitude =
            entries(r#"{"resourceType":"Location","position":{"latitude":42.25}}"#);
        assert!(of(&without_longitude, "near").is_empty());
    }

    #[test]
    fn meta_tags_are_indexed_for_every_type() {
        let found = entries(
            r#"{"resourceType":"Basic","meta":{"tag":[{"system":"http://x","code":"t1"}]},"code":{"text":"b"}}"#,
        );
        assert_eq!(of(&found, "_tag").len(), 1);
    }
}
