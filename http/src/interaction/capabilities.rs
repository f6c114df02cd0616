//! FHIR capabilities interaction: GET [base]/metadata, a CapabilityStatement generated from
//! what Ember supports, and nothing it does not.
//! Spec: https://hl7.org/fhir/R4/http.html#capabilities, capabilitystatement.html

use std::fmt::Write as _;
use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use engine::ResourceType;

use crate::error::ApiError;
use crate::negotiation::response_format;
use crate::query::QueryParams;
use crate::respond::{base_url, json_response};
use crate::state::AppState;

/// The type-level interactions every resource type supports. Keep this in step with the
/// router in `app.rs`: a test checks that each claimed interaction answers.
pub(crate) const TYPE_INTERACTIONS: &[&str] = &[
    "read",
    "vread",
    "update",
    "delete",
    "history-instance",
    "history-type",
    "create",
];

pub(crate) async fn capabilities(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let format = response_format(&headers, &query)?;
    let base = base_url(state.settings().base_url.as_deref(), &headers);
    json_response(StatusCode::OK, format, capability_statement(&base))
}

fn capability_statement(base: &str) -> Bytes {
    // The resource list is the same for every request; only the base URL differs.
    static RESOURCES: OnceLock<String> = OnceLock::new();
    let resources = RESOURCES.get_or_init(|| {
        let interactions: Vec<String> = TYPE_INTERACTIONS.iter().map(|code| format!(r#"{{"code":"{code}"}}"#)).collect();
        let interactions = interactions.join(",");
        let mut json = String::new();
        for (index, resource_type) in ResourceType::all().enumerate() {
            if index > 0 {
                json.push(',');
            }
            let _ = write!(
                json,
                r#"{{"type":"{resource_type}","interaction":[{interactions}],"versioning":"versioned-update","readHistory":true,"updateCreate":true,"conditionalCreate":false,"conditionalRead":"full-support","conditionalUpdate":false,"conditionalDelete":"not-supported"}}"#
            );
        }
        json
    });
    let version = env!("CARGO_PKG_VERSION");
    let date = engine::Instant::from_datetime(build_date());
    let json = format!(
        r#"{{"resourceType":"CapabilityStatement","status":"active","date":"{date}","publisher":"Ember","kind":"instance","software":{{"name":"Ember","version":"{version}"}},"implementation":{{"description":"Ember FHIR R4 server","url":{url}}},"fhirVersion":"4.0.1","format":["application/fhir+json","json"],"rest":[{{"mode":"server","resource":[{resources}],"interaction":[{{"code":"history-system"}}]}}]}}"#,
        url = engine::json_string(base),
    );
    Bytes::from(json)
}

/// The statement's date: when this server process started, which is when its capabilities
/// became what they are.
fn build_date() -> time::OffsetDateTime {
    static STARTED: OnceLock<time::OffsetDateTime> = OnceLock::new();
    *STARTED.get_or_init(time::OffsetDateTime::now_utc)
}
