//! Batch and transaction Bundles as a client sends them: their entries and requests, and the
//! references between entries that a transaction resolves.
//! Spec: https://hl7.org/fhir/R4/bundle.html, http.html#transaction

mod patch;
mod references;
mod request;

pub use patch::{claimed_id, entry_patch, EntryPatch};
pub use references::{conditional_references, rewrite_references, unresolved_urns};
pub use request::{
    parse_request_bundle, BundleKind, EntryRequest, Method, RequestBundle, RequestEntry,
};
