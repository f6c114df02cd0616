//! Result control: sorting, paging, totals, summaries and elements (includes: includes.rs).
//! Spec: https://hl7.org/fhir/R4/search.html#return

use std::collections::HashSet;

use sonic_rs::JsonValueTrait;

use super::{
    ids_of, matches, observation, pages_from, pages_there_and_back, searchset, sorted, transaction,
};
use crate::support::{entries, link, TestApp};

#[tokio::test]
async fn sort_by_date_descending_and_ascending() {
    let app = TestApp::start().await;
    let patient = app.create(r#"{"resourceType":"Patient"}"#).await;
    let middle = observation(&app, &patient, "2020-06-01").await;
    let newest = observation(&app, &patient, "2021-01-01").await;
    let oldest = observation(&app, &patient, "2019-01-01").await;
    let descending = searchset(
        &app,
        &format!("/fhir/Observation?subject=Patient/{patient}&_sort=-date"),
    )
    .await;
    assert_eq!(
        ids_of(&descending, "match"),
        [newest.clone(), middle.clone(), oldest.clone()]
    );
    let ascending = searchset(&app, "/fhir/Observation?_sort=date").await;
    assert_eq!(ids_of(&ascending, "match"), [oldest, middle, newest]);
}

// search.html#count and paging: next links keep working while data changes
#[tokio::test]
async fn paging_with_next_links_neither_skips_nor_repeats_while_data_changes() {
    let app = TestApp::start().await;
    let patient = app.create(r#"{"resourceType":"Patient"}"#).await;
    let mut expected = HashSet::new();
    for day in 1..=7 {
        expected.insert(observation(&app, &patient, &format!("2020-01-0{day}")).await);
    }
    let mut seen = Vec::new();
    let mut uri = "/fhir/Observation?_sort=-date&_count=3".to_owned();
    let mut pages = 0;
    loop {
        let bundle = searchset(&app, &uri).await;
        seen.extend(ids_of(&bundle, "match"));
        pages += 1;
        if pages == 1 {
            // Written between page requests: sorts before the cursor, so not on later pages.
            observation(&app, &patient, "2030-01-01").await;
        }
        match link(&bundle, "next") {
            Some(next) => uri = next,
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 7, "{seen:?}");
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), expected);
}

#[tokio::test]
async fn total_is_given_when_asked_and_summary_count_gives_only_the_total() {
    let app = TestApp::start().await;
    for _ in 0..3 {
        app.create(r#"{"resourceType":"Patient","gender":"male"}"#)
            .await;
    }
    let counted = searchset(&app, "/fhir/Patient?gender=male&_count=1&_total=accurate").await;
    assert_eq!(counted["total"].as_i64(), Some(3));
    assert_eq!(ids_of(&counted, "match").len(), 1);
    let estimated = searchset(&app, "/fhir/Patient?gender=male&_count=1&_total=estimate").await;
    assert!(
        estimated["total"].as_i64().is_some(),
        "an estimate is a number"
    );
    let only_count = searchset(&app, "/fhir/Patient?gender=male&_summary=count").await;
    assert_eq!(only_count["total"].as_i64(), Some(3));
    assert!(entries(&only_count).is_empty());
    rejects_bad_total(&app).await;
}

async fn rejects_bad_total(app: &TestApp) {
    super::rejects(app, "/fhir/Patient?_total=some", "_total").await;
}

// search.html#elements: mandatory elements kept, SUBSETTED tag
#[tokio::test]
async fn elements_returns_a_subsetted_resource() {
    let app = TestApp::start().await;
    app.create(
        r#"{"resourceType":"Patient","gender":"male","birthDate":"1970-01-01","active":true}"#,
    )
    .await;
    let bundle = searchset(&app, "/fhir/Patient?_elements=gender").await;
    let resource = &entries(&bundle)[0]["resource"];
    assert_eq!(resource["gender"].as_str(), Some("male"));
    assert!(resource.get("birthDate").is_none() && resource.get("active").is_none());
    assert_eq!(
        resource["meta"]["tag"][0]["code"].as_str(),
        Some("SUBSETTED")
    );
    assert!(resource["id"].as_str().is_some());
}

// search.html#summary: _summary=true keeps the elements marked isSummary in R4
#[tokio::test]
async fn summary_true_returns_only_the_summary_elements_tagged_subsetted() {
    let app = TestApp::start().await;
    app.create(
        r#"{"resourceType":"Patient","gender":"female","name":[{"family":"Summary"}],"maritalStatus":{"text":"married"},"contact":[{"name":{"family":"Other"}}],"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}}"#,
    )
    .await;
    let bundle = searchset(&app, "/fhir/Patient?family=Summary&_summary=true").await;
    let resource = &entries(&bundle)[0]["resource"];
    assert_eq!(resource["gender"].as_str(), Some("female"));
    assert_eq!(resource["name"][0]["family"].as_str(), Some("Summary"));
    for dropped in ["maritalStatus", "contact", "text"] {
        assert!(
            resource.get(dropped).is_none(),
            "{dropped} is not a summary element"
        );
    }
    assert!(resource["id"].as_str().is_some() && resource["meta"]["versionId"].as_str().is_some());
    assert_eq!(
        resource["meta"]["tag"][0]["code"].as_str(),
        Some("SUBSETTED")
    );
}

// http.html#search: across all types, narrowed by _type
#[tokio::test]
async fn system_search_with_type_and_common_parameters() {
    let app = TestApp::start().await;
    let patient = app
        .create(r#"{"resourceType":"Patient","meta":{"tag":[{"code":"study-1"}]}}"#)
        .await;
    let organization = app
        .create(r#"{"resourceType":"Organization","meta":{"tag":[{"code":"study-1"}]}}"#)
        .await;
    app.create(r#"{"resourceType":"Organization"}"#).await;
    assert_eq!(
        matches(&app, "/fhir?_tag=study-1").await,
        sorted(&[&patient, &organization])
    );
    assert_eq!(
        matches(&app, "/fhir?_type=Organization&_tag=study-1").await,
        [organization]
    );
    super::rejects(&app, "/fhir?_type=Unicorn", "_type").await;
}

// search.html#paging and bundle.html: previous links lead back to the same pages
#[tokio::test]
async fn previous_links_lead_back_through_the_same_pages() {
    let app = TestApp::start().await;
    let patient = app.create(r#"{"resourceType":"Patient"}"#).await;
    for day in 1..=5 {
        observation(&app, &patient, &format!("2020-01-0{day}")).await;
    }
    let first = searchset(&app, "/fhir/Observation?_sort=date&_count=2").await;
    assert_eq!(link(&first, "previous"), None);
    let second = searchset(&app, &link(&first, "next").unwrap()).await;
    let third = searchset(&app, &link(&second, "next").unwrap()).await;
    assert_eq!(ids_of(&third, "match").len(), 1);
    assert_eq!(link(&third, "next"), None);
    let back_to_second = searchset(&app, &link(&third, "previous").unwrap()).await;
    assert_eq!(ids_of(&back_to_second, "match"), ids_of(&second, "match"));
    let back_to_first = searchset(&app, &link(&back_to_second, "previous").unwrap()).await;
    assert_eq!(ids_of(&back_to_first, "match"), ids_of(&first, "match"));
    assert_eq!(link(&back_to_first, "previous"), None);
    assert!(link(&back_to_first, "next").is_some());
}

// search.html#count, search.html#string: a page lists a Patient once however many of its
// names match, and the pages neither skip nor repeat.
#[tokio::test]
async fn paging_a_string_search_lists_a_resource_matching_several_names_once() {
    let app = TestApp::start().await;
    let mut expected = Vec::new();
    for index in 0..5 {
        // Family, given and a second name all start with "Ngu".
        let id = app
            .create(&format!(
                r#"{{"resourceType":"Patient","name":[{{"family":"Nguyen{index}","given":["Ngozi"]}},{{"family":"Ngu"}}]}}"#
            ))
            .await;
        expected.push(id);
    }
    app.create(r#"{"resourceType":"Patient","name":[{"family":"Other"}]}"#)
        .await;
    expected.sort();
    let pages = pages_there_and_back(&app, "/fhir/Patient?name=ngu&_count=2").await;
    assert_eq!(pages.concat(), expected);
    assert_eq!(pages.len(), 3);
}

// search.html#string: a name prefix matched by more index rows than a page reads from the
// index at once (filter.rs, RANGE_BUDGET: 2,500) still pages through every match, in id order.
// Each Patient has one matching row, so a page taken from the budgeted rows alone would miss
// 100 of the 2,600, whatever order the rows were read in.
#[tokio::test]
async fn string_search_with_more_matching_rows_than_the_draw_budget_is_exact() {
    let app = TestApp::start().await;
    let expected: Vec<String> = (1000..3600).map(|number| format!("p-{number}")).collect();
    let entries: Vec<String> = expected
        .iter()
        .map(|id| {
            format!(
                r#"{{"resource":{{"resourceType":"Patient","id":"{id}","name":[{{"family":"Bud{id}","given":["Ann"]}}]}},"request":{{"method":"PUT","url":"Patient/{id}"}}}}"#
            )
        })
        .collect();
    transaction(&app, &entries).await;
    let found = pages_from(&app, "/fhir/Patient?name=bud&_count=1000")
        .await
        .0
        .concat();
    assert_eq!(found.len(), expected.len());
    assert_eq!(found, expected);
}

// search.html#string, search.html#paging: a lone name search is paged from the runs of its
// values (storage/src/search/runs.rs): each distinct folded value in the prefix range lists
// its resources in id order, and the runs are merged. Forward and back, every live match is
// listed once, in id order: a Patient matching under several values, or twice under one
// value (two names that fold alike), once; a deleted one never.
#[tokio::test]
async fn paging_a_lone_name_search_merges_its_values_once_each_in_id_order() {
    let app = TestApp::start().await;
    let patient = |names: &str| format!(r#"{{"resourceType":"Patient","name":[{names}]}}"#);
    let mut runners = Vec::new();
    for _ in 0..3 {
        runners.push(app.create(&patient(r#"{"family":"Runner"}"#)).await);
    }
    runners.push(
        app.create(&patient(r#"{"family":"Runner","given":["Runa","Rune"]}"#))
            .await,
    );
    runners.sort();
    let mut expected = runners.clone();
    expected.push(
        app.create(&patient(r#"{"family":"Rune"},{"family":"RUNE"}"#))
            .await,
    );
    expected.push(app.create(&patient(r#"{"given":["Rúnar"]}"#)).await);
    let deleted = app.create(&patient(r#"{"family":"Runner"}"#)).await;
    app.delete(&format!("/fhir/Patient/{deleted}")).await;
    app.create(&patient(r#"{"family":"Other","given":["Ru"]}"#))
        .await;
    expected.sort();

    let pages = pages_there_and_back(&app, "/fhir/Patient?name=run&_count=2").await;
    assert_eq!(pages.concat(), expected);
    assert_eq!(pages.len(), 3);
    let pages = pages_there_and_back(&app, "/fhir/Patient?name=run&_count=1").await;
    assert_eq!(pages.concat(), expected);
    // One value, one run: each page's extra row, which says there is a next page, comes
    // from that run alone.
    let pages = pages_there_and_back(&app, "/fhir/Patient?family=runner&_count=1").await;
    assert_eq!(pages.concat(), runners);
}

// search.html#string: a name prefix with more distinct values than a page is drawn as runs
// for (storage/src/search/runs.rs, MAX_RUNS: 64), but fewer rows than the draw budget, is
// paged from the whole range instead: still every match, once, in id order, both ways.
#[tokio::test]
async fn a_name_prefix_with_more_values_than_runs_still_pages_every_match() {
    let app = TestApp::start().await;
    let mut expected = Vec::new();
    for number in 0..70 {
        let patient = format!(
            r#"{{"resourceType":"Patient","name":[{{"family":"Many{number:02}","given":["Manu"]}}]}}"#
        );
        expected.push(app.create(&patient).await);
    }
    expected.sort();
    let pages = pages_there_and_back(&app, "/fhir/Patient?name=man&_count=30").await;
    assert_eq!(pages.concat(), expected);
    assert_eq!(pages.len(), 3);
}

// search.html#string: a name range found too large to read whole (200 rows or more,
// storage/src/search/runs.rs) is remembered and paged from its runs from then on
// (storage/src/search/large_ranges.rs). That only picks the statement: the pages are the
// same, and stay right after the range shrinks below the size it was remembered for.
#[tokio::test]
async fn a_name_range_remembered_as_large_still_pages_every_match_after_it_shrinks() {
    let app = TestApp::start().await;
    let mut largos = Vec::new();
    for _ in 0..205 {
        largos.push(
            app.create(r#"{"resourceType":"Patient","name":[{"family":"Largo"}]}"#)
                .await,
        );
    }
    largos.sort();
    for _ in 0..2 {
        let pages = pages_there_and_back(&app, "/fhir/Patient?name=largo&_count=90").await;
        assert_eq!(pages.concat(), largos);
    }
    let (kept, deleted) = largos.split_at(3);
    for id in deleted {
        app.delete(&format!("/fhir/Patient/{id}")).await;
    }
    let pages = pages_there_and_back(&app, "/fhir/Patient?name=largo&_count=2").await;
    assert_eq!(pages.concat(), kept);
}

// search.html#paging: a search by one token value alone is paged straight from the token
// index (storage/src/search/filter.rs, `Draw::OneValue`). Forward and back, every live match
// is listed once, in id order: a resource with the code twice once, a resource with the
// code under another system only without a system, a deleted one never.
#[tokio::test]
async fn paging_a_lone_token_search_lists_each_live_match_once_in_id_order() {
    let app = TestApp::start().await;
    let coded = |codings: &str| {
        format!(
            r#"{{"resourceType":"Observation","status":"final","code":{{"coding":[{codings}]}}}}"#
        )
    };
    let loinc = r#"{"system":"http://loinc.org","code":"8302-2"}"#;
    let other_system = r#"{"system":"urn:other","code":"8302-2"}"#;
    let mut with_loinc = Vec::new();
    for _ in 0..4 {
        with_loinc.push(app.create(&coded(loinc)).await);
    }
    with_loinc.push(app.create(&coded(&format!("{loinc},{loinc}"))).await);
    let both = app.create(&coded(&format!("{loinc},{other_system}"))).await;
    with_loinc.push(both.clone());
    let only_other = app.create(&coded(other_system)).await;
    let deleted = app.create(&coded(loinc)).await;
    app.delete(&format!("/fhir/Observation/{deleted}")).await;
    app.create(&coded(r#"{"system":"http://loinc.org","code":"29463-7"}"#))
        .await;
    with_loinc.sort();
    let mut any_system = with_loinc.clone();
    any_system.push(only_other.clone());
    any_system.sort();

    let pages = pages_there_and_back(
        &app,
        "/fhir/Observation?code=http://loinc.org|8302-2&_count=2",
    )
    .await;
    assert_eq!(pages.concat(), with_loinc);
    assert_eq!(pages.len(), 3);

    let (pages, _) = pages_from(&app, "/fhir/Observation?code=8302-2&_count=3").await;
    assert_eq!(pages.concat(), any_system);
    let (pages, _) = pages_from(&app, "/fhir/Observation?code=urn:other|&_count=1").await;
    assert_eq!(pages.concat(), sorted(&[&both, &only_other]));
}

// search.html#paging: a search by one `Type/id` reference alone is paged straight from the
// reference index and keeps its plan across values (storage/src/search/filter.rs,
// `Draw::OneValue`; plans.rs). Each organization's page lists its live Encounters once, in
// id order, however many times the searches run.
#[tokio::test]
async fn paging_a_lone_reference_search_lists_each_live_referrer_once_in_id_order() {
    let app = TestApp::start().await;
    let organization = || app.create(r#"{"resourceType":"Organization","name":"Acme"}"#);
    let (acme, other) = (organization().await, organization().await);
    let encounter = |provider: &str| {
        format!(
            r#"{{"resourceType":"Encounter","status":"finished","class":{{"code":"AMB"}},"serviceProvider":{{"reference":"Organization/{provider}"}}}}"#
        )
    };
    let mut of_acme = Vec::new();
    for _ in 0..5 {
        of_acme.push(app.create(&encounter(&acme)).await);
    }
    let of_other = vec![app.create(&encounter(&other)).await];
    let deleted = app.create(&encounter(&acme)).await;
    app.delete(&format!("/fhir/Encounter/{deleted}")).await;
    of_acme.sort();

    // More rounds than the five runs after which PostgreSQL may keep a generic plan.
    for _round in 0..4 {
        for (provider, expected) in [(&acme, &of_acme), (&other, &of_other)] {
            let first =
                format!("/fhir/Encounter?service-provider=Organization/{provider}&_count=2");
            let (pages, _) = pages_from(&app, &first).await;
            assert_eq!(&pages.concat(), expected, "{first}");
        }
    }
    let (pages, last) = pages_from(
        &app,
        &format!("/fhir/Encounter?service-provider=Organization/{acme}&_count=2"),
    )
    .await;
    let last_page = searchset(&app, &last).await;
    let previous = searchset(&app, &link(&last_page, "previous").unwrap()).await;
    assert_eq!(ids_of(&previous, "match"), pages[1]);
}

// search.html#count: "If _count has the value 0, this shall be treated the same as
// _summary=count".
#[tokio::test]
async fn count_zero_gives_the_total_and_no_entries() {
    let app = TestApp::start().await;
    for _ in 0..3 {
        app.create(r#"{"resourceType":"Patient","gender":"male"}"#)
            .await;
    }
    let counted = searchset(&app, "/fhir/Patient?gender=male&_count=0").await;
    assert_eq!(counted["total"].as_i64(), Some(3));
    assert!(entries(&counted).is_empty());
}

// search.html#total: an estimate is a number of matches; a first page with a next link shows
// at least one more match than it holds, whatever the planner's statistics say.
#[tokio::test]
async fn an_estimated_total_is_never_below_what_the_first_page_shows() {
    let app = TestApp::start().await;
    for _ in 0..5 {
        app.create(r#"{"resourceType":"Patient","gender":"other"}"#)
            .await;
    }
    let page = searchset(&app, "/fhir/Patient?gender=other&_count=2&_total=estimate").await;
    assert!(link(&page, "next").is_some());
    assert!(
        page["total"].as_i64().is_some_and(|total| total >= 3),
        "{:?}",
        page["total"]
    );
}

// search.html#summary: _summary=text is "the 'text' element, the 'id' element, the 'meta'
// element, and only top-level mandatory elements"; #elements: "servers SHOULD always return
// mandatory elements".
#[tokio::test]
async fn subsets_keep_the_mandatory_elements() {
    let app = TestApp::start().await;
    app.create(r#"{"resourceType":"Observation","status":"final","code":{"text":"Glucose"},"valueQuantity":{"value":5.4},"note":[{"text":"fasting"}],"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Glucose 5.4</div>"}}"#).await;
    let first = |bundle: &sonic_rs::Value| entries(bundle)[0]["resource"].clone();
    let text = first(&searchset(&app, "/fhir/Observation?_summary=text").await);
    assert_eq!(text["status"].as_str(), Some("final"));
    assert_eq!(text["code"]["text"].as_str(), Some("Glucose"));
    assert!(text["text"]["div"].as_str().is_some());
    assert!(text.get("valueQuantity").is_none() && text.get("note").is_none());
    let elements = first(&searchset(&app, "/fhir/Observation?_elements=value").await);
    assert_eq!(elements["valueQuantity"]["value"].as_f64(), Some(5.4));
    assert_eq!(elements["status"].as_str(), Some("final"));
    assert!(elements.get("note").is_none() && elements.get("text").is_none());
}

// search.html#errors: a parameter Ember cannot apply is ignored and reported, not matched
// against: `_query` names a server-defined query, and an empty parameter is just ignored.
#[tokio::test]
async fn a_named_query_and_empty_parameters_are_ignored() {
    let app = TestApp::start().await;
    let patient = app
        .create(r#"{"resourceType":"Patient","gender":"male"}"#)
        .await;
    let bundle = searchset(&app, "/fhir/Patient?_query=recent&family=&gender=male,").await;
    assert_eq!(ids_of(&bundle, "match"), [patient]);
    assert_eq!(
        ids_of(&bundle, "outcome").len(),
        1,
        "the outcome names _query"
    );
    let self_link = link(&bundle, "self").expect("a self link");
    assert!(
        !self_link.contains("_query") && !self_link.contains("family"),
        "{self_link}"
    );
    let strict = app
        .request(axum::http::Method::GET, "/fhir/Patient?_query=recent")
        .header("prefer", "handling=strict")
        .send()
        .await;
    strict.outcome(axum::http::StatusCode::BAD_REQUEST);
}

// search.html#count: the self link shows the parameters applied, so a _count over the
// server's maximum shows the maximum.
#[tokio::test]
async fn a_count_over_the_maximum_is_shown_as_the_maximum() {
    let app = TestApp::start().await;
    app.create(r#"{"resourceType":"Patient"}"#).await;
    for count in ["100000", "99999999999999999999"] {
        let bundle = searchset(&app, &format!("/fhir/Patient?_count={count}")).await;
        let self_link = link(&bundle, "self").expect("a self link");
        assert!(self_link.ends_with("_count=1000"), "{self_link}");
    }
}

// search.html#_type: "all other search parameters SHALL be common to all provided types";
// one that only some have would otherwise widen the search to every resource of the others.
#[tokio::test]
async fn a_parameter_not_common_to_every_type_searched_is_400() {
    let app = TestApp::start().await;
    super::rejects(&app, "/fhir?_type=Patient,Observation&code=1234", "code").await;
    super::rejects(&app, "/fhir?birthdate=ge2000", "birthdate").await;
}
