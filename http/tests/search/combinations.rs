//! Every kind of criterion under every kind of sort: each combination answers, and its pages
//! list every match once and link back, whichever plan storage picks for it (drawn from an
//! index, walked in sort order, probed, grouped). A combination no other test names once
//! answered 500 (`Patient?family=x&_sort=-_lastUpdated`).
//! Spec: https://hl7.org/fhir/R4/search.html#sort, #count

use super::{matches, pages_there_and_back};
use crate::support::TestApp;

/// Patients of three family names across the decades, one with a general practitioner;
/// Observations of two codes and categories over two years with values; Encounters of two
/// classes. Some resources are updated after creation, so `_lastUpdated` differs from the
/// creation order.
async fn fixture(app: &TestApp) {
    let doctor = app
        .create(r#"{"resourceType":"Practitioner","name":[{"family":"House"}]}"#)
        .await;
    let people = [
        ("Okafor", "Ada", "female", "1955-03-01", "Boston"),
        ("Okafor", "Ben", "male", "1968-07-12", "Sheffield"),
        ("Lee", "Cai", "female", "1972-01-30", "Boston"),
        ("Lee", "Dan", "male", "1989-11-02", "Leeds"),
        ("Zed", "Eve", "female", "1994-05-05", "Paris"),
        ("Okafor", "Fay", "other", "2001-09-09", "Kingston"),
    ];
    let mut patients = Vec::new();
    for (index, (family, given, gender, birth_date, city)) in people.into_iter().enumerate() {
        let practitioner = if index % 2 == 0 {
            format!(r#","generalPractitioner":[{{"reference":"Practitioner/{doctor}"}}]"#)
        } else {
            String::new()
        };
        let json = format!(
            r#"{{"resourceType":"Patient","active":{},"name":[{{"family":"{family}","given":["{given}"]}}],"gender":"{gender}","birthDate":"{birth_date}","address":[{{"city":"{city}"}}]{practitioner}}}"#,
            index != 3
        );
        patients.push((app.create(&json).await, json));
    }
    for (index, day) in [
        "2019-01-05",
        "2019-06-30",
        "2019-12-31",
        "2020-02-29",
        "2020-08-01",
        "2020-12-24",
    ]
    .into_iter()
    .enumerate()
    {
        let (patient, _) = &patients[index % patients.len()];
        let (code, category, value) = if index % 2 == 0 {
            ("8302-2", "vital-signs", 150 + index * 10)
        } else {
            ("2339-0", "laboratory", 80 + index * 5)
        };
        for offset in 0..2 {
            app.create(&format!(
                r#"{{"resourceType":"Observation","status":"{}","category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"{category}"}}]}}],"code":{{"coding":[{{"system":"http://loinc.org","code":"{code}"}}]}},"subject":{{"reference":"Patient/{patient}"}},"effectiveDateTime":"{day}T{:02}:00:00Z","valueQuantity":{{"value":{},"unit":"cm","system":"http://unitsofmeasure.org","code":"cm"}}}}"#,
                if offset == 0 { "final" } else { "amended" },
                8 + offset,
                value + offset
            ))
            .await;
        }
    }
    for (index, (start, class)) in [
        ("2018-03-01", "AMB"),
        ("2019-04-01", "IMP"),
        ("2020-05-01", "AMB"),
        ("2021-06-01", "IMP"),
    ]
    .into_iter()
    .enumerate()
    {
        let (patient, _) = &patients[index];
        app.create(&format!(
            r#"{{"resourceType":"Encounter","status":"finished","class":{{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"{class}"}},"subject":{{"reference":"Patient/{patient}"}},"period":{{"start":"{start}T09:00:00Z","end":"{start}T10:00:00Z"}}}}"#
        ))
        .await;
    }
    // Updated last: the first and third Patients are now the most recently written.
    for (id, json) in [&patients[0], &patients[2]] {
        let body = json.replacen(
            r#""resourceType":"Patient","#,
            &format!(r#""resourceType":"Patient","id":"{id}","#),
            1,
        );
        let reply = app.put(&format!("/fhir/Patient/{id}"), &body).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
}

const PATIENT_CRITERIA: &[&str] = &[
    "",
    "family=okafor",
    "name=o",
    "gender=female",
    "birthdate=ge1960&birthdate=lt1990",
    "birthdate=ge1950",
    "address-city=boston",
    "address-city:contains=ton",
    "_has:Observation:subject:code=8302-2",
    "general-practitioner:Practitioner.name=house",
    "_lastUpdated=gt2000-01-01",
    "active=true",
    "family=okafor&gender=female",
];

const PATIENT_SORTS: &[&str] = &[
    "_id",
    "-_id",
    "_lastUpdated",
    "-_lastUpdated",
    "family",
    "-birthdate",
    "family,given",
    "-_lastUpdated,family",
    "birthdate,-_lastUpdated",
    "gender,family",
];

const OBSERVATION_CRITERIA: &[&str] = &[
    "",
    "code=8302-2",
    "code=http://loinc.org|2339-0",
    "category=vital-signs",
    "date=ge2019-06-01&date=lt2020-06-01",
    "date=ge2020",
    "value-quantity=gt160",
    "subject:Patient.name=okafor",
    "patient.birthdate=ge1970",
    "status=final&date=ge2019-06-01",
    "code=8302-2&value-quantity=lt200",
];

const OBSERVATION_SORTS: &[&str] = &[
    "-date",
    "date",
    "_lastUpdated",
    "-_lastUpdated",
    "code,-date",
    "-date,_lastUpdated",
    "value-quantity",
    "-value-quantity",
    "subject,-date",
    "status,date",
];

const ENCOUNTER_CRITERIA: &[&str] = &[
    "",
    "date=ge2019",
    "date=ge2019-01-01&date=lt2021-01-01",
    "class=AMB",
    "subject:Patient.gender=female",
];

const ENCOUNTER_SORTS: &[&str] = &[
    "-date",
    "date",
    "_lastUpdated",
    "-_lastUpdated",
    "class,-date",
];

#[tokio::test]
async fn every_criterion_under_every_sort_pages_through_its_matches_once() {
    let app = TestApp::start().await;
    fixture(&app).await;
    for (resource_type, criteria, sorts) in [
        ("Patient", PATIENT_CRITERIA, PATIENT_SORTS),
        ("Observation", OBSERVATION_CRITERIA, OBSERVATION_SORTS),
        ("Encounter", ENCOUNTER_CRITERIA, ENCOUNTER_SORTS),
    ] {
        for criterion in criteria {
            let expected = matches(
                &app,
                &format!("/fhir/{resource_type}?{criterion}&_count=1000"),
            )
            .await;
            assert!(
                !expected.is_empty(),
                "{resource_type}?{criterion} matches nothing in the fixture"
            );
            for sort in sorts {
                let first = format!("/fhir/{resource_type}?{criterion}&_sort={sort}&_count=2");
                let mut listed = pages_there_and_back(&app, &first).await.concat();
                listed.sort();
                assert_eq!(listed, expected, "{first}");
            }
        }
    }
}
