//! Rewriting references between the entries of a transaction: every string that names an
//! entry by its `fullUrl` (`urn:uuid:…`, `urn:oid:…`, or the URL a POST entry had) becomes
//! the `Type/id` the server gave that entry, and every conditional reference
//! (`Patient?identifier=…`) becomes the one resource it matched.
//! Spec: https://hl7.org/fhir/R4/http.html#trules ("the server SHALL update all references
//! … in the resource and any narrative"), bundle.html#references
//!
//! The rewrite works on the entry's raw JSON, string by string, without building a tree:
//! a string is replaced when it is exactly a mapped URL and its member is one under which
//! R4 holds a reference or a URI (`reference`, a `uri`, `url`, `oid` or `uuid` element, an
//! extension's `valueUri`: `definitions::uri_member_names`), and inside the narrative `div`
//! the `href` and `src` attributes that name a mapped URL are replaced. Other strings stay
//! as sent: an `Identifier.value` or a note's text that happens to read `urn:uuid:…` is
//! data, not a reference, and "elements of type canonical are not replaced" (http.html#trules).
//!
//! A relative reference (`Patient/a`) names an entry only through the base it resolves
//! against: the RESTful base of the entry that holds it, so it matches the entry whose
//! `fullUrl` is that base followed by `Patient/a`, never one of another server that happens
//! to end the same way; and a version-specific reference (`…/Patient/a/_history/1`) matches
//! without its version and keeps it (bundle.html#references).

use std::collections::HashMap;

use crate::ResourceType;

/// Rewrites the strings of `json` that `targets` maps (an entry's `fullUrl` or a conditional
/// reference, to the new `Type/id`); relative references resolve against `base`, the RESTful
/// base of the entry `json` is the resource of (`http://example.org/fhir`).
/// Returns `None` when nothing changed, so the caller keeps the original bytes.
///
/// ```
/// let targets = std::collections::HashMap::from([
///     ("urn:uuid:7".to_string(), "Patient/abc".to_string()),
///     ("http://x/fhir/Practitioner/1".to_string(), "Practitioner/def".to_string()),
/// ]);
/// let json = r#"{"subject":{"reference":"urn:uuid:7"},"performer":[{"reference":"Practitioner/1"}]}"#;
/// assert_eq!(
///     engine::bundle::rewrite_references(json, &targets, "http://x/fhir").unwrap(),
///     r#"{"subject":{"reference":"Patient/abc"},"performer":[{"reference":"Practitioner/def"}]}"#
/// );
/// ```
pub fn rewrite_references(
    json: &str,
    targets: &HashMap<String, String>,
    base: &str,
) -> Option<String> {
    if targets.is_empty() {
        return None;
    }
    let mut rewritten: Option<String> = None;
    // Bytes of `json` already copied into `rewritten`.
    let mut copied = 0;
    for literal in string_literals(json) {
        let replacement = if literal.member == Some("div") {
            rewrite_narrative(literal.raw, targets)
        } else if !literal
            .member
            .is_some_and(|member| crate::definitions::uri_member_names().contains(member))
        {
            None
        } else {
            let is_reference = literal.member == Some("reference");
            unescaped(literal.raw)
                .and_then(|value| target_of(&value, is_reference, targets, base))
                .map(|target| target.replace('\\', "\\\\").replace('"', "\\\""))
        };
        if let Some(replacement) = replacement {
            let output = rewritten.get_or_insert_with(|| String::with_capacity(json.len()));
            output.push_str(&json[copied..literal.start]);
            output.push_str(&replacement);
            copied = literal.start + literal.raw.len();
        }
    }
    let mut output = rewritten?;
    output.push_str(&json[copied..]);
    Some(output)
}

/// What `value` becomes: its target when it is a mapped URL; for a `reference`, also when it
/// names one relatively from `base` or with a version (kept on the new reference).
fn target_of(
    value: &str,
    is_reference: bool,
    targets: &HashMap<String, String>,
    base: &str,
) -> Option<String> {
    if let Some(target) = targets.get(value) {
        return Some(target.clone());
    }
    if !is_reference {
        return None;
    }
    let (unversioned, version) = match value.split_once("/_history/") {
        Some((unversioned, version)) => (unversioned, Some(version)),
        None => (value, None),
    };
    let is_relative = !unversioned.contains(':') && unversioned.split('/').count() == 2;
    let target = if is_relative {
        targets.get(&format!("{base}/{unversioned}"))?
    } else {
        targets.get(unversioned)?
    };
    Some(match version {
        Some(version) => format!("{target}/_history/{version}"),
        None => target.clone(),
    })
}

/// The `reference` values of `json` that name a Bundle entry by a `urn:uuid:` or `urn:oid:`
/// URN no entry has as its `fullUrl` (none in `targets`): such a reference can be resolved
/// only within the Bundle (bundle.html#references), so it would name nothing once stored.
///
/// ```
/// let targets = std::collections::HashMap::new();
/// let json = r#"{"subject":{"reference":"urn:uuid:9"},"identifier":[{"value":"urn:uuid:8"}]}"#;
/// assert_eq!(engine::bundle::unresolved_urns(json, &targets), ["urn:uuid:9"]);
/// ```
pub fn unresolved_urns(json: &str, targets: &HashMap<String, String>) -> Vec<String> {
    string_literals(json)
        .filter(|literal| literal.member == Some("reference"))
        .filter_map(|literal| unescaped(literal.raw).map(|value| value.into_owned()))
        .filter(|value| value.starts_with("urn:uuid:") || value.starts_with("urn:oid:"))
        .filter(|value| !targets.contains_key(value))
        .collect()
}

/// The conditional references of `json`: `reference` values of the form
/// `[type]?[search parameters]`, which a transaction resolves to the one resource they match.
///
/// ```
/// let json = r#"{"subject":{"reference":"Patient?identifier=http://x|1"}}"#;
/// assert_eq!(engine::bundle::conditional_references(json), ["Patient?identifier=http://x|1"]);
/// ```
pub fn conditional_references(json: &str) -> Vec<String> {
    string_literals(json)
        .filter(|literal| literal.member == Some("reference"))
        .filter_map(|literal| unescaped(literal.raw).map(|value| value.into_owned()))
        .filter(|value| {
            value.split_once('?').is_some_and(|(type_name, criteria)| {
                !criteria.is_empty() && ResourceType::parse(type_name).is_some()
            })
        })
        .collect()
}

/// Inside a narrative's XHTML (as JSON string content, quotes escaped), the `href` and `src`
/// attribute values that `targets` maps, replaced; `None` when none is.
fn rewrite_narrative(raw: &str, targets: &HashMap<String, String>) -> Option<String> {
    let mut output: Option<String> = None;
    let mut copied = 0;
    let mut position = 0;
    while let Some(found) = find_attribute(&raw[position..]) {
        let value_start = position + found;
        let rest = &raw[value_start..];
        // The value ends at its closing quote: `\"` in JSON text, or `'`.
        let value_end = rest.find(['\\', '\'', '"', ' ', '>']).unwrap_or(rest.len());
        let value = &rest[..value_end];
        let (url, fragment) = value
            .split_once('#')
            .map_or((value, None), |(url, fragment)| (url, Some(fragment)));
        if let Some(target) = targets.get(url) {
            let output = output.get_or_insert_with(|| String::with_capacity(raw.len()));
            output.push_str(&raw[copied..value_start]);
            output.push_str(target);
            if let Some(fragment) = fragment {
                output.push('#');
                output.push_str(fragment);
            }
            copied = value_start + value_end;
        }
        position = value_start + value_end.max(1);
    }
    let mut output = output?;
    output.push_str(&raw[copied..]);
    Some(output)
}

/// The offset just after the next `href=` or `src=` and its opening quote.
fn find_attribute(text: &str) -> Option<usize> {
    let mut from = 0;
    loop {
        let rest = &text[from..];
        let at = rest.find("href=").map(|at| (at, 5));
        let at_src = rest.find("src=").map(|at| (at, 4));
        let (at, length) = match (at, at_src) {
            (Some(a), Some(b)) => {
                if a.0 <= b.0 {
                    a
                } else {
                    b
                }
            }
            (Some(found), None) | (None, Some(found)) => found,
            (None, None) => return None,
        };
        let after = from + at + length;
        let tail = &text[after..];
        if let Some(quoted) = tail.strip_prefix("\\\"") {
            return Some(text.len() - quoted.len());
        }
        if let Some(quoted) = tail.strip_prefix('\'') {
            return Some(text.len() - quoted.len());
        }
        from = after;
    }
}

/// A string literal's content when it has no escapes (the common case, borrowed), or
/// decoded; `None` for an escape sequence that is not valid JSON.
fn unescaped(raw: &str) -> Option<std::borrow::Cow<'_, str>> {
    if !raw.contains('\\') {
        return Some(std::borrow::Cow::Borrowed(raw));
    }
    sonic_rs::from_str::<String>(&format!("\"{raw}\""))
        .ok()
        .map(std::borrow::Cow::Owned)
}

/// A JSON string value, with the name of the member it is the value of (or an element of,
/// for arrays).
struct Literal<'a> {
    /// Byte offset of the content (after the opening quote).
    start: usize,
    /// The content as written, escapes included.
    raw: &'a str,
    member: Option<&'a str>,
}

/// Every string value in `json` (member names excluded), in order. `json` is assumed to be
/// valid JSON (the Bundle was parsed before); on anything else the scan just ends.
fn string_literals(json: &str) -> impl Iterator<Item = Literal<'_>> {
    let bytes = json.as_bytes();
    let mut position = 0;
    let mut member: Option<&str> = None;
    std::iter::from_fn(move || loop {
        let offset = bytes[position..].iter().position(|&byte| byte == b'"')?;
        let start = position + offset + 1;
        let mut end = start;
        while end < bytes.len() && bytes[end] != b'"' {
            end += if bytes[end] == b'\\' { 2 } else { 1 };
        }
        if end >= bytes.len() {
            return None;
        }
        let raw = &json[start..end];
        position = end + 1;
        let is_name = bytes[position..]
            .iter()
            .find(|byte| !byte.is_ascii_whitespace())
            == Some(&b':');
        if is_name {
            member = Some(raw);
        } else {
            return Some(Literal { start, raw, member });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The base the resources of these tests are from.
    const BASE: &str = "http://example.org/fhir";

    fn targets(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(from, to)| ((*from).to_owned(), (*to).to_owned()))
            .collect()
    }

    #[test]
    fn a_reference_to_a_urn_uuid_becomes_the_assigned_id() {
        let json = r#"{"subject":{"reference":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"}}"#;
        let map = targets(&[(
            "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
            "Patient/p1",
        )]);
        assert_eq!(
            rewrite_references(json, &map, BASE).unwrap(),
            r#"{"subject":{"reference":"Patient/p1"}}"#
        );
    }

    #[test]
    fn uri_elements_are_rewritten_but_canonical_elements_are_not() {
        let json = r#"{"url":"urn:oid:1.2.3","instantiatesCanonical":["urn:oid:1.2.3"]}"#;
        let map = targets(&[("urn:oid:1.2.3", "PlanDefinition/d1")]);
        assert_eq!(
            rewrite_references(json, &map, BASE).unwrap(),
            r#"{"url":"PlanDefinition/d1","instantiatesCanonical":["urn:oid:1.2.3"]}"#
        );
    }

    #[test]
    fn a_relative_reference_names_an_entry_only_under_its_own_base() {
        let map = targets(&[
            (
                "http://example.org/fhir/Practitioner/a",
                "Practitioner/new-a",
            ),
            (
                "http://other.example/fhir/Practitioner/b",
                "Practitioner/new-b",
            ),
        ]);
        let json =
            r#"{"performer":[{"reference":"Practitioner/a"},{"reference":"Practitioner/b"}]}"#;
        assert_eq!(
            rewrite_references(json, &map, BASE).unwrap(),
            r#"{"performer":[{"reference":"Practitioner/new-a"},{"reference":"Practitioner/b"}]}"#
        );
    }

    #[test]
    fn a_version_specific_reference_is_matched_without_its_version_and_keeps_it() {
        let map = targets(&[("http://example.org/fhir/Patient/a", "Patient/new")]);
        let json = r#"{"subject":{"reference":"Patient/a/_history/1"},"author":{"reference":"http://example.org/fhir/Patient/a/_history/1"}}"#;
        assert_eq!(
            rewrite_references(json, &map, BASE).unwrap(),
            r#"{"subject":{"reference":"Patient/new/_history/1"},"author":{"reference":"Patient/new/_history/1"}}"#
        );
    }

    #[test]
    fn member_names_and_partial_matches_are_left_alone() {
        let json = r#"{"urn:uuid:1":"x","note":"see urn:uuid:1","reference":"urn:uuid:10"}"#;
        assert_eq!(
            rewrite_references(json, &targets(&[("urn:uuid:1", "Patient/p")]), BASE),
            None
        );
    }

    #[test]
    fn narrative_links_and_images_are_rewritten_with_their_fragment() {
        let json = r#"{"text":{"div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><a href=\"urn:uuid:1#x\">p</a><img src='urn:uuid:2'/></div>"}}"#;
        let map = targets(&[("urn:uuid:1", "Patient/p"), ("urn:uuid:2", "Binary/b")]);
        assert_eq!(
            rewrite_references(json, &map, BASE).unwrap(),
            r#"{"text":{"div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><a href=\"Patient/p#x\">p</a><img src='Binary/b'/></div>"}}"#
        );
    }

    #[test]
    fn escaped_strings_are_compared_by_their_value() {
        let json = r#"{"reference":"urn:uuid:\u0031"}"#;
        assert_eq!(
            rewrite_references(json, &targets(&[("urn:uuid:1", "Patient/p")]), BASE).unwrap(),
            r#"{"reference":"Patient/p"}"#
        );
    }

    #[test]
    fn conditional_references_are_found_only_in_reference_members() {
        let json = r#"{"subject":{"reference":"Patient?identifier=a|1"},"note":[{"text":"Patient?x=1"}],
            "performer":[{"reference":"Practitioner/1"},{"reference":"NotAType?x=1"}]}"#;
        assert_eq!(conditional_references(json), ["Patient?identifier=a|1"]);
    }

    #[test]
    fn strings_that_are_not_references_or_uris_stay_as_sent() {
        let targets = HashMap::from([("urn:uuid:p".to_string(), "Patient/1".to_string())]);
        let json = r#"{"resourceType":"Observation","identifier":[{"system":"urn:ietf:rfc:3986","value":"urn:uuid:p"}],"note":[{"text":"urn:uuid:p"}],"subject":{"reference":"urn:uuid:p"},"extension":[{"url":"http://x","valueUri":"urn:uuid:p"}]}"#;
        assert_eq!(
            rewrite_references(json, &targets, BASE).unwrap(),
            r#"{"resourceType":"Observation","identifier":[{"system":"urn:ietf:rfc:3986","value":"urn:uuid:p"}],"note":[{"text":"urn:uuid:p"}],"subject":{"reference":"Patient/1"},"extension":[{"url":"http://x","valueUri":"Patient/1"}]}"#
        );
    }
}
