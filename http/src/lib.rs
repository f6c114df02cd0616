//! Ember's REST layer: the FHIR HTTP API over axum, content negotiation, errors as
//! OperationOutcomes, configuration, observability, and the server lifecycle.
//!
//! `http` is the only crate that knows HTTP status codes, headers and content negotiation.
//! Start reading at [`app`] (the router) and `interaction/read.rs`.

mod app;
/// For `benches/` only (`bundle_assembly`); not part of the API.
#[doc(hidden)]
pub mod bench_support;
mod body;
mod bundle;
pub mod config;
mod error;
mod health;
mod interaction;
mod negotiation;
pub mod observability;
mod protocol_errors;
mod query;
mod respond;
mod server;
mod state;

pub use app::app;
pub use protocol_errors::{OutcomeListener, WithOutcomeBodies};
pub use server::{run, shutdown_signal};
pub use state::AppState;

/// Why the server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Storage(#[from] storage::Error),
    #[error(transparent)]
    Actors(#[from] actors::Error),
    #[error("HTTP listener: {0}")]
    Listen(std::io::Error),
}
