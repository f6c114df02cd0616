//! Parsing a resource body once and preparing the bytes Ember will store.
//! Spec: https://hl7.org/fhir/R4/json.html
// PERF: hot path (every create and update); see benches/benches/json_parse.rs.

use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value};

use super::depth::{nests_too_deep, MAX_DEPTH};
use super::structure::check_structure;
use crate::index::{extract, IndexEntry};
use crate::{Error, Id, Instant, Issue, ResourceType, VersionId};

/// A resource body that passed the checks of FHIR JSON (structure and element types), split so that the server-assigned
/// `id` and `meta.versionId`/`meta.lastUpdated` can be written in without parsing again.
///
/// The split happens before the write is queued, on the request's own task, so the writer
/// actor only concatenates bytes while it holds row locks.
#[derive(Debug, Clone)]
pub struct PreparedResource {
    resource_type: ResourceType,
    /// The `id` the body claims, if any. Create ignores it; update must match it to the URL.
    claimed_id: Option<String>,
    /// The members of the client's `meta` other than `versionId` and `lastUpdated` (tags,
    /// profiles, security labels, source), serialised without the surrounding braces.
    meta_members: Vec<u8>,
    /// Every top-level member after `resourceType`, `id` and `meta`, serialised without the
    /// surrounding braces, in the client's order.
    body_members: Vec<u8>,
    /// The search index values, extracted from the same parse.
    index_entries: Vec<IndexEntry>,
}

/// Parses and checks a resource body.
///
/// # Errors
/// [`Error::InvalidResource`] with every problem found: not JSON, not an object, a missing or
/// unknown `resourceType`, a member that is not an element of its owner's definition, an
/// element of the wrong JSON type (a string for a `boolean`, an object where the element
/// repeats and JSON needs an array), `null` values, empty strings, arrays or objects,
/// duplicate keys, or nesting deeper than FHIR resources go. Contained resources and those
/// in `Bundle.entry.resource` are checked as their own type.
///
/// ```
/// let prepared = engine::prepare_resource(br#"{"resourceType":"Patient","active":true}"#).unwrap();
/// assert_eq!(prepared.resource_type().as_str(), "Patient");
/// ```
pub fn prepare_resource(body: &[u8]) -> Result<PreparedResource, Error> {
    prepare_resource_checked(body, IngestChecks::default())
}

/// The checks of ingest a deployment may relax; every other check always applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestChecks {
    /// Whether a `code` under a required binding must be one of its value set's codes
    /// (on by default; off lets data with codes outside their value sets be loaded).
    pub required_codes: bool,
}

impl Default for IngestChecks {
    fn default() -> IngestChecks {
        IngestChecks {
            required_codes: true,
        }
    }
}

/// [`prepare_resource`] with `checks` instead of the default ones.
///
/// # Errors
/// As [`prepare_resource`].
pub fn prepare_resource_checked(
    body: &[u8],
    checks: IngestChecks,
) -> Result<PreparedResource, Error> {
    if nests_too_deep(body) {
        return Err(Error::InvalidResource(vec![Issue::error(
            "structure",
            format!("The JSON nests arrays and objects deeper than {MAX_DEPTH} levels"),
        )]));
    }
    let value: Value = sonic_rs::from_slice(body).map_err(|error| {
        Error::InvalidResource(vec![Issue::error(
            "structure",
            format!("The body is not valid JSON: {error}"),
        )])
    })?;
    let Some(object) = value.as_object() else {
        return Err(Error::InvalidResource(vec![Issue::error(
            "structure",
            "The body must be a JSON object holding one FHIR resource",
        )]));
    };

    let mut issues = Vec::new();
    let resource_type = match object.get(&"resourceType") {
        None => {
            issues.push(Issue::error(
                "required",
                "The resource has no 'resourceType'",
            ));
            None
        }
        Some(name) => match name.as_str() {
            None => {
                issues.push(
                    Issue::error("structure", "'resourceType' must be a string").at("resourceType"),
                );
                None
            }
            Some(name) => {
                let known = ResourceType::parse(name);
                if known.is_none() {
                    issues.push(Issue::error(
                        "not-supported",
                        format!(
                            "'{}' is not an R4 resource type",
                            crate::ids::truncate_for_message(name)
                        ),
                    ));
                }
                known
            }
        },
    };
    // The kinds of `id` and `meta` (a string, an object) are checked with every other element.
    let claimed_id = object
        .get(&"id")
        .and_then(|id| id.as_str())
        .map(str::to_owned);
    check_structure(object, resource_type, checks, &mut issues);

    let mut meta_members = Vec::new();
    if let Some(meta) = object.get(&"meta").and_then(|meta| meta.as_object()) {
        for (key, value) in meta.iter() {
            // Server-maintained: the spec says a server SHALL ignore what a client sends.
            if key != "versionId" && key != "lastUpdated" {
                write_member(&mut meta_members, key, value, &mut issues);
            }
        }
    }

    let mut body_members = Vec::with_capacity(body.len());
    for (key, value) in object.iter() {
        if !matches!(key, "resourceType" | "id" | "meta") {
            write_member(&mut body_members, key, value, &mut issues);
        }
    }

    match resource_type {
        Some(resource_type) if issues.is_empty() => Ok(PreparedResource {
            resource_type,
            claimed_id,
            meta_members,
            body_members,
            index_entries: extract(resource_type, &value),
        }),
        _ => Err(Error::InvalidResource(issues)),
    }
}

fn write_member(out: &mut Vec<u8>, key: &str, value: &Value, issues: &mut Vec<Issue>) {
    if !out.is_empty() {
        out.push(b',');
    }
    let written = sonic_rs::to_writer(&mut *out, key).and_then(|()| {
        out.push(b':');
        sonic_rs::to_writer(&mut *out, value)
    });
    if let Err(error) = written {
        issues.push(Issue::error(
            "structure",
            format!("'{key}' could not be serialised: {error}"),
        ));
    }
}

impl PreparedResource {
    pub fn resource_type(&self) -> ResourceType {
        self.resource_type
    }

    /// The search index values of this resource, whatever id and version it is written as.
    pub fn index_entries(&self) -> &[IndexEntry] {
        &self.index_entries
    }

    /// Makes the absolute references under `base` (this server's FHIR base, as the writer
    /// reached it) local ones in the index values; every other absolute reference stays
    /// another server's (`index::localise_reference`). The stored body is not changed.
    pub fn localise_references(&mut self, base: &str) {
        for entry in &mut self.index_entries {
            crate::index::localise_reference(&mut entry.value, base);
        }
    }

    /// The `id` in the body, exactly as sent (not yet checked against the id syntax).
    pub fn claimed_id(&self) -> Option<&str> {
        self.claimed_id.as_deref()
    }

    /// The canonical bytes of this resource as version `version_id` of `id`: `resourceType`,
    /// `id` and `meta` first, then the client's members in the client's order.
    ///
    /// ```
    /// use engine::{prepare_resource, Id, Instant, VersionId};
    /// let prepared = prepare_resource(br#"{"resourceType":"Basic","code":{"text":"x"}}"#).unwrap();
    /// let instant = Instant::from_datetime(time::macros::datetime!(2026-01-02 03:04:05 UTC));
    /// let bytes = prepared.finalize(&Id::parse("b1").unwrap(), VersionId::FIRST, instant);
    /// assert_eq!(
    ///     std::str::from_utf8(&bytes).unwrap(),
    ///     r#"{"resourceType":"Basic","id":"b1","meta":{"versionId":"1","lastUpdated":"2026-01-02T03:04:05.000000Z"},"code":{"text":"x"}}"#
    /// );
    /// ```
    pub fn finalize(&self, id: &Id, version_id: VersionId, last_updated: Instant) -> Vec<u8> {
        use std::io::Write as _;
        let mut out = Vec::with_capacity(self.body_members.len() + self.meta_members.len() + 160);
        // Ids, versions and instants need no JSON escaping: their syntax excludes '"' and '\'.
        let _ = write!(
            out,
            r#"{{"resourceType":"{}","id":"{}","meta":{{"versionId":"{}","lastUpdated":"{}""#,
            self.resource_type, id, version_id, last_updated
        );
        if !self.meta_members.is_empty() {
            out.push(b',');
            out.extend_from_slice(&self.meta_members);
        }
        out.push(b'}');
        if !self.body_members.is_empty() {
            out.push(b',');
            out.extend_from_slice(&self.body_members);
        }
        out.push(b'}');
        out
    }
}

/// `meta.lastUpdated` of a body [`PreparedResource::finalize`] wrote, read without parsing
/// it: finalize puts `resourceType`, `id` and `meta` with `versionId` and `lastUpdated`
/// first, so the first `lastUpdated` of its opening bytes is the version's.
///
/// ```
/// let body = br#"{"resourceType":"Basic","id":"b1","meta":{"versionId":"1","lastUpdated":"2026-01-02T03:04:05.000000Z"}}"#;
/// assert_eq!(engine::stored_last_updated(body), Some("2026-01-02T03:04:05.000000Z"));
/// ```
pub fn stored_last_updated(body: &[u8]) -> Option<&str> {
    const KEY: &[u8] = br#""lastUpdated":""#;
    let head = &body[..body.len().min(256)];
    let start = head.windows(KEY.len()).position(|window| window == KEY)? + KEY.len();
    let length = body[start..].iter().position(|&byte| byte == b'"')?;
    std::str::from_utf8(&body[start..start + length]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn finalize(body: &str) -> String {
        let prepared = prepare_resource(body.as_bytes()).unwrap();
        let instant = Instant::from_datetime(datetime!(2026-11-23 10:00:00 UTC));
        String::from_utf8(prepared.finalize(&Id::parse("p1").unwrap(), VersionId::FIRST, instant))
            .unwrap()
    }

    fn diagnostics(body: &str) -> Vec<String> {
        match prepare_resource(body.as_bytes()) {
            Err(Error::InvalidResource(issues)) => {
                issues.into_iter().map(|issue| issue.diagnostics).collect()
            }
            other => panic!("expected invalid resource, got {other:?}"),
        }
    }

    #[test]
    fn decimals_keep_their_text_through_a_round_trip() {
        let stored = finalize(
            r#"{"resourceType":"Observation","valueQuantity":{"value":1.50},"component":[{"valueQuantity":{"value":1e2}},{"valueQuantity":{"value":-0.000100}}]}"#,
        );
        assert!(stored.contains(r#""value":1.50}"#), "{stored}");
        assert!(stored.contains(r#""value":1e2}"#), "{stored}");
        assert!(stored.contains(r#""value":-0.000100}"#), "{stored}");
    }

    #[test]
    fn large_integers_and_long_decimals_are_not_rounded() {
        let stored = finalize(
            r#"{"resourceType":"Observation","valueQuantity":{"value":12345678901234567890.123456789012345678901}}"#,
        );
        assert!(
            stored.contains("12345678901234567890.123456789012345678901"),
            "{stored}"
        );
    }

    #[test]
    fn client_id_version_and_last_updated_are_replaced_but_tags_kept() {
        let stored = finalize(
            r#"{"resourceType":"Patient","id":"client","meta":{"versionId":"9","lastUpdated":"2000-01-01T00:00:00Z","tag":[{"code":"t"}]},"active":true}"#,
        );
        assert_eq!(
            stored,
            r#"{"resourceType":"Patient","id":"p1","meta":{"versionId":"1","lastUpdated":"2026-11-23T10:00:00.000000Z","tag":[{"code":"t"}]},"active":true}"#
        );
    }

    #[test]
    fn whitespace_is_compacted_and_member_order_kept() {
        let stored = finalize(
            "{ \"resourceType\" : \"Patient\",\n  \"gender\": \"female\", \"active\" : false }",
        );
        assert!(
            stored.ends_with(r#""gender":"female","active":false}"#),
            "{stored}"
        );
    }

    #[test]
    fn strings_with_escapes_and_unicode_survive() {
        let stored = finalize(
            r#"{"resourceType":"Patient","name":[{"text":"Zoë \"Q\" \\ \u00e9 \ud83d\ude00"}]}"#,
        );
        let reparsed: Value = sonic_rs::from_str(&stored).unwrap();
        assert_eq!(
            reparsed["name"][0]["text"].as_str().unwrap(),
            "Zoë \"Q\" \\ é 😀"
        );
    }

    #[test]
    fn not_json_is_a_structure_error_with_position() {
        let messages = diagnostics(r#"{"resourceType":"Patient","#);
        assert!(
            messages[0].starts_with("The body is not valid JSON"),
            "{messages:?}"
        );
    }

    #[test]
    fn a_json_array_is_not_a_resource() {
        assert_eq!(
            diagnostics("[1,2]"),
            ["The body must be a JSON object holding one FHIR resource"]
        );
    }

    #[test]
    fn resource_type_must_be_present_a_string_and_known() {
        assert_eq!(
            diagnostics(r#"{"active":true}"#),
            ["The resource has no 'resourceType'"]
        );
        assert_eq!(
            diagnostics(r#"{"resourceType":7}"#),
            ["'resourceType' must be a string"]
        );
        assert_eq!(
            diagnostics(r#"{"resourceType":"Foo"}"#),
            ["'Foo' is not an R4 resource type"]
        );
    }
}
