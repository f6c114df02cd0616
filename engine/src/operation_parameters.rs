//! The `Parameters` resource an operation is invoked with by POST, read as the name/value
//! pairs the same operation takes in a URL by GET.
//! Spec: https://hl7.org/fhir/R4/operations.html#executing

use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value};

use crate::Error;

/// Each `parameter` of the Parameters resource `body` as its name and its primitive
/// `value[x]` written as in a URL (`valueInteger` 5 as `5`, `valueInstant` as sent).
///
/// # Errors
/// [`Error::Invalid`] when `body` is not a Parameters resource, or a parameter has no
/// primitive value (a `resource` or `part`, which no operation Ember runs by POST takes).
pub fn operation_parameters(body: &[u8]) -> Result<Vec<(String, String)>, Error> {
    let not_parameters =
        || Error::Invalid("The operation takes a Parameters resource with named values".into());
    let resource: Value = sonic_rs::from_slice(body).map_err(|_| not_parameters())?;
    if resource["resourceType"].as_str() != Some("Parameters") {
        return Err(not_parameters());
    }
    let mut pairs = Vec::new();
    for parameter in resource["parameter"].as_array().into_iter().flatten() {
        let name = parameter["name"].as_str().ok_or_else(not_parameters)?;
        let value = parameter.as_object().and_then(|members| {
            members
                .iter()
                .find(|(key, _)| key.starts_with("value"))
                .map(|(_, value)| value)
        });
        let text = match value {
            Some(value) if value.is_str() => value.as_str().unwrap_or_default().to_owned(),
            Some(value) if value.is_number() || value.is_boolean() => value.to_string(),
            _ => {
                return Err(Error::Invalid(format!(
                    "The parameter '{name}' must have a primitive value[x]"
                )))
            }
        };
        pairs.push((name.to_owned(), text));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitive_values_become_url_style_pairs() {
        let body = br#"{"resourceType":"Parameters","parameter":[
            {"name":"_since","valueInstant":"2020-01-01T00:00:00Z"},
            {"name":"_count","valueInteger":5}]}"#;
        assert_eq!(
            operation_parameters(body).unwrap(),
            [
                ("_since".to_owned(), "2020-01-01T00:00:00Z".to_owned()),
                ("_count".to_owned(), "5".to_owned())
            ]
        );
    }

    #[test]
    fn other_resources_and_parameters_without_a_primitive_value_are_refused() {
        assert!(operation_parameters(br#"{"resourceType":"Patient"}"#).is_err());
        assert!(operation_parameters(b"not json").is_err());
        let with_part = br#"{"resourceType":"Parameters","parameter":[{"name":"x","part":[]}]}"#;
        assert!(operation_parameters(with_part).is_err());
    }
}
