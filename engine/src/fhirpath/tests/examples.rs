//! Official R4 search parameters on two official R4 examples, copied unchanged from the
//! `hl7.fhir.r4.examples@4.0.1` package (CC0; provenance in engine/definitions/README.md):
//! `examples/Patient-example.json` and `examples/Observation-blood-pressure.json`.

use super::{described, nodes, parse};
use crate::definitions::search_parameter;
use sonic_rs::JsonValueTrait;

use crate::fhirpath::compiled;

const PATIENT: &str = include_str!("examples/Patient-example.json");
const BLOOD_PRESSURE: &str = include_str!("examples/Observation-blood-pressure.json");

/// What the official parameter `code` of `resource_type` selects from `resource`.
fn extract(resource_type: &str, code: &str, resource: &str) -> Vec<(&'static str, String)> {
    let definition = search_parameter(resource_type, code).unwrap();
    let resource = parse(resource);
    described(&compiled(definition).unwrap().expression.evaluate(&resource))
}

#[test]
fn patient_example_yields_its_names_contacts_and_dates() {
    let patient = |code| extract("Patient", code, PATIENT);
    assert_eq!(
        patient("family"),
        nodes([("string", r#""Chalmers""#), ("string", r#""Windsor""#)])
    );
    assert_eq!(patient("given").len(), 5);
    assert_eq!(patient("name").len(), 3);
    assert_eq!(patient("birthdate"), nodes([("date", r#""1974-12-25""#)]));
    assert_eq!(patient("gender"), nodes([("code", r#""male""#)]));
    assert_eq!(patient("deceased"), nodes([("boolean", "false")]));
    assert_eq!(patient("active"), nodes([("boolean", "true")]));
    assert_eq!(
        patient("address-city"),
        nodes([("string", r#""PleasantVille""#)])
    );
    assert_eq!(patient("_id"), nodes([("string", r#""example""#)]));
    assert_eq!(patient("telecom").len(), 4);
    let phones = patient("phone");
    assert_eq!(phones.len(), 3);
    assert!(phones
        .iter()
        .all(|(fhir_type, json)| *fhir_type == "ContactPoint"
            && json.contains(r#""system":"phone""#)));
    assert_eq!(patient("email"), nodes([]));
    assert_eq!(
        patient("organization"),
        nodes([("Reference", r#"{"reference":"Organization/1"}"#)])
    );
    assert_eq!(patient("identifier")[0].0, "Identifier");
    assert_eq!(patient("general-practitioner"), nodes([]));
}

#[test]
fn blood_pressure_example_yields_code_value_pairs_per_component() {
    let observation = |code| extract("Observation", code, BLOOD_PRESSURE);
    assert_eq!(
        observation("date"),
        nodes([("dateTime", r#""2012-09-17""#)])
    );
    assert_eq!(
        observation("subject"),
        nodes([("Reference", r#"{"reference":"Patient/example"}"#)])
    );
    assert_eq!(observation("patient").len(), 1);
    assert_eq!(observation("component-value-quantity").len(), 2);
    assert_eq!(observation("value-quantity"), nodes([]));
    assert_eq!(observation("combo-code").len(), 3);

    let definition = search_parameter("Observation", "component-code-value-quantity").unwrap();
    let parameter = compiled(definition).unwrap();
    let resource = parse(BLOOD_PRESSURE);
    let values: Vec<String> = parameter
        .expression
        .evaluate(&resource)
        .iter()
        .flat_map(|component| parameter.components[1].evaluate_on(component, &resource))
        .map(|quantity| {
            quantity
                .value
                .get("value")
                .map(ToString::to_string)
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(values, ["107", "60"]);
}
