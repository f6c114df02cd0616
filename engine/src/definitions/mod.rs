//! The official FHIR R4 definitions Ember vendors, decompressed once on first use.
//!
//! The data lives in `engine/definitions/*.json.gz`, generated from the HL7 npm package
//! `hl7.fhir.r4.examples@4.0.1` by `engine/definitions/vendor.py` (provenance in the README
//! beside it). Each file is embedded with `include_bytes!` and decoded lazily the first time it
//! is asked for; afterwards every lookup is a read of static data.

mod code_bindings;
mod compartments;
mod elements;
mod resource_types;
mod search_parameters;

use std::io::Read;

pub use code_bindings::{implicit_code_system, required_codes};
pub use compartments::{compartment, compartments, CompartmentDefinition, CompartmentResource};
#[cfg(test)]
pub(crate) use elements::type_definitions;
pub(crate) use elements::{base64_member_names, children, uri_member_names, Children};
pub use elements::{
    child_element, element, element_types, type_definition, ElementDefinition, TypeDefinition,
    TypeKind,
};
pub(crate) use resource_types::NOT_DOMAIN_RESOURCES;
pub use resource_types::{is_resource_type, resource_types};
pub use search_parameters::{
    has_canonical_url, search_parameter, search_parameter_by_url, search_parameters,
    search_parameters_for, SearchParamType, SearchParameterComponent, SearchParameterDefinition,
};

/// Gunzips one embedded definitions file into its JSON text.
fn gunzip(compressed: &[u8]) -> std::io::Result<String> {
    let mut json = String::new();
    flate2::read::GzDecoder::new(compressed).read_to_string(&mut json)?;
    Ok(json)
}
