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
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
];

pub(crate) async fn capabilities(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let format = response_format(&headers, &query)?;
    // capabilitystatement.html#mode: `full` and `normative` both get the whole statement
    // (all of it is normative in R4); `terminology` asks for a TerminologyCapabilities,
    // which Ember, having no terminology service, does not have.
    match query.first("mode") {
        None | Some("full" | "normative") => {}
        Some("terminology") => {
            return Err(ApiError::http(
                StatusCode::BAD_REQUEST,
                "not-supported",
                "mode=terminology asks for a TerminologyCapabilities; this server has no terminology service",
            ))
        }
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "mode takes full, normative or terminology, not '{other}'"
            )))
        }
    }
    let base = base_url(state.settings().base_url.as_deref(), &headers);
    let statement = capability_statement(&base);
    // `_summary` and `_elements` apply as on a read (http.html#general).
    let resource_type =
        ResourceType::parse("CapabilityStatement").expect("R4 has CapabilityStatement");
    let statement = super::subset::subset_for_read(&query, resource_type, statement)?;
    json_response(StatusCode::OK, format, statement)
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
            let search_params = search_params(resource_type);
            let reverse_includes = reverse_includes(resource_type);
            // The one operation Ember runs (docs/api.md).
            let operations = if resource_type.as_str() == "Patient" {
                r#","operation":[{"name":"everything","definition":"http://hl7.org/fhir/OperationDefinition/Patient-everything"}]"#
            } else {
                ""
            };
            let _ = write!(
                json,
                r#"{{"type":"{resource_type}","interaction":[{interactions}],"versioning":"versioned-update","readHistory":true,"updateCreate":true,"conditionalCreate":true,"conditionalRead":"full-support","conditionalUpdate":true,"conditionalDelete":"multiple","searchInclude":["*"],"searchRevInclude":[{reverse_includes}],"searchParam":[{search_params}]{operations}}}"#
            );
        }
        json
    });
    let version = env!("CARGO_PKG_VERSION");
    let date = engine::Instant::from_datetime(build_date());
    let json = format!(
        r#"{{"resourceType":"CapabilityStatement","status":"active","date":"{date}","publisher":"Ember","kind":"instance","software":{{"name":"Ember","version":"{version}"}},"implementation":{{"description":"Ember FHIR R4 server","url":{url}}},"fhirVersion":"4.0.1","format":["application/fhir+json","json"],"patchFormat":["application/json-patch+json","application/fhir+json"],"rest":[{{"mode":"server","resource":[{resources}],"interaction":[{{"code":"transaction"}},{{"code":"batch"}},{{"code":"history-system"}},{{"code":"search-system"}}],"searchParam":[{common},{{"name":"_list","type":"special","documentation":"Resources in the List named (search.html#list)"}}],"compartment":[{compartments}]}}]}}"#,
        common = search_params_common(),
        compartments = engine::definitions::compartments()
            .iter()
            .map(|compartment| format!(
                r#""http://hl7.org/fhir/CompartmentDefinition/{}""#,
                compartment.code.to_lowercase()
            ))
            .collect::<Vec<_>>()
            .join(","),
        url = engine::json_string(base),
    );
    Bytes::from(json)
}

/// Whether Ember searches by `definition`: `_id` and `_lastUpdated` are columns, `_text`
/// and `_content` full-text documents, the others need an expression Ember can evaluate (see docs/search-parameters.md).
pub(crate) fn searchable(definition: &engine::definitions::SearchParameterDefinition) -> bool {
    matches!(
        definition.code.as_str(),
        "_id" | "_lastUpdated" | "_text" | "_content"
    ) || engine::fhirpath::support(definition).is_ok()
}

/// The `_revinclude` values that name resources of `resource_type`: `Source:param` for every
/// searchable reference parameter that may point to it (`Observation:subject` for Patient).
fn reverse_includes(resource_type: ResourceType) -> String {
    let mut values: Vec<String> = engine::definitions::search_parameters()
        .iter()
        .filter(|definition| {
            definition.kind == engine::definitions::SearchParamType::Reference
                && definition
                    .target
                    .iter()
                    .any(|target| target == resource_type.as_str())
                && searchable(definition)
        })
        .flat_map(|definition| {
            definition
                .base
                .iter()
                .filter(|source| ResourceType::parse(source).is_some())
                .map(|source| format!(r#""{source}:{}""#, definition.code))
        })
        .collect();
    values.sort();
    values.dedup();
    values.join(",")
}

fn search_param_json(definition: &engine::definitions::SearchParameterDefinition) -> String {
    let kind = format!("{:?}", definition.kind).to_lowercase();
    format!(
        r#"{{"name":{},"definition":{},"type":"{kind}"}}"#,
        engine::json_string(&definition.code),
        engine::json_string(&definition.url)
    )
}

fn search_params(resource_type: ResourceType) -> String {
    engine::definitions::search_parameters_for(resource_type.as_str())
        .filter(|definition| searchable(definition))
        .map(search_param_json)
        .collect::<Vec<_>>()
        .join(",")
}

/// The parameters every type has, for searches across all types.
fn search_params_common() -> String {
    engine::definitions::search_parameters()
        .iter()
        .filter(|definition| {
            definition.base.iter().any(|base| base == "Resource") && searchable(definition)
        })
        .map(search_param_json)
        .collect::<Vec<_>>()
        .join(",")
}

/// The statement's date: when this server process started, which is when its capabilities
/// became what they are.
fn build_date() -> time::OffsetDateTime {
    static STARTED: OnceLock<time::OffsetDateTime> = OnceLock::new();
    *STARTED.get_or_init(time::OffsetDateTime::now_utc)
}
