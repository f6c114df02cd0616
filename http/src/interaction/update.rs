//! FHIR update interaction: PUT [base]/[type]/[id], version-aware with If-Match, and
//! update-as-create for an id that does not exist yet; and conditional update,
//! PUT [base]/[type]?[criteria].
//! Spec: https://hl7.org/fhir/R4/http.html#update, http.html#concurrency,
//! http.html#cond-update

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use engine::{Category, Id, ResourceType};
use storage::model::{Precondition, WriteAction, WriteOutcome, WriteRequest, Written};
use storage::TenantKey;

use super::conditional::{exclusively, primary, too_many_matches, Condition};
use super::precondition::precondition;
use super::{id_from_path, resource_type_from_path};
use crate::body::read_resource;
use crate::error::ApiError;
use crate::negotiation::{check_request_content_type, response_format};
use crate::query::QueryParams;
use crate::respond::{base_url, written_response};
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
    let native = super::binary::is_native_body(resource_type, &headers);
    if !native {
        check_request_content_type(&headers)?;
    }
    let precondition = precondition(&headers)?;
    let resource = if native {
        super::binary::read_native(body, &headers, state.settings(), Some(&id)).await?
    } else {
        read_resource(body, &headers, state.settings(), resource_type).await?
    };
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
        action: WriteAction::Update {
            resource,
            precondition,
        },
    };
    let (status, written) = write(&state, resource_type, request).await?;
    written_response(
        status,
        format,
        &headers,
        state.settings().base_url.as_deref(),
        resource_type,
        written,
    )
}

/// PUT [base]/[type]?[criteria]: updates the one match, creates when nothing matches, and
/// refuses (412) when several do.
pub(crate) async fn conditional_update(
    State(state): State<AppState>,
    Path(type_name): Path<String>,
    headers: HeaderMap,
    query: QueryParams,
    body: Body,
) -> Result<Response, ApiError> {
    let resource_type = resource_type_from_path(&type_name)?;
    let format = response_format(&headers, &query)?;
    check_request_content_type(&headers)?;
    let base = base_url(state.settings().base_url.as_deref(), &headers);
    let condition = Condition::parse(resource_type, query.into_pairs(), &base)?;
    let expected = precondition(&headers)?;
    let resource = read_resource(body, &headers, state.settings(), resource_type).await?;
    let work_state = state.clone();
    let (status, written) = exclusively(&state, condition, move |condition| async move {
        let store = primary(&work_state);
        let matches = condition.matches(&work_state, 1).await?;
        let claimed = resource.claimed_id().map(str::to_owned);
        let request = match (matches.as_slice(), claimed) {
            ([], None) => WriteRequest {
                id: Id::generate(),
                action: WriteAction::Create(resource),
            },
            // The spec: with no match and an id, "the server treats the interaction as an
            // Update as Create interaction". An id in use by a resource the criteria did not
            // match is refused: updating it would change a resource the client did not pick.
            ([], Some(claimed)) => {
                let id = Id::parse(&claimed)?;
                let existing = store.read(TenantKey::DEFAULT, resource_type, &id).await?;
                if existing.is_some_and(|version| version.body.is_some()) {
                    return Err(ApiError::new(
                        Category::Conflict,
                        format!(
                            "Nothing matches {}, but {resource_type}/{id} exists; the body's id must be unused or match",
                            condition.describe()
                        ),
                    ));
                }
                WriteRequest {
                    id,
                    action: WriteAction::Update {
                        resource,
                        precondition: None,
                    },
                }
            }
            ([found], claimed) => {
                if claimed.as_deref().is_some_and(|claimed| claimed != found.id) {
                    return Err(ApiError::invalid(format!(
                        "The resource's id does not match the resource the criteria found ({resource_type}/{})",
                        found.id
                    )));
                }
                let id = Id::parse(&found.id)?;
                let current = store
                    .read(TenantKey::DEFAULT, resource_type, &id)
                    .await?
                    .ok_or_else(|| ApiError::new(Category::Conflict, format!("{resource_type}/{id} vanished during the update")))?;
                if expected.is_some_and(|expected| !expected.holds(Some(current.version_id))) {
                    return Err(ApiError::new(
                        Category::PreconditionFailed,
                        format!("{resource_type}/{id} is at version {}, not the one If-Match names", current.version_id),
                    ));
                }
                // Pinned to the version found, so a concurrent update is a 412, not lost.
                WriteRequest {
                    id,
                    action: WriteAction::Update {
                        resource,
                        precondition: Some(Precondition::Version(current.version_id)),
                    },
                }
            }
            _ => return Err(too_many_matches(&condition, "a conditional update")),
        };
        write(&work_state, resource_type, request).await
    })
    .await?;
    written_response(
        status,
        format,
        &headers,
        state.settings().base_url.as_deref(),
        resource_type,
        written,
    )
}

/// Sends an update or create through the type's writer; 201 for a first version, else 200.
async fn write(
    state: &AppState,
    resource_type: ResourceType,
    request: WriteRequest,
) -> Result<(StatusCode, Written), ApiError> {
    let outcome = state
        .ember()
        .write(TenantKey::DEFAULT, resource_type, request)
        .await?;
    match outcome {
        WriteOutcome::Created(written) => Ok((StatusCode::CREATED, written)),
        WriteOutcome::Updated(written) => Ok((StatusCode::OK, written)),
        WriteOutcome::Deleted(_) | WriteOutcome::NothingToDelete => Err(ApiError::new(
            Category::Fault,
            "an update produced a deletion",
        )),
    }
}
