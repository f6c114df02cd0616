//! Search index values: what each SearchParameter selects in a resource, normalised for the
//! comparisons the spec defines, ready to be written next to the resource.
//! Spec: https://hl7.org/fhir/R4/search.html
//!
//! Extraction runs at write time, on the request's own task, from the one parse of the body
//! (design brief, "Index at write time"); storage only copies these values into its tables.

mod date;
mod extract;
mod number;
mod reference;
mod string;
mod targets;
mod token;

use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value};

use crate::definitions::SearchParamType;

pub use date::DateRange;
pub use extract::extract;
pub use number::Decimal;
pub use reference::{local_target, localise_reference, parse_reference};
pub use string::fold;
pub use targets::{include_targets, reference_targets, CanonicalTarget, IncludeTargets};

/// One value of one search parameter of one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    /// The parameter's code, e.g. `birthdate`.
    pub param: &'static str,
    /// For the parts of a composite parameter: which part, and which element of the
    /// composite's expression it came from, so `code-value-quantity` pairs a code with the
    /// value of the same component and not of another.
    pub composite: Option<CompositePart>,
    pub value: IndexValue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompositePart {
    pub component: u16,
    pub element: u16,
}

/// An amount: a decimal with its implicit precision, or a Range with explicit bounds.
#[derive(Debug, Clone, PartialEq)]
pub enum Amount {
    Decimal(Decimal),
    Range {
        low: Option<Decimal>,
        high: Option<Decimal>,
    },
}

/// A normalised value, one variant per index table.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexValue {
    /// `folded` for the default and `:contains` matches, `exact` for `:exact`.
    String {
        folded: String,
        exact: String,
    },
    /// `text` is the folded display or concept text, for `:text`.
    Token {
        system: Option<String>,
        code: Option<String>,
        text: Option<String>,
    },
    /// An Identifier's type coding with its value, for `identifier:of-type=system|code|value`.
    IdentifierOfType {
        type_system: Option<String>,
        type_code: Option<String>,
        value: String,
    },
    Date(DateRange),
    Number(Amount),
    Quantity {
        amount: Amount,
        system: Option<String>,
        code: Option<String>,
        unit: Option<String>,
    },
    Reference {
        target_type: Option<String>,
        target_id: Option<String>,
        url: Option<String>,
        version: Option<String>,
    },
    /// `Reference.identifier`, for `reference:identifier=system|value`.
    ReferenceIdentifier {
        system: Option<String>,
        value: String,
    },
    Uri(String),
    /// Words for `_text` (the narrative) and `_content` (every string in the resource),
    /// folded; PostgreSQL turns them into a full-text document.
    Text(String),
}

/// Converts one element a parameter's expression selected into the values it is searched by.
pub fn values_of(kind: SearchParamType, value: &Value, fhir_type: &str, out: &mut Vec<IndexValue>) {
    match kind {
        SearchParamType::String => {
            let mut strings = Vec::new();
            string::strings_of(value, fhir_type, &mut strings);
            out.extend(strings.into_iter().map(|exact| IndexValue::String {
                folded: fold(&exact),
                exact,
            }));
        }
        SearchParamType::Token => token::tokens_of(value, fhir_type, out),
        SearchParamType::Reference => reference::references_of(value, fhir_type, out),
        SearchParamType::Date => dates_of(value, fhir_type, out),
        SearchParamType::Number => {
            if let Some(amount) = amount_of(value, fhir_type) {
                out.push(IndexValue::Number(amount));
            }
        }
        SearchParamType::Quantity => quantities_of(value, fhir_type, out),
        SearchParamType::Uri => {
            if let Some(uri) = value.as_str() {
                out.push(IndexValue::Uri(uri.to_owned()));
            }
        }
        // The extractor splits composites and `near` (a position's latitude and longitude)
        // into their parts itself.
        SearchParamType::Composite | SearchParamType::Special => {}
    }
}

fn dates_of(value: &Value, fhir_type: &str, out: &mut Vec<IndexValue>) {
    let date_at = |member: &str| {
        value
            .get(member)
            .and_then(|member| member.as_str())
            .and_then(DateRange::parse)
    };
    match fhir_type {
        "Period" => {
            let start = date_at("start");
            let end = date_at("end");
            if start.is_some() || end.is_some() {
                out.push(IndexValue::Date(DateRange {
                    low: start.map_or(i64::MIN, |start| start.low),
                    high: end.map_or(i64::MAX, |end| end.high),
                }));
            }
        }
        // search.html#date: for a Timing "the specified scheduling details are ignored and
        // only the outer limits matter": one range from its first event or bound to its last.
        "Timing" => {
            let mut parts = Vec::new();
            if let Some(events) = value.get("event").and_then(|events| events.as_array()) {
                for event in events.iter() {
                    dates_of(event, "dateTime", &mut parts);
                }
            }
            if let Some(bounds) = value
                .get("repeat")
                .and_then(|repeat| repeat.get("boundsPeriod"))
            {
                dates_of(bounds, "Period", &mut parts);
            }
            let outer = parts
                .into_iter()
                .filter_map(|part| match part {
                    IndexValue::Date(range) => Some(range),
                    _ => None,
                })
                .reduce(|first, second| DateRange {
                    low: first.low.min(second.low),
                    high: first.high.max(second.high),
                });
            out.extend(outer.map(IndexValue::Date));
        }
        _ => {
            if let Some(range) = value.as_str().and_then(DateRange::parse) {
                out.push(IndexValue::Date(range));
            }
        }
    }
}

fn decimal_of(value: &Value) -> Option<Decimal> {
    value
        .as_raw_number()
        .and_then(|number| Decimal::parse(number.as_str()))
}

fn amount_of(value: &Value, fhir_type: &str) -> Option<Amount> {
    match fhir_type {
        "Range" => {
            let bound = |member: &str| value.get(member)?.get("value").and_then(decimal_of);
            let (low, high) = (bound("low"), bound("high"));
            (low.is_some() || high.is_some()).then_some(Amount::Range { low, high })
        }
        _ if value.is_object() => value.get("value").and_then(decimal_of).map(Amount::Decimal),
        _ => decimal_of(value).map(Amount::Decimal),
    }
}

fn quantities_of(value: &Value, fhir_type: &str, out: &mut Vec<IndexValue>) {
    let Some(amount) = amount_of(value, fhir_type) else {
        return;
    };
    let member = |object: &Value, name: &str| {
        object
            .get(name)
            .and_then(|member| member.as_str())
            .map(str::to_owned)
    };
    let units_from = match fhir_type {
        "Range" => value
            .get("low")
            .or_else(|| value.get("high"))
            .unwrap_or(value),
        _ => value,
    };
    let (system, code) = if fhir_type == "Money" {
        (
            Some("urn:iso:std:iso:4217".to_owned()),
            member(value, "currency"),
        )
    } else {
        (member(units_from, "system"), member(units_from, "code"))
    };
    out.push(IndexValue::Quantity {
        amount,
        system,
        code,
        unit: member(units_from, "unit"),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(kind: SearchParamType, json: &str, fhir_type: &str) -> Vec<IndexValue> {
        let value: Value = sonic_rs::from_str(json).unwrap();
        let mut out = Vec::new();
        values_of(kind, &value, fhir_type, &mut out);
        out
    }

    #[test]
    fn period_without_end_is_open_towards_the_future() {
        let found = values(SearchParamType::Date, r#"{"start":"2020-01-01"}"#, "Period");
        let IndexValue::Date(range) = &found[0] else {
            panic!("{found:?}")
        };
        assert_eq!(range.low, DateRange::parse("2020-01-01").unwrap().low);
        assert_eq!(range.high, i64::MAX);
    }

    #[test]
    fn quantity_keeps_its_decimal_as_written_with_system_and_code() {
        let found = values(
            SearchParamType::Quantity,
            r#"{"value":185.50,"unit":"lbs","system":"http://unitsofmeasure.org","code":"[lb_av]"}"#,
            "Quantity",
        );
        assert_eq!(
            found,
            [IndexValue::Quantity {
                amount: Amount::Decimal(Decimal {
                    text: "185.50".into(),
                    exponent: -2
                }),
                system: Some("http://unitsofmeasure.org".into()),
                code: Some("[lb_av]".into()),
                unit: Some("lbs".into()),
            }]
        );
    }

    #[test]
    fn string_values_are_kept_exact_and_folded() {
        let found = values(SearchParamType::String, r#""Ève""#, "string");
        assert_eq!(
            found,
            [IndexValue::String {
                folded: "eve".into(),
                exact: "Ève".into()
            }]
        );
    }
}
