//! The FHIR RESTful interactions, one module each.
//! Spec: https://hl7.org/fhir/R4/http.html

pub(crate) mod binary;
pub(crate) mod bundle;
pub(crate) mod capabilities;
mod conditional;
pub(crate) mod create;
pub(crate) mod delete;
pub(crate) mod history;
pub(crate) mod patch;
pub(crate) mod precondition;
pub(crate) mod read;
pub(crate) mod search;
mod subset;
pub(crate) mod update;
pub(crate) mod vread;

use engine::{Id, ResourceType};

use crate::error::ApiError;

/// The resource type named in the URL; an unknown one is 404, as for any unknown path.
pub(crate) fn resource_type_from_path(name: &str) -> Result<ResourceType, ApiError> {
    ResourceType::parse(name).ok_or_else(|| {
        ApiError::not_found(format!(
            "'{name}' is not a resource type of FHIR R4 (names are case-sensitive, e.g. 'Patient')"
        ))
    })
}

/// The id named in the URL; malformed ids are the client's error (400).
pub(crate) fn id_from_path(text: &str) -> Result<Id, ApiError> {
    Id::parse(text).map_err(ApiError::from)
}
