//! FHIR update interaction: PUT [base]/[type]/[id], version-aware with If-Match, and
//! update-as-create for an id that does not exist yet.
//! Spec: https://hl7.org/fhir/R4/http.html#update, http.html#concurrency

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use engine::VersionId;
use storage::model::{WriteAction, WriteOutcome, WriteRequest};
use storage::TenantKey;

use super::{id_from_path, resource_type_from_path};
use crate::body::read_resource;
use crate::error::ApiError;
use crate::negotiation::{check_request_content_type, response_format};
use crate::query::QueryParams;
use crate::respond::written_response;
use crate::state::AppState;

pub(crate) async fn update(
    State(state): State<AppState>,
    Path((type_name, id)): Path<(String, String)>,
    headers: HeaderMap,
    query: QueryParams,
    body: Body,
) -> Result<Response, ApiError> {
    let resource_type = resource_type_from_path(&type_name)?;
    let id = id_from_path(&id)?;
    let format = response_format(&headers, &query)?;
    check_request_content_type(&headers)?;
    let if_match = match headers.get(header::IF_MATCH) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| ApiError::invalid("If-Match is not a valid header value"))
                .and_then(|text| VersionId::parse_etag(text).map_err(ApiError::from))?,
        ),
    };
    let resource = read_resource(
        body,
        &headers,
        state.settings().max_body_bytes,
        resource_type,
    )
    .await?;
    match resource.claimed_id() {
        None => {
            return Err(ApiError::invalid(format!(
                "The resource must carry the id of the URL ('{id}') in its 'id' element"
            )))
        }
        Some(claimed) if claimed != id.as_str() => {
            return Err(ApiError::invalid(format!(
                "The resource's id '{claimed}' does not match the id in the URL ('{id}')"
            )))
        }
        Some(_) => {}
    }
    let request = WriteRequest {
        id,
        action: WriteAction::Update { resource, if_match },
    };
    let outcome = state
        .ember()
        .write(TenantKey::DEFAULT, resource_type, request)
        .await?;
    let (status, written) = match outcome {
        WriteOutcome::Created(written) => (StatusCode::CREATED, written),
        WriteOutcome::Updated(written) => (StatusCode::OK, written),
        WriteOutcome::Deleted(_) | WriteOutcome::NothingToDelete => {
            return Err(ApiError::new(
                engine::Category::Fault,
                "an update produced a deletion",
            ))
        }
    };
    written_response(
        status,
        format,
        &headers,
        state.settings().base_url.as_deref(),
        resource_type,
        written,
    )
}
