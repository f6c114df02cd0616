//! The actors crate's one error type.

use engine::{Category, ResourceType};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Storage(#[from] storage::Error),

    /// The writer of this type failed while the write waited in its queue; the write was
    /// not applied and the writer has been restarted, so the client may simply retry.
    #[error(
        "the {resource_type} writer restarted before this write was applied; retry the request"
    )]
    WriterRestarted { resource_type: ResourceType },

    /// The writer of this type has more queued writes than it accepts; retry later.
    #[error("too many writes of {resource_type} are queued; retry shortly")]
    Overloaded { resource_type: ResourceType },

    /// The actor system is shutting down or an actor could not be reached.
    #[error("the server is shutting down or an internal actor is unavailable: {0}")]
    Unavailable(String),
}

impl Error {
    pub fn category(&self) -> Category {
        match self {
            Error::Storage(error) => error.category(),
            Error::WriterRestarted { .. } | Error::Overloaded { .. } => Category::Busy,
            Error::Unavailable(_) => Category::Unavailable,
        }
    }
}
