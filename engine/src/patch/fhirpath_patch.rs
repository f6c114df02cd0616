//! FHIRPath Patch: a `Parameters` resource of `operation`s (add, insert, delete, replace,
//! move) whose paths are FHIRPath expressions.
//! Spec: https://hl7.org/fhir/R4/fhirpatch.html
//!
//! Paths are compiled and evaluated by [`crate::fhirpath`], the same subset search uses, so
//! `Patient.name[0].given`, `Patient.telecom.where(system = 'phone')` or
//! `Patient.identifier.first()` all work. Evaluation yields references into the resource;
//! each is turned back into its location by finding it (by address) in the JSON tree, and
//! the operation is applied there. A path that selects something that is not an element of
//! the resource (a computed value, or a resource reached through `resolve()`) is refused.
//!
//! `insert` and `move` name a collection: their path must end with an element name
//! (`Patient.identifier`), so that an empty list can be inserted into. Replacing a choice
//! element with a value of another type (`valueString` over `valueQuantity`) is not
//! supported: delete it and add the new one.

use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value};

use super::tree::{Json, Object};
use super::{failed, malformed};
use crate::definitions::{child_element, ElementDefinition};
use crate::fhirpath::Expression;
use crate::Error;

/// One operation, checked for shape and with its path compiled.
#[derive(Debug, Clone)]
pub(super) struct Operation {
    /// The path as sent, for error messages.
    path_text: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Add {
        path: Expression,
        name: String,
        value: PatchValue,
    },
    Insert {
        collection: Collection,
        index: usize,
        value: PatchValue,
    },
    Delete {
        path: Expression,
    },
    Replace {
        path: Expression,
        value: PatchValue,
    },
    Move {
        collection: Collection,
        source: usize,
        destination: usize,
    },
}

/// A repeating element named by its owner's path and its own name: `Patient.identifier`.
#[derive(Debug, Clone)]
struct Collection {
    owner: Expression,
    name: String,
}

/// The `value` part: a typed `value[x]`, or for a backbone element, nested parts.
#[derive(Debug, Clone)]
enum PatchValue {
    Typed { type_suffix: String, json: Json },
    Parts(Vec<(String, PatchValue)>),
}

/// Where an element sits in the resource's JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Reads the Parameters resource: one `operation` parameter per operation, in order.
pub(super) fn parse(document: &Value) -> Result<Vec<Operation>, Error> {
    if document
        .get("resourceType")
        .and_then(|value| value.as_str())
        != Some("Parameters")
    {
        return Err(malformed(
            "A FHIRPath Patch is a Parameters resource (fhirpatch.html); for JSON Patch send \
             Content-Type: application/json-patch+json",
        ));
    }
    let Some(parameters) = document.get("parameter").and_then(|p| p.as_array()) else {
        return Err(malformed("The Parameters resource has no 'parameter' list"));
    };
    parameters
        .iter()
        .enumerate()
        .map(|(index, parameter)| {
            parse_operation(parameter).map_err(|message| {
                malformed(format!("FHIRPath Patch operation {index}: {message}"))
            })
        })
        .collect()
}

fn parse_operation(parameter: &Value) -> Result<Operation, String> {
    if parameter.get("name").and_then(|value| value.as_str()) != Some("operation") {
        return Err("each parameter must be named 'operation'".into());
    }
    let parts = parameter
        .get("part")
        .and_then(|parts| parts.as_array())
        .ok_or("an operation has its details in 'part'")?;
    let (mut kind, mut path, mut name, mut value) = (None, None, None, None);
    let (mut index, mut source, mut destination) = (None, None, None);
    for part in parts.iter() {
        match part.get("name").and_then(|value| value.as_str()) {
            Some("type") => kind = Some(primitive(part, "valueCode")?),
            Some("path") => path = Some(primitive(part, "valueString")?),
            Some("name") => name = Some(primitive(part, "valueString")?),
            Some("value") => value = Some(patch_value(part)?),
            Some("index") => index = Some(integer(part)?),
            Some("source") => source = Some(integer(part)?),
            Some("destination") => destination = Some(integer(part)?),
            Some(other) => return Err(format!("unknown part '{other}'")),
            None => return Err("a part has no name".into()),
        }
    }
    let kind = kind.ok_or("the 'type' part is missing")?;
    let path_text = path.ok_or("the 'path' part is missing")?;
    let needs = |what: &str| format!("a {kind} operation needs a '{what}' part");
    let kind = match kind.as_str() {
        "add" => {
            let name = name.ok_or_else(|| needs("name"))?;
            if !is_element_name(&name) {
                return Err(format!("'{name}' is not an element name"));
            }
            Kind::Add {
                path: compile(&path_text)?,
                name,
                value: value.ok_or_else(|| needs("value"))?,
            }
        }
        "insert" => Kind::Insert {
            collection: collection(&path_text)?,
            index: index.ok_or_else(|| needs("index"))?,
            value: value.ok_or_else(|| needs("value"))?,
        },
        "delete" => Kind::Delete {
            path: compile(&path_text)?,
        },
        "replace" => Kind::Replace {
            path: compile(&path_text)?,
            value: value.ok_or_else(|| needs("value"))?,
        },
        "move" => Kind::Move {
            collection: collection(&path_text)?,
            source: source.ok_or_else(|| needs("source"))?,
            destination: destination.ok_or_else(|| needs("destination"))?,
        },
        other => {
            return Err(format!(
                "unknown type '{other}' (expected add, insert, delete, replace or move)"
            ))
        }
    };
    Ok(Operation { path_text, kind })
}

fn primitive(part: &Value, member: &str) -> Result<String, String> {
    part.get(member)
        .and_then(|value| value.as_str())
        .map(str::to_owned)
        .ok_or_else(|| {
            format!(
                "the part '{}' needs a {member}",
                part.get("name")
                    .and_then(|value| value.as_str())
                    .unwrap_or("")
            )
        })
}

fn integer(part: &Value) -> Result<usize, String> {
    part.get("valueInteger")
        .and_then(|value| value.as_u64())
        .and_then(|value| usize::try_from(value).ok())
        .ok_or_else(|| {
            let name = part
                .get("name")
                .and_then(|value| value.as_str())
                .unwrap_or("");
            format!("the part '{name}' needs a valueInteger of 0 or more")
        })
}

/// A `value` part: its `value[x]`, or its nested parts for a type without a name.
fn patch_value(part: &Value) -> Result<PatchValue, String> {
    let object = part.as_object().ok_or("a part must be an object")?;
    for (key, json) in object.iter() {
        if let Some(type_suffix) = key.strip_prefix("value") {
            return Ok(PatchValue::Typed {
                type_suffix: type_suffix.to_owned(),
                json: Json::from_value(json),
            });
        }
    }
    let Some(parts) = part.get("part").and_then(|parts| parts.as_array()) else {
        return Err("a value part needs a value[x] or parts".into());
    };
    parts
        .iter()
        .map(|inner| {
            let name = inner
                .get("name")
                .and_then(|value| value.as_str())
                .ok_or("a part has no name")?;
            Ok((name.to_owned(), patch_value(inner)?))
        })
        .collect::<Result<_, String>>()
        .map(PatchValue::Parts)
}

fn compile(path: &str) -> Result<Expression, String> {
    // For search, the subset evaluates `resolve()` to the Reference itself, so that
    // `subject.resolve() is Patient` can test its type; a patch would then change or delete
    // the Reference, which the client did not name. What resolve() leads to is another
    // resource, which a patch of this one cannot change.
    if path.contains("resolve(") {
        return Err(format!(
            "the path '{path}' goes through resolve() to another resource; a patch changes only this resource's own elements"
        ));
    }
    Expression::compile(path).map_err(|error| {
        format!(
            "the path '{path}' is outside the FHIRPath subset Ember supports ({})",
            error.reason()
        )
    })
}

/// Splits `Patient.name[0].given` into its owner (`Patient.name[0]`) and name (`given`).
fn collection(path: &str) -> Result<Collection, String> {
    match path.rsplit_once('.') {
        Some((owner, name)) if is_element_name(name) => Ok(Collection {
            owner: compile(owner)?,
            name: name.to_owned(),
        }),
        _ => Err(format!(
            "the path '{path}' must end with the name of a repeating element, e.g. Patient.identifier"
        )),
    }
}

fn is_element_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Applies `operations` in order; the first that fails stops the patch.
pub(super) fn apply(resource: &mut Json, operations: &[Operation]) -> Result<(), Error> {
    for (index, operation) in operations.iter().enumerate() {
        apply_one(resource, &operation.kind).map_err(|message| {
            failed(format!(
                "FHIRPath Patch operation {index} (path '{}') cannot be applied: {message}",
                operation.path_text
            ))
        })?;
    }
    Ok(())
}

fn apply_one(resource: &mut Json, kind: &Kind) -> Result<(), String> {
    match kind {
        Kind::Add { path, name, value } => {
            let (location, owner) = single(resource, path)?;
            let element = child(owner, name)?;
            let key = json_name(element, value)?;
            let json = value.to_json(element.children);
            let target = object_at(resource, &location)?;
            if element.repeats {
                match target.get_mut(&key) {
                    Some(existing) => existing
                        .as_array_mut()
                        .ok_or_else(|| format!("'{key}' is not a list"))?
                        .push(json),
                    None => {
                        target.insert(&key, list_of(json));
                    }
                }
            } else if target.contains_key(&key) {
                return Err(format!("'{key}' already has a value; use replace"));
            } else {
                target.insert(&key, json);
            }
            Ok(())
        }
        Kind::Insert {
            collection,
            index,
            value,
        } => {
            let (location, element) = list_owner(resource, collection)?;
            let json = value.to_json(element.children);
            let target = object_at(resource, &location)?;
            let length = list_length(target, &collection.name)?;
            if *index > length {
                return Err(format!(
                    "index {index} is past the end of the list ({length} items)"
                ));
            }
            match target
                .get_mut(&collection.name)
                .and_then(Json::as_array_mut)
            {
                Some(list) => list.insert(*index, json),
                None => {
                    target.insert(&collection.name, list_of(json));
                }
            }
            let shadow = format!("_{}", collection.name);
            if let Some(list) = target.get_mut(&shadow).and_then(Json::as_array_mut) {
                if *index <= list.len() {
                    list.insert(*index, Json::Null);
                }
            }
            Ok(())
        }
        Kind::Delete { path } => {
            let nodes = locations(resource, path)?;
            match nodes.as_slice() {
                [] => Ok(()),
                [(location, _)] => delete_at(resource, location),
                _ => Err(format!(
                    "it selects {} elements; delete removes one",
                    nodes.len()
                )),
            }
        }
        Kind::Replace { path, value } => {
            let (location, owner) = single(resource, path)?;
            if location.is_empty() {
                return Err("the resource itself cannot be replaced; use PUT".into());
            }
            let json = value.to_json(owner);
            *value_at(resource, &location).ok_or("the element disappeared")? = json;
            Ok(())
        }
        Kind::Move {
            collection,
            source,
            destination,
        } => {
            let (location, _) = list_owner(resource, collection)?;
            let target = object_at(resource, &location)?;
            let length = list_length(target, &collection.name)?;
            if *source >= length || *destination >= length {
                return Err(format!(
                    "source {source} and destination {destination} must be below the list's length ({length})"
                ));
            }
            edit_list(target, &collection.name, |list| {
                if *source < list.len() && *destination < list.len() {
                    let moved = list.remove(*source);
                    list.insert(*destination, moved);
                }
            });
            Ok(())
        }
    }
}

impl PatchValue {
    /// The JSON to store; nested parts become an object shaped by the element definitions of
    /// `owner` (where the type table lists the target's children), repeating ones as lists.
    fn to_json(&self, owner: &str) -> Json {
        match self {
            PatchValue::Typed { json, .. } => json.clone(),
            PatchValue::Parts(parts) => {
                let mut object = Object::default();
                for (name, value) in parts {
                    let element = child_element(owner, name);
                    let key = element
                        .and_then(|element| json_name(element, value).ok())
                        .unwrap_or_else(|| name.clone());
                    let json = value.to_json(element.map_or("", |element| element.children));
                    if element.is_some_and(|element| element.repeats) {
                        match object.get_mut(&key).and_then(Json::as_array_mut) {
                            Some(list) => list.push(json),
                            None => {
                                object.insert(&key, list_of(json));
                            }
                        }
                    } else {
                        object.insert(&key, json);
                    }
                }
                Json::Object(object)
            }
        }
    }
}

/// The JSON member name of `element` holding `value`: `deceasedBoolean` for a choice.
fn json_name(element: &ElementDefinition, value: &PatchValue) -> Result<String, String> {
    if !element.is_choice() {
        return Ok(element.name.to_owned());
    }
    let PatchValue::Typed { type_suffix, .. } = value else {
        return Err(format!(
            "'{}' is a choice element; give its value as value[x]",
            element.name
        ));
    };
    let allowed = element.types.iter().any(|fhir_type| {
        let mut chars = fhir_type.chars();
        chars
            .next()
            .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
            == Some(type_suffix.clone())
    });
    if !allowed {
        return Err(format!("'{}' cannot hold a {type_suffix}", element.name));
    }
    Ok(format!("{}{type_suffix}", element.name))
}

fn child(owner: &str, name: &str) -> Result<&'static ElementDefinition, String> {
    child_element(owner, name).ok_or_else(|| {
        format!(
            "'{name}' is not an element of {}",
            if owner.is_empty() {
                "a primitive"
            } else {
                owner
            }
        )
    })
}

/// The one element `path` selects, with where its children are listed.
fn single(resource: &Json, path: &Expression) -> Result<(Vec<Step>, &'static str), String> {
    let mut found = locations(resource, path)?;
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err("it selects nothing".into()),
        n => Err(format!("it selects {n} elements, not one")),
    }
}

/// The single owner of a collection and the collection's (repeating) element definition.
fn list_owner(
    resource: &Json,
    collection: &Collection,
) -> Result<(Vec<Step>, &'static ElementDefinition), String> {
    let (location, owner) = single(resource, &collection.owner)?;
    let element = child(owner, &collection.name)?;
    if !element.repeats {
        return Err(format!("'{}' is not a repeating element", collection.name));
    }
    Ok((location, element))
}

/// The location of every element `path` selects, with where each one's children are listed.
///
/// FHIRPath evaluates a sonic-rs copy of the tree; the steps found there lead to the same
/// elements in the tree, which has the same shape.
fn locations(resource: &Json, path: &Expression) -> Result<Vec<(Vec<Step>, &'static str)>, String> {
    let snapshot = resource.to_value();
    path.evaluate(&snapshot)
        .iter()
        .map(|node| {
            let mut steps = Vec::new();
            if find(&snapshot, node.value, &mut steps) {
                Ok((steps, node.children_owner()))
            } else {
                Err("it selects something that is not an element of this resource".into())
            }
        })
        .collect()
}

/// Finds `target` in `current` by address, recording the steps to it in `steps`.
fn find(current: &Value, target: &Value, steps: &mut Vec<Step>) -> bool {
    if std::ptr::eq(current, target) {
        return true;
    }
    if let Some(object) = current.as_object() {
        for (key, value) in object.iter() {
            steps.push(Step::Key(key.to_owned()));
            if find(value, target, steps) {
                return true;
            }
            steps.pop();
        }
    } else if let Some(array) = current.as_array() {
        for (index, value) in array.iter().enumerate() {
            steps.push(Step::Index(index));
            if find(value, target, steps) {
                return true;
            }
            steps.pop();
        }
    }
    false
}

fn value_at<'a>(resource: &'a mut Json, steps: &[Step]) -> Option<&'a mut Json> {
    steps.iter().try_fold(resource, |current, step| match step {
        Step::Key(key) => current.as_object_mut()?.get_mut(key),
        Step::Index(index) => current.as_array_mut()?.get_mut(*index),
    })
}

fn object_at<'a>(resource: &'a mut Json, steps: &[Step]) -> Result<&'a mut Object, String> {
    value_at(resource, steps)
        .and_then(|value| value.as_object_mut())
        .ok_or_else(|| "it selects a primitive, which has no elements to change".into())
}

fn list_length(object: &Object, name: &str) -> Result<usize, String> {
    match object.get(name) {
        None => Ok(0),
        Some(value) => value
            .as_array()
            .map(|list| list.len())
            .ok_or_else(|| format!("'{name}' is not a list")),
    }
}

/// Edits the list `name` and, in step, the `_name` list that carries its primitives' ids
/// and extensions, so items and their extensions stay aligned.
fn edit_list(object: &mut Object, name: &str, edit: impl Fn(&mut Vec<Json>)) {
    if let Some(list) = object.get_mut(name).and_then(Json::as_array_mut) {
        edit(list);
    }
    let shadow = format!("_{name}");
    if let Some(list) = object.get_mut(&shadow).and_then(Json::as_array_mut) {
        edit(list);
    }
}

fn list_of(item: Json) -> Json {
    Json::Array(vec![item])
}

/// Removes the element at `location`, a member or a list item; a list left empty is removed,
/// because FHIR JSON has no empty arrays.
fn delete_at(resource: &mut Json, location: &[Step]) -> Result<(), String> {
    match location {
        [] => Err("the resource itself cannot be deleted here; use DELETE".into()),
        [parent @ .., Step::Key(key)] => {
            let object = object_at(resource, parent)?;
            object.remove(key);
            object.remove(&format!("_{key}"));
            Ok(())
        }
        [parent @ .., Step::Key(key), Step::Index(index)] => {
            let object = object_at(resource, parent)?;
            edit_list(object, key, |list| {
                if *index < list.len() {
                    list.remove(*index);
                }
            });
            // An emptied list goes; so does an extension list left with only nulls.
            if object
                .get(key)
                .and_then(Json::as_array)
                .is_some_and(Vec::is_empty)
            {
                object.remove(key);
            }
            let shadow = format!("_{key}");
            let bare = object
                .get(&shadow)
                .and_then(Json::as_array)
                .is_some_and(|list| list.iter().all(|item| matches!(item, Json::Null)));
            if bare {
                object.remove(&shadow);
            }
            Ok(())
        }
        _ => Err("it selects an item of a nested list, which FHIR JSON does not have".into()),
    }
}

#[cfg(test)]
mod tests;
