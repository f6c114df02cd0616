//! `_sort` by one parameter and nothing else, read in sort order from the parameter's index
//! (storage/src/search/sorted_walk.rs): each resource once, by its lowest value ascending and
//! its highest descending, equal values by id, resources without a value last; paged both
//! ways across runs of equal values.
//! Spec: https://hl7.org/fhir/R4/search.html#sort

use super::{pages_there_and_back, sorted, transaction};
use crate::support::TestApp;

/// Asserts that the pages of `first`, followed by their `next` links, list `expected`, and
/// that the last page's `previous` link leads back to the page before it.
pub(crate) async fn assert_pages(app: &TestApp, first: &str, expected: &[String]) {
    assert_eq!(
        pages_there_and_back(app, first).await.concat(),
        expected,
        "{first}"
    );
}

async fn observation_with(app: &TestApp, effective: &str) -> String {
    app.create(&format!(
        r#"{{"resourceType":"Observation","status":"final","code":{{"text":"x"}}{effective}}}"#
    ))
    .await
}

// search.html#sort: "the sort order for date uses the lowest value ascending and the
// highest descending"; resources without a value come last either way.
#[tokio::test]
async fn a_lone_date_sort_orders_by_period_start_ascending_and_end_descending() {
    let app = TestApp::start().await;
    let on = |day: &str| format!(r#","effectiveDateTime":"{day}""#);
    let mut same_day: Vec<String> = Vec::new();
    for _ in 0..3 {
        same_day.push(observation_with(&app, &on("2020-06-01")).await);
    }
    same_day.sort();
    let january = observation_with(&app, &on("2020-01-15")).await;
    let december = observation_with(&app, &on("2020-12-31")).await;
    let long_period = observation_with(
        &app,
        r#","effectivePeriod":{"start":"2019-03-01","end":"2021-03-01"}"#,
    )
    .await;
    let mut undated = vec![
        observation_with(&app, "").await,
        observation_with(&app, "").await,
    ];
    undated.sort();
    let deleted = observation_with(&app, &on("2020-06-01")).await;
    app.delete(&format!("/fhir/Observation/{deleted}")).await;

    let ascending = [
        vec![long_period.clone(), january.clone()],
        same_day.clone(),
        vec![december.clone()],
        undated.clone(),
    ]
    .concat();
    assert_pages(&app, "/fhir/Observation?_sort=date&_count=2", &ascending).await;
    let descending = [
        vec![long_period, december],
        same_day,
        vec![january],
        undated,
    ]
    .concat();
    assert_pages(&app, "/fhir/Observation?_sort=-date&_count=2", &descending).await;
}

// search.html#sort: a Patient with several names sorts by its first family name ascending and
// its last descending, and is listed once even when two of its names compare the same.
#[tokio::test]
async fn a_lone_name_sort_lists_each_patient_once_by_its_first_or_last_family_name() {
    let app = TestApp::start().await;
    let patient = |families: &[&str]| {
        let names: Vec<String> = families
            .iter()
            .map(|family| format!(r#"{{"family":"{family}"}}"#))
            .collect();
        format!(
            r#"{{"resourceType":"Patient","name":[{}]}}"#,
            names.join(",")
        )
    };
    let adams_and_young = app.create(&patient(&["Young", "Adams"])).await;
    let clark_twice = app.create(&patient(&["Clark", "CLARK"])).await;
    let smiths = [
        app.create(&patient(&["Smith"])).await,
        app.create(&patient(&["smith"])).await,
        app.create(&patient(&["Smíth"])).await,
    ];
    let smiths = sorted(&smiths.iter().collect::<Vec<_>>());
    let nameless = app
        .create(r#"{"resourceType":"Patient","gender":"other"}"#)
        .await;

    let ascending = [
        vec![adams_and_young.clone(), clark_twice.clone()],
        smiths.clone(),
        vec![nameless.clone()],
    ]
    .concat();
    assert_pages(&app, "/fhir/Patient?_sort=family&_count=2", &ascending).await;
    let descending = [vec![adams_and_young], smiths, vec![clark_twice, nameless]].concat();
    assert_pages(&app, "/fhir/Patient?_sort=-family&_count=2", &descending).await;
}

// search.html#sort: more resources share a value than fit on a page; each page takes the
// lowest ids among them, and the next page goes on from there.
#[tokio::test]
async fn a_lone_token_sort_pages_through_a_run_of_equal_codes_in_id_order() {
    let app = TestApp::start().await;
    let condition = |code: &str| {
        format!(
            r#"{{"resourceType":"Condition","subject":{{"reference":"Patient/p"}},"code":{{"coding":[{{"system":"http://snomed.info/sct","code":"{code}"}}]}}}}"#
        )
    };
    let mut common = Vec::new();
    for _ in 0..5 {
        common.push(app.create(&condition("200")).await);
    }
    common.sort();
    let rare = app.create(&condition("100")).await;
    let last = app.create(&condition("300")).await;

    let ascending = [vec![rare.clone()], common.clone(), vec![last.clone()]].concat();
    assert_pages(&app, "/fhir/Condition?_sort=code&_count=2", &ascending).await;
    let descending = [vec![last], common, vec![rare]].concat();
    assert_pages(&app, "/fhir/Condition?_sort=-code&_count=3", &descending).await;
}

// search.html#sort: a reference sorts by the id it points to; a page read back from a
// cursor among the resources without a value still leads back into the valued ones.
#[tokio::test]
async fn a_lone_reference_sort_pages_back_from_the_resources_without_one() {
    let app = TestApp::start().await;
    let encounter = |subject: &str| {
        format!(
            r#"{{"resourceType":"Encounter","status":"finished","class":{{"code":"AMB"}}{subject}}}"#
        )
    };
    let of_a = app
        .create(&encounter(r#","subject":{"reference":"Patient/a"}"#))
        .await;
    let of_b = app
        .create(&encounter(r#","subject":{"reference":"Patient/b"}"#))
        .await;
    let mut without = Vec::new();
    for _ in 0..3 {
        without.push(app.create(&encounter("")).await);
    }
    without.sort();

    let expected = [vec![of_a, of_b], without].concat();
    // With two a page, the last page's previous one lies among those without a subject;
    // with three, it holds both kinds.
    for count in [2, 3] {
        let first = format!("/fhir/Encounter?_sort=subject&_count={count}");
        assert_pages(&app, &first, &expected).await;
    }
}

// search.html#sort: a sort with a code too common to draw (storage/src/search/filter.rs,
// INTERSECTION_BUDGET: 1,000) walks the date index testing the code on each Observation;
// runs of one date longer than a page, and Observations without a date (which the walk
// leaves to the plan that sorts every match), are still listed once each, in order, both ways.
#[tokio::test]
async fn a_sort_with_a_common_code_pages_through_every_match_in_date_order() {
    let app = TestApp::start().await;
    let observation = |id: &str, code: &str, effective: &str| {
        format!(
            r#"{{"resource":{{"resourceType":"Observation","id":"{id}","status":"final","code":{{"coding":[{{"system":"http://loinc.org","code":"{code}"}}]}}{effective}}},"request":{{"method":"PUT","url":"Observation/{id}"}}}}"#
        )
    };
    let mut entries = Vec::new();
    let mut expected: Vec<(u32, String)> = Vec::new();
    for number in 0..1_400u32 {
        let id = format!("obs-{number:04}");
        let day = number % 20 + 1;
        let effective = format!(r#","effectiveDateTime":"2020-01-{day:02}""#);
        // Every seventh Observation has the other code; every hundredth no date.
        if number % 7 == 0 {
            entries.push(observation(&id, "29463-7", &effective));
        } else if number % 100 == 1 {
            entries.push(observation(&id, "8302-2", ""));
            expected.push((0, id));
        } else {
            entries.push(observation(&id, "8302-2", &effective));
            expected.push((day, id));
        }
    }
    transaction(&app, &entries).await;
    // Latest day first, then by id; the undated last, by id.
    expected.sort_by(|(day, id), (other_day, other_id)| {
        (*day == 0, std::cmp::Reverse(*day), id).cmp(&(
            *other_day == 0,
            std::cmp::Reverse(*other_day),
            other_id,
        ))
    });
    let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
    assert!(expected.len() > 1_000);

    assert_pages(
        &app,
        "/fhir/Observation?code=http://loinc.org|8302-2&_sort=-date&_count=40",
        &expected,
    )
    .await;
}

// search.html#sort with search.html#date: a sort with a date range too common to draw
// (storage/src/search/filter.rs, RANGE_BUDGET: 2,500 index rows) walks the sort parameter's
// index testing the range on each Observation. Whether the sort is the range's own parameter,
// either way, or another one, every match is listed once, in order, both ways, also with a
// common code beside the range; a range that matches nothing is an empty page.
#[tokio::test]
async fn a_sort_with_a_common_date_range_pages_through_every_match_in_sort_order() {
    let app = TestApp::start().await;
    let observation = |id: &str, code: &str, effective: &str| {
        format!(
            r#"{{"resource":{{"resourceType":"Observation","id":"{id}","status":"final","code":{{"coding":[{{"system":"http://example.org/codes","code":"{code}"}}]}},{effective}}},"request":{{"method":"PUT","url":"Observation/{id}"}}}}"#
        )
    };
    // (id, code, lowest instant's day, highest instant's day) of each match of `date=ge2020-01-04`.
    let mut matching: Vec<(String, &str, u32, u32)> = Vec::new();
    let mut entries = Vec::new();
    for number in 0..3_000u32 {
        let id = format!("obs-{number:04}");
        // Code `a` on two in three: over the single value's draw budget (1,000).
        let code = ["a", "a", "b", "a", "a", "c"][number as usize % 6];
        if number % 10 == 3 {
            // Starts before the range, ends in it: a match, sorted by its start ascending
            // and by its end descending, among the single days of those dates.
            let period = r#""effectivePeriod":{"start":"2020-01-02","end":"2020-01-15"}"#;
            entries.push(observation(&id, code, period));
            matching.push((id, code, 2, 15));
        } else {
            let day = number % 20 + 1;
            let instant = format!(r#""effectiveDateTime":"2020-01-{day:02}""#);
            entries.push(observation(&id, code, &instant));
            if day >= 4 {
                matching.push((id, code, day, day));
            }
        }
    }
    assert!(matching.len() > 2_500, "over the draw's budget");
    transaction(&app, &entries).await;

    let ids = |matching: &[(String, &str, u32, u32)]| -> Vec<String> {
        matching.iter().map(|(id, ..)| id.clone()).collect()
    };
    let range = "/fhir/Observation?date=ge2020-01-04&_count=200";
    matching.sort_by(|a, b| (std::cmp::Reverse(a.3), &a.0).cmp(&(std::cmp::Reverse(b.3), &b.0)));
    assert_pages(&app, &format!("{range}&_sort=-date"), &ids(&matching)).await;
    matching.sort_by(|a, b| (a.2, &a.0).cmp(&(b.2, &b.0)));
    assert_pages(&app, &format!("{range}&_sort=date"), &ids(&matching)).await;
    matching.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    assert_pages(&app, &format!("{range}&_sort=code"), &ids(&matching)).await;
    assert_pages(&app, "/fhir/Observation?date=ge2030-01-01&_sort=-date", &[]).await;
    // With a common code beside the range, drawn from neither.
    let mut coded: Vec<(String, &str, u32, u32)> = matching
        .iter()
        .filter(|(_, code, ..)| *code == "a")
        .cloned()
        .collect();
    coded.sort_by(|a, b| (std::cmp::Reverse(a.3), &a.0).cmp(&(std::cmp::Reverse(b.3), &b.0)));
    let code_a = "code=http://example.org/codes|a";
    assert_pages(&app, &format!("{range}&{code_a}&_sort=-date"), &ids(&coded)).await;
    assert_pages(
        &app,
        &format!("/fhir/Observation?{code_a}&date=ge2030-01-01&_sort=-date"),
        &[],
    )
    .await;
}

// search.html#sort with search.html#date, on a parameter with one date per resource (a
// birth date): a range too common to draw is tested on the date row the walk reads, so a
// sort the way the range opens (`ge` ascending, `lt` descending) starts at its bound. Year
// and month precision birth dates are ranges: ascending they sort by their first day,
// descending by their last, and they match as ranges.
#[tokio::test]
async fn a_birth_date_sort_with_a_common_birth_date_range_starts_at_the_range() {
    use time::{Date, Duration, Month};
    let app = TestApp::start().await;
    let first_day = Date::from_calendar_date(1989, Month::June, 1).expect("a date");
    let day = |year: i32, month: Month, day: u8| {
        Date::from_calendar_date(year, month, day).expect("a date")
    };
    // (id, first day, last day) of every Patient.
    let mut patients: Vec<(String, Date, Date)> = Vec::new();
    let mut entries = Vec::new();
    for number in 0..3_000u32 {
        let id = format!("pat-{number:04}");
        let (birth_date, low, high) = match number % 50 {
            7 => (
                "1989".to_owned(),
                day(1989, Month::January, 1),
                day(1989, Month::December, 31),
            ),
            9 => (
                "1990-01".to_owned(),
                day(1990, Month::January, 1),
                day(1990, Month::January, 31),
            ),
            _ => {
                let born = first_day + Duration::days(i64::from(number % 400));
                (born.to_string(), born, born)
            }
        };
        entries.push(format!(
            r#"{{"resource":{{"resourceType":"Patient","id":"{id}","birthDate":"{birth_date}"}},"request":{{"method":"PUT","url":"Patient/{id}"}}}}"#
        ));
        patients.push((id, low, high));
    }
    transaction(&app, &entries).await;

    let ids = |matching: &[&(String, Date, Date)]| -> Vec<String> {
        matching.iter().map(|(id, ..)| id.clone()).collect()
    };
    // `ge1989-07-01`: the last day is on it or after; ascending by the first day.
    let from = day(1989, Month::July, 1);
    let mut matching: Vec<&(String, Date, Date)> = patients
        .iter()
        .filter(|(_, _, high)| *high >= from)
        .collect();
    assert!(matching.len() > 2_500, "over the draw's budget");
    matching.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    assert_pages(
        &app,
        "/fhir/Patient?birthdate=ge1989-07-01&_sort=birthdate&_count=200",
        &ids(&matching),
    )
    .await;
    // `lt1990-06-01`: the first day is before it; descending by the last day.
    let before = day(1990, Month::June, 1);
    let mut matching: Vec<&(String, Date, Date)> = patients
        .iter()
        .filter(|(_, low, _)| *low < before)
        .collect();
    assert!(matching.len() > 2_500, "over the draw's budget");
    matching.sort_by(|a, b| (std::cmp::Reverse(a.2), &a.0).cmp(&(std::cmp::Reverse(b.2), &b.0)));
    assert_pages(
        &app,
        "/fhir/Patient?birthdate=lt1990-06-01&_sort=-birthdate&_count=200",
        &ids(&matching),
    )
    .await;
}

// search.html#paging: a page link is opaque. A cursor taken to a search sorted another way,
// or edited by hand, decodes but its values are not of the sort's type: a 400, not a 500.
#[tokio::test]
async fn a_cursor_whose_values_do_not_fit_the_sort_is_rejected() {
    let app = TestApp::start().await;
    for family in ["Adams", "Baker"] {
        app.create(&format!(
            r#"{{"resourceType":"Patient","name":[{{"family":"{family}"}}],"birthDate":"1970-01-01"}}"#
        ))
        .await;
    }
    let first = super::searchset(&app, "/fhir/Patient?_sort=family&_count=1").await;
    let next = crate::support::link(&first, "next").expect("a second page");
    let (_, cursor) = next
        .split_once("_cursor=")
        .expect("the next link has a cursor");
    let by_hand: String =
        r#"["after","abc","Patient","x"]"#.bytes().map(|byte| format!("{byte:02x}")).collect();
    for search in [
        format!("Patient?_sort=birthdate&_count=1&_cursor={cursor}"),
        format!("Patient?_sort=-birthdate&_cursor={by_hand}"),
        format!("Patient?_sort=_lastUpdated&_cursor={by_hand}"),
        format!("Observation?_sort=value-quantity&_cursor={by_hand}"),
    ] {
        let reply = app.get(&format!("/fhir/{search}")).await;
        reply.outcome(axum::http::StatusCode::BAD_REQUEST);
    }
}
