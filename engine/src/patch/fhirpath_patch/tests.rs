//! FHIRPath Patch, operation by operation, on small Patients.
//! Spec: https://hl7.org/fhir/R4/fhirpatch.html

use super::*;

const PATIENT: &str = r#"{"resourceType":"Patient","id":"p","name":[{"family":"Chalmers","given":["Peter","James"]}],"telecom":[{"system":"phone","value":"555"},{"system":"email","value":"p@example.org"}],"birthDate":"1974-12-25"}"#;

/// One `operation` parameter from `parts` (JSON part objects, comma-separated).
fn operation(parts: &str) -> String {
    format!(r#"{{"name":"operation","part":[{parts}]}}"#)
}

/// Applies a Parameters with `operations` to `resource`; the result as compact JSON.
fn check(resource: &str, operations: &[String]) -> Result<String, Error> {
    let resource: Value = sonic_rs::from_str(resource).unwrap();
    let mut resource = Json::from_value(&resource);
    let parameters = format!(
        r#"{{"resourceType":"Parameters","parameter":[{}]}}"#,
        operations.join(",")
    );
    let parameters: Value = sonic_rs::from_str(&parameters).unwrap();
    apply(&mut resource, &parse(&parameters)?)?;
    Ok(String::from_utf8(resource.to_bytes()).unwrap())
}

fn is_malformed(result: Result<String, Error>) -> bool {
    matches!(result, Err(Error::InvalidPatch(_)))
}

fn is_failed(result: Result<String, Error>) -> bool {
    matches!(result, Err(Error::PatchFailed(_)))
}

// fhirpatch.html, add: "Add can be used for non-repeating elements as long as they do not
// already exist"; a repeating element is appended to.
#[test]
fn add_sets_an_absent_element_and_appends_to_a_list() {
    let result = check(
        PATIENT,
        &[
            operation(r#"{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},{"name":"name","valueString":"gender"},{"name":"value","valueCode":"male"}"#),
            operation(r#"{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient.name[0]"},{"name":"name","valueString":"given"},{"name":"value","valueString":"Jim"}"#),
            operation(r#"{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},{"name":"name","valueString":"identifier"},{"name":"value","valueIdentifier":{"system":"urn:x","value":"1"}}"#),
        ],
    )
    .unwrap();
    assert!(result.contains(r#""gender":"male""#), "{result}");
    assert!(
        result.contains(r#""given":["Peter","James","Jim"]"#),
        "{result}"
    );
    assert!(
        result.contains(r#""identifier":[{"system":"urn:x","value":"1"}]"#),
        "{result}"
    );
}

#[test]
fn add_of_a_present_single_element_or_an_unknown_name_fails() {
    let add = |name: &str, value: &str| {
        operation(&format!(
            r#"{{"name":"type","valueCode":"add"}},{{"name":"path","valueString":"Patient"}},{{"name":"name","valueString":"{name}"}},{{"name":"value",{value}}}"#
        ))
    };
    assert!(is_failed(check(
        PATIENT,
        &[add("birthDate", r#""valueDate":"2000""#)]
    )));
    assert!(is_failed(check(
        PATIENT,
        &[add("shoeSize", r#""valueInteger":42"#)]
    )));
}

// A choice element's JSON name carries the value's type (formats.html#choice).
#[test]
fn add_of_a_choice_element_names_it_by_the_value_type() {
    let add = |value: &str| {
        operation(&format!(
            r#"{{"name":"type","valueCode":"add"}},{{"name":"path","valueString":"Patient"}},{{"name":"name","valueString":"deceased"}},{{"name":"value",{value}}}"#
        ))
    };
    let result = check(PATIENT, &[add(r#""valueBoolean":false"#)]).unwrap();
    assert!(result.contains(r#""deceasedBoolean":false"#), "{result}");
    assert!(is_failed(check(
        PATIENT,
        &[add(r#""valueQuantity":{"value":1}"#)]
    )));
}

// fhirpatch.html: a value of a type without a name is given as parts.
#[test]
fn add_of_a_backbone_element_builds_it_from_parts() {
    let result = check(
        PATIENT,
        &[operation(
            r#"{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"},{"name":"name","valueString":"contact"},{"name":"value","part":[{"name":"name","valueHumanName":{"family":"Doe"}},{"name":"telecom","valueContactPoint":{"system":"phone","value":"1"}}]}"#,
        )],
    )
    .unwrap();
    assert!(
        result.contains(
            r#""contact":[{"name":{"family":"Doe"},"telecom":[{"system":"phone","value":"1"}]}]"#
        ),
        "{result}"
    );
}

// fhirpatch.html, insert: "index ... must be equal or less than the number of elements".
#[test]
fn insert_puts_a_value_at_an_index_and_refuses_one_past_the_end() {
    let insert = |path: &str, index: u32| {
        operation(&format!(
            r#"{{"name":"type","valueCode":"insert"}},{{"name":"path","valueString":"{path}"}},{{"name":"index","valueInteger":{index}}},{{"name":"value","valueString":"X"}}"#
        ))
    };
    let result = check(PATIENT, &[insert("Patient.name[0].given", 1)]).unwrap();
    assert!(
        result.contains(r#""given":["Peter","X","James"]"#),
        "{result}"
    );
    let result = check(PATIENT, &[insert("Patient.name[0].prefix", 0)]).unwrap();
    assert!(result.contains(r#""prefix":["X"]"#), "{result}");
    assert!(is_failed(check(
        PATIENT,
        &[insert("Patient.name[0].given", 3)]
    )));
    assert!(is_failed(check(
        PATIENT,
        &[insert("Patient.name[0].family", 0)]
    )));
    assert!(is_malformed(check(
        PATIENT,
        &[insert("Patient.name.first()", 0)]
    )));
}

// fhirpatch.html, delete: "Path of the element to delete (if found)"; "Only a single element
// can be deleted".
#[test]
fn delete_removes_one_element_ignores_none_and_refuses_several() {
    let delete = |path: &str| {
        operation(&format!(
            r#"{{"name":"type","valueCode":"delete"}},{{"name":"path","valueString":"{path}"}}"#
        ))
    };
    let result = check(
        PATIENT,
        &[delete("Patient.telecom.where(system = 'phone')")],
    )
    .unwrap();
    assert!(!result.contains("555"), "{result}");
    assert!(result.contains("p@example.org"), "{result}");
    let result = check(PATIENT, &[delete("Patient.birthDate")]).unwrap();
    assert!(!result.contains("birthDate"), "{result}");
    assert_eq!(
        check(PATIENT, &[delete("Patient.gender")]).unwrap(),
        PATIENT
    );
    assert!(is_failed(check(PATIENT, &[delete("Patient.name.given")])));
}

#[test]
fn deleting_the_last_item_removes_the_list_and_its_extensions_stay_aligned() {
    let resource =
        r#"{"resourceType":"Patient","name":[{"given":["A","B"],"_given":[{"id":"a"},null]}]}"#;
    let delete = |path: &str| {
        operation(&format!(
            r#"{{"name":"type","valueCode":"delete"}},{{"name":"path","valueString":"{path}"}}"#
        ))
    };
    let result = check(resource, &[delete("Patient.name.given[0]")]).unwrap();
    assert_eq!(
        result,
        r#"{"resourceType":"Patient","name":[{"given":["B"]}]}"#
    );
    let result = check(
        resource,
        &[
            delete("Patient.name.given[0]"),
            delete("Patient.name.given[0]"),
        ],
    )
    .unwrap();
    assert_eq!(result, r#"{"resourceType":"Patient","name":[{}]}"#);
}

#[test]
fn replace_changes_exactly_one_element() {
    let replace = |path: &str, value: &str| {
        operation(&format!(
            r#"{{"name":"type","valueCode":"replace"}},{{"name":"path","valueString":"{path}"}},{{"name":"value",{value}}}"#
        ))
    };
    let result = check(
        PATIENT,
        &[replace("Patient.birthDate", r#""valueDate":"1975-01-01""#)],
    )
    .unwrap();
    assert!(result.contains(r#""birthDate":"1975-01-01""#), "{result}");
    let result = check(
        PATIENT,
        &[replace(
            "Patient.telecom.where(system='email').value",
            r#""valueString":"q@example.org""#,
        )],
    )
    .unwrap();
    assert!(
        result.contains("q@example.org") && !result.contains("p@example.org"),
        "{result}"
    );
    assert!(is_failed(check(
        PATIENT,
        &[replace("Patient.gender", r#""valueCode":"male""#)]
    )));
    assert!(is_failed(check(
        PATIENT,
        &[replace("Patient.telecom", r#""valueString":"x""#)]
    )));
}

// fhirpatch.html, move: "Move an element within a single list".
#[test]
fn move_reorders_a_list() {
    let move_ = |source: u32, destination: u32| {
        operation(&format!(
            r#"{{"name":"type","valueCode":"move"}},{{"name":"path","valueString":"Patient.telecom"}},{{"name":"source","valueInteger":{source}}},{{"name":"destination","valueInteger":{destination}}}"#
        ))
    };
    let result = check(PATIENT, &[move_(1, 0)]).unwrap();
    assert!(
        result.find("p@example.org") < result.find("555"),
        "{result}"
    );
    assert!(is_failed(check(PATIENT, &[move_(0, 2)])));
}

// fhirpatch.html: paths must select elements of the resource being patched.
#[test]
fn a_path_outside_the_supported_subset_is_malformed() {
    let delete = |path: &str| {
        operation(&format!(
            r#"{{"name":"type","valueCode":"delete"}},{{"name":"path","valueString":"{path}"}}"#
        ))
    };
    assert!(is_malformed(check(
        PATIENT,
        &[delete("Patient.name.descendants()")]
    )));
    assert!(is_malformed(check(PATIENT, &[delete("Patient.name[")])));
}

// fhirpatch.html: a path through resolve() leads to another resource; deleting it deleted the
// Reference itself, which the client never named.
#[test]
fn a_path_through_resolve_is_malformed_and_changes_nothing() {
    let with_organization = r#"{"resourceType":"Patient","id":"p","managingOrganization":{"reference":"Organization/o"}}"#;
    let delete = operation(
        r#"{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Patient.managingOrganization.resolve()"}"#,
    );
    assert!(is_malformed(check(with_organization, &[delete])));
}

#[test]
fn malformed_parameters_are_refused() {
    let cases = [
        r#"{"resourceType":"Patient"}"#.to_owned(),
        r#"{"resourceType":"Parameters"}"#.to_owned(),
        r#"{"resourceType":"Parameters","parameter":[{"name":"op","part":[]}]}"#.to_owned(),
        format!(
            r#"{{"resourceType":"Parameters","parameter":[{}]}}"#,
            operation(
                r#"{"name":"type","valueCode":"upsert"},{"name":"path","valueString":"Patient"}"#
            )
        ),
        format!(
            r#"{{"resourceType":"Parameters","parameter":[{}]}}"#,
            operation(
                r#"{"name":"type","valueCode":"add"},{"name":"path","valueString":"Patient"}"#
            )
        ),
        format!(
            r#"{{"resourceType":"Parameters","parameter":[{}]}}"#,
            operation(r#"{"name":"type","valueCode":"delete"}"#)
        ),
        format!(
            r#"{{"resourceType":"Parameters","parameter":[{}]}}"#,
            operation(
                r#"{"name":"type","valueCode":"move"},{"name":"path","valueString":"Patient.name"},{"name":"source","valueInteger":-1},{"name":"destination","valueInteger":0}"#
            )
        ),
    ];
    for parameters in cases {
        let parameters: Value = sonic_rs::from_str(&parameters).unwrap();
        assert!(
            matches!(parse(&parameters), Err(Error::InvalidPatch(_))),
            "{parameters:?}"
        );
    }
}
