//! Every official R4 search parameter against the subset, and the generated coverage report.

use crate::definitions::{search_parameter, search_parameters, SearchParameterDefinition};
use crate::fhirpath::check::{infer, Scope};
use crate::fhirpath::{
    compiled, coverage_report, implied_code_system, selected_types, support, Expression,
};

#[test]
fn every_official_expression_is_supported_but_the_three_without_extractable_values() {
    let refused: Vec<(&str, String)> = search_parameters()
        .iter()
        .filter_map(|definition| {
            support(definition)
                .err()
                .map(|error| (definition.code.as_str(), error.to_string()))
        })
        .collect();
    let codes: Vec<&str> = refused.iter().map(|(code, _)| *code).collect();
    assert_eq!(codes, ["_text", "_content", "_query"], "{refused:#?}");
    assert!(refused[0].1.contains("no FHIRPath expression"));
}

#[test]
fn code_parameters_imply_the_system_of_their_required_binding() {
    let implied =
        |resource_type, code| implied_code_system(search_parameter(resource_type, code).unwrap());
    // `individual-gender`, shared by four bases, all bound to the same value set.
    assert_eq!(
        implied("Patient", "gender"),
        Some("http://hl7.org/fhir/administrative-gender")
    );
    assert_eq!(
        implied("Practitioner", "gender"),
        Some("http://hl7.org/fhir/administrative-gender")
    );
    assert_eq!(
        implied("Observation", "status"),
        Some("http://hl7.org/fhir/observation-status")
    );
    // CodeableConcepts carry their own systems; a boolean has none to imply.
    assert_eq!(implied("Observation", "code"), None);
    assert_eq!(implied("Patient", "active"), None);
    // Task.intent draws from two code systems.
    assert_eq!(implied("Task", "intent"), None);
    let count = search_parameters()
        .iter()
        .filter(|definition| implied_code_system(definition).is_some())
        .count();
    assert!(count > 100, "{count}");
    eprintln!("token parameters with an implied code system: {count}");
}

#[test]
fn selected_types_tell_what_each_parameter_extracts() {
    let types = |resource_type, code| {
        selected_types(search_parameter(resource_type, code).unwrap()).unwrap()
    };
    assert_eq!(types("Patient", "birthdate"), ["date"]);
    assert_eq!(types("Patient", "name"), ["HumanName"]);
    assert_eq!(types("Patient", "family"), ["string"]);
    assert_eq!(types("Patient", "deceased"), ["boolean"]);
    assert_eq!(
        types("Observation", "value-quantity"),
        ["Quantity", "SampledData"]
    );
    assert_eq!(types("Observation", "code-value-date"), ["Observation"]);
    assert_eq!(
        types("Condition", "onset-date"),
        ["dateTime", "Period"],
        "Condition.onset.as(dateTime) | Condition.onset.as(Period)"
    );
    assert_eq!(types("Observation", "subject"), ["Reference"]);
    assert_eq!(types("Patient", "_lastUpdated"), ["instant"]);
    assert_eq!(types("Bundle", "composition"), ["Resource"]);
    assert_eq!(types("Observation", "code-value-quantity"), ["Observation"]);
    assert_eq!(types("Location", "near"), ["BackboneElement"]);
}

#[test]
fn elements_r4_does_not_define_and_impossible_casts_are_caught_before_evaluation() {
    let check = |text: &str, base: &'static str| {
        let expression = Expression::compile(text).unwrap();
        let bases = [Scope::of_type(base)];
        infer(expression.tree(), &bases, &bases).map_err(|error| error.to_string())
    };
    assert_eq!(
        check("Patient.name.nickname", "Patient"),
        Err("R4 defines no element nickname on HumanName".to_owned())
    );
    assert_eq!(
        check("Patient.birthDate as Quantity", "Patient"),
        Err("as Quantity: the element is never one (it is date)".to_owned())
    );
    assert_eq!(
        check("Practitioner.name", "Patient"),
        Err("the path opens with Practitioner, which the input (Patient) never is".to_owned())
    );
    assert!(check("Patient.telecom.where(sistem = 'phone')", "Patient").is_err());
    assert!(check(
        "Resource.meta.tag | Patient.link.other.resolve().name",
        "Patient"
    )
    .is_err());
    assert!(check(
        "Questionnaire.item.item.item.answerOption.value as Coding",
        "Questionnaire"
    )
    .is_ok());
}

#[test]
fn official_expressions_are_compiled_once() {
    let definition = search_parameter("Patient", "name").unwrap();
    assert!(std::ptr::eq(
        compiled(definition).unwrap(),
        compiled(definition).unwrap()
    ));
}

#[test]
fn definitions_other_than_the_official_ones_are_not_in_the_cache() {
    let mut custom: SearchParameterDefinition =
        search_parameter("Patient", "name").unwrap().clone();
    custom.expression = Some("Patient.name.family".to_owned());
    assert!(compiled(&custom)
        .unwrap_err()
        .reason()
        .contains("Expression::compile"));
    custom.url = "http://example.org/SearchParameter/x".to_owned();
    assert!(compiled(&custom).is_err());
}

#[test]
fn search_parameters_md_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/search-parameters.md");
    let generated = coverage_report(|_| None);
    if std::env::var_os("EMBER_UPDATE_DOCS").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "docs/search-parameters.md is out of date: run EMBER_UPDATE_DOCS=1 cargo test -p engine search_parameters_md"
    );
}

#[test]
fn coverage_report_takes_reasons_from_later_stages() {
    let phonetic = |definition: &SearchParameterDefinition| definition.code == "phonetic";
    let report = coverage_report(|definition| {
        phonetic(definition).then(|| "no phonetic index yet".to_owned())
    });
    let refused = search_parameters().iter().filter(|d| phonetic(d)).count();
    assert!(refused > 1);
    let summary = format!("**{} of 1375 official R4", 1374 - refused);
    assert!(report.contains(&summary), "{summary}");
    assert!(report.contains("- no phonetic index yet: `phonetic` ("));
}

/// Evaluates every applicable parameter on each official R4 example in the directory named by
/// `EMBER_R4_EXAMPLES` (the extracted `hl7.fhir.r4.examples` package), which is not vendored:
/// `EMBER_R4_EXAMPLES=/tmp/r4/package cargo test -p engine official_examples -- --ignored`.
#[test]
#[ignore = "needs the hl7.fhir.r4.examples package; see the doc comment"]
fn official_examples_evaluate_every_parameter() {
    use crate::definitions::search_parameters_for;
    let directory = std::env::var("EMBER_R4_EXAMPLES").expect("EMBER_R4_EXAMPLES is set");
    let mut selected_somewhere = std::collections::HashSet::new();
    let (mut examples, mut evaluations, mut selections) = (0, 0, 0);
    for entry in std::fs::read_dir(directory).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".json") || name.starts_with("Bundle-") || name == "package.json" {
            continue;
        }
        let Ok(resource) = sonic_rs::from_slice::<sonic_rs::Value>(&std::fs::read(&path).unwrap())
        else {
            continue;
        };
        let Some(root) = crate::fhirpath::Node::resource(&resource) else {
            continue;
        };
        examples += 1;
        for definition in search_parameters_for(root.fhir_type) {
            let Ok(parameter) = compiled(definition) else {
                continue;
            };
            evaluations += 1;
            for node in parameter.expression.evaluate(&resource) {
                selections += 1;
                selected_somewhere.insert(definition.url.as_str());
                for component in &parameter.components {
                    component.evaluate_on(&node, &resource);
                }
            }
        }
    }
    let never: Vec<&str> = search_parameters()
        .iter()
        .filter(|d| !selected_somewhere.contains(d.url.as_str()))
        .map(|d| {
            d.url
                .trim_start_matches("http://hl7.org/fhir/SearchParameter/")
        })
        .collect();
    eprintln!(
        "{examples} examples, {evaluations} evaluations, {selections} nodes; \
         {} parameters select something in some example, {} never: {never:?}",
        selected_somewhere.len(),
        never.len()
    );
    assert!(examples > 700);
}
