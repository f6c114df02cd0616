//! How a search request is read: values refused with a 400 that names the parameter, a query
//! that cannot be decoded, unknown parameters reported or refused, parameters in a POST form.
//! Spec: https://hl7.org/fhir/R4/search.html#errors, http.html#search

use axum::http::StatusCode;
use sonic_rs::JsonValueTrait;

use super::parameters::patient;
use super::{rejects, searchset};
use crate::support::{entries, TestApp};

// search.html#errors: bad values are 400 naming the parameter
#[tokio::test]
async fn invalid_values_are_400_naming_the_parameter() {
    let app = TestApp::start().await;
    rejects(&app, "/fhir/Patient?birthdate=not-a-date", "birthdate").await;
    rejects(&app, "/fhir/Patient?birthdate=xx2020", "birthdate").await;
    rejects(
        &app,
        "/fhir/Observation?value-quantity=heavy",
        "value-quantity",
    )
    .await;
    rejects(&app, "/fhir/Patient?birthdate.name=x", "birthdate.name").await;
    rejects(&app, "/fhir/Patient?name:fuzzy=x", "name:fuzzy").await;
    rejects(&app, "/fhir/Patient?_count=-1", "_count").await;
    rejects(&app, "/fhir/Patient?active:missing=maybe", "active:missing").await;
    // search.html#escaping: "the parameter value `xx\xx` is illegal".
    rejects(&app, r"/fhir/Patient?family=a\b", "family").await;
    // A lone combining accent folds to nothing, which would match every name.
    rejects(&app, "/fhir/Patient?name=%CC%81", "name").await;
}

// RFC 3986 §2.1: a percent sign begins two hex digits, and FHIR's strings are UTF-8. A lenient
// decoder would search `%zz` as three literal characters and bad bytes as U+FFFD.
#[tokio::test]
async fn malformed_percent_escapes_are_400_rather_than_searched_as_something_else() {
    let app = TestApp::start().await;
    patient(&app, "Kim", "A", "1980-01-01", "female").await;
    for uri in [
        "/fhir/Patient?family=%zz",
        "/fhir/Patient?family=kim%",
        "/fhir/Patient?family=%FF%FE",
        "/fhir/Patient?fam%ily=kim",
    ] {
        let reply = app.get(uri).await;
        let issue = reply.outcome(StatusCode::BAD_REQUEST);
        assert!(
            issue["diagnostics"].as_str().unwrap().contains("query"),
            "{uri}: {}",
            reply.text()
        );
    }
    let form = app.post_form("/fhir/Patient/_search", "family=%zz").await;
    form.outcome(StatusCode::BAD_REQUEST);
    // A conditional create with such criteria writes nothing.
    let before = app.versions_written().await;
    app.request(axum::http::Method::POST, "/fhir/Patient")
        .header("if-none-exist", "family=%zz")
        .json(r#"{"resourceType":"Patient"}"#)
        .send()
        .await
        .outcome(StatusCode::BAD_REQUEST);
    assert_eq!(app.versions_written().await, before);
    // Well-formed escapes still decode.
    let bundle = searchset(&app, "/fhir/Patient?family=%4Bim").await;
    assert_eq!(entries(&bundle).len(), 1);
}

// search.html#errors: unknown parameters are ignored and reported, or 400 when strict
#[tokio::test]
async fn unknown_parameters_are_reported_and_strict_handling_rejects_them() {
    let app = TestApp::start().await;
    let id = patient(&app, "Kim", "A", "1980-01-01", "female").await;
    let bundle = searchset(&app, "/fhir/Patient?shoe-size=42&family=kim").await;
    let all = entries(&bundle);
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["resource"]["id"].as_str(), Some(id.as_str()));
    assert_eq!(all[1]["search"]["mode"].as_str(), Some("outcome"));
    assert_eq!(
        all[1]["resource"]["issue"][0]["severity"].as_str(),
        Some("warning")
    );
    let self_link = bundle["link"][0]["url"].as_str().unwrap().to_owned();
    assert!(self_link.ends_with("/Patient?family=kim"), "{self_link}");

    let strict = app
        .request(axum::http::Method::GET, "/fhir/Patient?shoe-size=42")
        .header("prefer", "handling=strict")
        .send()
        .await;
    let issue = strict.outcome(StatusCode::BAD_REQUEST);
    assert_eq!(issue["expression"][0].as_str(), Some("shoe-size"));

    // An unknown parameter at the end of a chain or inside `_has` is as unknown.
    for unknown in [
        "general-practitioner:Practitioner.shoe-size=42",
        "_has:Observation:subject:shoe-size=42",
    ] {
        let bundle = searchset(&app, &format!("/fhir/Patient?{unknown}&family=kim")).await;
        assert_eq!(entries(&bundle).len(), 2, "{unknown}");
        let strict = app
            .request(axum::http::Method::GET, &format!("/fhir/Patient?{unknown}"))
            .header("prefer", "handling=strict")
            .send()
            .await;
        strict.outcome(StatusCode::BAD_REQUEST);
    }
}

// http.html#search: POST [type]/_search with a form body
#[tokio::test]
async fn post_search_takes_a_form_body() {
    let app = TestApp::start().await;
    let id = patient(&app, "Okafor", "A", "1980-01-01", "female").await;
    let reply = app
        .post_form("/fhir/Patient/_search", "family=okafor")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let bundle = reply.json();
    assert_eq!(
        entries(&bundle)[0]["resource"]["id"].as_str(),
        Some(id.as_str())
    );
    assert!(bundle["link"][0]["url"]
        .as_str()
        .unwrap()
        .ends_with("/Patient?family=okafor"));
    // Parameters in another media type are not read: 415, as for any body.
    app.request(axum::http::Method::POST, "/fhir/Patient/_search")
        .header("content-type", "application/fhir+json")
        .body(r#"{"resourceType":"Parameters"}"#)
        .send()
        .await
        .outcome(StatusCode::UNSUPPORTED_MEDIA_TYPE);
}
