//! Chains, `_has` and `_include` through canonical references: a resource named by its
//! `url`, and by its `version` after `|` when the reference gives one.
//! Spec: https://hl7.org/fhir/R4/search.html#chaining, search.html#has,
//! references.html#canonical

use axum::http::StatusCode;

use super::{ids_of, matches, searchset, sorted};
use crate::support::TestApp;

const INTAKE: &str = "http://example.org/Questionnaire/intake";

/// Questionnaires and the responses that name them by canonical URL.
struct Forms {
    /// `INTAKE` version 1, titled "Admission".
    intake_one: String,
    /// `INTAKE` version 2, titled "Admission revised".
    intake_two: String,
    /// Another URL, titled "Discharge".
    discharge: String,
    /// Completed, naming `INTAKE|2`.
    answers_version_two: String,
    /// Completed, naming `INTAKE` without a version: every version.
    answers_any_version: String,
    /// In progress, naming the discharge questionnaire.
    answers_discharge: String,
}

async fn forms(app: &TestApp) -> Forms {
    let questionnaire = |url: &str, version: &str, title: &str| {
        format!(
            r#"{{"resourceType":"Questionnaire","url":"{url}","version":"{version}","title":"{title}","status":"active"}}"#
        )
    };
    let response = |status: &str, canonical: &str| {
        format!(
            r#"{{"resourceType":"QuestionnaireResponse","status":"{status}","questionnaire":"{canonical}"}}"#
        )
    };
    let discharge_url = "http://example.org/Questionnaire/discharge";
    let retired_url = "http://example.org/Questionnaire/retired";
    let retired = app
        .create(&questionnaire(retired_url, "1", "Retired"))
        .await;
    app.delete(&format!("/fhir/Questionnaire/{retired}")).await;
    app.create(&response("completed", retired_url)).await;
    app.create(&response(
        "completed",
        "http://example.org/Questionnaire/unknown",
    ))
    .await;
    Forms {
        intake_one: app.create(&questionnaire(INTAKE, "1", "Admission")).await,
        intake_two: app
            .create(&questionnaire(INTAKE, "2", "Admission revised"))
            .await,
        discharge: app
            .create(&questionnaire(discharge_url, "1", "Discharge"))
            .await,
        answers_version_two: app
            .create(&response("completed", &format!("{INTAKE}|2")))
            .await,
        answers_any_version: app.create(&response("completed", INTAKE)).await,
        answers_discharge: app.create(&response("in-progress", discharge_url)).await,
    }
}

// search.html#chaining with references.html#canonical: the chain's next parameter applies to
// the live resources the canonical names; a reference with a version names that version only.
#[tokio::test]
async fn chain_through_a_canonical_reference_tests_the_resources_its_url_and_version_name() {
    let app = &TestApp::start().await;
    let forms = forms(app).await;
    let responses = |query: &str| {
        let uri = format!("/fhir/QuestionnaireResponse?{query}");
        async move { matches(app, &uri).await }
    };

    assert_eq!(
        responses("questionnaire.title=admission%20revised").await,
        sorted(&[&forms.answers_version_two, &forms.answers_any_version])
    );
    assert_eq!(
        responses("questionnaire.version=1").await,
        sorted(&[&forms.answers_any_version, &forms.answers_discharge])
    );
    assert_eq!(
        responses("questionnaire:Questionnaire.title=discharge").await,
        sorted(&[&forms.answers_discharge])
    );
    // The retired questionnaire is deleted, the unknown one never existed.
    assert_eq!(
        responses("questionnaire.status=active").await,
        sorted(&[
            &forms.answers_version_two,
            &forms.answers_any_version,
            &forms.answers_discharge
        ])
    );
    assert!(responses("questionnaire.title=retired").await.is_empty());
    // With another criterion, and as the inner step of a two-level chain.
    assert_eq!(
        responses("questionnaire.version=2&status=completed").await,
        sorted(&[&forms.answers_version_two, &forms.answers_any_version])
    );
    let observation = app
        .create(&format!(
            r#"{{"resourceType":"Observation","status":"final","code":{{"text":"score"}},"derivedFrom":[{{"reference":"QuestionnaireResponse/{}"}}]}}"#,
            forms.answers_discharge
        ))
        .await;
    assert_eq!(
        matches(
            app,
            "/fhir/Observation?derived-from:QuestionnaireResponse.questionnaire.title=discharge"
        )
        .await,
        [observation]
    );
    // A `Reference` holding a canonical resource's URL is resolved the same way: "by treating
    // an absolute reference as a canonical URL" (datatypes: Reference).
    let task = app
        .create(&format!(
            r#"{{"resourceType":"Task","status":"requested","intent":"order","focus":{{"reference":"{INTAKE}"}}}}"#
        ))
        .await;
    assert_eq!(
        matches(
            app,
            "/fhir/Task?focus:Questionnaire.title=admission%20revised"
        )
        .await,
        sorted(&[&task])
    );
    // `_include` follows it the same way.
    let included = searchset(app, &format!("/fhir/Task?_id={task}&_include=Task:focus")).await;
    let mut found = ids_of(&included, "include");
    found.sort();
    assert_eq!(found, sorted(&[&forms.intake_one, &forms.intake_two]));
}

// search.html#has with references.html#canonical: a resource with a canonical URL is referred
// to by the resources that name its URL without a version, or with its own version.
#[tokio::test]
async fn has_through_a_canonical_reference_finds_the_resources_its_referrers_name() {
    let app = &TestApp::start().await;
    let forms = forms(app).await;
    let questionnaires = |query: &str| {
        let uri = format!("/fhir/Questionnaire?{query}");
        async move { matches(app, &uri).await }
    };

    assert_eq!(
        questionnaires("_has:QuestionnaireResponse:questionnaire:status=completed").await,
        sorted(&[&forms.intake_one, &forms.intake_two])
    );
    assert_eq!(
        questionnaires("_has:QuestionnaireResponse:questionnaire:status=in-progress").await,
        sorted(&[&forms.discharge])
    );
    assert_eq!(
        questionnaires(&format!(
            "_has:QuestionnaireResponse:questionnaire:_id={}",
            forms.answers_version_two
        ))
        .await,
        sorted(&[&forms.intake_two])
    );
    assert_eq!(
        questionnaires(&format!(
            "_has:QuestionnaireResponse:questionnaire:_id={}&title=admission%20revised",
            forms.answers_any_version
        ))
        .await,
        sorted(&[&forms.intake_two])
    );
    // A response no longer naming the questionnaire stops counting.
    let updated = app
        .put(
            &format!("/fhir/QuestionnaireResponse/{}", forms.answers_discharge),
            &format!(
                r#"{{"resourceType":"QuestionnaireResponse","id":"{}","status":"in-progress"}}"#,
                forms.answers_discharge
            ),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text());
    assert!(
        questionnaires("_has:QuestionnaireResponse:questionnaire:status=in-progress")
            .await
            .is_empty()
    );
}

// search.html#uri: for the canonical URL of a conformance resource, "servers SHOULD support
// automatically detecting a |[version] portion of the URL and interpreting that portion as
// a search on the version".
#[tokio::test]
async fn a_canonical_url_with_a_version_finds_that_version() {
    let app = TestApp::start().await;
    let value_set = |version: &str| {
        format!(
            r#"{{"resourceType":"ValueSet","status":"active","url":"http://example.org/fhir/ValueSet/colours","version":"{version}"}}"#
        )
    };
    let first = app.create(&value_set("1.0")).await;
    let second = app.create(&value_set("2.0")).await;
    let url = "http://example.org/fhir/ValueSet/colours";
    assert_eq!(
        matches(&app, &format!("/fhir/ValueSet?url={url}|1.0")).await,
        sorted(&[&first])
    );
    assert_eq!(
        matches(&app, &format!("/fhir/ValueSet?url={url}")).await,
        sorted(&[&first, &second])
    );
    assert!(matches(&app, &format!("/fhir/ValueSet?url={url}|3.0"))
        .await
        .is_empty());
}
