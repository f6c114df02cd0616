//! History at instance, type and system level: newest first, entry contents, `_since`, `_at`,
//! `_list`, `_count` and next links that stay stable while new versions are written.
//! Spec: https://hl7.org/fhir/R4/http.html#history, bundle.html

use std::collections::HashSet;

use axum::http::StatusCode;
use sonic_rs::{JsonValueTrait, Value};

use crate::support::{entries, link, TestApp, BASE};

/// GET `uri`, asserting a history Bundle, and returns the Bundle.
async fn check(app: &TestApp, uri: &str) -> Value {
    let reply = app.get(uri).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let bundle = reply.json();
    assert_eq!(bundle["resourceType"].as_str(), Some("Bundle"));
    assert_eq!(bundle["type"].as_str(), Some("history"));
    bundle
}

/// A Patient at version 3: created, then updated twice.
async fn patient_with_three_versions(app: &TestApp) -> String {
    let id = app
        .create(r#"{"resourceType":"Patient","gender":"female"}"#)
        .await;
    for gender in ["male", "other"] {
        let reply = app
            .put(
                &format!("/fhir/Patient/{id}"),
                &format!(r#"{{"resourceType":"Patient","id":"{id}","gender":"{gender}"}}"#),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    }
    id
}

fn version_of(entry: &Value) -> String {
    entry["response"]["etag"]
        .as_str()
        .expect("an etag")
        .to_owned()
}

#[tokio::test]
async fn instance_history_lists_every_version_newest_first() {
    let app = TestApp::start().await;
    let id = patient_with_three_versions(&app).await;

    let bundle = check(&app, &format!("/fhir/Patient/{id}/_history")).await;

    let versions: Vec<String> = entries(&bundle).iter().map(version_of).collect();
    assert_eq!(versions, [r#"W/"3""#, r#"W/"2""#, r#"W/"1""#]);
    let genders: Vec<String> = entries(&bundle)
        .iter()
        .map(|entry| entry["resource"]["gender"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(genders, ["other", "male", "female"]);
    assert!(link(&bundle, "self").is_some());
    assert!(link(&bundle, "next").is_none());
}

#[tokio::test]
async fn history_entries_carry_full_url_request_and_response() {
    let app = TestApp::start().await;
    let id = patient_with_three_versions(&app).await;

    let bundle = check(&app, &format!("/fhir/Patient/{id}/_history")).await;

    let entries = entries(&bundle);
    for (entry, (method, url, status, version)) in entries.iter().zip([
        ("PUT", format!("Patient/{id}"), "200", "3"),
        ("PUT", format!("Patient/{id}"), "200", "2"),
        ("POST", "Patient".to_owned(), "201", "1"),
    ]) {
        assert_eq!(
            entry["fullUrl"].as_str(),
            Some(format!("{BASE}/Patient/{id}").as_str())
        );
        assert_eq!(entry["request"]["method"].as_str(), Some(method));
        assert_eq!(entry["request"]["url"].as_str(), Some(url.as_str()));
        assert_eq!(entry["response"]["status"].as_str(), Some(status));
        assert_eq!(
            entry["response"]["etag"].as_str(),
            Some(format!(r#"W/"{version}""#).as_str())
        );
        assert_eq!(
            entry["response"]["lastModified"].as_str(),
            entry["resource"]["meta"]["lastUpdated"].as_str()
        );
        assert_eq!(
            entry["resource"]["meta"]["versionId"].as_str(),
            Some(version)
        );
    }
}

// bundle.html#history: `request.method` is the interaction that made the version; R4's
// HTTPVerb has PATCH, for versions made by JSON Patch or FHIRPath Patch.
#[tokio::test]
async fn a_patched_version_shows_patch_in_history() {
    let app = TestApp::start().await;
    let id = app
        .create(r#"{"resourceType":"Patient","active":true}"#)
        .await;
    let reply = app
        .request(axum::http::Method::PATCH, &format!("/fhir/Patient/{id}"))
        .header("content-type", "application/json-patch+json")
        .body(r#"[{"op":"replace","path":"/active","value":false}]"#)
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    let bundle = check(&app, &format!("/fhir/Patient/{id}/_history")).await;

    let versions = entries(&bundle);
    let methods: Vec<&str> = versions
        .iter()
        .map(|entry| entry["request"]["method"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(methods, ["PATCH", "POST"]);
    let patched = &versions[0];
    assert_eq!(
        patched["request"]["url"].as_str(),
        Some(format!("Patient/{id}").as_str())
    );
    assert_eq!(patched["response"]["status"].as_str(), Some("200"));
}

#[tokio::test]
async fn type_history_includes_every_resource_of_the_type_only() {
    let app = TestApp::start().await;
    let first = app.create(r#"{"resourceType":"Patient"}"#).await;
    let second = app.create(r#"{"resourceType":"Patient"}"#).await;
    app.create(r#"{"resourceType":"Observation","status":"final","code":{"text":"x"}}"#)
        .await;

    let bundle = check(&app, "/fhir/Patient/_history").await;

    let urls: Vec<String> = entries(&bundle)
        .iter()
        .map(|entry| entry["fullUrl"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        urls,
        [
            format!("{BASE}/Patient/{second}"),
            format!("{BASE}/Patient/{first}")
        ]
    );
}

#[tokio::test]
async fn system_history_includes_every_type() {
    let app = TestApp::start().await;
    let patient = app.create(r#"{"resourceType":"Patient"}"#).await;
    let observation = app
        .create(r#"{"resourceType":"Observation","status":"final","code":{"text":"x"}}"#)
        .await;

    let bundle = check(&app, "/fhir/_history").await;

    let urls: Vec<String> = entries(&bundle)
        .iter()
        .map(|entry| entry["fullUrl"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        urls,
        [
            format!("{BASE}/Observation/{observation}"),
            format!("{BASE}/Patient/{patient}")
        ]
    );
}

#[tokio::test]
async fn count_limits_the_page_and_gives_a_next_link() {
    let app = TestApp::start().await;
    patient_with_three_versions(&app).await;

    let bundle = check(&app, "/fhir/Patient/_history?_count=2").await;

    assert_eq!(entries(&bundle).len(), 2);
    let next = link(&bundle, "next").expect("a next link");
    assert!(next.contains("_count=2"), "{next}");
}

#[tokio::test]
async fn next_links_return_every_version_once_while_new_versions_are_written() {
    let app = TestApp::start().await;
    patient_with_three_versions(&app).await;
    app.create(r#"{"resourceType":"Patient"}"#).await;
    app.create(r#"{"resourceType":"Patient"}"#).await;

    let mut page = check(&app, "/fhir/Patient/_history?_count=2").await;
    // Written after the walk started: newer than everything in it.
    let newcomer = app.create(r#"{"resourceType":"Patient"}"#).await;
    let mut seen = Vec::new();
    let mut pages = 1;
    loop {
        for entry in entries(&page) {
            seen.push((
                entry["fullUrl"].as_str().unwrap().to_owned(),
                version_of(&entry),
            ));
        }
        let Some(next) = link(&page, "next") else {
            break;
        };
        pages += 1;
        assert!(pages <= 10, "the next links never end");
        page = check(&app, &next).await;
    }

    assert_eq!(seen.len(), 5, "{seen:?}");
    let distinct: HashSet<_> = seen.iter().collect();
    assert_eq!(distinct.len(), 5, "a version was returned twice: {seen:?}");
    let newcomer_url = format!("{BASE}/Patient/{newcomer}");
    assert!(seen.iter().all(|(url, _)| *url != newcomer_url));
    let fresh = check(&app, "/fhir/Patient/_history?_count=2").await;
    assert_eq!(
        entries(&fresh)[0]["fullUrl"].as_str(),
        Some(newcomer_url.as_str())
    );
}

#[tokio::test]
async fn since_leaves_out_older_versions() {
    let app = TestApp::start().await;
    let id = patient_with_three_versions(&app).await;
    let second = app
        .get(&format!("/fhir/Patient/{id}/_history/2"))
        .await
        .json();
    let since = second["meta"]["lastUpdated"].as_str().unwrap().to_owned();

    let bundle = check(&app, &format!("/fhir/Patient/{id}/_history?_since={since}")).await;

    let versions: Vec<String> = entries(&bundle).iter().map(version_of).collect();
    assert_eq!(versions, [r#"W/"3""#, r#"W/"2""#]);
}

#[tokio::test]
async fn malformed_since_is_400() {
    let app = TestApp::start().await;
    for since in [
        "yesterday",
        "2026-01-31",
        "2026-01-31T12:00:00",
        "2026-01-31t12:00:00Z",
        "0000-01-01T00:00:00Z",
    ] {
        app.get(&format!("/fhir/_history?_since={since}"))
            .await
            .outcome(StatusCode::BAD_REQUEST);
    }
    app.get("/fhir/_history?_since=2026-01-01T00:00:00Z&_since=2026-02-01T00:00:00Z")
        .await
        .outcome(StatusCode::BAD_REQUEST);
}

/// The `meta.lastUpdated` of each version of Patient `id`, oldest first.
async fn version_times(app: &TestApp, id: &str, versions: u32) -> Vec<String> {
    let mut times = Vec::new();
    for version in 1..=versions {
        let body = app
            .get(&format!("/fhir/Patient/{id}/_history/{version}"))
            .await
            .json();
        times.push(body["meta"]["lastUpdated"].as_str().unwrap().to_owned());
    }
    times
}

// http.html#history: "_at: Only include resource versions that were current at some point
// during the time period specified in the date time value" (a date's precision is its period).
#[tokio::test]
async fn at_lists_the_versions_current_during_the_period() {
    let app = TestApp::start().await;
    let id = patient_with_three_versions(&app).await;
    let times = version_times(&app, &id, 3).await;
    let versions_at = |at: String| {
        let app = &app;
        let id = &id;
        async move {
            let bundle = check(app, &format!("/fhir/Patient/{id}/_history?_at={at}")).await;
            entries(&bundle).iter().map(version_of).collect::<Vec<_>>()
        }
    };
    let (first, second) = (&times[0], &times[1]);
    // At the instant version 2 was written it replaced version 1.
    assert_eq!(versions_at(first.clone()).await, [r#"W/"1""#]);
    assert_eq!(versions_at(second.clone()).await, [r#"W/"2""#]);
    assert_eq!(
        versions_at(format!("ge{second}")).await,
        [r#"W/"3""#, r#"W/"2""#]
    );
    assert_eq!(versions_at(format!("lt{second}")).await, [r#"W/"1""#]);
    assert_eq!(versions_at(format!("le{first}")).await, [r#"W/"1""#]);
    // The year they were all written in, and one before any of them.
    assert_eq!(
        versions_at(first[..4].to_owned()).await,
        [r#"W/"3""#, r#"W/"2""#, r#"W/"1""#]
    );
    assert!(versions_at("1999".to_owned()).await.is_empty());

    // Type level: every version of the first Patient was current before a second was
    // created, which was not.
    let later = app.create(r#"{"resourceType":"Patient"}"#).await;
    let later_time = version_times(&app, &later, 1).await.remove(0);
    let bundle = check(&app, &format!("/fhir/Patient/_history?_at=lt{later_time}")).await;
    assert!(entries(&bundle)
        .iter()
        .all(|entry| !entry["fullUrl"].as_str().unwrap().ends_with(&later)));
    assert_eq!(entries(&bundle).len(), 3);
}

#[tokio::test]
async fn malformed_at_is_400() {
    let app = TestApp::start().await;
    for at in ["yesterday", "xx2026", "2026-13", "2026-01-01T25:00:00Z"] {
        app.get(&format!("/fhir/_history?_at={at}"))
            .await
            .outcome(StatusCode::BAD_REQUEST);
    }
    app.get("/fhir/_history?_at=2026&_at=2025")
        .await
        .outcome(StatusCode::BAD_REQUEST);
}

// http.html#history: "_list: Only include resource versions that are referenced in the
// specified list".
#[tokio::test]
async fn list_keeps_the_versions_of_the_resources_a_list_holds() {
    let app = TestApp::start().await;
    let listed = patient_with_three_versions(&app).await;
    let unlisted = app.create(r#"{"resourceType":"Patient"}"#).await;
    let list = app
        .create(&format!(
            r#"{{"resourceType":"List","status":"current","mode":"working","entry":[{{"item":{{"reference":"Patient/{listed}"}}}}]}}"#
        ))
        .await;
    for uri in [
        format!("/fhir/Patient/_history?_list={list}"),
        format!("/fhir/_history?_list={list}"),
        format!("/fhir/_history?_list=no-such-list,{list}"),
    ] {
        let bundle = check(&app, &uri).await;
        let urls: Vec<String> = entries(&bundle)
            .iter()
            .map(|entry| entry["fullUrl"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(urls.len(), 3, "{uri}: {urls:?}");
        assert!(urls.iter().all(|url| url.ends_with(&listed)), "{uri}");
        assert!(!urls.iter().any(|url| url.ends_with(&unlisted)));
    }
    let bundle = check(&app, "/fhir/_history?_list=no-such-list").await;
    assert!(entries(&bundle).is_empty());
    // A deleted List holds nothing.
    app.delete(&format!("/fhir/List/{list}")).await;
    let bundle = check(&app, &format!("/fhir/_history?_list={list}")).await;
    assert!(entries(&bundle).is_empty());
}

// The functional lists (`$current-problems`) are not kept; an empty history would look like
// an answer.
#[tokio::test]
async fn functional_and_malformed_lists_are_400() {
    let app = TestApp::start().await;
    let issue = app
        .get("/fhir/_history?_list=$current-problems")
        .await
        .outcome(StatusCode::BAD_REQUEST);
    assert_eq!(issue["code"].as_str(), Some("not-supported"));
    app.get("/fhir/_history?_list=not%20an%20id")
        .await
        .outcome(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn malformed_count_is_400() {
    let app = TestApp::start().await;
    for count in ["many", "-1", "1.5"] {
        app.get(&format!("/fhir/Patient/_history?_count={count}"))
            .await
            .outcome(StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn history_of_unknown_instance_is_404() {
    let app = TestApp::start().await;
    let issue = app
        .get("/fhir/Patient/nobody/_history")
        .await
        .outcome(StatusCode::NOT_FOUND);
    assert_eq!(issue["code"].as_str(), Some("not-found"));
}

#[tokio::test]
async fn history_of_unknown_type_is_404() {
    let app = TestApp::start().await;
    app.get("/fhir/Foo/_history")
        .await
        .outcome(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn empty_history_is_an_empty_bundle() {
    let app = TestApp::start().await;

    let bundle = check(&app, "/fhir/_history").await;

    assert!(entries(&bundle).is_empty());
    assert!(link(&bundle, "next").is_none());
}
