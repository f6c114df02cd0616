//! What R4's required bindings say about `code` elements: the code system they imply
//! (`Patient.gender` → `http://hl7.org/fhir/administrative-gender`), for token searches that
//! name it, and the codes they allow, checked at ingest.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

static CODE_SYSTEMS_TSV: LazyLock<String> = LazyLock::new(|| {
    super::gunzip(include_bytes!("../../definitions/code-systems.tsv.gz"))
        .expect("vendored code-systems.tsv.gz is valid")
});

static BY_PATH: LazyLock<HashMap<&'static str, &'static str>> = LazyLock::new(|| {
    super::elements::rows::<2>(CODE_SYSTEMS_TSV.as_str())
        .map(|[path, system]| (path, system))
        .collect()
});

/// The one code system every code of the element at `path` (as R4 defines it, e.g.
/// `Patient.gender`, `Quantity.comparator`) comes from: its binding is required and its value
/// set draws from that system alone. search.html#token: for a `code` "the system is defined
/// in the value set"; elements bound otherwise have none.
pub fn implicit_code_system(path: &str) -> Option<&'static str> {
    BY_PATH.get(path).copied()
}

static REQUIRED_CODES_TSV: LazyLock<String> = LazyLock::new(|| {
    super::gunzip(include_bytes!("../../definitions/required-codes.tsv.gz"))
        .expect("vendored required-codes.tsv.gz is valid")
});

static REQUIRED_BY_PATH: LazyLock<HashMap<&'static str, HashSet<&'static str>>> =
    LazyLock::new(|| {
        super::elements::rows::<2>(REQUIRED_CODES_TSV.as_str())
            .map(|[path, codes]| (path, codes.split(' ').collect()))
            .collect()
    });

/// The codes the element at `path` (as R4 defines it: `Patient.gender`, `HumanName.use`) may
/// hold, when its binding is required and its value set can be listed (terminologies.html#
/// required: "the concept in this element SHALL be from the specified value set"). `None` for
/// elements bound otherwise, or to sets drawn from outside the package (mime types,
/// currencies), whose codes are not checked.
pub fn required_codes(path: &str) -> Option<&'static HashSet<&'static str>> {
    REQUIRED_BY_PATH.get(path)
}

#[cfg(test)]
mod tests {
    use super::{implicit_code_system, required_codes};

    #[test]
    fn required_bindings_list_the_codes_they_allow() {
        let gender = required_codes("Patient.gender").unwrap();
        assert_eq!(gender.len(), 4);
        assert!(gender.contains("unknown") && !gender.contains("Male"));
        // Nested concepts of a hierarchical code system count too.
        assert!(required_codes("Observation.status")
            .unwrap()
            .contains("corrected"));
        // Two code systems, one value set.
        assert!(required_codes("Task.intent").unwrap().contains("proposal"));
        // Mime types are not in the package; a preferred binding is not checked.
        assert!(required_codes("Attachment.contentType").is_none());
        assert!(required_codes("Patient.language").is_none());
    }

    #[test]
    fn required_single_system_bindings_give_the_implicit_system() {
        assert_eq!(
            implicit_code_system("Patient.gender"),
            Some("http://hl7.org/fhir/administrative-gender")
        );
        assert_eq!(
            implicit_code_system("Observation.status"),
            Some("http://hl7.org/fhir/observation-status")
        );
        assert_eq!(
            implicit_code_system("Quantity.comparator"),
            Some("http://hl7.org/fhir/quantity-comparator")
        );
    }

    #[test]
    fn elements_without_one_required_system_have_none() {
        // Preferred binding.
        assert_eq!(implicit_code_system("Patient.language"), None);
        // Required, but drawn from two code systems.
        assert_eq!(implicit_code_system("Task.intent"), None);
        // Not a code.
        assert_eq!(implicit_code_system("Patient.birthDate"), None);
    }
}
