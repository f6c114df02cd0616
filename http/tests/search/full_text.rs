//! `_text` and `_content`: PostgreSQL full text over the narrative and over every string of
//! the resource, with `and`, `or`, parentheses, phrases and exclusions.
//! Spec: https://hl7.org/fhir/R4/search.html#text, #content

use super::{matches, rejects, sorted};
use crate::support::TestApp;

// search.html#text and #content: full text over the narrative and over the whole resource
#[tokio::test]
async fn text_searches_the_narrative_and_content_the_whole_resource() {
    let app = TestApp::start().await;
    let noted = app
        .create(r#"{"resourceType":"Condition","subject":{"reference":"Patient/p"},"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Severe <b>bronchitis</b> after travel</div>"},"code":{"text":"Acute bronchitis"},"note":[{"text":"Patient travelled to Zürich"}]}"#)
        .await;
    let other = app
        .create(r#"{"resourceType":"Condition","subject":{"reference":"Patient/p"},"code":{"text":"Asthma"}}"#)
        .await;
    assert_eq!(
        matches(&app, "/fhir/Condition?_text=bronchitis").await,
        sorted(&[&noted])
    );
    assert_eq!(
        matches(&app, "/fhir/Condition?_text=asthma").await,
        Vec::<String>::new()
    );
    assert_eq!(
        matches(&app, "/fhir/Condition?_content=zurich").await,
        sorted(&[&noted])
    );
    assert_eq!(
        matches(&app, "/fhir/Condition?_content=asthma").await,
        sorted(&[&other])
    );
    assert_eq!(
        matches(&app, "/fhir/Condition?_content=asthma%20or%20zurich").await,
        sorted(&[&noted, &other])
    );
    assert_eq!(
        matches(&app, "/fhir/Condition?_content=%22acute%20bronchitis%22").await,
        sorted(&[&noted])
    );
}

// search.html#text: "GET [base]/Condition?_text=(bone OR liver) and metastases", the spec's
// own example: `and` binds as words side by side do, parentheses group, `or` alternates.
#[tokio::test]
async fn text_combines_words_with_and_or_and_parentheses() {
    let app = TestApp::start().await;
    let narrative = |words: &str| {
        format!(
            r#"{{"resourceType":"Condition","subject":{{"reference":"Patient/p"}},"text":{{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">{words}</div>"}}}}"#
        )
    };
    let liver = app.create(&narrative("Liver metastases noted")).await;
    let bone = app.create(&narrative("Bone metastases")).await;
    let liver_only = app.create(&narrative("Liver cirrhosis")).await;
    let lung = app.create(&narrative("Lung metastases")).await;
    assert_eq!(
        matches(
            &app,
            "/fhir/Condition?_text=(bone%20OR%20liver)%20and%20metastases"
        )
        .await,
        sorted(&[&liver, &bone])
    );
    assert_eq!(
        matches(&app, "/fhir/Condition?_text=liver%20AND%20metastases").await,
        sorted(&[&liver])
    );
    assert_eq!(
        matches(&app, "/fhir/Condition?_text=liver%20or%20lung%20metastases").await,
        sorted(&[&liver, &liver_only, &lung])
    );
    for unbalanced in ["(liver", "liver%20and", "or%20liver"] {
        rejects(
            &app,
            &format!("/fhir/Condition?_text={unbalanced}"),
            "_text",
        )
        .await;
    }
}
