//! Writing Bundles around stored resource bytes, without parsing the resources again.
//! Spec: https://hl7.org/fhir/R4/bundle.html
// PERF: hot path for history and search; see docs/benchmarks.md.

use bytes::Bytes;
use engine::{json_string, write_json_string};
use storage::model::{HistoryEntry, HistoryMethod};
use storage::FoundResource;

use crate::respond::version_url;

/// The answer to one entry of a batch or transaction (`Bundle.entry.response`, with the
/// entry's resource when `Prefer` asks for it).
/// Spec: https://hl7.org/fhir/R4/bundle-definitions.html#Bundle.entry.response
#[derive(Debug, Clone, Default)]
pub(crate) struct EntryResponse {
    pub(crate) status: u16,
    pub(crate) full_url: Option<String>,
    pub(crate) location: Option<String>,
    pub(crate) etag: Option<String>,
    /// A FHIR instant.
    pub(crate) last_modified: Option<String>,
    /// JSON of the resource, written as it is.
    pub(crate) resource: Option<Bytes>,
    /// JSON of an OperationOutcome, written as it is.
    pub(crate) outcome: Option<Bytes>,
}

impl EntryResponse {
    /// `response.status`: the HTTP status code, and its reason phrase as the spec's examples
    /// show it ("201 Created").
    fn status_line(&self) -> String {
        let reason = axum::http::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|status| status.canonical_reason());
        match reason {
            Some(reason) => format!("{} {reason}", self.status),
            None => self.status.to_string(),
        }
    }
}

/// Why a resource is in a searchset (`Bundle.entry.search.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SearchMode {
    Match,
    Include,
}

impl SearchMode {
    fn code(self) -> &'static str {
        match self {
            SearchMode::Match => "match",
            SearchMode::Include => "include",
        }
    }
}

/// A Bundle being written: the envelope is text, each resource is copied in as stored.
pub(crate) struct BundleWriter {
    json: Vec<u8>,
    entries: usize,
    /// An entry's URL while it is put together, kept between entries so that writing a
    /// page's URLs allocates once, not twice per entry.
    url: String,
}

impl BundleWriter {
    /// Starts a Bundle of `bundle_type` with its links (relation, url).
    pub(crate) fn new(bundle_type: &str, links: &[(&str, &str)], capacity: usize) -> BundleWriter {
        let mut json = Vec::with_capacity(capacity + 512);
        json.extend_from_slice(br#"{"resourceType":"Bundle","id":""#);
        json.extend_from_slice(engine::Id::generate().as_str().as_bytes());
        json.extend_from_slice(br#"","type":""#);
        json.extend_from_slice(bundle_type.as_bytes());
        json.extend_from_slice(br#"""#);
        if !links.is_empty() {
            json.extend_from_slice(br#","link":["#);
            for (index, (relation, url)) in links.iter().enumerate() {
                if index > 0 {
                    json.push(b',');
                }
                json.extend_from_slice(br#"{"relation":""#);
                json.extend_from_slice(relation.as_bytes());
                json.extend_from_slice(br#"","url":"#);
                write_json_string(&mut json, url);
                json.push(b'}');
            }
            json.push(b']');
        }
        BundleWriter {
            json,
            entries: 0,
            url: String::new(),
        }
    }

    /// Starts a searchset Bundle; `total` is written only when it is known.
    pub(crate) fn searchset(
        total: Option<i64>,
        links: &[(&str, &str)],
        capacity: usize,
    ) -> BundleWriter {
        let mut bundle = BundleWriter::new("searchset", links, capacity);
        if let Some(total) = total {
            bundle
                .json
                .extend_from_slice(format!(r#","total":{total}"#).as_bytes());
        }
        bundle
    }

    fn start_entry(&mut self) {
        self.json.extend_from_slice(if self.entries == 0 {
            br#","entry":["#
        } else {
            b","
        });
        self.entries += 1;
    }

    /// Appends a search result: `body` (the stored bytes, or a subset of them) as is.
    pub(crate) fn push_search(
        &mut self,
        base: &str,
        found: &FoundResource,
        body: &[u8],
        mode: SearchMode,
    ) {
        self.start_entry();
        self.push_full_url(base, &found.resource_type, &found.id);
        self.json.extend_from_slice(br#","resource":"#);
        self.json.extend_from_slice(body);
        self.json.extend_from_slice(br#","search":{"mode":""#);
        self.json.extend_from_slice(mode.code().as_bytes());
        self.json.extend_from_slice(br#""}}"#);
    }

    /// Opens an entry with its `fullUrl`, `{base}/{resource_type}/{id}`.
    fn push_full_url(&mut self, base: &str, resource_type: &str, id: &str) {
        self.url.clear();
        for part in [base, "/", resource_type, "/", id] {
            self.url.push_str(part);
        }
        self.json.extend_from_slice(br#"{"fullUrl":"#);
        write_json_string(&mut self.json, &self.url);
    }

    /// Appends an OperationOutcome about the search itself (mode `outcome`).
    pub(crate) fn push_outcome(&mut self, outcome: &[u8]) {
        self.start_entry();
        self.json.extend_from_slice(br#"{"resource":"#);
        self.json.extend_from_slice(outcome);
        self.json
            .extend_from_slice(br#","search":{"mode":"outcome"}}"#);
    }

    /// Appends a history entry: the stored version, and the request and response that made it.
    pub(crate) fn push_history(&mut self, base: &str, entry: &HistoryEntry) {
        self.start_entry();
        self.push_full_url(base, entry.resource_type.as_str(), entry.id.as_str());
        if let Some(body) = &entry.body {
            self.json.extend_from_slice(br#","resource":"#);
            self.json.extend_from_slice(body);
        }
        let request_url = match entry.method {
            HistoryMethod::Post => entry.resource_type.to_string(),
            HistoryMethod::Put | HistoryMethod::Patch | HistoryMethod::Delete => {
                format!("{}/{}", entry.resource_type, entry.id)
            }
        };
        let status = entry.status;
        let location = version_url(base, entry.resource_type, &entry.id, entry.version_id);
        let tail = format!(
            r#","request":{{"method":"{}","url":{}}},"response":{{"status":"{status}","location":{},"etag":{},"lastModified":"{}"}}}}"#,
            entry.method.as_str(),
            json_string(&request_url),
            json_string(&location),
            json_string(&entry.version_id.etag()),
            entry.last_updated,
        );
        self.json.extend_from_slice(tail.as_bytes());
    }

    /// Appends the answer to one entry of a batch or transaction.
    pub(crate) fn push_response(&mut self, response: &EntryResponse) {
        self.start_entry();
        self.json.push(b'{');
        if let Some(full_url) = &response.full_url {
            self.json.extend_from_slice(br#""fullUrl":"#);
            write_json_string(&mut self.json, full_url);
            self.json.push(b',');
        }
        if let Some(resource) = &response.resource {
            self.json.extend_from_slice(br#""resource":"#);
            self.json.extend_from_slice(resource);
            self.json.push(b',');
        }
        self.json.extend_from_slice(br#""response":{"status":"#);
        write_json_string(&mut self.json, &response.status_line());
        for (name, value) in [
            ("location", &response.location),
            ("etag", &response.etag),
            ("lastModified", &response.last_modified),
        ] {
            if let Some(value) = value {
                self.json
                    .extend_from_slice(format!(r#","{name}":{}"#, json_string(value)).as_bytes());
            }
        }
        if let Some(outcome) = &response.outcome {
            self.json.extend_from_slice(br#","outcome":"#);
            self.json.extend_from_slice(outcome);
        }
        self.json.extend_from_slice(b"}}");
    }

    pub(crate) fn finish(mut self) -> Bytes {
        if self.entries > 0 {
            self.json.push(b']');
        }
        self.json.push(b'}');
        Bytes::from(self.json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_bundle_has_no_entry_array_and_is_valid_json() {
        let bytes =
            BundleWriter::new("history", &[("self", "http://x/fhir/_history?a=\"b\"")], 0).finish();
        let value: sonic_rs::Value = sonic_rs::from_slice(&bytes).unwrap();
        use sonic_rs::JsonValueTrait;
        assert!(value.get("entry").is_none());
        assert_eq!(
            value["link"][0]["url"].as_str(),
            Some("http://x/fhir/_history?a=\"b\"")
        );
    }

    #[test]
    fn search_entries_carry_their_full_url_escaped_as_json() {
        let found = |id: &str| FoundResource {
            resource_type: "Patient".to_owned(),
            id: id.to_owned(),
            body: Bytes::from_static(br#"{"resourceType":"Patient"}"#),
        };
        let mut bundle = BundleWriter::searchset(None, &[], 0);
        bundle.push_search("http://x/fhir", &found("a"), b"{}", SearchMode::Match);
        bundle.push_search("http://x/\"q\"", &found("b"), b"{}", SearchMode::Include);
        let bytes = bundle.finish();
        let value: sonic_rs::Value = sonic_rs::from_slice(&bytes).unwrap();
        use sonic_rs::JsonValueTrait;
        assert_eq!(
            value["entry"][0]["fullUrl"].as_str(),
            Some("http://x/fhir/Patient/a")
        );
        assert_eq!(
            value["entry"][1]["fullUrl"].as_str(),
            Some("http://x/\"q\"/Patient/b")
        );
        assert_eq!(
            value["entry"][1]["search"]["mode"].as_str(),
            Some("include")
        );
    }
}
