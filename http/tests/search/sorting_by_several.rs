//! `_sort` by several parameters with no criterion, found from the first parameter's index
//! (storage/src/search/sorted_by_several.rs): equal first keys ordered by the next keys,
//! resources without a first key last and ordered by the next keys too; paged both ways,
//! with cursors inside runs of equal first keys; a run too long to sort there still answered
//! in order by the plan that sorts every resource.
//! Spec: https://hl7.org/fhir/R4/search.html#sort

use super::sorting::assert_pages;
use super::{ids_of, searchset, transaction};
use crate::support::{link, TestApp};

/// A Patient with one name of `family` and `given`, and `birth_date`. (One of the two names may be empty, and is then left out.)
fn patient(id: &str, family: &str, given: &str, birth_date: &str) -> String {
    let mut parts = Vec::new();
    if !family.is_empty() {
        parts.push(format!(r#""family":"{family}""#));
    }
    if !given.is_empty() {
        parts.push(format!(r#""given":["{given}"]"#));
    }
    format!(
        r#"{{"resource":{{"resourceType":"Patient","id":"{id}","name":[{{{}}}],"birthDate":"{birth_date}"}},"request":{{"method":"PUT","url":"Patient/{id}"}}}}"#,
        parts.join(",")
    )
}

/// `ids` as owned strings, the form the pages are compared in.
fn ids(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

// search.html#sort: "_sort=family,given" orders by family, then by given among equal
// families; a Patient without a family comes after every Patient with one, and those are
// ordered by given too.
#[tokio::test]
async fn a_sort_by_family_then_given_orders_each_family_by_given_and_the_familyless_last() {
    let app = TestApp::start().await;
    // (id, family, given): ids chosen against the expected order, so that id order alone
    // would give a different page.
    let people = [
        ("a1", "Brown", "Zoe"),
        ("a2", "Adams", "Mia"),
        ("a3", "Brown", "Amy"),
        ("a4", "", "Lou"),
        ("a5", "Brown", "Kim"),
        ("a6", "Clark", "Ann"),
        ("a7", "", "Eve"),
        ("a8", "Brown", "Bea"),
        ("a9", "Adams", "Ada"),
    ];
    let entries: Vec<String> = people
        .iter()
        .map(|(id, family, given)| patient(id, family, given, "1980-01-01"))
        .collect();
    transaction(&app, &entries).await;

    let ascending = ids(&["a9", "a2", "a3", "a8", "a5", "a1", "a6", "a7", "a4"]);
    for count in [2, 3, 4] {
        let first = format!("/fhir/Patient?_sort=family,given&_count={count}");
        assert_pages(&app, &first, &ascending).await;
    }
    // Descending families, the resources without one still last.
    let families_descending = ids(&["a6", "a3", "a8", "a5", "a1", "a9", "a2", "a7", "a4"]);
    assert_pages(
        &app,
        "/fhir/Patient?_sort=-family,given&_count=2",
        &families_descending,
    )
    .await;
    let givens_descending = ids(&["a2", "a9", "a1", "a5", "a8", "a3", "a6", "a4", "a7"]);
    assert_pages(
        &app,
        "/fhir/Patient?_sort=family,-given&_count=3",
        &givens_descending,
    )
    .await;
}

// search.html#sort: three keys; equal birth dates ordered by family, equal families by
// given, and what is equal in every key by id.
#[tokio::test]
async fn a_sort_by_three_keys_breaks_each_tie_with_the_next_key_and_then_the_id() {
    let app = TestApp::start().await;
    let people = [
        ("b1", "Cole", "Tim", "1990-05-05"),
        ("b2", "Cole", "Tim", "1970-01-01"),
        ("b3", "Abel", "Sam", "1990-05-05"),
        ("b4", "Cole", "Ann", "1990-05-05"),
        ("b5", "Cole", "Tim", "1990-05-05"),
        ("b6", "Abel", "Sam", "1990-05-05"),
    ];
    let entries: Vec<String> = people
        .iter()
        .map(|(id, family, given, birth_date)| patient(id, family, given, birth_date))
        .collect();
    transaction(&app, &entries).await;
    let expected = ids(&["b2", "b3", "b6", "b4", "b1", "b5"]);
    assert_pages(
        &app,
        "/fhir/Patient?_sort=birthdate,family,given&_count=2",
        &expected,
    )
    .await;
    let reversed_dates = ids(&["b3", "b6", "b4", "b1", "b5", "b2"]);
    assert_pages(
        &app,
        "/fhir/Patient?_sort=-birthdate,family,given&_count=4",
        &reversed_dates,
    )
    .await;
}

// search.html#sort: more Patients share one family than the first key's run is sorted in
// place (RUN_BUDGET, 2,500): that run's pages come from a walk of the given names that tests
// the family (the lowest given names here belong to the highest ids, so id order would give
// other pages), its Patients without a given name close it in id order, and the pages run on
// into the next family and the Patients without one, both ways. Sorted by death date first,
// which none has, all of them are one such run.
#[tokio::test]
async fn a_run_of_one_family_longer_than_the_budget_is_paged_in_given_order() {
    let app = TestApp::start().await;
    let total = 2_600;
    let mut entries = Vec::new();
    let mut same_with_given = Vec::new();
    let mut same_without_given = Vec::new();
    // (given name as it sorts, id) of every Patient; no given name sorts last.
    let mut by_given = Vec::new();
    for number in 0..total {
        let id = format!("c{number:04}");
        if number % 500 == 7 {
            entries.push(patient(&id, "Same", "", "1980-01-01"));
            same_without_given.push(id.clone());
            by_given.push(("~".to_owned(), id));
        } else {
            let given = format!("G{:04}", total - number);
            entries.push(patient(&id, "Same", &given, "1980-01-01"));
            same_with_given.push(id.clone());
            by_given.push((given.to_lowercase(), id));
        }
    }
    for (id, family, given) in [
        ("d1", "Adams", "Zoe"),
        ("d2", "Adams", "Amy"),
        ("e1", "Zed", "Bea"),
        ("e2", "Zed", "Al"),
        ("f1", "", "Cy"),
        ("f2", "", "Bo"),
    ] {
        entries.push(patient(id, family, given, "1980-01-01"));
        by_given.push((given.to_lowercase(), id.to_owned()));
    }
    transaction(&app, &entries).await;
    same_with_given.reverse();
    let expected = [
        ids(&["d2", "d1"]),
        same_with_given,
        same_without_given,
        ids(&["e2", "e1", "f2", "f1"]),
    ]
    .concat();
    let first = "/fhir/Patient?_sort=family,given&_count=50";
    assert_pages(&app, first, &expected).await;

    // Back from a page inside the run, and from the page where the run starts.
    let mut uri = first.to_owned();
    let mut pages = Vec::new();
    for _ in 0..12 {
        let bundle = searchset(&app, &uri).await;
        pages.push((ids_of(&bundle, "match"), link(&bundle, "previous")));
        uri = link(&bundle, "next").expect("a next page");
    }
    for index in [1, 11] {
        let previous = pages[index].1.clone().expect("a previous link");
        let bundle = searchset(&app, &previous).await;
        assert_eq!(
            ids_of(&bundle, "match"),
            pages[index - 1].0,
            "back from page {index}"
        );
    }

    by_given.sort();
    let by_given: Vec<String> = by_given.into_iter().map(|(_, id)| id).collect();
    let first = "/fhir/Patient?_sort=-death-date,given&_count=50";
    assert_pages(&app, first, &by_given).await;
}

// search.html#sort: with a category too common to draw (storage/src/search/filter.rs,
// INTERSECTION_BUDGET: 1,000 index rows), a sort by date, then code walks the date index
// testing the category on each Observation; runs of one date longer than a page are ordered
// by code, and Observations without a date (left to the plan that sorts every match) still
// come last, each listed once, both ways.
#[tokio::test]
async fn a_sort_by_date_then_code_with_a_common_category_pages_through_every_match() {
    let app = TestApp::start().await;
    let observation = |id: &str, category: &str, code: &str, effective: &str| {
        format!(
            r#"{{"resource":{{"resourceType":"Observation","id":"{id}","status":"final","category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"{category}"}}]}}],"code":{{"coding":[{{"system":"http://loinc.org","code":"{code}"}}]}}{effective}}},"request":{{"method":"PUT","url":"Observation/{id}"}}}}"#
        )
    };
    let codes = ["2345-7", "8302-2", "29463-7"];
    let mut entries = Vec::new();
    // (has no date, day, code, id) of the laboratory Observations.
    let mut expected: Vec<(bool, u32, &str, String)> = Vec::new();
    for number in 0..1_300u32 {
        let id = format!("obs-{number:04}");
        let day = number % 20 + 1;
        let code = codes[(number as usize / 7) % codes.len()];
        let dated = number % 100 != 1;
        let effective = if dated {
            format!(r#","effectiveDateTime":"2020-01-{day:02}""#)
        } else {
            String::new()
        };
        // Every ninth is a vital sign, the rest laboratory results.
        let category = if number % 9 == 0 {
            "vital-signs"
        } else {
            "laboratory"
        };
        entries.push(observation(&id, category, code, &effective));
        if category == "laboratory" {
            expected.push((!dated, day, code, id));
        }
    }
    transaction(&app, &entries).await;
    assert!(expected.len() > 1_000);
    let category = "category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory";

    // Latest day first, then by code, then by id; the undated last, by code and id.
    expected.sort_by(|a, b| {
        let day = |entry: &(bool, u32, &str, String)| if entry.0 { 0 } else { entry.1 };
        (a.0, std::cmp::Reverse(day(a)), a.2, &a.3).cmp(&(
            b.0,
            std::cmp::Reverse(day(b)),
            b.2,
            &b.3,
        ))
    });
    let descending: Vec<String> = expected.iter().map(|entry| entry.3.clone()).collect();
    let first = format!("/fhir/Observation?{category}&_sort=-date,code&_count=40");
    assert_pages(&app, &first, &descending).await;
}

// search.html#sort: `_lastUpdated` as a later key orders equal first keys by each resource's
// last change, here newest first; an update makes a Patient the newest of its family.
#[tokio::test]
async fn a_later_last_updated_key_orders_equal_families_by_their_last_change() {
    let app = TestApp::start().await;
    let named =
        |family: &str| format!(r#"{{"resourceType":"Patient","name":[{{"family":"{family}"}}]}}"#);
    let first_kim = app.create(&named("Kim")).await;
    let second_kim = app.create(&named("Kim")).await;
    let lee = app.create(&named("Lee")).await;
    let third_kim = app.create(&named("Kim")).await;
    let update = format!(
        r#"{{"resourceType":"Patient","id":"{first_kim}","name":[{{"family":"Kim"}}],"gender":"female"}}"#
    );
    let reply = app
        .put(&format!("/fhir/Patient/{first_kim}"), &update)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    let expected = [first_kim, third_kim, second_kim, lee];
    assert_pages(
        &app,
        "/fhir/Patient?_sort=family,-_lastUpdated&_count=2",
        &expected,
    )
    .await;
}
