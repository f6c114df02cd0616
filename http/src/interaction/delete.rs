//! FHIR delete interaction: DELETE [base]/[type]/[id]. The deletion is a new version, so
//! history keeps it and a later read answers 410 Gone.
//! Spec: https://hl7.org/fhir/R4/http.html#delete

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use storage::model::{WriteAction, WriteOutcome, WriteRequest};
use storage::TenantKey;

use super::{id_from_path, resource_type_from_path};
use crate::error::ApiError;
use crate::negotiation::response_format;
use crate::query::QueryParams;
use crate::respond::{optional_json_response, version_headers, write_body, PreferReturn};
use crate::state::AppState;

pub(crate) async fn delete(
    State(state): State<AppState>,
    Path((type_name, id)): Path<(String, String)>,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let resource_type = resource_type_from_path(&type_name)?;
    let id = id_from_path(&id)?;
    let format = response_format(&headers, &query)?;
    let request = WriteRequest {
        id: id.clone(),
        action: WriteAction::Delete,
    };
    let outcome = state
        .ember()
        .write(TenantKey::DEFAULT, resource_type, request)
        .await?;
    // Deleting what does not exist, or is deleted already, succeeds as well (http.html#delete).
    let (message, version) = match &outcome {
        WriteOutcome::Deleted(written) => (
            format!(
                "Deleted {resource_type}/{id} (version {})",
                written.version_id
            ),
            Some(written),
        ),
        _ => (
            format!("{resource_type}/{id} does not exist or was already deleted; nothing to do"),
            None,
        ),
    };
    let preference = PreferReturn::from_headers(&headers);
    let body = match preference {
        PreferReturn::OperationOutcome => write_body(preference, None, &message),
        _ => None,
    };
    let status = if body.is_some() {
        StatusCode::OK
    } else {
        StatusCode::NO_CONTENT
    };
    let mut response = optional_json_response(status, format, body)?;
    if let Some(written) = version {
        version_headers(
            response.headers_mut(),
            written.version_id,
            written.last_updated,
        );
    }
    Ok(response)
}
