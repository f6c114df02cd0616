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
    /// The prefix `text` opens with (`eq` when none) and the value after it.
    pub fn split(text: &str) -> (Prefix, &str) {
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
        SearchParamType::Token => parse_token(modifier, raw).map(|value| {
            match (value, crate::fhirpath::implied_code_system(parameter)) {
                // The system a `code` is implied to have is the one its values are indexed
                // without (search.html#token, "code: (implicit)").
                (
                    SearchValue::Token {
                        system: SystemMatch::Is(system),
                        code,
                    },
                    Some(implied),
                ) if system == implied => SearchValue::Token {
                    system: SystemMatch::Absent,
                    code,
                },
                (value, _) => value,
            }
        }),
        SearchParamType::Date => {
            let (prefix, text) = Prefix::split(raw);
            DateRange::parse(text)
                .map(|range| SearchValue::Date {
                    prefix,
                    range: match prefix {
                        Prefix::Approximately => approximately(range),
                        _ => range,
                    },
                })
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

/// `ap` on a date: the searched range widened on each side by a tenth of the time between
/// it and now, the spec's recommendation ("10% of the gap between now and the date"), and
/// by a day at least, so that a date near today still reaches a neighbouring day and its
/// time zones. The condition is then an overlap with this wider range.
fn approximately(range: DateRange) -> DateRange {
    const DAY: i64 = 24 * 60 * 60 * 1_000_000;
    let now = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000) as i64;
    let margin = |at: i64| (now.abs_diff(at) / 10).min(i64::MAX as u64) as i64;
    DateRange {
        low: range.low.saturating_sub(margin(range.low).max(DAY)),
        high: range.high.saturating_add(margin(range.high).max(DAY)),
    }
}

#[cfg(test)]
mod tests;
