//! The loadtests integration tests: the generator's determinism and referential integrity,
//! the open-loop correction for coordinated omission, result files, and an end-to-end smoke
//! run against a real Ember over real PostgreSQL. No test asserts how fast anything is.

mod support;

mod accepted_checks;
mod coordinated_omission;
mod ember_end_to_end;
mod generator;
mod refusals;
mod results;
