//! The JSON tree patches are applied to: objects keep their members in order and numbers
//! keep their text.
//!
//! Not sonic-rs values, because a sonic-rs object that is changed becomes a hash map, and a
//! patched resource would come back with its members shuffled (measured: one `remove` moved
//! `resourceType` after `name`). Readers expect a patch to touch only what it names.

use sonic_rs::{JsonContainerTrait, JsonType, JsonValueTrait, Value};

#[derive(Debug, Clone)]
pub(super) enum Json {
    Null,
    Bool(bool),
    /// The number's text as it was sent: `1.50` stays `1.50`.
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Object),
}

/// Members in document order; keys are unique.
#[derive(Debug, Clone, Default)]
pub(super) struct Object(Vec<(String, Json)>);

impl Object {
    pub(super) fn get(&self, key: &str) -> Option<&Json> {
        self.0
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value)
    }

    pub(super) fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        self.0
            .iter_mut()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value)
    }

    pub(super) fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key`, in its place if present, else at the end.
    pub(super) fn insert(&mut self, key: &str, value: Json) {
        match self.get_mut(key) {
            Some(existing) => *existing = value,
            None => self.0.push((key.to_owned(), value)),
        }
    }

    pub(super) fn remove(&mut self, key: &str) -> Option<Json> {
        let position = self.0.iter().position(|(name, _)| name == key)?;
        Some(self.0.remove(position).1)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &(String, Json)> {
        self.0.iter()
    }

    pub(super) fn len(&self) -> usize {
        self.0.len()
    }
}

impl Json {
    /// Copies a parsed sonic-rs value, keeping member order and number text.
    pub(super) fn from_value(value: &Value) -> Json {
        match value.get_type() {
            JsonType::Null => Json::Null,
            JsonType::Boolean => Json::Bool(value.as_bool().unwrap_or(false)),
            JsonType::Number => Json::Number(match value.as_raw_number() {
                Some(raw) => raw.as_str().to_owned(),
                None => sonic_rs::to_string(value).unwrap_or_default(),
            }),
            JsonType::String => Json::String(value.as_str().unwrap_or("").to_owned()),
            JsonType::Array => Json::Array(
                value
                    .as_array()
                    .map(|items| items.iter().map(Json::from_value).collect())
                    .unwrap_or_default(),
            ),
            JsonType::Object => Json::Object(Object(
                value
                    .as_object()
                    .map(|members| {
                        members
                            .iter()
                            .map(|(key, value)| (key.to_owned(), Json::from_value(value)))
                            .collect()
                    })
                    .unwrap_or_default(),
            )),
        }
    }

    /// A sonic-rs value of this tree, for FHIRPath to evaluate.
    pub(super) fn to_value(&self) -> Value {
        sonic_rs::from_slice(&self.to_bytes()).unwrap_or_default()
    }

    /// Compact JSON text.
    pub(super) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Json::Null => out.extend_from_slice(b"null"),
            Json::Bool(value) => out.extend_from_slice(if *value { b"true" } else { b"false" }),
            Json::Number(text) => out.extend_from_slice(text.as_bytes()),
            Json::String(text) => out.extend_from_slice(crate::json_string(text).as_bytes()),
            Json::Array(items) => {
                out.push(b'[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push(b',');
                    }
                    item.write(out);
                }
                out.push(b']');
            }
            Json::Object(members) => {
                out.push(b'{');
                for (index, (key, value)) in members.iter().enumerate() {
                    if index > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(crate::json_string(key).as_bytes());
                    out.push(b':');
                    value.write(out);
                }
                out.push(b'}');
            }
        }
    }

    pub(super) fn as_object(&self) -> Option<&Object> {
        match self {
            Json::Object(members) => Some(members),
            _ => None,
        }
    }

    pub(super) fn as_object_mut(&mut self) -> Option<&mut Object> {
        match self {
            Json::Object(members) => Some(members),
            _ => None,
        }
    }

    pub(super) fn as_array(&self) -> Option<&Vec<Json>> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    pub(super) fn as_array_mut(&mut self) -> Option<&mut Vec<Json>> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    pub(super) fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(text) => Some(text),
            _ => None,
        }
    }

    /// JSON equality as RFC 6902 `test` defines it: numbers by value, objects regardless of
    /// member order, arrays item by item.
    pub(super) fn equals(&self, other: &Json) -> bool {
        match (self, other) {
            (Json::Number(left), Json::Number(right)) => {
                left == right
                    || matches!((left.parse::<f64>(), right.parse::<f64>()), (Ok(l), Ok(r)) if l == r)
            }
            (Json::Object(left), Json::Object(right)) => {
                left.len() == right.len()
                    && left
                        .iter()
                        .all(|(key, value)| right.get(key).is_some_and(|other| value.equals(other)))
            }
            (Json::Array(left), Json::Array(right)) => {
                left.len() == right.len() && left.iter().zip(right).all(|(l, r)| l.equals(r))
            }
            (Json::Null, Json::Null) => true,
            (Json::Bool(left), Json::Bool(right)) => left == right,
            (Json::String(left), Json::String(right)) => left == right,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_trip_keeps_member_order_number_text_and_escapes() {
        let text = r#"{"z":1.50,"a":[1e2,-0.0,true,null],"s":"a\"b\\c\u0001é","o":{}}"#;
        let value: Value = sonic_rs::from_str(text).unwrap();
        let bytes = Json::from_value(&value).to_bytes();
        let again: Value = sonic_rs::from_slice(&bytes).unwrap();
        assert_eq!(again, value);
        assert!(String::from_utf8(bytes)
            .unwrap()
            .starts_with(r#"{"z":1.50,"a":[1e2,-0.0,true,null]"#));
    }
}
