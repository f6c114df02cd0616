//! FHIR create interaction: POST [base]/[type], with a server-assigned id.
//! Spec: https://hl7.org/fhir/R4/http.html#create
// PERF: hot path; the body is parsed once here, off the writer actor.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use engine::{Category, Id};
use storage::model::{WriteAction, WriteOutcome, WriteRequest};
use storage::TenantKey;

use super::resource_type_from_path;
use crate::body::read_resource;
use crate::error::ApiError;
use crate::negotiation::{check_request_content_type, response_format};
use crate::query::QueryParams;
use crate::respond::written_response;
use crate::state::AppState;

pub(crate) async fn create(
    State(state): State<AppState>,
    Path(type_name): Path<String>,
    headers: HeaderMap,
    query: QueryParams,
    body: Body,
) -> Result<Response, ApiError> {
    let resource_type = resource_type_from_path(&type_name)?;
    let format = response_format(&headers, &query)?;
    check_request_content_type(&headers)?;
    if headers.contains_key("if-none-exist") {
        // Ignoring the header would create a duplicate the client explicitly asked to avoid.
        return Err(ApiError::new(
            Category::NotSupported,
            "Conditional create (If-None-Exist) is not supported yet",
        ));
    }
    let resource = read_resource(
        body,
        &headers,
        state.settings().max_body_bytes,
        resource_type,
    )
    .await?;
    // The spec: "If an id is provided, the server SHALL ignore it."
    let request = WriteRequest {
        id: Id::generate(),
        action: WriteAction::Create(resource),
    };
    let outcome = state
        .ember()
        .write(TenantKey::DEFAULT, resource_type, request)
        .await?;
    let WriteOutcome::Created(written) = outcome else {
        return Err(ApiError::new(
            Category::Fault,
            "a create did not produce a first version",
        ));
    };
    written_response(
        StatusCode::CREATED,
        format,
        &headers,
        state.settings().base_url.as_deref(),
        resource_type,
        written,
    )
}
