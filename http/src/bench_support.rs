//! Bundle assembly opened to `benches/benches/bundle_assembly.rs`; not part of Ember's API.
//!
//! `BundleWriter` stays `pub(crate)`: the REST handlers are its only real callers. This thin
//! wrapper lets the benchmark drive the same methods the searchset handler calls
//! (`interaction/search.rs`: `BundleWriter::searchset`, `push_search` per match, `finish`)
//! without widening the crate's API. Hidden from the docs; nothing else should use it.

use bytes::Bytes;
use storage::FoundResource;

use crate::bundle::{BundleWriter, SearchMode};

/// A searchset Bundle being written, as the search handler writes it.
pub struct SearchsetWriter(BundleWriter);

impl SearchsetWriter {
    /// `BundleWriter::searchset`: `total` is written only when known; `capacity` is the
    /// handler's estimate (the bodies' lengths plus 128 bytes each).
    pub fn new(total: Option<i64>, links: &[(&str, &str)], capacity: usize) -> SearchsetWriter {
        SearchsetWriter(BundleWriter::searchset(total, links, capacity))
    }

    /// A match (`search.mode` `match`): `body` is the stored bytes or a `_summary`/`_elements`
    /// subset of them.
    pub fn push_match(&mut self, base: &str, found: &FoundResource, body: &[u8]) {
        self.0.push_search(base, found, body, SearchMode::Match);
    }

    pub fn finish(self) -> Bytes {
        self.0.finish()
    }
}
