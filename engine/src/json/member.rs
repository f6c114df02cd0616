//! Which element a JSON member is (plain, a choice by its type suffix, or the `_name` of a
//! primitive), and which JSON kind its FHIR type is written as.
//! Spec: https://hl7.org/fhir/R4/json.html (primitives, `_name`), https://hl7.org/fhir/R4/formats.html#choice
// PERF: runs once per member of every body written; see benches/benches/json_parse.rs.

use crate::definitions::{Children, ElementDefinition};

/// What a member of a JSON object stands for, resolved against the definitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) element: &'static ElementDefinition,
    /// The one FHIR type of this member: the element's type, or for a choice element the type
    /// its JSON name ends with (`valueQuantity` → `Quantity`).
    pub(crate) type_name: &'static str,
    /// `_birthDate`: the id and extensions of a primitive, not its value.
    pub(crate) primitive_extension: bool,
}

impl Member {
    /// Where the children of an object of this member are listed: a backbone element's own
    /// path, a content reference's target, or the datatype's name.
    pub(crate) fn children(&self) -> &'static str {
        if self.primitive_extension {
            // `_name` holds what every primitive has besides its value: `id` and `extension`.
            "Element"
        } else if self.element.children.is_empty() {
            // A choice element lists no children of its own; its chosen type does.
            self.type_name
        } else {
            self.element.children
        }
    }

    /// Whether the element's type is a primitive (also for its `_name` member).
    pub(crate) fn is_primitive(&self) -> bool {
        !matches!(kind(self.type_name), Kind::Object | Kind::Resource)
    }

    pub(crate) fn kind(&self) -> Kind {
        if self.primitive_extension {
            Kind::Object
        } else {
            kind(self.type_name)
        }
    }
}

/// How JSON writes a value of a FHIR type (json.html#primitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `boolean`: `true` or `false`.
    Boolean,
    /// `integer`, `positiveInt`, `unsignedInt`: a number without fraction or exponent.
    Integer,
    /// `decimal`: any JSON number.
    Decimal,
    /// Every other primitive (`string`, `code`, `dateTime`, `base64Binary`, `xhtml`, …).
    String,
    /// A complex datatype or backbone element.
    Object,
    /// `Resource` (`contained`, `Bundle.entry.resource`, `Parameters.parameter.resource`):
    /// an object whose `resourceType` says which resource it is.
    Resource,
}

impl Kind {
    /// How a diagnostic names this kind, after "which JSON writes as".
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Kind::Boolean => "true or false",
            Kind::Integer => "a whole number",
            Kind::Decimal => "a number",
            Kind::String => "a string",
            Kind::Object => "an object",
            Kind::Resource => "an object with a resourceType",
        }
    }
}

/// The JSON kind of the FHIR type `type_name`. FHIR names its primitives in lower camel case
/// and every complex type and resource in upper camel case, so the first letter decides
/// without a table lookup (the tests check this against the definitions).
pub(crate) fn kind(type_name: &str) -> Kind {
    match type_name {
        "boolean" => Kind::Boolean,
        "integer" | "positiveInt" | "unsignedInt" => Kind::Integer,
        "decimal" => Kind::Decimal,
        "Resource" => Kind::Resource,
        _ if type_name.starts_with(|first: char| first.is_ascii_lowercase()) => Kind::String,
        _ => Kind::Object,
    }
}

/// Why a member is not an element of its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unknown {
    /// No element of that name, with or without a type suffix.
    Name,
    /// A choice element named without its type (`value` for `valueQuantity`).
    BareChoice(&'static ElementDefinition),
    /// `_name` where `name` is not a primitive.
    NotPrimitive(Member),
}

/// Resolves `key`, a member of an object whose elements are `children` (those of a type or
/// of a backbone element).
pub(crate) fn resolve(children: &'static Children, key: &str) -> Result<Member, Unknown> {
    match key.strip_prefix('_') {
        Some(name) => {
            let member = resolve_name(children, name)?;
            if matches!(member.kind(), Kind::Object | Kind::Resource) {
                return Err(Unknown::NotPrimitive(member));
            }
            Ok(Member {
                primitive_extension: true,
                ..member
            })
        }
        None => resolve_name(children, key),
    }
}

fn resolve_name(children: &'static Children, key: &str) -> Result<Member, Unknown> {
    if let Some(element) = children.get(key) {
        return match element.types.as_slice() {
            [type_name] if !element.is_choice() => Ok(Member {
                element,
                type_name,
                primitive_extension: false,
            }),
            _ => Err(Unknown::BareChoice(element)),
        };
    }
    // A choice element: its name, then its type with the first letter in upper case. Element
    // names are camel case too (`multipleBirthBoolean`), so try each upper-case letter.
    for (index, letter) in key.char_indices().skip(1) {
        if !letter.is_ascii_uppercase() {
            continue;
        }
        let Some(element) = children.get(&key[..index]) else {
            continue;
        };
        if !element.is_choice() {
            continue;
        }
        let suffix = &key[index..];
        if let Some(type_name) = element
            .types
            .iter()
            .find(|type_name| is_capitalised(type_name, suffix))
        {
            return Ok(Member {
                element,
                type_name,
                primitive_extension: false,
            });
        }
    }
    Err(Unknown::Name)
}

/// Whether `suffix` is `type_name` with its first letter in upper case (`dateTime` →
/// `DateTime`, `Quantity` → `Quantity`).
fn is_capitalised(type_name: &str, suffix: &str) -> bool {
    let (Some(first), Some(suffix_first)) = (type_name.chars().next(), suffix.chars().next())
    else {
        return false;
    };
    first.to_ascii_uppercase() == suffix_first
        && type_name[first.len_utf8()..] == suffix[suffix_first.len_utf8()..]
}

/// A choice element's JSON name for its first type, to show in a diagnostic: `valueQuantity`.
pub(crate) fn example_choice_name(element: &ElementDefinition) -> String {
    let type_name = element.types.first().copied().unwrap_or_default();
    let mut name = String::from(element.name);
    let mut letters = type_name.chars();
    if let Some(first) = letters.next() {
        name.push(first.to_ascii_uppercase());
        name.push_str(letters.as_str());
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definitions::{children, element, type_definitions, TypeKind};

    fn resolve(owner: &str, key: &str) -> Result<Member, Unknown> {
        super::resolve(children(owner).unwrap(), key)
    }

    #[test]
    fn choice_elements_resolve_by_their_type_suffix() {
        let member = resolve("Observation", "valueQuantity").unwrap();
        assert_eq!(member.element.path, "Observation.value[x]");
        assert_eq!(member.type_name, "Quantity");
        assert_eq!(member.children(), "Quantity");
        let member = resolve("Observation", "effectiveDateTime").unwrap();
        assert_eq!(member.type_name, "dateTime");
        let member = resolve("Patient", "multipleBirthBoolean").unwrap();
        assert_eq!(member.element.path, "Patient.multipleBirth[x]");
        assert_eq!(member.kind(), Kind::Boolean);
    }

    #[test]
    fn a_choice_element_without_its_type_or_with_another_is_unknown() {
        let bare = element("Observation.value[x]").unwrap();
        assert_eq!(
            resolve("Observation", "value").unwrap_err(),
            Unknown::BareChoice(bare)
        );
        assert_eq!(example_choice_name(bare), "valueQuantity");
        assert_eq!(
            resolve("Observation", "valueHumanName").unwrap_err(),
            Unknown::Name
        );
        assert_eq!(
            resolve("Observation", "valuequantity").unwrap_err(),
            Unknown::Name
        );
    }

    #[test]
    fn underscore_names_are_the_extensions_of_primitives_only() {
        let member = resolve("Patient", "_birthDate").unwrap();
        assert!(member.primitive_extension);
        assert_eq!(
            (member.kind(), member.children()),
            (Kind::Object, "Element")
        );
        assert!(resolve("Observation", "_valueString").is_ok());
        assert!(matches!(
            resolve("Patient", "_name"),
            Err(Unknown::NotPrimitive(_))
        ));
        assert_eq!(resolve("Patient", "_nonsense").unwrap_err(), Unknown::Name);
    }

    #[test]
    fn backbone_elements_and_content_references_list_their_children() {
        let member = resolve("Observation", "component").unwrap();
        assert_eq!(member.children(), "Observation.component");
        let member = resolve("Questionnaire.item", "item").unwrap();
        assert_eq!(member.children(), "Questionnaire.item");
        assert_eq!(
            resolve("Bundle.entry", "resource").unwrap().kind(),
            Kind::Resource
        );
    }

    #[test]
    fn the_first_letter_of_a_type_name_says_whether_it_is_a_primitive() {
        let mut count = 0;
        for definition in type_definitions() {
            let primitive = definition.kind == TypeKind::Primitive;
            let written_as_a_value =
                !matches!(kind(definition.name), Kind::Object | Kind::Resource);
            assert_eq!(primitive, written_as_a_value, "{}", definition.name);
            count += 1;
        }
        assert_eq!(count, 209);
        assert_eq!(kind("xhtml"), Kind::String);
        assert_eq!(kind("positiveInt"), Kind::Integer);
    }
}
