//! The engine's error type and the closed set of categories every crate's errors map onto.

/// What kind of failure an error is; `http` alone turns a category into a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// The request is malformed or violates a FHIR rule (400).
    Invalid,
    /// The resource or type does not exist (404).
    NotFound,
    /// The resource was deleted (410).
    Gone,
    /// A version conflict or a concurrent change (409).
    Conflict,
    /// A precondition such as If-Match failed (412).
    PreconditionFailed,
    /// The request is well formed but cannot be applied to the resource as it is: a PATCH
    /// whose `test` fails, whose path is missing, or whose result is not valid FHIR (422).
    Unprocessable,
    /// The body is larger than the configured limit (413).
    TooLarge,
    /// The request would cost more than the server allows, such as a search running past its
    /// time limit: the client should narrow it (422).
    TooCostly,
    /// The request asks for something Ember does not do (422 / 501 depending on context).
    NotSupported,
    /// Ember is overloaded; the client should retry later (503 with Retry-After).
    Busy,
    /// A dependency such as the database is unreachable (503).
    Unavailable,
    /// A bug or an unexpected failure (500).
    Fault,
}

/// Errors from the pure FHIR layer; all of them are the client's to fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A single malformed value, such as an id or a version id.
    #[error("{0}")]
    Invalid(String),
    /// A resource body that breaks FHIR's JSON rules, with every problem found.
    #[error("the resource is not valid FHIR JSON ({} issue(s))", .0.len())]
    InvalidResource(Vec<crate::Issue>),
    /// A search that cannot be run as asked: a malformed value, an unknown prefix or
    /// modifier, a chain through a parameter that is not a reference. Each issue names the
    /// parameter in its `expression`.
    #[error("the search is not valid ({} issue(s))", .0.len())]
    InvalidSearch(Vec<crate::Issue>),
    /// A patch document that cannot be read: not JSON Patch or FHIRPath Patch, an unknown
    /// operation, a malformed JSON Pointer, a FHIRPath outside the supported subset.
    #[error("the patch document is not valid ({} issue(s))", .0.len())]
    InvalidPatch(Vec<crate::Issue>),
    /// A well-formed patch that cannot be applied to this resource, or whose result is not
    /// a valid resource; nothing is written.
    #[error("the patch cannot be applied ({} issue(s))", .0.len())]
    PatchFailed(Vec<crate::Issue>),
}

impl Error {
    pub fn category(&self) -> Category {
        match self {
            Error::Invalid(_)
            | Error::InvalidResource(_)
            | Error::InvalidSearch(_)
            | Error::InvalidPatch(_) => Category::Invalid,
            Error::PatchFailed(_) => Category::Unprocessable,
        }
    }

    /// The OperationOutcome issues this error stands for.
    pub fn into_issues(self) -> Vec<crate::Issue> {
        match self {
            Error::Invalid(message) => vec![crate::Issue::error("invalid", message)],
            Error::InvalidResource(issues)
            | Error::InvalidSearch(issues)
            | Error::InvalidPatch(issues)
            | Error::PatchFailed(issues) => issues,
        }
    }
}
