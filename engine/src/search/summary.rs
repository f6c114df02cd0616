//! `_summary=true`: a resource cut down to the elements its R4 definition marks `isSummary`,
//! through its backbone elements, with datatypes kept whole but for `Attachment.data`.
//! Spec: https://hl7.org/fhir/R4/search.html#summary, https://hl7.org/fhir/R4/elementdefinition-definitions.html#ElementDefinition.isSummary
//!
//! ElementDefinition.isSummary says "serializers only include elements marked as
//! 'isSummary = true'. Other than Attachment.data, all data type properties are included", so
//! the flags are read on the resource's own elements and on its backbone elements (whose
//! children are defined in the resource), and a datatype's value is copied with only its
//! Attachments' `data` left out. Elements marked `isModifier` are kept too: R4 marks every
//! resource's `modifierExtension` as a modifier but not a summary element, and a client that
//! is not shown a modifier extension would read the rest as meaning what it does not. The
//! search.html wording ("return at least the summary elements") allows the addition.

use sonic_rs::{JsonContainerTrait, JsonValueTrait, Object, Value};

use super::subset::{write_meta_with_subsetted, write_subsetted_meta};
use crate::definitions::children;
use crate::json::member::{resolve, Kind, Member};
use crate::ResourceType;

/// Where the members of an object come from, which decides what is kept of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    /// The resource itself or one of its backbone elements: the summary flags decide.
    Resource,
    /// A datatype's value: every element but `Attachment.data`.
    Datatype,
}

/// Writes the `_summary=true` form of `resource`, a stored resource, with `meta` tagged
/// SUBSETTED; `None` if it has no known `resourceType`.
pub(super) fn write_summary(resource: &Object, out: &mut Vec<u8>) -> Option<()> {
    let name = resource.get(&"resourceType")?.as_str()?;
    let resource_type = ResourceType::parse(name)?;
    out.push(b'{');
    let mut first = true;
    let mut tagged = false;
    for (key, value) in resource.iter() {
        let member = match key {
            "resourceType" => None,
            "meta" => {
                write_key(out, &mut first, key);
                write_meta_with_subsetted(value, out);
                tagged = true;
                continue;
            }
            _ => match kept(resource_type.as_str(), key, Level::Resource) {
                Some(member) => Some(member),
                None => continue,
            },
        };
        write_key(out, &mut first, key);
        write_value(out, member, value);
    }
    if !tagged {
        write_key(out, &mut first, "meta");
        write_subsetted_meta(out);
    }
    out.push(b'}');
    Some(())
}

/// The member `key` of an object whose elements are listed under `owner`, if a summary keeps
/// it. Members that name no element (stored before ingest checked elements) are left out.
fn kept(owner: &str, key: &str, level: Level) -> Option<Member> {
    let member = resolve(children(owner)?, key).ok()?;
    let element = member.element;
    let keep = match level {
        Level::Resource => element.summary || element.modifier,
        Level::Datatype => element.path != "Attachment.data",
    };
    keep.then_some(member)
}

/// Writes `value`, of the element `member` (`None`: `resourceType`), keeping what a summary
/// keeps inside it.
fn write_value(out: &mut Vec<u8>, member: Option<Member>, value: &Value) {
    let Some(member) = member.filter(|member| member.kind() == Kind::Object) else {
        // Primitives, `_name` extensions and resources in resources are copied whole.
        write_raw(out, value);
        return;
    };
    let owner = member.children();
    // A backbone element's children are listed under its path (`Observation.component`), a
    // datatype's under its name (`Quantity`).
    let level = if owner.contains('.') {
        Level::Resource
    } else {
        Level::Datatype
    };
    match value.as_array() {
        Some(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_object(out, owner, level, item);
            }
            out.push(b']');
        }
        None => write_object(out, owner, level, value),
    }
}

fn write_object(out: &mut Vec<u8>, owner: &str, level: Level, value: &Value) {
    let Some(object) = value.as_object() else {
        write_raw(out, value);
        return;
    };
    out.push(b'{');
    let mut first = true;
    for (key, member) in object.iter() {
        if let Some(kept) = kept(owner, key, level) {
            write_key(out, &mut first, key);
            write_value(out, Some(kept), member);
        }
    }
    out.push(b'}');
}

fn write_key(out: &mut Vec<u8>, first: &mut bool, key: &str) {
    if !*first {
        out.push(b',');
    }
    *first = false;
    out.extend_from_slice(crate::json_string(key).as_bytes());
    out.push(b':');
}

fn write_raw(out: &mut Vec<u8>, value: &Value) {
    // A parsed Value always serialises; numbers keep their text (arbitrary_precision).
    let _ = sonic_rs::to_writer(&mut *out, value);
}

#[cfg(test)]
mod tests {
    use crate::search::{subset, Summary};

    fn check(stored: &str, expected: &str) {
        let subset = subset(stored.as_bytes(), Summary::True, &[]).unwrap();
        assert_eq!(std::str::from_utf8(&subset).unwrap(), expected);
    }

    const SUBSETTED: &str = r#"{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"SUBSETTED","display":"subsetted"}"#;

    /// Source: https://hl7.org/fhir/R4/search.html#summary and patient.html (isSummary: name,
    /// gender, birthDate, address, link; not text, maritalStatus, contact, communication)
    #[test]
    fn summary_true_keeps_the_summary_elements_of_a_patient() {
        check(
            r#"{"resourceType":"Patient","id":"p","meta":{"versionId":"1","lastUpdated":"2026-11-23T10:00:00.000000Z"},"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},"extension":[{"url":"http://e.org/x","valueString":"x"}],"modifierExtension":[{"url":"http://e.org/m","valueBoolean":true}],"identifier":[{"system":"urn:s","value":"1"}],"active":true,"name":[{"family":"Chalmers","given":["Peter"],"_given":[{"id":"g"}]}],"gender":"male","_gender":{"id":"gx"},"birthDate":"1974-12-25","maritalStatus":{"text":"married"},"multipleBirthInteger":2,"photo":[{"contentType":"image/png","data":"aGk="}],"contact":[{"name":{"family":"Du Marché"}}],"communication":[{"language":{"text":"nl"}}],"link":[{"other":{"reference":"Patient/q"},"type":"seealso"}]}"#,
            &format!(
                r#"{{"resourceType":"Patient","id":"p","meta":{{"versionId":"1","lastUpdated":"2026-11-23T10:00:00.000000Z","tag":[{SUBSETTED}]}},"modifierExtension":[{{"url":"http://e.org/m","valueBoolean":true}}],"identifier":[{{"system":"urn:s","value":"1"}}],"active":true,"name":[{{"family":"Chalmers","given":["Peter"],"_given":[{{"id":"g"}}]}}],"gender":"male","_gender":{{"id":"gx"}},"birthDate":"1974-12-25","link":[{{"other":{{"reference":"Patient/q"}},"type":"seealso"}}]}}"#
            ),
        );
    }

    /// Source: https://hl7.org/fhir/R4/search.html#summary and observation.html (isSummary:
    /// status, code, subject, effective[x], value[x], component with its code and value[x];
    /// not category, interpretation, note, referenceRange, component.interpretation)
    #[test]
    fn summary_true_keeps_the_summary_elements_of_an_observation_and_its_components() {
        check(
            r#"{"resourceType":"Observation","id":"o","meta":{"versionId":"2","lastUpdated":"2026-11-23T10:00:00.000000Z","tag":[{"code":"t"}]},"status":"final","category":[{"text":"vital-signs"}],"code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/p"},"effectiveDateTime":"2026-11-23","valueQuantity":{"value":1.50,"unit":"mg"},"interpretation":[{"text":"high"}],"note":[{"text":"n"}],"referenceRange":[{"low":{"value":1}}],"component":[{"code":{"text":"systolic"},"valueQuantity":{"value":107},"interpretation":[{"text":"normal"}]}]}"#,
            &format!(
                r#"{{"resourceType":"Observation","id":"o","meta":{{"versionId":"2","lastUpdated":"2026-11-23T10:00:00.000000Z","tag":[{{"code":"t"}},{SUBSETTED}]}},"status":"final","code":{{"coding":[{{"system":"http://loinc.org","code":"85354-9"}}]}},"subject":{{"reference":"Patient/p"}},"effectiveDateTime":"2026-11-23","valueQuantity":{{"value":1.50,"unit":"mg"}},"component":[{{"code":{{"text":"systolic"}},"valueQuantity":{{"value":107}}}}]}}"#
            ),
        );
    }

    /// Source: https://hl7.org/fhir/R4/elementdefinition-definitions.html#ElementDefinition.isSummary
    /// ("Other than Attachment.data, all data type properties are included")
    #[test]
    fn summary_true_keeps_datatypes_whole_but_for_attachment_data() {
        check(
            r#"{"resourceType":"DocumentReference","id":"d","meta":{"versionId":"1"},"status":"current","content":[{"attachment":{"contentType":"text/plain","data":"aGk=","_data":{"id":"x"},"title":"t","extension":[{"url":"http://e.org/x","valueAttachment":{"data":"aGk=","url":"http://e.org/a"}}]}}]}"#,
            &format!(
                r#"{{"resourceType":"DocumentReference","id":"d","meta":{{"versionId":"1","tag":[{SUBSETTED}]}},"status":"current","content":[{{"attachment":{{"contentType":"text/plain","title":"t","extension":[{{"url":"http://e.org/x","valueAttachment":{{"url":"http://e.org/a"}}}}]}}}}]}}"#
            ),
        );
    }

    /// Source: https://hl7.org/fhir/R4/bundle.html (Bundle.entry.resource is a summary element)
    #[test]
    fn summary_true_keeps_resources_inside_resources_whole() {
        check(
            r#"{"resourceType":"Bundle","id":"b","meta":{"versionId":"1"},"type":"collection","entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient","maritalStatus":{"text":"m"}}}]}"#,
            &format!(
                r#"{{"resourceType":"Bundle","id":"b","meta":{{"versionId":"1","tag":[{SUBSETTED}]}},"type":"collection","entry":[{{"fullUrl":"urn:uuid:1","resource":{{"resourceType":"Patient","maritalStatus":{{"text":"m"}}}}}}]}}"#
            ),
        );
    }
}
