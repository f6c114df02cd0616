//! The patch document of a PATCH entry: a Binary holding a JSON Patch (how the spec carries
//! one in a Bundle), or a Parameters resource (a FHIRPath Patch).
//! Spec: https://hl7.org/fhir/R4/http.html#patch ("PATCH in a Bundle"), fhirpatch.html

use base64::Engine as _;
use sonic_rs::JsonValueTrait;

use crate::patch::PatchFormat;
use crate::Error;

/// A patch document taken out of a Bundle entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryPatch {
    pub format: PatchFormat,
    pub document: Vec<u8>,
}

/// Reads the patch an entry's resource carries.
///
/// # Errors
/// [`Error::InvalidPatch`] for a resource that is neither a Binary with a JSON Patch or
/// FHIRPath Patch content type nor a Parameters resource, or Binary data that is not base64.
pub fn entry_patch(resource: &str) -> Result<EntryPatch, Error> {
    let invalid =
        |message: String| Error::InvalidPatch(vec![crate::Issue::error("invalid", message)]);
    let value: sonic_rs::Value = sonic_rs::from_str(resource)
        .map_err(|error| invalid(format!("The patch is not JSON: {error}")))?;
    match value.get("resourceType").and_then(|kind| kind.as_str()) {
        Some("Parameters") => Ok(EntryPatch {
            format: PatchFormat::FhirPathPatch,
            document: resource.as_bytes().to_vec(),
        }),
        Some("Binary") => {
            let content_type = value
                .get("contentType")
                .and_then(|kind| kind.as_str())
                .unwrap_or("");
            let format = match content_type.split(';').next().unwrap_or("").trim() {
                "application/json-patch+json" => PatchFormat::JsonPatch,
                "application/fhir+json" => PatchFormat::FhirPathPatch,
                other => {
                    return Err(invalid(format!(
                        "A patch Binary's contentType is application/json-patch+json or application/fhir+json, not '{other}'"
                    )))
                }
            };
            let data = value.get("data").and_then(|data| data.as_str()).unwrap_or("");
            let document = base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|error| invalid(format!("Binary.data is not base64: {error}")))?;
            Ok(EntryPatch { format, document })
        }
        _ => Err(invalid(
            "A PATCH entry's resource is a Binary holding a JSON Patch, or a Parameters resource (FHIRPath Patch)".into(),
        )),
    }
}

/// The `id` a resource in an entry claims, read without preparing the resource.
pub fn claimed_id(resource: &str) -> Option<String> {
    let value = sonic_rs::get(resource, &["id"]).ok()?;
    value.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_patch_travels_base64_encoded_in_a_binary() {
        let resource = r#"{"resourceType":"Binary","contentType":"application/json-patch+json","data":"W3sib3AiOiJyZW1vdmUiLCJwYXRoIjoiL2FjdGl2ZSJ9XQ=="}"#;
        let patch = entry_patch(resource).unwrap();
        assert_eq!(patch.format, PatchFormat::JsonPatch);
        assert_eq!(patch.document, br#"[{"op":"remove","path":"/active"}]"#);
    }

    #[test]
    fn a_parameters_resource_is_a_fhirpath_patch() {
        let resource = r#"{"resourceType":"Parameters","parameter":[]}"#;
        assert_eq!(
            entry_patch(resource).unwrap().format,
            PatchFormat::FhirPathPatch
        );
    }

    #[test]
    fn any_other_resource_is_not_a_patch() {
        assert!(entry_patch(r#"{"resourceType":"Patient"}"#).is_err());
        assert!(entry_patch(
            r#"{"resourceType":"Binary","contentType":"text/plain","data":"eA=="}"#
        )
        .is_err());
    }

    #[test]
    fn the_claimed_id_is_read_without_preparing() {
        assert_eq!(
            claimed_id(r#"{"resourceType":"Patient","id":"p1"}"#).as_deref(),
            Some("p1")
        );
        assert_eq!(claimed_id(r#"{"resourceType":"Patient"}"#), None);
    }
}
