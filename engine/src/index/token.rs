//! Token search values: a system and a code, taken from whichever coded type the element is.
//! Spec: https://hl7.org/fhir/R4/search.html#token

use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value};

use super::IndexValue;

/// Pushes the tokens an element of type `fhir_type` holds.
///
/// Identifiers also get a row for `:of-type` (the identifier's type coding with its value),
/// and every coded value keeps its human text (display, `text`) for `:text`.
pub(crate) fn tokens_of(value: &Value, fhir_type: &str, out: &mut Vec<IndexValue>) {
    match fhir_type {
        "CodeableConcept" => {
            let text = string(value, "text");
            let codings = value.get("coding").and_then(|codings| codings.as_array());
            // `:text` searches "either CodeableConcept.text, Coding.display, or
            // Identifier.type.text": a coding without a display carries the concept's text;
            // when every coding has a display of its own, the text gets a row of its own.
            let mut text_carried = false;
            for coding in codings.into_iter().flat_map(|codings| codings.iter()) {
                let display = string(coding, "display");
                text_carried |= display.is_none() || display == text;
                push_coding(coding, text, out);
            }
            if text.is_some() && !text_carried {
                out.push(token(None, None, text));
            }
        }
        "Coding" => push_coding(value, None, out),
        "Identifier" => {
            let identifier_value = string(value, "value");
            out.push(token(
                string(value, "system"),
                identifier_value,
                type_text(value),
            ));
            if let Some(identifier_value) = identifier_value {
                let type_codings = value
                    .get("type")
                    .and_then(|kind| kind.get("coding"))
                    .and_then(|codings| codings.as_array());
                for coding in type_codings.into_iter().flat_map(|codings| codings.iter()) {
                    out.push(IndexValue::IdentifierOfType {
                        type_system: string(coding, "system").map(str::to_owned),
                        type_code: string(coding, "code").map(str::to_owned),
                        value: identifier_value.to_owned(),
                    });
                }
            }
        }
        // ContactPoint.system is a kind ("phone"), not a URI: the spec matches on the value.
        "ContactPoint" => out.push(token(None, string(value, "value"), None)),
        "boolean" => {
            if let Some(flag) = value.as_bool() {
                out.push(token(None, Some(if flag { "true" } else { "false" }), None));
            }
        }
        "Quantity" | "Age" | "Duration" | "Distance" | "Count" | "SimpleQuantity" => {
            out.push(token(string(value, "system"), string(value, "code"), None));
        }
        "Reference" => {
            if let Some(identifier) = value.get("identifier") {
                tokens_of(identifier, "Identifier", out);
            }
        }
        _ => {
            if let Some(code) = value.as_str() {
                out.push(token(None, Some(code), None));
            }
        }
    }
}

fn push_coding(coding: &Value, concept_text: Option<&str>, out: &mut Vec<IndexValue>) {
    let display = string(coding, "display").or(concept_text);
    out.push(token(
        string(coding, "system"),
        string(coding, "code"),
        display,
    ));
}

fn type_text(identifier: &Value) -> Option<&str> {
    let kind = identifier.get("type")?;
    string(kind, "text").or_else(|| {
        kind.get("coding")?
            .as_array()?
            .iter()
            .find_map(|coding| string(coding, "display"))
    })
}

fn token(system: Option<&str>, code: Option<&str>, text: Option<&str>) -> IndexValue {
    IndexValue::Token {
        system: system.map(str::to_owned),
        code: code.map(str::to_owned),
        text: text.map(super::fold),
    }
}

pub(super) fn string<'a>(value: &'a Value, member: &str) -> Option<&'a str> {
    value.get(member).and_then(|member| member.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(json: &str, fhir_type: &str) -> Vec<IndexValue> {
        let value: Value = sonic_rs::from_str(json).unwrap();
        let mut out = Vec::new();
        tokens_of(&value, fhir_type, &mut out);
        out
    }

    fn system_code(system: &str, code: &str, text: Option<&str>) -> IndexValue {
        IndexValue::Token {
            system: Some(system.into()),
            code: Some(code.into()),
            text: text.map(Into::into),
        }
    }

    #[test]
    fn codeable_concept_gives_one_token_per_coding_with_its_display_folded() {
        let found = tokens(
            r#"{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"},{"system":"http://snomed.info/sct","code":"364075005"}],"text":"Pulse"}"#,
            "CodeableConcept",
        );
        assert_eq!(
            found,
            [
                system_code("http://loinc.org", "8867-4", Some("heart rate")),
                system_code("http://snomed.info/sct", "364075005", Some("pulse")),
            ]
        );
    }

    #[test]
    fn concept_text_is_searchable_beside_a_coding_display() {
        let found = tokens(
            r#"{"coding":[{"code":"386661006","display":"Fever"}],"text":"Pyrexia"}"#,
            "CodeableConcept",
        );
        let texts: Vec<_> = found
            .iter()
            .filter_map(|value| match value {
                IndexValue::Token { text, .. } => text.clone(),
                _ => None,
            })
            .collect();
        assert_eq!(texts, ["fever", "pyrexia"]);
    }

    #[test]
    fn identifier_matches_on_system_and_value_and_on_its_type() {
        let found = tokens(
            r#"{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},"system":"urn:oid:1.2.36","value":"12345"}"#,
            "Identifier",
        );
        assert_eq!(found[0], system_code("urn:oid:1.2.36", "12345", None));
        assert_eq!(
            found[1],
            IndexValue::IdentifierOfType {
                type_system: Some("http://terminology.hl7.org/CodeSystem/v2-0203".into()),
                type_code: Some("MR".into()),
                value: "12345".into(),
            }
        );
    }

    #[test]
    fn booleans_and_codes_are_tokens_without_a_system() {
        assert_eq!(
            tokens("true", "boolean"),
            [IndexValue::Token {
                system: None,
                code: Some("true".into()),
                text: None
            }]
        );
        assert_eq!(
            tokens(r#""female""#, "code"),
            [IndexValue::Token {
                system: None,
                code: Some("female".into()),
                text: None
            }]
        );
    }
}
