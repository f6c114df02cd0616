//! Reading a batch or transaction Bundle into its entries, each with its request and the
//! raw bytes of its resource (parsed later, once, by whatever the entry's interaction is).
//! Spec: https://hl7.org/fhir/R4/bundle.html#transaction, bundle-definitions.html

use std::borrow::Cow;

use serde::Deserialize;
use sonic_rs::LazyValue;

use crate::Error;

/// Whether entries succeed or fail together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleKind {
    Batch,
    Transaction,
}

impl BundleKind {
    /// The `Bundle.type` of the answer.
    pub fn response_type(self) -> &'static str {
        match self {
            BundleKind::Batch => "batch-response",
            BundleKind::Transaction => "transaction-response",
        }
    }
}

/// `Bundle.entry.request.method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Patch,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
        }
    }

    fn parse(text: &str) -> Option<Method> {
        Some(match text {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            _ => return None,
        })
    }
}

/// `Bundle.entry.request`: the interaction an entry asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRequest {
    pub method: Method,
    /// Relative to the base (`Patient/1`, `Patient?identifier=x`), as the spec asks; an
    /// absolute URL is the caller's to check against its own base.
    pub url: String,
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<String>,
    pub if_match: Option<String>,
    pub if_none_exist: Option<String>,
}

/// One entry of a batch or transaction.
#[derive(Debug, Clone)]
pub struct RequestEntry<'a> {
    pub full_url: Option<String>,
    /// The entry's resource as it stands in the Bundle's JSON, not parsed yet.
    pub resource: Option<Cow<'a, str>>,
    pub request: EntryRequest,
}

/// A batch or transaction Bundle, borrowing the request body.
#[derive(Debug, Clone)]
pub struct RequestBundle<'a> {
    pub kind: BundleKind,
    pub entries: Vec<RequestEntry<'a>>,
}

#[derive(Deserialize)]
struct BundleDocument<'a> {
    #[serde(rename = "resourceType")]
    resource_type: Option<String>,
    #[serde(rename = "type")]
    bundle_type: Option<String>,
    #[serde(default, borrow)]
    entry: Vec<EntryDocument<'a>>,
}

#[derive(Deserialize)]
struct EntryDocument<'a> {
    #[serde(rename = "fullUrl")]
    full_url: Option<String>,
    #[serde(borrow)]
    resource: Option<LazyValue<'a>>,
    request: Option<RequestDocument>,
}

#[derive(Deserialize)]
struct RequestDocument {
    method: Option<String>,
    url: Option<String>,
    #[serde(rename = "ifNoneMatch")]
    if_none_match: Option<String>,
    #[serde(rename = "ifModifiedSince")]
    if_modified_since: Option<String>,
    #[serde(rename = "ifMatch")]
    if_match: Option<String>,
    #[serde(rename = "ifNoneExist")]
    if_none_exist: Option<String>,
}

/// Reads a Bundle of type `batch` or `transaction`.
///
/// # Errors
/// [`Error::Invalid`] naming the problem and, for an entry, its index (`Bundle.entry[3]`):
/// not JSON, not a Bundle, another Bundle type, an entry without a request, an unknown method,
/// a missing url, a POST or PUT without a resource, or a resource that is not a JSON object.
///
/// ```
/// let body = br#"{"resourceType":"Bundle","type":"batch","entry":[
///   {"request":{"method":"GET","url":"Patient/1"}}]}"#;
/// let bundle = engine::bundle::parse_request_bundle(body).unwrap();
/// assert_eq!(bundle.entries[0].request.url, "Patient/1");
/// ```
pub fn parse_request_bundle(body: &[u8]) -> Result<RequestBundle<'_>, Error> {
    let document: BundleDocument<'_> = sonic_rs::from_slice(body)
        .map_err(|error| Error::Invalid(format!("The body is not a readable Bundle: {error}")))?;
    if document.resource_type.as_deref() != Some("Bundle") {
        return Err(Error::Invalid(
            "POST to the base takes a Bundle (resourceType 'Bundle')".into(),
        ));
    }
    let kind = match document.bundle_type.as_deref() {
        Some("batch") => BundleKind::Batch,
        Some("transaction") => BundleKind::Transaction,
        Some(other) => {
            return Err(Error::Invalid(format!(
                "POST to the base takes a Bundle of type 'batch' or 'transaction', not '{other}'"
            )))
        }
        None => {
            return Err(Error::Invalid(
                "The Bundle has no 'type'; POST to the base takes 'batch' or 'transaction'".into(),
            ))
        }
    };
    let entries = document
        .entry
        .into_iter()
        .enumerate()
        .map(|(index, entry)| read_entry(index, entry))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RequestBundle { kind, entries })
}

fn read_entry(index: usize, entry: EntryDocument<'_>) -> Result<RequestEntry<'_>, Error> {
    let at = |message: &str| Error::Invalid(format!("Bundle.entry[{index}]: {message}"));
    let request = entry
        .request
        .ok_or_else(|| at("the entry has no 'request'; batch and transaction entries need one"))?;
    let method_text = request
        .method
        .ok_or_else(|| at("'request.method' is missing"))?;
    let method = Method::parse(&method_text).ok_or_else(|| {
        at(&format!(
            "'request.method' is '{method_text}'; it is one of GET, HEAD, POST, PUT, DELETE, PATCH"
        ))
    })?;
    let url = request
        .url
        .filter(|url| !url.is_empty())
        .ok_or_else(|| at("'request.url' is missing"))?;
    let resource = entry.resource.map(|resource| resource.as_raw_cow());
    if let Some(raw) = &resource {
        if !raw.trim_start().starts_with('{') {
            return Err(at("'resource' must be a JSON object"));
        }
    }
    if resource.is_none() && matches!(method, Method::Post | Method::Put | Method::Patch) {
        return Err(at(&format!(
            "a {} entry needs a 'resource'",
            method.as_str()
        )));
    }
    Ok(RequestEntry {
        full_url: entry.full_url,
        resource,
        request: EntryRequest {
            method,
            url,
            if_none_match: request.if_none_match,
            if_modified_since: request.if_modified_since,
            if_match: request.if_match,
            if_none_exist: request.if_none_exist,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid_message(body: &str) -> String {
        match parse_request_bundle(body.as_bytes()) {
            Err(Error::Invalid(message)) => message,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn entries_keep_their_order_request_and_raw_resource() {
        let body = r#"{"resourceType":"Bundle","type":"transaction","entry":[
            {"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient","active":true},
             "request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=a|1"}},
            {"request":{"method":"DELETE","url":"Observation/9","ifMatch":"W/\"2\""}}]}"#;
        let bundle = parse_request_bundle(body.as_bytes()).unwrap();
        assert_eq!(bundle.kind, BundleKind::Transaction);
        let first = &bundle.entries[0];
        assert_eq!(first.full_url.as_deref(), Some("urn:uuid:1"));
        assert_eq!(
            first.resource.as_deref(),
            Some(r#"{"resourceType":"Patient","active":true}"#)
        );
        assert_eq!(
            first.request.if_none_exist.as_deref(),
            Some("identifier=a|1")
        );
        let second = &bundle.entries[1];
        assert_eq!(second.request.method, Method::Delete);
        assert_eq!(second.request.if_match.as_deref(), Some("W/\"2\""));
    }

    #[test]
    fn a_bundle_of_another_type_is_refused_by_name() {
        let message = invalid_message(r#"{"resourceType":"Bundle","type":"collection"}"#);
        assert!(message.contains("'collection'"), "{message}");
    }

    #[test]
    fn a_resource_other_than_bundle_is_refused() {
        let message = invalid_message(r#"{"resourceType":"Patient"}"#);
        assert!(message.contains("takes a Bundle"), "{message}");
    }

    #[test]
    fn an_entry_without_request_names_its_index() {
        let message = invalid_message(
            r#"{"resourceType":"Bundle","type":"batch","entry":[
                {"request":{"method":"GET","url":"Patient/1"}},{"resource":{"resourceType":"Patient"}}]}"#,
        );
        assert!(message.starts_with("Bundle.entry[1]:"), "{message}");
    }

    #[test]
    fn an_unknown_method_is_refused() {
        let message = invalid_message(
            r#"{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"TRACE","url":"Patient"}}]}"#,
        );
        assert!(message.contains("'TRACE'"), "{message}");
    }

    #[test]
    fn a_post_without_resource_is_refused() {
        let message = invalid_message(
            r#"{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"POST","url":"Patient"}}]}"#,
        );
        assert!(message.contains("needs a 'resource'"), "{message}");
    }

    #[test]
    fn a_resource_that_is_not_an_object_is_refused() {
        let message = invalid_message(
            r#"{"resourceType":"Bundle","type":"batch","entry":[{"resource":[1],"request":{"method":"PUT","url":"Patient/1"}}]}"#,
        );
        assert!(message.contains("JSON object"), "{message}");
    }

    #[test]
    fn malformed_json_is_refused() {
        let message = invalid_message(r#"{"resourceType":"Bundle","#);
        assert!(message.contains("not a readable Bundle"), "{message}");
    }
}
