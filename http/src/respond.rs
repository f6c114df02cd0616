//! Building FHIR responses: resource bodies with ETag, Last-Modified and Location, the
//! `Prefer` header, and the server's base URL.
//! Spec: https://hl7.org/fhir/R4/http.html#ops (headers), http.html#return (Prefer)

use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use engine::{operation_outcome, Id, Instant, Issue, ResourceType, Severity, VersionId};
use storage::model::Written;

use crate::error::ApiError;
use crate::negotiation::ResponseFormat;

/// What the client asked to get back from a write (`Prefer: return=...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PreferReturn {
    Minimal,
    Representation,
    OperationOutcome,
}

impl PreferReturn {
    /// Reads `Prefer`; the spec's default is the representation.
    pub(crate) fn from_headers(headers: &HeaderMap) -> PreferReturn {
        let mut preference = PreferReturn::Representation;
        for value in headers
            .get_all("prefer")
            .iter()
            .filter_map(|value| value.to_str().ok())
        {
            for token in value.split([',', ';']) {
                // RFC 7240 allows the value quoted: `return="minimal"`.
                match token.trim().replace([' ', '"'], "").as_str() {
                    "return=minimal" => preference = PreferReturn::Minimal,
                    "return=representation" => preference = PreferReturn::Representation,
                    "return=OperationOutcome" => preference = PreferReturn::OperationOutcome,
                    _ => {}
                }
            }
        }
        preference
    }
}

/// The FHIR base URL as clients reach it: the configured one, or `http(s)://{Host}/fhir`.
pub(crate) fn base_url(configured: Option<&str>, headers: &HeaderMap) -> String {
    if let Some(configured) = configured {
        return configured.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(header::HOST))
        .and_then(|value| value.to_str().ok())
        .unwrap_or("localhost");
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}/fhir")
}

/// The version-specific URL of a resource version, as Location and fullUrl carry it.
pub(crate) fn version_url(
    base: &str,
    resource_type: ResourceType,
    id: &Id,
    version_id: VersionId,
) -> String {
    format!("{base}/{resource_type}/{id}/_history/{version_id}")
}

/// An HTTP-date for `Last-Modified`.
pub(crate) fn http_date(instant: Instant) -> String {
    let seconds = u64::try_from(instant.unix_seconds()).unwrap_or(0);
    httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
}

/// The headers that describe a stored version: ETag and Last-Modified.
pub(crate) fn version_headers(
    headers: &mut HeaderMap,
    version_id: VersionId,
    last_updated: Instant,
) {
    if let Ok(etag) = HeaderValue::from_str(&version_id.etag()) {
        headers.insert(header::ETAG, etag);
    }
    if let Ok(date) = HeaderValue::from_str(&http_date(last_updated)) {
        headers.insert(header::LAST_MODIFIED, date);
    }
}

/// A response whose body is JSON bytes: sent as they are unless `_pretty` asks otherwise.
pub(crate) fn json_response(
    status: StatusCode,
    format: ResponseFormat,
    json: Bytes,
) -> Result<Response, ApiError> {
    let body = if format.pretty {
        Bytes::from(engine::pretty_print(&json)?)
    } else {
        json
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type),
    );
    Ok(response)
}

/// The body a write answers with, chosen by `Prefer`.
pub(crate) fn write_body(
    preference: PreferReturn,
    representation: Option<Bytes>,
    message: &str,
) -> Option<Bytes> {
    match preference {
        PreferReturn::Minimal => None,
        PreferReturn::Representation => representation,
        PreferReturn::OperationOutcome => {
            let issue = Issue {
                severity: Severity::Information,
                code: "informational",
                diagnostics: message.to_owned(),
                expression: None,
            };
            Some(Bytes::from(operation_outcome(&[issue])))
        }
    }
}

/// A response with an optional JSON body.
pub(crate) fn optional_json_response(
    status: StatusCode,
    format: ResponseFormat,
    body: Option<Bytes>,
) -> Result<Response, ApiError> {
    match body {
        Some(json) => json_response(status, format, json),
        None => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = status;
            Ok(response)
        }
    }
}

/// 200 with a stored version's bytes, ETag and Last-Modified: what read and vread answer.
pub(crate) fn version_response(
    format: ResponseFormat,
    body: Bytes,
    version_id: VersionId,
    last_updated: Instant,
) -> Result<Response, ApiError> {
    let mut response = json_response(StatusCode::OK, format, body)?;
    version_headers(response.headers_mut(), version_id, last_updated);
    Ok(response)
}

/// The answer to a create or an update: `status` (201 or 200), ETag, Last-Modified, a
/// Location naming the new version, and the body `Prefer` asks for.
pub(crate) fn written_response(
    status: StatusCode,
    format: ResponseFormat,
    request_headers: &HeaderMap,
    configured_base: Option<&str>,
    resource_type: ResourceType,
    written: Written,
) -> Result<Response, ApiError> {
    let verb = if status == StatusCode::CREATED {
        "Created"
    } else {
        "Updated"
    };
    let message = format!(
        "{verb} {resource_type}/{} at version {}",
        written.id, written.version_id
    );
    version_response_with_location(
        status,
        &message,
        format,
        request_headers,
        configured_base,
        resource_type,
        written,
    )
}

/// A version with ETag, Last-Modified, Location and the body `Prefer` asks for, where
/// `message` is what `Prefer: return=OperationOutcome` reports.
pub(crate) fn version_response_with_location(
    status: StatusCode,
    message: &str,
    format: ResponseFormat,
    request_headers: &HeaderMap,
    configured_base: Option<&str>,
    resource_type: ResourceType,
    written: Written,
) -> Result<Response, ApiError> {
    let location = version_url(
        &base_url(configured_base, request_headers),
        resource_type,
        &written.id,
        written.version_id,
    );
    let body = write_body(
        PreferReturn::from_headers(request_headers),
        written.body,
        message,
    );
    let mut response = optional_json_response(status, format, body)?;
    version_headers(
        response.headers_mut(),
        written.version_id,
        written.last_updated,
    );
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefer_reads_return_among_other_preferences() {
        let mut headers = HeaderMap::new();
        headers.insert("prefer", "respond-async, return=minimal".parse().unwrap());
        assert_eq!(PreferReturn::from_headers(&headers), PreferReturn::Minimal);
        assert_eq!(
            PreferReturn::from_headers(&HeaderMap::new()),
            PreferReturn::Representation
        );
    }

    #[test]
    fn base_url_follows_forwarded_headers_behind_a_proxy() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "10.0.0.1:8080".parse().unwrap());
        headers.insert("x-forwarded-host", "fhir.example.org".parse().unwrap());
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        assert_eq!(base_url(None, &headers), "https://fhir.example.org/fhir");
        assert_eq!(
            base_url(Some("https://x/fhir/"), &headers),
            "https://x/fhir"
        );
    }
}
