//! Running a Bundle entry as the HTTP request it stands for, through the same handlers a
//! request from outside reaches: every batch entry, and the read entries of a transaction.
//! Spec: https://hl7.org/fhir/R4/http.html#transaction ("as if … individual interactions")
//!
//! Going through the router, rather than calling handlers by hand, keeps one implementation
//! of each interaction: a batch entry gets exactly the checks, conditional headers and
//! errors of the same request sent alone.

use std::sync::OnceLock;
use std::time::SystemTime;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method as HttpMethod, Request};
use axum::Router;
use bytes::Bytes;
use engine::bundle::{EntryRequest, Method, RequestEntry};
use engine::patch::PatchFormat;
use engine::Instant;
use time::OffsetDateTime;
use tower::ServiceExt;

use crate::bundle::EntryResponse;
use crate::error::ApiError;
use crate::negotiation::FHIR_JSON;
use crate::state::AppState;

/// Request headers an entry inherits from the Bundle's own request: those that decide the
/// base URL and what a write answers with.
const INHERITED_HEADERS: [HeaderName; 4] = [
    header::HOST,
    HeaderName::from_static("x-forwarded-host"),
    HeaderName::from_static("x-forwarded-proto"),
    HeaderName::from_static("prefer"),
];

/// Turns entries into requests to the FHIR routes and their responses into entry responses.
pub(crate) struct Dispatcher {
    state: AppState,
    /// Built on the first entry dispatched: a transaction without read entries needs none.
    routes: OnceLock<Router>,
    inherited: HeaderMap,
    base: String,
}

impl Dispatcher {
    pub(crate) fn new(state: &AppState, outer: &HeaderMap, base: &str) -> Dispatcher {
        let mut inherited = HeaderMap::new();
        for name in INHERITED_HEADERS {
            for value in outer.get_all(&name) {
                inherited.append(name.clone(), value.clone());
            }
        }
        Dispatcher {
            state: state.clone(),
            routes: OnceLock::new(),
            inherited,
            base: base.to_owned(),
        }
    }

    /// Runs one entry; whatever happens is in the answer (a failure is an entry response with
    /// its status and OperationOutcome, never an error of the whole Bundle).
    pub(crate) async fn run(&self, entry: &RequestEntry<'_>) -> EntryResponse {
        let request = match self.request(entry) {
            Ok(request) => request,
            Err(error) => return failure(&error),
        };
        let routes = self
            .routes
            .get_or_init(|| crate::app::entry_routes(self.state.clone()));
        let response = match routes.clone().oneshot(request).await {
            Ok(response) => response,
            Err(infallible) => match infallible {},
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap_or_default();
        let text = |name: header::HeaderName| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let location = text(header::LOCATION);
        let full_url = location.as_deref().map(|location| {
            location
                .split("/_history/")
                .next()
                .unwrap_or(location)
                .to_owned()
        });
        let mut answer = EntryResponse {
            status,
            full_url,
            location,
            etag: text(header::ETAG),
            last_modified: text(header::LAST_MODIFIED).and_then(|date| fhir_instant(&date)),
            resource: None,
            outcome: None,
        };
        if !body.is_empty() {
            if status >= 400 || is_operation_outcome(&body) {
                answer.outcome = Some(body);
            } else {
                // The header has whole seconds; the version's own instant is finer. Only a
                // response about one version has the header (a searchset has none).
                if answer.last_modified.is_some() {
                    if let Some(instant) = engine::stored_last_updated(&body) {
                        answer.last_modified = Some(instant.to_owned());
                    }
                }
                answer.resource = Some(body);
            }
        }
        answer
    }

    fn request(&self, entry: &RequestEntry<'_>) -> Result<Request<Body>, ApiError> {
        let path = local_path(&self.base, &entry.request.url)?;
        let method = match entry.request.method {
            Method::Get => HttpMethod::GET,
            Method::Head => HttpMethod::HEAD,
            Method::Post => HttpMethod::POST,
            Method::Put => HttpMethod::PUT,
            Method::Delete => HttpMethod::DELETE,
            Method::Patch => HttpMethod::PATCH,
        };
        let (body, content_type) = match (&entry.resource, entry.request.method) {
            (Some(resource), Method::Patch) => patch_request_body(resource)?,
            (Some(resource), _) => (
                Bytes::copy_from_slice(resource.as_bytes()),
                FHIR_JSON.to_owned(),
            ),
            (None, _) => (Bytes::new(), String::new()),
        };
        if body.len() > self.state.settings().max_body_bytes {
            return Err(ApiError::new(
                engine::Category::TooLarge,
                "The entry's resource is larger than this server accepts (see max_body_bytes)",
            ));
        }
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::from(body))
            .map_err(|error| {
                ApiError::invalid(format!("'request.url' is not a valid URL: {error}"))
            })?;
        let headers = request.headers_mut();
        headers.extend(self.inherited.clone());
        if !content_type.is_empty() {
            headers.insert(header::CONTENT_TYPE, header_value(&content_type)?);
        }
        let EntryRequest {
            if_none_match,
            if_modified_since,
            if_match,
            if_none_exist,
            ..
        } = &entry.request;
        let if_modified_since = if_modified_since.as_deref().map(http_date);
        for (name, value) in [
            (header::IF_NONE_MATCH, if_none_match),
            (header::IF_MODIFIED_SINCE, &if_modified_since),
            (header::IF_MATCH, if_match),
            (HeaderName::from_static("if-none-exist"), if_none_exist),
        ] {
            if let Some(value) = value {
                headers.insert(name, header_value(value)?);
            }
        }
        Ok(request)
    }
}

/// `request.ifModifiedSince`, an `instant` (2024-01-01T10:00:00Z), as the HTTP date the
/// `If-Modified-Since` header takes; a value already written as an HTTP date is kept.
fn http_date(value: &str) -> String {
    match time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339) {
        // An HTTP date cannot be before 1970 (httpdate panics on one); every version is
        // later than that, so "modified since" the epoch answers the same.
        Ok(instant) => httpdate::fmt_http_date(std::time::SystemTime::from(
            instant.max(time::OffsetDateTime::UNIX_EPOCH),
        )),
        Err(_) => value.to_owned(),
    }
}

/// The path under this server of an entry's `request.url`: relative to the base as the spec
/// asks, or absolute under this server's own base. A URL of another server is refused.
pub(crate) fn local_path(base: &str, url: &str) -> Result<String, ApiError> {
    let relative = match url.strip_prefix(base) {
        Some(rest) => rest,
        None if url.starts_with("http://") || url.starts_with("https://") => {
            return Err(ApiError::invalid(format!(
                "'request.url' {url} is not on this server (its base is {base}); use a URL relative to the base"
            )))
        }
        None => url,
    };
    match relative.trim_start_matches('/') {
        "" => Ok("/fhir".to_owned()),
        relative => Ok(format!("/fhir/{relative}")),
    }
}

/// A PATCH entry's patch document and the media type its handler expects.
fn patch_request_body(resource: &str) -> Result<(Bytes, String), ApiError> {
    let patch = engine::bundle::entry_patch(resource)?;
    let content_type = match patch.format {
        PatchFormat::JsonPatch => "application/json-patch+json",
        PatchFormat::FhirPathPatch => FHIR_JSON,
    };
    Ok((Bytes::from(patch.document), content_type.to_owned()))
}

/// The answer to an entry that failed before reaching a handler.
pub(crate) fn failure(error: &ApiError) -> EntryResponse {
    EntryResponse {
        status: error.status().as_u16(),
        outcome: Some(Bytes::from(error.outcome_json())),
        ..EntryResponse::default()
    }
}

fn header_value(text: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(text)
        .map_err(|_| ApiError::invalid(format!("'{text}' cannot be sent as an HTTP header value")))
}

fn is_operation_outcome(body: &[u8]) -> bool {
    body.starts_with(br#"{"resourceType":"OperationOutcome""#)
}

/// An HTTP-date (Last-Modified) as a FHIR instant (`response.lastModified`).
fn fhir_instant(http_date: &str) -> Option<String> {
    let time: SystemTime = httpdate::parse_http_date(http_date).ok()?;
    Some(Instant::from_datetime(OffsetDateTime::from(time)).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_urls_are_relative_to_the_base_or_absolute_on_this_server() {
        let base = "http://localhost:8080/fhir";
        assert_eq!(local_path(base, "Patient/1").unwrap(), "/fhir/Patient/1");
        assert_eq!(
            local_path(base, "/Patient?name=x").unwrap(),
            "/fhir/Patient?name=x"
        );
        assert_eq!(
            local_path(base, "http://localhost:8080/fhir/Patient/1").unwrap(),
            "/fhir/Patient/1"
        );
        assert!(local_path(base, "http://elsewhere/fhir/Patient/1").is_err());
    }
}
