//! Search, checked against the R4 spec section each rule comes from.
//! Spec: https://hl7.org/fhir/R4/search.html

mod canonical;
mod chain_pages;
mod combinations;
mod everything;
mod full_text;
mod includes;
mod last_updated;
mod limits;
mod modifiers;
mod near;
mod parameters;
mod periods;
mod references;
mod requests;
mod results;
mod sorting;
mod sorting_by_several;

use axum::http::StatusCode;
use sonic_rs::{JsonValueTrait, Value};

use crate::support::{entries, link, TestApp};

/// Writes `entries` (Bundle entries as JSON) in one transaction, asserting it succeeds.
pub(crate) async fn transaction(app: &TestApp, entries: &[String]) {
    let bundle = format!(
        r#"{{"resourceType":"Bundle","type":"transaction","entry":[{}]}}"#,
        entries.join(",")
    );
    assert_eq!(app.post("/fhir", &bundle).await.status, 200);
}

/// GET `uri`, asserting a searchset Bundle; returns it.
pub(crate) async fn searchset(app: &TestApp, uri: &str) -> Value {
    let reply = app.get(uri).await;
    assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text());
    let bundle = reply.json();
    assert_eq!(bundle["type"].as_str(), Some("searchset"), "{uri}");
    bundle
}

/// The ids of the `match` entries of `uri`'s searchset, sorted unless `ordered`.
pub(crate) async fn matches(app: &TestApp, uri: &str) -> Vec<String> {
    let bundle = searchset(app, uri).await;
    let mut ids: Vec<String> = entries(&bundle)
        .iter()
        .filter(|entry| entry["search"]["mode"].as_str() == Some("match"))
        .map(|entry| {
            entry["resource"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    ids.sort();
    ids
}

/// Asserts `uri` is a 400 whose OperationOutcome names `parameter`.
pub(crate) async fn rejects(app: &TestApp, uri: &str, parameter: &str) {
    let reply = app.get(uri).await;
    let issue = reply.outcome(StatusCode::BAD_REQUEST);
    assert_eq!(
        issue["expression"][0].as_str(),
        Some(parameter),
        "{uri}: {}",
        reply.text()
    );
}

/// `ids` sorted, for comparing with [`matches`].
pub(crate) fn sorted(ids: &[&String]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|id| (*id).clone()).collect();
    ids.sort();
    ids
}

/// Creates an Observation of `patient` on `date`; returns its id.
pub(crate) async fn observation(app: &TestApp, patient: &str, date: &str) -> String {
    app.create(&format!(
        r#"{{"resourceType":"Observation","status":"final","code":{{"text":"x"}},"subject":{{"reference":"Patient/{patient}"}},"effectiveDateTime":"{date}"}}"#
    ))
    .await
}

pub(crate) fn ids_of(bundle: &Value, mode: &str) -> Vec<String> {
    entries(bundle)
        .iter()
        .filter(|entry| entry["search"]["mode"].as_str() == Some(mode))
        .map(|entry| {
            entry["resource"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

/// The match ids of each page from `first` on, following `next` links, after checking that
/// the last page's `previous` link leads back to the page before it.
pub(crate) async fn pages_there_and_back(app: &TestApp, first: &str) -> Vec<Vec<String>> {
    let (pages, last) = pages_from(app, first).await;
    if let [.., before_last, _] = pages.as_slice() {
        let last_page = searchset(app, &last).await;
        let back = link(&last_page, "previous").expect("a page after the first links back");
        let previous = searchset(app, &back).await;
        assert_eq!(
            &ids_of(&previous, "match"),
            before_last,
            "{first}: back from the last page"
        );
    }
    pages
}

/// The match ids of each page from `first` on, following `next` links, and the last page's
/// URL.
pub(crate) async fn pages_from(app: &TestApp, first: &str) -> (Vec<Vec<String>>, String) {
    let mut pages = Vec::new();
    let mut uri = first.to_owned();
    loop {
        let bundle = searchset(app, &uri).await;
        pages.push(ids_of(&bundle, "match"));
        match link(&bundle, "next") {
            Some(next) => uri = next,
            None => return (pages, uri),
        }
    }
}
