//! Chains paged: matches grouped by the resources the chain goes through, each once, forward
//! and back (storage/src/search/grouped.rs).
//! Spec: https://hl7.org/fhir/R4/search.html#chaining, https://hl7.org/fhir/R4/search.html#paging

use super::{ids_of, matches, observation, pages_from, pages_there_and_back, searchset, sorted};
use crate::support::{link, TestApp};

// search.html#chaining, search.html#paging: without `_sort` no order is defined; a chain
// through a reference that holds one resource (`Observation.subject`) lists its matches
// grouped by the resource it refers to, targets in id order and each one's matches in id
// order (storage/src/search/grouped.rs), and pages forward and back through every match
// once, skipping the resources that do not match.
#[tokio::test]
async fn paging_through_a_chain_lists_matches_grouped_by_target_each_once() {
    let app = TestApp::start().await;
    let mut active = Vec::new();
    for _ in 0..2 {
        active.push(
            app.create(r#"{"resourceType":"Patient","active":true}"#)
                .await,
        );
    }
    let inactive = app
        .create(r#"{"resourceType":"Patient","active":false}"#)
        .await;
    // (target, match) pairs, created interleaved across the patients.
    let mut expected = Vec::new();
    for day in 1..=9 {
        let subject = match day % 3 {
            0 => &inactive,
            1 => &active[0],
            _ => &active[1],
        };
        let id = observation(&app, subject, &format!("2020-01-0{day}")).await;
        if day % 3 != 0 {
            expected.push((subject.clone(), id));
        }
    }
    expected.sort();
    let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
    let (pages, uri) = pages_from(
        &app,
        "/fhir/Observation?subject:Patient.active=true&_count=2",
    )
    .await;
    assert_eq!(pages.concat(), expected);
    let last = searchset(&app, &uri).await;
    let previous = searchset(&app, &link(&last, "previous").unwrap()).await;
    assert_eq!(ids_of(&previous, "match"), pages[pages.len() - 2]);
    assert_eq!(pages.len(), 3);
    let back_to_first = searchset(&app, &link(&previous, "previous").unwrap()).await;
    assert_eq!(ids_of(&back_to_first, "match"), pages[0]);
    assert_eq!(link(&back_to_first, "previous"), None);
}

// search.html#chaining, search.html#string: a chain through a name groups its matches by the
// Patients whose names start with the value, in id order: a Patient with two such names is one
// group, a Patient with another name none, and the pages go forward and back through every
// match once.
#[tokio::test]
async fn paging_a_chain_through_a_name_groups_by_each_named_patient_once() {
    let app = TestApp::start().await;
    let mut expected = Vec::new();
    for names in [
        r#"[{"family":"Miller"}]"#,
        r#"[{"family":"Milton"}]"#,
        r#"[{"family":"Mill"},{"family":"Millers","given":["Ann"]}]"#,
        r#"[{"family":"Moller"}]"#,
        r#"[{"family":"Miller"}]"#,
    ] {
        let patient = app
            .create(&format!(r#"{{"resourceType":"Patient","name":{names}}}"#))
            .await;
        for day in 1..=2 {
            let id = observation(&app, &patient, &format!("2020-01-0{day}")).await;
            if !names.contains("Moller") {
                expected.push((patient.clone(), id));
            }
        }
    }
    expected.sort();
    let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
    let pages =
        pages_there_and_back(&app, "/fhir/Observation?subject:Patient.name=mil&_count=3").await;
    assert_eq!(pages.concat(), expected);
    assert_eq!(pages.len(), 3);
}

// The same with many names in the range (more than the 64 values `Patient?name=` pages from
// one by one, storage/src/search/runs.rs): the same groups in the same order.
#[tokio::test]
async fn a_chain_through_a_name_with_many_values_groups_by_patient_in_id_order() {
    let app = TestApp::start().await;
    let mut expected = Vec::new();
    for number in 0..66 {
        let patient = app
            .create(&format!(
                r#"{{"resourceType":"Patient","name":[{{"family":"Mil{number:02}"}}]}}"#
            ))
            .await;
        if number % 11 == 0 {
            let id = observation(&app, &patient, "2020-01-01").await;
            expected.push((patient, id));
        }
    }
    expected.sort();
    let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
    let pages =
        pages_there_and_back(&app, "/fhir/Observation?subject:Patient.name=mil&_count=2").await;
    assert_eq!(pages.concat(), expected);
}

// A chain that is the search's only criterion keeps its statement's plan on the connection
// and reuses it for other values (storage/src/search/plans.rs): each run must still select
// exactly the resources its own values select, whichever values the plan was first made for.
#[tokio::test]
async fn a_lone_chain_run_again_with_other_values_selects_its_own_matches() {
    let app = TestApp::start().await;
    let patient = |family: &str, gender: &str| {
        format!(
            r#"{{"resourceType":"Patient","name":[{{"family":"{family}"}}],"gender":"{gender}"}}"#
        )
    };
    let smith = app.create(&patient("Smith", "female")).await;
    let smyth = app.create(&patient("Smyth", "male")).await;
    let jones = app.create(&patient("Jones", "female")).await;
    let of_smith = observation(&app, &smith, "2020-01-01").await;
    let of_smyth = observation(&app, &smyth, "2020-01-02").await;
    let of_jones = observation(&app, &jones, "2020-01-03").await;
    let also_of_jones = observation(&app, &jones, "2020-01-04").await;
    let cases = [
        ("name=smith", sorted(&[&of_smith])),
        ("name=sm", sorted(&[&of_smith, &of_smyth])),
        ("name=jones", sorted(&[&of_jones, &also_of_jones])),
        ("name=brown", Vec::new()),
        (
            "gender=female",
            sorted(&[&of_smith, &of_jones, &also_of_jones]),
        ),
        ("gender=male", sorted(&[&of_smyth])),
        ("gender=other", Vec::new()),
    ];
    // More rounds than the five runs after which PostgreSQL may keep a generic plan.
    for _round in 0..8 {
        for (criterion, expected) in &cases {
            let uri = format!("/fhir/Observation?subject:Patient.{criterion}");
            assert_eq!(&matches(&app, &uri).await, expected, "{uri}");
        }
    }
}

// search.html#chaining: the chain's other criteria still apply to each grouped match, and a
// chain whose inner criterion no target meets finds nothing.
#[tokio::test]
async fn grouped_chain_applies_the_other_criteria_to_each_match() {
    let app = TestApp::start().await;
    let patient = app
        .create(r#"{"resourceType":"Patient","name":[{"family":"Grouped"}]}"#)
        .await;
    let early = observation(&app, &patient, "2019-06-01").await;
    let late = observation(&app, &patient, "2021-06-01").await;
    let (pages, _) = pages_from(
        &app,
        "/fhir/Observation?subject:Patient.name=grouped&date=ge2020",
    )
    .await;
    assert_eq!(pages.concat(), vec![late]);
    let (pages, _) = pages_from(
        &app,
        "/fhir/Observation?subject:Patient.name=grouped&date=lt2020",
    )
    .await;
    assert_eq!(pages.concat(), vec![early]);
    let (pages, _) = pages_from(&app, "/fhir/Observation?subject:Patient.name=nobody").await;
    assert!(pages.concat().is_empty());
}

// search.html#chaining: an Observation whose two performers both match the chain is one
// match, on the walked first page and on the pages drawn from the reference index after it.
#[tokio::test]
async fn chain_matching_through_two_references_of_one_resource_lists_it_once() {
    let app = TestApp::start().await;
    let first = app
        .create(r#"{"resourceType":"Practitioner","name":[{"family":"Okafor"}]}"#)
        .await;
    let second = app
        .create(r#"{"resourceType":"Practitioner","name":[{"family":"Okafor"}]}"#)
        .await;
    let mut expected = Vec::new();
    for _ in 0..3 {
        let id = app
            .create(&format!(
                r#"{{"resourceType":"Observation","status":"final","code":{{"text":"x"}},"performer":[{{"reference":"Practitioner/{first}"}},{{"reference":"Practitioner/{second}"}}]}}"#
            ))
            .await;
        expected.push(id);
    }
    expected.sort();
    let (pages, _) = pages_from(
        &app,
        "/fhir/Observation?performer:Practitioner.name=okafor&_count=2",
    )
    .await;
    assert_eq!(pages.concat(), expected);
}

// search.html#chaining: a two-level chain pages through its matches in id order, each once,
// through the per-resource probe (first pages) and the page drawn from its reference rows
// (the last one).
#[tokio::test]
async fn paging_through_a_two_level_chain_returns_each_match_once_in_id_order() {
    let app = TestApp::start().await;
    let mut expected = Vec::new();
    for (organization_name, patients) in [("Acme", 3), ("Other", 2)] {
        let organization = app
            .create(&format!(
                r#"{{"resourceType":"Organization","name":"{organization_name}"}}"#
            ))
            .await;
        for _ in 0..patients {
            let patient = app
                .create(&format!(
                    r#"{{"resourceType":"Patient","managingOrganization":{{"reference":"Organization/{organization}"}}}}"#
                ))
                .await;
            let id = observation(&app, &patient, "2020-01-01").await;
            if organization_name == "Acme" {
                expected.push(id);
            }
        }
    }
    expected.sort();
    let (pages, last) = pages_from(
        &app,
        "/fhir/Observation?patient.organization.name=acme&_count=2",
    )
    .await;
    assert_eq!(pages.concat(), expected);
    let previous = searchset(
        &app,
        &link(&searchset(&app, &last).await, "previous").unwrap(),
    )
    .await;
    assert_eq!(ids_of(&previous, "match"), pages[0]);
}

/// An Encounter served by `organization`; returns its id.
async fn encounter(app: &TestApp, organization: &str) -> String {
    app.create(&format!(
        r#"{{"resourceType":"Encounter","status":"finished","class":{{"code":"AMB"}},"serviceProvider":{{"reference":"Organization/{organization}"}}}}"#
    ))
    .await
}

/// An Observation made during `encounter`; returns its id.
async fn observation_in(app: &TestApp, encounter: &str) -> String {
    app.create(&format!(
        r#"{{"resourceType":"Observation","status":"final","code":{{"text":"x"}},"encounter":{{"reference":"Encounter/{encounter}"}}}}"#
    ))
    .await
}

// search.html#chaining, search.html#paging: a chain of two steps through references that
// hold one resource each (`Observation.encounter`, `Encounter.serviceProvider`) lists its
// matches grouped by Organization, then by Encounter, each group in id order; every match
// once forward and back, none of a deleted Encounter or Observation, none of another
// Organization.
#[tokio::test]
async fn paging_through_a_two_step_chain_lists_matches_grouped_by_each_step() {
    let app = TestApp::start().await;
    // (organization, encounter, observation) of every expected match.
    let mut expected = Vec::new();
    for name in ["Acme", "Other", "Acme"] {
        let organization = app
            .create(&format!(
                r#"{{"resourceType":"Organization","name":"{name}"}}"#
            ))
            .await;
        // An Encounter with no Observation is a group with nothing in it.
        encounter(&app, &organization).await;
        for _ in 0..2 {
            let encounter = encounter(&app, &organization).await;
            for _ in 0..2 {
                let observation = observation_in(&app, &encounter).await;
                if name == "Acme" {
                    expected.push((organization.clone(), encounter.clone(), observation));
                }
            }
        }
    }
    let (_, gone_encounter, _) = expected[0].clone();
    assert_eq!(
        app.delete(&format!("/fhir/Encounter/{gone_encounter}"))
            .await
            .status,
        204
    );
    let (_, _, gone_observation) = expected[5].clone();
    assert_eq!(
        app.delete(&format!("/fhir/Observation/{gone_observation}"))
            .await
            .status,
        204
    );
    expected.retain(|(_, encounter, observation)| {
        *encounter != gone_encounter && *observation != gone_observation
    });
    expected.sort();
    let expected: Vec<String> = expected.into_iter().map(|(_, _, id)| id).collect();
    assert_eq!(expected.len(), 5);

    let (pages, last) = pages_from(
        &app,
        "/fhir/Observation?encounter.service-provider.name=acme&_count=2",
    )
    .await;
    assert_eq!(pages.concat(), expected);
    assert_eq!(pages.len(), 3);
    let middle = searchset(
        &app,
        &link(&searchset(&app, &last).await, "previous").unwrap(),
    )
    .await;
    assert_eq!(ids_of(&middle, "match"), pages[1]);
    let first = searchset(&app, &link(&middle, "previous").unwrap()).await;
    assert_eq!(ids_of(&first, "match"), pages[0]);
    assert_eq!(link(&first, "previous"), None);
    let (pages, _) = pages_from(
        &app,
        "/fhir/Observation?encounter.service-provider.name=nobody",
    )
    .await;
    assert!(pages.concat().is_empty());
}

// search.html#paging: a page link is opaque; one whose cursor does not fit the search (here
// a missing id where a grouped chain's cursor holds one per step) is a 400, not a wrong page.
#[tokio::test]
async fn a_chain_cursor_that_does_not_fit_the_search_is_rejected() {
    let app = TestApp::start().await;
    let forged: String =
        r#"["after",null,"x","y"]"#.bytes().map(|byte| format!("{byte:02x}")).collect();
    for search in [
        "Observation?encounter.service-provider.name=acme",
        "Observation?subject:Patient.name=acme",
    ] {
        let reply = app.get(&format!("/fhir/{search}&_cursor={forged}")).await;
        reply.outcome(axum::http::StatusCode::BAD_REQUEST);
        let reply = app.get(&format!("/fhir/{search}&_cursor=zz")).await;
        reply.outcome(axum::http::StatusCode::BAD_REQUEST);
    }
}
