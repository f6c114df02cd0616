//! FHIR read interaction: GET [base]/[type]/[id], with conditional read and HEAD.
//! Spec: https://hl7.org/fhir/R4/http.html#read, http.html#cread
// PERF: hot path; the stored bytes are sent as they are. See docs/benchmarks.md.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use engine::{Category, VersionId};
use storage::model::StoredVersion;
use storage::TenantKey;

use super::{id_from_path, resource_type_from_path};
use crate::error::ApiError;
use crate::negotiation::response_format;
use crate::query::QueryParams;
use crate::respond::{version_headers, version_response};
use crate::state::AppState;

pub(crate) async fn read(
    State(state): State<AppState>,
    Path((type_name, id)): Path<(String, String)>,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let resource_type = resource_type_from_path(&type_name)?;
    let id = id_from_path(&id)?;
    // A Binary may be asked for as its own content (binary.html#rest), known only once read.
    let format = match response_format(&headers, &query) {
        Err(refusal) if resource_type.as_str() != "Binary" => return Err(refusal),
        negotiated => negotiated,
    };
    let stored = state
        .ember()
        .routing()
        .for_reads()
        .read(TenantKey::DEFAULT, resource_type, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("{resource_type}/{id} is not known")))?;
    let Some(body) = stored.body.clone() else {
        return Err(ApiError::new(
            Category::Gone,
            format!(
                "{resource_type}/{id} was deleted (version {})",
                stored.version_id
            ),
        ));
    };
    if let Some(response) = not_modified(&headers, &stored) {
        return Ok(response);
    }
    let format = match format {
        Ok(format) => format,
        Err(refusal) => {
            return super::binary::native_read(&headers, &query, &stored, &body).ok_or(refusal)
        }
    };
    let body = super::subset::subset_for_read(&query, resource_type, body)?;
    version_response(format, body, stored.version_id, stored.last_updated)
}

/// The 304 of a conditional read (http.html#cread) of `stored`, when its headers ask for one.
pub(super) fn not_modified(headers: &HeaderMap, stored: &StoredVersion) -> Option<Response> {
    is_not_modified(headers, stored).then(|| {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        version_headers(
            response.headers_mut(),
            stored.version_id,
            stored.last_updated,
        );
        response
    })
}

/// Conditional read: `If-None-Match` naming the version read, or `If-Modified-Since` not
/// before its change, answers 304. `If-None-Match` wins when both are sent (RFC 9110).
fn is_not_modified(headers: &HeaderMap, stored: &StoredVersion) -> bool {
    if let Some(tags) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
    {
        return tags.split(',').any(|tag| {
            tag.trim() == "*"
                || VersionId::parse_etag(tag).is_ok_and(|version| version == stored.version_id)
        });
    }
    if let Some(since) = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| httpdate::parse_http_date(value).ok())
    {
        let since_seconds = since
            .duration_since(std::time::SystemTime::UNIX_EPOCH)
            .map_or(0, |duration| duration.as_secs() as i64);
        return stored.last_updated.unix_seconds() <= since_seconds;
    }
    false
}
