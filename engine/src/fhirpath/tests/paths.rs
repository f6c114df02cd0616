//! Paths: member selection, typing from the R4 definitions, choice elements, type roots,
//! unions, indexers, and resources of unexpected shape.

use super::{nodes, parse, select};
use crate::fhirpath::Expression;

const PATIENT: &str = r#"{
    "resourceType": "Patient",
    "id": "p1",
    "meta": {"tag": [{"system": "urn:s", "code": "t"}]},
    "name": [
        {"family": "Chalmers", "given": ["Peter", "James"]},
        {"use": "nickname", "given": ["Jim"]}
    ],
    "birthDate": "1974-12-25",
    "deceasedBoolean": false
}"#;

#[test]
fn member_paths_flatten_arrays_in_document_order() {
    assert_eq!(
        select("Patient.name.given", PATIENT),
        nodes([
            ("string", r#""Peter""#),
            ("string", r#""James""#),
            ("string", r#""Jim""#)
        ])
    );
}

#[test]
fn each_node_is_typed_by_its_element_definition() {
    assert_eq!(
        select("Patient.birthDate", PATIENT),
        nodes([("date", r#""1974-12-25""#)])
    );
    assert_eq!(select("Patient.name", PATIENT)[0].0, "HumanName");
    assert_eq!(
        select("Patient.name.family", PATIENT),
        nodes([("string", r#""Chalmers""#)])
    );
    assert_eq!(
        select("Patient.meta.tag.code", PATIENT),
        nodes([("code", r#""t""#)])
    );
}

#[test]
fn paths_continue_through_datatypes() {
    let encounter = r#"{"resourceType": "Encounter",
        "period": {"start": "2020-01-01T10:00:00Z", "end": "2020-01-02"}}"#;
    assert_eq!(
        select("Encounter.period.start", encounter),
        nodes([("dateTime", r#""2020-01-01T10:00:00Z""#)])
    );
    assert_eq!(select("Encounter.period", encounter)[0].0, "Period");
}

#[test]
fn backbone_elements_are_typed_backbone_and_their_children_by_definition() {
    let observation = r#"{"resourceType": "Observation", "component": [
        {"code": {"text": "systolic"}, "valueQuantity": {"value": 120}},
        {"code": {"text": "diastolic"}, "valueQuantity": {"value": 80}}
    ]}"#;
    let components = select("Observation.component", observation);
    assert_eq!(components.len(), 2);
    assert_eq!(components[0].0, "BackboneElement");
    assert_eq!(
        select("Observation.component.code.text", observation),
        nodes([("string", r#""systolic""#), ("string", r#""diastolic""#)])
    );
}

#[test]
fn content_reference_elements_nest_with_the_referred_definition() {
    let questionnaire = r#"{"resourceType": "Questionnaire", "item": [
        {"linkId": "1", "type": "group", "item": [
            {"linkId": "1.1", "type": "group", "item": [{"linkId": "1.1.1", "type": "string"}]}
        ]}
    ]}"#;
    assert_eq!(
        select("Questionnaire.item.item.item.linkId", questionnaire),
        nodes([("string", r#""1.1.1""#)])
    );
    assert_eq!(
        select("Questionnaire.item.item.type", questionnaire),
        nodes([("code", r#""group""#)])
    );
}

#[test]
fn choice_element_selects_whichever_typed_member_is_present() {
    let quantity = r#"{"resourceType": "Observation", "valueQuantity": {"value": 5.0}}"#;
    let text = r#"{"resourceType": "Observation", "valueString": "high"}"#;
    assert_eq!(
        select("Observation.value", quantity),
        nodes([("Quantity", r#"{"value":5.0}"#)])
    );
    assert_eq!(
        select("Observation.value", text),
        nodes([("string", r#""high""#)])
    );
}

#[test]
fn choice_element_as_quantity_selects_value_quantity() {
    let quantity = r#"{"resourceType": "Observation", "valueQuantity": {"value": 5}}"#;
    let text = r#"{"resourceType": "Observation", "valueString": "high"}"#;
    for expression in [
        "Observation.value as Quantity",
        "Observation.value.as(Quantity)",
        "Observation.value.ofType(Quantity)",
        "(Observation.value as FHIR.Quantity)",
    ] {
        assert_eq!(
            select(expression, quantity),
            nodes([("Quantity", r#"{"value":5}"#)])
        );
        assert_eq!(select(expression, text), nodes([]), "{expression}");
    }
    assert_eq!(
        select("(Observation.value as Quantity).value", quantity),
        nodes([("decimal", "5")])
    );
}

#[test]
fn system_type_names_match_the_fhir_primitive_they_hold() {
    let condition = r#"{"resourceType": "Condition", "onsetDateTime": "2020-05-01"}"#;
    assert_eq!(
        select("Condition.onset.as(DateTime)", condition),
        nodes([("dateTime", r#""2020-05-01""#)])
    );
    assert_eq!(
        select("Condition.onset.as(System.DateTime)", condition).len(),
        1
    );
}

#[test]
fn specializations_are_matched_by_their_exact_type() {
    let condition = r#"{"resourceType": "Condition", "onsetAge": {"value": 52, "unit": "a"}}"#;
    assert_eq!(select("Condition.onset.as(Age)", condition)[0].0, "Age");
    assert_eq!(select("Condition.onset.as(Quantity)", condition), nodes([]));
}

#[test]
fn union_of_other_resource_types_selects_nothing() {
    assert_eq!(select("Practitioner.name", PATIENT), nodes([]));
    assert_eq!(
        select(
            "Practitioner.name.family | RelatedPerson.name.family",
            PATIENT
        ),
        nodes([])
    );
    assert_eq!(
        select("Patient.name.family | Practitioner.name.family", PATIENT),
        nodes([("string", r#""Chalmers""#)])
    );
}

#[test]
fn union_keeps_an_element_selected_by_both_sides_once() {
    assert_eq!(
        select("Patient.name.family | Patient.name.family", PATIENT).len(),
        1
    );
    let same_text = r#"{"resourceType": "Patient", "name": [{"family": "A"}, {"family": "A"}]}"#;
    assert_eq!(select("Patient.name.family", same_text).len(), 2);
}

#[test]
fn resource_root_matches_any_resource() {
    assert_eq!(
        select("Resource.meta.tag.code", PATIENT),
        nodes([("code", r#""t""#)])
    );
    assert_eq!(
        select("Resource.id", PATIENT),
        nodes([("string", r#""p1""#)])
    );
    let bundle = r#"{"resourceType": "Bundle", "id": "b", "text": {"div": "x"}}"#;
    assert_eq!(select("Resource.id", bundle).len(), 1);
    assert_eq!(select("DomainResource.id", bundle), nodes([]));
    assert_eq!(select("DomainResource.id", PATIENT).len(), 1);
}

#[test]
fn a_type_name_alone_selects_the_resource() {
    let selected = select("Patient", PATIENT);
    assert_eq!(selected.len(), 1);
    assert_eq!(selected[0].0, "Patient");
}

#[test]
fn indexer_and_first_pick_by_position() {
    assert_eq!(
        select("Patient.name[1].given", PATIENT),
        nodes([("string", r#""Jim""#)])
    );
    assert_eq!(select("Patient.name[2]", PATIENT), nodes([]));
    assert_eq!(
        select("Patient.name.given.first()", PATIENT),
        nodes([("string", r#""Peter""#)])
    );
    assert_eq!(
        select("Patient.name.given.last()", PATIENT),
        nodes([("string", r#""Jim""#)])
    );
}

#[test]
fn resource_elements_are_typed_by_their_resource_type() {
    let bundle = r#"{"resourceType": "Bundle", "type": "document", "entry": [
        {"resource": {"resourceType": "Composition", "title": "Discharge"}},
        {"resource": {"resourceType": "Patient", "id": "p"}}
    ]}"#;
    assert_eq!(
        select("Bundle.entry[0].resource", bundle)[0].0,
        "Composition"
    );
    assert_eq!(
        select("Bundle.entry.resource.title", bundle),
        nodes([("string", r#""Discharge""#)])
    );
    let contained = r#"{"resourceType": "Observation",
        "contained": [{"resourceType": "Patient", "id": "x", "gender": "other"}]}"#;
    assert_eq!(
        select("Observation.contained.gender", contained),
        nodes([("code", r#""other""#)])
    );
}

#[test]
fn nulls_padding_primitive_arrays_are_skipped() {
    let patient = r#"{"resourceType": "Patient", "name": [{"given": ["A", null, "C"],
        "_given": [null, {"extension": []}, null]}]}"#;
    assert_eq!(select("Patient.name.given", patient).len(), 2);
}

#[test]
fn absent_elements_and_names_r4_does_not_define_select_nothing() {
    assert_eq!(select("Patient.gender", PATIENT), nodes([]));
    let odd = r#"{"resourceType": "Patient", "nickname": "x", "valueString": "y"}"#;
    assert_eq!(select("Patient.nickname", odd), nodes([]));
    assert_eq!(select("Patient.value", odd), nodes([]));
}

#[test]
fn unexpected_shapes_select_what_is_there_and_never_panic() {
    let odd = r#"{"resourceType": "Patient", "name": "Peter", "meta": [1, {"tag": 5}],
        "birthDate": {"year": 1974}, "telecom": [null, [], "x"],
        "contained": [{"id": "no type"}, "text", {"resourceType": 7}],
        "extension": {"url": 3}, "deceasedDateTime": null, "deceasedWhatever": true}"#;
    for expression in [
        "Patient.name.given",
        "Patient.meta.tag.code",
        "Patient.birthDate",
        "Patient.telecom.where(system = 'phone').value",
        "Patient.contained.id",
        "Patient.extension('u').value",
        "Patient.deceased.exists() and Patient.deceased != false",
        "Patient.link.other.where(resolve() is Patient)",
    ] {
        let compiled = Expression::compile(expression).unwrap();
        let _ = compiled.evaluate(&parse(odd));
    }
    assert_eq!(
        select("Patient.name", odd),
        nodes([("HumanName", r#""Peter""#)])
    );
    assert_eq!(select("Patient.name.given", odd), nodes([]));
    assert_eq!(select("Patient.contained", odd), nodes([]));
    assert_eq!(select("Patient.deceased", odd), nodes([]));
}

#[test]
fn resources_without_an_r4_resource_type_select_nothing() {
    for resource in [
        r#"{"name": [{"family": "X"}]}"#,
        r#"{"resourceType": "Patients", "name": [{"family": "X"}]}"#,
        r#"{"resourceType": 5}"#,
        r#"[{"resourceType": "Patient"}]"#,
        r#""Patient""#,
    ] {
        assert_eq!(select("Patient.name.family", resource), nodes([]));
        assert_eq!(select("Resource.id", resource), nodes([]));
    }
}

#[test]
fn large_unions_stay_linear() {
    let codes: Vec<String> = (0..50_000)
        .map(|i| format!(r#"{{"substance": {{"text": "{i}"}}}}"#))
        .collect();
    let allergy = format!(
        r#"{{"resourceType": "AllergyIntolerance", "code": {{"text": "x"}}, "reaction": [{}]}}"#,
        codes.join(",")
    );
    let started = std::time::Instant::now();
    let selected = select(
        "AllergyIntolerance.code | AllergyIntolerance.reaction.substance | AllergyIntolerance.code",
        &allergy,
    );
    assert_eq!(selected.len(), 50_001);
    assert!(started.elapsed().as_secs() < 5);
}
