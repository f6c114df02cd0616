//! Pure FHIR R4 for Ember: resource types and ids, the official definitions, the JSON pipeline
//! and structural validation, OperationOutcome.
//!
//! **API Boundary.** Engine does no IO and has no async runtime; it never names a `tokio`,
//! `tokio_postgres`, `ractor` or `axum` type, so everything here is testable without a
//! database and cheap to benchmark.

mod binary;
pub mod bundle;
pub mod definitions;
mod error;
pub mod fhirpath;
mod ids;
pub mod index;
mod instant;
mod json;
mod operation_parameters;
mod outcome;
pub mod patch;
pub mod search;

pub use binary::{binary_content, binary_json};
pub use error::{Category, Error};
pub use ids::{Id, ResourceType, VersionId};
pub use instant::Instant;
pub use json::{
    is_valid_instant, prepare_resource, prepare_resource_checked, pretty_print,
    stored_last_updated, IngestChecks, PreparedResource,
};
pub use operation_parameters::operation_parameters;
pub use outcome::{
    json_string, operation_outcome, outcome_diagnostics, write_json_string, Issue, Severity,
};
