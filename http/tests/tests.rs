//! The ember-http integration tests, against real PostgreSQL: the FHIR REST API in-process,
//! over a socket, and the `ember` binary. One binary, so the crate graph links only once.

mod support;

// Not about HTTP, but here because http is the crate at the top of the graph.
mod architecture;
mod binary;
mod binary_content;
mod bundle;
mod capabilities;
mod conditional;
mod create;
mod delete;
mod errors;
mod history;
mod negotiation;
mod operations;
mod patch;
mod read_vread;
mod search;
mod socket;
mod unsupported;
mod update;
