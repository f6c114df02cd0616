//! The in-process halves of a batched write and of a search, opened to
//! `benches/benches/write_batching.rs` and `search_planning.rs`;
//! not part of Ember's API.
//!
//! A writer's batch does two things: decide every write against the locked rows and gather
//! the rows to insert (versions, current rows, index rows with their hashes: `write::plan`),
//! then send one statement. This exposes the first, which is all Ember's CPU in a batch; the
//! second is PostgreSQL's and is measured by the load tests.

use std::collections::HashMap;

use engine::Instant;

use crate::model::WriteRequest;

/// Plans one batch of `requests` as a writer does for resources that do not exist yet, and
/// returns how many writes succeeded (so the work cannot be optimised away).
pub fn plan_new_batch(requests: &[WriteRequest], now: Instant) -> usize {
    let mut current = HashMap::new();
    let (results, planned) = crate::write::plan(requests, &mut current, now);
    std::hint::black_box(&planned);
    results.iter().filter(|result| result.is_ok()).count()
}

/// Builds the SQL of a search's first page as `Store::search` does, without running it:
/// the statement and, when the search is worth probing, the id-order probe.
///
/// # Errors
/// [`crate::Error::InvalidCursor`] for a cursor the search did not write.
pub fn search_statements(
    query: &engine::search::SearchQuery,
    page_size: usize,
) -> Result<(String, Option<String>), crate::Error> {
    let page = crate::search::page_statements(crate::TenantKey::DEFAULT, query, page_size)?;
    Ok((page.statement, page.probe.map(|(probe, _plan)| probe)))
}
