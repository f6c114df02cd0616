//! Functions and operators: `where`, `resolve()`, `extension()`, `exists()` and boolean logic,
//! equality, and relative expressions evaluated on a node (composite components).

use super::{described, nodes, parse, select};
use crate::definitions::search_parameter;
use crate::fhirpath::{compiled, Expression};

const CONTACTS: &str = r#"{"resourceType": "Patient", "telecom": [
    {"system": "phone", "value": "555-0100"},
    {"system": "email", "value": "a@example.org"},
    {"system": "phone", "value": "555-0199", "use": "work"}
]}"#;

#[test]
fn where_system_phone_keeps_only_phone_numbers() {
    assert_eq!(
        select("Patient.telecom.where(system='phone').value", CONTACTS),
        nodes([("string", r#""555-0100""#), ("string", r#""555-0199""#)])
    );
    assert_eq!(
        select("Patient.telecom.where(system='phone')", CONTACTS)[0].0,
        "ContactPoint"
    );
}

#[test]
fn where_criteria_combine_with_and_or_and_not_equal() {
    assert_eq!(
        select(
            "Patient.telecom.where(system = 'phone' and use = 'work').value",
            CONTACTS
        ),
        nodes([("string", r#""555-0199""#)])
    );
    assert_eq!(
        select("Patient.telecom.where(system != 'phone').value", CONTACTS),
        nodes([("string", r#""a@example.org""#)])
    );
    assert_eq!(
        select(
            "Patient.telecom.where(use = 'work' or system = 'email').value",
            CONTACTS
        )
        .len(),
        2
    );
    assert_eq!(
        select("Patient.telecom.where(use.exists()).value", CONTACTS).len(),
        1
    );
    assert_eq!(
        select("Patient.telecom.where(use.empty()).value", CONTACTS).len(),
        2
    );
}

const SUBJECTS: &str = r##"{"resourceType": "Observation",
    "contained": [{"resourceType": "Patient", "id": "inline", "gender": "female"}],
    "performer": [
        {"reference": "Patient/1"},
        {"reference": "Practitioner/2"},
        {"reference": "http://example.org/fhir/Patient/3/_history/1"},
        {"reference": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0"},
        {"type": "Patient", "identifier": {"value": "MRN-4"}},
        {"type": "http://hl7.org/fhir/StructureDefinition/Patient", "display": "five"},
        {"reference": "#inline"},
        {"display": "nobody"}
    ]
}"##;

#[test]
fn where_resolve_is_patient_keeps_only_patient_references() {
    let selected = select(
        "Observation.performer.where(resolve() is Patient)",
        SUBJECTS,
    );
    let references: Vec<&str> = selected.iter().map(|(_, json)| json.as_str()).collect();
    assert_eq!(
        references,
        [
            r#"{"reference":"Patient/1"}"#,
            r#"{"reference":"http://example.org/fhir/Patient/3/_history/1"}"#,
            r#"{"type":"Patient","identifier":{"value":"MRN-4"}}"#,
            r#"{"type":"http://hl7.org/fhir/StructureDefinition/Patient","display":"five"}"#,
            r##"{"reference":"#inline"}"##,
        ]
    );
    assert!(selected
        .iter()
        .all(|(fhir_type, _)| *fhir_type == "Reference"));
    assert_eq!(
        select(
            "Observation.performer.where(resolve() is Practitioner).reference",
            SUBJECTS
        ),
        nodes([("string", r#""Practitioner/2""#)])
    );
}

#[test]
fn contained_reference_resolves_to_the_contained_resource() {
    assert_eq!(
        select("Observation.performer.resolve().gender", SUBJECTS),
        nodes([("code", r#""female""#)])
    );
    assert_eq!(
        select("Observation.performer[6].resolve()", SUBJECTS)[0].0,
        "Patient"
    );
}

#[test]
fn unresolved_targets_are_known_by_type_only() {
    let targets = select("Observation.performer.resolve()", SUBJECTS);
    let types: Vec<&str> = targets.iter().map(|(fhir_type, _)| *fhir_type).collect();
    assert_eq!(
        types,
        [
            "Patient",
            "Practitioner",
            "Patient",
            "Patient",
            "Patient",
            "Patient"
        ]
    );
    assert_eq!(
        select("Observation.performer[0].resolve().id", SUBJECTS),
        nodes([])
    );
}

const BIRTH_PLACE: &str = r#"{"resourceType": "Patient", "extension": [
    {"url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
     "valueAddress": {"city": "Amsterdam"}},
    {"url": "http://example.org/rank", "valueInteger": 3}
]}"#;

#[test]
fn extension_function_selects_by_url_and_its_value_is_typed() {
    assert_eq!(
        select(
            "Patient.extension('http://hl7.org/fhir/StructureDefinition/patient-birthPlace').value",
            BIRTH_PLACE
        ),
        nodes([("Address", r#"{"city":"Amsterdam"}"#)])
    );
    assert_eq!(
        select(
            "Patient.extension.where(url = 'http://example.org/rank').value",
            BIRTH_PLACE
        ),
        nodes([("integer", "3")])
    );
    assert_eq!(
        select("Patient.extension('http://example.org/none')", BIRTH_PLACE),
        nodes([])
    );
}

#[test]
fn integer_literals_compare_with_json_numbers() {
    assert_eq!(
        select("Patient.extension.where(value = 3).url", BIRTH_PLACE),
        nodes([("uri", r#""http://example.org/rank""#)])
    );
}

#[test]
fn deceased_is_true_for_a_date_or_true_and_false_otherwise() {
    let deceased = "Patient.deceased.exists() and Patient.deceased != false";
    let answer = |patient: &str| select(deceased, patient);
    let yes = nodes([("boolean", "true")]);
    let no = nodes([("boolean", "false")]);
    assert_eq!(
        answer(r#"{"resourceType":"Patient","deceasedBoolean":true}"#),
        yes
    );
    assert_eq!(
        answer(r#"{"resourceType":"Patient","deceasedDateTime":"2020-02-02"}"#),
        yes
    );
    assert_eq!(
        answer(r#"{"resourceType":"Patient","deceasedBoolean":false}"#),
        no
    );
    assert_eq!(answer(r#"{"resourceType":"Patient"}"#), no);
}

#[test]
fn boolean_logic_is_three_valued() {
    let patient = r#"{"resourceType": "Patient", "active": true}"#;
    let select_logic = |expression: &str| select(expression, patient);
    assert_eq!(
        select_logic("Patient.active and Patient.gender = 'male'"),
        nodes([])
    );
    assert_eq!(
        select_logic("Patient.active or Patient.gender = 'male'"),
        nodes([("boolean", "true")])
    );
    assert_eq!(
        select_logic("Patient.active.not() and Patient.gender = 'male'"),
        nodes([("boolean", "false")])
    );
    assert_eq!(
        select_logic("Patient.active xor true"),
        nodes([("boolean", "false")])
    );
    assert_eq!(
        select_logic("Patient.gender.exists() implies Patient.active"),
        nodes([("boolean", "true")])
    );
    assert_eq!(select_logic("Patient.gender.not()"), nodes([]));
}

#[test]
fn has_value_is_true_for_a_single_primitive_with_a_value() {
    let patient =
        r#"{"resourceType": "Patient", "gender": "male", "name": [{"given": ["A", "B"]}]}"#;
    assert_eq!(
        select("Patient.gender.hasValue()", patient),
        nodes([("boolean", "true")])
    );
    assert_eq!(
        select("Patient.name.hasValue()", patient),
        nodes([("boolean", "false")])
    );
    assert_eq!(
        select("Patient.name.given.hasValue()", patient),
        nodes([("boolean", "false")])
    );
}

#[test]
fn is_tests_a_single_item() {
    let observation = r#"{"resourceType": "Observation", "valueQuantity": {"value": 1}}"#;
    assert_eq!(
        select("Observation.value is Quantity", observation),
        nodes([("boolean", "true")])
    );
    assert_eq!(
        select("Observation.value.is(string)", observation),
        nodes([("boolean", "false")])
    );
    assert_eq!(
        select("Observation.code is CodeableConcept", observation),
        nodes([])
    );
}

const BLOOD_PRESSURE: &str = r#"{"resourceType": "Observation",
    "code": {"text": "blood pressure"},
    "component": [
        {"code": {"text": "systolic"}, "valueQuantity": {"value": 120}},
        {"code": {"text": "diastolic"}, "valueCodeableConcept": {"text": "unreadable"}}
    ]
}"#;

#[test]
fn composite_components_are_evaluated_on_each_selected_node() {
    let definition = search_parameter("Observation", "component-code-value-quantity").unwrap();
    let parameter = compiled(definition).unwrap();
    let resource = parse(BLOOD_PRESSURE);
    let pairs: Vec<_> = parameter
        .expression
        .evaluate(&resource)
        .iter()
        .map(|component| {
            let [code, value] = &parameter.components[..] else {
                panic!("two components");
            };
            (
                described(&code.evaluate_on(component, &resource)),
                described(&value.evaluate_on(component, &resource)),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            (
                nodes([("CodeableConcept", r#"{"text":"systolic"}"#)]),
                nodes([("Quantity", r#"{"value":120}"#)])
            ),
            (
                nodes([("CodeableConcept", r#"{"text":"diastolic"}"#)]),
                nodes([])
            ),
        ]
    );
}

#[test]
fn percent_resource_in_a_component_refers_to_the_whole_resource() {
    let sequence = r#"{"resourceType": "MolecularSequence",
        "referenceSeq": {"chromosome": {"text": "1"}},
        "variant": [{"start": 10, "end": 12}]}"#;
    let definition =
        search_parameter("MolecularSequence", "chromosome-variant-coordinate").unwrap();
    let parameter = compiled(definition).unwrap();
    let resource = parse(sequence);
    let variant = parameter.expression.evaluate(&resource)[0];
    assert_eq!(variant.fhir_type, "BackboneElement");
    let read =
        |index: usize| described(&parameter.components[index].evaluate_on(&variant, &resource));
    assert_eq!(read(0), nodes([("CodeableConcept", r#"{"text":"1"}"#)]));
    assert_eq!(read(1), nodes([("integer", "10")]));
    assert_eq!(read(2), nodes([("integer", "12")]));
}

#[test]
fn relative_expressions_start_from_the_context_node() {
    let resource = parse(BLOOD_PRESSURE);
    let components = Expression::compile("Observation.component")
        .unwrap()
        .evaluate(&resource);
    let text = Expression::compile("code.text | $this.code.text").unwrap();
    assert_eq!(
        described(&text.evaluate_on(&components[1], &resource)),
        nodes([("string", r#""diastolic""#)])
    );
}
