//! The limits that keep one search from exhausting the server: each is a 400 naming what
//! was too much, and the server goes on serving.
//! Spec: https://hl7.org/fhir/R4/search.html#errors ("If the search fails … a status code
//! 4xx or 5xx with an OperationOutcome")

use axum::http::StatusCode;

use super::searchset;
use crate::support::TestApp;

/// POSTs `form` to `/fhir/{type}/_search`, asserting a 400 OperationOutcome.
async fn refused(app: &TestApp, resource_type: &str, form: String) {
    app.post_form(&format!("/fhir/{resource_type}/_search"), form)
        .await
        .outcome(StatusCode::BAD_REQUEST);
}

// A query of 5,000 nested parentheses overflowed the parser's stack and ended the process.
#[tokio::test]
async fn deeply_nested_or_very_long_full_text_queries_are_refused() {
    let app = TestApp::start().await;
    let nested = format!("_text={}a{}", "(".repeat(5000), ")".repeat(5000));
    refused(&app, "Condition", nested).await;
    let words: Vec<String> = (0..20_000).map(|index| format!("w{index}")).collect();
    refused(&app, "Condition", format!("_text={}", words.join("+"))).await;
    searchset(&app, "/fhir/Condition?_text=(a%20or%20b)").await;
}

#[tokio::test]
async fn too_many_criteria_or_too_deep_chains_are_refused() {
    let app = TestApp::start().await;
    let repeated: Vec<&str> = vec!["name=a"; 65];
    refused(&app, "Patient", repeated.join("&")).await;
    let sixty_four: Vec<&str> = vec!["name=a"; 64];
    searchset(&app, &format!("/fhir/Patient?{}", sixty_four.join("&"))).await;
    let chain = format!("{}name=acme", "partof.".repeat(17));
    refused(&app, "Organization", chain).await;
    let has = format!("{}name=acme", "_has:Organization:partof:".repeat(17));
    refused(&app, "Organization", has).await;
}
