//! `Patient/[id]/$everything`, and compartment searches by POST.
//! Spec: https://hl7.org/fhir/R4/patient-operation-everything.html, http.html#vsearch

use axum::http::{Method, StatusCode};
use sonic_rs::JsonValueTrait;

use super::{ids_of, matches, pages_from, searchset, sorted};
use crate::support::{link, TestApp};

/// A Patient with an Observation and an Encounter; another Patient with an Observation.
/// Returns the first Patient's id and its two resources.
async fn patient_with_records(app: &TestApp) -> (String, String, String) {
    let patient = app.create(r#"{"resourceType":"Patient"}"#).await;
    let other = app.create(r#"{"resourceType":"Patient"}"#).await;
    let observation = |subject: &str| {
        format!(
            r#"{{"resourceType":"Observation","status":"final","code":{{"text":"x"}},"subject":{{"reference":"Patient/{subject}"}}}}"#
        )
    };
    let observation_id = app.create(&observation(&patient)).await;
    app.create(&observation(&other)).await;
    let encounter = app.create(&format!(r#"{{"resourceType":"Encounter","status":"finished","class":{{"code":"AMB"}},"subject":{{"reference":"Patient/{patient}"}}}}"#)).await;
    (patient, observation_id, encounter)
}

// patient-operation-everything.html: the patient and its compartment, with _type and _since
#[tokio::test]
async fn patient_everything_returns_the_patient_and_its_compartment() {
    let app = TestApp::start().await;
    let (patient, observation, encounter) = patient_with_records(&app).await;
    assert_eq!(
        matches(&app, &format!("/fhir/Patient/{patient}/$everything")).await,
        sorted(&[&patient, &observation, &encounter])
    );
    assert_eq!(
        matches(
            &app,
            &format!("/fhir/Patient/{patient}/$everything?_type=Encounter")
        )
        .await,
        [encounter]
    );
    assert_eq!(
        matches(
            &app,
            &format!("/fhir/Patient/{patient}/$everything?_since=2999-01-01T00:00:00Z")
        )
        .await,
        Vec::<String>::new()
    );
    app.get("/fhir/Patient/nobody/$everything")
        .await
        .outcome(StatusCode::NOT_FOUND);
}

// A client pages $everything by its next links: they must be links $everything takes, with
// `_since` as the client sent it.
#[tokio::test]
async fn patient_everything_with_since_pages_to_the_end() {
    let app = TestApp::start().await;
    let (patient, observation, encounter) = patient_with_records(&app).await;
    let first = format!("/fhir/Patient/{patient}/$everything?_since=2000-01-01T00:00:00Z&_count=1");
    let bundle = searchset(&app, &first).await;
    let self_link = link(&bundle, "self").expect("a self link");
    assert!(self_link.contains("_since=2000-01-01"), "{self_link}");
    assert!(!self_link.contains("_lastUpdated"), "{self_link}");
    let (pages, _) = pages_from(&app, &first).await;
    let mut all: Vec<String> = pages.concat();
    all.sort();
    assert_eq!(all, sorted(&[&patient, &observation, &encounter]));
    let reply = app
        .get(&format!(
            "/fhir/Patient/{patient}/$everything?_since=notadate"
        ))
        .await;
    let issue = reply.outcome(StatusCode::BAD_REQUEST);
    assert_eq!(issue["expression"][0].as_str(), Some("_since"));
}

// operations.html#executing: an operation may be invoked by POST, its parameters in a
// Parameters resource (or a form).
#[tokio::test]
async fn patient_everything_by_post_takes_a_parameters_resource_or_a_form() {
    let app = TestApp::start().await;
    let (patient, _, encounter) = patient_with_records(&app).await;
    let uri = format!("/fhir/Patient/{patient}/$everything");
    let by_parameters = app
        .request(Method::POST, &uri)
        .header("content-type", "application/fhir+json")
        .body(r#"{"resourceType":"Parameters","parameter":[{"name":"_type","valueString":"Encounter"}]}"#)
        .send()
        .await;
    assert_eq!(
        by_parameters.status,
        StatusCode::OK,
        "{}",
        by_parameters.text()
    );
    assert_eq!(
        ids_of(&by_parameters.json(), "match"),
        std::slice::from_ref(&encounter)
    );
    let by_form = app.post_form(&uri, "_type=Encounter").await;
    assert_eq!(ids_of(&by_form.json(), "match"), [encounter]);
    app.request(Method::POST, &uri)
        .header("content-type", "application/fhir+json")
        .body(r#"{"resourceType":"Patient"}"#)
        .send()
        .await
        .outcome(StatusCode::BAD_REQUEST);
}

// http.html#search: POST [base]/[compartment]/[id]/[type]/_search and
// POST [base]/[compartment]/[id]/_search, with links a client can GET.
#[tokio::test]
async fn a_compartment_is_searched_by_post_too() {
    let app = TestApp::start().await;
    let (patient, observation, encounter) = patient_with_records(&app).await;
    let of_type = app
        .post_form(
            &format!("/fhir/Patient/{patient}/Observation/_search"),
            "_count=10",
        )
        .await;
    assert_eq!(of_type.status, StatusCode::OK, "{}", of_type.text());
    let bundle = of_type.json();
    assert_eq!(ids_of(&bundle, "match"), std::slice::from_ref(&observation));
    let self_link = link(&bundle, "self").expect("a self link");
    assert!(
        self_link.starts_with(&format!("/fhir/Patient/{patient}/Observation?")),
        "{self_link}"
    );
    let every_type = app
        .post_form(&format!("/fhir/Patient/{patient}/_search"), "_count=10")
        .await
        .json();
    let mut found = ids_of(&every_type, "match");
    found.sort();
    assert_eq!(found, sorted(&[&patient, &observation, &encounter]));
    let self_link = link(&every_type, "self").expect("a self link");
    assert!(
        self_link.contains(&format!("/Patient/{patient}/*")),
        "{self_link}"
    );
}

// patient-operation-everything.html: "The server also returns whatever resources are needed
// to support the records - e.g. linked practitioners, medications, locations, organizations".
#[tokio::test]
async fn patient_everything_includes_what_the_records_refer_to() {
    let app = TestApp::start().await;
    let organization = app
        .create(r#"{"resourceType":"Organization","name":"Acme"}"#)
        .await;
    let medication = app
        .create(r#"{"resourceType":"Medication","code":{"text":"aspirin"}}"#)
        .await;
    let patient = app
        .create(&format!(r#"{{"resourceType":"Patient","managingOrganization":{{"reference":"Organization/{organization}"}}}}"#))
        .await;
    let request = app
        .create(&format!(r#"{{"resourceType":"MedicationRequest","status":"active","intent":"order","subject":{{"reference":"Patient/{patient}"}},"medicationReference":{{"reference":"Medication/{medication}"}}}}"#))
        .await;
    let everything = searchset(&app, &format!("/fhir/Patient/{patient}/$everything")).await;
    let mut matched = ids_of(&everything, "match");
    matched.sort();
    assert_eq!(matched, sorted(&[&patient, &request]));
    let mut included = ids_of(&everything, "include");
    included.sort();
    assert_eq!(included, sorted(&[&organization, &medication]));

    let narrowed = searchset(
        &app,
        &format!("/fhir/Patient/{patient}/$everything?_type=MedicationRequest,Medication"),
    )
    .await;
    assert_eq!(ids_of(&narrowed, "match"), std::slice::from_ref(&request));
    assert_eq!(
        ids_of(&narrowed, "include"),
        std::slice::from_ref(&medication)
    );
}
