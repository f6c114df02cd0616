//! PATCH: a JSON Patch or a FHIRPath Patch applied to the current version of a resource, and
//! the result prepared exactly like the body of a PUT.
//! Spec: https://hl7.org/fhir/R4/http.html#patch
//!
//! The patch is applied to a parsed copy of the stored bytes and the result is serialised and
//! sent through [`prepare_resource`](crate::prepare_resource) again, rather than patching the prepared form, so that a
//! patched resource is checked and indexed by the one pipeline every write uses. Numbers keep
//! their text throughout (sonic-rs `arbitrary_precision`): `1.50` stays `1.50`.
//!
//! Two kinds of failure, as the spec separates them: a patch document that cannot be read is
//! [`Error::InvalidPatch`] (400); a readable patch that does not apply to this resource (a
//! failed `test`, a missing path, an `id` or `resourceType` change, an invalid result) is
//! [`Error::PatchFailed`] (422). Either way nothing is written.

mod fhirpath_patch;
mod json_patch;
mod tree;

use sonic_rs::Value;

use tree::Json;

use crate::json::depth::{nests_too_deep, MAX_DEPTH};
use crate::{prepare_resource_checked, Error, IngestChecks, Issue, PreparedResource};

/// The patch document's format, from the request's Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchFormat {
    /// RFC 6902 JSON Patch (`application/json-patch+json`).
    JsonPatch,
    /// FHIRPath Patch, a `Parameters` resource (`application/fhir+json`).
    FhirPathPatch,
}

/// Applies `patch` to `current` (the stored bytes of a resource) and prepares the result.
///
/// # Errors
/// [`Error::InvalidPatch`] when `patch` is not a readable patch document of `format`;
/// [`Error::PatchFailed`] when it does not apply to `current`, changes `id` or
/// `resourceType`, or leaves a resource that is not valid FHIR JSON.
///
/// ```
/// use engine::patch::{apply_patch, PatchFormat};
/// let current = br#"{"resourceType":"Patient","id":"a","active":true}"#;
/// let patch = br#"[{"op":"replace","path":"/active","value":false}]"#;
/// let prepared = apply_patch(current, PatchFormat::JsonPatch, patch, Default::default()).unwrap();
/// assert_eq!(prepared.claimed_id(), Some("a"));
/// ```
pub fn apply_patch(
    current: &[u8],
    format: PatchFormat,
    patch: &[u8],
    checks: IngestChecks,
) -> Result<PreparedResource, Error> {
    let bytes = patched_value(current, format, patch)?.to_bytes();
    prepare_resource_checked(&bytes, checks).map_err(|error| match error {
        Error::InvalidResource(issues) => Error::PatchFailed(issues),
        other => other,
    })
}

/// The patched resource as JSON, before it is prepared; checks that identity is unchanged.
fn patched_value(current: &[u8], format: PatchFormat, patch: &[u8]) -> Result<Json, Error> {
    let document = parse_json(patch)?;
    let current: Value = sonic_rs::from_slice(current)
        .map_err(|error| failed(format!("The current version is not JSON: {error}")))?;
    let original = Json::from_value(&current);
    let mut resource = original.clone();
    match format {
        PatchFormat::JsonPatch => json_patch::apply(&mut resource, &json_patch::parse(&document)?)?,
        PatchFormat::FhirPathPatch => {
            fhirpath_patch::apply(&mut resource, &fhirpath_patch::parse(&document)?)?
        }
    }
    // The spec: a patch may not change a resource's identity; a PUT to another id is how.
    for element in ["resourceType", "id"] {
        let identity = |json: &Json| {
            json.as_object().map(|object| {
                object
                    .get(element)
                    .and_then(Json::as_str)
                    .map(str::to_owned)
            })
        };
        if identity(&resource).is_none() || identity(&resource) != identity(&original) {
            return Err(Error::PatchFailed(vec![Issue::error(
                "processing",
                format!("A patch may not change or remove the resource's '{element}'"),
            )
            .at(element)]));
        }
    }
    Ok(resource)
}

/// Parses a patch body; deep nesting is refused first because sonic-rs recurses without limit.
fn parse_json(patch: &[u8]) -> Result<Value, Error> {
    if nests_too_deep(patch) {
        return Err(malformed(format!(
            "The patch nests arrays and objects deeper than {MAX_DEPTH} levels"
        )));
    }
    sonic_rs::from_slice(patch)
        .map_err(|error| malformed(format!("The patch document is not valid JSON: {error}")))
}

/// A patch document that cannot be read (400).
#[cold]
fn malformed(message: impl Into<String>) -> Error {
    Error::InvalidPatch(vec![Issue::error("invalid", message)])
}

/// A patch that cannot be applied to this resource (422).
#[cold]
fn failed(message: impl Into<String>) -> Error {
    Error::PatchFailed(vec![Issue::error("processing", message)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(patch: &str) -> Result<Json, Error> {
        let current =
            br#"{"resourceType":"Patient","id":"p1","meta":{"versionId":"3"},"active":true}"#;
        patched_value(current, PatchFormat::JsonPatch, patch.as_bytes())
    }

    // http.html#patch: a patch may not change the resource's id or type.
    #[test]
    fn changing_id_or_resource_type_is_refused_as_unprocessable() {
        for patch in [
            r#"[{"op":"replace","path":"/id","value":"other"}]"#,
            r#"[{"op":"remove","path":"/id"}]"#,
            r#"[{"op":"replace","path":"/resourceType","value":"Group"}]"#,
            r#"[{"op":"replace","path":"","value":{"resourceType":"Patient","id":"x"}}]"#,
        ] {
            assert!(
                matches!(check(patch), Err(Error::PatchFailed(_))),
                "{patch}"
            );
        }
        assert!(check(r#"[{"op":"replace","path":"/id","value":"p1"}]"#).is_ok());
    }

    #[test]
    fn a_result_that_is_not_valid_fhir_json_is_unprocessable() {
        let current = br#"{"resourceType":"Patient","id":"p1","active":true}"#;
        let patch = br#"[{"op":"add","path":"/gender","value":""}]"#;
        let error = apply_patch(
            current,
            PatchFormat::JsonPatch,
            patch,
            IngestChecks::default(),
        )
        .unwrap_err();
        assert!(matches!(error, Error::PatchFailed(_)), "{error:?}");
    }

    #[test]
    fn a_body_that_is_not_json_is_malformed() {
        assert!(matches!(check("[{"), Err(Error::InvalidPatch(_))));
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(matches!(check(&deep), Err(Error::InvalidPatch(_))));
    }

    #[test]
    fn decimals_keep_their_text_through_a_patch() {
        let current = br#"{"resourceType":"Observation","id":"o","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.50}}"#;
        let patch = br#"[{"op":"add","path":"/valueQuantity/unit","value":"mg"},{"op":"add","path":"/extra","value":2.10}]"#;
        let value = patched_value(current, PatchFormat::JsonPatch, patch).unwrap();
        let text = String::from_utf8(value.to_bytes()).unwrap();
        assert!(text.contains(r#""value":1.50"#), "{text}");
        assert!(text.contains(r#""extra":2.10"#), "{text}");
    }
}
