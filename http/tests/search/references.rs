//! References, chains, reverse chains, compartments and lists.
//! Spec: https://hl7.org/fhir/R4/search.html#reference, #chaining, #has; http.html#vsearch

use axum::http::StatusCode;
use sonic_rs::JsonValueTrait;

use super::{ids_of, matches, observation, pages_there_and_back, rejects, searchset, sorted};
use crate::support::{entries, TestApp, BASE};

/// An Organization, a Patient managed by it, and an Observation about the Patient.
async fn linked(
    app: &TestApp,
    organization_name: &str,
    family: &str,
    code: &str,
) -> (String, String, String) {
    let organization = app
        .create(&format!(
            r#"{{"resourceType":"Organization","name":"{organization_name}"}}"#
        ))
        .await;
    let patient = app
        .create(&format!(
            r#"{{"resourceType":"Patient","name":[{{"family":"{family}"}}],"managingOrganization":{{"reference":"Organization/{organization}"}}}}"#
        ))
        .await;
    let observation = app
        .create(&format!(
            r#"{{"resourceType":"Observation","status":"final","code":{{"coding":[{{"system":"http://loinc.org","code":"{code}"}}]}},"subject":{{"reference":"Patient/{patient}"}}}}"#
        ))
        .await;
    (organization, patient, observation)
}

#[tokio::test]
async fn search_reference_by_type_and_id_id_alone_and_absolute_url() {
    let app = TestApp::start().await;
    let (_, patient, observation) = linked(&app, "Acme", "Ng", "1").await;
    linked(&app, "Other", "Li", "2").await;
    assert_eq!(
        matches(
            &app,
            &format!("/fhir/Observation?subject=Patient/{patient}")
        )
        .await,
        sorted(&[&observation])
    );
    assert_eq!(
        matches(&app, &format!("/fhir/Observation?subject={patient}")).await,
        sorted(&[&observation])
    );
    assert_eq!(
        matches(
            &app,
            &format!("/fhir/Observation?subject:Patient={patient}")
        )
        .await,
        sorted(&[&observation])
    );
    assert_eq!(
        matches(
            &app,
            &format!("/fhir/Observation?patient={BASE}/Patient/{patient}")
        )
        .await,
        [observation]
    );
    rejects(&app, "/fhir/Observation?subject=Unicorn/1", "subject").await;
}

/// An Observation whose subject is `reference`, as JSON.
fn observation_of(reference: &str) -> String {
    format!(
        r#"{{"resourceType":"Observation","status":"final","code":{{"text":"x"}},"subject":{{"reference":"{reference}"}}}}"#
    )
}

// search.html#reference: a relative reference is relative to this server's base, and an
// absolute URL under that base is a local reference; an absolute URL on another server
// names that server's resource, even when its type and id are those of a local one.
#[tokio::test]
async fn an_absolute_reference_to_another_server_never_stands_for_the_local_resource_of_that_id() {
    let app = TestApp::start().await;
    let patient = app
        .create(r#"{"resourceType":"Patient","name":[{"family":"Ng"}]}"#)
        .await;
    let elsewhere = format!("http://elsewhere.test/fhir/Patient/{patient}");
    let relative = app
        .create(&observation_of(&format!("Patient/{patient}")))
        .await;
    let under_this_base = app
        .create(&observation_of(&format!(
            "{BASE}/Patient/{patient}/_history/1"
        )))
        .await;
    let on_another_server = app.create(&observation_of(&elsewhere)).await;
    let local = sorted(&[&relative, &under_this_base]);

    for search in [
        format!("/fhir/Observation?subject=Patient/{patient}"),
        format!("/fhir/Observation?subject={BASE}/Patient/{patient}"),
        "/fhir/Observation?subject:Patient.name=Ng".to_owned(),
        format!("/fhir/Patient/{patient}/Observation"),
    ] {
        assert_eq!(matches(&app, &search).await, local, "{search}");
    }
    assert_eq!(
        matches(&app, &format!("/fhir/Observation?subject={elsewhere}")).await,
        std::slice::from_ref(&on_another_server)
    );
    assert!(matches(
        &app,
        &format!("/fhir/Patient?_has:Observation:subject:_id={on_another_server}")
    )
    .await
    .is_empty());

    let included = |observation: &str| {
        format!("/fhir/Observation?_id={observation}&_include=Observation:subject")
    };
    let bundle = searchset(&app, &included(&on_another_server)).await;
    assert!(ids_of(&bundle, "include").is_empty(), "{bundle:?}");
    let bundle = searchset(&app, &included(&under_this_base)).await;
    assert_eq!(ids_of(&bundle, "include"), std::slice::from_ref(&patient));
    let bundle = searchset(
        &app,
        &format!("/fhir/Patient?_id={patient}&_revinclude=Observation:subject"),
    )
    .await;
    let mut referring = ids_of(&bundle, "include");
    referring.sort();
    assert_eq!(referring, local);
}

// Every write path localises the same way: update, patch and transaction entries.
#[tokio::test]
async fn updates_patches_and_transactions_index_references_under_this_base_as_local() {
    let app = TestApp::start().await;
    let patient = app
        .create(r#"{"resourceType":"Patient","name":[{"family":"Ng"}]}"#)
        .await;
    let updated = app.create(&observation_of("Patient/placeholder")).await;
    let reply = app
        .put(
            &format!("/fhir/Observation/{updated}"),
            &observation_of(&format!("{BASE}/Patient/{patient}")).replacen(
                r#""resourceType":"Observation","#,
                &format!(r#""resourceType":"Observation","id":"{updated}","#),
                1,
            ),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    let patched = app.create(&observation_of("Patient/placeholder")).await;
    let reply = app
        .request(
            axum::http::Method::PATCH,
            &format!("/fhir/Observation/{patched}"),
        )
        .header("content-type", "application/json-patch+json")
        .body(format!(
            r#"[{{"op":"replace","path":"/subject/reference","value":"{BASE}/Patient/{patient}"}}]"#
        ))
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    let transaction = format!(
        r#"{{"resourceType":"Bundle","type":"transaction","entry":[
            {{"resource":{local},"request":{{"method":"POST","url":"Observation"}}}},
            {{"resource":{foreign},"request":{{"method":"POST","url":"Observation"}}}}]}}"#,
        local = observation_of(&format!("{BASE}/Patient/{patient}")),
        foreign = observation_of(&format!("http://elsewhere.test/fhir/Patient/{patient}")),
    );
    let reply = app.post("/fhir", &transaction).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let created: Vec<String> = entries(&reply.json())
        .iter()
        .map(|entry| {
            let location = entry["response"]["location"].as_str().unwrap_or_default();
            let mut segments = location
                .split('/')
                .skip_while(|segment| *segment != "Observation");
            segments.nth(1).unwrap_or_default().to_owned()
        })
        .collect();

    assert_eq!(
        matches(
            &app,
            &format!("/fhir/Observation?subject=Patient/{patient}")
        )
        .await,
        sorted(&[&updated, &patched, &created[0]])
    );
}

/// An Observation of `patient` with the LOINC `code`, as JSON.
fn coded_observation(patient: &str, code: &str) -> String {
    format!(
        r#"{{"resourceType":"Observation","status":"final","code":{{"coding":[{{"system":"http://loinc.org","code":"{code}"}}]}},"subject":{{"reference":"Patient/{patient}"}}}}"#
    )
}

// search.html#combining (AND by `&`): a reference and a code. A page is drawn from the
// Patient's reference rows and each tested for the code while the Patient has fewer than
// 1,000 Observations; beyond, it is walked from them until a full page is found within
// 2,000, else planned by PostgreSQL. Each way lists each match once.
#[tokio::test]
async fn search_by_patient_and_code_finds_observations_with_both() {
    let app = TestApp::start().await;
    let few = app.create(r#"{"resourceType":"Patient"}"#).await;
    let many = app.create(r#"{"resourceType":"Patient"}"#).await;
    let other = app.create(r#"{"resourceType":"Patient"}"#).await;
    let mut glucose_of_few = Vec::new();
    for _ in 0..3 {
        glucose_of_few.push(app.create(&coded_observation(&few, "2339-0")).await);
    }
    app.create(&coded_observation(&few, "8867-4")).await;
    app.create(&coded_observation(&other, "2339-0")).await;
    let deleted = app.create(&coded_observation(&few, "2339-0")).await;
    assert!(app
        .delete(&format!("/fhir/Observation/{deleted}"))
        .await
        .status
        .is_success());
    // 2,100 heart rates, then two glucose readings: more rows than the draw counts (1,000)
    // and than it walks (2,000) looking for a full page.
    let heart_rates: Vec<String> = (0..2_100)
        .map(|_| {
            format!(
                r#"{{"request":{{"method":"POST","url":"Observation"}},"resource":{}}}"#,
                coded_observation(&many, "8867-4")
            )
        })
        .collect();
    let reply = app
        .post(
            "/fhir",
            &format!(
                r#"{{"resourceType":"Bundle","type":"transaction","entry":[{}]}}"#,
                heart_rates.join(",")
            ),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let mut glucose_of_many = Vec::new();
    for _ in 0..2 {
        glucose_of_many.push(app.create(&coded_observation(&many, "2339-0")).await);
    }

    let glucose = "code=http://loinc.org|2339-0";
    for (patient, expected) in [(&few, &glucose_of_few), (&many, &glucose_of_many)] {
        let expected = sorted(&expected.iter().collect::<Vec<_>>());
        for count in [1, 2, 10] {
            let first =
                format!("/fhir/Observation?subject=Patient/{patient}&{glucose}&_count={count}");
            let pages = pages_there_and_back(&app, &first).await;
            assert_eq!(pages.concat(), expected, "{first}: {pages:?}");
        }
    }
    let heart_rates_of_many = pages_there_and_back(
        &app,
        &format!("/fhir/Observation?subject=Patient/{many}&code=8867-4&_count=300"),
    )
    .await
    .concat();
    assert_eq!(heart_rates_of_many.len(), 2_100);
    let empty = searchset(
        &app,
        &format!("/fhir/Observation?subject=Patient/{other}&code=8867-4"),
    )
    .await;
    assert!(entries(&empty).is_empty(), "{empty:?}");
    assert_eq!(empty["total"].as_u64(), Some(0));
}

// search.html#_sort: a Patient's Observations sorted by date, and by `_lastUpdated`, which
// the drawn page cannot sort by (docs/benchmarks.md, "Several single values drawn from one
// of them"), page in the sort's order there and back.
#[tokio::test]
async fn search_by_patient_sorted_pages_in_the_sort_order() {
    let app = TestApp::start().await;
    let patient = app.create(r#"{"resourceType":"Patient"}"#).await;
    let mut by_date = Vec::new();
    for date in ["2021-03-01", "2019-07-15", "2023-01-09", "2020-11-30"] {
        by_date.push((date, observation(&app, &patient, date).await));
    }
    let created: Vec<String> = by_date.iter().map(|(_, id)| id.clone()).collect();
    by_date.sort();
    let oldest_first: Vec<String> = by_date.into_iter().map(|(_, id)| id).collect();
    let newest_first: Vec<String> = oldest_first.iter().rev().cloned().collect();
    let last_written_first: Vec<String> = created.iter().rev().cloned().collect();
    for (sort, expected) in [
        ("date", &oldest_first),
        ("-date", &newest_first),
        ("-_lastUpdated", &last_written_first),
        ("date,-_lastUpdated", &oldest_first),
    ] {
        let first = format!("/fhir/Observation?subject=Patient/{patient}&_sort={sort}&_count=3");
        let pages = pages_there_and_back(&app, &first).await;
        assert_eq!(&pages.concat(), expected, "{first}: {pages:?}");
    }
}

// search.html#chaining: chains to any depth
#[tokio::test]
async fn search_chain_follows_references_two_levels_deep() {
    let app = TestApp::start().await;
    let (_, _, acme_observation) = linked(&app, "Acme Health", "Ng", "1").await;
    linked(&app, "Other", "Li", "2").await;
    assert_eq!(
        matches(&app, "/fhir/Observation?subject:Patient.family=ng").await,
        sorted(&[&acme_observation])
    );
    assert_eq!(
        matches(&app, "/fhir/Observation?subject.family=ng").await,
        sorted(&[&acme_observation])
    );
    assert_eq!(
        matches(
            &app,
            "/fhir/Observation?subject:Patient.organization.name=acme"
        )
        .await,
        [acme_observation]
    );
    // An unknown parameter at the end of a chain is an unknown parameter: refused when the
    // client asks for strict handling (ignored and reported otherwise, parameters.rs).
    let strict = app
        .request(
            axum::http::Method::GET,
            "/fhir/Observation?subject:Patient.nonsense=x",
        )
        .header("prefer", "handling=strict")
        .send()
        .await;
    let issue = strict.outcome(StatusCode::BAD_REQUEST);
    assert_eq!(
        issue["expression"][0].as_str(),
        Some("subject:Patient.nonsense")
    );
}

// search.html#has: reverse chaining, nested
#[tokio::test]
async fn search_has_finds_resources_referred_to_by_matching_ones() {
    let app = TestApp::start().await;
    let (organization, patient, _) = linked(&app, "Acme", "Ng", "8867-4").await;
    linked(&app, "Other", "Li", "1234-5").await;
    assert_eq!(
        matches(&app, "/fhir/Patient?_has:Observation:patient:code=8867-4").await,
        [patient]
    );
    assert_eq!(
        matches(
            &app,
            "/fhir/Organization?_has:Patient:organization:_has:Observation:patient:code=8867-4"
        )
        .await,
        [organization]
    );
    rejects(
        &app,
        "/fhir/Patient?_has:Observation:code:code=1",
        "_has:Observation:code:code",
    )
    .await;
}

// search.html#has, search.html#paging: a page found by walking the Patients in id order
// and testing each (the probe) and a page left to the full search list each match once,
// whatever the number of matching Observations or their deletion.
#[tokio::test]
async fn search_has_pages_through_each_match_once() {
    let app = TestApp::start().await;
    let patient = || app.create(r#"{"resourceType":"Patient"}"#);
    let observation = |patient: String, code: &'static str| {
        let app = &app;
        async move {
            app.create(&format!(
                r#"{{"resourceType":"Observation","status":"final","code":{{"coding":[{{"system":"http://loinc.org","code":"{code}"}}]}},"subject":{{"reference":"Patient/{patient}"}}}}"#
            ))
            .await
        }
    };
    let mut expected = Vec::new();
    let one_match = patient().await;
    observation(one_match.clone(), "8867-4").await;
    expected.push(one_match);
    let other_code = patient().await;
    observation(other_code, "2339-0").await;
    let two_matches = patient().await;
    observation(two_matches.clone(), "8867-4").await;
    observation(two_matches.clone(), "8867-4").await;
    expected.push(two_matches);
    let match_deleted = patient().await;
    let deleted = observation(match_deleted, "8867-4").await;
    assert!(app
        .delete(&format!("/fhir/Observation/{deleted}"))
        .await
        .status
        .is_success());
    let second_observation_matches = patient().await;
    observation(second_observation_matches.clone(), "2339-0").await;
    observation(second_observation_matches.clone(), "8867-4").await;
    expected.push(second_observation_matches);
    let deleted_patient = patient().await;
    observation(deleted_patient.clone(), "8867-4").await;
    assert!(app
        .delete(&format!("/fhir/Patient/{deleted_patient}"))
        .await
        .status
        .is_success());
    let last = patient().await;
    observation(last.clone(), "8867-4").await;
    expected.push(last);
    let expected = sorted(&expected.iter().collect::<Vec<_>>());

    for count in [1, 3, 10] {
        let pages = pages_there_and_back(
            &app,
            &format!("/fhir/Patient?_has:Observation:subject:code=8867-4&_count={count}"),
        )
        .await;
        assert_eq!(pages.concat(), expected, "_count={count}: {pages:?}");
    }
}

// search.html#has, search.html#token: a referring resource is found by any of its codes,
// with or without the system, OR by comma, and no longer by a code an update took away even
// though the update left its reference as it was (reference rows carry a signature of the
// referrer's codes, storage/src/token_signature.rs, which must follow it). A system the
// referrer does not have, and `_id`, which is no code, are tested as before.
#[tokio::test]
async fn search_has_follows_the_referrers_current_codes() {
    let app = TestApp::start().await;
    let (_, patient, observation) = linked(&app, "Acme", "Ng", "8867-4").await;
    let (_, other, _) = linked(&app, "Other", "Li", "1234-5").await;
    let has = |inner: &str| format!("/fhir/Patient?_has:Observation:patient:{inner}");
    for finds_the_patient in [
        "code=8867-4",
        "code=http://loinc.org|8867-4",
        "code=9999-9,8867-4",
    ] {
        assert_eq!(
            matches(&app, &has(finds_the_patient)).await,
            std::slice::from_ref(&patient),
            "{finds_the_patient}"
        );
    }

    let recoded = app
        .put(
            &format!("/fhir/Observation/{observation}"),
            &format!(
                r#"{{"resourceType":"Observation","id":"{observation}","status":"final","code":{{"coding":[{{"system":"http://loinc.org","code":"2339-0"}}]}},"subject":{{"reference":"Patient/{patient}"}}}}"#
            ),
        )
        .await;
    assert_eq!(recoded.status, StatusCode::OK);
    assert!(matches(&app, &has("code=8867-4")).await.is_empty());
    assert_eq!(
        matches(&app, &has("code=2339-0")).await,
        std::slice::from_ref(&patient)
    );
    assert!(matches(&app, &has("code=http://snomed.info/sct|2339-0"))
        .await
        .is_empty());
    assert_eq!(
        matches(&app, &has("code=2339-0,1234-5")).await,
        sorted(&[&patient, &other])
    );
    assert_eq!(
        matches(&app, &has(&format!("_id={observation}"))).await,
        [patient]
    );
}

// search.html#has and #chaining: a deleted resource is not found (http.html#delete), even
// while live resources still refer to it; nor is a resource through a deleted one.
#[tokio::test]
async fn search_has_and_chains_skip_deleted_resources() {
    let app = TestApp::start().await;
    let (organization, patient, observation) = linked(&app, "Acme", "Ng", "8867-4").await;
    assert!(app
        .delete(&format!("/fhir/Patient/{patient}"))
        .await
        .status
        .is_success());
    for through_the_deleted_patient in [
        "/fhir/Patient?_has:Observation:patient:code=8867-4",
        "/fhir/Observation?subject:Patient.name=Ng",
        "/fhir/Observation?patient.organization.name=Acme",
    ] {
        let found = matches(&app, through_the_deleted_patient).await;
        assert!(found.is_empty(), "{through_the_deleted_patient}: {found:?}");
    }
    // The Organization is live, and its Patient's Observation still refers to nothing live.
    assert_eq!(
        matches(&app, "/fhir/Organization?name=Acme").await,
        [organization]
    );
    assert_eq!(
        matches(&app, "/fhir/Observation?code=8867-4").await,
        [observation]
    );
}

// search.html#chaining, search.html#has: the resource a chain or `_has` passes through must
// be live too. Inner criteria on an index row are tested without reading the inner resource.
#[tokio::test]
async fn search_has_and_chains_skip_deleted_inner_resources() {
    let app = TestApp::start().await;
    let (organization, patient, observation) = linked(&app, "Acme", "Ng", "8867-4").await;
    let delete = |path: String| {
        let app = &app;
        async move { assert!(app.delete(&path).await.status.is_success(), "{path}") }
    };
    delete(format!("/fhir/Observation/{observation}")).await;
    delete(format!("/fhir/Organization/{organization}")).await;
    for through_a_deleted_resource in [
        "/fhir/Patient?_has:Observation:patient:code=8867-4",
        "/fhir/Patient?organization.name=Acme",
        "/fhir/Patient?organization:Organization.name:exact=Acme",
    ] {
        let found = matches(&app, through_a_deleted_resource).await;
        assert!(found.is_empty(), "{through_a_deleted_resource}: {found:?}");
    }
    // Inner criteria that need no index row read the inner resource row: `_id` of a deleted
    // Organization, and a missing name, still find nothing through it.
    for read_through_the_row in [
        format!("/fhir/Patient?organization._id={organization}"),
        "/fhir/Patient?organization.name:missing=true".to_owned(),
    ] {
        let found = matches(&app, &read_through_the_row).await;
        assert!(found.is_empty(), "{read_through_the_row}: {found:?}");
    }
    assert_eq!(matches(&app, "/fhir/Patient?name=Ng").await, [patient]);
}

// http.html#vsearch: compartment search, from the R4 CompartmentDefinitions
#[tokio::test]
async fn compartment_search_finds_what_belongs_to_the_patient() {
    let app = TestApp::start().await;
    let (_, patient, observation) = linked(&app, "Acme", "Ng", "1").await;
    let (_, _, other_observation) = linked(&app, "Other", "Li", "1").await;
    assert_eq!(
        matches(&app, &format!("/fhir/Patient/{patient}/Observation")).await,
        sorted(&[&observation])
    );
    assert_eq!(
        matches(&app, &format!("/fhir/Patient/{patient}/Observation?code=1")).await,
        sorted(&[&observation])
    );
    assert_eq!(
        matches(&app, &format!("/fhir/Patient/{patient}/*")).await,
        sorted(&[&observation, &patient])
    );
    assert!(!matches(&app, &format!("/fhir/Patient/{patient}/*"))
        .await
        .contains(&other_observation));
}

// search.html#list
#[tokio::test]
async fn list_parameter_finds_the_items_of_a_list() {
    let app = TestApp::start().await;
    let (_, first, _) = linked(&app, "Acme", "Ng", "1").await;
    linked(&app, "Other", "Li", "2").await;
    let list = app
        .create(&format!(r#"{{"resourceType":"List","status":"current","mode":"working","entry":[{{"item":{{"reference":"Patient/{first}"}}}}]}}"#))
        .await;
    assert_eq!(
        matches(&app, &format!("/fhir/Patient?_list={list}")).await,
        [first]
    );
    // "_list=$current-allergies": a functional list, which Ember does not keep.
    rejects(
        &app,
        "/fhir/AllergyIntolerance?_list=$current-allergies",
        "_list",
    )
    .await;
}
