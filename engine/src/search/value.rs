//! The values of search parameters, parsed per parameter type, with prefixes and modifiers.
//! Spec: https://hl7.org/fhir/R4/search.html#ptypes

use super::escape::{split_unescaped, unescape};
use crate::definitions::{search_parameter_by_url, SearchParamType, SearchParameterDefinition};
use crate::index::{fold, DateRange, Decimal};
use crate::ResourceType;

/// The comparison prefix of a date, number or quantity value; `eq` when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    StartsAfter,
    EndsBefore,
    Approximately,
}

impl Prefix {
    fn split(text: &str) -> (Prefix, &str) {
        let prefix = match text.get(..2) {
            Some("eq") => Prefix::Eq,
            Some("ne") => Prefix::Ne,
            Some("gt") => Prefix::Gt,
            Some("lt") => Prefix::Lt,
            Some("ge") => Prefix::Ge,
            Some("le") => Prefix::Le,
            Some("sa") => Prefix::StartsAfter,
            Some("eb") => Prefix::EndsBefore,
            Some("ap") => Prefix::Approximately,
            _ => return (Prefix::Eq, text),
        };
        (prefix, &text[2..])
    }
}

/// Which system a token value asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemMatch {
    /// `code`: any system, or none.
    Any,
    /// `|code`: the coding must have no system.
    Absent,
    /// `system|code` or `system|`.
    Is(String),
}

/// The modifier after the parameter name (`name:exact`), other than `:missing` and chains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modifier {
    None,
    Exact,
    Contains,
    Text,
    Not,
    Above,
    Below,
    OfType,
    Identifier,
    /// `subject:Patient=123`: the reference must point to this type.
    Type(ResourceType),
}

impl Modifier {
    pub(super) fn parse(text: Option<&str>) -> Result<Modifier, String> {
        Ok(match text {
            None => Modifier::None,
            Some("exact") => Modifier::Exact,
            Some("contains") => Modifier::Contains,
            Some("text") => Modifier::Text,
            Some("not") => Modifier::Not,
            Some("above") => Modifier::Above,
            Some("below") => Modifier::Below,
            Some("of-type") => Modifier::OfType,
            Some("identifier") => Modifier::Identifier,
            Some(other) => match ResourceType::parse(other) {
                Some(kind) => Modifier::Type(kind),
                None => return Err(format!("Unknown modifier ':{other}'")),
            },
        })
    }

    /// Whether the spec allows this modifier on a parameter of type `kind`.
    pub(super) fn allowed_for(self, kind: SearchParamType) -> bool {
        use SearchParamType as Kind;
        match self {
            Modifier::None => true,
            Modifier::Exact | Modifier::Contains => kind == Kind::String,
            Modifier::Text | Modifier::Not | Modifier::OfType => kind == Kind::Token,
            Modifier::Above | Modifier::Below => kind == Kind::Uri,
            Modifier::Identifier | Modifier::Type(_) => kind == Kind::Reference,
        }
    }
}

/// One value of a search (one of the comma-separated alternatives).
#[derive(Debug, Clone, PartialEq)]
pub enum SearchValue {
    /// Folded for the default and `:contains` matches; as sent for `:exact`.
    String(String),
    Token {
        system: SystemMatch,
        code: Option<String>,
    },
    /// `:text`, folded.
    TokenText(String),
    OfType {
        type_system: String,
        type_code: String,
        value: String,
    },
    Date {
        prefix: Prefix,
        range: DateRange,
    },
    Number {
        prefix: Prefix,
        decimal: Decimal,
    },
    Quantity {
        prefix: Prefix,
        decimal: Decimal,
        system: Option<String>,
        code: Option<String>,
    },
    /// A local reference; `target_type` is `None` for a bare id.
    Reference {
        target_type: Option<ResourceType>,
        id: String,
    },
    /// An absolute or canonical URL, with the version after `|` if given.
    Url {
        url: String,
        version: Option<String>,
    },
    Identifier {
        system: Option<String>,
        value: String,
    },
    Uri(String),
    /// `url|version` on a canonical resource's `url` (`canonical_url.rs`).
    CanonicalUrl {
        url: String,
        version: String,
    },
    /// One value per component of a composite parameter, in the components' order.
    Composite(Vec<SearchValue>),
    /// `_text` and `_content`: a full-text query (words, "quoted phrases", `-word`, combined
    /// with `and`, `or` and parentheses).
    FullText(super::TextQuery),
    /// `near` (Location): within `kilometres` of a point, in degrees of WGS84.
    Near {
        latitude: f64,
        longitude: f64,
        kilometres: f64,
    },
}

/// The distance `near=latitude|longitude` means without one; the spec leaves it to the server.
pub(crate) const NEAR_DEFAULT_KILOMETRES: f64 = 10.0;

/// Parses one alternative of `parameter` with `modifier`.
pub(super) fn parse_value(
    parameter: &SearchParameterDefinition,
    modifier: Modifier,
    raw: &str,
) -> Result<SearchValue, String> {
    if raw.is_empty() {
        return Err("An empty value matches nothing; leave the parameter out instead".into());
    }
    super::escape::check_escapes(raw)?;
    // R4 types these two as strings, but they search words, not prefixes.
    if is_full_text(&parameter.code) {
        return super::parse_text_query(&fold(&unescape(raw))).map(SearchValue::FullText);
    }
    parse_typed(parameter.kind, parameter, modifier, raw)
}

fn parse_typed(
    kind: SearchParamType,
    parameter: &SearchParameterDefinition,
    modifier: Modifier,
    raw: &str,
) -> Result<SearchValue, String> {
    match kind {
        SearchParamType::String => match modifier {
            Modifier::Exact => Ok(SearchValue::String(unescape(raw))),
            // A value of combining marks alone folds to nothing, which every string starts
            // with: it would match every resource with a value.
            _ => match fold(&unescape(raw)) {
                folded if folded.is_empty() => Err(format!(
                    "'{raw}' has nothing to search for once accents are set aside"
                )),
                folded => Ok(SearchValue::String(folded)),
            },
        },
        SearchParamType::Token => parse_token(modifier, raw),
        SearchParamType::Date => {
            let (prefix, text) = Prefix::split(raw);
            DateRange::parse(text)
                .map(|range| SearchValue::Date { prefix, range })
                .ok_or_else(|| format!("'{raw}' is not a FHIR date, dateTime or instant"))
        }
        SearchParamType::Number => {
            let (prefix, text) = Prefix::split(raw);
            Decimal::parse(text)
                .map(|decimal| SearchValue::Number { prefix, decimal })
                .ok_or_else(|| format!("'{raw}' is not a number"))
        }
        SearchParamType::Quantity => parse_quantity(raw),
        SearchParamType::Reference => parse_reference(modifier, raw),
        SearchParamType::Uri => Ok(super::canonical_url::uri_value(parameter, modifier, raw)),
        SearchParamType::Composite => parse_composite(parameter, raw),
        SearchParamType::Special => parse_near(raw),
    }
}

/// `latitude|longitude|distance|units`, distance and units optional (units are kilometres
/// when left out). Spec: the `near` parameter of https://hl7.org/fhir/R4/location.html#positional
fn parse_near(raw: &str) -> Result<SearchValue, String> {
    let parts = split_unescaped(raw, '|');
    if !(2..=4).contains(&parts.len()) {
        return Err(format!(
            "'near' takes 'latitude|longitude|distance|units', not '{raw}'"
        ));
    }
    let number = |part: &str, what: &str| {
        part.parse::<f64>()
            .ok()
            .filter(|number| number.is_finite())
            .ok_or_else(|| format!("The {what} in 'near={raw}' is not a number"))
    };
    let latitude = number(parts[0], "latitude")?;
    let longitude = number(parts[1], "longitude")?;
    if !(-90.0..=90.0).contains(&latitude) || !(-180.0..=180.0).contains(&longitude) {
        return Err(format!(
            "'near={raw}': latitude must be within -90 and 90, longitude within -180 and 180"
        ));
    }
    let distance = match parts.get(2) {
        None | Some(&"") => None,
        Some(text) => Some(number(text, "distance")?),
    };
    if distance.is_some_and(|distance| distance < 0.0) {
        return Err(format!("The distance in 'near={raw}' is negative"));
    }
    let kilometres_per_unit = match parts.get(3).copied().unwrap_or("km") {
        "" | "km" => 1.0,
        "m" => 0.001,
        "[mi_i]" => 1.609_344,
        "[mi_us]" => 1.609_347_218_694_437,
        "[nmi_i]" => 1.852,
        other => {
            return Err(format!(
                "'{other}' in 'near={raw}' is not a distance unit Ember knows: use the UCUM codes km, m, [mi_i], [mi_us] or [nmi_i]"
            ))
        }
    };
    Ok(SearchValue::Near {
        latitude,
        longitude,
        kilometres: distance.map_or(NEAR_DEFAULT_KILOMETRES, |distance| {
            distance * kilometres_per_unit
        }),
    })
}

fn parse_token(modifier: Modifier, raw: &str) -> Result<SearchValue, String> {
    if modifier == Modifier::Text {
        return Ok(SearchValue::TokenText(fold(&unescape(raw))));
    }
    let parts = split_unescaped(raw, '|');
    if modifier == Modifier::OfType {
        return match parts.as_slice() {
            [system, code, value] if !code.is_empty() && !value.is_empty() => {
                Ok(SearchValue::OfType {
                    type_system: unescape(system),
                    type_code: unescape(code),
                    value: unescape(value),
                })
            }
            _ => Err(format!("':of-type' takes 'system|code|value', not '{raw}'")),
        };
    }
    match parts.as_slice() {
        [code] => Ok(SearchValue::Token {
            system: SystemMatch::Any,
            code: Some(unescape(code)),
        }),
        ["", code] => Ok(SearchValue::Token {
            system: SystemMatch::Absent,
            code: Some(unescape(code)),
        }),
        [system, ""] => Ok(SearchValue::Token {
            system: SystemMatch::Is(unescape(system)),
            code: None,
        }),
        [system, code] => Ok(SearchValue::Token {
            system: SystemMatch::Is(unescape(system)),
            code: Some(unescape(code)),
        }),
        _ => Err(format!("'{raw}' has more than one unescaped '|'")),
    }
}

fn parse_quantity(raw: &str) -> Result<SearchValue, String> {
    let parts = split_unescaped(raw, '|');
    let (prefix, number) = Prefix::split(parts[0]);
    let decimal =
        Decimal::parse(number).ok_or_else(|| format!("'{}' is not a number", parts[0]))?;
    let non_empty = |text: &&str| (!text.is_empty()).then(|| unescape(text));
    let (system, code) = match parts.as_slice() {
        [_] => (None, None),
        [_, system, code] => (non_empty(system), non_empty(code)),
        _ => {
            return Err(format!(
                "A quantity is 'number', or 'number|system|code', not '{raw}'"
            ))
        }
    };
    Ok(SearchValue::Quantity {
        prefix,
        decimal,
        system,
        code,
    })
}

fn parse_reference(modifier: Modifier, raw: &str) -> Result<SearchValue, String> {
    let text = unescape(raw);
    if modifier == Modifier::Identifier {
        let parts = split_unescaped(raw, '|');
        return match parts.as_slice() {
            [value] => Ok(SearchValue::Identifier {
                system: None,
                value: unescape(value),
            }),
            [system, value] if !value.is_empty() => Ok(SearchValue::Identifier {
                system: (!system.is_empty()).then(|| unescape(system)),
                value: unescape(value),
            }),
            _ => Err(format!("':identifier' takes 'system|value', not '{raw}'")),
        };
    }
    if text.contains(':') {
        let (url, version) = match text.split_once('|') {
            Some((url, version)) => (url.to_owned(), Some(version.to_owned())),
            None => (text, None),
        };
        return Ok(SearchValue::Url { url, version });
    }
    let type_from_modifier = match modifier {
        Modifier::Type(kind) => Some(kind),
        _ => None,
    };
    match text.split_once('/') {
        None => {
            crate::Id::parse(&text).map_err(|error| error.to_string())?;
            Ok(SearchValue::Reference {
                target_type: type_from_modifier,
                id: text,
            })
        }
        Some((kind, id)) => {
            let kind = ResourceType::parse(kind)
                .ok_or_else(|| format!("'{kind}' in '{raw}' is not an R4 resource type"))?;
            crate::Id::parse(id).map_err(|error| error.to_string())?;
            if type_from_modifier.is_some_and(|from_modifier| from_modifier != kind) {
                return Err(format!("'{raw}' does not match the type modifier"));
            }
            Ok(SearchValue::Reference {
                target_type: Some(kind),
                id: id.to_owned(),
            })
        }
    }
}

fn parse_composite(
    parameter: &SearchParameterDefinition,
    raw: &str,
) -> Result<SearchValue, String> {
    let parts = split_unescaped(raw, '$');
    if parts.len() != parameter.component.len() {
        return Err(format!(
            "'{}' has {} parts joined by '$'; '{raw}' has {}",
            parameter.code,
            parameter.component.len(),
            parts.len()
        ));
    }
    let mut values = Vec::with_capacity(parts.len());
    for (component, part) in parameter.component.iter().zip(parts) {
        let definition = search_parameter_by_url(&component.definition).ok_or_else(|| {
            format!(
                "component {} is not a known SearchParameter",
                component.definition
            )
        })?;
        values.push(parse_typed(
            definition.kind,
            definition,
            Modifier::None,
            part,
        )?);
    }
    Ok(SearchValue::Composite(values))
}

/// Whether `code` is searched as full text (`_text`, the narrative; `_content`, everything).
pub fn is_full_text(code: &str) -> bool {
    matches!(code, "_text" | "_content")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definitions::search_parameter;

    fn value(
        resource_type: &str,
        code: &str,
        modifier: Modifier,
        raw: &str,
    ) -> Result<SearchValue, String> {
        parse_value(
            search_parameter(resource_type, code).unwrap(),
            modifier,
            raw,
        )
    }

    #[test]
    fn token_forms_follow_the_spec() {
        let token = |raw| value("Observation", "code", Modifier::None, raw).unwrap();
        assert_eq!(
            token("1234"),
            SearchValue::Token {
                system: SystemMatch::Any,
                code: Some("1234".into())
            }
        );
        assert_eq!(
            token("|1234"),
            SearchValue::Token {
                system: SystemMatch::Absent,
                code: Some("1234".into())
            }
        );
        assert_eq!(
            token("http://loinc.org|"),
            SearchValue::Token {
                system: SystemMatch::Is("http://loinc.org".into()),
                code: None
            }
        );
        assert_eq!(
            token(r"http://x|a\|b"),
            SearchValue::Token {
                system: SystemMatch::Is("http://x".into()),
                code: Some("a|b".into())
            }
        );
    }

    #[test]
    fn date_prefixes_are_read_and_bad_dates_rejected() {
        let parsed = value("Patient", "birthdate", Modifier::None, "ge2020-01").unwrap();
        assert!(matches!(
            parsed,
            SearchValue::Date {
                prefix: Prefix::Ge,
                ..
            }
        ));
        assert!(value("Patient", "birthdate", Modifier::None, "2020-13-01").is_err());
        assert!(value("Patient", "birthdate", Modifier::None, "xx2020").is_err());
    }

    #[test]
    fn quantity_with_system_and_code() {
        let parsed = value(
            "Observation",
            "value-quantity",
            Modifier::None,
            "le5.4|http://unitsofmeasure.org|mg",
        )
        .unwrap();
        assert_eq!(
            parsed,
            SearchValue::Quantity {
                prefix: Prefix::Le,
                decimal: Decimal::parse("5.4").unwrap(),
                system: Some("http://unitsofmeasure.org".into()),
                code: Some("mg".into()),
            }
        );
    }

    #[test]
    fn near_reads_a_point_and_a_distance_in_any_length_unit() {
        let near = |raw| value("Location", "near", Modifier::None, raw);
        assert_eq!(
            near("42.256500|-83.694810|11.20|km"),
            Ok(SearchValue::Near {
                latitude: 42.2565,
                longitude: -83.69481,
                kilometres: 11.2
            })
        );
        let Ok(SearchValue::Near { kilometres, .. }) = near("42.2565|-83.69481|2|[mi_i]") else {
            panic!()
        };
        assert!((kilometres - 3.218_688).abs() < 1e-9);
        assert_eq!(
            near("0|0|500|m"),
            Ok(SearchValue::Near {
                latitude: 0.0,
                longitude: 0.0,
                kilometres: 0.5
            })
        );
        assert_eq!(
            near("0|0"),
            Ok(SearchValue::Near {
                latitude: 0.0,
                longitude: 0.0,
                kilometres: NEAR_DEFAULT_KILOMETRES
            })
        );
    }

    #[test]
    fn near_refuses_what_is_not_a_point_on_earth() {
        let error = |raw| value("Location", "near", Modifier::None, raw).unwrap_err();
        assert!(error("42.25").contains("latitude|longitude"));
        assert!(error("north|-83.69").contains("latitude"));
        assert!(error("91|0").contains("within -90 and 90"));
        assert!(error("0|181").contains("within -180 and 180"));
        assert!(error("0|0|-1|km").contains("negative"));
        assert!(error("0|0|5|furlong").contains("UCUM"));
        assert!(error("0|0|5|km|x").contains("latitude|longitude"));
        assert!(error("0|NaN").contains("not a number"));
    }

    #[test]
    fn reference_forms() {
        let reference = |modifier, raw| value("Observation", "subject", modifier, raw).unwrap();
        assert_eq!(
            reference(Modifier::None, "Patient/23"),
            SearchValue::Reference {
                target_type: ResourceType::parse("Patient"),
                id: "23".into()
            }
        );
        assert_eq!(
            reference(Modifier::None, "23"),
            SearchValue::Reference {
                target_type: None,
                id: "23".into()
            }
        );
        assert_eq!(
            reference(Modifier::None, "http://example.org/fhir/Patient/23"),
            SearchValue::Url {
                url: "http://example.org/fhir/Patient/23".into(),
                version: None
            }
        );
        assert!(value("Observation", "subject", Modifier::None, "Unicorn/1").is_err());
    }

    #[test]
    fn composite_values_are_split_on_dollar_and_typed_per_component() {
        let parsed = value(
            "Observation",
            "code-value-quantity",
            Modifier::None,
            "http://loinc.org|8480-6$gt100",
        )
        .unwrap();
        let SearchValue::Composite(parts) = parsed else {
            panic!()
        };
        assert!(matches!(parts[0], SearchValue::Token { .. }));
        assert!(matches!(
            parts[1],
            SearchValue::Quantity {
                prefix: Prefix::Gt,
                ..
            }
        ));
        assert!(value(
            "Observation",
            "code-value-quantity",
            Modifier::None,
            "8480-6"
        )
        .is_err());
    }
}
