//! Binary resources read and written as their own content: a read whose `Accept` names no
//! FHIR format answers with the bytes in the Binary's content type, and a create or update
//! sent in another media type stores its bytes as a Binary.
//! Spec: https://hl7.org/fhir/R4/binary.html#rest

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use engine::{Id, PreparedResource, ResourceType};
use storage::model::StoredVersion;

use crate::body::read_body;
use crate::config::Settings;
use crate::error::ApiError;
use crate::negotiation::media_type_essence;
use crate::query::QueryParams;
use crate::respond::version_headers;

/// Media types that name FHIR formats: a body in one is a resource, not a Binary's content.
const FHIR_MEDIA_TYPES: [&str; 5] = [
    "application/fhir+json",
    "application/json",
    "application/fhir+xml",
    "application/xml",
    "application/xml+fhir",
];

/// Whether a write of `resource_type` carries the content itself, in its own media type.
pub(crate) fn is_native_body(resource_type: ResourceType, headers: &HeaderMap) -> bool {
    resource_type.as_str() == "Binary"
        && content_type(headers).is_some_and(|content_type| {
            !FHIR_MEDIA_TYPES.contains(&media_type_essence(content_type).as_str())
        })
}

/// The Binary a body in its own media type becomes (with `id` for an update), checked and
/// indexed as any resource body.
pub(crate) async fn read_native(
    body: Body,
    headers: &HeaderMap,
    settings: &Settings,
    id: Option<&Id>,
) -> Result<PreparedResource, ApiError> {
    let content_type = content_type(headers).unwrap_or("application/octet-stream");
    // Binary.contentType is "MimeType of the binary content" (a BCP 13 media type), given
    // back as the Content-Type of every native read: `garbage` would be stored and served.
    let media_type = content_type.trim().parse::<mime::Mime>().ok();
    // The parser accepts `text/` with an empty subtype.
    if !media_type.is_some_and(|media_type| {
        !media_type.type_().as_str().is_empty() && !media_type.subtype().as_str().is_empty()
    }) {
        return Err(ApiError::invalid(format!(
            "Content-Type '{}' is not a media type (type/subtype, RFC 9110 section 8.3.1)",
            content_type.trim()
        )));
    }
    let bytes = read_body(body, headers, settings.max_body_bytes).await?;
    let json = engine::binary_json(content_type.trim(), &bytes, id.map(Id::as_str));
    Ok(engine::prepare_resource_checked(
        json.as_bytes(),
        settings.ingest_checks(),
    )?)
}

/// A read of a Binary answered with its content, when the request asked for no FHIR format
/// (no `_format`, an `Accept` that names none) but for the Binary's own content type (or a
/// range that includes it); `None` otherwise.
pub(crate) fn native_read(
    headers: &HeaderMap,
    query: &QueryParams,
    stored: &StoredVersion,
    body: &Bytes,
) -> Option<Response> {
    if query.first("_format").is_some() {
        return None;
    }
    let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
    let (content_type, data) = engine::binary_content(body)?;
    if !admits(accept, &content_type) {
        return None;
    }
    let mut response = (StatusCode::OK, data).into_response();
    let value = HeaderValue::from_str(&content_type).ok()?;
    response.headers_mut().insert(header::CONTENT_TYPE, value);
    version_headers(
        response.headers_mut(),
        stored.version_id,
        stored.last_updated,
    );
    Some(response)
}

/// Whether the `Accept` ranges admit `content_type`: by its type, `type/*` or `*/*`, at a
/// quality above zero.
fn admits(accept: &str, content_type: &str) -> bool {
    let wanted = media_type_essence(content_type);
    let any_subtype = format!("{}/*", wanted.split('/').next().unwrap_or(""));
    accept.split(',').any(|range| {
        let refused = range.split(';').skip(1).any(|parameter| {
            parameter.split_once('=').is_some_and(|(name, value)| {
                name.trim() == "q" && value.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
            })
        });
        let essence = media_type_essence(range);
        !refused && (essence == wanted || essence == any_subtype || essence == "*/*")
    })
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::CONTENT_TYPE)?.to_str().ok()
}

#[cfg(test)]
mod tests {
    use super::admits;

    #[test]
    fn accept_admits_the_type_its_wildcards_and_not_a_refused_range() {
        assert!(admits("text/plain", "text/plain; charset=utf-8"));
        assert!(admits("application/pdf, text/*;q=0.5", "text/plain"));
        assert!(admits("*/*", "image/png"));
        assert!(!admits("text/plain;q=0", "text/plain"));
        assert!(!admits("image/png", "text/plain"));
    }
}
