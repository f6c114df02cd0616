//! String search values: folded for case and accents, so `name=eve` finds "Ève".
//! Spec: https://hl7.org/fhir/R4/search.html#string

use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value};
use unicode_normalization::{char::is_combining_mark, UnicodeNormalization};

/// Lower-cases `text` and strips accents and other combining marks (NFD, marks dropped).
///
/// ```
/// assert_eq!(engine::index::fold("Ève Müller"), "eve muller");
/// ```
pub fn fold(text: &str) -> String {
    text.nfd()
        .filter(|character| !is_combining_mark(*character))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The strings a string parameter matches in an element of type `fhir_type`.
///
/// HumanName and Address match on each of their parts (the spec: "any of the string
/// elements"); other complex types on every string they hold, which is what a client
/// searching free text in them expects.
pub(crate) fn strings_of(value: &Value, fhir_type: &str, out: &mut Vec<String>) {
    match fhir_type {
        "HumanName" => parts(value, &["text", "family", "given", "prefix", "suffix"], out),
        "Address" => parts(
            value,
            &[
                "text",
                "line",
                "city",
                "district",
                "state",
                "postalCode",
                "country",
            ],
            out,
        ),
        _ => every_string(value, out),
    }
}

fn parts(value: &Value, members: &[&str], out: &mut Vec<String>) {
    for member in members {
        if let Some(part) = value.get(member) {
            every_string(part, out);
        }
    }
}

fn every_string(value: &Value, out: &mut Vec<String>) {
    if let Some(text) = value.as_str() {
        out.push(text.to_owned());
    } else if let Some(items) = value.as_array() {
        for item in items.iter() {
            every_string(item, out);
        }
    } else if let Some(object) = value.as_object() {
        for (key, member) in object.iter() {
            // Extensions and ids are not the text a person searches for.
            if key != "extension" && key != "id" && key != "url" && key != "system" {
                every_string(member, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(json: &str, fhir_type: &str) -> Vec<String> {
        let value: Value = sonic_rs::from_str(json).unwrap();
        let mut out = Vec::new();
        strings_of(&value, fhir_type, &mut out);
        out
    }

    #[test]
    fn folding_removes_case_and_accents() {
        assert_eq!(fold("ÅNGSTRÖM"), "angstrom");
        assert_eq!(fold("Zoë"), "zoe");
    }

    #[test]
    fn human_name_matches_each_given_name_and_the_family() {
        let found = strings(
            r#"{"family":"Chalmers","given":["Peter","James"],"use":"official"}"#,
            "HumanName",
        );
        assert_eq!(found, ["Chalmers", "Peter", "James"]);
    }

    #[test]
    fn address_matches_lines_city_and_postal_code_but_not_its_use() {
        let found = strings(
            r#"{"use":"home","line":["534 Erewhon St"],"city":"PleasantVille","postalCode":"3999"}"#,
            "Address",
        );
        assert_eq!(found, ["534 Erewhon St", "PleasantVille", "3999"]);
    }
}
