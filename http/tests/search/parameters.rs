//! Parameter types, modifiers and prefixes.
//! Spec: https://hl7.org/fhir/R4/search.html#ptypes, #modifiers, #prefix, #escaping

use axum::http::StatusCode;

use super::{matches, sorted};
use crate::support::TestApp;

pub(super) async fn patient(
    app: &TestApp,
    family: &str,
    given: &str,
    birth_date: &str,
    gender: &str,
) -> String {
    app.create(&format!(
        r#"{{"resourceType":"Patient","name":[{{"family":"{family}","given":["{given}"]}}],"birthDate":"{birth_date}","gender":"{gender}",
            "identifier":[{{"type":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}}]}},"system":"urn:mrn","value":"{given}-{family}"}}],
            "telecom":[{{"system":"phone","value":"555-{given}"}}]}}"#
    ))
    .await
}

// search.html#string: "the search is case-insensitive and accent-insensitive … matches
// values that start with the search value"
#[tokio::test]
async fn search_string_matches_the_start_ignoring_case_and_accents() {
    let app = TestApp::start().await;
    let eve = patient(&app, "Ève", "Anna", "1980-01-01", "female").await;
    let evans = patient(&app, "Evans", "Bob", "1990-01-01", "male").await;
    let steven = patient(&app, "Steven", "Carl", "1970-01-01", "male").await;
    assert_eq!(
        matches(&app, "/fhir/Patient?family=eve").await,
        sorted(&[&eve])
    );
    assert_eq!(
        matches(&app, "/fhir/Patient?family=ev").await,
        sorted(&[&eve, &evans])
    );
    assert_eq!(
        matches(&app, "/fhir/Patient?name=EV").await,
        sorted(&[&eve, &evans])
    );
    assert_eq!(
        matches(&app, "/fhir/Patient?family:exact=Ève").await,
        sorted(&[&eve])
    );
    assert_eq!(
        matches(&app, "/fhir/Patient?family:exact=eve").await,
        Vec::<String>::new()
    );
    assert_eq!(
        matches(&app, "/fhir/Patient?family:contains=eve").await,
        sorted(&[&eve, &steven])
    );
}

// A string or date search alone keeps its statement's plan on the connection and reuses it
// for other values (storage/src/search/plans.rs): each run must still select exactly the
// resources its own values select, whichever values the plan was first made for.
#[tokio::test]
async fn string_and_date_searches_run_again_with_other_values_select_their_own_matches() {
    let app = TestApp::start().await;
    let smith = patient(&app, "Smith", "Ann", "1970-05-05", "female").await;
    let smithson = patient(&app, "Smithson", "Ben", "1971-01-01", "male").await;
    let smyth = patient(&app, "Smyth", "Cat", "1971-12-31", "female").await;
    let zoe = patient(&app, "Zoë", "Dan", "1972-06", "male").await;
    let zz = patient(&app, "Zz", "Eve", "1973", "female").await;
    let none = Vec::<String>::new();
    // More rounds than the five runs after which PostgreSQL may keep a generic plan.
    for _round in 0..8 {
        assert_eq!(
            matches(&app, "/fhir/Patient?family=smith").await,
            sorted(&[&smith, &smithson])
        );
        assert_eq!(
            matches(&app, "/fhir/Patient?family=sm").await,
            sorted(&[&smith, &smithson, &smyth])
        );
        assert_eq!(matches(&app, "/fhir/Patient?family=smithsons").await, none);
        assert_eq!(
            matches(&app, "/fhir/Patient?family=z").await,
            sorted(&[&zoe, &zz])
        );
        assert_eq!(
            matches(&app, "/fhir/Patient?family=zoe").await,
            sorted(&[&zoe])
        );
        assert_eq!(
            matches(&app, "/fhir/Patient?family=zz").await,
            sorted(&[&zz])
        );
        assert_eq!(
            matches(
                &app,
                "/fhir/Patient?birthdate=ge1971-01-01&birthdate=lt1972-01-01"
            )
            .await,
            sorted(&[&smithson, &smyth])
        );
        assert_eq!(
            matches(
                &app,
                "/fhir/Patient?birthdate=ge1970-01-01&birthdate=lt1971-01-01"
            )
            .await,
            sorted(&[&smith])
        );
        assert_eq!(
            matches(
                &app,
                "/fhir/Patient?birthdate=ge1972-01-01&birthdate=lt1974-01-01"
            )
            .await,
            sorted(&[&zoe, &zz])
        );
        assert_eq!(
            matches(
                &app,
                "/fhir/Patient?birthdate=ge1980-01-01&birthdate=lt1981-01-01"
            )
            .await,
            none
        );
    }
}

// A search by one token value keeps its statement's plan on the connection and reuses it
// for other values (storage/src/search/plans.rs): each run must still select exactly the
// resources its own value selects, whichever value the plan was first made for.
#[tokio::test]
async fn token_searches_run_again_with_other_values_select_their_own_matches() {
    let app = TestApp::start().await;
    let ann = patient(&app, "Smith", "Ann", "1970-05-05", "female").await;
    let ben = patient(&app, "Jones", "Ben", "1971-01-01", "male").await;
    let cat = patient(&app, "Brown", "Cat", "1972-01-01", "female").await;
    let cases = [
        ("gender=female", sorted(&[&ann, &cat])),
        ("gender=male", sorted(&[&ben])),
        ("gender=other", Vec::new()),
        ("identifier=urn:mrn|Ben-Jones", sorted(&[&ben])),
        ("identifier=Cat-Brown", sorted(&[&cat])),
        ("identifier=urn:other|Cat-Brown", Vec::new()),
        ("phone=555-Ann", sorted(&[&ann])),
    ];
    // More rounds than the five runs after which PostgreSQL may keep a generic plan.
    for _round in 0..8 {
        for (criterion, expected) in &cases {
            let uri = format!("/fhir/Patient?{criterion}");
            assert_eq!(&matches(&app, &uri).await, expected, "{uri}");
        }
    }
}

// search.html#token: code, system|code, |code and system|
#[tokio::test]
async fn search_token_forms_and_modifiers() {
    let app = TestApp::start().await;
    let heart = app.create(r#"{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]}}"#).await;
    let local = app.create(r#"{"resourceType":"Observation","status":"final","code":{"coding":[{"code":"8867-4"}]}}"#).await;
    let other = app.create(r#"{"resourceType":"Observation","status":"amended","code":{"coding":[{"system":"http://snomed.info/sct","code":"1"}]}}"#).await;
    assert_eq!(
        matches(&app, "/fhir/Observation?code=8867-4").await,
        sorted(&[&heart, &local])
    );
    assert_eq!(
        matches(&app, "/fhir/Observation?code=http://loinc.org|8867-4").await,
        sorted(&[&heart])
    );
    assert_eq!(
        matches(&app, "/fhir/Observation?code=|8867-4").await,
        sorted(&[&local])
    );
    assert_eq!(
        matches(&app, "/fhir/Observation?code=http://snomed.info/sct|").await,
        sorted(&[&other])
    );
    assert_eq!(
        matches(&app, "/fhir/Observation?status:not=final").await,
        sorted(&[&other])
    );
    assert_eq!(
        matches(&app, "/fhir/Observation?code:text=heart").await,
        sorted(&[&heart])
    );
}

// search.html#token: for a `code` "the system is defined in the value set" its binding
// names; Patient.gender's is http://hl7.org/fhir/administrative-gender.
#[tokio::test]
async fn search_token_on_a_code_matches_the_system_its_binding_implies() {
    let app = TestApp::start().await;
    let kim = patient(&app, "Kim", "A", "1980-01-01", "female").await;
    let lee = patient(&app, "Lee", "B", "1981-01-01", "male").await;
    let gender = "http://hl7.org/fhir/administrative-gender";
    assert_eq!(
        matches(&app, &format!("/fhir/Patient?gender={gender}|female")).await,
        [kim.as_str()]
    );
    assert_eq!(
        matches(&app, &format!("/fhir/Patient?gender={gender}|")).await,
        sorted(&[&kim, &lee])
    );
    assert_eq!(
        matches(&app, &format!("/fhir/Patient?gender:not={gender}|female")).await,
        [lee.as_str()]
    );
    // Another system is not the implied one; the code alone and `|code` match as before.
    assert!(
        matches(&app, "/fhir/Patient?gender=http://example.org/sex|female")
            .await
            .is_empty()
    );
    assert_eq!(
        matches(&app, "/fhir/Patient?gender=female").await,
        [kim.as_str()]
    );
    assert_eq!(
        matches(&app, "/fhir/Patient?gender=|female").await,
        [kim.as_str()]
    );
}

// search.html#token: Identifier, ContactPoint, and :of-type on identifiers
#[tokio::test]
async fn search_token_on_identifier_telecom_and_of_type() {
    let app = TestApp::start().await;
    let anna = patient(&app, "Smith", "Anna", "1980-01-01", "female").await;
    patient(&app, "Smith", "Bob", "1980-01-01", "male").await;
    assert_eq!(
        matches(&app, "/fhir/Patient?identifier=urn:mrn|Anna-Smith").await,
        sorted(&[&anna])
    );
    assert_eq!(
        matches(&app, "/fhir/Patient?telecom=555-Anna").await,
        sorted(&[&anna])
    );
    assert_eq!(
        matches(&app, "/fhir/Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|Anna-Smith").await,
        sorted(&[&anna])
    );
    assert_eq!(matches(&app, "/fhir/Patient?gender=female").await, [anna]);
}

// search.html#date: "the range of the search value fully contains the range of the target"
// for eq; partial dates are ranges.
#[tokio::test]
async fn search_date_prefixes_compare_ranges_of_precision() {
    let app = TestApp::start().await;
    let early = patient(&app, "A", "A", "1980-03-04", "female").await;
    let late = patient(&app, "B", "B", "1990-06", "male").await;
    assert_eq!(
        matches(&app, "/fhir/Patient?birthdate=1980").await,
        sorted(&[&early])
    );
    assert_eq!(
        matches(&app, "/fhir/Patient?birthdate=1980-03-04").await,
        sorted(&[&early])
    );
    assert_eq!(
        matches(&app, "/fhir/Patient?birthdate=ge1985").await,
        sorted(&[&late])
    );
    assert_eq!(
        matches(&app, "/fhir/Patient?birthdate=lt1985-01-01").await,
        sorted(&[&early])
    );
    assert_eq!(
        matches(&app, "/fhir/Patient?birthdate=ge1980&birthdate=lt1991").await,
        sorted(&[&early, &late])
    );
    assert_eq!(
        matches(&app, "/fhir/Patient?birthdate=sa1980").await,
        sorted(&[&late])
    );
    assert_eq!(
        matches(&app, "/fhir/Patient?birthdate=eb1990").await,
        sorted(&[&early])
    );
    assert_eq!(
        matches(&app, "/fhir/Patient?birthdate=ne1980").await,
        sorted(&[&late])
    );
    // A month is not contained in one of its days, but overlaps it.
    assert_eq!(
        matches(&app, "/fhir/Patient?birthdate=1990-06-15").await,
        Vec::<String>::new()
    );
    assert_eq!(
        matches(&app, "/fhir/Patient?birthdate=ap1990-06-15").await,
        [late]
    );
}

#[tokio::test]
async fn search_date_ge_includes_partial_year() {
    let app = TestApp::start().await;
    let in_year = patient(&app, "A", "A", "2020", "female").await;
    assert_eq!(
        matches(&app, "/fhir/Patient?birthdate=ge2020").await,
        sorted(&[&in_year])
    );
    assert_eq!(
        matches(&app, "/fhir/Patient?birthdate=le2020").await,
        [in_year]
    );
}

// search.html#date: a range given by two prefixes on a birth date (one value per Patient,
// so both are tested on the same value), with partial dates on either side of each edge.
#[tokio::test]
async fn search_date_range_on_a_birth_date_keeps_its_edges_and_partial_dates() {
    let app = TestApp::start().await;
    let mut born = std::collections::HashMap::new();
    for birth_date in [
        "1949",
        "1949-12-31",
        "1950",
        "1950-01-01",
        "1950-06-15",
        "1950-12-31",
        "1951-01-01",
        "1951",
    ] {
        born.insert(
            birth_date,
            patient(&app, "Edge", "Case", birth_date, "other").await,
        );
    }
    let ids = |dates: &[&str]| sorted(&dates.iter().map(|date| &born[date]).collect::<Vec<_>>());
    let year_1950 = ["1950", "1950-01-01", "1950-06-15", "1950-12-31"];
    assert_eq!(
        matches(
            &app,
            "/fhir/Patient?birthdate=ge1950-01-01&birthdate=lt1951-01-01"
        )
        .await,
        ids(&year_1950)
    );
    assert_eq!(
        matches(
            &app,
            "/fhir/Patient?birthdate=gt1949-12-31&birthdate=le1950-12-31"
        )
        .await,
        ids(&year_1950)
    );
    assert_eq!(
        matches(&app, "/fhir/Patient?birthdate=ge1951&birthdate=le1951").await,
        ids(&["1951-01-01", "1951"])
    );
    assert_eq!(
        matches(
            &app,
            "/fhir/Patient?birthdate=gt1949&birthdate=lt1950-06-15"
        )
        .await,
        ids(&["1950", "1950-01-01"])
    );
}

// search.html#quantity and #number: implicit precision and system|code
#[tokio::test]
async fn search_quantity_uses_implicit_precision_and_units() {
    let app = TestApp::start().await;
    let weight = app.create(r#"{"resourceType":"Observation","status":"final","code":{"text":"w"},"valueQuantity":{"value":100.2,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}"#).await;
    let light = app.create(r#"{"resourceType":"Observation","status":"final","code":{"text":"w"},"valueQuantity":{"value":5.4,"unit":"mg","system":"http://unitsofmeasure.org","code":"mg"}}"#).await;
    assert_eq!(
        matches(&app, "/fhir/Observation?value-quantity=100").await,
        sorted(&[&weight])
    );
    assert_eq!(
        matches(&app, "/fhir/Observation?value-quantity=100.0").await,
        Vec::<String>::new()
    );
    assert_eq!(
        matches(&app, "/fhir/Observation?value-quantity=gt50").await,
        sorted(&[&weight])
    );
    assert_eq!(
        matches(
            &app,
            "/fhir/Observation?value-quantity=le5.4|http://unitsofmeasure.org|mg"
        )
        .await,
        sorted(&[&light])
    );
    assert_eq!(
        matches(&app, "/fhir/Observation?value-quantity=5.4||mg").await,
        sorted(&[&light])
    );
    assert_eq!(
        matches(&app, "/fhir/Observation?value-quantity=ap101").await,
        std::slice::from_ref(&weight)
    );
    // `ap` is never narrower than the value's own precision: `1e1` is 10 give or take 5.
    assert_eq!(
        matches(&app, "/fhir/Observation?value-quantity=ap1e1").await,
        [light]
    );
}

// search.html#composite: both parts must come from the same component
#[tokio::test]
async fn search_composite_pairs_parts_of_the_same_component() {
    let app = TestApp::start().await;
    let pressure = app.create(
        r#"{"resourceType":"Observation","status":"final","code":{"text":"bp"},"component":[
            {"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":120}},
            {"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":80}}]}"#,
    )
    .await;
    assert_eq!(
        matches(
            &app,
            "/fhir/Observation?component-code-value-quantity=http://loinc.org|8480-6$gt100"
        )
        .await,
        [pressure]
    );
    assert_eq!(
        matches(
            &app,
            "/fhir/Observation?component-code-value-quantity=http://loinc.org|8462-4$gt100"
        )
        .await,
        Vec::<String>::new()
    );
}

// search.html#missing, #uri, _tag and _id
#[tokio::test]
async fn missing_uri_above_below_tag_and_id() {
    let app = TestApp::start().await;
    let tagged = app.create(r#"{"resourceType":"ValueSet","status":"active","url":"http://acme.org/fhir/ValueSet/a","meta":{"tag":[{"system":"http://acme.org/tags","code":"blue"}]}}"#).await;
    let plain = app
        .create(r#"{"resourceType":"ValueSet","status":"draft"}"#)
        .await;
    assert_eq!(
        matches(&app, "/fhir/ValueSet?url:missing=true").await,
        sorted(&[&plain])
    );
    assert_eq!(
        matches(&app, "/fhir/ValueSet?url:missing=false").await,
        sorted(&[&tagged])
    );
    assert_eq!(
        matches(&app, "/fhir/ValueSet?url:below=http://acme.org/fhir").await,
        sorted(&[&tagged])
    );
    assert_eq!(
        matches(
            &app,
            "/fhir/ValueSet?url:above=http://acme.org/fhir/ValueSet/a/v2"
        )
        .await,
        sorted(&[&tagged])
    );
    assert_eq!(
        matches(&app, "/fhir/ValueSet?_tag=http://acme.org/tags|blue").await,
        sorted(&[&tagged])
    );
    assert_eq!(
        matches(&app, &format!("/fhir/ValueSet?_id={plain}")).await,
        sorted(&[&plain])
    );
    assert_eq!(
        matches(&app, "/fhir/ValueSet?_lastUpdated=gt2000-01-01").await,
        sorted(&[&tagged, &plain])
    );
    assert_eq!(
        matches(&app, "/fhir/ValueSet?_lastUpdated=lt2000-01-01").await,
        Vec::<String>::new()
    );
}

// search.html#combining: comma is OR, repetition is AND; search.html#escaping
#[tokio::test]
async fn commas_are_or_repetitions_are_and_and_escapes_are_literal() {
    let app = TestApp::start().await;
    let comma = patient(&app, "Smith, Jr", "A", "1980-01-01", "female").await;
    let jones = patient(&app, "Jones", "B", "1980-01-01", "male").await;
    assert_eq!(
        matches(&app, "/fhir/Patient?family=jones,smith").await,
        sorted(&[&comma, &jones])
    );
    assert_eq!(
        matches(&app, "/fhir/Patient?family=jones,smith&gender=male").await,
        sorted(&[&jones])
    );
    assert_eq!(
        matches(&app, r"/fhir/Patient?family=smith\,%20jr").await,
        sorted(&[&comma])
    );
    assert_eq!(
        matches(&app, "/fhir/Patient?family=smith,%20jr").await,
        [comma]
    );
}

// A deleted resource is no longer found, and an update re-indexes.
#[tokio::test]
async fn updates_reindex_and_deleted_resources_are_not_found() {
    let app = TestApp::start().await;
    let id = patient(&app, "Old", "A", "1980-01-01", "female").await;
    let reply = app
        .put(
            &format!("/fhir/Patient/{id}"),
            &format!(r#"{{"resourceType":"Patient","id":"{id}","name":[{{"family":"New"}}]}}"#),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        matches(&app, "/fhir/Patient?family=old").await,
        Vec::<String>::new()
    );
    assert_eq!(
        matches(&app, "/fhir/Patient?family=new").await,
        sorted(&[&id])
    );
    assert_eq!(
        matches(&app, "/fhir/Patient?birthdate=1980").await,
        Vec::<String>::new()
    );
    app.delete(&format!("/fhir/Patient/{id}")).await;
    assert_eq!(
        matches(&app, "/fhir/Patient?family=new").await,
        Vec::<String>::new()
    );
}
