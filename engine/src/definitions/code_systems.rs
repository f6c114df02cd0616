//! The code system implied by a `code` element's required binding (`Patient.gender` →
//! `http://hl7.org/fhir/administrative-gender`), for token searches that name it.

use std::collections::HashMap;
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

#[cfg(test)]
mod tests {
    use super::implicit_code_system;

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
