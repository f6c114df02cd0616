//! `_include` and `_revinclude`: what they add to a page, once each, and where they stop.
//! Spec: https://hl7.org/fhir/R4/search.html#include, references.html#canonical

use axum::http::StatusCode;
use sonic_rs::{JsonContainerTrait, JsonValueTrait};

use super::{ids_of, observation, searchset, sorted};
use crate::support::{entries, TestApp};

/// The issue codes of the page's OperationOutcome entries (search mode `outcome`).
fn outcome_issue_codes(bundle: &sonic_rs::Value) -> Vec<String> {
    entries(bundle)
        .iter()
        .filter(|entry| entry["search"]["mode"].as_str() == Some("outcome"))
        .flat_map(|entry| {
            entry["resource"]["issue"]
                .as_array()
                .map(|issues| {
                    issues
                        .iter()
                        .map(|issue| issue["code"].as_str().unwrap_or_default().to_owned())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
        .collect()
}

// search.html#include: _include, _revinclude and :iterate
#[tokio::test]
async fn include_and_revinclude_add_the_linked_resources_once() {
    let app = TestApp::start().await;
    let organization = app
        .create(r#"{"resourceType":"Organization","name":"Acme"}"#)
        .await;
    let patient = app
        .create(&format!(r#"{{"resourceType":"Patient","managingOrganization":{{"reference":"Organization/{organization}"}}}}"#))
        .await;
    let first = observation(&app, &patient, "2020-01-01").await;
    let second = observation(&app, &patient, "2020-01-02").await;

    let included = searchset(&app, "/fhir/Observation?_include=Observation:subject").await;
    assert_eq!(ids_of(&included, "match").len(), 2);
    assert_eq!(ids_of(&included, "include"), sorted(&[&patient]));

    let iterated = searchset(
        &app,
        "/fhir/Observation?_include=Observation:subject&_include:iterate=Patient:organization",
    )
    .await;
    assert_eq!(
        sorted(&ids_of(&iterated, "include").iter().collect::<Vec<_>>()),
        sorted(&[&patient, &organization])
    );

    let reverse = searchset(
        &app,
        &format!("/fhir/Patient?_id={patient}&_revinclude=Observation:subject"),
    )
    .await;
    assert_eq!(ids_of(&reverse, "match"), sorted(&[&patient]));
    assert_eq!(
        sorted(&ids_of(&reverse, "include").iter().collect::<Vec<_>>()),
        sorted(&[&first, &second])
    );

    let everything = searchset(&app, "/fhir/Observation?_include=Observation:*").await;
    assert_eq!(
        ids_of(&everything, "include"),
        std::slice::from_ref(&patient)
    );

    // `*` iterated follows every reference of the included resources too, whatever their
    // type: the Patient's organization.
    let star = searchset(
        &app,
        &format!("/fhir/Observation?_id={first}&_include:iterate=*"),
    )
    .await;
    assert_eq!(
        sorted(&ids_of(&star, "include").iter().collect::<Vec<_>>()),
        sorted(&[&patient, &organization])
    );
}

// references.html#canonical: a canonical reference names a resource by its `url`, and by
// its `version` after `|` when given. `_include` follows it to every live resource of the
// parameter's target types with that URL (and version); one that names no such resource
// includes nothing. `_revinclude` follows it back.
#[tokio::test]
async fn include_and_revinclude_follow_a_canonical_reference_by_url_and_version() {
    let app = TestApp::start().await;
    let questionnaire = |version: &str| {
        format!(
            r#"{{"resourceType":"Questionnaire","url":"http://example.org/Questionnaire/intake","version":"{version}","status":"active"}}"#
        )
    };
    let first = app.create(&questionnaire("1")).await;
    let second = app.create(&questionnaire("2")).await;
    let retired = app.create(&questionnaire("0")).await;
    app.delete(&format!("/fhir/Questionnaire/{retired}")).await;
    let answered = |canonical: &str| {
        format!(
            r#"{{"resourceType":"QuestionnaireResponse","status":"completed","questionnaire":"{canonical}"}}"#
        )
    };
    let of_version_two = app
        .create(&answered("http://example.org/Questionnaire/intake|2"))
        .await;
    let of_any_version = app
        .create(&answered("http://example.org/Questionnaire/intake"))
        .await;
    let of_nothing_here = app
        .create(&answered("http://example.org/Questionnaire/unknown"))
        .await;

    let included = |response: &str| {
        format!(
            "/fhir/QuestionnaireResponse?_id={response}&_include=QuestionnaireResponse:questionnaire"
        )
    };
    let mut expected = vec![second.clone()];
    let bundle = searchset(&app, &included(&of_version_two)).await;
    assert_eq!(ids_of(&bundle, "include"), expected);
    expected.push(first.clone());
    expected.sort();
    let bundle = searchset(&app, &included(&of_any_version)).await;
    let mut found = ids_of(&bundle, "include");
    found.sort();
    assert_eq!(found, expected);
    let bundle = searchset(&app, &included(&of_nothing_here)).await;
    assert!(ids_of(&bundle, "include").is_empty());

    // And back: `_revinclude` finds the responses that name a questionnaire by its URL,
    // without a version or with its own.
    let revincluded = |questionnaire: &str| {
        format!(
            "/fhir/Questionnaire?_id={questionnaire}&_revinclude=QuestionnaireResponse:questionnaire"
        )
    };
    let mut expected = vec![of_version_two.clone(), of_any_version.clone()];
    expected.sort();
    let bundle = searchset(&app, &revincluded(&second)).await;
    let mut found = ids_of(&bundle, "include");
    found.sort();
    assert_eq!(found, expected);
    let bundle = searchset(&app, &revincluded(&first)).await;
    assert_eq!(ids_of(&bundle, "include"), [of_any_version]);
}

// search.html#include: `_include` follows the references each match holds now (they are read
// from the matches themselves, storage/src/search/include.rs), to resources that exist and are
// not deleted, of the type named by the modifier if there is one.
#[tokio::test]
async fn include_follows_each_matchs_current_references_to_live_targets_of_the_named_type() {
    let app = TestApp::start().await;
    let moved_from = app.create(r#"{"resourceType":"Patient"}"#).await;
    let moved_to = app.create(r#"{"resourceType":"Patient"}"#).await;
    let group = app
        .create(r#"{"resourceType":"Group","type":"person","actual":true}"#)
        .await;
    let deleted = app.create(r#"{"resourceType":"Patient"}"#).await;
    let moved = observation(&app, &moved_from, "2020-01-01").await;
    let updated = app
        .put(
            &format!("/fhir/Observation/{moved}"),
            &format!(
                r#"{{"resourceType":"Observation","id":"{moved}","status":"final","code":{{"text":"x"}},"subject":{{"reference":"Patient/{moved_to}"}}}}"#
            ),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text());
    app.create(&format!(
        r#"{{"resourceType":"Observation","status":"final","code":{{"text":"x"}},"subject":{{"reference":"Group/{group}"}}}}"#
    ))
    .await;
    observation(&app, "no-such-patient", "2020-01-02").await;
    observation(&app, &deleted, "2020-01-03").await;
    let removed = app.delete(&format!("/fhir/Patient/{deleted}")).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);

    let any_type = searchset(&app, "/fhir/Observation?_include=Observation:subject").await;
    assert_eq!(ids_of(&any_type, "match").len(), 4);
    let mut included = ids_of(&any_type, "include");
    included.sort();
    assert_eq!(
        included,
        sorted(&[&moved_to, &group]),
        "neither the earlier subject, the missing one nor the deleted one"
    );

    let patients_only = searchset(
        &app,
        "/fhir/Observation?_include=Observation:subject:Patient",
    )
    .await;
    assert_eq!(ids_of(&patients_only, "include"), [moved_to]);
}

// search.html#revinclude: a resource that refers to several of the page's resources, through
// one parameter or through several, is included once.
#[tokio::test]
async fn revinclude_lists_a_resource_referring_to_several_matches_once() {
    let app = TestApp::start().await;
    let first = app.create(r#"{"resourceType":"Patient"}"#).await;
    let second = app.create(r#"{"resourceType":"Patient"}"#).await;
    let group = app
        .create(&format!(
            r#"{{"resourceType":"Group","type":"person","actual":true,"member":[{{"entity":{{"reference":"Patient/{first}"}}}},{{"entity":{{"reference":"Patient/{second}"}}}}]}}"#
        ))
        .await;
    let through_member = searchset(&app, "/fhir/Patient?_revinclude=Group:member").await;
    assert_eq!(ids_of(&through_member, "match").len(), 2);
    assert_eq!(
        ids_of(&through_member, "include"),
        std::slice::from_ref(&group)
    );

    let through_any = searchset(&app, "/fhir/Patient?_revinclude=Group:*").await;
    assert_eq!(ids_of(&through_any, "include"), [group]);
}

// The statements of `_revinclude` keep their plans on the connection
// (storage/src/search/plans.rs): run again for other resources, with one reference parameter
// or all of them, each page still includes exactly the resources that refer to its matches.
#[tokio::test]
async fn revinclude_run_again_for_other_resources_includes_their_own_referrers() {
    let app = TestApp::start().await;
    let first_patient = app.create(r#"{"resourceType":"Patient"}"#).await;
    let second_patient = app.create(r#"{"resourceType":"Patient"}"#).await;
    let first_observation = observation(&app, &first_patient, "2020-01-01").await;
    let second_observation = observation(&app, &second_patient, "2020-01-02").await;
    // Refers to the first patient through `performer`, not `subject`.
    let performed = app
        .create(&format!(
            r#"{{"resourceType":"Observation","status":"final","code":{{"text":"x"}},"performer":[{{"reference":"Patient/{first_patient}"}}]}}"#
        ))
        .await;
    for _round in 0..8 {
        let by_subject = searchset(
            &app,
            &format!("/fhir/Patient?_id={first_patient}&_revinclude=Observation:subject"),
        )
        .await;
        assert_eq!(
            ids_of(&by_subject, "include"),
            std::slice::from_ref(&first_observation)
        );
        let by_any = searchset(
            &app,
            &format!("/fhir/Patient?_id={first_patient}&_revinclude=Observation:*"),
        )
        .await;
        assert_eq!(
            sorted(&ids_of(&by_any, "include").iter().collect::<Vec<_>>()),
            sorted(&[&first_observation, &performed])
        );
        let other = searchset(
            &app,
            &format!("/fhir/Patient?_id={second_patient}&_revinclude=Observation:*"),
        )
        .await;
        assert_eq!(
            ids_of(&other, "include"),
            std::slice::from_ref(&second_observation)
        );
    }
}

// search.html#include: a server may limit what it includes. Ember includes at most 1,000
// resources per page, and a page cut at that limit says so in an OperationOutcome entry
// (search mode `outcome`, issue `incomplete`); a page at the limit exactly does not.
#[tokio::test]
async fn revinclude_past_the_limit_is_cut_and_the_page_says_so() {
    let app = TestApp::start().await;
    let patient = app.create(r#"{"resourceType":"Patient"}"#).await;
    let observation_entry = format!(
        r#"{{"resource":{{"resourceType":"Observation","status":"final","code":{{"text":"x"}},"subject":{{"reference":"Patient/{patient}"}}}},"request":{{"method":"POST","url":"Observation"}}}}"#
    );
    let bundle = format!(
        r#"{{"resourceType":"Bundle","type":"transaction","entry":[{}]}}"#,
        vec![observation_entry; 1001].join(",")
    );
    assert_eq!(app.post("/fhir", &bundle).await.status, 200);
    let search = format!("/fhir/Patient?_id={patient}&_revinclude=Observation:subject");

    let cut = searchset(&app, &search).await;
    assert_eq!(ids_of(&cut, "match"), vec![patient.clone()]);
    let included = ids_of(&cut, "include");
    assert_eq!(included.len(), 1000);
    assert_eq!(outcome_issue_codes(&cut), ["incomplete"]);

    assert_eq!(
        app.delete(&format!("/fhir/Observation/{}", included[0]))
            .await
            .status,
        204
    );
    let whole = searchset(&app, &search).await;
    assert_eq!(ids_of(&whole, "include").len(), 1000);
    assert!(outcome_issue_codes(&whole).is_empty());
}

// search.html#include: `:iterate` follows references four rounds deep; a chain of members
// longer than that is cut there, and the page says so.
#[tokio::test]
async fn include_iterate_stops_after_four_rounds_and_the_page_says_so() {
    let app = TestApp::start().await;
    for member in 1..=6 {
        let has_member = if member < 6 {
            format!(
                r#","hasMember":[{{"reference":"Observation/member-{}"}}]"#,
                member + 1
            )
        } else {
            String::new()
        };
        let reply = app
            .put(
                &format!("/fhir/Observation/member-{member}"),
                &format!(
                    r#"{{"resourceType":"Observation","id":"member-{member}","status":"final","code":{{"text":"x"}}{has_member}}}"#
                ),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
    }
    let page = searchset(
        &app,
        "/fhir/Observation?_id=member-1&_include:iterate=Observation:has-member",
    )
    .await;
    let mut included = ids_of(&page, "include");
    included.sort();
    assert_eq!(included, ["member-2", "member-3", "member-4", "member-5"]);
    assert_eq!(outcome_issue_codes(&page), ["incomplete"]);
}
