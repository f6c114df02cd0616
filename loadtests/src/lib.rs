//! ember-load: a load generator and data generator for FHIR servers, Ember or any other.
//!
//! It speaks only HTTP to a base URL (no Ember crate is a dependency), so the same scenarios
//! measure any server. Open-loop runs schedule requests at a constant rate and measure each
//! latency from its due time (the correction for coordinated omission, `schedule`); closed-loop
//! runs keep a fixed number of clients busy. Every scenario checks one answer before timing
//! anything and refuses a server that answers wrongly.

pub mod cli;
mod client;
pub mod generate;
pub mod histogram;
pub mod load;
mod pacer;
mod progress;
pub mod report;
pub mod run;
mod runner;
mod scenario;
pub mod schedule;
pub mod target;

pub use report::Mode;
