//! The storage crate's integration tests, gathered in one binary so they link only once.

mod condition_locks;
mod embedded;
mod index_maintenance;
mod reads;
mod search_limits;
