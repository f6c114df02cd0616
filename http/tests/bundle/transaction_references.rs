//! Transactions: references between entries rewritten to the ids the entries got, by fullUrl
//! (URN or RESTful, relative or version-specific), in narrative and uri elements, and
//! conditional references resolved to their one match.
//! Spec: https://hl7.org/fhir/R4/http.html#trules, bundle.html#references

use axum::http::StatusCode;
use sonic_rs::JsonValueTrait;

use super::transaction_fixtures::{observation_of, patient, PATIENT_URN};
use super::{bundle, located_id, post_bundle, write_entry};
use crate::support::{entries, TestApp};

/// Posts a transaction of a Patient whose fullUrl is `http://example.org/fhir/Patient/{id}`
/// and an Observation whose subject is `subject`; returns the id the Patient got and the
/// Observation's subject as answered.
async fn restful_patient_and_observation(
    app: &TestApp,
    id: &str,
    subject: &str,
) -> (String, String) {
    let body = bundle(
        "transaction",
        &[
            write_entry(
                &format!("http://example.org/fhir/Patient/{id}"),
                "POST",
                "Patient",
                &patient(id),
            ),
            write_entry(
                "http://example.org/fhir/Observation/o1",
                "POST",
                "Observation",
                &observation_of(subject),
            ),
        ],
    );
    let reply = post_bundle(app, &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let answered = entries(&reply.json());
    let subject = answered[1]["resource"]["subject"]["reference"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (located_id(&answered[0]), subject)
}

// http.html#trules: "the server SHALL update all references … to the new id".
#[tokio::test]
async fn references_to_an_entry_full_url_point_to_its_new_id() {
    let app = TestApp::start().await;
    let body = bundle(
        "transaction",
        &[
            write_entry(
                "urn:uuid:2",
                "POST",
                "Observation",
                &observation_of(PATIENT_URN),
            ),
            write_entry(PATIENT_URN, "POST", "Patient", &patient("1")),
        ],
    );

    let reply = post_bundle(&app, &body).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let answered = entries(&reply.json());
    let patient_id = located_id(&answered[1]);
    let subject = answered[0]["resource"]["subject"]["reference"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(subject, format!("Patient/{patient_id}"));
    let found = app
        .get(&format!("/fhir/Observation?subject=Patient/{patient_id}"))
        .await;
    assert_eq!(
        entries(&found.json()).len(),
        1,
        "the rewritten reference is indexed"
    );
}

// bundle.html#references: a relative reference resolves against the entry's RESTful base,
// so `Patient/rel77` names the entry whose fullUrl is `http://example.org/fhir/Patient/rel77`.
#[tokio::test]
async fn a_relative_reference_to_an_entry_with_a_restful_full_url_points_to_its_new_id() {
    let app = TestApp::start().await;
    let (patient_id, subject) =
        restful_patient_and_observation(&app, "rel77", "Patient/rel77").await;
    assert_eq!(subject, format!("Patient/{patient_id}"));
}

// bundle.html#references: a relative reference resolves against its own entry's base (here,
// a urn:uuid entry: this server's), so an entry of another server whose fullUrl ends the same
// way does not capture it; http.html#trules: references outside the Bundle stay untouched.
#[tokio::test]
async fn a_relative_reference_is_not_bound_to_an_entry_of_another_base() {
    let app = TestApp::start().await;
    let put = app
        .put(
            "/fhir/Practitioner/gp1",
            r#"{"resourceType":"Practitioner","id":"gp1"}"#,
        )
        .await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text());
    let body = bundle(
        "transaction",
        &[
            write_entry(
                PATIENT_URN,
                "POST",
                "Patient",
                r#"{"resourceType":"Patient","generalPractitioner":[{"reference":"Practitioner/gp1"}]}"#,
            ),
            write_entry(
                "http://other.example/fhir/Practitioner/gp1",
                "POST",
                "Practitioner",
                r#"{"resourceType":"Practitioner"}"#,
            ),
        ],
    );

    let reply = post_bundle(&app, &body).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let answered = entries(&reply.json());
    assert_eq!(
        answered[0]["resource"]["generalPractitioner"][0]["reference"].as_str(),
        Some("Practitioner/gp1")
    );
}

// bundle.html#references: "If the reference is version specific … remove the version from
// the URL before matching fullUrl"; http.html#trules: "Version-specific references should
// remain as version-specific references after the references have been updated."
#[tokio::test]
async fn a_version_specific_reference_to_an_entry_points_to_its_new_id_and_keeps_the_version() {
    let app = TestApp::start().await;
    let (patient_id, subject) =
        restful_patient_and_observation(&app, "v1", "Patient/v1/_history/1").await;
    assert_eq!(subject, format!("Patient/{patient_id}/_history/1"));
}

// http.html#trules: "Elements of type canonical are not replaced."
#[tokio::test]
async fn canonical_elements_naming_an_entry_are_not_rewritten() {
    let app = TestApp::start().await;
    let questionnaire = "urn:uuid:0c1d2e3f-0000-4000-8000-000000000001";
    let body = bundle(
        "transaction",
        &[
            write_entry(
                questionnaire,
                "POST",
                "Questionnaire",
                r#"{"resourceType":"Questionnaire","status":"active"}"#,
            ),
            write_entry(
                "urn:uuid:2",
                "POST",
                "QuestionnaireResponse",
                &format!(
                    r#"{{"resourceType":"QuestionnaireResponse","status":"completed","questionnaire":"{questionnaire}"}}"#
                ),
            ),
        ],
    );

    let reply = post_bundle(&app, &body).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let answered = entries(&reply.json());
    assert_eq!(
        answered[1]["resource"]["questionnaire"].as_str(),
        Some(questionnaire)
    );
}

// bundle.html#references: a urn:uuid reference is resolved within the Bundle only; one that
// no entry has as its fullUrl would be stored naming nothing.
#[tokio::test]
async fn a_urn_reference_to_no_entry_fails_the_transaction() {
    let app = TestApp::start().await;
    let body = bundle(
        "transaction",
        &[write_entry(
            "urn:uuid:2",
            "POST",
            "Observation",
            &observation_of("urn:uuid:0b8a8b2e-0000-4000-8000-000000000000"),
        )],
    );

    let reply = post_bundle(&app, &body).await;

    reply.outcome(StatusCode::BAD_REQUEST);
    assert_eq!(app.versions_written().await, 0);
}

// http.html#trules: references in the narrative are updated too, as are uri elements.
#[tokio::test]
async fn narrative_links_and_uri_elements_naming_an_entry_are_rewritten() {
    let app = TestApp::start().await;
    let document = format!(
        r#"{{"resourceType":"DocumentReference","status":"current",
            "text":{{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><a href=\"{PATIENT_URN}\">patient</a></div>"}},
            "subject":{{"reference":"{PATIENT_URN}"}},
            "content":[{{"attachment":{{"url":"{PATIENT_URN}"}}}}]}}"#
    );
    let body = bundle(
        "transaction",
        &[
            write_entry(PATIENT_URN, "POST", "Patient", &patient("1")),
            write_entry("urn:uuid:3", "POST", "DocumentReference", &document),
        ],
    );

    let reply = post_bundle(&app, &body).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let answered = entries(&reply.json());
    let patient_reference = format!("Patient/{}", located_id(&answered[0]));
    let stored = &answered[1]["resource"];
    assert!(
        stored["text"]["div"]
            .as_str()
            .unwrap()
            .contains(&format!("href=\"{patient_reference}\"")),
        "{}",
        reply.text()
    );
    assert_eq!(
        stored["content"][0]["attachment"]["url"].as_str(),
        Some(patient_reference.as_str())
    );
    assert!(!reply.text().contains(PATIENT_URN));
}

// bundle.html#references: a conditional reference is replaced by the one resource it
// matches.
#[tokio::test]
async fn a_conditional_reference_points_to_its_one_match() {
    let app = TestApp::start().await;
    let id = app.create(&patient("mrn-7")).await;
    let body = bundle(
        "transaction",
        &[write_entry(
            "urn:uuid:2",
            "POST",
            "Observation",
            &observation_of("Patient?identifier=urn:x|mrn-7"),
        )],
    );

    let reply = post_bundle(&app, &body).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let stored = &entries(&reply.json())[0]["resource"];
    assert_eq!(
        stored["subject"]["reference"].as_str(),
        Some(format!("Patient/{id}").as_str())
    );
}

// bundle.html#references: "If there are no matches, or multiple matches, the transaction
// fails".
#[tokio::test]
async fn a_conditional_reference_with_no_match_or_several_fails_the_transaction() {
    let app = TestApp::start().await;
    let body = bundle(
        "transaction",
        &[write_entry(
            "urn:uuid:2",
            "POST",
            "Observation",
            &observation_of("Patient?identifier=urn:x|twin"),
        )],
    );

    post_bundle(&app, &body)
        .await
        .outcome(StatusCode::NOT_FOUND);
    app.create(&patient("twin")).await;
    app.create(&patient("twin")).await;
    post_bundle(&app, &body)
        .await
        .outcome(StatusCode::PRECONDITION_FAILED);
    assert_eq!(app.versions_written().await, 2);
}
