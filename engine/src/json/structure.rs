//! The rules of FHIR JSON, checked in one walk over the parsed body: every member names an
//! element of its owner and is written as that element's type is (a `boolean` as `true` or
//! `false`, the integers and `decimal` as numbers, other primitives as strings, datatypes and
//! backbone elements as objects, a repeating element as an array and no other element as one),
//! with no `null`, no empty strings, arrays or objects and no duplicate keys. Choice elements
//! are resolved by their type suffix (`valueQuantity`), `_name` members hold a primitive's id
//! and extensions, and resources inside resources (`contained`, `Bundle.entry.resource`,
//! `Parameters.parameter.resource`) are checked as their own `resourceType`.
//! Spec: https://hl7.org/fhir/R4/json.html
//!
//! Members that name no element are errors. json.html lets a strict parser reject them, and
//! Ember stores what it accepts and serves it back: an element it cannot name (a misspelt
//! `birthdate`, an element of another FHIR version) would be kept, never indexed, and break
//! strict readers. Every resource in the official R4 examples package passes (the tests
//! below and docs/testing.md, "Official examples").
// PERF: hot path (every create and update); see benches/benches/json_parse.rs.

use std::collections::HashSet;

use sonic_rs::{JsonContainerTrait, JsonType, JsonValueTrait, Object, Value};

use super::ingest::IngestChecks;
use super::member::{example_choice_name, resolve, Kind, Member, Unknown};
use super::syntax::{
    forbidden_control_character, is_valid_instant, valid_base64, valid_date_time, valid_time,
    zoned_when_timed,
};
use crate::definitions::children;
use crate::ids::truncate_for_message;
use crate::{Issue, ResourceType};

/// One report is enough to fix a body; a hostile body must not produce a huge OperationOutcome.
const MAX_ISSUES: usize = 50;

enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

/// How the members of an object are read.
#[derive(Debug, Clone, Copy)]
enum Scope {
    /// A resource of this type: `resourceType`, and the elements listed under the type.
    Resource(&'static str),
    /// A datatype or backbone element: the elements listed under this owner, a type name
    /// (`HumanName`) or a backbone element's path (`Observation.component`).
    Element(&'static str),
    /// Inside a resource whose type is unknown, which is reported already: structure only.
    Unchecked,
}

/// Checks `resource`, the parsed body, as a resource of `resource_type` (structure only when
/// the type is unknown) and appends one issue per problem, each with its FHIRPath-like
/// location.
///
/// The walk recurses once per nesting level; `depth::nests_too_deep` has already refused
/// bodies deeper than `depth::MAX_DEPTH`, which bounds the recursion.
pub(super) fn check_structure(
    resource: &Object,
    resource_type: Option<ResourceType>,
    checks: IngestChecks,
    issues: &mut Vec<Issue>,
) {
    let mut walk = Walk {
        type_name: resource_type.map_or("Resource", ResourceType::as_str),
        path: Vec::new(),
        checks,
        issues,
    };
    let scope = resource_type.map_or(Scope::Unchecked, |kind| Scope::Resource(kind.as_str()));
    walk.check_object(resource, scope);
}

struct Walk<'a, 'i> {
    /// The body's resource type, which starts every expression.
    type_name: &'static str,
    /// Where the walk is, for the expressions of issues.
    path: Vec<Segment<'a>>,
    checks: IngestChecks,
    issues: &'i mut Vec<Issue>,
}

impl<'a> Walk<'a, '_> {
    fn check_object(&mut self, object: &'a Object, scope: Scope) {
        // The owner's elements, looked up once for all its members.
        let elements = match scope {
            Scope::Resource(owner) | Scope::Element(owner) => children(owner),
            Scope::Unchecked => None,
        };
        let members: Vec<(&'a str, &'a Value)> = object.iter().collect();
        // In increasing order, so one pass over both finds them.
        let mut duplicates = self.report_duplicates(&members).into_iter().peekable();
        // The choice elements met so far, with the member that gave each: one value per choice.
        let mut choices: Vec<(&'static str, &'a str)> = Vec::new();
        for (index, &(key, value)) in members.iter().enumerate() {
            if self.is_full() {
                return;
            }
            if duplicates.next_if_eq(&index).is_some() {
                continue;
            }
            self.path.push(Segment::Key(key));
            if value.is_null() {
                self.report(
                    "structure",
                    "null is not allowed in FHIR JSON; leave the element out".into(),
                );
            } else {
                match scope {
                    Scope::Unchecked => self.check_untyped(value),
                    // Read where the resource begins (`check_resource`, or ingest for the body).
                    Scope::Resource(_) if key == "resourceType" => {}
                    Scope::Resource(owner) | Scope::Element(owner) => {
                        let resolved = elements
                            .ok_or(Unknown::Name)
                            .and_then(|elements| resolve(elements, key));
                        match resolved {
                            Ok(member) => {
                                if member.element.is_choice() && !member.primitive_extension {
                                    self.check_one_choice(&mut choices, member, key);
                                }
                                self.check_member(object, key, member, value);
                            }
                            Err(unknown) => self.report_unknown(owner, key, unknown),
                        }
                    }
                }
            }
            self.path.pop();
        }
    }

    /// Reports each repeated key at its second and later occurrences, and returns the
    /// positions of the repeats, in increasing order, so that the walk skips them.
    fn report_duplicates(&mut self, members: &[(&'a str, &'a Value)]) -> Vec<usize> {
        let mut duplicates = Vec::new();
        // Resources have a few dozen keys per object, where scanning the earlier keys beats
        // hashing; a hostile object with 100,000 keys must not cost 5·10⁹ comparisons.
        let mut seen = (members.len() > 16).then(|| HashSet::with_capacity(members.len()));
        for (index, &(key, _)) in members.iter().enumerate() {
            let duplicate = match &mut seen {
                Some(seen) => !seen.insert(key),
                None => members[..index].iter().any(|&(earlier, _)| earlier == key),
            };
            if duplicate {
                duplicates.push(index);
                self.path.push(Segment::Key(key));
                self.report(
                    "structure",
                    format!(
                        "The key '{}' appears more than once",
                        truncate_for_message(key)
                    ),
                );
                self.path.pop();
            }
        }
        duplicates
    }

    fn check_one_choice(
        &mut self,
        choices: &mut Vec<(&'static str, &'a str)>,
        member: Member,
        key: &'a str,
    ) {
        let path = member.element.path;
        match choices.iter().find(|(earlier, _)| *earlier == path) {
            Some((_, earlier_key)) => self.report(
                "structure",
                format!(
                    "'{earlier_key}' and '{key}' are two values of the one choice element {}[x]",
                    member.element.name
                ),
            ),
            None => choices.push((path, key)),
        }
    }

    /// Checks the member `key` of `object` against its element: an array exactly when the
    /// element repeats, each value of the element's type.
    fn check_member(&mut self, object: &'a Object, key: &'a str, member: Member, value: &'a Value) {
        let repeats = member.element.repeats;
        let Some(array) = value.as_array() else {
            if repeats {
                self.report(
                    "structure",
                    format!(
                        "'{key}' can repeat, so JSON writes it as an array, even for one value"
                    ),
                );
            } else {
                self.check_value(key, member, value);
            }
            return;
        };
        if !repeats {
            self.report(
                "structure",
                format!("'{key}' cannot repeat, so it must not be an array"),
            );
            return;
        }
        if array.is_empty() {
            self.report(
                "structure",
                "Empty arrays are not allowed in FHIR JSON".into(),
            );
            return;
        }
        let primitive = member.is_primitive();
        let mut has_null = false;
        for (index, item) in array.iter().enumerate() {
            if self.is_full() {
                return;
            }
            self.path.push(Segment::Index(index));
            if !item.is_null() {
                self.check_value(key, member, item);
            } else if primitive {
                // null aligns a primitive array with its `_name` array (json.html#primitive).
                has_null = true;
            } else {
                self.report(
                    "structure",
                    "null is allowed in an array only to align primitive values with their extensions"
                        .into(),
                );
            }
            self.path.pop();
        }
        if member.primitive_extension || has_null {
            self.check_alignment(object, key, member, array);
        }
    }

    /// A primitive array and its `_name` array pair up item by item: same length, and no
    /// position null in both (json.html#primitive).
    fn check_alignment(&mut self, object: &Object, key: &str, member: Member, array: &[Value]) {
        let sibling_key = if member.primitive_extension {
            key[1..].to_owned()
        } else {
            format!("_{key}")
        };
        let Some(sibling) = object.get(&sibling_key).and_then(|value| value.as_array()) else {
            if !member.primitive_extension {
                self.report(
                    "structure",
                    format!("'{key}' holds null, which is allowed only where '{sibling_key}' has the extensions of that item"),
                );
            }
            return;
        };
        if member.primitive_extension {
            // The pair is checked once, from the `_name` side.
            if sibling.len() != array.len() {
                self.report(
                    "structure",
                    format!(
                        "'{key}' has {} items and '{sibling_key}' {}; they align item by item",
                        array.len(),
                        sibling.len()
                    ),
                );
            } else if let Some(index) =
                (0..array.len()).find(|&index| array[index].is_null() && sibling[index].is_null())
            {
                self.report(
                    "structure",
                    format!("'{key}' and '{sibling_key}' are both null at index {index}"),
                );
            }
        }
    }

    /// Checks one value (not an array) of the element `member`.
    fn check_value(&mut self, key: &str, member: Member, value: &'a Value) {
        let kind = member.kind();
        match (kind, value.get_type()) {
            (Kind::Boolean, JsonType::Boolean) | (Kind::Decimal, JsonType::Number) => {}
            (Kind::Integer, JsonType::Number) => self.check_integer(key, member.type_name, value),
            (Kind::String, JsonType::String) => {
                let text = value.as_str().unwrap_or_default();
                self.check_string(text);
                self.check_syntax(member.type_name, text);
                // An empty code is reported as an empty string already.
                if member.type_name == "code" && !text.is_empty() && self.checks.required_codes {
                    self.check_required_code(key, member.element.path, text);
                }
            }
            (Kind::Object, JsonType::Object) => {
                self.check_non_empty_object(value, Scope::Element(member.children()));
            }
            (Kind::Resource, JsonType::Object) => {
                self.check_resource(value.as_object().expect("JsonType::Object is an object"));
            }
            (_, found) => {
                let found = match found {
                    JsonType::Null => "null",
                    JsonType::Boolean => "a boolean",
                    JsonType::Number => "a number",
                    JsonType::String => "a string",
                    JsonType::Object => "an object",
                    JsonType::Array => "an array",
                };
                let what = if member.primitive_extension {
                    "holds the id and extensions of a primitive".to_owned()
                } else {
                    format!("is a FHIR {}", member.type_name)
                };
                self.report(
                    "structure",
                    format!(
                        "'{key}' {what}, which JSON writes as {}, not {found}",
                        kind.describe()
                    ),
                );
            }
        }
    }

    /// `integer`, `positiveInt` and `unsignedInt` are 32-bit whole numbers (datatypes.html).
    fn check_integer(&mut self, key: &str, type_name: &str, value: &Value) {
        let (min, range) = match type_name {
            "positiveInt" => (1, "from 1 to 2,147,483,647"),
            "unsignedInt" => (0, "from 0 to 2,147,483,647"),
            _ => (i64::from(i32::MIN), "from -2,147,483,648 to 2,147,483,647"),
        };
        let Some(number) = value.as_raw_number() else {
            return;
        };
        let text = number.as_str();
        let whole = text.parse::<i64>().ok();
        if !whole.is_some_and(|whole| (min..=i64::from(i32::MAX)).contains(&whole)) {
            self.report(
                "value",
                format!(
                    "'{key}' is a FHIR {type_name}, a whole number {range}, which {} is not",
                    truncate_for_message(text)
                ),
            );
        }
    }

    /// A resource inside a resource, checked as the type its `resourceType` names.
    fn check_resource(&mut self, object: &'a Object) {
        if object.is_empty() {
            self.report(
                "structure",
                "Empty objects are not allowed in FHIR JSON".into(),
            );
            return;
        }
        let Some(name) = object.get(&"resourceType") else {
            self.report(
                "structure",
                "A resource here needs its 'resourceType'".into(),
            );
            return self.check_object(object, Scope::Unchecked);
        };
        // R4 types `Resource.id` as a plain string; its syntax is the `id` type's
        // (resource.html#id). The outermost resource's id is checked against its URL.
        if let Some(id) = object.get(&"id").and_then(|id| id.as_str()) {
            self.path.push(Segment::Key("id"));
            self.check_syntax("id", id);
            self.path.pop();
        }
        match name.as_str().and_then(ResourceType::parse) {
            Some(kind) => self.check_object(object, Scope::Resource(kind.as_str())),
            None => {
                self.path.push(Segment::Key("resourceType"));
                let diagnostics = match name.as_str() {
                    Some(name) => format!(
                        "'{}' is not an R4 resource type",
                        truncate_for_message(name)
                    ),
                    None => "'resourceType' must be a string".to_owned(),
                };
                self.report("structure", diagnostics);
                self.path.pop();
                self.check_object(object, Scope::Unchecked);
            }
        }
    }

    /// An object value: empty ones are refused, others checked member by member in `scope`.
    fn check_non_empty_object(&mut self, value: &'a Value, scope: Scope) {
        let object = value.as_object().expect("JsonType::Object is an object");
        if object.is_empty() {
            self.report(
                "structure",
                "Empty objects are not allowed in FHIR JSON".into(),
            );
        } else {
            self.check_object(object, scope);
        }
    }

    /// What is left to check of a value whose element is not known: its structure.
    fn check_untyped(&mut self, value: &'a Value) {
        if self.is_full() {
            return;
        }
        match value.get_type() {
            JsonType::Object => self.check_non_empty_object(value, Scope::Unchecked),
            JsonType::Array => {
                let array = value.as_array().expect("JsonType::Array is an array");
                if array.is_empty() {
                    self.report(
                        "structure",
                        "Empty arrays are not allowed in FHIR JSON".into(),
                    );
                }
                for (index, item) in array.iter().enumerate() {
                    if !item.is_null() {
                        self.path.push(Segment::Index(index));
                        self.check_untyped(item);
                        self.path.pop();
                    }
                }
            }
            JsonType::String => self.check_string(value.as_str().unwrap_or_default()),
            _ => {}
        }
    }

    /// A `date`, `dateTime`, `instant` or `time` that names no moment: a day the calendar
    /// lacks (2023-02-29), hour 24, year 0000 (datatypes.html: years from 0001), `time`
    /// 25:00:00, a time of day with no zone. Such a value would be indexed as nothing, or as
    /// a moment its writer did not mean, and found by the wrong date searches.
    ///
    /// So is an `id` or a `base64Binary` outside its alphabet (datatypes.html#id,
    /// #base64Binary): a contained resource named `bad id!` could never be referenced.
    fn check_syntax(&mut self, type_name: &str, text: &str) {
        let valid = match type_name {
            "date" => text.len() <= 10 && valid_date_time(text),
            "dateTime" => valid_date_time(text) && zoned_when_timed(text),
            "instant" => is_valid_instant(text),
            "time" => valid_time(text),
            "id" => crate::Id::parse(text).is_ok(),
            "base64Binary" => valid_base64(text),
            _ => return,
        };
        if !valid {
            self.report(
                "value",
                format!(
                    "'{}' is not a valid FHIR {type_name}",
                    truncate_for_message(text)
                ),
            );
        }
    }

    /// A `code` whose binding is required holds one of its value set's codes
    /// (terminologies.html#required: it "SHALL be from the specified value set"; FHIR's own
    /// schemas enumerate them). A `gender` of `Male` or a `status` of `done` would be stored
    /// and then never found by the searches that name the real codes.
    fn check_required_code(&mut self, key: &str, element_path: &str, code: &str) {
        let Some(allowed) = crate::definitions::required_codes(element_path) else {
            return;
        };
        if allowed.contains(code) {
            return;
        }
        let choices = if allowed.len() <= 12 {
            let mut codes: Vec<&str> = allowed.iter().copied().collect();
            codes.sort_unstable();
            format!("one of {}", codes.join(", "))
        } else {
            format!("one of the {} codes of its value set", allowed.len())
        };
        self.report(
            "code-invalid",
            format!(
                "'{}' is not a code '{key}' may hold: its binding is required, {choices}",
                truncate_for_message(code)
            ),
        );
    }

    /// A string value: not empty, and (datatypes.html#string) with no "Unicode character
    /// points below 32, except for u0009 (horizontal tab), u0010 (carriage return) and u0013
    /// (line feed)". PostgreSQL cannot store U+0000 in text at all.
    fn check_string(&mut self, text: &str) {
        if text.is_empty() {
            self.report(
                "structure",
                "Empty strings are not allowed in FHIR JSON".into(),
            );
        } else if let Some(control) = forbidden_control_character(text) {
            self.report(
                "structure",
                format!(
                    "Strings may not hold control characters other than tab, carriage return and line feed (found U+{control:04X})"
                ),
            );
        }
    }

    fn report_unknown(&mut self, owner: &str, key: &str, unknown: Unknown) {
        let key = truncate_for_message(key);
        let why = match unknown {
            Unknown::Name => String::new(),
            Unknown::BareChoice(element) => format!(
                ": a choice element is named with its type, as in '{}'",
                example_choice_name(element)
            ),
            Unknown::NotPrimitive(member) => format!(
                ": '_' marks the id and extensions of a primitive, and '{}' is a {}",
                &key[1..],
                member.type_name
            ),
        };
        self.report(
            "structure",
            format!("'{key}' is not an element of {owner}{why}"),
        );
    }

    fn is_full(&self) -> bool {
        self.issues.len() >= MAX_ISSUES
    }

    fn report(&mut self, code: &'static str, diagnostics: String) {
        if !self.is_full() {
            let expression = expression(self.type_name, &self.path);
            self.issues
                .push(Issue::error(code, diagnostics).at(expression));
        }
    }
}

fn expression(type_name: &str, path: &[Segment<'_>]) -> String {
    let mut text = String::from(type_name);
    for segment in path {
        match segment {
            Segment::Key(key) => {
                text.push('.');
                text.push_str(key);
            }
            Segment::Index(index) => {
                text.push('[');
                text.push_str(&index.to_string());
                text.push(']');
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use crate::{prepare_resource, Error, Issue};

    fn issues(body: &str) -> Vec<(String, String)> {
        match prepare_resource(body.as_bytes()) {
            Err(Error::InvalidResource(issues)) => issues
                .into_iter()
                .map(
                    |Issue {
                         diagnostics,
                         expression,
                         ..
                     }| (expression.unwrap_or_default(), diagnostics),
                )
                .collect(),
            other => panic!("expected invalid resource, got {other:?}"),
        }
    }

    #[test]
    fn null_member_is_rejected_with_its_location() {
        assert_eq!(
            issues(r#"{"resourceType":"Patient","name":[{"family":null}]}"#),
            [(
                "Patient.name[0].family".into(),
                "null is not allowed in FHIR JSON; leave the element out".into()
            )]
        );
    }

    #[test]
    fn null_inside_a_primitive_array_is_allowed_for_extension_alignment() {
        let body = r#"{"resourceType":"Patient","name":[{"given":["A",null],"_given":[null,{"id":"x"}]}]}"#;
        assert!(prepare_resource(body.as_bytes()).is_ok());
    }

    #[test]
    fn empty_string_array_and_object_are_each_reported() {
        let found = issues(r#"{"resourceType":"Patient","gender":"","name":[],"text":{}}"#);
        let locations: Vec<&str> = found
            .iter()
            .map(|(location, _)| location.as_str())
            .collect();
        assert_eq!(
            locations,
            ["Patient.gender", "Patient.name", "Patient.text"]
        );
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let found = issues(r#"{"resourceType":"Patient","active":true,"active":false}"#);
        assert_eq!(
            found,
            [(
                "Patient.active".into(),
                "The key 'active' appears more than once".into()
            )]
        );
    }

    #[test]
    fn duplicate_keys_are_found_in_wide_objects_too() {
        let members: String = (0..50_000)
            .map(|index| format!(r#""k{index}":1,"#))
            .collect();
        let body = format!(r#"{{"resourceType":"Basic","extension":[{{{members}"k7":2}}]}}"#);
        let found = issues(&body);
        // Duplicates are reported before what the members are; the k0, k1, … that Extension
        // does not define fill the rest of the 50 issues.
        assert_eq!(
            found[0],
            (
                "Basic.extension[0].k7".into(),
                "The key 'k7' appears more than once".into()
            )
        );
        assert_eq!(found.len(), 50);
    }

    #[test]
    fn hostile_nesting_is_refused_without_exhausting_the_stack() {
        let depth = 100_000;
        let body = format!(
            r#"{{"resourceType":"Basic","extension":{}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        assert!(prepare_resource(body.as_bytes()).is_err());
    }

    #[test]
    fn control_characters_in_strings_are_reported_but_tab_and_newlines_are_not() {
        let with = |text: &str| {
            prepare_resource(
                format!(r#"{{"resourceType":"Patient","name":[{{"family":"{text}"}}]}}"#)
                    .as_bytes(),
            )
        };
        assert!(
            issues(r#"{"resourceType":"Patient","name":[{"family":"a\u0000b"}]}"#)
                .iter()
                .any(|(_, diagnostics)| diagnostics.contains("U+0000"))
        );
        assert!(with(r"a\u0001b").is_err());
        assert!(with(r"a\tb\nc\rd").is_ok());
    }

    #[test]
    fn contained_ids_and_base64_outside_their_alphabet_are_reported() {
        let patient = |member: &str| {
            prepare_resource(format!(r#"{{"resourceType":"Patient",{member}}}"#).as_bytes())
        };
        for bad in [
            r#""contained":[{"resourceType":"Organization","id":"bad id!"}]"#,
            r#""photo":[{"data":"!!!notbase64"}]"#,
            r#""photo":[{"data":"abc"}]"#,
        ] {
            assert!(patient(bad).is_err(), "{bad}");
        }
        for good in [
            r#""contained":[{"resourceType":"Organization","id":"org-1.a"}]"#,
            r#""photo":[{"data":"aGVsbG8="}]"#,
            r#""photo":[{"data":"aGVs bG8h"}]"#,
        ] {
            assert!(patient(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn dates_and_times_that_name_no_moment_are_reported() {
        let patient = |member: &str| {
            prepare_resource(format!(r#"{{"resourceType":"Patient",{member}}}"#).as_bytes())
        };
        for bad in [
            r#""birthDate":"2023-02-29""#,
            r#""birthDate":"0000-01-01""#,
            r#""birthDate":"2020-01-01T10:00:00Z""#,
            r#""deceasedDateTime":"2020-01-01T24:00:00Z""#,
            r#""deceasedDateTime":"2020-01-01T10:00:00""#,
            r#""deceasedDateTime":"2020-01-01t10:00:00Z""#,
            r#""deceasedDateTime":"2020-01-01T10:00:00-14:30""#,
            r#""deceasedDateTime":"2020-01-01T10:00Z""#,
        ] {
            assert!(patient(bad).is_err(), "{bad}");
        }
        for good in [
            r#""birthDate":"2024-02-29""#,
            r#""birthDate":"1974""#,
            r#""deceasedDateTime":"2020-03""#,
            r#""deceasedDateTime":"2020-01-01T10:00:00.123+01:00""#,
            r#""deceasedDateTime":"2020-01-01T10:00:00-14:00""#,
        ] {
            assert!(patient(good).is_ok(), "{good}");
        }
        let observation = |time: &str| {
            prepare_resource(
                format!(r#"{{"resourceType":"Observation","status":"final","code":{{"text":"x"}},"valueTime":"{time}"}}"#)
                    .as_bytes(),
            )
        };
        assert!(observation("25:00:00").is_err());
        assert!(observation("23:59:59.5").is_ok());
    }
}
