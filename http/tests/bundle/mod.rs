//! Batch and transaction Bundles, POST [base].
//! Spec: https://hl7.org/fhir/R4/http.html#transaction, bundle.html#transaction

mod batch;
mod transaction;
mod transaction_fixtures;
mod transaction_references;

use sonic_rs::{JsonValueTrait, Value};

use crate::support::{entries, Reply, TestApp};

/// A Bundle of `kind` ("batch" or "transaction") holding `entries`.
pub(crate) fn bundle(kind: &str, entries: &[String]) -> String {
    format!(
        r#"{{"resourceType":"Bundle","type":"{kind}","entry":[{}]}}"#,
        entries.join(",")
    )
}

/// An entry with a resource: `method url`, identified in the Bundle by `full_url`.
pub(crate) fn write_entry(full_url: &str, method: &str, url: &str, resource: &str) -> String {
    format!(
        r#"{{"fullUrl":"{full_url}","resource":{resource},"request":{{"method":"{method}","url":"{url}"}}}}"#
    )
}

/// An entry without a resource (GET, HEAD, DELETE).
pub(crate) fn bare_entry(method: &str, url: &str) -> String {
    format!(r#"{{"request":{{"method":"{method}","url":"{url}"}}}}"#)
}

/// POSTs `body` to the base and returns the reply.
pub(crate) async fn post_bundle(app: &TestApp, body: &str) -> Reply {
    app.post("/fhir", body).await
}

/// The `response.status` of every entry of a batch-response or transaction-response.
pub(crate) fn statuses(reply: &Reply) -> Vec<String> {
    entries(&reply.json())
        .iter()
        .map(|entry| {
            entry["response"]["status"]
                .as_str()
                .expect("every entry has a response status")
                .to_owned()
        })
        .collect()
}

/// The diagnostics of an OperationOutcome issue.
pub(crate) fn diagnostics(issue: &Value) -> &str {
    issue["diagnostics"]
        .as_str()
        .expect("an issue has diagnostics")
}

/// The id in an entry response's `location` (`…/Type/id/_history/n`).
pub(crate) fn located_id(entry: &Value) -> String {
    let location = entry["response"]["location"].as_str().expect("a location");
    let without_version = location.split("/_history/").next().unwrap_or(location);
    without_version
        .rsplit('/')
        .next()
        .expect("an id")
        .to_owned()
}
