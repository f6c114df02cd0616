//! The names of the 146 concrete FHIR R4 resource types, for recognising a type in a URL or body.

use std::sync::LazyLock;

/// The vendored JSON text, kept so the names below can borrow from it for `'static`.
static JSON: LazyLock<String> = LazyLock::new(|| {
    super::gunzip(include_bytes!("../../definitions/resource-types.json.gz"))
        .expect("vendored resource-types.json.gz is valid")
});

/// The sorted names, borrowed from [`JSON`] (they are plain ASCII, so never escaped).
static NAMES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let json: &'static str = JSON.as_str();
    sonic_rs::from_str(json).expect("vendored resource-types.json.gz is valid")
});

/// The concrete resource types that derive from `Resource` directly rather than from
/// `DomainResource`: they have no `text`, `contained` or extensions, and `DomainResource`
/// search parameters such as `_text` do not apply to them. `vendor.py` checks this list.
pub(crate) const NOT_DOMAIN_RESOURCES: [&str; 3] = ["Binary", "Bundle", "Parameters"];

/// Every concrete R4 resource type name (`Account` … `VisionPrescription`), sorted
/// byte-wise; the abstract `Resource` and `DomainResource` are not included.
pub fn resource_types() -> &'static [&'static str] {
    &NAMES
}

/// Whether `name` is exactly (case-sensitively) a concrete R4 resource type.
pub fn is_resource_type(name: &str) -> bool {
    resource_types().binary_search(&name).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_146_concrete_r4_resource_types_are_vendored() {
        assert_eq!(resource_types().len(), 146);
    }

    #[test]
    fn resource_types_are_sorted_and_unique() {
        assert!(resource_types().windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn patient_and_observation_are_resource_types() {
        assert!(is_resource_type("Patient"));
        assert!(is_resource_type("Observation"));
        assert!(is_resource_type("Account"));
        assert!(is_resource_type("VisionPrescription"));
        assert!(is_resource_type("Parameters"));
    }

    #[test]
    fn resource_and_domain_resource_are_not_concrete_types() {
        assert!(!is_resource_type("Resource"));
        assert!(!is_resource_type("DomainResource"));
        assert!(!is_resource_type("MetadataResource"));
    }

    #[test]
    fn type_names_are_case_sensitive_and_exact() {
        assert!(!is_resource_type("patient"));
        assert!(!is_resource_type("Patient "));
        assert!(!is_resource_type(""));
        assert!(!is_resource_type("HumanName"));
    }

    #[test]
    fn resources_outside_domain_resource_are_resource_types() {
        assert!(NOT_DOMAIN_RESOURCES
            .iter()
            .all(|name| is_resource_type(name)));
    }
}
