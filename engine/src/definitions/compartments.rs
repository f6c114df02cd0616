//! The five official FHIR R4 CompartmentDefinitions: which parameters put a resource in a compartment.

use std::sync::LazyLock;

use serde::Deserialize;

/// One compartment (`Patient`, `Encounter`, `RelatedPerson`, `Practitioner` or `Device`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CompartmentDefinition {
    /// The compartment's type, which is also the type of the resource that owns it.
    pub code: String,
    /// One entry per resource type (every concrete type but `Parameters`).
    #[serde(rename = "resource")]
    pub resources: Vec<CompartmentResource>,
}

/// How one resource type relates to a compartment (`CompartmentDefinition.resource`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CompartmentResource {
    /// The resource type.
    #[serde(rename = "code")]
    pub resource_type: String,
    /// The search parameters that link a resource of this type to the compartment owner (any
    /// one suffices; `{def}` means the owner itself). Empty: the type is never in the compartment.
    #[serde(rename = "param", default)]
    pub params: Vec<String>,
}

impl CompartmentDefinition {
    /// The parameters linking `resource_type` to this compartment; empty when it never belongs.
    pub fn params_for(&self, resource_type: &str) -> &[String] {
        self.resources
            .iter()
            .find(|resource| resource.resource_type == resource_type)
            .map_or(&[], |resource| resource.params.as_slice())
    }
}

static ALL: LazyLock<Vec<CompartmentDefinition>> = LazyLock::new(|| {
    let json = super::gunzip(include_bytes!("../../definitions/compartments.json.gz"))
        .expect("vendored compartments.json.gz is valid");
    sonic_rs::from_str(&json).expect("vendored compartments.json.gz is valid")
});

/// The five R4 compartments, in the order Patient, Encounter, RelatedPerson, Practitioner, Device.
pub fn compartments() -> &'static [CompartmentDefinition] {
    &ALL
}

/// The compartment whose code is `code` (e.g. `Patient`), if R4 defines one.
pub fn compartment(code: &str) -> Option<&'static CompartmentDefinition> {
    compartments()
        .iter()
        .find(|compartment| compartment.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definitions::{is_resource_type, search_parameter};

    #[test]
    fn the_five_r4_compartments_are_vendored() {
        let codes: Vec<&str> = compartments().iter().map(|c| c.code.as_str()).collect();
        assert_eq!(
            codes,
            [
                "Patient",
                "Encounter",
                "RelatedPerson",
                "Practitioner",
                "Device"
            ]
        );
    }

    #[test]
    fn patient_compartment_lists_observation_by_subject() {
        let patient = compartment("Patient").unwrap();
        let params = patient.params_for("Observation");
        assert!(params.iter().any(|p| p == "subject"));
        assert!(params.iter().any(|p| p == "performer"));
    }

    #[test]
    fn patient_compartment_contains_the_patient_itself_by_link() {
        assert_eq!(
            compartment("Patient").unwrap().params_for("Patient"),
            ["link"]
        );
    }

    #[test]
    fn types_outside_a_compartment_have_no_params() {
        let patient = compartment("Patient").unwrap();
        assert!(patient.params_for("ActivityDefinition").is_empty());
        assert!(patient.params_for("NotAType").is_empty());
    }

    #[test]
    fn every_compartment_lists_each_resource_type_but_parameters() {
        for compartment in compartments() {
            assert_eq!(compartment.resources.len(), 145, "{}", compartment.code);
            assert!(compartment
                .resources
                .iter()
                .all(|r| is_resource_type(&r.resource_type)));
            assert!(compartment
                .resources
                .iter()
                .all(|r| r.resource_type != "Parameters"));
        }
    }

    #[test]
    fn compartment_params_are_search_parameters_of_the_member_type() {
        for compartment in compartments() {
            for resource in &compartment.resources {
                for param in resource.params.iter().filter(|p| *p != "{def}") {
                    assert!(
                        search_parameter(&resource.resource_type, param).is_some(),
                        "{} compartment: {}.{param} is not a search parameter",
                        compartment.code,
                        resource.resource_type
                    );
                }
            }
        }
    }

    #[test]
    fn unknown_compartment_is_none() {
        assert!(compartment("Organization").is_none());
        assert!(compartment("patient").is_none());
    }
}
