//! FHIR create interaction: POST [base]/[type], with a server-assigned id; conditional with
//! `If-None-Exist`.
//! Spec: https://hl7.org/fhir/R4/http.html#create, http.html#ccreate
// PERF: hot path; the body is parsed once here, off the writer actor.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use engine::{Category, Id, PreparedResource, ResourceType};
use storage::model::{StoredVersion, WriteAction, WriteOutcome, WriteRequest, Written};
use storage::TenantKey;

use super::conditional::{exclusively, primary, too_many_matches, Condition};
use super::{binary, resource_type_from_path};
use crate::body::read_resource;
use crate::error::ApiError;
use crate::negotiation::{check_request_content_type, response_format};
use crate::query::QueryParams;
use crate::respond::{base_url, version_response_with_location, written_response};
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
    let native = binary::is_native_body(resource_type, &headers);
    if !native {
        check_request_content_type(&headers)?;
    }
    refuse_criteria_in_url(&query)?;
    let condition = match headers.get("if-none-exist") {
        Some(header) => {
            let base = base_url(state.settings().base_url.as_deref(), &headers);
            Some(Condition::from_if_none_exist(resource_type, header, &base)?)
        }
        None => None,
    };
    let resource = if native {
        binary::read_native(body, &headers, state.settings(), None).await?
    } else {
        read_resource(body, &headers, state.settings(), resource_type).await?
    };
    let Some(condition) = condition else {
        let written = write(&state, resource_type, resource).await?;
        return written_response(
            StatusCode::CREATED,
            format,
            &headers,
            state.settings().base_url.as_deref(),
            resource_type,
            written,
        );
    };
    let work_state = state.clone();
    let found = exclusively(&state, condition, move |condition| async move {
        let store = primary(&work_state);
        match condition.matches(&work_state, 1).await?.as_slice() {
            [] => write(&work_state, resource_type, resource)
                .await
                .map(Found::Created),
            [found] => {
                let id = Id::parse(&found.id)?;
                let current = store.read(TenantKey::DEFAULT, resource_type, &id).await?;
                match current {
                    Some(StoredVersion {
                        version_id,
                        last_updated,
                        body: Some(body),
                    }) => Ok(Found::Existing(Written {
                        id,
                        version_id,
                        last_updated,
                        body: Some(body),
                    })),
                    _ => Err(ApiError::new(
                        Category::Conflict,
                        format!(
                            "{resource_type}/{id} was deleted during the conditional create; retry"
                        ),
                    )),
                }
            }
            _ => Err(too_many_matches(&condition, "a conditional create")),
        }
    })
    .await?;
    let base = state.settings().base_url.as_deref();
    match found {
        Found::Created(written) => written_response(
            StatusCode::CREATED,
            format,
            &headers,
            base,
            resource_type,
            written,
        ),
        // The spec: one match, "the server ignores the post and returns 200 OK".
        Found::Existing(written) => {
            let message = format!(
                "{resource_type}/{} already matches If-None-Exist; nothing was created",
                written.id
            );
            version_response_with_location(
                StatusCode::OK,
                &message,
                format,
                &headers,
                base,
                resource_type,
                written,
            )
        }
    }
}

/// A create's URL takes no search parameters (http.html#create: `POST [base]/[type]
/// {?_format=[mime-type]}`). Some clients put the criteria of a conditional create there
/// instead of in `If-None-Exist`; ignoring them would create a duplicate on every call, so
/// they are refused with a pointer to the header.
fn refuse_criteria_in_url(query: &QueryParams) -> Result<(), ApiError> {
    match query
        .iter()
        .find(|(name, _)| !matches!(*name, "_format" | "_pretty"))
    {
        Some((name, _)) => Err(ApiError::invalid(format!(
            "A create takes no search parameters in its URL (found '{name}'); for a conditional \
             create, send the criteria in the If-None-Exist header"
        ))),
        None => Ok(()),
    }
}

/// What a conditional create did.
enum Found {
    Created(Written),
    Existing(Written),
}

async fn write(
    state: &AppState,
    resource_type: ResourceType,
    resource: PreparedResource,
) -> Result<Written, ApiError> {
    // The spec: "If an id is provided, the server SHALL ignore it."
    let request = WriteRequest {
        id: Id::generate(),
        action: WriteAction::Create(resource),
    };
    let outcome = state
        .ember()
        .write(TenantKey::DEFAULT, resource_type, request)
        .await?;
    match outcome {
        WriteOutcome::Created(written) => Ok(written),
        _ => Err(ApiError::new(
            Category::Fault,
            "a create did not produce a first version",
        )),
    }
}
