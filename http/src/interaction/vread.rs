//! FHIR vread interaction: GET [base]/[type]/[id]/_history/[vid].
//! Spec: https://hl7.org/fhir/R4/http.html#vread

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use engine::{Category, VersionId};
use storage::TenantKey;

use super::{id_from_path, resource_type_from_path};
use crate::error::ApiError;
use crate::negotiation::response_format;
use crate::query::QueryParams;
use crate::respond::version_response;
use crate::state::AppState;

pub(crate) async fn vread(
    State(state): State<AppState>,
    Path((type_name, id, version)): Path<(String, String, String)>,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let resource_type = resource_type_from_path(&type_name)?;
    let id = id_from_path(&id)?;
    let format = response_format(&headers, &query)?;
    // Ember's versions are integers: any other version id names a version that does not exist.
    let not_found =
        || ApiError::not_found(format!("{resource_type}/{id} has no version '{version}'"));
    let version_id = VersionId::parse(&version).map_err(|_| not_found())?;
    let stored = state
        .ember()
        .routing()
        .for_reads()
        .read_version(TenantKey::DEFAULT, resource_type, &id, version_id)
        .await?
        .ok_or_else(not_found)?;
    let Some(body) = stored.body.clone() else {
        return Err(ApiError::new(
            Category::Gone,
            format!("version {version_id} of {resource_type}/{id} is its deletion"),
        ));
    };
    // Conditional read (http.html#cread) of a version: a client that holds it asks again.
    if let Some(response) = super::read::not_modified(&headers, &stored) {
        return Ok(response);
    }
    let body = super::subset::subset_for_read(&query, resource_type, body)?;
    version_response(format, body, stored.version_id, stored.last_updated)
}
