//! Tests of the element checks of FHIR JSON at ingest: each wrong JSON type is a 400 issue
//! at its element, and the official R4 examples are all accepted.
//! Spec: https://hl7.org/fhir/R4/json.html, https://hl7.org/fhir/R4/http.html#create

use std::io::Read as _;

use sonic_rs::{JsonContainerTrait, JsonValueTrait};

use crate::{prepare_resource, Error, Issue};

/// The issues `prepare_resource` finds in `body`, as (code, expression, diagnostics).
fn check(body: &str) -> Vec<(&'static str, String, String)> {
    match prepare_resource(body.as_bytes()) {
        Ok(_) => Vec::new(),
        Err(Error::InvalidResource(issues)) => issues
            .into_iter()
            .map(
                |Issue {
                     code,
                     diagnostics,
                     expression,
                     ..
                 }| (code, expression.unwrap_or_default(), diagnostics),
            )
            .collect(),
        Err(other) => panic!("expected an invalid resource, got {other:?}"),
    }
}

/// Only the expressions of the issues, when the wording is not what a test is about.
fn expressions(body: &str) -> Vec<String> {
    check(body)
        .into_iter()
        .map(|(_, expression, _)| expression)
        .collect()
}

fn structure(expression: &str, diagnostics: &str) -> (&'static str, String, String) {
    ("structure", expression.into(), diagnostics.into())
}

/// Source: https://hl7.org/fhir/R4/json.html#primitive ("boolean: JSON boolean (true or false)")
#[test]
fn a_boolean_written_as_a_string_is_rejected() {
    assert_eq!(
        check(r#"{"resourceType":"Patient","active":"yes"}"#),
        [structure(
            "Patient.active",
            "'active' is a FHIR boolean, which JSON writes as true or false, not a string"
        )]
    );
}

/// Source: https://hl7.org/fhir/R4/json.html#primitive ("integer, positiveInt, unsignedInt,
/// decimal: JSON number")
#[test]
fn numbers_written_as_strings_are_rejected() {
    assert_eq!(
        check(
            r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":"1.5"}}"#
        ),
        [structure(
            "Observation.valueQuantity.value",
            "'value' is a FHIR decimal, which JSON writes as a number, not a string"
        )]
    );
    assert_eq!(
        expressions(r#"{"resourceType":"Patient","multipleBirthInteger":"2"}"#),
        ["Patient.multipleBirthInteger"]
    );
}

/// Source: https://hl7.org/fhir/R4/json.html#primitive ("other primitive types: JSON string")
#[test]
fn strings_dates_and_codes_written_as_numbers_or_booleans_are_rejected() {
    assert_eq!(
        check(
            r#"{"resourceType":"Patient","gender":true,"birthDate":19740101,"name":[{"family":7}]}"#
        ),
        [
            structure(
                "Patient.gender",
                "'gender' is a FHIR code, which JSON writes as a string, not a boolean"
            ),
            structure(
                "Patient.birthDate",
                "'birthDate' is a FHIR date, which JSON writes as a string, not a number"
            ),
            structure(
                "Patient.name[0].family",
                "'family' is a FHIR string, which JSON writes as a string, not a number"
            ),
        ]
    );
}

/// Source: https://hl7.org/fhir/R4/datatypes.html#integer (32-bit; positiveInt from 1,
/// unsignedInt from 0) and json.html#primitive
#[test]
fn integers_with_a_fraction_or_out_of_range_are_rejected() {
    assert_eq!(
        check(r#"{"resourceType":"Patient","multipleBirthInteger":1.5}"#),
        [(
            "value",
            "Patient.multipleBirthInteger".into(),
            "'multipleBirthInteger' is a FHIR integer, a whole number from -2,147,483,648 to 2,147,483,647, which 1.5 is not".into()
        )]
    );
    assert_eq!(
        expressions(r#"{"resourceType":"Patient","multipleBirthInteger":2147483648}"#),
        ["Patient.multipleBirthInteger"]
    );
    assert_eq!(
        expressions(
            r#"{"resourceType":"ImmunizationRecommendation","patient":{"reference":"Patient/1"},"date":"2020","recommendation":[{"doseNumberPositiveInt":0,"seriesDosesPositiveInt":1}]}"#
        ),
        ["ImmunizationRecommendation.recommendation[0].doseNumberPositiveInt"]
    );
    assert!(check(r#"{"resourceType":"Patient","multipleBirthInteger":-3}"#).is_empty());
}

/// Source: https://hl7.org/fhir/R4/json.html ("complex datatypes ... are represented as JSON
/// objects")
#[test]
fn complex_datatypes_written_as_strings_are_rejected() {
    assert_eq!(
        check(r#"{"resourceType":"Patient","maritalStatus":"M"}"#),
        [structure(
            "Patient.maritalStatus",
            "'maritalStatus' is a FHIR CodeableConcept, which JSON writes as an object, not a string"
        )]
    );
}

/// Source: https://hl7.org/fhir/R4/json.html ("Elements that have a cardinality of more than
/// one ... are represented as an array even if there is only one")
#[test]
fn a_repeating_element_must_be_an_array_even_for_one_value() {
    assert_eq!(
        check(r#"{"resourceType":"Patient","name":{"family":"Chalmers"}}"#),
        [structure(
            "Patient.name",
            "'name' can repeat, so JSON writes it as an array, even for one value"
        )]
    );
    assert_eq!(
        expressions(r#"{"resourceType":"Patient","name":[{"given":"Peter"}]}"#),
        ["Patient.name[0].given"]
    );
}

/// Source: https://hl7.org/fhir/R4/json.html (arrays only for elements that may repeat)
#[test]
fn a_non_repeating_element_must_not_be_an_array() {
    assert_eq!(
        check(r#"{"resourceType":"Patient","gender":["female"]}"#),
        [structure(
            "Patient.gender",
            "'gender' cannot repeat, so it must not be an array"
        )]
    );
}

/// Source: https://hl7.org/fhir/R4/formats.html#choice (the type is appended to the name)
#[test]
fn choice_elements_are_checked_against_the_type_their_name_ends_with() {
    assert!(check(
        r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"effectiveDateTime":"2020-01-01","valueQuantity":{"value":1.5,"unit":"mg"}}"#
    )
    .is_empty());
    assert_eq!(
        expressions(
            r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueBoolean":"true","valueQuantity":{"value":{}}}"#
        ),
        [
            "Observation.valueBoolean",
            "Observation.valueQuantity",
            "Observation.valueQuantity.value"
        ]
    );
}

/// Source: https://hl7.org/fhir/R4/formats.html#choice ("only one of the possible types may
/// be present"), json.html (unknown elements)
#[test]
fn a_choice_element_has_one_type_and_is_named_with_it() {
    assert_eq!(
        check(r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"value":5}"#),
        [structure(
            "Observation.value",
            "'value' is not an element of Observation: a choice element is named with its type, as in 'valueQuantity'"
        )]
    );
    assert_eq!(
        check(r#"{"resourceType":"Patient","deceasedBoolean":true,"deceasedDateTime":"2020"}"#),
        [structure(
            "Patient.deceasedDateTime",
            "'deceasedBoolean' and 'deceasedDateTime' are two values of the one choice element deceased[x]"
        )]
    );
    assert_eq!(
        expressions(r#"{"resourceType":"Patient","deceasedHumanName":{"text":"x"}}"#),
        ["Patient.deceasedHumanName"]
    );
}

/// Source: https://hl7.org/fhir/R4/json.html ("a strict parser ... rejects unknown elements");
/// DIFFERENCE: a lenient parser may ignore them; Ember does not (docs/api.md).
#[test]
fn unknown_elements_are_rejected_at_every_level() {
    assert_eq!(
        check(
            r#"{"resourceType":"Patient","birthdate":"1974","name":[{"surname":"x"}],"contact":[{"nickname":"y"}]}"#
        ),
        [
            structure(
                "Patient.birthdate",
                "'birthdate' is not an element of Patient"
            ),
            structure(
                "Patient.name[0].surname",
                "'surname' is not an element of HumanName"
            ),
            structure(
                "Patient.contact[0].nickname",
                "'nickname' is not an element of Patient.contact"
            ),
        ]
    );
}

/// Source: https://hl7.org/fhir/R4/json.html#primitive (`_name` holds a primitive's id and
/// extensions, as an object, or an array aligned with the values)
#[test]
fn primitive_extensions_are_objects_or_aligned_arrays_of_primitives_only() {
    assert!(check(
        r#"{"resourceType":"Patient","birthDate":"1974-12-25","_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthTime","valueDateTime":"1974-12-25T14:35:45-05:00"}]},"name":[{"given":["A",null],"_given":[null,{"id":"g2"}]}]}"#
    )
    .is_empty());
    assert!(
        check(r#"{"resourceType":"Patient","_gender":{"id":"only-the-extension"}}"#).is_empty()
    );
    assert_eq!(
        check(r#"{"resourceType":"Patient","_birthDate":"1974","_name":[{"id":"n"}]}"#),
        [
            structure(
                "Patient._birthDate",
                "'_birthDate' holds the id and extensions of a primitive, which JSON writes as an object, not a string"
            ),
            structure(
                "Patient._name",
                "'_name' is not an element of Patient: '_' marks the id and extensions of a primitive, and 'name' is a HumanName"
            ),
        ]
    );
    assert_eq!(
        expressions(
            r#"{"resourceType":"Patient","_birthDate":{"extension":[{"url":"u","valueBoolean":"no"}]}}"#
        ),
        ["Patient._birthDate.extension[0].valueBoolean"]
    );
}

/// Source: https://hl7.org/fhir/R4/json.html#primitive ("the null values ... align", the two
/// arrays have the same length)
#[test]
fn null_in_arrays_only_aligns_primitives_with_their_extensions() {
    assert_eq!(
        expressions(r#"{"resourceType":"Patient","name":[{"given":["A",null]}]}"#),
        ["Patient.name[0].given"]
    );
    assert_eq!(
        expressions(r#"{"resourceType":"Patient","name":[{"given":["A","B"],"_given":[null]}]}"#),
        ["Patient.name[0]._given"]
    );
    assert_eq!(
        expressions(
            r#"{"resourceType":"Patient","name":[{"given":["A",null],"_given":[null,null]}]}"#
        ),
        ["Patient.name[0]._given"]
    );
    assert_eq!(
        expressions(r#"{"resourceType":"Patient","name":[null,{"family":"x"}]}"#),
        ["Patient.name[0]"]
    );
}

/// Source: https://hl7.org/fhir/R4/extensibility.html (extension and modifierExtension are
/// elements of every element and DomainResource) and json.html
#[test]
fn extensions_and_modifier_extensions_are_checked_like_other_elements() {
    assert!(check(
        r#"{"resourceType":"Patient","extension":[{"url":"http://e.org/a","extension":[{"url":"b","valueCode":"c"}]}],"modifierExtension":[{"url":"http://e.org/m","valueBoolean":true}]}"#
    )
    .is_empty());
    assert_eq!(
        expressions(
            r#"{"resourceType":"Patient","extension":{"url":"http://e.org/a"},"modifierExtension":[{"url":"http://e.org/m","valueBoolean":"true"}],"name":[{"extension":[{"url":5}]}]}"#
        ),
        [
            "Patient.extension",
            "Patient.modifierExtension[0].valueBoolean",
            "Patient.name[0].extension[0].url"
        ]
    );
}

/// Source: https://hl7.org/fhir/R4/references.html#contained and json.html#resources (a
/// resource inside a resource has its own resourceType)
#[test]
fn contained_resources_are_checked_as_their_own_type() {
    assert!(check(
        r##"{"resourceType":"Observation","status":"final","code":{"text":"x"},"contained":[{"resourceType":"Patient","id":"p","active":true}],"subject":{"reference":"#p"}}"##
    )
    .is_empty());
    assert_eq!(
        check(
            r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"contained":[{"resourceType":"Patient","id":"p","active":"true"},{"id":"q"},{"resourceType":"Nonsense","id":"r"}]}"#
        ),
        [
            structure(
                "Observation.contained[0].active",
                "'active' is a FHIR boolean, which JSON writes as true or false, not a string"
            ),
            structure(
                "Observation.contained[1]",
                "A resource here needs its 'resourceType'"
            ),
            structure(
                "Observation.contained[2].resourceType",
                "'Nonsense' is not an R4 resource type"
            ),
        ]
    );
    assert_eq!(
        expressions(r#"{"resourceType":"Observation","contained":{"resourceType":"Patient"}}"#),
        ["Observation.contained"]
    );
}

/// Source: https://hl7.org/fhir/R4/bundle.html and parameters.html (`entry.resource`,
/// `parameter.resource` are of type Resource)
#[test]
fn resources_in_bundles_and_parameters_are_checked_as_their_own_type() {
    assert_eq!(
        check(
            r#"{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","active":"yes"}},{"resource":"Patient/1"}]}"#
        ),
        [
            structure(
                "Bundle.entry[0].resource.active",
                "'active' is a FHIR boolean, which JSON writes as true or false, not a string"
            ),
            structure(
                "Bundle.entry[1].resource",
                "'resource' is a FHIR Resource, which JSON writes as an object with a resourceType, not a string"
            ),
        ]
    );
    assert_eq!(
        expressions(
            r#"{"resourceType":"Parameters","parameter":[{"name":"p","resource":{"resourceType":"Patient","gender":1}},{"name":"q","part":[{"name":"r","valueInteger":"1"}]}]}"#
        ),
        [
            "Parameters.parameter[0].resource.gender",
            "Parameters.parameter[1].part[0].valueInteger"
        ]
    );
}

/// Source: https://hl7.org/fhir/R4/resource.html#id and resource.html#Meta (`id` is a
/// string, `meta` a Meta object, checked like every element)
#[test]
fn id_and_meta_of_the_wrong_json_type_are_reported_with_the_other_elements() {
    assert_eq!(
        expressions(r#"{"resourceType":"Patient","id":5,"meta":"x","active":1}"#),
        ["Patient.id", "Patient.meta", "Patient.active"]
    );
    assert_eq!(
        expressions(r#"{"resourceType":"Patient","meta":{"tag":{"code":"t"},"lastUpdated":5}}"#),
        ["Patient.meta.tag", "Patient.meta.lastUpdated"]
    );
}

/// Source: https://hl7.org/fhir/R4/narrative.html (`div` is xhtml, a JSON string)
#[test]
fn narrative_div_is_a_string() {
    assert_eq!(
        expressions(r#"{"resourceType":"Patient","text":{"status":"generated","div":{"p":"x"}}}"#),
        ["Patient.text.div"]
    );
}

/// Every problem is reported at once, up to the cap of 50 issues.
#[test]
fn every_wrong_element_is_reported_at_once() {
    let found = expressions(
        r#"{"resourceType":"Patient","active":"yes","gender":1,"birthDate":true,"deceasedBoolean":"no","maritalStatus":"M","name":{"family":"x"}}"#,
    );
    assert_eq!(found.len(), 6, "{found:?}");
}

/// The vendored official examples, as (file name, JSON text).
pub(crate) fn examples() -> Vec<(String, String)> {
    let compressed: &[u8] = include_bytes!("../../definitions/examples.json.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(compressed)
        .read_to_string(&mut text)
        .unwrap();
    let pairs: sonic_rs::Value = sonic_rs::from_str(&text).unwrap();
    pairs
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().unwrap().to_owned(),
                pair[1].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn rejected<'a>(files: impl Iterator<Item = (&'a str, &'a [u8])>) -> Vec<String> {
    files
        .filter_map(|(name, body)| match prepare_resource(body) {
            Ok(_) => None,
            Err(error) => Some(format!("{name}: {error:?}")),
        })
        .collect()
}

/// Source: https://hl7.org/fhir/R4/downloads.html (the examples package), json.html. The 147
/// examples vendored from hl7.fhir.r4.examples@4.0.1 (one of each resource type there and a
/// few for the JSON features they use; engine/definitions/README.md) are accepted unchanged.
#[test]
fn the_vendored_official_examples_are_accepted() {
    let examples = examples();
    assert_eq!(examples.len(), 147);
    let failures = rejected(
        examples
            .iter()
            .map(|(name, text)| (name.as_str(), text.as_bytes())),
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The whole examples package (5,306 resources: every example, StructureDefinition,
/// ValueSet, … of R4) in the directory named by `EMBER_R4_EXAMPLES` (the extracted
/// `hl7.fhir.r4.examples` package), which is not vendored:
/// `EMBER_R4_EXAMPLES=/tmp/r4/package cargo test -p engine official_examples -- --ignored`.
#[test]
#[ignore = "needs the hl7.fhir.r4.examples package; see the doc comment"]
fn official_examples_package_is_accepted_whole() {
    let directory = std::env::var_os("EMBER_R4_EXAMPLES").expect("EMBER_R4_EXAMPLES is set");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&directory)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "json")
        })
        .filter(|path| !path.ends_with("package.json"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        5306,
        "not the hl7.fhir.r4.examples@4.0.1 package"
    );
    let failures = rejected(
        files
            .iter()
            .map(|(name, body)| (name.as_str(), body.as_slice())),
    );
    assert!(
        failures.is_empty(),
        "{} rejected: {failures:#?}",
        failures.len()
    );
}
