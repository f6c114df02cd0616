//! Reading a request body under the configured size limit, with a FHIR error when it is
//! too large, before any of it is parsed.

use axum::body::Body;
use axum::http::{header, HeaderMap};
use bytes::Bytes;
use engine::{Category, PreparedResource, ResourceType};
use storage::model::WriteAction;

use crate::config::Settings;
use crate::error::ApiError;
use crate::respond::base_url;

/// Reads the whole body into one buffer, refusing more than `limit` bytes with 413.
///
/// A declared Content-Length over the limit is refused before reading anything; a chunked
/// body is counted as it arrives and refused as soon as it passes the limit.
///
/// # Errors
/// 413 for an oversized body; 400 when the body cannot be read (client disconnected).
pub(crate) async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large(limit));
    }
    axum::body::to_bytes(body, limit).await.map_err(|error| {
        let is_limit = std::error::Error::source(&error)
            .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
        if is_limit {
            too_large(limit)
        } else {
            ApiError::invalid(format!("The request body could not be read: {error}"))
        }
    })
}

/// Reads a JSON body (a resource, a Bundle, a patch) as [`read_body`] does, without a leading
/// UTF-8 byte order mark: RFC 8259 section 8.1 lets a parser ignore one, and editors on
/// Windows write one. Not for a Binary's own content, whose bytes are the content.
pub(crate) async fn read_json_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<Bytes, ApiError> {
    const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";
    let bytes = read_body(body, headers, limit).await?;
    Ok(if bytes.starts_with(BYTE_ORDER_MARK) {
        bytes.slice(BYTE_ORDER_MARK.len()..)
    } else {
        bytes
    })
}

/// Reads and parses a resource body for `resource_type`: the common first step of create and
/// update.
///
/// # Errors
/// 413 for an oversized body; 400 when the body is not a valid resource or is of another type
/// than the URL names.
pub(crate) async fn read_resource(
    body: Body,
    headers: &HeaderMap,
    settings: &Settings,
    resource_type: ResourceType,
) -> Result<PreparedResource, ApiError> {
    let bytes = read_json_body(body, headers, settings.max_body_bytes).await?;
    let mut resource = engine::prepare_resource_checked(&bytes, settings.ingest_checks())?;
    if resource.resource_type() != resource_type {
        return Err(ApiError::invalid(format!(
            "The body is a {} but the URL is for {resource_type}",
            resource.resource_type()
        )));
    }
    resource.localise_references(&base_url(settings.base_url.as_deref(), headers));
    Ok(resource)
}

/// Makes the absolute references under `base` local ones in what `action` indexes: every
/// write's resource goes through this (or [`read_resource`]) before it is written.
pub(crate) fn localise_references(action: &mut WriteAction, base: &str) {
    match action {
        WriteAction::Create(resource)
        | WriteAction::Update { resource, .. }
        | WriteAction::Patch { resource, .. } => resource.localise_references(base),
        WriteAction::Delete { .. } => {}
    }
}

#[cold]
fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        Category::TooLarge,
        format!("The request body is larger than this server accepts ({limit} bytes; see max_body_bytes)"),
    )
}
