//! Parsing of search values, per parameter type and prefix.

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
    assert!(value("Patient", "birthdate", Modifier::None, "0000").is_err());
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

#[test]
fn approximately_widens_a_date_by_a_tenth_of_the_time_since_and_a_day_at_least() {
    let Ok(SearchValue::Date { range, .. }) =
        value("Patient", "birthdate", Modifier::None, "ap1980-01-01")
    else {
        panic!()
    };
    let exact = DateRange::parse("1980-01-01").unwrap();
    let year = 365 * 24 * 60 * 60 * 1_000_000_i64;
    assert!(exact.low - range.low > 3 * year, "{range:?}");
    assert!(range.high - exact.high > 3 * year, "{range:?}");
}
