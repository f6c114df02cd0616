//! The one place where errors become HTTP: a status code and an OperationOutcome body.
//!
//! Every crate's error has a `category()`; this module alone maps categories to status codes
//! and issue codes. Logging happens in the observability middleware, which reads the
//! category from a response extension, so a conversion never logs twice.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use engine::{operation_outcome, Category, Issue};

/// An error on its way to the client.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    category: Category,
    issues: Vec<Issue>,
    /// Seconds, for 503s: how long a client should wait before retrying.
    retry_after: Option<u32>,
}

/// Put on every error response so the logging middleware can tell faults from client errors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ErrorCategory(pub Category);

impl ApiError {
    /// An error of `category` with one issue; the status follows from the category.
    #[cold]
    pub(crate) fn new(category: Category, diagnostics: impl Into<String>) -> ApiError {
        let (status, code, retry_after) = classify(category);
        ApiError {
            status,
            category,
            issues: vec![Issue::error(code, diagnostics)],
            retry_after,
        }
    }

    #[cold]
    pub(crate) fn invalid(diagnostics: impl Into<String>) -> ApiError {
        ApiError::new(Category::Invalid, diagnostics)
    }

    #[cold]
    pub(crate) fn not_found(diagnostics: impl Into<String>) -> ApiError {
        ApiError::new(Category::NotFound, diagnostics)
    }

    /// A status that belongs to HTTP itself (405, 406, 415), not to any crate's category.
    #[cold]
    pub(crate) fn http(
        status: StatusCode,
        code: &'static str,
        diagnostics: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            category: Category::Invalid,
            issues: vec![Issue::error(code, diagnostics)],
            retry_after: None,
        }
    }

    /// The error an interaction run inside the server answered (a transaction's read entry,
    /// run before the commit), raised again with its status and diagnostics.
    #[cold]
    pub(crate) fn relayed(status: u16, diagnostics: impl Into<String>) -> ApiError {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        let code = match status {
            StatusCode::BAD_REQUEST => "invalid",
            StatusCode::NOT_FOUND => "not-found",
            StatusCode::GONE => "deleted",
            _ => "processing",
        };
        ApiError::http(status, code, diagnostics)
    }

    #[cold]
    fn with_issues(category: Category, issues: Vec<Issue>) -> ApiError {
        let (status, _, retry_after) = classify(category);
        ApiError {
            status,
            category,
            issues,
            retry_after,
        }
    }

    /// The same error, located in entry `index` of a batch or transaction Bundle: the
    /// diagnostics say which entry failed, and the issue's expression points at it.
    #[cold]
    pub(crate) fn in_entry(mut self, index: usize) -> ApiError {
        for issue in &mut self.issues {
            issue.diagnostics = format!("Bundle.entry[{index}]: {}", issue.diagnostics);
            let entry = format!("Bundle.entry[{index}]");
            // `Patient.name[0]` inside the entry is `Bundle.entry[3].resource.name[0]`.
            let expression = match issue.expression.take() {
                Some(inner) => match inner.split_once('.') {
                    Some((first, rest)) if first.starts_with(char::is_uppercase) => {
                        format!("{entry}.resource.{rest}")
                    }
                    _ => format!("{entry}.resource.{inner}"),
                },
                None => entry,
            };
            issue.expression = Some(expression);
        }
        self
    }

    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    /// The OperationOutcome this error answers with, as JSON.
    pub(crate) fn outcome_json(&self) -> Vec<u8> {
        operation_outcome(&self.issues)
    }
}

/// Status, OperationOutcome issue code and Retry-After of each category.
fn classify(category: Category) -> (StatusCode, &'static str, Option<u32>) {
    match category {
        Category::Invalid => (StatusCode::BAD_REQUEST, "invalid", None),
        Category::NotFound => (StatusCode::NOT_FOUND, "not-found", None),
        Category::Gone => (StatusCode::GONE, "deleted", None),
        Category::Conflict => (StatusCode::CONFLICT, "conflict", None),
        Category::PreconditionFailed => (StatusCode::PRECONDITION_FAILED, "conflict", None),
        Category::Unprocessable => (StatusCode::UNPROCESSABLE_ENTITY, "processing", None),
        Category::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too-costly", None),
        // Not 503: a proxy that counts 5xx (Envoy's outlier detection, for one) would take a
        // healthy server out of rotation because one client sends costly searches.
        Category::TooCostly => (StatusCode::UNPROCESSABLE_ENTITY, "too-costly", None),
        Category::NotSupported => (StatusCode::NOT_IMPLEMENTED, "not-supported", None),
        // A writer queue drains within about a second (see actors::writer::MAX_PENDING).
        Category::Busy => (StatusCode::SERVICE_UNAVAILABLE, "transient", Some(1)),
        Category::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "transient", Some(5)),
        Category::Fault => (StatusCode::INTERNAL_SERVER_ERROR, "exception", None),
    }
}

impl From<engine::Error> for ApiError {
    #[cold]
    fn from(error: engine::Error) -> ApiError {
        ApiError::with_issues(error.category(), error.into_issues())
    }
}

impl From<storage::Error> for ApiError {
    #[cold]
    fn from(error: storage::Error) -> ApiError {
        ApiError::new(error.category(), error.to_string())
    }
}

impl From<actors::Error> for ApiError {
    #[cold]
    fn from(error: actors::Error) -> ApiError {
        match error {
            actors::Error::Storage(error) => error.into(),
            other => ApiError::new(other.category(), other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, operation_outcome(&self.issues)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(crate::negotiation::FHIR_JSON),
        );
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
            .extensions_mut()
            .insert(ErrorCategory(self.category));
        response
    }
}

/// Answers a panic inside a handler: the client gets a 500 OperationOutcome, the server
/// keeps serving, and the panic message stays in the log rather than in the response.
pub(crate) fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "a request handler panicked");
    ApiError::new(
        Category::Fault,
        "Internal server error: the request failed unexpectedly and was not applied",
    )
    .into_response()
}
