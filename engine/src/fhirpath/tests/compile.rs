//! Compilation: what the subset accepts, and the reasons it gives for what it refuses.

use crate::fhirpath::Expression;

fn refusal(expression: &str) -> String {
    match Expression::compile(expression) {
        Ok(_) => panic!("{expression} compiled"),
        Err(error) => error.reason().to_owned(),
    }
}

#[test]
fn functions_and_operators_outside_the_subset_are_refused_with_a_reason() {
    assert_eq!(
        refusal("Patient.name.children()"),
        "function children() is not supported"
    );
    assert_eq!(
        refusal("Patient.name.count() > 1"),
        "function count() is not supported"
    );
    assert_eq!(
        refusal("Patient.active ~ true"),
        "operator '~' is not supported"
    );
    assert_eq!(
        refusal("Patient.name.given contains 'A'"),
        "operator 'contains' is not supported"
    );
    assert!(refusal("Patient.multipleBirth + 1").contains("'+'"));
    assert!(refusal("Patient.name[$index]").contains("integer"));
    assert!(refusal("%context.name").contains("%resource"));
    assert!(refusal("Location.position.latitude < 1.5").contains("decimal"));
}

#[test]
fn unknown_type_names_are_refused() {
    assert_eq!(
        refusal("Patients.name"),
        "Patients is not an R4 resource or datatype"
    );
    assert_eq!(
        refusal("Observation.value as Quantities"),
        "Quantities is not an R4 type"
    );
    assert_eq!(
        refusal("Observation.value.ofType(boolean2)"),
        "boolean2 is not an R4 type"
    );
}

#[test]
fn literals_can_only_be_compared() {
    assert!(refusal("'a'").contains("compared"));
    assert!(refusal("Patient.name | 'x'").contains("compared"));
    assert!(refusal("Patient.name.where('x')").contains("compared"));
    assert!(Expression::compile("Patient.name.where(family = 'x')").is_ok());
    assert!(Expression::compile("Patient.multipleBirth = 2").is_ok());
}

#[test]
fn malformed_expressions_are_refused() {
    for expression in [
        "",
        "Patient.",
        "Patient.name)",
        "(Patient.name",
        "Patient.name.where(",
        "Patient..name",
        "Patient.name[0",
        "Patient.name as",
        "Patient.extension(url)",
        "Patient.name[-1]",
    ] {
        assert!(Expression::compile(expression).is_err(), "{expression}");
    }
}

#[test]
fn string_literals_keep_their_escaped_characters() {
    let patient = super::parse(r#"{"resourceType": "Patient", "name": [{"family": "O'Brien"}]}"#);
    let matching = Expression::compile(r"Patient.name.where(family = 'O\'Brien')").unwrap();
    assert_eq!(matching.evaluate(&patient).len(), 1);
    let unicode = Expression::compile(r"Patient.name.where(family = 'O\u0027Brien')").unwrap();
    assert_eq!(unicode.evaluate(&patient).len(), 1);
}

#[test]
fn precedence_binds_as_tighter_than_union_and_union_tighter_than_equality() {
    let observation = super::parse(
        r#"{"resourceType": "Observation", "valueString": "a", "code": {"text": "a"}}"#,
    );
    let union = Expression::compile("Observation.value as string | Observation.code.text").unwrap();
    assert_eq!(union.evaluate(&observation).len(), 2);
    let equality =
        Expression::compile("Observation.code.text = Observation.value as string").unwrap();
    let result = equality.evaluate(&observation);
    assert_eq!(result.len(), 1);
    assert_eq!(result[0].fhir_type, "boolean");
}

#[test]
fn compiled_expressions_keep_their_text() {
    let text = "Patient.name.where(use = 'official')";
    assert_eq!(Expression::compile(text).unwrap().text(), text);
}

#[test]
fn deeply_nested_expressions_are_refused_instead_of_exhausting_the_stack() {
    let nested = format!("{}Patient.name{}", "(".repeat(10_000), ")".repeat(10_000));
    assert_eq!(refusal(&nested), "expression nested too deeply");
    let calls = format!("Patient{}", ".where(name.exists()".repeat(5_000));
    assert!(Expression::compile(&calls).is_err());
    let fine = format!("{}Patient.name{}", "(".repeat(20), ")".repeat(20));
    assert!(Expression::compile(&fine).is_ok());
}
