//! Modifiers on the parameters every resource has, and on composite and token parameters,
//! where the spec's rules differ from the parameter type's usual ones.
//! Spec: https://hl7.org/fhir/R4/search.html#modifiers, #missing, #token, #composite

use super::{matches, rejects, sorted};
use crate::support::TestApp;

// search.html#token: `_id` is a token; `:not` gives "all resources that do not have a
// matching item".
#[tokio::test]
async fn id_not_excludes_the_named_resources() {
    let app = TestApp::start().await;
    let first = app.create(r#"{"resourceType":"Patient"}"#).await;
    let second = app.create(r#"{"resourceType":"Patient"}"#).await;
    let third = app.create(r#"{"resourceType":"Patient"}"#).await;
    assert_eq!(
        matches(&app, &format!("/fhir/Patient?_id:not={first}")).await,
        sorted(&[&second, &third])
    );
    assert_eq!(
        matches(&app, &format!("/fhir/Patient?_id:not={first},{second}")).await,
        sorted(&[&third])
    );
    rejects(&app, &format!("/fhir/Patient?_id:text={first}"), "_id:text").await;
}

// search.html#missing: every resource has an id and a lastUpdated, so `:missing=true` finds
// none and `:missing=false` all.
#[tokio::test]
async fn missing_on_id_and_last_updated_finds_none_or_all() {
    let app = TestApp::start().await;
    let first = app.create(r#"{"resourceType":"Patient"}"#).await;
    let second = app.create(r#"{"resourceType":"Patient"}"#).await;
    for param in ["_id", "_lastUpdated"] {
        assert_eq!(
            matches(&app, &format!("/fhir/Patient?{param}:missing=true")).await,
            Vec::<String>::new(),
            "{param}"
        );
        assert_eq!(
            matches(&app, &format!("/fhir/Patient?{param}:missing=false")).await,
            sorted(&[&first, &second]),
            "{param}"
        );
    }
}

// search.html#composite: "modifiers are not used on composite parameters".
#[tokio::test]
async fn missing_on_a_composite_parameter_is_rejected() {
    let app = TestApp::start().await;
    rejects(
        &app,
        "/fhir/Observation?code-value-quantity:missing=true",
        "code-value-quantity:missing",
    )
    .await;
}

// search.html#token: `:text` searches "either CodeableConcept.text, Coding.display, or
// Identifier.type.text".
#[tokio::test]
async fn token_text_finds_a_concept_text_beside_a_coding_display() {
    let app = TestApp::start().await;
    let fever = app
        .create(r#"{"resourceType":"Condition","subject":{"reference":"Patient/p"},"code":{"coding":[{"system":"http://snomed.info/sct","code":"386661006","display":"Fever"}],"text":"Pyrexia"}}"#)
        .await;
    for text in ["pyrexia", "fever", "pyr"] {
        assert_eq!(
            matches(&app, &format!("/fhir/Condition?code:text={text}")).await,
            sorted(&[&fever]),
            "{text}"
        );
    }
    // "A normal string search" matches from the start of a word, not inside one.
    assert!(matches(&app, "/fhir/Condition?code:text=rexia")
        .await
        .is_empty());
}

// search.html#uri: "the :above and :below modifiers only apply to URLs, and not URNS such
// as OIDs": on a URN they match it exactly.
#[tokio::test]
async fn uri_below_and_above_match_a_urn_exactly() {
    let app = TestApp::start().await;
    let oid = app
        .create(r#"{"resourceType":"ValueSet","status":"active","url":"urn:oid:1.2.3"}"#)
        .await;
    assert!(matches(&app, "/fhir/ValueSet?url:below=urn:oid:1.2")
        .await
        .is_empty());
    assert_eq!(
        matches(&app, "/fhir/ValueSet?url:below=urn:oid:1.2.3").await,
        sorted(&[&oid])
    );
}

// search.html#missing: `:missing=true` is for resources that "don't have a value"; a
// Reference holding only an identifier has one (search.html#reference, `:identifier`).
#[tokio::test]
async fn a_reference_with_only_an_identifier_is_not_missing() {
    let app = TestApp::start().await;
    let observation = |subject: &str| {
        format!(
            r#"{{"resourceType":"Observation","status":"final","code":{{"text":"x"}}{subject}}}"#
        )
    };
    let without = app.create(&observation("")).await;
    let by_identifier = app
        .create(&observation(
            r#","subject":{"identifier":{"system":"http://example.org/mrn","value":"MRN9"}}"#,
        ))
        .await;
    let by_reference = app
        .create(&observation(r#","subject":{"reference":"Patient/p"}"#))
        .await;
    assert_eq!(
        matches(&app, "/fhir/Observation?subject:missing=true").await,
        sorted(&[&without])
    );
    assert_eq!(
        matches(&app, "/fhir/Observation?subject:missing=false").await,
        sorted(&[&by_identifier, &by_reference])
    );
}

// search.html#prefix: `ap` on a date is "approximately the same", with "10% of the gap between
// now and the date" recommended: `ap1980-01-01` reaches a few years either side, `eq` not.
#[tokio::test]
async fn approximately_on_a_date_widens_by_a_tenth_of_the_time_since() {
    let app = TestApp::start().await;
    let born = |date: &str| format!(r#"{{"resourceType":"Patient","birthDate":"{date}"}}"#);
    let new_year = app.create(&born("1980-01-01")).await;
    let day_before = app.create(&born("1979-12-31")).await;
    let years_later = app.create(&born("1983-06-15")).await;
    app.create(&born("2000-01-01")).await;
    assert_eq!(
        matches(&app, "/fhir/Patient?birthdate=ap1980-01-01").await,
        sorted(&[&new_year, &day_before, &years_later])
    );
    assert_eq!(
        matches(&app, "/fhir/Patient?birthdate=eq1980-01-01").await,
        sorted(&[&new_year])
    );
}

// search.html#token: `:of-type` matches an Identifier's type and value; a token parameter
// that holds no identifiers has none to match.
#[tokio::test]
async fn of_type_on_a_parameter_without_identifiers_is_rejected() {
    let app = TestApp::start().await;
    rejects(&app, "/fhir/Patient?gender:of-type=a|b|c", "gender:of-type").await;
}
