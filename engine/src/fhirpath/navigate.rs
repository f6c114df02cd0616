//! Moves from a node of a resource to its children, extensions and reference targets, typing
//! each by the vendored R4 element definitions.
//!
//! Spec: http://hl7.org/fhirpath/N1/#path-selection, https://hl7.org/fhir/R4/json.html
//! (arrays, choice elements) and https://hl7.org/fhir/R4/references.html (reference forms).

use std::sync::LazyLock;

use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value};

use super::Node;
use crate::definitions::{child_element, type_definition, TypeKind};

/// The children lookup key of nodes that have no children the type table knows: primitives,
/// and reference targets known only by their type.
const NO_CHILDREN: &str = "";

impl<'a> Node<'a> {
    /// The node for a whole resource, typed by its `resourceType`; `None` if that is not an R4
    /// resource type.
    pub fn resource(value: &'a Value) -> Option<Node<'a>> {
        let name = value.get("resourceType")?.as_str()?;
        let definition = type_definition(name).filter(|t| t.kind == TypeKind::Resource)?;
        Some(Node {
            value,
            fhir_type: definition.name,
            children: definition.name,
        })
    }

    /// A computed `true` or `false` (from `exists()`, `=`, `and`, …).
    pub(super) fn boolean(value: bool) -> Node<'static> {
        static TRUE: LazyLock<Value> = LazyLock::new(|| Value::from(true));
        static FALSE: LazyLock<Value> = LazyLock::new(|| Value::from(false));
        Node {
            value: if value { &TRUE } else { &FALSE },
            fhir_type: "boolean",
            children: NO_CHILDREN,
        }
    }

    /// Appends this node's children called `name` to `out`: array items one by one, and for a
    /// choice element (`value`) whichever typed member is present (`valueQuantity`).
    pub(super) fn push_children(&self, name: &str, out: &mut Vec<Node<'a>>) {
        let Some(object) = self.value.as_object() else {
            return;
        };
        let Some(element) = child_element(self.children, name) else {
            return;
        };
        if element.is_choice() {
            for (key, value) in object.iter() {
                let Some(suffix) = key.strip_prefix(element.name) else {
                    continue;
                };
                if let Some(&fhir_type) = element
                    .types
                    .iter()
                    .find(|fhir_type| names_type(suffix, fhir_type))
                {
                    push_items(value, fhir_type, fhir_type, out);
                }
            }
        } else if let Some(value) = object.get(&element.name) {
            push_items(value, element.types[0], element.children, out);
        }
    }

    /// Appends this node's extensions whose `url` is `url` to `out`.
    pub(super) fn push_extensions(&self, url: &str, out: &mut Vec<Node<'a>>) {
        let Some(extensions) = self.value.get("extension").and_then(|v| v.as_array()) else {
            return;
        };
        for extension in extensions.iter() {
            if extension.get("url").and_then(|v| v.as_str()) == Some(url) {
                out.push(Node {
                    value: extension,
                    fhir_type: "Extension",
                    children: "Extension",
                });
            }
        }
    }

    /// The target of this node as a reference, without fetching anything: a contained
    /// resource for `#id`, the resource itself for `#`, and otherwise a node whose type is the
    /// type the reference names (`Patient/1`, `http://server/fhir/Patient/1/_history/2`, or the
    /// `type` element) but whose content is unknown, so that navigating into it selects nothing.
    pub(super) fn resolve(&self, resource: Option<&Node<'a>>) -> Option<Node<'a>> {
        let reference = self.value.get("reference").and_then(|v| v.as_str());
        if let Some(local) = reference.and_then(|r| r.strip_prefix('#')) {
            let resource = resource?;
            if local.is_empty() {
                return Some(*resource);
            }
            let contained = resource.value.get("contained")?.as_array()?;
            return contained
                .iter()
                .find(|c| c.get("id").and_then(|v| v.as_str()) == Some(local))
                .and_then(Node::resource);
        }
        let named = reference.and_then(referenced_type).or_else(|| {
            let declared = self.value.get("type")?.as_str()?;
            concrete_resource_type(declared.rsplit('/').next()?)
        })?;
        Some(Node {
            value: self.value,
            fhir_type: named,
            children: NO_CHILDREN,
        })
    }
}

/// Appends `value` (each item if it is an array; nulls, which only pad arrays whose items carry
/// nothing but extensions, are skipped) as nodes of `fhir_type`. Items of the abstract type
/// `Resource` (`Bundle.entry.resource`, `contained`) take their type from `resourceType`.
fn push_items<'a>(
    value: &'a Value,
    fhir_type: &'static str,
    children: &'static str,
    out: &mut Vec<Node<'a>>,
) {
    let mut push = |item: &'a Value| {
        if item.is_null() {
            return;
        }
        if fhir_type == "Resource" {
            out.extend(Node::resource(item));
        } else {
            out.push(Node {
                value: item,
                fhir_type,
                children,
            });
        }
    };
    match value.as_array() {
        Some(items) => items.iter().for_each(push),
        None => push(value),
    }
}

/// Whether a choice member's suffix (`Quantity` in `valueQuantity`, `DateTime` in
/// `valueDateTime`) names `fhir_type`, whose first letter JSON capitalises.
fn names_type(suffix: &str, fhir_type: &str) -> bool {
    let (Some(first), Some(wanted)) = (suffix.chars().next(), fhir_type.chars().next()) else {
        return false;
    };
    suffix.len() == fhir_type.len()
        && first == wanted.to_ascii_uppercase()
        && suffix[1..] == fhir_type[1..]
}

/// The resource type a literal reference names: the segment before the id in `Patient/1`,
/// `Patient/1/_history/2` or an absolute URL ending so; `None` for `urn:uuid:…` and the like.
fn referenced_type(reference: &str) -> Option<&'static str> {
    let path = reference.split(['?', '#']).next()?;
    let path = match path.find("/_history/") {
        Some(history) => &path[..history],
        None => path,
    };
    let mut segments = path.rsplit('/');
    let id = segments.next()?;
    if id.is_empty() {
        return None;
    }
    concrete_resource_type(segments.next()?)
}

/// `name` as a concrete resource type name with a `'static` lifetime.
fn concrete_resource_type(name: &str) -> Option<&'static str> {
    crate::definitions::is_resource_type(name)
        .then(|| type_definition(name).map(|t| t.name))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_references_name_their_type_in_every_form() {
        assert_eq!(referenced_type("Patient/123"), Some("Patient"));
        assert_eq!(referenced_type("Patient/123/_history/4"), Some("Patient"));
        assert_eq!(
            referenced_type("http://example.org/fhir/Patient/123"),
            Some("Patient")
        );
        assert_eq!(
            referenced_type("https://example.org/fhir/Group/9/_history/1"),
            Some("Group")
        );
        assert_eq!(
            referenced_type("urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0"),
            None
        );
        assert_eq!(referenced_type("Patient/"), None);
        assert_eq!(referenced_type("patient/1"), None);
        assert_eq!(referenced_type("Resource/1"), None);
        assert_eq!(referenced_type(""), None);
    }

    #[test]
    fn choice_suffixes_capitalise_the_type_name() {
        assert!(names_type("Quantity", "Quantity"));
        assert!(names_type("DateTime", "dateTime"));
        assert!(names_type("String", "string"));
        assert!(!names_type("string", "string"));
        assert!(!names_type("QuantityX", "Quantity"));
        assert!(!names_type("", "string"));
    }
}
