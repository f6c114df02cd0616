//! RFC 6902 JSON Patch over sonic-rs values, with RFC 6901 JSON Pointers.
//! Spec: https://www.rfc-editor.org/rfc/rfc6902, https://www.rfc-editor.org/rfc/rfc6901
//!
//! Written here rather than taken from a crate because the crates work on serde_json values,
//! and a round trip through them would lose the text of decimals (`1.50` → `1.5`).

use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value};

use super::tree::Json;
use super::{failed, malformed};
use crate::Error;

/// One operation of a patch document, checked for shape but not yet applied.
#[derive(Debug, Clone)]
pub(super) enum Operation {
    Add { path: Pointer, value: Json },
    Remove { path: Pointer },
    Replace { path: Pointer, value: Json },
    Move { from: Pointer, path: Pointer },
    Copy { from: Pointer, path: Pointer },
    Test { path: Pointer, value: Json },
}

/// A JSON Pointer split into unescaped reference tokens; the empty pointer is the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Pointer {
    text: String,
    tokens: Vec<String>,
}

impl Pointer {
    /// Parses `text`: empty, or `/`-separated tokens where `~1` is `/` and `~0` is `~`.
    fn parse(text: &str) -> Result<Pointer, String> {
        if text.is_empty() {
            return Ok(Pointer {
                text: String::new(),
                tokens: Vec::new(),
            });
        }
        let Some(rest) = text.strip_prefix('/') else {
            return Err(format!("the JSON Pointer '{text}' must start with '/'"));
        };
        let tokens = rest
            .split('/')
            .map(|token| {
                unescape(token).ok_or_else(|| {
                    format!("the JSON Pointer '{text}' has a '~' not followed by 0 or 1")
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Pointer {
            text: text.to_owned(),
            tokens,
        })
    }

    fn is_proper_prefix_of(&self, other: &Pointer) -> bool {
        self.tokens.len() < other.tokens.len() && other.tokens.starts_with(&self.tokens)
    }
}

fn unescape(token: &str) -> Option<String> {
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        match c {
            '~' => match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            },
            c => out.push(c),
        }
    }
    Some(out)
}

/// Reads a patch document: an array of operation objects.
pub(super) fn parse(document: &Value) -> Result<Vec<Operation>, Error> {
    let Some(operations) = document.as_array() else {
        return Err(malformed(
            "A JSON Patch document is an array of operations (RFC 6902, section 3)",
        ));
    };
    operations
        .iter()
        .enumerate()
        .map(|(index, operation)| {
            parse_operation(operation)
                .map_err(|message| malformed(format!("JSON Patch operation {index}: {message}")))
        })
        .collect()
}

fn parse_operation(operation: &Value) -> Result<Operation, String> {
    if !operation.is_object() {
        return Err("an operation must be a JSON object".into());
    }
    let pointer = |member: &str| -> Result<Pointer, String> {
        match operation.get(member) {
            Some(value) => match value.as_str() {
                Some(text) => Pointer::parse(text),
                None => Err(format!("'{member}' must be a string")),
            },
            None => Err(format!("'{member}' is missing")),
        }
    };
    let value = || -> Result<Json, String> {
        operation
            .get("value")
            .map(Json::from_value)
            .ok_or_else(|| "'value' is missing".to_owned())
    };
    let Some(op) = operation.get("op").and_then(|op| op.as_str()) else {
        return Err("'op' is missing or not a string".into());
    };
    Ok(match op {
        "add" => Operation::Add {
            path: pointer("path")?,
            value: value()?,
        },
        "remove" => Operation::Remove {
            path: pointer("path")?,
        },
        "replace" => Operation::Replace {
            path: pointer("path")?,
            value: value()?,
        },
        "move" => Operation::Move {
            from: pointer("from")?,
            path: pointer("path")?,
        },
        "copy" => Operation::Copy {
            from: pointer("from")?,
            path: pointer("path")?,
        },
        "test" => Operation::Test {
            path: pointer("path")?,
            value: value()?,
        },
        other => {
            return Err(format!(
                "unknown op '{other}' (expected add, remove, replace, move, copy or test)"
            ))
        }
    })
}

/// Applies `operations` in order; the first that fails stops the patch (RFC 6902, section 5).
pub(super) fn apply(document: &mut Json, operations: &[Operation]) -> Result<(), Error> {
    for (index, operation) in operations.iter().enumerate() {
        apply_one(document, operation).map_err(|message| {
            failed(format!(
                "JSON Patch operation {index} cannot be applied: {message}"
            ))
        })?;
    }
    Ok(())
}

fn apply_one(document: &mut Json, operation: &Operation) -> Result<(), String> {
    match operation {
        Operation::Add { path, value } => add(document, path, value.clone()),
        Operation::Remove { path } => remove(document, path).map(drop),
        Operation::Replace { path, value } => {
            let target = get_mut(document, &path.tokens)
                .ok_or_else(|| format!("'{}' does not exist", path.text))?;
            *target = value.clone();
            Ok(())
        }
        Operation::Move { from, path } => {
            if from == path {
                return Ok(());
            }
            if from.is_proper_prefix_of(path) {
                return Err(format!(
                    "cannot move '{}' into its own child '{}'",
                    from.text, path.text
                ));
            }
            let value = remove(document, from)?;
            add(document, path, value)
        }
        Operation::Copy { from, path } => {
            let value = get(document, &from.tokens)
                .cloned()
                .ok_or_else(|| format!("'{}' does not exist", from.text))?;
            add(document, path, value)
        }
        Operation::Test { path, value } => {
            let actual = get(document, &path.tokens)
                .ok_or_else(|| format!("'{}' does not exist", path.text))?;
            if actual.equals(value) {
                Ok(())
            } else {
                Err(format!(
                    "the value at '{}' is not the one tested for",
                    path.text
                ))
            }
        }
    }
}

fn add(document: &mut Json, path: &Pointer, value: Json) -> Result<(), String> {
    let Some((last, parent_tokens)) = path.tokens.split_last() else {
        *document = value;
        return Ok(());
    };
    let parent = get_mut(document, parent_tokens)
        .ok_or_else(|| format!("the parent of '{}' does not exist", path.text))?;
    if let Some(object) = parent.as_object_mut() {
        object.insert(last, value);
        return Ok(());
    }
    if let Some(array) = parent.as_array_mut() {
        if last == "-" {
            array.push(value);
            return Ok(());
        }
        let index = array_index(last)
            .filter(|index| *index <= array.len())
            .ok_or_else(|| format!("'{}' is not an index in the array", path.text))?;
        array.insert(index, value);
        return Ok(());
    }
    Err(format!(
        "the parent of '{}' is neither an object nor an array",
        path.text
    ))
}

fn remove(document: &mut Json, path: &Pointer) -> Result<Json, String> {
    let Some((last, parent_tokens)) = path.tokens.split_last() else {
        return Err("the whole document cannot be removed".into());
    };
    let missing = || format!("'{}' does not exist", path.text);
    let parent = get_mut(document, parent_tokens).ok_or_else(missing)?;
    if let Some(object) = parent.as_object_mut() {
        return object.remove(last).ok_or_else(missing);
    }
    if let Some(array) = parent.as_array_mut() {
        let index = array_index(last)
            .filter(|index| *index < array.len())
            .ok_or_else(missing)?;
        return Ok(array.remove(index));
    }
    Err(missing())
}

fn get<'a>(document: &'a Json, tokens: &[String]) -> Option<&'a Json> {
    tokens
        .iter()
        .try_fold(document, |current, token| match current {
            Json::Object(object) => object.get(token),
            Json::Array(items) => items.get(array_index(token)?),
            _ => None,
        })
}

fn get_mut<'a>(document: &'a mut Json, tokens: &[String]) -> Option<&'a mut Json> {
    tokens
        .iter()
        .try_fold(document, |current, token| match current {
            Json::Object(object) => object.get_mut(token),
            Json::Array(items) => items.get_mut(array_index(token)?),
            _ => None,
        })
}

/// An array index token: `0`, or digits without a leading zero (RFC 6901, section 4).
fn array_index(token: &str) -> Option<usize> {
    let digits = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
    if !digits || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    token.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies `patch` to `document` and returns the result as compact JSON text.
    fn check(document: &str, patch: &str) -> Result<String, Error> {
        let document: Value = sonic_rs::from_str(document).unwrap();
        let mut document = Json::from_value(&document);
        let patch: Value = sonic_rs::from_str(patch).unwrap();
        apply(&mut document, &parse(&patch)?)?;
        Ok(String::from_utf8(document.to_bytes()).unwrap())
    }

    fn is_malformed(result: Result<String, Error>) -> bool {
        matches!(result, Err(Error::InvalidPatch(_)))
    }

    fn is_failed(result: Result<String, Error>) -> bool {
        matches!(result, Err(Error::PatchFailed(_)))
    }

    // RFC 6902 A.1, A.2, A.3: add to an object, insert into an array, append with '-'.
    #[test]
    fn add_sets_members_and_inserts_or_appends_array_items() {
        assert_eq!(
            check(r#"{"a":1}"#, r#"[{"op":"add","path":"/b","value":[1.50]}]"#).unwrap(),
            r#"{"a":1,"b":[1.50]}"#
        );
        assert_eq!(
            check(
                r#"{"a":["x","z"]}"#,
                r#"[{"op":"add","path":"/a/1","value":"y"}]"#
            )
            .unwrap(),
            r#"{"a":["x","y","z"]}"#
        );
        assert_eq!(
            check(
                r#"{"a":["x"]}"#,
                r#"[{"op":"add","path":"/a/-","value":"y"},{"op":"add","path":"/a/2","value":"z"}]"#
            )
            .unwrap(),
            r#"{"a":["x","y","z"]}"#
        );
        assert_eq!(
            check(r#"{"a":1}"#, r#"[{"op":"add","path":"/a","value":2}]"#).unwrap(),
            r#"{"a":2}"#
        );
    }

    // RFC 6902 4.1: the target's parent must exist; an index past the end is an error.
    #[test]
    fn add_under_a_missing_parent_or_past_the_end_fails() {
        assert!(is_failed(check(
            r#"{"a":1}"#,
            r#"[{"op":"add","path":"/b/c","value":1}]"#
        )));
        assert!(is_failed(check(
            r#"{"a":[]}"#,
            r#"[{"op":"add","path":"/a/1","value":1}]"#
        )));
        assert!(is_failed(check(
            r#"{"a":[]}"#,
            r#"[{"op":"add","path":"/a/01","value":1}]"#
        )));
    }

    // RFC 6902 A.4, A.5: remove an object member and an array item.
    #[test]
    fn remove_deletes_members_and_items_and_fails_on_missing_targets() {
        assert_eq!(
            check(
                r#"{"a":1,"b":[1,2,3]}"#,
                r#"[{"op":"remove","path":"/a"},{"op":"remove","path":"/b/1"}]"#
            )
            .unwrap(),
            r#"{"b":[1,3]}"#
        );
        assert!(is_failed(check(
            r#"{"a":1}"#,
            r#"[{"op":"remove","path":"/b"}]"#
        )));
        assert!(is_failed(check(
            r#"{"a":[1]}"#,
            r#"[{"op":"remove","path":"/a/-"}]"#
        )));
        assert!(is_failed(check(
            r#"{"a":1}"#,
            r#"[{"op":"remove","path":""}]"#
        )));
    }

    // RFC 6902 4.3: replace needs an existing target.
    #[test]
    fn replace_needs_an_existing_target() {
        assert_eq!(
            check(
                r#"{"a":{"b":1}}"#,
                r#"[{"op":"replace","path":"/a/b","value":"x"}]"#
            )
            .unwrap(),
            r#"{"a":{"b":"x"}}"#
        );
        assert!(is_failed(check(
            r#"{"a":1}"#,
            r#"[{"op":"replace","path":"/b","value":1}]"#
        )));
    }

    // RFC 6902 A.6, A.7, 4.4: move is remove then add; never into its own child.
    #[test]
    fn move_removes_then_adds_and_refuses_moving_into_itself() {
        assert_eq!(
            check(
                r#"{"a":{"b":1},"c":{}}"#,
                r#"[{"op":"move","from":"/a/b","path":"/c/d"}]"#
            )
            .unwrap(),
            r#"{"a":{},"c":{"d":1}}"#
        );
        assert_eq!(
            check(
                r#"{"a":[1,2,3,4]}"#,
                r#"[{"op":"move","from":"/a/1","path":"/a/3"}]"#
            )
            .unwrap(),
            r#"{"a":[1,3,4,2]}"#
        );
        assert!(is_failed(check(
            r#"{"a":{"b":1}}"#,
            r#"[{"op":"move","from":"/a","path":"/a/b/c"}]"#
        )));
        assert!(is_failed(check(
            r#"{"a":1}"#,
            r#"[{"op":"move","from":"/x","path":"/y"}]"#
        )));
    }

    // RFC 6902 4.5: copy adds a deep copy.
    #[test]
    fn copy_duplicates_a_value() {
        assert_eq!(
            check(
                r#"{"a":{"b":[1]}}"#,
                r#"[{"op":"copy","from":"/a","path":"/c"}]"#
            )
            .unwrap(),
            r#"{"a":{"b":[1]},"c":{"b":[1]}}"#
        );
    }

    // RFC 6902 4.6, A.8, A.9: test compares numbers by value and objects without order.
    #[test]
    fn test_passes_on_equal_json_and_fails_otherwise() {
        let document = r#"{"n":1.50,"o":{"x":1,"y":[true,"s"]}}"#;
        assert!(check(document, r#"[{"op":"test","path":"/n","value":1.5}]"#).is_ok());
        assert!(check(
            document,
            r#"[{"op":"test","path":"/o","value":{"y":[true,"s"],"x":1}}]"#
        )
        .is_ok());
        assert!(is_failed(check(
            document,
            r#"[{"op":"test","path":"/n","value":"1.5"}]"#
        )));
        assert!(is_failed(check(
            document,
            r#"[{"op":"test","path":"/o/y","value":[true]}]"#
        )));
        assert!(is_failed(check(
            document,
            r#"[{"op":"test","path":"/missing","value":1}]"#
        )));
    }

    // RFC 6902 5: a failing operation fails the whole patch.
    #[test]
    fn a_failed_test_stops_the_patch_before_later_operations() {
        let result = check(
            r#"{"a":1}"#,
            r#"[{"op":"add","path":"/b","value":2},{"op":"test","path":"/a","value":9},{"op":"add","path":"/c","value":3}]"#,
        );
        assert!(is_failed(result));
    }

    // RFC 6901 3, 4: '~1' is '/', '~0' is '~', and '~' followed by anything else is malformed.
    #[test]
    fn pointer_escapes_are_decoded() {
        assert_eq!(
            check(
                r#"{"a/b":1,"m~n":2}"#,
                r#"[{"op":"replace","path":"/a~1b","value":3},{"op":"remove","path":"/m~0n"}]"#
            )
            .unwrap(),
            r#"{"a/b":3}"#
        );
        assert!(is_malformed(check(
            r#"{}"#,
            r#"[{"op":"add","path":"/a~2","value":1}]"#
        )));
        assert!(is_malformed(check(
            r#"{}"#,
            r#"[{"op":"add","path":"a","value":1}]"#
        )));
    }

    // RFC 6902 4: every operation has a known op, a path, and its own members.
    #[test]
    fn malformed_documents_are_refused_before_anything_applies() {
        for patch in [
            r#"{"op":"add","path":"/a","value":1}"#,
            r#"[{"op":"frobnicate","path":"/a"}]"#,
            r#"[{"path":"/a","value":1}]"#,
            r#"[{"op":"add","value":1}]"#,
            r#"[{"op":"add","path":"/a"}]"#,
            r#"[{"op":"move","path":"/a"}]"#,
            r#"[{"op":"add","path":7,"value":1}]"#,
            r#"["add"]"#,
        ] {
            assert!(is_malformed(check(r#"{"a":1}"#, patch)), "{patch}");
        }
    }
}
