//! `_lastUpdated`: searches by it alone and sorts by it, read from the version history
//! (storage/src/search/last_updated.rs): only each live resource's latest write counts.
//! Spec: https://hl7.org/fhir/R4/search.html#lastUpdated, https://hl7.org/fhir/R4/search.html#sort

use sonic_rs::JsonValueTrait;

use super::sorting::assert_pages;
use super::{matches, sorted, transaction};
use crate::support::{entries, TestApp};

/// The `meta.lastUpdated` of the Patient `id` as it is now.
async fn last_updated(app: &TestApp, id: &str) -> String {
    let patient = app.get(&format!("/fhir/Patient/{id}")).await.json();
    patient["meta"]["lastUpdated"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Updates the Patient `id`, so that its latest write is now.
async fn update(app: &TestApp, id: &str) {
    let update = format!(r#"{{"resourceType":"Patient","id":"{id}","active":false}}"#);
    let reply = app.put(&format!("/fhir/Patient/{id}"), &update).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

// search.html#lastUpdated: a Patient matches by its latest write alone; an earlier version
// within the range does not make it match, and a deleted Patient never does.
#[tokio::test]
async fn last_updated_criteria_match_each_live_resource_by_its_latest_write() {
    let app = TestApp::start().await;
    let patient = r#"{"resourceType":"Patient","active":true}"#;
    let updated = app.create(patient).await;
    let deleted = app.create(patient).await;
    let unchanged = app.create(patient).await;
    let before_update = last_updated(&app, &unchanged).await;
    update(&app, &updated).await;
    app.delete(&format!("/fhir/Patient/{deleted}")).await;
    let last = app.create(patient).await;
    let newest = last_updated(&app, &last).await;

    assert_eq!(
        matches(
            &app,
            &format!("/fhir/Patient?_lastUpdated=le{before_update}")
        )
        .await,
        [unchanged]
    );
    assert_pages(
        &app,
        &format!("/fhir/Patient?_lastUpdated=gt{before_update}&_count=1"),
        &sorted(&[&updated, &last]),
    )
    .await;
    assert!(
        matches(&app, &format!("/fhir/Patient?_lastUpdated=gt{newest}"))
            .await
            .is_empty()
    );
}

// search.html#sort and #lastUpdated: `_lastUpdated` sorts each live resource once by its
// latest write (storage/src/search/last_updated.rs walks the version history): an updated resource moves to its update's place, a deleted one is gone, and the
// resources of one transaction, written at one instant, go by id. `_lastUpdated` criteria
// bound the walk.
#[tokio::test]
async fn a_sort_by_last_updated_lists_each_live_resource_once_by_its_latest_write() {
    let app = TestApp::start().await;
    let patient = r#"{"resourceType":"Patient","active":true}"#;
    let first = app.create(patient).await;
    let updated = app.create(patient).await;
    let deleted = app.create(patient).await;
    let fourth = app.create(patient).await;
    update(&app, &updated).await;
    app.delete(&format!("/fhir/Patient/{deleted}")).await;
    let entry =
        r#"{"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}}"#;
    let bundle = format!(
        r#"{{"resourceType":"Bundle","type":"transaction","entry":[{entry},{entry},{entry}]}}"#
    );
    let reply = app.post("/fhir", &bundle).await;
    assert_eq!(reply.status, 200);
    let mut together: Vec<String> = entries(&reply.json())
        .iter()
        .map(|entry| {
            let location = entry["response"]["location"].as_str().unwrap_or_default();
            let mut segments = location
                .split('/')
                .skip_while(|segment| *segment != "Patient");
            segments.nth(1).unwrap_or_default().to_owned()
        })
        .collect();
    together.sort();

    let oldest_first = [
        vec![first.clone(), fourth.clone(), updated.clone()],
        together.clone(),
    ]
    .concat();
    assert_pages(
        &app,
        "/fhir/Patient?_sort=_lastUpdated&_count=2",
        &oldest_first,
    )
    .await;
    let newest_first = [together, vec![updated, fourth.clone(), first]].concat();
    assert_pages(
        &app,
        "/fhir/Patient?_sort=-_lastUpdated&_count=2",
        &newest_first,
    )
    .await;

    let written = app.get(&format!("/fhir/Patient/{fourth}")).await.json();
    let since_fourth = written["meta"]["lastUpdated"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let after_fourth = &oldest_first[2..];
    assert_pages(
        &app,
        &format!("/fhir/Patient?_lastUpdated=gt{since_fourth}&_sort=_lastUpdated&_count=2"),
        after_fourth,
    )
    .await;
}

// search.html#sort with a string or date range criterion: those matches are drawn from
// their index rows, which hold no `lastUpdated`; the sort was a 500 (a column of the resource
// row asked of the drawn keys).
#[tokio::test]
async fn a_sort_by_last_updated_beside_a_name_or_a_date_range_pages_by_latest_write() {
    let app = TestApp::start().await;
    let patient = |family: &str, birth_date: &str| {
        format!(
            r#"{{"resourceType":"Patient","name":[{{"family":"{family}"}}],"birthDate":"{birth_date}"}}"#
        )
    };
    let first = app.create(&patient("Okafor", "1970-01-01")).await;
    let second = app.create(&patient("Okafor", "1971-01-01")).await;
    let third = app.create(&patient("Okafor", "1972-01-01")).await;
    app.create(&patient("Zed", "1973-01-01")).await;
    app.create(&patient("Okafor", "1999-01-01")).await;
    let moved = patient("Okafor", "1970-01-01").replacen(
        r#""resourceType":"Patient","#,
        &format!(r#""resourceType":"Patient","id":"{first}","#),
        1,
    );
    assert_eq!(
        app.put(&format!("/fhir/Patient/{first}"), &moved)
            .await
            .status,
        200
    );

    let oldest_first = [second.clone(), third.clone(), first.clone()];
    for criteria in [
        "family=okafor&birthdate=lt1990",
        "birthdate=ge1970&birthdate=lt1973",
    ] {
        assert_pages(
            &app,
            &format!("/fhir/Patient?{criteria}&_sort=_lastUpdated&_count=2"),
            &oldest_first,
        )
        .await;
    }
    assert_pages(
        &app,
        "/fhir/Patient?birthdate=lt1990&family=oka&_sort=-_lastUpdated&_count=2",
        &[first, third, second],
    )
    .await;
}

// search.html#lastUpdated: a range holding more versions than the draw from the version
// history reads (storage/src/search/last_updated.rs, BUDGET: 10,000) is answered by walking
// every Patient in id order instead, and still lists each match once, in id order.
#[tokio::test]
async fn a_last_updated_range_past_the_version_budget_still_pages_every_match() {
    let app = TestApp::start().await;
    let expected: Vec<String> = (0..10_050).map(|number| format!("p-{number:05}")).collect();
    let entries: Vec<String> = expected
        .iter()
        .map(|id| {
            format!(
                r#"{{"resource":{{"resourceType":"Patient","id":"{id}"}},"request":{{"method":"PUT","url":"Patient/{id}"}}}}"#
            )
        })
        .collect();
    // Two Bundles: one holds at most 10,000 entries (`max_bundle_entries`).
    for half in entries.chunks(entries.len() / 2 + 1) {
        transaction(&app, half).await;
    }
    assert_pages(
        &app,
        "/fhir/Patient?_lastUpdated=gt2000-01-01&_count=4000",
        &expected,
    )
    .await;
}
