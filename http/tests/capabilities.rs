//! The CapabilityStatement: FHIR 4.0.1, every R4 resource type with exactly the interactions
//! Ember implements, nothing it does not, and every claim backed by a working endpoint.
//! Spec: https://hl7.org/fhir/R4/http.html#capabilities, capabilitystatement.html

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value};

use crate::support::{assert_fhir_json, Reply, TestApp};

const TYPE_INTERACTIONS: [&str; 9] = [
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
];

/// GET [base]/metadata, asserting a CapabilityStatement, and returns its one `rest` entry.
async fn check(app: &TestApp) -> Value {
    let reply = app.get("/fhir/metadata").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_fhir_json(&reply);
    let statement = reply.json();
    assert_eq!(
        statement["resourceType"].as_str(),
        Some("CapabilityStatement")
    );
    assert_eq!(statement["fhirVersion"].as_str(), Some("4.0.1"));
    assert_eq!(statement["kind"].as_str(), Some("instance"));
    assert_eq!(statement["rest"].as_array().map(|rest| rest.len()), Some(1));
    assert_eq!(statement["rest"][0]["mode"].as_str(), Some("server"));
    statement["rest"][0].clone()
}

fn codes(interactions: &Value) -> Vec<String> {
    interactions
        .as_array()
        .expect("an interaction list")
        .iter()
        .map(|interaction| interaction["code"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn metadata_lists_every_r4_resource_type_with_the_implemented_interactions() {
    let app = TestApp::start().await;

    let rest = check(&app).await;

    let resources = rest["resource"].as_array().expect("resources");
    assert_eq!(resources.len(), 146);
    let types: BTreeSet<String> = resources
        .iter()
        .map(|resource| resource["type"].as_str().unwrap().to_owned())
        .collect();
    let r4: BTreeSet<String> = engine::ResourceType::all().map(|t| t.to_string()).collect();
    assert_eq!(types, r4);
    for name in ["Patient", "Observation", "Bundle", "Binary", "Parameters"] {
        assert!(types.contains(name), "{name}");
    }
    for resource in resources.iter() {
        assert_eq!(
            codes(&resource["interaction"]),
            TYPE_INTERACTIONS,
            "{resource:?}"
        );
        assert!(
            resource["searchParam"]
                .as_array()
                .is_some_and(|params| !params.is_empty()),
            "no search parameters claimed: {resource:?}"
        );
        assert_eq!(resource["versioning"].as_str(), Some("versioned-update"));
        assert_eq!(resource["updateCreate"].as_bool(), Some(true));
    }
    assert_eq!(
        codes(&rest["interaction"]),
        ["transaction", "batch", "history-system", "search-system"]
    );
}

// capabilitystatement.html: rest.resource.operation lists the operations a type supports;
// Ember runs one, Patient/[id]/$everything, and claims no other.
#[tokio::test]
async fn metadata_claims_patient_everything_and_no_other_operation() {
    let app = TestApp::start().await;

    let rest = check(&app).await;

    let mut claimed = Vec::new();
    for resource in rest["resource"].as_array().expect("resources").iter() {
        for operation in resource["operation"].as_array().into_iter().flatten() {
            claimed.push(format!(
                "{}/{}",
                resource["type"].as_str().unwrap_or_default(),
                operation["definition"].as_str().unwrap_or_default()
            ));
        }
    }
    assert_eq!(
        claimed,
        ["Patient/http://hl7.org/fhir/OperationDefinition/Patient-everything"]
    );
    assert!(rest.get("operation").is_none(), "no system-level operation");
}

// capabilitystatement.html: patchFormat lists "the patch formats supported by the server".
#[tokio::test]
async fn metadata_lists_both_patch_formats() {
    let app = TestApp::start().await;

    let reply = app.get("/fhir/metadata").await;

    let formats: Vec<String> = reply.json()["patchFormat"]
        .as_array()
        .expect("patchFormat")
        .iter()
        .map(|format| format.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        formats,
        ["application/json-patch+json", "application/fhir+json"]
    );
}

// capabilitystatement.html: conditionalCreate, conditionalUpdate and conditionalDelete say
// what the server does with If-None-Exist and with criteria on PUT and DELETE.
#[tokio::test]
async fn metadata_claims_conditional_create_update_and_multiple_delete() {
    let app = TestApp::start().await;

    let rest = check(&app).await;

    for resource in rest["resource"].as_array().unwrap().iter() {
        assert_eq!(resource["conditionalCreate"].as_bool(), Some(true));
        assert_eq!(resource["conditionalUpdate"].as_bool(), Some(true));
        assert_eq!(resource["conditionalDelete"].as_str(), Some("multiple"));
    }
}

/// Performs `interaction` on a Patient (`id` exists at version 1).
async fn perform(app: &TestApp, interaction: &str, id: &str) -> Reply {
    let patient = format!(r#"{{"resourceType":"Patient","id":"{id}"}}"#);
    match interaction {
        "read" => app.get(&format!("/fhir/Patient/{id}")).await,
        "vread" => app.get(&format!("/fhir/Patient/{id}/_history/1")).await,
        "update" => app.put(&format!("/fhir/Patient/{id}"), &patient).await,
        "patch" => {
            app.request(Method::PATCH, &format!("/fhir/Patient/{id}"))
                .header("content-type", "application/json-patch+json")
                .body(r#"[{"op":"add","path":"/active","value":true}]"#)
                .send()
                .await
        }
        "delete" => app.delete(&format!("/fhir/Patient/{id}")).await,
        "history-instance" => app.get(&format!("/fhir/Patient/{id}/_history")).await,
        "history-type" => app.get("/fhir/Patient/_history").await,
        "create" => {
            app.post("/fhir/Patient", r#"{"resourceType":"Patient"}"#)
                .await
        }
        "history-system" => app.get("/fhir/_history").await,
        "search-type" => app.get(&format!("/fhir/Patient?_id={id}")).await,
        "search-system" => app.get(&format!("/fhir?_id={id}")).await,
        "batch" | "transaction" => {
            let bundle = format!(
                r#"{{"resourceType":"Bundle","type":"{interaction}","entry":[{{"request":{{"method":"GET","url":"Patient/{id}"}}}}]}}"#
            );
            app.post("/fhir", &bundle).await
        }
        other => panic!("the statement claims '{other}', which this test cannot exercise"),
    }
}

// capabilitystatement.html: searchParam lists what the server searches by; Ember claims
// the parameters it indexes, near (a distance search) among them, and not _query.
#[tokio::test]
async fn metadata_claims_the_search_parameters_ember_indexes() {
    let app = TestApp::start().await;
    let rest = check(&app).await;
    let patient = rest["resource"]
        .as_array()
        .unwrap()
        .iter()
        .find(|resource| resource["type"].as_str() == Some("Patient"))
        .unwrap()
        .clone();
    let names: Vec<&str> = patient["searchParam"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|param| param["name"].as_str())
        .collect();
    for claimed in [
        "name",
        "birthdate",
        "identifier",
        "_id",
        "_lastUpdated",
        "_tag",
    ] {
        assert!(
            names.contains(&claimed),
            "{claimed} is not claimed: {names:?}"
        );
    }
    let location = rest["resource"]
        .as_array()
        .unwrap()
        .iter()
        .find(|resource| resource["type"].as_str() == Some("Location"))
        .unwrap()
        .clone();
    let near = location["searchParam"]
        .as_array()
        .unwrap()
        .iter()
        .find(|param| param["name"].as_str() == Some("near"))
        .expect("Location claims near");
    assert_eq!(near["type"].as_str(), Some("special"));
    assert!(!sonic_rs::to_string(&rest).unwrap().contains(r#""_query""#));
}

#[tokio::test]
async fn every_claimed_interaction_answers() {
    let app = TestApp::start().await;
    let rest = check(&app).await;
    let patient = rest["resource"]
        .as_array()
        .unwrap()
        .iter()
        .find(|resource| resource["type"].as_str() == Some("Patient"))
        .cloned()
        .expect("Patient is listed");
    let mut claimed = codes(&patient["interaction"]);
    claimed.extend(codes(&rest["interaction"]));

    for interaction in claimed {
        // Each on its own resource, so a delete does not turn a later read into a 410.
        let id = app.create(r#"{"resourceType":"Patient"}"#).await;
        let reply = perform(&app, &interaction, &id).await;
        assert!(
            reply.status.is_success(),
            "{interaction} answered {}: {}",
            reply.status,
            reply.text()
        );
        assert_ne!(reply.status, StatusCode::NOT_IMPLEMENTED);
    }
    let batch = app
        .request(Method::POST, "/fhir")
        .json(r#"{"resourceType":"Bundle","type":"batch"}"#)
        .send()
        .await;
    assert_eq!(
        batch.status,
        StatusCode::OK,
        "batch is claimed: {}",
        batch.text()
    );
}

/// The values `resource` claims under `list` (`searchInclude`, `searchRevInclude`).
fn claimed_values(resource: &Value, list: &str) -> Vec<String> {
    resource[list]
        .as_array()
        .unwrap_or_else(|| panic!("{} has no {list}", resource["type"]))
        .iter()
        .map(|value| value.as_str().unwrap().to_owned())
        .collect()
}

// capabilitystatement.html: searchRevInclude is "a list of _revinclude (reverse include)
// values supported by the server"; each claimed one is accepted, even under strict handling.
#[tokio::test]
async fn every_claimed_reverse_include_is_accepted() {
    let app = TestApp::start().await;
    let rest = check(&app).await;
    let resources = rest["resource"].as_array().unwrap();
    let mut tried = 0;
    for resource in resources.iter() {
        let resource_type = resource["type"].as_str().unwrap();
        let values = claimed_values(resource, "searchRevInclude");
        if resource_type == "Patient" {
            assert!(
                values.contains(&"Observation:subject".to_owned()),
                "{values:?}"
            );
        }
        // A sample across the types: every value would be thousands of searches.
        for value in values.iter().step_by(23) {
            let reply = app
                .request(
                    Method::GET,
                    &format!("/fhir/{resource_type}?_revinclude={value}"),
                )
                .header("prefer", "handling=strict")
                .send()
                .await;
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "{resource_type}?_revinclude={value}: {}",
                reply.text()
            );
            tried += 1;
        }
    }
    assert!(tried > 100, "only {tried} reverse includes tried");
}

// search.html#text, #content, #list: the full-text parameters and `_list` are searched, so
// they are declared (`_text` on every DomainResource type, the others for all types).
#[tokio::test]
async fn metadata_declares_the_full_text_parameters_and_list() {
    let app = TestApp::start().await;
    let rest = check(&app).await;
    let names = |params: &Value| -> Vec<String> {
        params
            .as_array()
            .unwrap()
            .iter()
            .map(|param| param["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let common = names(&rest["searchParam"]);
    assert!(common.contains(&"_content".to_owned()), "{common:?}");
    assert!(common.contains(&"_list".to_owned()), "{common:?}");
    let patient = rest["resource"]
        .as_array()
        .unwrap()
        .iter()
        .find(|resource| resource["type"].as_str() == Some("Patient"))
        .unwrap();
    assert!(names(&patient["searchParam"]).contains(&"_text".to_owned()));
}

// capabilitystatement.html: `mode=full|normative|terminology`; http.html#general: `_summary`
// and `_elements` apply to any interaction returning a resource, the statement included.
#[tokio::test]
async fn metadata_takes_mode_summary_and_elements() {
    let app = TestApp::start().await;
    for mode in ["full", "normative"] {
        let reply = app.get(&format!("/fhir/metadata?mode={mode}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{mode}");
        assert_eq!(
            reply.json()["resourceType"].as_str(),
            Some("CapabilityStatement")
        );
    }
    let issue = app
        .get("/fhir/metadata?mode=terminology")
        .await
        .outcome(StatusCode::BAD_REQUEST);
    assert_eq!(issue["code"].as_str(), Some("not-supported"));
    app.get("/fhir/metadata?mode=everything")
        .await
        .outcome(StatusCode::BAD_REQUEST);

    let whole = check(&app).await;
    let summary = app.get("/fhir/metadata?_summary=true").await.json();
    assert_eq!(summary["fhirVersion"].as_str(), Some("4.0.1"));
    assert!(summary["rest"][0]["resource"].is_array());
    // isSummary is false for a resource's search parameters and interactions' docs.
    assert!(summary["rest"][0]["resource"][0]["searchParam"].is_null());
    assert!(whole["resource"][0]["searchParam"].is_array());
    let elements = app.get("/fhir/metadata?_elements=fhirVersion").await.json();
    assert_eq!(elements["fhirVersion"].as_str(), Some("4.0.1"));
    assert!(elements["rest"].is_null());
    assert_eq!(
        elements["meta"]["tag"][0]["code"].as_str(),
        Some("SUBSETTED")
    );
}
