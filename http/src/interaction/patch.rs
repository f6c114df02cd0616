//! FHIR patch interaction: PATCH [base]/[type]/[id] and conditional PATCH [base]/[type]?…,
//! with a JSON Patch or a FHIRPath Patch, written as an update of the version it was applied
//! to.
//! Spec: https://hl7.org/fhir/R4/http.html#patch, fhirpatch.html
//!
//! The patch is applied to the current version and written with `If-Match` set to that
//! version, whatever the client sent: an update that lands between the read and the write
//! makes the patch fail with 412 instead of being silently overwritten (a lost update).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use engine::patch::{apply_patch, PatchFormat};
use engine::{Category, Id, ResourceType};
use storage::model::{Precondition, WriteAction, WriteOutcome, WriteRequest, Written};
use storage::TenantKey;

use super::conditional::{exclusively, primary, too_many_matches, Condition};
use super::precondition::precondition;
use super::{id_from_path, resource_type_from_path};
use crate::body::read_json_body;
use crate::error::ApiError;
use crate::negotiation::{media_type_essence, response_format};
use crate::query::QueryParams;
use crate::respond::{base_url, written_response};
use crate::state::AppState;

/// PATCH [base]/[type]/[id].
pub(crate) async fn patch(
    State(state): State<AppState>,
    Path((type_name, id)): Path<(String, String)>,
    headers: HeaderMap,
    query: QueryParams,
    body: Body,
) -> Result<Response, ApiError> {
    let resource_type = resource_type_from_path(&type_name)?;
    let id = id_from_path(&id)?;
    let format = response_format(&headers, &query)?;
    let patch = PatchRequest::read(&state, &headers, body).await?;
    let written = patch.apply_and_write(&state, resource_type, id).await?;
    written_response(
        StatusCode::OK,
        format,
        &headers,
        state.settings().base_url.as_deref(),
        resource_type,
        written,
    )
}

/// PATCH [base]/[type]?[criteria]: patches the one match; none is 404, several 412.
pub(crate) async fn conditional_patch(
    State(state): State<AppState>,
    Path(type_name): Path<String>,
    headers: HeaderMap,
    query: QueryParams,
    body: Body,
) -> Result<Response, ApiError> {
    let resource_type = resource_type_from_path(&type_name)?;
    let format = response_format(&headers, &query)?;
    let base = base_url(state.settings().base_url.as_deref(), &headers);
    let condition = Condition::parse(resource_type, query.into_pairs(), &base)?;
    let patch = PatchRequest::read(&state, &headers, body).await?;
    let work_state = state.clone();
    let written = exclusively(&state, condition, move |condition| async move {
        let matches = condition.matches(&work_state, 1).await?;
        let id = match matches.as_slice() {
            [] => {
                return Err(ApiError::not_found(format!(
                    "No resource matches {}",
                    condition.describe()
                )))
            }
            [found] => Id::parse(&found.id)?,
            _ => return Err(too_many_matches(&condition, "a conditional patch")),
        };
        patch.apply_and_write(&work_state, resource_type, id).await
    })
    .await?;
    written_response(
        StatusCode::OK,
        format,
        &headers,
        state.settings().base_url.as_deref(),
        resource_type,
        written,
    )
}

/// How many times a patch without `If-Match` is applied before a run of lost races to other
/// writes of the same resource is answered 412: each attempt follows one write that won.
const PATCH_ATTEMPTS: usize = 16;

/// What a PATCH request asks, whichever resource it turns out to apply to.
struct PatchRequest {
    format: PatchFormat,
    body: Bytes,
    /// What the client's `If-Match` requires, if it sent one.
    expected: Option<Precondition>,
    /// The base the client reached, under which absolute references are local.
    base: String,
    checks: engine::IngestChecks,
}

impl PatchRequest {
    async fn read(
        state: &AppState,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<PatchRequest, ApiError> {
        let format = patch_format(headers)?;
        let expected = precondition(headers)?;
        let body = read_json_body(body, headers, state.settings().max_body_bytes).await?;
        Ok(PatchRequest {
            format,
            body,
            expected,
            base: base_url(state.settings().base_url.as_deref(), headers),
            checks: state.settings().ingest_checks(),
        })
    }

    /// Applies the patch to the current version of `id` and writes the result as its next
    /// version, on the condition that no other version came first.
    ///
    /// Without `If-Match` the client asked for its patch on whatever version is current, so
    /// one that lost that race to another write is applied again to the version that won
    /// (nothing the other write did is lost, as the patch is re-applied to it), up to
    /// [`PATCH_ATTEMPTS`] times. With `If-Match`, losing is the 412 the client asked for.
    async fn apply_and_write(
        &self,
        state: &AppState,
        resource_type: ResourceType,
        id: Id,
    ) -> Result<Written, ApiError> {
        let attempts = if self.expected.is_some() {
            1
        } else {
            PATCH_ATTEMPTS
        };
        let mut attempt = 1;
        loop {
            match self.apply_once(state, resource_type, id.clone()).await {
                Err(error)
                    if attempt < attempts && error.status() == StatusCode::PRECONDITION_FAILED =>
                {
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn apply_once(
        &self,
        state: &AppState,
        resource_type: ResourceType,
        id: Id,
    ) -> Result<Written, ApiError> {
        let current = primary(state)
            .read(TenantKey::DEFAULT, resource_type, &id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("{resource_type}/{id} is not known")))?;
        let Some(body) = &current.body else {
            return Err(ApiError::new(
                Category::Gone,
                format!("{resource_type}/{id} was deleted; a patch needs a current version"),
            ));
        };
        if let Some(expected) = self
            .expected
            .filter(|expected| !expected.holds(Some(current.version_id)))
        {
            return Err(ApiError::new(
                Category::PreconditionFailed,
                format!(
                    "{resource_type}/{id} is at version {}, not the expected version {expected}",
                    current.version_id
                ),
            ));
        }
        let mut resource = apply_patch(body, self.format, &self.body, self.checks)?;
        resource.localise_references(&self.base);
        let request = WriteRequest {
            id,
            action: WriteAction::Patch {
                resource,
                patched: current.version_id,
            },
        };
        match state
            .ember()
            .write(TenantKey::DEFAULT, resource_type, request)
            .await?
        {
            WriteOutcome::Updated(written) => Ok(written),
            _ => Err(ApiError::new(
                Category::Fault,
                "a patch of a live resource did not produce its next version",
            )),
        }
    }
}

/// The patch format the Content-Type names; anything else is 415.
fn patch_format(headers: &HeaderMap) -> Result<PatchFormat, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    match media_type_essence(content_type).as_str() {
        "application/json-patch+json" => Ok(PatchFormat::JsonPatch),
        // http.html#mime-type: `application/json` "SHALL be interpreted to mean the JSON
        // format", as for any other FHIR body.
        "application/fhir+json" | "application/json" => Ok(PatchFormat::FhirPathPatch),
        _ => Err(ApiError::http(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not-supported",
            format!(
                "A patch is application/json-patch+json (JSON Patch) or application/fhir+json \
                 or application/json (FHIRPath Patch, a Parameters resource); got \
                 '{content_type}'"
            ),
        )),
    }
}
