//! The JSON pipeline: a resource body is parsed once, checked, and turned into the canonical
//! bytes Ember stores and serves unchanged.
//!
//! Numbers are kept as the text the client sent (sonic-rs with `arbitrary_precision`), because
//! FHIR decimals carry their precision in their text: `1.50` and `1.5` are different values.
//! See docs/adr/0001-json-parser.md for why sonic-rs.

pub(crate) mod depth;
mod ingest;
pub(crate) mod member;
mod structure;
mod syntax;

pub(crate) use syntax::forbidden_control_character;
pub use syntax::is_valid_instant;
#[cfg(test)]
pub(crate) mod tests;

pub use ingest::{
    prepare_resource, prepare_resource_checked, stored_last_updated, IngestChecks, PreparedResource,
};

use crate::Error;

/// Re-indents stored canonical JSON for `_pretty=true`, keeping every number as stored.
///
/// # Errors
/// [`Error::Invalid`] if `json` is not JSON; stored bytes always are.
pub fn pretty_print(json: &[u8]) -> Result<Vec<u8>, Error> {
    let value: sonic_rs::Value = sonic_rs::from_slice(json)
        .map_err(|error| Error::Invalid(format!("stored JSON could not be re-read: {error}")))?;
    sonic_rs::to_vec_pretty(&value)
        .map_err(|error| Error::Invalid(format!("JSON could not be pretty-printed: {error}")))
}
