//! FHIR delete interaction: DELETE [base]/[type]/[id], and conditional delete,
//! DELETE [base]/[type]?[criteria]. A deletion is a new version, so history keeps it and a
//! later read answers 410 Gone.
//! Spec: https://hl7.org/fhir/R4/http.html#delete, http.html#cdelete

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use engine::{Category, Id, ResourceType};
use storage::model::{Precondition, WriteAction, WriteOutcome, WriteRequest, Written};
use storage::{TenantKey, Transaction};

use super::conditional::{exclusively, primary, Condition};
use super::{id_from_path, resource_type_from_path};
use crate::error::ApiError;
use crate::negotiation::{response_format, ResponseFormat};
use crate::query::QueryParams;
use crate::respond::{base_url, optional_json_response, version_headers, write_body, PreferReturn};
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
    let precondition = super::precondition::precondition(&headers)?;
    let request = WriteRequest {
        id: id.clone(),
        action: WriteAction::Delete { precondition },
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
    deletion_response(format, &headers, &message, version)
}

/// The most resources one conditional delete removes (`conditionalDelete: multiple`). More
/// matches are refused with 412 and nothing is deleted, so that criteria broader than meant
/// cannot empty a type, nor hold more rows locked than one small write statement does.
pub(crate) const MAX_CONDITIONAL_DELETES: usize = 100;

/// DELETE [base]/[type]?[criteria]: deletes every match, up to [`MAX_CONDITIONAL_DELETES`].
pub(crate) async fn conditional_delete(
    State(state): State<AppState>,
    Path(type_name): Path<String>,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let resource_type = resource_type_from_path(&type_name)?;
    let format = response_format(&headers, &query)?;
    let base = base_url(state.settings().base_url.as_deref(), &headers);
    let condition = Condition::parse(resource_type, query.into_pairs(), &base)?;
    let precondition = super::precondition::precondition(&headers)?;
    let work_state = state.clone();
    let deleted = exclusively(&state, condition, move |condition| async move {
        delete_every_match(&work_state, &condition, precondition).await
    })
    .await?;
    let message = format!(
        "Deleted {} {resource_type} resource(s) matching the criteria",
        deleted.len()
    );
    let version = match deleted.as_slice() {
        [written] => Some(written),
        _ => None,
    };
    deletion_response(format, &headers, &message, version)
}

/// Deletes every match of `condition` in one database transaction: all of them or, when
/// anything fails (too many matches, a match for which `precondition` does not hold, a
/// database error), none. Sent through the type's
/// writer one by one, the deletions could commit in separate batches, and a failure in one
/// left the others deleted.
async fn delete_every_match(
    state: &AppState,
    condition: &Condition,
    precondition: Option<Precondition>,
) -> Result<Vec<Written>, ApiError> {
    let mut transaction = primary(state)
        .begin_transaction(TenantKey::DEFAULT, state.settings().search_time_limit())
        .await?;
    // An error returns with the transaction dropped, which rolls it back and closes its
    // connection: after a search past its time limit a late cancel could otherwise reach
    // the next user of the connection (`storage::Transaction::search`).
    let ids = conditional_delete_targets(&transaction, condition).await?;
    let resource_type = condition.resource_type();
    let targets: Vec<(ResourceType, Id)> = ids.into_iter().map(|id| (resource_type, id)).collect();
    transaction.lock(&targets).await?;
    let deletions = targets
        .into_iter()
        .map(|(resource_type, id)| {
            let action = WriteAction::Delete { precondition };
            (resource_type, WriteRequest { id, action })
        })
        .collect();
    let mut deleted = Vec::new();
    for outcome in transaction.write(deletions).await? {
        if let WriteOutcome::Deleted(written) = outcome? {
            deleted.push(written);
        }
    }
    transaction.commit().await?;
    Ok(deleted)
}

/// The ids a conditional delete of `condition` removes, searched inside `transaction`: every
/// match, or 412 when there are more than [`MAX_CONDITIONAL_DELETES`]. Shared by the
/// interaction and by transaction Bundle entries.
pub(crate) async fn conditional_delete_targets(
    transaction: &Transaction,
    condition: &Condition,
) -> Result<Vec<Id>, ApiError> {
    let matches = condition
        .matches_in(transaction, MAX_CONDITIONAL_DELETES)
        .await?;
    if matches.len() > MAX_CONDITIONAL_DELETES {
        return Err(ApiError::new(
            Category::PreconditionFailed,
            format!(
                "The criteria {} match more than {MAX_CONDITIONAL_DELETES} resources; nothing was deleted",
                condition.describe()
            ),
        ));
    }
    matches
        .iter()
        .map(|found| Ok(Id::parse(&found.id)?))
        .collect()
}

/// 204, or 200 with an OperationOutcome saying `message` when `Prefer` asks for one; with
/// the deletion version's ETag when exactly one resource was deleted.
fn deletion_response(
    format: ResponseFormat,
    headers: &HeaderMap,
    message: &str,
    version: Option<&Written>,
) -> Result<Response, ApiError> {
    let preference = PreferReturn::from_headers(headers);
    let body = match preference {
        PreferReturn::OperationOutcome => write_body(preference, None, message),
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
