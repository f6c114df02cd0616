//! Date searches on a parameter with one Period per resource (`Encounter.period`), whose
//! ranges are bounded as if every Period were short (storage/src/search/wide_dates.rs): a
//! Period over a year, an open one, or one with only an end must still be found, in both
//! sort orders, whether the search is drawn from the index or walked in sort order.
//! Spec: https://hl7.org/fhir/R4/search.html#date, https://hl7.org/fhir/R4/search.html#sort

use super::sorting::assert_pages;
use super::{matches, sorted, transaction};
use crate::support::TestApp;

/// An Encounter's period as (first day, last day) of January 2020, with `i32::MIN` and
/// `i32::MAX` for an open start or end and negative days for the years before.
type Span = (i32, i32);

/// A transaction entry writing the Encounter `id` with `status` over `period` (JSON).
fn encounter_entry(id: &str, status: &str, period: &str) -> String {
    format!(
        r#"{{"resource":{{"resourceType":"Encounter","id":"{id}","status":"{status}","class":{{"code":"AMB"}},"period":{period}}},"request":{{"method":"PUT","url":"Encounter/{id}"}}}}"#
    )
}

/// A Period of the whole of January `day`, 2020.
fn one_day_in_january(day: impl std::fmt::Display) -> String {
    format!(r#"{{"start":"2020-01-{day:02}","end":"2020-01-{day:02}"}}"#)
}

/// Writes 3,000 Encounters (over the draw and walk budgets of a page), one a day through
/// January 2020 in turn, with three wide ones among them; returns each one's id and span.
async fn encounters_through_january(app: &TestApp) -> Vec<(String, Span)> {
    let mut encounters = Vec::new();
    let mut entries = Vec::new();
    for number in 0..3_000i32 {
        let id = format!("enc-{number:04}");
        let (period, span) = match number {
            7 => (
                r#"{"start":"2015-01-01","end":"2022-01-01"}"#.to_owned(),
                (-1_800, 700),
            ),
            8 => (r#"{"start":"2019-12-01"}"#.to_owned(), (-30, i32::MAX)),
            9 => (r#"{"end":"2020-01-20"}"#.to_owned(), (i32::MIN, 20)),
            _ => {
                let day = number % 30 + 1;
                (one_day_in_january(day), (day, day))
            }
        };
        entries.push(encounter_entry(&id, "finished", &period));
        encounters.push((id, span));
    }
    transaction(app, &entries).await;
    encounters
}

/// The ids of `encounters` whose span meets `keep`, in id order, by first day ascending or
/// by last day descending.
fn expected(encounters: &[(String, Span)], keep: impl Fn(Span) -> bool, sort: &str) -> Vec<String> {
    let mut matching: Vec<&(String, Span)> =
        encounters.iter().filter(|(_, span)| keep(*span)).collect();
    match sort {
        "" => matching.sort_by(|a, b| a.0.cmp(&b.0)),
        "date" => matching.sort_by(|a, b| (a.1 .0, &a.0).cmp(&(b.1 .0, &b.0))),
        "-date" => matching.sort_by(|a, b| {
            (std::cmp::Reverse(a.1 .1), &a.0).cmp(&(std::cmp::Reverse(b.1 .1), &b.0))
        }),
        other => panic!("no expectation for _sort={other}"),
    }
    matching.into_iter().map(|(id, _)| id.clone()).collect()
}

/// Pages through each search of January's ranges, unsorted and in both date orders.
async fn assert_january_ranges(app: &TestApp, encounters: &[(String, Span)]) {
    // `ge2020-01-04`: ends on the 4th or later; `lt2020-01-10`: starts before the 10th.
    let ends_from_4th = |(_, last): Span| last >= 4;
    let starts_before_10th = |(first, _): Span| first < 10;
    let searches: [(&str, &dyn Fn(Span) -> bool); 3] = [
        ("date=ge2020-01-04&date=lt2020-01-10", &|span| {
            ends_from_4th(span) && starts_before_10th(span)
        }),
        ("date=ge2020-01-04", &ends_from_4th),
        ("date=lt2020-01-28", &|(first, _)| first < 28),
    ];
    for (criteria, keep) in searches {
        for sort in ["", "date", "-date"] {
            let sorted_by = if sort.is_empty() {
                String::new()
            } else {
                format!("&_sort={sort}")
            };
            let uri = format!("/fhir/Encounter?{criteria}{sorted_by}&_count=200");
            assert_pages(app, &uri, &expected(encounters, keep, sort)).await;
        }
    }
}

// search.html#date: `ge` matches a Period ending on or after the value, however early it
// starts, and `lt` one starting before it, however late (or never) it ends.
#[tokio::test]
async fn date_ranges_on_periods_find_long_open_and_end_only_periods_in_every_order() {
    let app = TestApp::start().await;
    let encounters = encounters_through_january(&app).await;
    assert_january_ranges(&app, &encounters).await;

    // Without a wide Period left, the same searches take the bounded paths alone.
    for id in ["enc-0007", "enc-0008", "enc-0009"] {
        assert_eq!(
            app.delete(&format!("/fhir/Encounter/{id}")).await.status,
            204
        );
    }
    let narrow: Vec<(String, Span)> = encounters
        .into_iter()
        .filter(|(id, _)| !["enc-0007", "enc-0008", "enc-0009"].contains(&id.as_str()))
        .collect();
    assert_january_ranges(&app, &narrow).await;
}

// search.html#date on `Condition.onset.as(dateTime) | Condition.onset.as(Period)`: one value
// per Condition, a dateTime or a Period; an onset Period that never ended overlaps every
// later month.
#[tokio::test]
async fn onset_date_ranges_find_an_open_onset_period_beside_onset_date_times() {
    let app = TestApp::start().await;
    let condition = |onset: &str| {
        format!(r#"{{"resourceType":"Condition","subject":{{"reference":"Patient/p"}},{onset}}}"#)
    };
    let in_march = app
        .create(&condition(r#""onsetDateTime":"2019-03-10T08:00:00Z""#))
        .await;
    let in_june = app
        .create(&condition(r#""onsetDateTime":"2019-06-10""#))
        .await;
    let ongoing_since_2010 = app
        .create(&condition(r#""onsetPeriod":{"start":"2010-05-01"}"#))
        .await;
    let over_before = app
        .create(&condition(
            r#""onsetPeriod":{"start":"2001-01-01","end":"2005-01-01"}"#,
        ))
        .await;
    let _no_onset = app.create(&condition(r#""onsetString":"childhood""#)).await;

    let march = "/fhir/Condition?onset-date=ge2019-03&onset-date=lt2019-04";
    assert_eq!(
        matches(&app, march).await,
        sorted(&[&in_march, &ongoing_since_2010])
    );
    // Beside an equality, tested on each Condition of the patient.
    assert_eq!(
        matches(&app, &format!("{march}&patient=Patient/p")).await,
        sorted(&[&in_march, &ongoing_since_2010])
    );
    assert_pages(
        &app,
        "/fhir/Condition?onset-date=lt2019-06-01&_sort=-onset-date",
        &[
            ongoing_since_2010.clone(),
            in_march.clone(),
            over_before.clone(),
        ],
    )
    .await;
    assert_pages(
        &app,
        "/fhir/Condition?onset-date=ge2019-01-01&_sort=onset-date",
        &[ongoing_since_2010, in_march, in_june],
    )
    .await;
}

// search.html#combining: a token beside a date range on a Period, unsorted; the range is
// drawn and the token tested on each Encounter drawn, long and open Periods among them.
#[tokio::test]
async fn a_status_beside_a_period_range_keeps_only_encounters_with_both() {
    let app = TestApp::start().await;
    let mut entries = Vec::new();
    let mut expected = Vec::new();
    for number in 0..300u32 {
        let id = format!("enc-{number:03}");
        let status = if number % 3 == 0 {
            "planned"
        } else {
            "finished"
        };
        let period = match number {
            30 => r#"{"start":"2015-01-01","end":"2022-01-01"}"#.to_owned(),
            33 => r#"{"start":"2019-12-01"}"#.to_owned(),
            _ => one_day_in_january(number % 30 + 1),
        };
        let day = number % 30 + 1;
        let in_range = matches!(number, 30 | 33) || (4..10).contains(&day);
        if status == "planned" && in_range {
            expected.push(id.clone());
        }
        entries.push(encounter_entry(&id, status, &period));
    }
    transaction(&app, &entries).await;
    assert_pages(
        &app,
        "/fhir/Encounter?status=planned&date=ge2020-01-04&date=lt2020-01-10&_count=7",
        &expected,
    )
    .await;
}
